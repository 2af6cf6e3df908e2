"""Integration tests of the friend microservice and the tooling that runs them.

``friend_infra`` is imported first, so that every process of the rig (the `integ` command, each
synthesis, the pytest plugin) has the CDK's install mended before anything loads ``aws_cdk``.
"""

import friend_infra  # noqa: F401
