"""A relay in front of the real livekit-server: one LiveKit URL for API calls and client signalling, plus the
few things the real server cannot do on one machine.

Real, passed through untouched:
- every Twirp call (`/twirp/livekit.RoomService/...` and the rest) and client signalling (the `/rtc`
  WebSocket, `/rtc/validate`); media never touches the relay, clients send it to the server's UDP port;
- the server's own webhooks: the server posts them to the relay (`/webhook`), the relay forwards body and
  Authorization header byte for byte to the targets and answers the server with the target's status, so
  LiveKit's per-room queue and its retries on 5xx or connection errors work end to end.

Simulated (egress needs Chrome and GStreamer, which a test machine does not run):
- the Egress service (`/twirp/livekit.Egress/...`: StartRoomCompositeEgress, StopEgress, ListEgress), JSON and
  protobuf like Twirp, with the server's authorisation rule (a valid token with the roomRecord grant);
- auto-egress: CreateRoom's `egress` is stripped before forwarding (livekit-server without an egress worker
  fails CreateRoom when it is set) and run when the server's `room_started` for that room arrives;
- the recording: a small placeholder file (it says so) uploaded with boto3 to the request's S3 bucket, and
  signed `egress_started`/`egress_updated`/`egress_ended` webhooks encoded and signed as the server does;
- faults, set at run time from Python or the admin API (`/_relay/...`): on webhook delivery drop, duplicate,
  delay, reorder, reject (answer the sender an error so it retries); failing the next egress; cutting a
  client's signalling connection (a network blip; media keeps flowing, the SDK reconnects).

In-process: `Relay(upstream).start()` (a thread with its own event loop), or `local_livekit()` for relay and
server together. As a process:

    python -m local.livekit.relay --upstream http://127.0.0.1:7880 --port 7800 \\
        --webhook-target http://127.0.0.1:3000/livekit/webhook --api-key K --api-secret S
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from local.livekit.relay.admin import AdminMixin
from local.livekit.relay.egress import DEFAULT_RETRY, EgressMixin
from local.livekit.relay.protocol import TwirpError
from local.livekit.relay.proxy import ProxyMixin
from local.livekit.relay.webhooks import WebhooksMixin
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET, LiveKitServer

log = logging.getLogger("local.livekit.relay")


class Relay(AdminMixin, EgressMixin, WebhooksMixin, ProxyMixin):
    """The relay: `start()`/`stop()` run it on a thread with its own loop, `open()`/`close()` on the caller's.

    Control methods (faults, targets, webhook log, egress) are safe to call from any thread."""

    def __init__(
        self,
        upstream: str | None = None,
        *,
        port: int = 0,
        webhook_targets: Sequence[str] = (),
        api_key: str = DEV_API_KEY,
        api_secret: str = DEV_API_SECRET,
        extra_keys: Mapping[str, str] | None = None,
        seed: int = 0,
        egress_start_delay: float = 0.1,
        webhook_retry: tuple[float, float, int] = DEFAULT_RETRY,
        webhook_timeout: float = 10.0,
        max_hold: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.api_key = api_key
        self.api_secret = api_secret
        self._port = port
        self._lock = threading.RLock()
        self._init_webhooks(webhook_targets, seed, webhook_timeout, max_hold)
        self._init_egress(extra_keys, egress_start_delay, webhook_retry)
        self._init_admin()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._init_proxy()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def webhook_url(self) -> str:
        """Where livekit-server must post its webhooks (its config's webhook.urls)."""
        return f"{self.http_url}/webhook"

    async def open(self) -> None:
        """Bind 127.0.0.1 and serve on the running loop."""
        self._loop = asyncio.get_running_loop()
        # auto_decompress off: bodies pass through exactly as the upstream encoded them.
        self._session = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for socket in list(self._sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def start(self, timeout: float = 10.0) -> Self:
        """Serve on a daemon thread with its own event loop; returns once the port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.open())
            except BaseException as error:
                failure.append(error)
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.close())
            loop.close()

        self._thread = threading.Thread(target=run, name="livekit-relay", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the relay did not start")
        if failure:
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ------------------------------------------------------------------ routing

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        try:
            if path.startswith("/_relay/"):
                return await self._admin(request)
            if path == "/webhook" and request.method == "POST":
                return await self._server_webhook(request)
            if path.startswith("/twirp/livekit.") and (failure := self._count_api_call(path)) is not None:
                return failure
            if path.startswith("/twirp/livekit.Egress/"):
                return await self._egress_api(request)
            if path == "/twirp/livekit.RoomService/CreateRoom" and request.method == "POST":
                return await self._create_room(request)
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._proxy_websocket(request)
            return await self._proxy_http(request)
        except TwirpError as error:
            return error.response()


# ---------------------------------------------------------------------- relay and server together


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


# ---------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.livekit.relay",
        description="Relay in front of livekit-server: passes API calls, signalling and webhooks through, "
        "simulates egress (placeholder recordings to S3) and injects webhook faults (admin API: /_relay/).",
        epilog="With --upstream, that server's webhook.urls must include http://127.0.0.1:PORT/webhook "
        "(this relay): auto-egress starts on the server's room_started.",
    )
    parser.add_argument("--upstream", help="livekit-server's HTTP URL, e.g. http://127.0.0.1:7880")
    parser.add_argument(
        "--start-server", action="store_true", help="also start livekit-server (local/livekit/livekit.yaml)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--webhook-target", action="append", default=[], help="URL receiving webhooks (repeatable)"
    )
    parser.add_argument("--api-key", default=DEV_API_KEY)
    parser.add_argument("--api-secret", default=DEV_API_SECRET)
    parser.add_argument(
        "--extra-key",
        action="append",
        default=[],
        metavar="KEY=SECRET",
        help="another accepted key (rotation)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.upstream and not args.start_server:
        parser.error("give --upstream or --start-server")
    if any("=" not in pair for pair in args.extra_key):
        parser.error("--extra-key takes KEY=SECRET")
    args.extra_keys = dict(pair.split("=", 1) for pair in args.extra_key)
    return args


async def _main(args: argparse.Namespace) -> None:
    relay = Relay(
        args.upstream,
        port=args.port,
        webhook_targets=args.webhook_target,
        api_key=args.api_key,
        api_secret=args.api_secret,
        extra_keys=args.extra_keys,
        seed=args.seed,
    )
    await relay.open()
    server = None
    try:
        if args.start_server:
            server = LiveKitServer(
                api_key=args.api_key,
                api_secret=args.api_secret,
                extra_keys=args.extra_keys,
                webhook_urls=[relay.webhook_url],
            )
            await asyncio.to_thread(server.start)
            relay.upstream = server.http_url
            log.info("livekit-server %s (log: %s)", server.http_url, server.log_path)
        log.info(
            "relay %s -> %s; server webhooks in at %s, out to %s",
            relay.url,
            relay.upstream,
            relay.webhook_url,
            relay.webhook_targets or "nobody",
        )
        print(f"LIVEKIT_URL={relay.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await relay.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main(args))
