"""boto3 clients, created on first use and reused for the container's life (nothing at import)."""

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with jittered backoff; the short connect timeout
# keeps a stuck endpoint from eating the function's whole timeout.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)


# Threads share the clients (the fan-out publishes from a pool): without the lock, threads arriving together
# on a cold container would each build a client and load its service model, hundreds of MB at once.
_lock = threading.Lock()


def client(service: str, *, max_attempts: int | None = None) -> Any:
    """The shared client for an AWS service (region and endpoint from the environment).

    `max_attempts=1` turns botocore's retries off for callers that back off themselves (SES pacing).
    """
    with _lock:
        return _client(service, max_attempts)


@cache
def _client(service: str, max_attempts: int | None) -> Any:
    config = _CONFIG
    if max_attempts is not None:
        config = _CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": max_attempts}))
    return _session().client(service, config=config)


@cache
def _session() -> boto3.session.Session:
    """One session for every client: its loader reads each service model and endpoint data once (four clients
    from one session are built in half the time of four sessions'). Sessions are not thread-safe: callers
    hold the lock."""
    return boto3.session.Session()


def reset() -> None:
    """Forget every client and the session (tests switch the AWS backend between cases)."""
    _client.cache_clear()
    _session.cache_clear()
