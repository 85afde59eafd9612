"""Test control: the admin API (`/_relay/...`: health, the webhook log, fault rules and their seed, webhook
targets, cutting signalling, the egress list, failing the next egress), which sets at run time, over HTTP,
what the other parts offer as Python methods; and the count of Twirp API calls, with failures injected into
the next calls to a method (`fail_api`) to stand for LiveKit being down or refusing."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from livekit.protocol import egress as egress_pb
from livekit.protocol import room as room_pb

from local.livekit.relay.protocol import TWIRP_STATUS
from local.livekit.relay.records import Fault, WebhookRecord


class AdminMixin:
    """The part of `Relay` that counts API calls and serves the admin API. Control methods are safe to call
    from any thread."""

    # What this part uses from the rest of Relay: mostly the control methods of the other parts.
    upstream: str | None
    _lock: threading.RLock
    _requested_auto_egress: dict[str, room_pb.RoomEgress]
    webhook_targets: list[str]
    webhooks: Callable[..., list[WebhookRecord]]
    clear_webhooks: Callable[[], None]
    faults: Callable[[], list[Fault]]
    add_fault: Callable[..., Fault]
    clear_faults: Callable[..., None]
    reseed: Callable[[int], None]
    egress_list: Callable[..., list[egress_pb.EgressInfo]]
    fail_next_egress: Callable[..., None]
    _cut_signalling: Callable[[str | None], int]

    def _init_admin(self) -> None:
        # Twirp API calls seen ("RoomService/CreateRoom" -> count) and failures to inject into them.
        self._api_calls: Counter[str] = Counter()
        self._api_faults: dict[str, list[int]] = {}

    def fail_api(self, method: str, *, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` calls to a Twirp method ("RoomService/CreateRoom") with a Twirp error of
        `status` instead of passing them on: LiveKit being down or refusing, for the product's retries."""
        with self._lock:
            self._api_faults.setdefault(method, []).extend([status] * times)

    def api_calls(self, method: str) -> int:
        """How many calls to a Twirp method ("RoomService/CreateRoom") reached the relay."""
        with self._lock:
            return self._api_calls[method]

    def reset_api(self) -> None:
        """Forget API call counts, pending API faults and requested auto-egress (between tests)."""
        with self._lock:
            self._api_calls.clear()
            self._api_faults.clear()
            self._requested_auto_egress.clear()

    def _count_api_call(self, path: str) -> web.Response | None:
        """Count a Twirp call; answer it with an injected failure if one is pending for its method."""
        method = path.removeprefix("/twirp/livekit.")
        with self._lock:
            self._api_calls[method] += 1
            pending = self._api_faults.get(method)
            status = pending.pop(0) if pending else None
        if status is None:
            return None
        code = next((name for name, value in TWIRP_STATUS.items() if value == status), "unavailable")
        return web.json_response(
            {"code": code, "msg": f"injected by the local relay ({status})"}, status=status
        )

    async def _admin(self, request: web.Request) -> web.Response:
        route = request.path.removeprefix("/_relay").rstrip("/")
        method = request.method
        payload: dict[str, Any] = {}
        if method in ("POST", "PUT") and request.can_read_body:
            try:
                payload = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON"}, status=400)
        query = request.query
        if route == "/health":
            return web.json_response({"ok": True, "upstream": self.upstream})
        if route == "/webhooks" and method == "GET":
            records = self.webhooks(query.get("event"), query.get("room"), query.get("action"))  # type: ignore[arg-type]
            return web.json_response({"webhooks": [r.as_dict() for r in records]})
        if route == "/webhooks" and method == "DELETE":
            self.clear_webhooks()
            return web.json_response({"ok": True})
        if route == "/faults" and method == "GET":
            return web.json_response({"faults": [f.as_dict() for f in self.faults()]})
        if route == "/faults" and method == "POST":
            try:
                fault = self.add_fault(**payload)
            except (TypeError, ValueError) as error:
                return web.json_response({"error": str(error)}, status=400)
            return web.json_response(fault.as_dict(), status=201)
        if route == "/faults" and method == "DELETE":
            self.clear_faults()
            return web.json_response({"ok": True})
        if route.startswith("/faults/") and method == "DELETE":
            self.clear_faults(int(route.removeprefix("/faults/")))
            return web.json_response({"ok": True})
        if route == "/seed" and method == "POST":
            self.reseed(int(payload.get("seed", 0)))
            return web.json_response({"ok": True})
        if route == "/targets" and method == "GET":
            return web.json_response({"urls": self.webhook_targets})
        if route == "/targets" and method == "PUT":
            self.webhook_targets = [str(url) for url in payload.get("urls", [])]
            return web.json_response({"urls": self.webhook_targets})
        if route == "/signalling/sever" and method == "POST":
            return web.json_response({"severed": self._cut_signalling(payload.get("identity"))})
        if route == "/egress" and method == "GET":
            items = [json_format.MessageToDict(i) for i in self.egress_list(query.get("room"))]
            return web.json_response({"egress": items})
        if route == "/egress/fail-next" and method == "POST":
            self.fail_next_egress(**({"error": str(payload["error"])} if "error" in payload else {}))
            return web.json_response({"ok": True})
        return web.json_response({"error": f"no admin route {method} {request.path}"}, status=404)
