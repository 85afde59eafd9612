"""The real livekit-server behind the relay (once per module), a webhook sink that verifies LiveKit's
signatures, and S3 in moto for the simulated egress."""

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from livekit import api
from moto import mock_aws

from local.livekit.relay import LocalLiveKit, local_livekit

RECORDINGS_BUCKET = "reels-live-recordings-test"


@dataclass(frozen=True)
class Received:
    """One webhook as the sink got it; `event` is parsed only after its signature checked out."""

    event: api.WebhookEvent
    body: str
    authorization: str
    at: float


class WebhookSink:
    """An HTTP endpoint standing in for the product's webhook handler: verifies every delivery with
    livekit-api's WebhookReceiver (a bad signature fails the test) and answers 200."""

    def __init__(self, api_key: str, api_secret: str) -> None:
        self.receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self._changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                authorization = self.headers.get("Authorization", "")
                try:
                    event = sink.receiver.receive(body, authorization)
                except Exception as error:
                    sink._store(rejected=f"{error}: {body[:200]}")
                    self.send_response(401)
                else:
                    sink._store(received=Received(event, body, authorization, time.monotonic()))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/livekit/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _store(self, received: Received | None = None, rejected: str | None = None) -> None:
        with self._changed:
            if received is not None:
                self.received.append(received)
            if rejected is not None:
                self.rejected.append(rejected)
            self._changed.notify_all()

    def events(self, room: str | None = None, event: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self.received if _matches(r.event, room, event)]

    def names(self, room: str) -> list[str]:
        return [r.event.event for r in self.events(room)]

    def wait_for(self, event: str, room: str, count: int = 1, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := [r for r in self.received if _matches(r.event, room, event)]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [r.event.event for r in self.received if _matches(r.event, room, None)]
                    raise TimeoutError(f"{count}x {event} for {room} not received in {timeout}s; got {seen}")
                self._changed.wait(remaining)
            return found

    async def await_event(
        self, event: str, room: str, count: int = 1, timeout: float = 15.0
    ) -> list[Received]:
        return await asyncio.to_thread(self.wait_for, event, room, count, timeout)

    def reset(self) -> None:
        with self._changed:
            self.received.clear()
            self.rejected.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _matches(event: api.WebhookEvent, room: str | None, name: str | None) -> bool:
    event_room = event.room.name or event.egress_info.room_name
    return room in (None, event_room) and name in (None, event.event)


@pytest.fixture(scope="module")
def webhook_sink() -> Iterator[WebhookSink]:
    from local.livekit.server import DEV_API_KEY, DEV_API_SECRET

    sink = WebhookSink(DEV_API_KEY, DEV_API_SECRET)
    yield sink
    sink.close()


@pytest.fixture(scope="module")
def livekit_with_sink(
    webhook_sink: WebhookSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalLiveKit]:
    """livekit-server (the repo config) behind the relay, webhooks relayed to the sink."""
    log_path = tmp_path_factory.mktemp("livekit") / "livekit-server.log"
    with local_livekit(webhook_targets=[webhook_sink.url], server_options={"log_path": log_path}) as stack:
        yield stack


@pytest.fixture
def stack(livekit_with_sink: LocalLiveKit, webhook_sink: WebhookSink) -> Iterator[LocalLiveKit]:
    """The module's stack with no faults, an empty webhook log and sink; each test uses its own rooms."""
    relay = livekit_with_sink.relay
    relay.clear_faults()
    relay.clear_webhooks()
    relay.reseed(0)
    relay.webhook_targets = [webhook_sink.url]
    webhook_sink.reset()
    yield livekit_with_sink
    relay.clear_faults()
    assert not webhook_sink.rejected, f"webhooks with a bad signature: {webhook_sink.rejected}"


@pytest.fixture
def recordings() -> Iterator[Any]:
    """S3 in moto (in-process: the relay runs in this process too) with the recordings bucket."""
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=RECORDINGS_BUCKET)
        yield s3


@pytest.fixture
def room_name(request: pytest.FixtureRequest) -> str:
    """A room name no other test uses: late webhooks of earlier tests never match."""
    return f"{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)[:48]}-{time.monotonic_ns() % 1_000_000}"
