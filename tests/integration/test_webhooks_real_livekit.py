"""The real livekit-server's own signed webhooks, through the relay, handled by our webhook function.

Real clients (the livekit SDK) connect with tokens from our API; the relay passes the server's webhooks
through byte for byte (and the simulated egress's, signed the same way) to a loopback sink that hands them
to the handler as API Gateway would. Faults are injected at the relay: duplicates, drops and reorders.
"""

import asyncio
import time
from collections.abc import Awaitable, Iterator

import boto3
import pytest

from local.livekit import clients
from local.livekit.relay import LocalLiveKit
from reels_live.store import keys
from tests.support import api, queues
from tests.support import aws as table
from tests.support import livekit as lk
from tests.support import webhooks as wh

pytestmark = pytest.mark.livekit


@pytest.fixture
def sink(livekit: LocalLiveKit, frozen_clock) -> Iterator[wh.HandlerSink]:
    """Webhooks from the relay to our handler; the clock reads the wall clock LiveKit stamps events with."""
    frozen_clock.now_ms = time.time_ns() // 1_000_000
    queues.without_delay("GoLiveQueue")
    handler_sink = wh.HandlerSink()
    livekit.relay.webhook_targets = [handler_sink.url]
    yield handler_sink
    livekit.relay.webhook_targets = []
    handler_sink.close()


def until(
    sink: wh.HandlerSink, stream_id: str, what: str, timeout: float = 20.0, **expected
) -> Awaitable[None]:
    """Wait (in a thread, so the clients' loop keeps running) until the stream item has these values."""

    def holds() -> bool:
        item = table.get(keys.stream(stream_id))
        return all(item.get(name) == value for name, value in expected.items())

    return asyncio.to_thread(sink.wait_for, holds, timeout, what)


def test_a_broadcasters_publish_makes_the_stream_live_through_livekits_own_webhooks(livekit, sink):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        try:
            await clients.publish_synthetic_video(broadcaster)
            await until(sink, stream_id, "the stream to go live", status="live")
        finally:
            await clients.disconnect(broadcaster)

    lk.run_scenario(scenario, timeout=90)
    item = table.get(keys.stream(stream_id))
    assert item["startedAt"] <= time.time_ns() // 1_000_000
    assert item["viewerCount"] == 0
    # The table changes inside the handler; its answer is recorded a moment later.
    sink.wait_for(lambda: sink.handled("participant_joined"), what="participant_joined handled")
    assert sink.handled("participant_joined")[:1] == ["go_live"]
    assert queues.go_live_stream_ids() == [stream_id]


def test_viewers_who_join_through_the_api_and_connect_are_counted_and_a_reconnect_stays_one_viewer(
    livekit, sink
):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]
    bob, carol = api.join_stream(stream_id, "user-bob"), api.join_stream(stream_id, "user-carol")

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        rooms = [broadcaster]
        try:
            rooms.append(await clients.connect(bob["url"], bob["token"]))
            rooms.append(await clients.connect(carol["url"], carol["token"]))
            await until(sink, stream_id, "two viewers", viewerCount=2, maxViewers=2, uniqueViewers=2)
            # Bob connects again with the same identity: LiveKit kicks his older session.
            kicked = asyncio.ensure_future(clients.wait_for_event(rooms[1], "disconnected", timeout=15))
            rooms.append(await clients.connect(bob["url"], bob["token"]))
            await kicked
            await asyncio.to_thread(
                sink.wait_for,
                lambda: (
                    table.get(keys.participant(stream_id, "user-bob"))["sessionCount"] == 2
                    and len(table.get(keys.participant(stream_id, "user-bob"))["connectedSids"]) == 1
                ),
                20,
                "bob's first session to close",
            )
            assert table.get(keys.stream(stream_id))["viewerCount"] == 2
            await clients.disconnect(rooms[2])  # carol leaves cleanly
            await until(sink, stream_id, "carol's leave", viewerCount=1)
        finally:
            for room in rooms:
                await clients.disconnect(room)

    lk.run_scenario(scenario, timeout=90)
    item = table.get(keys.stream(stream_id))
    assert (item["maxViewers"], item["uniqueViewers"]) == (2, 2)


def test_a_viewer_whose_connection_drops_abruptly_leaves_the_count_once_livekit_notices(livekit, sink):
    created = api.create_stream()
    stream_id = created["stream"]["streamId"]
    viewer = api.join_stream(stream_id, "user-bob")

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        try:
            async with await clients.spawn_client(viewer["url"], viewer["token"], publish_video=False) as bob:
                await until(sink, stream_id, "bob counted", viewerCount=1)
                await clients.drop_abruptly(bob)
                # No leave is sent: LiveKit notices on its ICE timeouts (about 20 s).
                await until(sink, stream_id, "bob's drop noticed", timeout=45, viewerCount=0)
        finally:
            await clients.disconnect(broadcaster)

    lk.run_scenario(scenario, timeout=90)
    bob = table.get(keys.participant(stream_id, "user-bob"))
    assert (bob["sessionCount"], bob["connectedSids"]) == (1, [])
    assert bob["durationMs"] > 0


def test_ending_brings_room_finished_which_changes_nothing_twice(livekit, sink):
    created = api.create_stream()
    stream_id, room = created["stream"]["streamId"], created["connection"]["room"]
    viewer = api.join_stream(stream_id, "user-bob")
    livekit.relay.duplicate(event="room_finished", room=room)

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        watcher = await clients.connect(viewer["url"], viewer["token"])
        await until(sink, stream_id, "live with a viewer", status="live", viewerCount=1)
        ended = await asyncio.to_thread(api.request, "POST", f"/streams/{stream_id}/end", user="user-alice")
        assert ended.status == 200
        await asyncio.to_thread(
            sink.wait_for, lambda: len(sink.handled("room_finished")) == 2, 20, "room_finished x2"
        )
        for room_ in (watcher, broadcaster):
            await clients.disconnect(room_)

    lk.run_scenario(scenario, timeout=90)
    assert sink.handled("room_finished") == ["room_finished", "duplicate"]
    item = table.get(keys.stream(stream_id))
    assert item["status"] == "ended"
    assert (item["viewerCount"], item["openSessions"]) == (0, 0)
    assert item["roomFinishedAt"] >= item["endedAt"]
    assert "GSI2PK" not in item
    assert table.get(keys.active_stream_lock("user-alice")) is None


def test_duplicates_drops_and_reorders_at_the_relay_leave_the_counts_true(livekit, sink):
    created = api.create_stream()
    stream_id, room = created["stream"]["streamId"], created["connection"]["room"]
    bob, carol = api.join_stream(stream_id, "user-bob"), api.join_stream(stream_id, "user-carol")
    relay = livekit.relay
    relay.duplicate(event="participant_joined", room=room, times=None)
    relay.reorder(event="participant_left", room=room, times=1)  # held back until the room's next event
    relay.drop(event="participant_left", room=room, times=1)  # carol's leave never arrives

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        watching = []
        try:
            watching.append(await clients.connect(bob["url"], bob["token"]))
            watching.append(await clients.connect(carol["url"], carol["token"]))
            await until(sink, stream_id, "two viewers", viewerCount=2)
            await clients.disconnect(watching[0])  # bob's left is held back
            await clients.disconnect(watching[1])  # carol's left is dropped; bob's goes out after it
            await until(sink, stream_id, "bob's late leave", viewerCount=1)
            # Carol is still counted: only the reconciler can tell she is gone.
            report = await asyncio.to_thread(
                api.invoke, "ReconcileStreamsFunction", api.sample_event("reconcile_streams.json")
            )
            assert report.body["sessions_closed"] == 1
        finally:
            for room_ in [*watching, broadcaster]:
                await clients.disconnect(room_)

    lk.run_scenario(scenario, timeout=90)
    assert "duplicate" in sink.handled("participant_joined")
    item = table.get(keys.stream(stream_id))
    assert (item["viewerCount"], item["maxViewers"], item["uniqueViewers"]) == (0, 2, 2)


def test_a_recorded_stream_ended_with_save_as_reel_becomes_a_reel_through_egress_webhooks(livekit, sink):
    created = api.create_stream({"title": "Kickflips", "record": True, "tags": ["skate"]})
    stream_id, room = created["stream"]["streamId"], created["connection"]["room"]
    livekit.relay.duplicate(event="egress_ended", room=room)
    livekit.relay.reorder(event="egress_updated", room=room, times=1)

    async def scenario() -> None:
        broadcaster = await clients.connect(created["connection"]["url"], created["connection"]["token"])
        try:
            await clients.publish_synthetic_video(broadcaster)
            await until(sink, stream_id, "recording", status="live", recordingStatus="active")
            ended = await asyncio.to_thread(
                api.request, "POST", f"/streams/{stream_id}/end", user="user-alice", body={"saveAsReel": True}
            )
            assert ended.status == 200
            await until(sink, stream_id, "the recording to complete", recordingStatus="complete")
            await asyncio.to_thread(
                sink.wait_for, lambda: len(sink.handled("egress_ended")) == 2, 20, "egress_ended x2"
            )
        finally:
            await clients.disconnect(broadcaster)

    lk.run_scenario(scenario, timeout=90)
    assert sink.handled("egress_ended") == ["recording_complete", "duplicate"]
    item = table.get(keys.stream(stream_id))
    reels = table.items(keys.REEL_PK_PREFIX)
    assert [reel["reelId"] for reel in reels] == [stream_id]
    assert (reels[0]["videoUrl"], reels[0]["title"], reels[0]["tags"]) == (
        item["recordingUrl"],
        "Kickflips",
        ["skate"],
    )
    bucket, key = item["recordingUrl"].removeprefix("https://").split(".s3.amazonaws.com/")
    assert (
        boto3.client("s3", region_name="us-east-1").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    )
