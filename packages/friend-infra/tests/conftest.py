"""Shared set-up: silence jsii's Node banner before any test module loads aws_cdk."""

import friend_infra  # noqa: F401  (sets the JSII_SILENCE_* defaults on import)
