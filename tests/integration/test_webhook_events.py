"""Every LiveKit webhook event through the handler (moto), asserting the items it leaves behind."""

import json

import boto3
import pytest

from reels_live.store import keys
from tests.support import api, queues, stack
from tests.support import aws as table
from tests.support import webhooks as wh
from tests.support.webhooks import EgressStatus, Kind

S = 1000  # ms
SETTLING = keys.status_partition_prefix(keys.SETTLING)  # GSI2 partitions of streams still watched


@pytest.fixture
def go_live_messages(aws_backend):
    """Reads the go-live messages, parsed; the queue has no settle delay (GoLiveSettleSeconds=0) here."""
    queues.without_delay("GoLiveQueue")
    return lambda: [json.loads(body) for body in queues.bodies("GoLiveQueue")]


@pytest.fixture
def t0(frozen_clock):
    return frozen_clock.now_ms


@pytest.fixture
def stream(aws_backend, t0):
    return wh.seed_stream(created_at=t0)


def stream_item(stream) -> dict:
    return table.get(keys.stream(stream.stream_id))


def session_item(stream, sid) -> dict | None:
    return table.get(keys.session(stream.stream_id, sid))


def participant_item(stream, user) -> dict | None:
    return table.get(keys.participant(stream.stream_id, user))


def joined(stream, user, sid, at, *, joined_at=None, **kind):
    info = wh.participant(user, sid, joined_at_ms=joined_at if joined_at is not None else at, **kind)
    return wh.event("participant_joined", at_ms=at, stream=stream, participant=info)


def left(stream, user, sid, at, *, joined_at, name="participant_left", **kind):
    info = wh.participant(user, sid, joined_at_ms=joined_at, **kind)
    return wh.event(name, at_ms=at, stream=stream, participant=info)


def assert_has(item: dict | None, expected: dict) -> None:
    """The item holds these attributes with these values (others may be there too)."""
    assert item is not None
    assert {name: item.get(name) for name in expected} == expected


def outcome(built) -> str:
    return wh.deliver(built).body["outcome"]


# ---------------------------------------------------------------- going live


def test_the_broadcaster_joining_makes_the_stream_live_once_and_enqueues_one_go_live(
    stream, t0, go_live_messages
):
    event = joined(stream, "user-alice", "PA_a1", t0 + 2 * S, joined_at=t0 + 1500)

    assert outcome(event) == "go_live"
    assert outcome(event) == "duplicate"
    assert outcome(joined(stream, "user-alice", "PA_a2", t0 + 9 * S)) == "session_opened"

    item = stream_item(stream)
    assert item["status"] == "live"
    assert item["startedAt"] == t0 + 1500
    assert item["GSI2PK"].startswith(keys.status_partition_prefix(keys.LIVE))
    assert item["GSI2SK"] == keys.status_sort_key(stream.stream_id, t0 + 1500)
    assert "goLivePending" not in item
    assert item["viewerCount"] == 0  # the broadcaster is never a viewer
    assert go_live_messages() == [{"streamId": stream.stream_id}]
    assert table.get(keys.active_stream_lock("user-alice"))["streamId"] == stream.stream_id
    assert table.get(keys.webhook_event(event.id))["expiresAt"] > t0 // 1000


def test_the_broadcasters_first_track_published_makes_a_preparing_stream_live(stream, t0, go_live_messages):
    broadcaster = wh.participant("user-alice", "PA_a1", joined_at_ms=t0 + S)
    # Its participant_joined was lost: the publish is the first word of the broadcaster.
    published = wh.event("track_published", at_ms=t0 + 3 * S, stream=stream, participant=broadcaster)

    assert outcome(published) == "go_live"
    assert (
        outcome(wh.event("track_published", at_ms=t0 + 4 * S, stream=stream, participant=broadcaster))
        == "unchanged"
    )

    item = stream_item(stream)
    assert (item["status"], item["startedAt"]) == ("live", t0 + 3 * S)
    assert session_item(stream, "PA_a1")["connected"] is True
    assert go_live_messages() == [{"streamId": stream.stream_id}]


def test_a_viewers_track_published_changes_nothing(stream, t0, go_live_messages):
    viewer = wh.participant("user-bob", "PA_b1", joined_at_ms=t0 + S)

    assert (
        outcome(wh.event("track_published", at_ms=t0 + 2 * S, stream=stream, participant=viewer))
        == "unchanged"
    )
    assert stream_item(stream)["status"] == "preparing"
    assert go_live_messages() == []


def test_a_go_live_message_lost_with_sqs_is_sent_by_a_retry_of_the_event(stream, t0, go_live_messages):
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(QueueUrl=queues.url("GoLiveQueue"), AttributeNames=["All"])[
        "Attributes"
    ]
    sqs.delete_queue(QueueUrl=queues.url("GoLiveQueue"))
    event = joined(stream, "user-alice", "PA_a1", t0 + 2 * S)

    assert outcome(event) == "go_live"
    assert stream_item(stream)["goLivePending"] is True  # the outbox marker, written with the transition

    sqs.create_queue(
        QueueName=stack.current().attributes["GoLiveQueue"]["QueueName"],
        Attributes={"DelaySeconds": "0", "RedrivePolicy": attributes["RedrivePolicy"]},
    )
    assert outcome(event) == "duplicate"  # LiveKit retries; the state change is not applied twice
    assert "goLivePending" not in stream_item(stream)
    assert go_live_messages() == [{"streamId": stream.stream_id}]


def test_the_settle_delay_is_the_go_live_queues_own_delay(aws_backend):
    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=queues.url("GoLiveQueue"), AttributeNames=["DelaySeconds"]
    )["Attributes"]

    assert attributes["DelaySeconds"] == str(stack.current().parameters["GoLiveSettleSeconds"])
    assert stack.environment_of("LiveKitWebhookFunction")["GO_LIVE_QUEUE_URL"] == queues.url("GoLiveQueue")


# ---------------------------------------------------------------- viewers


def test_viewers_sessions_counts_and_watch_time_add_up(stream, t0):
    wh.admit(stream, "user-bob", t0)
    outcome(joined(stream, "user-alice", "PA_a1", t0 + S))
    outcome(joined(stream, "user-bob", "PA_b1", t0 + 10 * S))
    outcome(joined(stream, "user-carol", "PA_c1", t0 + 20 * S))
    outcome(left(stream, "user-bob", "PA_b1", t0 + 30 * S, joined_at=t0 + 10 * S))
    outcome(joined(stream, "user-bob", "PA_b2", t0 + 40 * S))
    outcome(left(stream, "user-bob", "PA_b2", t0 + 45 * S, joined_at=t0 + 40 * S))

    item = stream_item(stream)
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"]) == (1, 2, 2)
    bob = participant_item(stream, "user-bob")
    assert bob["role"] == "viewer"
    assert bob["sessionCount"] == 2
    assert bob["durationMs"] == 20 * S + 5 * S
    assert bob["firstConnectedAt"] == t0 + 10 * S
    assert bob["leftAt"] == t0 + 45 * S
    assert bob["connectedSids"] == []
    assert bob["lastAdmittedAt"] == t0  # the join API's own fields are left alone
    assert_has(
        session_item(stream, "PA_b1"),
        {
            "userId": "user-bob",
            "connected": False,
            "joinedAt": t0 + 10 * S,
            "leftAt": t0 + 30 * S,
            "durationMs": 20 * S,
        },
    )
    assert participant_item(stream, "user-carol")["connectedSids"] == ["PA_c1"]


def test_a_reconnect_whose_new_session_joins_before_the_old_one_leaves_stays_one_viewer(stream, t0):
    outcome(joined(stream, "user-bob", "PA_b1", t0 + S))
    # LiveKit kicks the older session (DUPLICATE_IDENTITY); the new join can be sent before the old left.
    outcome(joined(stream, "user-bob", "PA_b2", t0 + 5 * S))
    assert stream_item(stream)["viewerCount"] == 1

    assert outcome(left(stream, "user-bob", "PA_b1", t0 + 6 * S, joined_at=t0 + S)) == "viewer_left"

    item = stream_item(stream)
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"]) == (1, 1, 1)
    assert session_item(stream, "PA_b2")["connected"] is True  # the left for the older sid closed only it
    assert participant_item(stream, "user-bob")["connectedSids"] == ["PA_b2"]

    outcome(left(stream, "user-bob", "PA_b2", t0 + 8 * S, joined_at=t0 + 5 * S))
    assert stream_item(stream)["viewerCount"] == 0


def test_duplicate_and_late_events_never_move_the_count(stream, t0):
    join = joined(stream, "user-bob", "PA_b1", t0 + S)
    leave = left(stream, "user-bob", "PA_b1", t0 + 9 * S, joined_at=t0 + S)
    # A second delivery of the same joined with a new event id (another node, a replay) is caught by the
    # session's state, not by the id.
    replayed = joined(stream, "user-bob", "PA_b1", t0 + S)

    assert [outcome(e) for e in (join, join, leave, leave, replayed, join)] == [
        "viewer_joined",
        "duplicate",
        "viewer_left",
        "duplicate",
        "unchanged",
        "duplicate",
    ]
    item = stream_item(stream)
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"]) == (0, 1, 1)
    assert participant_item(stream, "user-bob")["durationMs"] == 8 * S


def test_a_left_whose_joined_was_never_seen_records_the_whole_session(stream, t0):
    assert (
        outcome(left(stream, "user-bob", "PA_b1", t0 + 30 * S, joined_at=t0 + 10 * S)) == "session_recorded"
    )

    item = stream_item(stream)
    assert (item["viewerCount"], item["uniqueViewers"]) == (0, 1)
    assert session_item(stream, "PA_b1")["durationMs"] == 20 * S
    assert participant_item(stream, "user-bob")["durationMs"] == 20 * S


def test_an_aborted_connection_that_never_connected_records_nothing(stream, t0):
    aborted = left(
        stream, "user-bob", "PA_b1", t0 + 3 * S, joined_at=t0 + S, name="participant_connection_aborted"
    )

    assert outcome(aborted) == "unchanged"
    assert session_item(stream, "PA_b1") is None
    assert stream_item(stream)["uniqueViewers"] == 0


def test_an_aborted_connection_closes_a_session_that_was_open(stream, t0):
    outcome(joined(stream, "user-bob", "PA_b1", t0 + S))
    aborted = left(
        stream, "user-bob", "PA_b1", t0 + 3 * S, joined_at=t0 + S, name="participant_connection_aborted"
    )

    assert outcome(aborted) == "viewer_left"
    assert stream_item(stream)["viewerCount"] == 0


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param({"kind": Kind.EGRESS}, id="egress"),
        pytest.param({"kind": Kind.INGRESS}, id="ingress"),
        pytest.param({"kind": Kind.AGENT}, id="agent"),
        pytest.param({"kind": Kind.SIP}, id="sip"),
        pytest.param({"hidden": True}, id="hidden"),
        pytest.param({"recorder": True}, id="recorder"),
    ],
)
def test_participants_that_are_not_viewers_are_never_counted(stream, t0, kind):
    assert outcome(joined(stream, "EG_recorder", "PA_x", t0 + S, **kind)) == "unchanged"
    assert outcome(left(stream, "EG_recorder", "PA_x", t0 + 5 * S, joined_at=t0 + S, **kind)) == "unchanged"

    item = stream_item(stream)
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"], item["openSessions"]) == (
        0,
        0,
        0,
        0,
    )
    assert session_item(stream, "PA_x") is None


# ---------------------------------------------------------------- the room's end


def test_room_finished_ends_the_stream_releases_the_lock_and_closes_sessions_at_the_rooms_end(stream, t0):
    outcome(joined(stream, "user-alice", "PA_a1", t0 + 2 * S))
    outcome(joined(stream, "user-bob", "PA_b1", t0 + 10 * S))

    assert outcome(wh.event("room_finished", at_ms=t0 + 70 * S, stream=stream)) == "stream_ended"

    item = stream_item(stream)
    assert item["status"] == "ended"
    assert (item["endedAt"], item["durationMs"], item["endReason"]) == (t0 + 70 * S, 68 * S, "room_finished")
    assert (item["viewerCount"], item["maxViewers"], item["openSessions"]) == (0, 1, 0)
    assert "GSI2PK" not in item  # nothing left to watch
    assert table.get(keys.active_stream_lock("user-alice")) is None
    assert session_item(stream, "PA_b1")["leftAt"] == t0 + 70 * S
    assert participant_item(stream, "user-bob")["durationMs"] == 60 * S
    assert participant_item(stream, "user-alice")["durationMs"] == 68 * S


def test_room_finished_changes_nothing_twice(stream, t0):
    outcome(joined(stream, "user-alice", "PA_a1", t0 + 2 * S))
    finished = wh.event("room_finished", at_ms=t0 + 70 * S, stream=stream)
    outcome(finished)
    before = stream_item(stream)

    assert outcome(finished) == "duplicate"
    assert outcome(wh.event("room_finished", at_ms=t0 + 90 * S, stream=stream)) == "unchanged"
    assert stream_item(stream) == before


def test_a_stream_whose_broadcaster_never_came_ends_with_no_duration(stream, t0):
    outcome(wh.event("room_finished", at_ms=t0 + 300 * S, stream=stream))

    item = stream_item(stream)
    assert (item["status"], item["durationMs"]) == ("ended", 0)
    assert "startedAt" not in item


def test_a_participant_joined_arriving_after_room_finished_is_closed_at_the_rooms_end(stream, t0):
    outcome(joined(stream, "user-alice", "PA_a1", t0 + 2 * S))
    late = joined(stream, "user-bob", "PA_b1", t0 + 50 * S)
    outcome(wh.event("room_finished", at_ms=t0 + 70 * S, stream=stream))

    assert outcome(late) == "session_recorded"

    item = stream_item(stream)
    assert (item["status"], item["viewerCount"], item["uniqueViewers"]) == ("ended", 0, 1)
    assert_has(session_item(stream, "PA_b1"), {"connected": False, "leftAt": t0 + 70 * S})


def test_sessions_in_a_room_made_again_after_the_stream_ended_are_not_the_streams(stream, t0):
    outcome(wh.event("room_finished", at_ms=t0 + 70 * S, stream=stream))

    assert outcome(joined(stream, "user-bob", "PA_b9", t0 + 80 * S)) == "unchanged"
    assert outcome(left(stream, "user-bob", "PA_b9", t0 + 90 * S, joined_at=t0 + 80 * S)) == "unchanged"
    assert session_item(stream, "PA_b9") is None


def test_after_the_creator_ends_the_stream_room_finished_settles_it(stream, t0, frozen_clock):
    outcome(joined(stream, "user-alice", "PA_a1", t0 + 2 * S))
    outcome(joined(stream, "user-bob", "PA_b1", t0 + 10 * S))
    frozen_clock.now_ms = t0 + 60 * S
    # The room cannot be deleted here (no LiveKit): end still answers, LiveKit's room_finished follows.
    ended = api.request("POST", f"/streams/{stream.stream_id}/end", user="user-alice")
    assert ended.status == 200
    assert stream_item(stream)["GSI2PK"].startswith(SETTLING)  # until LiveKit confirms the room is gone

    outcome(left(stream, "user-bob", "PA_b1", t0 + 61 * S, joined_at=t0 + 10 * S))
    outcome(wh.event("room_finished", at_ms=t0 + 62 * S, stream=stream))

    item = stream_item(stream)
    assert (item["status"], item["endedAt"], item["durationMs"]) == ("ended", t0 + 60 * S, 58 * S)
    assert item["roomFinishedAt"] == t0 + 62 * S
    assert (item["viewerCount"], item["openSessions"]) == (0, 0)
    assert "GSI2PK" not in item
    assert session_item(stream, "PA_a1")["leftAt"] == t0 + 62 * S


def test_room_started_for_a_live_stream_changes_nothing(stream, t0):
    assert outcome(wh.event("room_started", at_ms=t0, stream=stream)) == "unchanged"


@pytest.mark.parametrize("name", ["track_unpublished", "ingress_started", "ingress_ended"])
def test_events_that_say_nothing_we_keep_are_ignored(stream, t0, name):
    info = wh.participant("user-alice", "PA_a1", joined_at_ms=t0)

    assert outcome(wh.event(name, at_ms=t0 + S, stream=stream, participant=info)) == "ignored"
    assert stream_item(stream)["status"] == "preparing"


def test_an_event_for_a_stream_we_do_not_know_is_200(aws_backend, t0):
    event = wh.event("room_finished", at_ms=t0, room_name="stream_01JDQ3Z8G7N2V4K6M8P0R2T4W6")

    assert outcome(event) == "unknown_stream"


# ---------------------------------------------------------------- recording


@pytest.fixture
def recorded(aws_backend, t0):
    stream = wh.seed_stream(created_at=t0, record=True, tags=["skate"], is_sensitive=True)
    outcome(joined(stream, "user-alice", "PA_a1", t0 + 2 * S))
    return stream


URL = "https://reels-live-recordings.s3.amazonaws.com/recordings/x/2026.mp4"


def egress_event(stream, name, status, at, **info):
    return wh.event(name, at_ms=at, egress=wh.egress_info(stream, status, updated_at_ms=at, **info))


def test_egress_events_in_any_order_end_in_the_latest_status(recorded, t0):
    started = egress_event(recorded, "egress_started", EgressStatus.EGRESS_STARTING, t0 + 3 * S)
    active = egress_event(recorded, "egress_updated", EgressStatus.EGRESS_ACTIVE, t0 + 4 * S)
    ending = egress_event(recorded, "egress_updated", EgressStatus.EGRESS_ENDING, t0 + 60 * S)
    done = egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 62 * S, location=URL)

    assert [outcome(e) for e in (done, ending, started, active)] == [
        "recording_complete",
        "unchanged",
        "unchanged",
        "unchanged",
    ]
    item = stream_item(recorded)
    assert (item["recordingStatus"], item["recordingUrl"], item["egressId"]) == ("complete", URL, "EG_test")


def test_a_late_egress_updated_never_undoes_egress_ended_even_with_a_newer_clock(recorded, t0):
    outcome(egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 62 * S, location=URL))

    assert (
        outcome(egress_event(recorded, "egress_updated", EgressStatus.EGRESS_ACTIVE, t0 + 99 * S))
        == "unchanged"
    )
    assert stream_item(recorded)["recordingStatus"] == "complete"


def test_a_completed_recording_of_a_stream_ended_with_save_as_reel_becomes_one_reel(
    recorded, t0, frozen_clock
):
    frozen_clock.now_ms = t0 + 60 * S
    assert api.request("POST", f"/streams/{recorded.stream_id}/end", body={"saveAsReel": True}).status == 200
    outcome(wh.event("room_finished", at_ms=t0 + 61 * S, stream=recorded))
    assert stream_item(recorded)["GSI2PK"].startswith(SETTLING)  # the recording is not final yet
    done = egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 65 * S, location=URL)

    assert outcome(done) == "recording_complete"
    assert outcome(done) == "duplicate"
    assert outcome(
        egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 66 * S, location=URL)
    ) == (
        "recording_complete"  # a later report of the same egress (same reel, not a second one)
    )

    reels = table.items(keys.REEL_PK_PREFIX)
    assert len(reels) == 1
    assert_has(
        reels[0],
        {
            "reelId": recorded.stream_id,
            "sourceStreamId": recorded.stream_id,
            "authorId": "user-alice",
            "title": recorded.title,
            "tags": ["skate"],
            "isSensitive": True,
            "isGated": False,
            "videoUrl": URL,
            "durationMs": 58 * S,
            **keys.author_reels("user-alice", recorded.stream_id),
            "entity": "reel",
        },
    )
    item = stream_item(recorded)
    assert (item["recordingStatus"], item["reelId"]) == ("complete", recorded.stream_id)
    assert "GSI2PK" not in item


def test_a_recording_completed_before_the_creator_ended_still_makes_the_reel(recorded, t0, frozen_clock):
    outcome(egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 30 * S, location=URL))
    frozen_clock.now_ms = t0 + 60 * S
    api.request("POST", f"/streams/{recorded.stream_id}/end", body={"saveAsReel": True})

    outcome(wh.event("room_finished", at_ms=t0 + 61 * S, stream=recorded))

    assert [reel["reelId"] for reel in table.items(keys.REEL_PK_PREFIX)] == [recorded.stream_id]


def test_without_save_as_reel_a_completed_recording_makes_no_reel(recorded, t0):
    outcome(wh.event("room_finished", at_ms=t0 + 61 * S, stream=recorded))
    outcome(egress_event(recorded, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 65 * S, location=URL))

    assert table.items(keys.REEL_PK_PREFIX) == []
    assert stream_item(recorded)["recordingUrl"] == URL


@pytest.mark.parametrize("status", [EgressStatus.EGRESS_FAILED, EgressStatus.EGRESS_ABORTED])
def test_a_failed_egress_marks_the_recording_failed_and_the_stream_stays_ended(
    recorded, t0, frozen_clock, status
):
    frozen_clock.now_ms = t0 + 60 * S
    api.request("POST", f"/streams/{recorded.stream_id}/end", body={"saveAsReel": True})
    outcome(wh.event("room_finished", at_ms=t0 + 61 * S, stream=recorded))

    assert outcome(egress_event(recorded, "egress_ended", status, t0 + 62 * S, error="upload failed")) == (
        "recording_failed"
    )
    item = stream_item(recorded)
    assert (item["status"], item["recordingStatus"]) == ("ended", "failed")
    assert "recordingUrl" not in item
    assert table.items(keys.REEL_PK_PREFIX) == []
    assert "GSI2PK" not in item


def test_a_second_egress_for_the_room_is_not_the_streams_recording(recorded, t0):
    outcome(egress_event(recorded, "egress_started", EgressStatus.EGRESS_STARTING, t0 + 3 * S))
    other = egress_event(
        recorded, "egress_ended", EgressStatus.EGRESS_FAILED, t0 + 9 * S, egress_id="EG_other"
    )

    assert outcome(other) == "unchanged"
    assert stream_item(recorded)["recordingStatus"] == "pending"


def test_egress_for_a_stream_that_is_not_recorded_is_ignored(stream, t0):
    done = egress_event(stream, "egress_ended", EgressStatus.EGRESS_COMPLETE, t0 + 9 * S, location=URL)

    assert outcome(done) == "unchanged"
    assert stream_item(stream)["recordingStatus"] == "none"
