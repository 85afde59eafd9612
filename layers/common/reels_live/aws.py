"""boto3 clients, created on first use and reused for the container's life (nothing at import)."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with jittered backoff; the short connect timeout
# keeps a stuck endpoint from eating the function's whole timeout.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str, *, max_attempts: int | None = None) -> Any:
    """The shared client for an AWS service (region and endpoint from the environment).

    `max_attempts=1` turns botocore's retries off for callers that back off themselves (SES pacing).
    """
    config = _CONFIG
    if max_attempts is not None:
        config = _CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": max_attempts}))
    return boto3.session.Session().client(service, config=config)


def reset() -> None:
    """Forget every client (tests switch the AWS backend between cases)."""
    client.cache_clear()
