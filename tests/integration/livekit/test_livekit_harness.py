"""The local LiveKit harness: the real livekit-server on loopback, real WebRTC clients, and the relay's
pass-through, simulated egress and webhook faults, observed where the product would see them."""

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import pytest
from livekit import api, rtc

from local.livekit import clients
from local.livekit.relay import EGRESS_PLACEHOLDER, LocalLiveKit, Relay
from local.livekit.server import CONFIG_PATH, listening_sockets, load_config
from tests.integration.livekit.conftest import RECORDINGS_BUCKET, WebhookSink
from tests.support.livekit import run_scenario

pytestmark = pytest.mark.livekit

Status = api.EgressStatus


def token(
    stack: LocalLiveKit, room: str, identity: str, *, ttl: timedelta = timedelta(minutes=10), **grants: Any
) -> str:
    return (
        api.AccessToken(stack.api_key, stack.api_secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(api.VideoGrants(room_join=True, room=room, **grants))
        .to_jwt()
    )


def lk_api(url: str, stack: LocalLiveKit) -> api.LiveKitAPI:
    # failover off: a 5xx must surface, not be retried against "other regions".
    return api.LiveKitAPI(url, stack.api_key, stack.api_secret, failover=False)


def room_request(name: str, **fields: Any) -> api.CreateRoomRequest:
    return api.CreateRoomRequest(name=name, empty_timeout=10, departure_timeout=1, **fields)


def recording_egress(filepath: str = "recordings/{room_name}/{time}") -> api.RoomEgress:
    output = api.EncodedFileOutput(
        file_type=api.EncodedFileType.MP4,
        filepath=filepath,
        s3=api.S3Upload(bucket=RECORDINGS_BUCKET, region="us-east-1"),
    )
    return api.RoomEgress(room=api.RoomCompositeEgressRequest(layout="speaker", file_outputs=[output]))


# ---------------------------------------------------------------- the server


def test_server_runs_the_repo_config_on_loopback_only(stack, room_name):
    server = stack.server
    repo_config = load_config(CONFIG_PATH)

    async def sockets_during_a_session() -> list[Any]:
        # Measured with media flowing: WebRTC sockets are opened per session, not only at start-up.
        room = await clients.connect(stack.url, token(stack, room_name, "broadcaster"))
        try:
            await clients.publish_synthetic_video(room)
            return listening_sockets(server.pid)
        finally:
            await clients.disconnect(room)

    sockets = run_scenario(sockets_during_a_session)

    assert server.config["bind_addresses"] == repo_config["bind_addresses"] == ["127.0.0.1"]
    assert server.config["rtc"]["tcp_port"] == 0
    assert server.config["webhook"] == {"api_key": server.api_key, "urls": [stack.relay.webhook_url]}
    assert ("tcp", "127.0.0.1", server.port) in sockets
    assert ("udp", "127.0.0.1", server.udp_port) in sockets
    assert {s.host for s in sockets} == {"127.0.0.1"}, sockets
    relay = stack.relay
    assert [s for s in listening_sockets(os.getpid()) if s.port == relay.port] == [
        ("tcp", "127.0.0.1", relay.port)
    ]


def test_publisher_sends_real_video_that_a_viewer_receives(stack, room_name):
    async def scenario() -> tuple[rtc.VideoFrame, list[api.ParticipantInfo]]:
        broadcaster = await clients.connect(stack.server.url, token(stack, room_name, "broadcaster"))
        viewer = await clients.connect(stack.server.url, token(stack, room_name, "viewer", can_publish=False))
        try:
            subscribed = asyncio.ensure_future(clients.wait_for_event(viewer, "track_subscribed"))
            publication = await clients.publish_synthetic_video(broadcaster)
            track, remote_publication, participant = await subscribed
            frame = await clients.first_video_frame(track)
            assert (remote_publication.sid, participant.identity) == (publication.sid, "broadcaster")
            async with lk_api(stack.server.url, stack) as lk:
                listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
            return frame, list(listed.participants)
        finally:
            await clients.disconnect(viewer)
            await clients.disconnect(broadcaster)

    frame, participants = run_scenario(scenario)

    assert (frame.width, frame.height) == (64, 64)
    tracks = {p.identity: [t.type for t in p.tracks] for p in participants}
    assert tracks == {"broadcaster": [api.TrackType.VIDEO], "viewer": []}


def test_server_refuses_a_publish_without_the_publish_grant(stack, room_name):
    async def scenario() -> tuple[clients.PublishRefused, api.ParticipantInfo]:
        viewer = await clients.connect(stack.server.url, token(stack, room_name, "viewer", can_publish=False))
        try:
            # An accepted publish takes tens of milliseconds; the server's refusal is ignored by the SDK.
            with pytest.raises(clients.PublishRefused) as refused:
                await clients.publish_synthetic_video(viewer, timeout=2)
            async with lk_api(stack.server.url, stack) as lk:
                info = await lk.room.get_participant(
                    api.RoomParticipantIdentity(room=room_name, identity="viewer")
                )
            return refused.value, info
        finally:
            await clients.disconnect(viewer)

    refused, info = run_scenario(scenario)

    assert "can_publish=False" in str(refused)
    assert info.permission.can_publish is False
    assert list(info.tracks) == []
    assert "no permission to publish track" in stack.server.log_path.read_text()


def test_a_token_for_another_room_lands_in_that_room_only(stack, room_name):
    async def scenario() -> tuple[str, list[str]]:
        async with lk_api(stack.server.url, stack) as lk:
            await lk.room.create_room(room_request(room_name))
            intruder = await clients.connect(stack.server.url, token(stack, f"{room_name}-other", "intruder"))
            try:
                listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
                return intruder.name, [p.identity for p in listed.participants]
            finally:
                await clients.disconnect(intruder)
                await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))

    joined, participants = run_scenario(scenario)

    assert joined == f"{room_name}-other"
    assert participants == []


def test_an_expired_token_cannot_connect(stack, room_name):
    expired = token(stack, room_name, "late", ttl=timedelta(minutes=-5))

    # Through the relay: the server's 401 on the signalling upgrade must reach the client as such.
    with pytest.raises(rtc.ConnectError, match="token is expired"):
        run_scenario(lambda: clients.connect(stack.url, expired))


# ---------------------------------------------------------------- the relay passes the real server through


def test_relay_passes_room_service_calls_through(stack, room_name, webhook_sink: WebhookSink):
    async def scenario() -> tuple[api.Room, list[str], list[str]]:
        async with lk_api(stack.url, stack) as lk:
            created = await lk.room.create_room(room_request(room_name, metadata='{"streamId": "s1"}'))
            listed = await lk.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))
            after = await lk.room.list_rooms(api.ListRoomsRequest(names=[room_name]))
        return created, [r.sid for r in listed.rooms], [r.name for r in after.rooms]

    created, listed_sids, after_delete = run_scenario(scenario)

    assert (created.name, created.metadata) == (room_name, '{"streamId": "s1"}')
    assert listed_sids == [created.sid]
    assert after_delete == []
    finished = webhook_sink.wait_for("room_finished", room_name)
    assert finished[0].event.room.sid == created.sid


def test_client_signalling_goes_through_the_relay(stack, room_name):
    async def scenario() -> tuple[str, list[str]]:
        room = await clients.connect(stack.url, token(stack, room_name, "broadcaster"))
        try:
            publication = await clients.publish_synthetic_video(room)
            async with lk_api(stack.url, stack) as lk:

                async def server_tracks() -> list[str]:
                    listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
                    return [t.sid for p in listed.participants for t in p.tracks]

                # The publish is acknowledged before the server lists the track (it waits for the media).
                return publication.sid, await clients.wait_for(server_tracks)
        finally:
            await clients.disconnect(room)

    published, server_tracks = run_scenario(scenario)

    assert server_tracks == [published]


def test_delete_room_disconnects_the_client_and_room_finished_reaches_the_target(
    stack, room_name, webhook_sink: WebhookSink
):
    async def scenario() -> Any:
        async with lk_api(stack.url, stack) as lk:
            await lk.room.create_room(room_request(room_name))
            room = await clients.connect(stack.url, token(stack, room_name, "broadcaster"))
            disconnected = asyncio.ensure_future(clients.wait_for_event(room, "disconnected"))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))
            (reason,) = await disconnected
            await clients.disconnect(room)
            return reason

    reason = run_scenario(scenario)

    assert reason == rtc.DisconnectReason.ROOM_DELETED
    webhook_sink.wait_for("room_finished", room_name)
    assert webhook_sink.names(room_name)[0] == "room_started"


def test_severed_signalling_is_a_blip_the_client_recovers_from(stack, room_name):
    async def scenario() -> tuple[int, list[str]]:
        room = await clients.connect(stack.url, token(stack, room_name, "broadcaster"))
        try:
            await clients.publish_synthetic_video(room)
            reconnected = asyncio.ensure_future(clients.wait_for_event(room, "reconnected", timeout=20))
            severed = await asyncio.to_thread(stack.relay.sever_signalling, "broadcaster")
            await reconnected
            async with lk_api(stack.url, stack) as lk:

                async def publishers() -> list[str]:
                    listed = await lk.room.list_participants(api.ListParticipantsRequest(room=room_name))
                    return [p.identity for p in listed.participants if p.tracks]

                return severed, await clients.wait_for(publishers)
        finally:
            await clients.disconnect(room)

    severed, publishers = run_scenario(scenario)

    # The SDK resumes, or rejoins (then the server sends participant_left and participant_joined).
    assert severed == 1
    assert publishers == ["broadcaster"]


def test_abruptly_dropped_client_leaves_after_the_servers_ice_timeout(stack, room_name, webhook_sink):
    async def scenario() -> float:
        async with await clients.spawn_client(stack.url, token(stack, room_name, "broadcaster")) as client:
            assert client.track_sid is not None
            await webhook_sink.await_event("track_published", room_name)
            dropped_at = time.monotonic()
            await clients.drop_abruptly(client)
            (left,) = await webhook_sink.await_event("participant_left", room_name, timeout=40)
            return left.at - dropped_at

    seconds_to_notice = run_scenario(scenario)

    # No leave was sent: only ICE timing out (10 s + 5 s in the server) ends the participant.
    assert seconds_to_notice > 10


# ---------------------------------------------------------------- simulated egress


def test_auto_egress_records_the_room_to_s3_with_signed_webhooks(stack, room_name, recordings, webhook_sink):
    async def scenario() -> tuple[api.Room, int]:
        async with lk_api(stack.url, stack) as lk:
            created = await lk.room.create_room(room_request(room_name, egress=recording_egress()))
            # As in LiveKit, the room (and its auto-egress) starts with CreateRoom, before anyone joins.
            await webhook_sink.await_event("room_started", room_name)
            await webhook_sink.await_event("egress_started", room_name)
            # CreateRoom is idempotent (retried by the product): an existing room gets no second egress.
            again = await lk.room.create_room(room_request(room_name, egress=recording_egress()))
            assert again.sid == created.sid
            room = await clients.connect(stack.url, token(stack, room_name, "broadcaster"))
            await clients.publish_synthetic_video(room)
            await webhook_sink.await_event("participant_joined", room_name)
            await webhook_sink.await_event("egress_updated", room_name)  # EGRESS_ACTIVE
            listed = await lk.egress.list_egress(api.ListEgressRequest(room_name=room_name))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))
            await clients.disconnect(room)
            return created, len(listed.items)

    created, egress_count = run_scenario(scenario)

    assert egress_count == 1

    ended = webhook_sink.wait_for("egress_ended", room_name)[0].event.egress_info
    egress_events = [r.event for r in webhook_sink.events(room_name) if r.event.event.startswith("egress_")]
    assert [(e.event, e.egress_info.status) for e in egress_events] == [
        ("egress_started", Status.EGRESS_STARTING),
        ("egress_updated", Status.EGRESS_ACTIVE),
        ("egress_updated", Status.EGRESS_ENDING),
        ("egress_ended", Status.EGRESS_COMPLETE),
    ]
    assert len({e.id for e in egress_events}) == 4
    assert ended.egress_id.startswith("EG_")
    assert (ended.room_id, ended.room_name) == (created.sid, room_name)
    assert 0 < ended.started_at < ended.ended_at
    (result,) = ended.file_results
    assert result.filename.startswith(f"recordings/{room_name}/")
    assert result.filename.endswith(".mp4")
    assert result.location == f"https://{RECORDINGS_BUCKET}.s3.amazonaws.com/{result.filename}"
    assert result.duration == result.ended_at - result.started_at > 0
    stored = recordings.get_object(Bucket=RECORDINGS_BUCKET, Key=result.filename)
    assert stored["Body"].read().decode().startswith(EGRESS_PLACEHOLDER)
    assert stored["ContentLength"] == result.size
    assert stored["Metadata"]["placeholder"] == "true"
    # The server never saw the egress request (it would have refused CreateRoom without an egress worker).
    assert "egress not connected" not in stack.server.log_path.read_text()


def test_egress_api_start_stop_list_and_an_injected_failure(stack, room_name, recordings, webhook_sink):
    stack.relay.fail_next_egress("disk full (injected)")

    async def scenario() -> tuple[api.EgressInfo, api.EgressInfo, list[str]]:
        async with lk_api(stack.url, stack) as lk:
            await lk.room.create_room(room_request(room_name))
            request = recording_egress().room
            request.room_name = room_name
            started = await lk.egress.start_room_composite_egress(request)
            await webhook_sink.await_event("egress_updated", room_name)  # EGRESS_ACTIVE
            stopped = await lk.egress.stop_egress(api.StopEgressRequest(egress_id=started.egress_id))
            await webhook_sink.await_event("egress_ended", room_name)
            listed = await lk.egress.list_egress(api.ListEgressRequest(room_name=room_name))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))
            return started, stopped, [Status.Name(i.status) for i in listed.items]

    started, stopped, listed = run_scenario(scenario)

    assert (started.status, stopped.status) == (Status.EGRESS_STARTING, Status.EGRESS_ENDING)
    assert listed == ["EGRESS_FAILED"]
    ended = webhook_sink.events(room_name, "egress_ended")[0].event.egress_info
    assert (ended.status, ended.error) == (Status.EGRESS_FAILED, "disk full (injected)")
    assert list(ended.file_results) == []
    assert recordings.list_objects_v2(Bucket=RECORDINGS_BUCKET).get("KeyCount") == 0


def test_egress_api_authorises_like_the_server_and_speaks_twirp_json(stack, room_name):
    def post(method: str, body: bytes, bearer: str | None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            f"{stack.http_url}/twirp/livekit.Egress/{method}",
            data=body,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {bearer}"} if bearer else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    recorder = api.AccessToken(stack.api_key, stack.api_secret).with_grants(api.VideoGrants(room_record=True))
    admin_only = api.AccessToken(stack.api_key, stack.api_secret).with_grants(
        api.VideoGrants(room_admin=True)
    )
    forged = api.AccessToken(stack.api_key, "not-the-secret-but-long-enough-to-sign").with_grants(
        api.VideoGrants(room_record=True)
    )

    assert post("ListEgress", b'{"room_name": "nobody"}', recorder.to_jwt()) == (200, b'{"items": []}')
    for bearer in (None, admin_only.to_jwt(), forged.to_jwt()):
        status, body = post("ListEgress", b"{}", bearer)
        assert (status, json_code(body)) == (401, "unauthenticated")
    status, body = post(
        "StartRoomCompositeEgress", b'{"room_name": "%s"}' % room_name.encode(), recorder.to_jwt()
    )
    assert (status, json_code(body)) == (400, "invalid_argument")  # no file output


def json_code(body: bytes) -> str:
    return json.loads(body)["code"]


# ---------------------------------------------------------------- webhook faults, seen at the target


def create_and_delete(stack: LocalLiveKit, room_name: str) -> None:
    async def scenario() -> None:
        async with lk_api(stack.url, stack) as lk:
            await lk.room.create_room(room_request(room_name))
            await lk.room.delete_room(api.DeleteRoomRequest(room=room_name))

    run_scenario(scenario)


def test_dropped_webhook_never_reaches_the_target(stack, room_name, webhook_sink):
    stack.relay.drop(event="room_started", room=room_name)

    create_and_delete(stack, room_name)

    # The server queues a room's webhooks in order: once room_finished is in, room_started was handled.
    webhook_sink.wait_for("room_finished", room_name)
    assert webhook_sink.names(room_name) == ["room_finished"]
    assert [r.action for r in stack.relay.webhooks("room_started", room_name)] == ["dropped"]


def test_duplicated_webhook_arrives_twice_with_the_same_id(stack, room_name, webhook_sink):
    stack.relay.duplicate(event="room_started", room=room_name)

    create_and_delete(stack, room_name)

    webhook_sink.wait_for("room_finished", room_name)
    first, second = webhook_sink.events(room_name, "room_started")
    assert (first.event.id, first.body) == (second.event.id, second.body)
    assert webhook_sink.names(room_name) == ["room_started", "room_started", "room_finished"]


def test_reordered_webhook_arrives_after_the_rooms_next_event(stack, room_name, webhook_sink):
    stack.relay.reorder(event="room_started", room=room_name)

    create_and_delete(stack, room_name)

    webhook_sink.wait_for("room_started", room_name)
    assert webhook_sink.names(room_name) == ["room_finished", "room_started"]


def test_delayed_webhook_arrives_late_and_holds_back_the_rooms_queue(stack, room_name, webhook_sink):
    stack.relay.delay(600, event="room_started", room=room_name)
    before = time.monotonic()

    create_and_delete(stack, room_name)

    finished = webhook_sink.wait_for("room_finished", room_name)[0]
    (started,) = webhook_sink.events(room_name, "room_started")
    assert started.at - before >= 0.6
    # LiveKit sends a room's webhooks one at a time, so the delay pushes the next one back too.
    assert finished.at > started.at


def test_rejected_webhook_is_retried_by_livekit_itself(stack, room_name, webhook_sink):
    stack.relay.reject(503, event="room_started", room=room_name)

    create_and_delete(stack, room_name)

    webhook_sink.wait_for("room_finished", room_name)
    assert webhook_sink.names(room_name) == ["room_started", "room_finished"]
    assert [r.action for r in stack.relay.webhooks("room_started", room_name)] == ["rejected", "delivered"]


def test_faults_are_set_through_the_admin_api(stack, room_name, webhook_sink):
    rule = json.dumps({"action": "drop", "event": "room_finished", "room": room_name}).encode()
    request = urllib.request.Request(
        f"{stack.http_url}/_relay/faults", data=rule, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201

    create_and_delete(stack, room_name)

    stack.relay.wait_for_webhook("room_finished", room_name, action="dropped")
    with urllib.request.urlopen(f"{stack.http_url}/_relay/webhooks?room={room_name}", timeout=5) as response:
        records = json.loads(response.read())["webhooks"]
    assert [(r["event"], r["action"]) for r in records] == [
        ("room_started", "delivered"),
        ("room_finished", "dropped"),
    ]
    assert webhook_sink.names(room_name) == ["room_started"]


def test_probabilistic_faults_repeat_with_the_same_seed():
    def drops(seed: int) -> list[bool]:
        relay = Relay(seed=seed)
        relay.drop(times=None, probability=0.5)
        event = type("Event", (), {"name": "room_started", "room": "r", "event_id": "EV_1"})()
        return [relay._take_fault(event) is not None for _ in range(20)]  # type: ignore[arg-type]

    assert drops(7) == drops(7)
    assert drops(7) != drops(8)
    assert 0 < sum(drops(7)) < 20


def test_relay_runs_as_a_command():
    result = subprocess.run(
        [sys.executable, "-m", "local.livekit.relay", "--help"], capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0
    assert "--webhook-target" in result.stdout
    assert "--upstream" in result.stdout
