"""The SQS client of the functions that send messages (write: the front queue; front: the
dead-letter queue), made on first use: most invocations of front never send one.

Plain botocore (already a dependency through PynamoDB) rather than boto3: nothing more to ship
or import. Region and endpoint come from the standard AWS environment. It has the same time
budget per call as the table's client (``friend_models.CALL_BUDGET_SECONDS``), so a queue that
does not answer fails the call (the write API's 503, a failed front record) well inside the
function's timeout, instead of botocore's defaults (60 s per read, several retries).
"""

from functools import cache
from typing import TYPE_CHECKING, cast

from friend_models import CONNECT_TIMEOUT_SECONDS, MAX_RETRY_ATTEMPTS, READ_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@cache
def client() -> "SQSClient":
    from botocore.config import Config  # noqa: PLC0415
    from botocore.session import get_session  # noqa: PLC0415

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": MAX_RETRY_ATTEMPTS, "mode": "standard"},
    )
    return cast("SQSClient", get_session().create_client("sqs", config=config))
