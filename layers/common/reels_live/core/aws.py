"""boto3 clients, created on first use and reused for the container's life (nothing at import)."""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Literal, overload

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    # The stubs are development tools (requirements-dev.txt), never in the layer: types only.
    from botocore.client import BaseClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sesv2.client import SESV2Client
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient

# The services this package talks to, each typed below by its stubs.
Service = Literal["dynamodb", "sesv2", "sns", "sqs", "s3", "secretsmanager"]

# Standard mode retries throttling and transient errors with jittered backoff; the short connect timeout
# keeps a stuck endpoint from eating the function's whole timeout.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)


# Threads share the clients (the fan-out publishes from a pool): without the lock, threads arriving together
# on a cold container would each build a client and load its service model, hundreds of MB at once.
_lock = threading.Lock()


@overload
def client(service: Literal["dynamodb"], *, max_attempts: int | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["sesv2"], *, max_attempts: int | None = None) -> SESV2Client: ...
@overload
def client(service: Literal["sns"], *, max_attempts: int | None = None) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], *, max_attempts: int | None = None) -> SQSClient: ...
@overload
def client(service: Literal["s3"], *, max_attempts: int | None = None) -> S3Client: ...
@overload
def client(
    service: Literal["secretsmanager"], *, max_attempts: int | None = None
) -> SecretsManagerClient: ...
def client(service: Service, *, max_attempts: int | None = None) -> BaseClient:
    """The shared client for an AWS service (region and endpoint from the environment).

    `max_attempts=1` turns botocore's retries off for callers that back off themselves (SES pacing).
    """
    with _lock:
        return _client(service, max_attempts)


@cache
def _client(service: Service, max_attempts: int | None) -> BaseClient:
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
