"""The relay and the real livekit-server together, as tests and benches use them: `local_livekit()` starts
the relay, then the server posting its webhooks to the relay, and stops both in the order that lets the
server drain its webhook queue; `LocalLiveKit` hands out the relay's URL as the one LiveKit URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from local.livekit.relay.core import Relay
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET, LiveKitServer


@dataclass
class LocalLiveKit:
    """The real server behind the relay; `url` (the relay's) is the one LiveKit URL to hand out."""

    server: LiveKitServer
    relay: Relay

    @property
    def url(self) -> str:
        return self.relay.url

    @property
    def http_url(self) -> str:
        return self.relay.http_url

    @property
    def api_key(self) -> str:
        return self.server.api_key

    @property
    def api_secret(self) -> str:
        return self.server.api_secret


@contextlib.contextmanager
def local_livekit(
    *,
    webhook_targets: Sequence[str] = (),
    api_key: str = DEV_API_KEY,
    api_secret: str = DEV_API_SECRET,
    extra_keys: Mapping[str, str] | None = None,
    seed: int = 0,
    server_options: Mapping[str, Any] | None = None,
) -> Iterator[LocalLiveKit]:
    """Start the relay, then the server posting its webhooks to the relay; stop both on exit."""
    relay = Relay(
        webhook_targets=webhook_targets,
        api_key=api_key,
        api_secret=api_secret,
        extra_keys=extra_keys,
        seed=seed,
    ).start()
    try:
        server = LiveKitServer(
            api_key=api_key,
            api_secret=api_secret,
            extra_keys=extra_keys,
            webhook_urls=[relay.webhook_url],
            **dict(server_options or {}),
        ).start()
        try:
            relay.upstream = server.http_url
            yield LocalLiveKit(server, relay)
        finally:
            # Server first: it drains its webhook queue into a relay that is still there.
            server.stop()
    finally:
        relay.stop()
