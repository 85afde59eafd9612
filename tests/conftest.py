"""Shared fixtures: AWS in moto built from template.yaml, a frozen clock, and the real LiveKit server.

Handlers run with exactly the environment template.yaml gives their function (tests/support/stack.py),
so a variable missing from the template fails here, not after deploy.
"""

import functools
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from livekit.protocol.egress import EgressStatus
from moto import mock_aws

from local import provision
from local.livekit.relay import LocalLiveKit, local_livekit
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET
from reels_live.core import aws, clock, config
from reels_live.integrations import rooms as livekit_client
from tests.support import livekit as lk
from tests.support import stack

START_MS = 1_795_600_000_000  # 2026-11-25T09:46:40Z
DEV_KEYS = (DEV_API_KEY, DEV_API_SECRET)
# Template parameters for tests: nothing listens on port 9, so LiveKit calls fail unless a test
# brings the real server up with the `livekit` fixture.
TEST_PARAMETERS = {"LiveKitUrl": "ws://127.0.0.1:9"}


# Logger, Tracer and Metrics read these when reels_live.observability is first imported.
os.environ.update(stack.powertools_settings(TEST_PARAMETERS))


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
        **stack.powertools_settings(TEST_PARAMETERS),
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
    # Waiting (SES pacing, backoff) moves the frozen clock, so tests see how long was waited, instantly.
    previous_sleep = clock.set_sleep(lambda seconds: frozen.advance(seconds=seconds))
    yield frozen
    clock.set_source(previous)
    clock.set_sleep(previous_sleep)


@pytest.fixture
def aws_backend(environment: None) -> Iterator[stack.Context]:
    """moto in-process holding every resource template.yaml declares, plus the LiveKit secret."""
    with mock_aws():
        clients = _provisioning_clients()
        # SNS platform applications cannot come from the template (CloudFormation cannot make them).
        applications = provision.create_platform_applications(clients)
        context = provision.provision(
            {**TEST_PARAMETERS, **applications}, livekit_keys=DEV_KEYS, clients=clients
        )
        stack.activate(context)
        yield context


@functools.cache
def _provisioning_clients() -> provision.Clients:
    """Made once: moto intercepts every client made after it is imported, so each test's fresh backend is
    reached through the same clients, and building ten clients a test was half of its setup."""
    return provision.Clients()


@pytest.fixture(scope="session")
def livekit_session() -> Iterator[LocalLiveKit]:
    """The real livekit-server behind the relay, started once for the tests that ask for it."""
    with local_livekit() as local:
        yield local
        # The handlers' LiveKit client lives as long as its container would: close it before its server goes.
        livekit_client.close()


@pytest.fixture
def livekit(livekit_session: LocalLiveKit, aws_backend: stack.Context) -> Iterator[LocalLiveKit]:
    """The stack's LiveKitUrl pointed at the relay; each test starts with no rooms, faults or counts."""
    relay = livekit_session.relay
    relay.reset_api()
    relay.clear_faults()
    relay.clear_webhooks()
    stack.set_parameter("LiveKitUrl", livekit_session.url)
    yield livekit_session
    server = livekit_session.server
    for room in lk.rooms(server.http_url, server.api_key, server.api_secret):
        lk.delete_room(server.http_url, server.api_key, server.api_secret, room.name)
    _wait_for_recordings_to_settle(livekit_session)


_FINISHED = {EgressStatus.EGRESS_COMPLETE, EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED}


def _wait_for_recordings_to_settle(local: LocalLiveKit, timeout: float = 10.0) -> None:
    """Simulated recordings upload when their room finishes; let them land while this test's moto lives."""
    deadline = time.monotonic() + timeout
    while any(info.status not in _FINISHED for info in local.relay.egress_list()):
        if time.monotonic() > deadline:
            raise TimeoutError("simulated egress did not finish after its room was deleted")
        time.sleep(0.05)


@pytest.fixture
def ses_outbox(aws_backend: stack.Context) -> Iterator[Any]:
    """SESv2 SendBulkEmail answered by botocore's Stubber (moto lacks it); see tests/support/ses.py."""
    from tests.support.ses import SesOutbox

    outbox = SesOutbox()
    yield outbox
    outbox.close()
