"""Stream entry point ``request_state``: a row was inserted as Requested (a player asked another).

Filter: ``STREAM_FILTERS["request_state"]`` in :mod:`friend_handlers.filters`.
Rule: :func:`friend_handlers.logic.reactions.on_requested`.
"""

from friend_handlers.logic.reactions import on_requested
from friend_handlers.stream import stream_handler

handler = stream_handler(on_requested)
