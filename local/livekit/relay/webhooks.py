"""Webhooks: livekit-server posts its own to the relay (`/webhook`), the relay's simulated egress hands in
its signed ones, and both go to every target with body and Authorization header byte for byte; the sender
gets the target's status, so LiveKit's per-room queue and its retries work end to end. On the way the
relay applies the fault rules set at run time (drop, duplicate, delay, reorder, reject) and records the
outcome of each webhook, which tests read or wait for."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from local.livekit.relay.records import FAULT_ACTIONS, Fault, FaultAction, RecordAction, WebhookRecord, _Event

# One logger name for the whole relay, whichever module logs (local.stack quiets it by this name).
log = logging.getLogger("local.livekit.relay")


class WebhooksMixin:
    """The part of `Relay` that receives, faults, forwards and records webhooks. Control methods are safe
    to call from any thread."""

    # What this part uses from the rest of Relay.
    _lock: threading.RLock
    _session: aiohttp.ClientSession | None
    _spawn: Callable[[Any], asyncio.Task[Any]]
    _observe: Callable[[bytes, _Event], None]

    def _init_webhooks(
        self, webhook_targets: Sequence[str], seed: int, webhook_timeout: float, max_hold: float
    ) -> None:
        self.webhook_timeout = webhook_timeout
        # A held (reorder) webhook goes out after the room's next event, or after this many seconds.
        self.max_hold = max_hold
        self._changed = threading.Condition(self._lock)
        self._targets = list(webhook_targets)
        self._faults: list[Fault] = []
        self._fault_ids = 0
        self._rng = random.Random(seed)
        self._records: deque[WebhookRecord] = deque(maxlen=10_000)
        self._seq = 0
        self._held: dict[str, list[tuple[_Event, bytes, str, str]]] = {}

    @property
    def webhook_targets(self) -> list[str]:
        with self._lock:
            return list(self._targets)

    @webhook_targets.setter
    def webhook_targets(self, urls: Sequence[str]) -> None:
        with self._lock:
            self._targets = list(urls)

    def add_fault(
        self,
        action: FaultAction,
        *,
        event: str | None = None,
        room: str | None = None,
        times: int | None = 1,
        probability: float = 1.0,
        delay_ms: int = 0,
        status: int = 503,
    ) -> Fault:
        """Rules apply in the order added; the first matching one wins for a webhook."""
        if action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {action!r}; one of {', '.join(FAULT_ACTIONS)}")
        with self._lock:
            self._fault_ids += 1
            fault = Fault(action, event, room, times, probability, delay_ms, status, self._fault_ids)
            self._faults.append(fault)
            return fault

    # Shorthands; `match` takes add_fault's keywords (event, room, times, probability).
    def drop(self, **match: Any) -> Fault:
        return self.add_fault("drop", **match)

    def duplicate(self, **match: Any) -> Fault:
        return self.add_fault("duplicate", **match)

    def delay(self, delay_ms: int, **match: Any) -> Fault:
        return self.add_fault("delay", delay_ms=delay_ms, **match)

    def reorder(self, **match: Any) -> Fault:
        return self.add_fault("reorder", **match)

    def reject(self, status: int = 503, **match: Any) -> Fault:
        return self.add_fault("reject", status=status, **match)

    def faults(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(fault) for fault in self._faults]

    def clear_faults(self, fault_id: int | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._rng.seed(seed)

    def webhooks(
        self, event: str | None = None, room: str | None = None, action: RecordAction | None = None
    ) -> list[WebhookRecord]:
        with self._lock:
            return [r for r in self._records if _record_matches(r, event, room, action)]

    def clear_webhooks(self) -> None:
        with self._lock:
            self._records.clear()

    def wait_for_webhook(
        self,
        event: str,
        room: str | None = None,
        *,
        action: RecordAction = "delivered",
        count: int = 1,
        timeout: float = 15.0,
    ) -> list[WebhookRecord]:
        """Block until `count` matching records exist; returns them (raises TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self._records if _record_matches(r, event, room, action)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {count}x {action} {event} for room {room} within {timeout}s")
                self._changed.wait(remaining)

    async def await_webhook(
        self,
        event: str,
        room: str | None = None,
        *,
        action: RecordAction = "delivered",
        count: int = 1,
        timeout: float = 15.0,
    ) -> list[WebhookRecord]:
        """`wait_for_webhook` without blocking the caller's event loop."""
        return await asyncio.to_thread(
            self.wait_for_webhook, event, room, action=action, count=count, timeout=timeout
        )

    async def _server_webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        event = _Event.parse(body)
        self._observe(body, event)
        status = await self._ingest(event, body, request.headers.get("Authorization", ""), "server")
        return web.Response(status=status)

    async def _ingest(self, event: _Event, body: bytes, authorization: str, origin: str) -> int:
        """Apply the first matching fault, deliver, and return the status the sender gets."""
        fault = self._take_fault(event)
        action = fault.action if fault else None
        if action == "drop":
            self._record(event, "dropped", None, None, origin, "drop")
            await self._release_held(event)
            return 200
        if action == "reject":
            assert fault is not None
            self._record(event, "rejected", fault.status, None, origin, "reject")
            return fault.status
        if action == "reorder":
            self._hold(event, body, authorization, origin)
            return 200
        if action == "delay":
            assert fault is not None
            await asyncio.sleep(fault.delay_ms / 1000)
        status = await self._deliver(event, body, authorization, origin, action)
        if action == "duplicate":
            await self._deliver(event, body, authorization, origin, "duplicate")
        await self._release_held(event)
        return status

    def _take_fault(self, event: _Event) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(event.name, event.room):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return dataclasses.replace(fault)
        return None

    def _hold(self, event: _Event, body: bytes, authorization: str, origin: str) -> None:
        key = event.room or event.event_id
        held = (event, body, authorization, origin)
        self._held.setdefault(key, []).append(held)
        self._record(event, "held", None, None, origin, "reorder")

        async def release_late() -> None:
            await asyncio.sleep(self.max_hold)
            if held in self._held.get(key, []):
                self._held[key].remove(held)
                await self._deliver(event, body, authorization, origin, "reorder")

        self._spawn(release_late())

    async def _release_held(self, after: _Event) -> None:
        for event, body, authorization, origin in self._held.pop(after.room or after.event_id, []):
            await self._deliver(event, body, authorization, origin, "reorder")

    async def _deliver(
        self, event: _Event, body: bytes, authorization: str, origin: str, fault: str | None
    ) -> int:
        """POST to every target; the sender gets 200, or the first failing target's status (502 when one
        is unreachable) so that LiveKit retries as it would against that target."""
        assert self._session is not None
        targets = self.webhook_targets
        if not targets:
            self._record(event, "no_target", None, None, origin, fault)
            return 200
        answer = 200
        headers = {"Authorization": authorization, "Content-Type": "application/webhook+json"}
        for target in targets:
            try:
                async with self._session.post(
                    target,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    await response.read()
                    status = response.status
                self._record(event, "delivered", status, target, origin, fault)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = 502
                self._record(event, "failed", None, target, origin, fault, error=repr(error))
            if answer < 300 <= status:
                answer = status
        return answer

    def _record(
        self,
        event: _Event,
        action: RecordAction,
        status: int | None,
        target: str | None,
        origin: str,
        fault: str | None,
        error: str | None = None,
    ) -> None:
        with self._changed:
            self._seq += 1
            record = WebhookRecord(
                self._seq,
                event.name,
                event.room,
                event.event_id,
                action,
                status,
                target,
                origin,
                fault,
                error,
            )
            self._records.append(record)
            self._changed.notify_all()
        log.debug("webhook %s", record)


def _record_matches(record: WebhookRecord, event: str | None, room: str | None, action: str | None) -> bool:
    return event in (None, record.event) and room in (None, record.room) and action in (None, record.action)
