"""Stream entry point ``unfriend_state``: a Friends row was deleted (a player unfriended).

Filter: ``STREAM_FILTERS["unfriend_state"]`` in :mod:`friend_handlers.filters`.
Rule: :func:`friend_handlers.logic.reactions.on_friends_removed`.
"""

from friend_handlers.logic.reactions import on_friends_removed
from friend_handlers.stream import stream_handler

handler = stream_handler(on_friends_removed)
