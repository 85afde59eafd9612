"""The reconciler (EventBridge schedule) against moto and the real livekit-server behind the relay.

The relay delivers the server's webhooks to no one here, so every test is a stream whose webhooks were
all lost: what the table knows comes from the reconciler alone.
"""

import asyncio
import time

import boto3
import botocore.client
import pytest
from livekit.protocol.egress import EgressStatus

from local.livekit import clients
from reels_live.store import keys
from tests.support import api, queues, stack
from tests.support import aws as table
from tests.support import livekit as lk
from tests.support import webhooks as wh

S = 1000


def reconcile() -> dict:
    response = api.invoke("ReconcileStreamsFunction", api.sample_event("reconcile_streams.json"))
    return response.body


def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    """Poll something the real server or the relay does on its own time (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def real_time(frozen_clock):
    """LiveKit stamps its reports with the wall clock; the frozen clock starts from it too."""
    frozen_clock.now_ms = time.time_ns() // 1_000_000
    return frozen_clock


@pytest.fixture
def go_live_stream_ids(aws_backend):
    """Reads the stream ids of the go-live messages; the queue has no settle delay here."""
    queues.without_delay("GoLiveQueue")
    return queues.go_live_stream_ids


# ---------------------------------------------------------------- moto only: LiveKit unreachable


def test_with_livekit_unreachable_nothing_is_judged(aws_backend, frozen_clock):
    stream = wh.seed_stream(created_at=frozen_clock.now_ms)
    frozen_clock.advance(seconds=3600)

    report = reconcile()

    assert report["livekit_failures"] == 1
    assert table.get(keys.stream(stream.stream_id))["status"] == "preparing"


def test_a_go_live_message_the_outbox_still_holds_is_sent(aws_backend, frozen_clock, go_live_stream_ids):
    stream = wh.seed_stream(created_at=frozen_clock.now_ms)
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(QueueUrl=queues.url("GoLiveQueue"), AttributeNames=["All"])[
        "Attributes"
    ]
    sqs.delete_queue(QueueUrl=queues.url("GoLiveQueue"))
    broadcaster = wh.participant("user-alice", "PA_a1", joined_at_ms=frozen_clock.now_ms)
    wh.deliver(
        wh.event("participant_joined", at_ms=frozen_clock.now_ms, stream=stream, participant=broadcaster)
    )
    assert table.get(keys.stream(stream.stream_id))["goLivePending"] is True
    sqs.create_queue(
        QueueName=stack.current().attributes["GoLiveQueue"]["QueueName"],
        Attributes={"DelaySeconds": "0", "RedrivePolicy": attributes["RedrivePolicy"]},
    )

    report = reconcile()  # LiveKit is unreachable here: the outbox is emptied all the same

    assert report["announced"] == 1
    assert go_live_stream_ids() == [stream.stream_id]
    assert "goLivePending" not in table.get(keys.stream(stream.stream_id))


def test_the_reconciler_finds_streams_by_key_never_by_scan(aws_backend, frozen_clock, monkeypatch):
    wh.seed_stream(created_at=frozen_clock.now_ms)
    calls: list[str] = []
    make_api_call = botocore.client.BaseClient._make_api_call

    def counted(client, operation, params):
        calls.append(operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)

    reconcile()

    assert "Scan" not in calls
    assert calls.count("Query") == 3 * 8  # the PREPARING, LIVE and SETTLING shards, one page each
    assert calls.count("BatchGetItem") == 1


# ---------------------------------------------------------------- the real server


@pytest.mark.livekit
def test_a_stream_whose_room_is_gone_is_ended_and_the_lock_released(livekit, real_time):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]
    room = created["connection"]["room"]
    lk.delete_room(livekit.url, livekit.api_key, livekit.api_secret, room)

    report = reconcile()

    item = table.get(keys.stream(stream_id))
    assert report["ended"] == 1
    assert (item["status"], item["endReason"]) == ("ended", "room_gone")
    assert "GSI2PK" not in item
    assert table.get(keys.active_stream_lock("user-alice")) is None


@pytest.mark.livekit
def test_a_preparing_stream_whose_broadcaster_never_came_is_ended_after_the_grace(livekit, real_time):
    late = api.create_stream()
    real_time.advance(seconds=int(stack.current().parameters["PreparingGraceSeconds"]) - 60)
    fresh = api.create_stream(user="user-bob")
    real_time.advance(seconds=61)

    report = reconcile()

    assert (report["ended"], report["rooms_deleted"]) == (1, 1)
    item = table.get(keys.stream(late["stream"]["streamId"]))
    assert (item["status"], item["endReason"], item["durationMs"]) == ("ended", "broadcaster_never_came", 0)
    assert lk.rooms(livekit.url, livekit.api_key, livekit.api_secret, [late["connection"]["room"]]) == []
    assert table.get(keys.stream(fresh["stream"]["streamId"]))["status"] == "preparing"


@pytest.mark.livekit
def test_participants_whose_webhooks_were_lost_are_found_in_the_room(livekit, real_time, go_live_stream_ids):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]
    viewer = api.request("POST", f"/streams/{stream_id}/join", user="user-bob").body["connection"]

    async def scenario() -> tuple[dict, dict]:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        watcher = await clients.connect(viewer["url"], viewer["token"])
        try:
            await clients.publish_synthetic_video(broadcaster)
            connected = await asyncio.to_thread(reconcile)
        finally:
            await clients.disconnect(watcher)
            await clients.disconnect(broadcaster)
        await clients.wait_for(
            lambda: asyncio.to_thread(
                lambda: (
                    not lk.participants(
                        livekit.url, livekit.api_key, livekit.api_secret, created["connection"]["room"]
                    )
                )
            )
        )
        return connected, await asyncio.to_thread(reconcile)

    connected, disconnected = asyncio.run(asyncio.wait_for(scenario(), 60))

    assert connected["went_live"] == 1
    item = table.get(keys.stream(stream_id))
    assert item["status"] == "live"
    assert go_live_stream_ids() == [stream_id]
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"], item["openSessions"]) == (
        0,
        1,
        1,
        0,
    )
    bob = table.get(keys.participant(stream_id, "user-bob"))
    assert bob["sessionCount"] == 1
    assert bob["connectedSids"] == []
    assert disconnected["sessions_closed"] == 2


@pytest.mark.livekit
def test_a_lost_egress_ended_is_settled_from_list_egress_and_still_makes_the_reel(livekit, real_time):
    created = api.create_stream({"title": "Recorded", "record": True})
    stream_id, room = created["stream"]["streamId"], created["connection"]["room"]
    # Recording, not just starting: an egress stopped while starting is aborted and records nothing.
    wait_until(
        lambda: [e.status for e in livekit.relay.egress_list(room)] == [EgressStatus.EGRESS_ACTIVE],
        what="the simulated egress to record",
    )
    assert api.request("POST", f"/streams/{stream_id}/end", body={"saveAsReel": True}).status == 200
    wait_until(
        lambda: [e.status for e in livekit.relay.egress_list(room)] == [EgressStatus.EGRESS_COMPLETE],
        what="the simulated egress to complete",
    )
    assert table.get(keys.stream(stream_id))["recordingStatus"] == "pending"  # egress_ended never reached us

    report = reconcile()

    item = table.get(keys.stream(stream_id))
    assert report["recordings_settled"] == 1
    assert item["recordingStatus"] == "complete"
    assert item["recordingUrl"].startswith(
        f"https://{stack.current().refs['RecordingsBucket']}.s3.amazonaws.com/recordings/{stream_id}/"
    )
    assert "GSI2PK" not in item
    reel = table.get(keys.reel(stream_id))
    assert (reel["videoUrl"], reel["authorId"], reel["title"]) == (
        item["recordingUrl"],
        "user-alice",
        "Recorded",
    )


@pytest.mark.livekit
def test_a_run_short_of_time_leaves_streams_for_the_next_run(livekit, real_time):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]
    lk.delete_room(livekit.url, livekit.api_key, livekit.api_secret, created["connection"]["room"])
    sample = api.sample_event("reconcile_streams.json")

    short = api.invoke("ReconcileStreamsFunction", sample, remaining_ms=5_000).body

    assert (short["checked"], short["deferred"], short["ended"]) == (1, 1, 0)
    assert table.get(keys.stream(stream_id))["status"] == "preparing"
    assert api.invoke("ReconcileStreamsFunction", sample).body["ended"] == 1
