"""GET, join and end through the handlers, against moto and the real livekit-server."""

import pytest

from reels_live.store import keys
from tests.support import api
from tests.support import aws as table
from tests.support import livekit as lk

GATED = {
    "title": "Members only",
    "isGated": True,
    "priceToken": "USDC",
    "priceAmount": "4.99",
    "sellerAddress": "0xSeller",
}

pytestmark = pytest.mark.usefixtures("livekit")


def start(body: dict | None = None, user: str = "user-alice") -> str:
    return api.create_stream(body, user=user)["stream"]["streamId"]


def mark_live_in_table(stream_id: str, started_at: int) -> None:
    """Status live and startedAt, as the webhook writes them when the broadcaster arrives (tested there)."""
    table.update(
        keys.stream(stream_id),
        UpdateExpression="SET #s = :live, startedAt = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":live": {"S": "live"}, ":t": {"N": str(started_at)}},
    )


def grant_access(user: str, stream_id: str) -> None:
    """Entitlements are sold by a later issue; here the item is written as that issue will."""
    table.put({**keys.entitlement(user, stream_id), "entity": "entitlement"})


# ---------------------------------------------------------------- GET


def test_anyone_reads_a_stream(frozen_clock):
    stream_id = start()

    response = api.request("GET", f"/streams/{stream_id}", user="user-bob")

    assert response.status == 200
    assert response.body["streamId"] == stream_id
    assert response.body["status"] == "preparing"
    assert response.body["authorId"] == "user-alice"
    assert response.body["recordingStatus"] == "none"
    assert "roomName" not in response.body


def test_unknown_stream_is_404():
    response = api.request("GET", "/streams/01JDQ3Z8G7N2V4K6M8P0R2T4W6")

    assert response.status == 404
    assert response.body["error"]["code"] == "stream_not_found"


# ---------------------------------------------------------------- join


def test_viewer_gets_a_token_that_cannot_publish(frozen_clock):
    stream_id = start()

    response = api.request("POST", f"/streams/{stream_id}/join", user="user-bob")

    assert response.status == 200
    connection = response.body["connection"]
    assert connection["role"] == "viewer"
    grants = lk.claims(connection["token"])
    assert grants["sub"] == "user-bob"
    assert grants["video"]["room"] == f"stream_{stream_id}"
    # Explicitly false: LiveKit's default would let a viewer publish.
    assert grants["video"]["canPublish"] is False
    assert grants["video"]["canSubscribe"] is True
    assert grants["video"]["canPublishData"] is True
    assert grants["exp"] - grants["nbf"] == 600
    viewer = table.get(keys.participant(stream_id, "user-bob"))
    assert viewer["role"] == "viewer"
    assert viewer["joinedAt"] == viewer["lastAdmittedAt"] == frozen_clock.now_ms


def test_joining_again_keeps_first_admission_and_moves_the_last(frozen_clock):
    stream_id = start()
    first_at = frozen_clock.now_ms
    api.request("POST", f"/streams/{stream_id}/join", user="user-bob")
    frozen_clock.advance(seconds=90)

    assert api.request("POST", f"/streams/{stream_id}/join", user="user-bob").status == 200

    viewer = table.get(keys.participant(stream_id, "user-bob"))
    assert viewer["joinedAt"] == first_at
    assert viewer["lastAdmittedAt"] == first_at + 90_000
    partition = table.items(keys.stream_partition(stream_id))
    assert len([i for i in partition if i["SK"].startswith(keys.PARTICIPANT_PREFIX)]) == 2


def test_creator_joining_gets_a_broadcaster_token_again():
    stream_id = start()

    response = api.request("POST", f"/streams/{stream_id}/join", user="user-alice")

    assert response.body["connection"]["role"] == "broadcaster"
    assert lk.claims(response.body["connection"]["token"])["video"]["canPublish"] is True
    assert table.get(keys.participant(stream_id, "user-alice"))["role"] == "broadcaster"


def test_joining_an_unknown_stream_is_404():
    response = api.request("POST", "/streams/01JDQ3Z8G7N2V4K6M8P0R2T4W6/join", user="user-bob")

    assert response.status == 404
    assert table.items() == []


def test_joining_an_ended_stream_is_410():
    stream_id = start()
    api.request("POST", f"/streams/{stream_id}/end")

    response = api.request("POST", f"/streams/{stream_id}/join", user="user-bob")

    assert response.status == 410
    assert response.body["error"]["code"] == "stream_ended"
    assert table.get(keys.participant(stream_id, "user-bob")) is None


def test_gated_stream_without_access_is_402_with_the_price():
    stream_id = start(GATED)

    response = api.request("POST", f"/streams/{stream_id}/join", user="user-bob")

    assert response.status == 402
    assert response.body["error"]["code"] == "payment_required"
    assert response.body["error"]["price"] == {"amount": "4.99", "token": "USDC", "sellerAddress": "0xSeller"}
    assert table.get(keys.participant(stream_id, "user-bob")) is None


def test_gated_stream_admits_a_viewer_with_access_and_its_creator():
    stream_id = start(GATED)
    grant_access("user-bob", stream_id)

    assert api.request("POST", f"/streams/{stream_id}/join", user="user-bob").status == 200
    assert api.request("POST", f"/streams/{stream_id}/join", user="user-alice").status == 200


# ---------------------------------------------------------------- end


def test_creator_ends_a_live_stream(livekit, frozen_clock):
    stream_id = start()
    mark_live_in_table(stream_id, frozen_clock.now_ms)
    frozen_clock.advance(seconds=754)

    response = api.request("POST", f"/streams/{stream_id}/end", body={"saveAsReel": True})

    assert response.status == 200
    assert response.body["status"] == "ended"
    assert response.body["endedAt"] == frozen_clock.now_ms
    assert response.body["durationMs"] == 754_000
    item = table.get(keys.stream(stream_id))
    assert item["status"] == "ended"
    assert item["saveAsReel"] is True
    assert item["durationMs"] == 754_000
    # Watched (SETTLING) until LiveKit confirms the room is gone and sessions and recording are settled.
    assert item["GSI2PK"].startswith(keys.status_partition_prefix(keys.SETTLING))
    assert table.get(keys.active_stream_lock("user-alice")) is None
    assert lk.rooms(livekit.url, livekit.api_key, livekit.api_secret, [f"stream_{stream_id}"]) == []


def test_ending_a_stream_that_never_went_live_has_zero_duration(frozen_clock):
    stream_id = start()
    frozen_clock.advance(seconds=30)

    response = api.request("POST", f"/streams/{stream_id}/end")

    assert response.status == 200
    assert response.body["durationMs"] == 0
    assert response.body["startedAt"] is None


def test_repeated_end_answers_the_ended_stream_unchanged(frozen_clock):
    stream_id = start()
    first = api.request("POST", f"/streams/{stream_id}/end")
    frozen_clock.advance(seconds=60)

    again = api.request("POST", f"/streams/{stream_id}/end", body={"saveAsReel": True})

    assert again.status == 200
    assert again.body == first.body
    assert table.get(keys.stream(stream_id))["saveAsReel"] is False


def test_viewer_cannot_end_someone_elses_stream():
    stream_id = start()

    response = api.request("POST", f"/streams/{stream_id}/end", user="user-bob")

    assert response.status == 403
    assert response.body["error"]["code"] == "not_stream_owner"
    assert table.get(keys.stream(stream_id))["status"] == "preparing"


def test_ending_an_unknown_stream_is_404():
    assert api.request("POST", "/streams/01JDQ3Z8G7N2V4K6M8P0R2T4W6/end").status == 404


def test_end_with_a_bad_body_is_422_and_changes_nothing():
    stream_id = start()

    response = api.request("POST", f"/streams/{stream_id}/end", body={"saveAsReel": "yes"})

    assert response.status == 422
    assert response.body["error"]["field"] == "saveAsReel"
    assert table.get(keys.stream(stream_id))["status"] == "preparing"


def test_livekit_down_at_end_still_ends_the_stream_in_the_table(livekit):
    stream_id = start()
    livekit.relay.fail_api("RoomService/DeleteRoom", times=3, status=503)

    response = api.request("POST", f"/streams/{stream_id}/end")

    assert response.status == 200
    assert response.body["status"] == "ended"
    assert table.get(keys.stream(stream_id))["status"] == "ended"
    assert livekit.relay.api_calls("RoomService/DeleteRoom") == 3
