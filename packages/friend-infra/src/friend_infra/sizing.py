"""How long, how large and how many at once each function may run, each number with its reason.

Timeouts sit above what the handler's own calls may take, so a slow table or queue ends in the
handler's answer rather than a Lambda timeout; memory is sized for cold starts; reserved
concurrency keeps each path of the service working while another is flooded. The batch sizes
that some of these numbers assume are the mappings' (:mod:`friend_infra.event_sources`).
"""

from aws_cdk import Duration

FRONT_TIMEOUT = Duration.seconds(15)
"""Ten transactions (a row and the record of its message) take well under a second; the rest
absorbs a cold start and DynamoDB's own retries of a throttled write. A record starts a call
only while the slowest call and the answer still fit (friend_handlers.deadline), so a slow table
fails records instead of reaching this timeout."""
STREAM_TIMEOUT = Duration.seconds(30)
"""Up to STREAM_BATCH_SIZE records, each a read plus a write or a transaction that the handler
may retry on a transaction conflict; as for the front, a record that would no longer fit fails
instead."""
READ_TIMEOUT = Duration.seconds(10)
"""A query of one page or one GetItem; API Gateway itself gives up after 29 s."""
WRITE_TIMEOUT = Duration.seconds(10)
"""One SendMessage, whose client has the same time budget as a DynamoDB call."""
PAGE_TIMEOUT = Duration.seconds(10)
"""Two files from the bundle; the time is for a cold start on a busy host."""
PAGE_MEMORY_MB = 128
"""The page function imports almost nothing."""
MEMORY_MB = 256
"""Powertools, pydantic and PynamoDB import in well under a second at this size; Lambda's CPU
share grows with memory, so less would slow cold starts more than it saves."""

FRONT_MAX_CONCURRENCY = 5
"""Most front invocations the queue's mapping runs at once (SQS mappings allow 2-1000). One
applies up to FRONT_BATCH_SIZE conditional writes in well under a second, so five apply hundreds
of actions per second, far above a game's friend traffic. A flood beyond that waits in the queue
(actions are asynchronous by design) instead of taking concurrency from the stream functions,
and the table's write rate, hence the stream's, stays bounded with it. It is also the front
function's reservation (when reserving), so the mapping is never throttled: a throttled
invocation would use up its messages' receives towards the dead-letter queue."""
STREAM_RESERVED_CONCURRENCY = 5
"""Invocations kept for each stream function. A stream mapping runs one invocation per shard at
a time (parallelization factor 1), and an on-demand table starts with about four partitions, one
shard each: five covers them with one to spare, whatever floods of actions or reads take from
the account. A table that grows more shards shows as iterator age: raise this then."""
READ_RESERVED_CONCURRENCY = 20
"""Invocations kept for the read function, and its cap. The stage admits 100 requests/s (burst
200); a warm read takes tens of milliseconds, so full rate needs about five concurrent
invocations, and 20 still serves it with DynamoDB answering in 200 ms. A read flood beyond that
is throttled (5xx, alarmed) instead of draining what the other functions draw from."""
# Reserved in all when reserving: 5 + 4 * 5 + 20 = 45 of an account's concurrency.
