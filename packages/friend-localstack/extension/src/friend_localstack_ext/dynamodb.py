"""LocalStack provider plugins ``dynamodb:moto`` and ``dynamodbstreams:moto``.

Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` and ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``.
This module only declares the plugins: LocalStack imports every provider entry point while it
starts, so moto and the providers (``dynamodb_provider``) are imported on the first request to
either service, as LocalStack does for its own providers.
"""

from __future__ import annotations

from localstack.services.plugins import Service, ServiceProvider, aws_provider


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto() -> Service:
    from friend_localstack_ext.dynamodb_provider import (  # noqa: PLC0415 - lazy, see above
        MotoDynamoDBProvider,
    )

    return _served_by_moto(MotoDynamoDBProvider())


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto() -> Service:
    from friend_localstack_ext.dynamodb_provider import (  # noqa: PLC0415 - lazy, see above
        MotoDynamoDBStreamsProvider,
    )

    return _served_by_moto(MotoDynamoDBStreamsProvider())


def _served_by_moto(provider: ServiceProvider) -> Service:
    """``provider`` served with every operation dispatched to moto, one at a time."""
    from friend_localstack_ext.dynamodb_provider import (  # noqa: PLC0415 - lazy, see above
        serialized_moto_dispatcher,
    )

    return Service.for_provider(provider, dispatch_table_factory=serialized_moto_dispatcher)
