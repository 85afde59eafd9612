"""POST /streams through the handler, against moto and the real livekit-server (behind the relay)."""

import json

import pytest

from reels_live.store import keys
from tests.support import api, stack
from tests.support import aws as table
from tests.support import livekit as lk

BODY = {
    "title": "Morning skate",
    "description": "New bowl",
    "tags": ["Skate", "skate", "BMX"],
    "record": False,
}
GATED = {
    "title": "Members only",
    "isGated": True,
    "priceToken": "USDC",
    "priceAmount": "4.99",
    "sellerAddress": "0xSeller",
}


def create(body: dict | None = None, *, user: str = "user-alice", key: str | None = None) -> api.ApiResponse:
    headers = {"idempotency-key": key} if key else None
    return api.request("POST", "/streams", user=user, body=body or BODY, headers=headers)


def stream_items() -> list[dict]:
    return [item for item in table.items(keys.STREAM_PK_PREFIX) if item["SK"] == keys.STREAM_SK]


pytestmark = pytest.mark.usefixtures("livekit")


def test_creator_starts_a_preparing_stream_with_a_publish_token(livekit, frozen_clock):
    response = create()

    assert response.status == 201
    stream, connection = response.body["stream"], response.body["connection"]
    assert stream["status"] == "preparing"
    assert stream["authorId"] == "user-alice"
    assert stream["title"] == "Morning skate"
    assert stream["tags"] == ["skate", "bmx"]
    assert stream["viewerCount"] == stream["maxViewers"] == stream["uniqueViewers"] == 0
    assert stream["createdAt"] == frozen_clock.now_ms
    assert stream["price"] is None
    assert connection["url"] == livekit.url
    assert connection["room"] == f"stream_{stream['streamId']}"
    assert connection["role"] == "broadcaster"

    grants = lk.claims(connection["token"])
    assert grants["sub"] == "user-alice"
    assert grants["video"]["room"] == connection["room"]
    assert grants["video"]["roomJoin"] is True
    assert grants["video"]["canPublish"] is True
    assert grants["video"]["canSubscribe"] is True
    assert grants["video"]["canPublishData"] is True
    assert grants["exp"] - grants["nbf"] == 3600

    item = table.get(keys.stream(stream["streamId"]))
    assert item["status"] == "preparing"
    assert item["authorId"] == "user-alice"
    assert item["GSI1PK"] == keys.author_partition("user-alice")
    assert item["GSI2PK"].startswith(keys.status_partition_prefix(keys.PREPARING))
    broadcaster = table.get(keys.participant(stream["streamId"], "user-alice"))
    assert broadcaster["role"] == "broadcaster"
    assert broadcaster["joinedAt"] == frozen_clock.now_ms
    assert table.get(keys.active_stream_lock("user-alice"))["streamId"] == stream["streamId"]


def test_room_is_made_with_timeouts_capacity_and_stream_metadata(livekit):
    stream_id = create().body["stream"]["streamId"]

    [room] = lk.rooms(livekit.url, livekit.api_key, livekit.api_secret, [f"stream_{stream_id}"])
    assert json.loads(room.metadata) == {"streamId": stream_id}
    assert room.empty_timeout == 300
    assert room.departure_timeout == 60
    assert room.max_participants == 1000


def test_recorded_stream_asks_for_room_composite_egress_through_the_role(livekit):
    stream_id = create({**BODY, "record": True}).body["stream"]["streamId"]

    egress = livekit.relay.auto_egress(f"stream_{stream_id}")
    assert egress is not None
    [output] = egress.room.file_outputs
    local = stack.current()
    assert output.s3.bucket == local.refs["RecordingsBucket"]
    assert output.s3.assume_role_arn == local.attributes["EgressRole"]["Arn"]
    # The external id is the stack's own id, as the role's trust policy demands.
    assert output.s3.assume_role_external_id == local.pseudo["AWS::StackId"].rsplit("/", 1)[1]
    assert not output.s3.access_key
    assert not output.s3.secret
    assert output.filepath.startswith(f"recordings/{stream_id}/")
    assert table.get(keys.stream(stream_id))["recordingStatus"] == "pending"


def test_gated_stream_shows_its_price(livekit):
    response = create(GATED)

    assert response.status == 201
    assert response.body["stream"]["isGated"] is True
    assert response.body["stream"]["price"] == {
        "amount": "4.99",
        "token": "USDC",
        "sellerAddress": "0xSeller",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 101}, "title"),
        ({"title": "ok", "description": "d" * 2001}, "description"),
        ({"title": "ok", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"title": "ok", "isGated": True}, "priceToken"),
        ({**GATED, "priceAmount": 0}, "priceAmount"),
        ({"title": "ok", "priceAmount": 3}, "priceAmount"),
        ({"title": "ok", "status": "live"}, "status"),
        ({"title": "ok", "recordingUrl": "https://evil.example/x.mp4"}, "recordingUrl"),
        ({"title": "ok", "authorId": "user-bob"}, "authorId"),
        ({"description": "no title"}, "title"),
    ],
)
def test_invalid_body_is_422_naming_the_field_and_writes_nothing(livekit, body, field):
    response = create(body)

    assert response.status == 422
    assert response.body["error"]["code"] == "validation_error"
    assert response.body["error"]["field"] == field
    assert field in response.body["error"]["message"]
    assert table.items() == []
    assert lk.rooms(livekit.url, livekit.api_key, livekit.api_secret) == []


@pytest.mark.parametrize("raw", ["{not json", "[]", '"title"', ""])
def test_body_that_is_not_a_json_object_is_422(livekit, raw):
    response = api.request("POST", "/streams", raw_body=raw)

    assert response.status == 422
    assert response.body["error"]["code"] == "validation_error"
    assert table.items() == []


def test_second_active_stream_is_409_naming_the_first(livekit):
    first = create().body["stream"]["streamId"]

    response = create({"title": "Another"})

    assert response.status == 409
    assert response.body["error"]["code"] == "active_stream_exists"
    assert response.body["error"]["streamId"] == first
    assert [item["streamId"] for item in stream_items()] == [first]


def test_ending_the_stream_frees_the_creator_to_start_another(livekit):
    first = create().body["stream"]["streamId"]
    assert api.request("POST", f"/streams/{first}/end").status == 200

    assert create({"title": "Round two"}).status == 201


def test_other_creators_are_not_blocked_by_alices_stream(livekit):
    create()

    assert create(user="user-bob").status == 201


def test_eleventh_stream_in_an_hour_is_429_with_retry_after(livekit, frozen_clock):
    frozen_clock.now_ms = frozen_clock.now_ms - frozen_clock.now_ms % 3_600_000 + 3_000_000  # 50 min in
    for _ in range(10):
        stream_id = create().body["stream"]["streamId"]
        api.request("POST", f"/streams/{stream_id}/end")

    limited = create()

    assert limited.status == 429
    assert limited.body["error"]["code"] == "rate_limited"
    assert limited.headers["retry-after"] == "600"
    assert len(stream_items()) == 10
    frozen_clock.advance(seconds=600)
    assert create().status == 201


def test_retry_with_the_same_idempotency_key_returns_the_first_answer(livekit):
    first = create(key="k-1")
    again = create(key="k-1")

    assert first.status == again.status == 201
    assert again.body == first.body
    assert len(stream_items()) == 1


def test_same_idempotency_key_with_another_body_is_rejected(livekit):
    create(key="k-1")

    response = create({"title": "Different"}, key="k-1")

    assert response.status == 422
    assert response.body["error"]["code"] == "idempotency_key_reused"
    assert response.body["error"]["field"] == "Idempotency-Key"
    assert len(stream_items()) == 1


def test_idempotency_keys_are_scoped_to_the_caller(livekit):
    alice = create(key="shared-key")
    bob = create(user="user-bob", key="shared-key")

    assert bob.status == 201
    assert bob.body["stream"]["authorId"] == "user-bob"
    assert bob.body["stream"]["streamId"] != alice.body["stream"]["streamId"]


def test_invalid_idempotency_key_is_422_naming_the_header(livekit):
    response = create(key="has spaces")

    assert response.status == 422
    assert response.body["error"]["field"] == "idempotency-key"
    assert table.items() == []


def test_livekit_failures_are_retried_until_the_room_is_made(livekit):
    livekit.relay.fail_api("RoomService/CreateRoom", times=2, status=503)

    response = create()

    assert response.status == 201
    assert livekit.relay.api_calls("RoomService/CreateRoom") == 3


def test_livekit_down_is_503_and_leaves_nothing_behind(livekit):
    livekit.relay.fail_api("RoomService/CreateRoom", times=3, status=503)

    response = create(key="retry-me")

    assert response.status == 503
    assert response.body["error"]["code"] == "livekit_unavailable"
    assert response.headers["retry-after"]
    assert livekit.relay.api_calls("RoomService/CreateRoom") == 3
    assert stream_items() == []
    assert table.get(keys.active_stream_lock("user-alice")) is None
    # The failed attempt was not stored: the same key succeeds once LiveKit is back.
    assert create(key="retry-me").status == 201


def test_failed_attempts_do_not_use_up_the_hourly_quota(livekit):
    for _ in range(12):
        livekit.relay.fail_api("RoomService/CreateRoom", times=3, status=503)
        assert create().status == 503

    assert create().status == 201


def test_livekit_rejection_is_not_retried(livekit):
    livekit.relay.fail_api("RoomService/CreateRoom", times=1, status=400)

    assert create().status == 503
    assert livekit.relay.api_calls("RoomService/CreateRoom") == 1
