"""The process environment of a test rig that runs AWS on moto in-process.

Set before anything reads it (PynamoDB models and Powertools read their settings once, at
import): fake credentials in moto's region, and neither a profile nor an endpoint that could send
a call to a real account or to another server.
"""

import os

REGION = "us-east-1"
"""The region of every rig's resources."""

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def use_moto_environment(**settings: str) -> None:
    """Fake credentials, ``REGION``, no profile and no endpoint; then ``settings`` as given."""
    os.environ.update(FAKE_CREDENTIALS, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, **settings)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
