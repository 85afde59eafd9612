"""The `Relay` object, composed of one mixin a job (`proxy`, `webhooks`, `egress`, `admin`): the state they
share (the lock, the one aiohttp session, the background tasks), serving on a thread of its own or on the
caller's loop, and the routing of each request to the job that answers it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

from local.livekit.relay.admin import AdminMixin
from local.livekit.relay.egress import DEFAULT_RETRY, EgressMixin
from local.livekit.relay.protocol import TwirpError
from local.livekit.relay.proxy import ProxyMixin
from local.livekit.relay.webhooks import WebhooksMixin
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET


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
