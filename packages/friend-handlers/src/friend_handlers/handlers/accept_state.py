"""Stream entry point ``accept_state``: a Pending row became Friends (a player accepted).

Filter: ``STREAM_FILTERS["accept_state"]`` in :mod:`friend_handlers.filters`.
Rule: :func:`friend_handlers.logic.reactions.on_accepted`.
"""

from friend_handlers.logic.reactions import on_accepted
from friend_handlers.stream import stream_handler

handler = stream_handler(on_accepted)
