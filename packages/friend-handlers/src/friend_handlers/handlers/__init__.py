"""Lambda entry points: each module named in :data:`friend_handlers.filters.HANDLERS` exposes
``handler(event, context)``, and :data:`friend_handlers.contract.ENTRY_POINTS` says so to the
stack.

An entry point only adapts its event source (SQS, API Gateway, a DynamoDB stream) to the shared
modules beside this package; no rule lives here.
"""
