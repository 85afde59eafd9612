"""Property tests: whatever order, repetition and loss LiveKit's delivery rules allow, the table ends true.

A generated session (a broadcaster going live, viewers joining, leaving, reconnecting with a new sid before
the old one leaves, connections that abort, a recorder participant, a recording, an end by the creator or
by the room emptying) is turned into LiveKit's webhooks and delivered through the handler:

- in order, once each: the reference;
- as LiveKit may deliver them: one room's events in order, any of them repeated (a retry or a replay, right
  away or after later events), egress events anywhere and repeated. The stream, its participants and
  sessions and any reel must end exactly as in the reference, with one go-live message;
- with events dropped (any of them, egress included): one reconciler run, against LiveKit's view at that
  moment (a fake at the `reels_live.integrations.rooms` boundary built from the session's truth), must restore what
  LiveKit can still tell: status, who is connected, the counts, the recording and its reel.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import boto3
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from livekit.protocol import egress as egress_pb
from livekit.protocol import models as models_pb

from local import template
from reels_live.integrations import rooms
from reels_live.live import reconciler
from reels_live.store import keys
from tests.support import api, queues, stack
from tests.support import aws as table
from tests.support import webhooks as wh
from tests.support.webhooks import EgressStatus, Kind

S = 1000
VIEWERS = ("user-bob", "user-carol", "user-dave")
AUTHOR = "@author"  # stands for the stream's creator until a session is delivered to a stream
RECORDER = "EG_recorder"
URL = "https://reels-live-recordings.s3.amazonaws.com/recordings/prop/rec.mp4"
PROPERTY_SETTINGS = settings(
    max_examples=15,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# ---------------------------------------------------------------- the session's truth


@dataclass(frozen=True)
class Step:
    """One thing that happened: a webhook LiveKit sends, or the creator ending the stream through our API."""

    name: str
    at: int
    identity: str | None = None
    sid: str | None = None
    joined_at: int | None = None
    kind: int = Kind.STANDARD
    egress_status: int | None = None

    @property
    def is_egress(self) -> bool:
        return self.name.startswith("egress_")


@dataclass
class Session:
    steps: list[Step]
    record: bool
    save_as_reel: bool


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    record = draw(st.booleans())
    save_as_reel = draw(st.booleans())
    end_by_api = draw(st.booleans())
    egress_fails = draw(st.booleans())
    actions = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["join", "leave", "reconnect", "abort", "flap", "recorder"]),
                st.sampled_from(VIEWERS),
            ),
            min_size=2,
            max_size=10,
        )
    )
    broadcaster_after = draw(st.integers(0, 2))
    gaps = iter(draw(st.lists(st.integers(1, 9), min_size=40, max_size=40)))
    steps: list[Step] = []
    t = 0
    sids = iter(f"PA_{n:03d}" for n in range(1000))
    connected: dict[str, tuple[str, int, int]] = {}  # identity -> (sid, joined_at, kind)

    def tick() -> int:
        nonlocal t
        t += next(gaps) * S
        return t

    def join(identity: str, kind: int = Kind.STANDARD) -> None:
        at = tick()
        sid = next(sids)
        steps.append(Step("participant_joined", at, identity, sid, at - 300, kind))
        connected[identity] = (sid, at - 300, kind)

    def leave(identity: str, name: str = "participant_left") -> None:
        sid, joined_at, kind = connected.pop(identity)
        steps.append(Step(name, tick(), identity, sid, joined_at, kind))

    def reconnect(identity: str) -> None:
        # DUPLICATE_IDENTITY: the new session's joined comes before the old one's left.
        old_sid, old_joined, kind = connected[identity]
        join(identity, kind)
        steps.append(Step("participant_left", tick(), identity, old_sid, old_joined, kind))

    steps.append(Step("room_started", 0))
    if record:
        steps.append(Step("egress_started", tick(), egress_status=EgressStatus.EGRESS_STARTING))
        steps.append(Step("egress_updated", tick(), egress_status=EgressStatus.EGRESS_ACTIVE))
    for index, (action, viewer) in enumerate(actions):
        if index == broadcaster_after:
            join(AUTHOR)
            steps.append(Step("track_published", tick(), AUTHOR, connected[AUTHOR][0]))
        if action == "join" and viewer not in connected:
            join(viewer)
        elif action == "leave" and viewer in connected:
            leave(viewer)
        elif action == "reconnect" and viewer in connected:
            reconnect(viewer)
        elif action == "abort" and viewer not in connected:
            at = tick()
            steps.append(Step("participant_connection_aborted", at, viewer, next(sids), at - 500))
        elif action == "flap" and AUTHOR in connected:
            reconnect(AUTHOR)
        elif action == "recorder" and RECORDER not in connected:
            join(RECORDER, Kind.EGRESS)
    if AUTHOR not in connected and broadcaster_after >= len(actions):
        join(AUTHOR)
    if end_by_api:
        steps.append(Step("end_api", tick()))
        for identity in list(connected):
            leave(identity)
        finished = tick()
    else:
        for identity in list(connected):
            leave(identity)
        finished = tick() + 20 * S  # the room's departure timeout
    steps.append(Step("room_finished", finished))
    t = finished
    if record:
        steps.append(Step("egress_updated", tick(), egress_status=EgressStatus.EGRESS_ENDING))
        final = EgressStatus.EGRESS_FAILED if egress_fails else EgressStatus.EGRESS_COMPLETE
        steps.append(Step("egress_ended", tick(), egress_status=final))
    return Session(steps, record, save_as_reel)


# ---------------------------------------------------------------- delivery


@dataclass
class Run:
    """One session played against one stream: its events materialised for that stream."""

    session: Session
    t0: int
    tag: str
    stream: wh.Stream = field(init=False)

    def __post_init__(self) -> None:
        self.stream = wh.seed_stream(f"user-alice-{self.tag}", created_at=self.t0, record=self.session.record)

    def identity(self, step: Step) -> str:
        return self.stream.author_id if step.identity == AUTHOR else step.identity

    def webhook(self, index: int) -> wh.webhook_pb.WebhookEvent:
        step = self.session.steps[index]
        event_id = f"EV_{self.tag}_{index:03d}"
        if step.is_egress:
            location = URL if step.egress_status == EgressStatus.EGRESS_COMPLETE else None
            info = wh.egress_info(
                self.stream, step.egress_status, updated_at_ms=self.t0 + step.at, location=location
            )
            return wh.event(step.name, at_ms=self.t0 + step.at, egress=info, event_id=event_id)
        info = None
        if step.identity is not None:
            joined_at = self.t0 + (step.joined_at if step.joined_at is not None else step.at)
            info = wh.participant(self.identity(step), step.sid, joined_at_ms=joined_at, kind=step.kind)
        return wh.event(
            step.name, at_ms=self.t0 + step.at, stream=self.stream, participant=info, event_id=event_id
        )

    def play(self, order: list[int], clock) -> None:
        for index in order:
            step = self.session.steps[index]
            if step.name == "end_api":
                clock.now_ms = self.t0 + step.at
                body = {"saveAsReel": self.session.save_as_reel}
                response = api.request(
                    "POST", f"/streams/{self.stream.stream_id}/end", user=self.stream.author_id, body=body
                )
                assert response.status == 200, response.body
            else:
                wh.deliver(self.webhook(index))


@st.composite
def livekit_orders(draw: st.DrawFn, session: Session) -> list[int]:
    """A delivery LiveKit's rules allow: room events in order, some repeated later; egress anywhere."""
    steps = session.steps
    room = [i for i, step in enumerate(steps) if not step.is_egress]
    keyed: list[tuple[int, int, int]] = []
    for position, index in enumerate(room):
        keyed.append((position, 0, index))
        for copy in range(draw(st.integers(0, 2))):
            if steps[index].name == "end_api":
                break
            later = draw(st.integers(position, len(room)))
            keyed.append((later, 1 + copy, index))
    for index, step in enumerate(steps):
        if step.is_egress:
            for copy in range(1 + draw(st.integers(0, 1))):
                keyed.append((draw(st.integers(0, len(room))), 3 + copy, index))
    return [index for *_, index in sorted(keyed)]


# ---------------------------------------------------------------- state as the table holds it


IGNORED = {
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "version",
    "streamId",
    "authorId",
    "roomName",
    "reelId",
    "sourceStreamId",
    "createdAt",
    "goLivePending",
}


def state(run: Run) -> dict:
    """The stream, participants, sessions and reel, with what names the stream (ids) taken out."""
    prefix = keys.stream_partition(run.stream.stream_id)
    author = run.stream.author_id

    def clean(item: dict) -> dict:
        cleaned = {k: v for k, v in item.items() if k not in IGNORED}
        if cleaned.get("userId") == author:
            cleaned["userId"] = AUTHOR
        return cleaned

    items = table.items(prefix)
    stream_item = next(item for item in items if item["SK"] == keys.STREAM_SK)
    reel = table.get(keys.reel(run.stream.stream_id))
    return {
        "stream": clean(stream_item) | {"watched": "GSI2PK" in stream_item},
        "participants": {
            AUTHOR if i["userId"] == author else i["userId"]: clean(i)
            for i in items
            if i["SK"].startswith(keys.PARTICIPANT_PREFIX)
        },
        "sessions": {i["sid"]: clean(i) for i in items if i["SK"].startswith(keys.SESSION_PREFIX)},
        "reel": clean(reel) if reel else None,
        "lock": table.get(keys.active_stream_lock(author)) is not None,
    }


def go_live_counts() -> dict[str, int]:
    """How many go-live messages wait for each stream id (received and removed)."""
    counts: dict[str, int] = {}
    for stream_id in queues.go_live_stream_ids():
        counts[stream_id] = counts.get(stream_id, 0) + 1
    return counts


@pytest.fixture
def fresh(aws_backend, frozen_clock) -> Callable[[], int]:
    """Each example starts from an empty table (moto's transactions copy the whole table, so a table that
    grew with every example would slow each one down) and a go-live queue without its settle delay (its
    messages are counted per stream id, and stream ids never repeat)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    name = stack.current().refs["Table"]
    queues.without_delay("GoLiveQueue")
    start = frozen_clock.now_ms

    def reset() -> int:
        dynamodb.delete_table(TableName=name)
        definition = dict(template.table_definitions()["Table"])
        definition.pop("TimeToLive", None)
        dynamodb.create_table(TableName=name, **definition)
        frozen_clock.now_ms = start
        return start

    return reset


# ---------------------------------------------------------------- duplicates and reordering


@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_delivery_livekit_allows_ends_in_the_state_of_in_order_delivery(
    fresh, frozen_clock, monkeypatch, data
):
    # Ending deletes the room, and a late room_started for an ended stream deletes it again: LiveKit's
    # answer does not matter here.
    monkeypatch.setattr(rooms, "delete_room", lambda name: None)
    session = data.draw(sessions(), label="session")
    order = data.draw(livekit_orders(session), label="delivery")
    t0 = fresh()
    reference = Run(session, t0, "ref")
    reference.play(list(range(len(session.steps))), frozen_clock)
    expected, expected_messages = state(reference), go_live_counts().get(reference.stream.stream_id, 0)

    fresh()
    delivered = Run(session, t0, "lk")
    delivered.play(order, frozen_clock)

    assert state(delivered) == expected
    assert expected_messages == (1 if expected["stream"].get("startedAt") is not None else 0)
    assert go_live_counts().get(delivered.stream.stream_id, 0) == expected_messages


# ---------------------------------------------------------------- loss, and the reconciler


@dataclass
class LiveKitView:
    """What LiveKit knows after the first `upto` steps of a session: the room, who is in it, the egress."""

    run: Run
    upto: int
    deleted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.room_alive = True
        self.connected: dict[str, Step] = {}
        self.egress: Step | None = None
        for step in self.run.session.steps[: self.upto]:
            if step.name == "participant_joined":
                self.connected[step.sid] = step
            elif step.name in ("participant_left", "participant_connection_aborted"):
                self.connected.pop(step.sid, None)
            elif step.name == "room_finished":
                self.room_alive = False
            elif step.is_egress:
                self.egress = step

    def list_rooms(self, names: list[str]) -> dict[str, models_pb.Room]:
        name = self.run.stream.room_name
        if not self.room_alive or name not in names or name in self.deleted:
            return {}
        return {name: models_pb.Room(name=name, sid="RM_test", num_participants=len(self.connected))}

    def list_participants(self, rooms: list[str]) -> dict[str, list[models_pb.ParticipantInfo] | None]:
        alive = self.list_rooms(rooms)
        return {
            room: [
                wh.participant(
                    self.run.identity(step),
                    step.sid,
                    joined_at_ms=self.run.t0 + step.joined_at,
                    kind=step.kind,
                )
                for step in self.connected.values()
            ]
            if room in alive
            else None
            for room in rooms
        }

    def list_egress(self, room: str) -> list[egress_pb.EgressInfo]:
        if self.egress is None or room != self.run.stream.room_name:
            return []
        step = self.egress
        location = URL if step.egress_status == EgressStatus.EGRESS_COMPLETE else None
        return [
            wh.egress_info(
                self.run.stream, step.egress_status, updated_at_ms=self.run.t0 + step.at, location=location
            )
        ]

    def delete_room(self, name: str) -> None:
        self.deleted.add(name)


def truth(session: Session, upto: int) -> dict:
    """What the table must say once LiveKit's view of the first `upto` steps is reconciled."""
    steps = session.steps[:upto]
    names = [step.name for step in steps]
    connected: dict[str, Step] = {}
    for step in steps:
        if step.name == "participant_joined":
            connected[step.sid] = step
        elif step.name in ("participant_left", "participant_connection_aborted"):
            connected.pop(step.sid, None)
    ended = "room_finished" in names or "end_api" in names
    went_live = any(step.identity == AUTHOR and step.name == "participant_joined" for step in steps)
    tracked = {sid: step for sid, step in connected.items() if step.kind == Kind.STANDARD}
    egress = [step for step in steps if step.is_egress]
    final_egress = egress[-1].egress_status if egress else None
    recording = {
        EgressStatus.EGRESS_STARTING: "pending",
        EgressStatus.EGRESS_ACTIVE: "active",
        EgressStatus.EGRESS_ENDING: "ending",
        EgressStatus.EGRESS_COMPLETE: "complete",
        EgressStatus.EGRESS_FAILED: "failed",
        None: "pending",
    }[final_egress]
    return {
        "status": "ended" if ended else ("live" if went_live else "preparing"),
        "open_sessions": set() if ended else set(tracked),
        "viewers": 0
        if ended
        else len({step.identity for step in tracked.values() if step.identity != AUTHOR}),
        "recording": recording if session.record else "none",
        "reel": ended
        and session.record
        and session.save_as_reel
        and final_egress == EgressStatus.EGRESS_COMPLETE,
    }


@st.composite
def cut_points(draw: st.DrawFn, session: Session) -> int:
    """Where to stop: anywhere, except between the creator's end and room_finished (LiveKit is still
    disconnecting everyone then, and the reconciler's DeleteRoom would change the truth it checks)."""
    names = [step.name for step in session.steps]
    end = names.index("end_api") if "end_api" in names else None
    finished = names.index("room_finished")
    allowed = [k for k in range(1, len(names) + 1) if end is None or not (end < k <= finished)]
    # Half the time the whole session happened: what is lost about its end is what matters most.
    return draw(st.one_of(st.just(len(names)), st.sampled_from(allowed)))


@PROPERTY_SETTINGS
@given(data=st.data())
def test_with_events_lost_one_reconciler_run_restores_the_truth(fresh, frozen_clock, monkeypatch, data):
    session = data.draw(sessions(), label="session")
    upto = data.draw(cut_points(session), label="cut after step")
    lost = data.draw(st.lists(st.booleans(), min_size=upto, max_size=upto), label="lost")
    t0 = fresh()
    run = Run(session, t0, "drop")
    run.play([i for i in range(upto) if session.steps[i].name == "end_api" or not lost[i]], frozen_clock)
    view = LiveKitView(run, upto)
    for name in ("list_rooms", "list_participants", "list_egress", "delete_room"):
        monkeypatch.setattr(rooms, name, getattr(view, name))
    last = session.steps[upto - 1].at
    frozen_clock.now_ms = t0 + last + S

    with stack.function_environment("ReconcileStreamsFunction"):
        reconciler.reconcile()

    expected = truth(session, upto)
    got = state(run)
    stream = got["stream"]
    assert stream["status"] == expected["status"]
    assert {sid for sid, s in got["sessions"].items() if s["connected"]} == expected["open_sessions"]
    assert stream["viewerCount"] == expected["viewers"]
    assert stream["openSessions"] == len(expected["open_sessions"])
    assert stream["maxViewers"] >= stream["viewerCount"]
    assert stream["uniqueViewers"] >= stream["viewerCount"]
    assert got["lock"] == (expected["status"] != "ended")
    if expected["status"] == "ended":
        assert stream["recordingStatus"] == expected["recording"]
        assert (got["reel"] is not None) == expected["reel"]
        assert stream["watched"] == (expected["recording"] not in ("none", "complete", "failed"))
    assert not table.get(keys.stream(run.stream.stream_id)).get("goLivePending")
    if stream.get("startedAt") is not None:
        assert go_live_counts().get(run.stream.stream_id, 0) >= 1
