"""Shared fixtures: AWS in moto built from template.yaml, a frozen clock, and the real LiveKit server.

Handlers run with exactly the environment template.yaml gives their function (tests/support/stack.py),
so a variable missing from the template fails here, not after deploy.
"""

import os
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from local import provision
from reels_live import aws, clock, config
from reels_live import livekit as livekit_client
from tests.support import stack

START_MS = 1_795_600_000_000  # 2026-11-26T07:06:40Z
DEV_KEYS = ("devkey", "secret-that-is-at-least-32-characters-long")
# Template parameters for tests: nothing listens on port 9, so LiveKit calls fail unless a test
# brings the real server up with the `livekit` fixture.
TEST_PARAMETERS = {"LiveKitUrl": "ws://127.0.0.1:9"}


class FrozenClock:
    """Time stands still until a test moves it."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, *, seconds: float = 0, ms: int = 0) -> None:
        self.now_ms += int(seconds * 1000) + ms


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only dummy AWS credentials and Powertools settings; each function's own variables come from the
    template at invocation."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "LIVEKIT_", "POWERTOOLS_")):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    _reset_caches()
    yield
    _reset_caches()
    stack.activate(None)


def _reset_caches() -> None:
    config.settings.cache_clear()
    aws.reset()
    parameters.clear_caches()
    livekit_client.sleep = _no_wait


async def _no_wait(_: float) -> None:
    """Retries back off without waiting in tests; the attempts are still counted."""


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(START_MS)
    previous = clock.set_source(frozen)
    yield frozen
    clock.set_source(previous)


@pytest.fixture
def aws_backend(environment: None) -> Iterator[stack.Context]:
    """moto in-process holding every resource template.yaml declares, plus the LiveKit secret."""
    with mock_aws():
        context = provision.provision(TEST_PARAMETERS, livekit_keys=DEV_KEYS)
        stack.activate(context)
        yield context
