"""Pass-through to the real livekit-server: every request the relay does not answer itself (Twirp calls,
`/rtc/validate`, ...) is forwarded with its body and headers as received, hop-by-hop headers aside, and
client signalling (the `/rtc` WebSocket) is piped frame by frame both ways. Media never crosses the relay.
The open signalling connections are kept so that a test can cut them like a network blip."""

from __future__ import annotations

import asyncio
import threading

import aiohttp
import jwt
from aiohttp import web

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
WEBSOCKET_HANDSHAKE = {"sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions"}


class ProxyMixin:
    """The part of `Relay` that talks to `upstream` through the relay's one aiohttp session."""

    # What this part uses from the rest of Relay.
    upstream: str | None
    _session: aiohttp.ClientSession | None
    _loop: asyncio.AbstractEventLoop | None
    _thread: threading.Thread | None

    def _init_proxy(self) -> None:
        # Client signalling connections: the client side's socket -> (identity, its TCP transport).
        self._sockets: dict[web.WebSocketResponse, tuple[str, asyncio.BaseTransport | None]] = {}

    def sever_signalling(self, identity: str | None = None, timeout: float = 5.0) -> int:
        """Cut clients' signalling connections (all, or one identity's) like a network blip: the TCP
        connection is aborted, no leave is sent; media, which does not cross the relay, keeps flowing.
        Returns how many were cut. The SDK reconnects at once, by a resume or a full rejoin."""
        assert self._loop is not None

        async def cut() -> int:
            return self._cut_signalling(identity)

        if threading.current_thread() is self._thread:
            return self._cut_signalling(identity)
        return asyncio.run_coroutine_threadsafe(cut(), self._loop).result(timeout)

    def _cut_signalling(self, identity: str | None) -> int:
        victims = [transport for who, transport in self._sockets.values() if identity in (None, who)]
        for transport in victims:
            if transport is not None:
                transport.abort()
        return len(victims)

    def _upstream(self, path: str, websocket: bool = False) -> str:
        if not self.upstream:
            raise web.HTTPBadGateway(text="the relay has no upstream livekit-server yet")
        base = self.upstream.rstrip("/")
        if websocket:
            base = "ws" + base.removeprefix("http")
        return base + path

    async def _proxy_http(self, request: web.Request, body: bytes | None = None) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        data = await request.read() if body is None else body
        try:
            async with self._session.request(
                request.method,
                self._upstream(request.raw_path),
                headers=headers,
                data=data,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                reply_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
                return web.Response(status=upstream.status, body=payload, headers=reply_headers)
        except aiohttp.ClientError as error:
            return web.Response(status=502, text=f"livekit-server unreachable: {error}")

    async def _proxy_websocket(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP | WEBSOCKET_HANDSHAKE | {"sec-websocket-protocol"}
        }
        protocols = [
            p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()
        ]
        try:
            upstream = await self._session.ws_connect(
                self._upstream(request.raw_path, websocket=True),
                headers=headers,
                protocols=protocols,
                max_msg_size=0,
            )
        except aiohttp.WSServerHandshakeError as error:
            # The server refused the upgrade (401 for a bad token...): the client sees the same status.
            return web.Response(status=error.status, text=error.message)
        except aiohttp.ClientError as error:
            return web.Response(status=502, text=f"livekit-server unreachable: {error}")
        downstream = web.WebSocketResponse(protocols=protocols, max_msg_size=0)
        await downstream.prepare(request)
        self._sockets[downstream] = (_identity(request), request.transport)
        try:
            await _pipe_websockets(downstream, upstream)
        finally:
            self._sockets.pop(downstream, None)
            await upstream.close()
            await downstream.close()
        return downstream


def _identity(request: web.Request) -> str:
    """Who a signalling connection belongs to: the subject of its (already server-checked) token."""
    token = request.query.get("access_token") or request.headers.get("Authorization", "").removeprefix(
        "Bearer "
    )
    try:
        return str(jwt.decode(token, options={"verify_signature": False}).get("sub", ""))
    except jwt.PyJWTError:
        return ""


async def _pipe_websockets(
    downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse
) -> None:
    """Copy frames both ways until either side closes, then close the other with the same code."""

    async def copy(
        source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
        sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    ) -> None:
        async for message in source:
            if message.type == aiohttp.WSMsgType.BINARY:
                await sink.send_bytes(message.data)
            elif message.type == aiohttp.WSMsgType.TEXT:
                await sink.send_str(message.data)
            else:
                break
        await sink.close(code=source.close_code or aiohttp.WSCloseCode.OK)

    tasks = [
        asyncio.ensure_future(copy(downstream, upstream)),
        asyncio.ensure_future(copy(upstream, downstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
