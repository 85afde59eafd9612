"""What the relay keeps about webhooks: the fault rules set from Python or the admin API (`Fault`), the
outcome of each webhook in arrival order (`WebhookRecord`), and the few fields it reads from a webhook body
(`_Event`). Plain data, shared by the webhook, egress and admin parts of the relay."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

FaultAction = Literal["drop", "duplicate", "delay", "reorder", "reject"]
FAULT_ACTIONS: tuple[str, ...] = ("drop", "duplicate", "delay", "reorder", "reject")
# What happened to one webhook at the relay: a target answered (any status), a target was unreachable, or a
# fault kept it from the targets; no_target when no target is configured.
RecordAction = Literal["delivered", "failed", "dropped", "rejected", "held", "no_target"]


@dataclass
class Fault:
    """One fault rule: applies to matching webhooks (by event name and/or room), `times` more times
    (None: until cleared), each time with `probability` drawn from the relay's seeded RNG."""

    action: FaultAction
    event: str | None = None
    room: str | None = None
    times: int | None = 1
    probability: float = 1.0
    delay_ms: int = 0
    # reject: the status the sender gets instead of a delivery (5xx makes LiveKit retry).
    status: int = 503
    id: int = 0

    def matches(self, event: str, room: str | None) -> bool:
        return (
            (self.times is None or self.times > 0)
            and self.event in (None, event)
            and self.room in (None, room)
        )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class WebhookRecord:
    """One webhook outcome at the relay, in arrival order (`seq`)."""

    seq: int
    event: str
    room: str | None
    event_id: str
    action: RecordAction
    status: int | None
    target: str | None
    # "server" for livekit-server's own events, "relay" for the simulated egress ones.
    origin: str
    fault: str | None = None
    error: str | None = None
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Event:
    """What the relay reads from a webhook body; the body itself is forwarded as received."""

    name: str
    room: str | None
    event_id: str

    @classmethod
    def parse(cls, body: bytes) -> _Event:
        try:
            data = json.loads(body)
        except ValueError:
            return cls("", None, "")
        room = (
            (data.get("room") or {}).get("name")
            or (data.get("egressInfo") or {}).get("roomName")
            or (data.get("ingressInfo") or {}).get("roomName")
        )
        return cls(str(data.get("event", "")), room or None, str(data.get("id", "")))
