"""The health endpoint every LocalStack-compatible emulator serves, read without any proxy."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

HEALTH_PATH = "/_localstack/health"


def get_json(url: str, timeout: float) -> object | None:
    """The JSON body at ``url``; None when nothing answers or the answer is not JSON.

    An explicit empty proxy map: a user's HTTP(S)_PROXY must never see loopback traffic, and the
    server checked must be the one the tools deploy to.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            body: object = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return body


def health(endpoint: str, timeout: float = 2) -> dict[str, Any] | None:
    """The health report at ``endpoint``; None when nothing, or no emulator, answers there."""
    body = get_json(endpoint.rstrip("/") + HEALTH_PATH, timeout)
    if isinstance(body, dict) and "services" in body:
        return body
    return None
