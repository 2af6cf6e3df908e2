"""Stream entry point ``reject_state``: a Pending row was deleted (a player rejected).

Filter: ``STREAM_FILTERS["reject_state"]`` in :mod:`friend_handlers.filters`.
Rule: :func:`friend_handlers.logic.reactions.on_pending_removed`.
"""

from friend_handlers.logic.reactions import on_pending_removed
from friend_handlers.stream import stream_handler

handler = stream_handler(on_pending_removed)
