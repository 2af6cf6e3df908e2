"""Lambda entry points of the friend microservice.

Each module named in :data:`friend_handlers.filters.HANDLERS` exposes ``handler(event, context)``.
"""
