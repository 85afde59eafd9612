"""GET /streams?status=live and GET /users/{userId}/streams: pages, order, cursors, bad input."""

import base64
import json

import pytest

from reels_live.store import keys
from tests.support import api
from tests.support import webhooks as wh

S = 1000


def deliver_broadcaster_joined(stream, at: int) -> None:
    """The participant_joined webhook of the stream's broadcaster, which makes it live."""
    broadcaster = wh.participant(stream.author_id, f"PA_{stream.stream_id[-6:]}", joined_at_ms=at)
    wh.deliver(wh.event("participant_joined", at_ms=at, stream=stream, participant=broadcaster))


@pytest.fixture
def live_streams(aws_backend, frozen_clock):
    """25 live streams by 25 creators, spread over the shards, started a second apart (some sensitive)."""
    t0 = frozen_clock.now_ms
    streams = []
    for n in range(25):
        frozen_clock.advance(ms=1)  # ids sort by creation
        stream = wh.seed_stream(f"user-{n:02d}", created_at=t0, is_sensitive=n % 5 == 0)
        deliver_broadcaster_joined(stream, t0 + (n + 1) * S)
        streams.append(stream)
    return streams


def pages(path: str, limit: int, user: str = "user-viewer") -> list[list[dict]]:
    found, cursor = [], None
    while True:
        query = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        if path == "/streams":
            query = "status=live&" + query
        response = api.request("GET", path, user=user, query=query)
        assert response.status == 200, response.body
        found.append(response.body["items"])
        cursor = response.body.get("nextCursor")
        if cursor is None:
            return found
        assert len(found) < 20, "the cursor never ended"


def test_live_streams_come_newest_first_across_shards_one_page_at_a_time(live_streams):
    assert len({keys.status_shard(stream.stream_id) for stream in live_streams}) > 4

    listed = pages("/streams", limit=10)

    assert [len(page) for page in listed] == [10, 10, 5]
    ids = [item["streamId"] for page in listed for item in page]
    assert ids == [stream.stream_id for stream in reversed(live_streams)]
    started = [item["startedAt"] for page in listed for item in page]
    assert started == sorted(started, reverse=True)


def test_sensitive_live_streams_are_flagged_so_the_app_can_blur_them(live_streams):
    items = pages("/streams", limit=50)[0]

    flagged = {item["streamId"] for item in items if item["isSensitive"]}
    assert flagged == {stream.stream_id for n, stream in enumerate(live_streams) if n % 5 == 0}
    assert all(item["status"] == "live" for item in items)


def test_preparing_and_ended_streams_are_not_listed_as_live(live_streams, frozen_clock):
    preparing = wh.seed_stream("user-waiting", created_at=frozen_clock.now_ms)
    ended = live_streams[-1]
    wh.deliver(wh.event("room_finished", at_ms=frozen_clock.now_ms + 60 * S, stream=ended))

    ids = [item["streamId"] for item in pages("/streams", limit=50)[0]]

    assert preparing.stream_id not in ids
    assert ended.stream_id not in ids
    assert len(ids) == 24


def test_with_nothing_live_the_list_is_empty_and_has_no_cursor(aws_backend):
    response = api.request("GET", "/streams", query="status=live")

    assert response.status == 200
    assert response.body == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=ended", "status"),
        ("status=live&limit=0", "limit"),
        ("status=live&limit=51", "limit"),
        ("status=live&limit=ten", "limit"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_field(aws_backend, query, field):
    response = api.request("GET", "/streams", query=query)

    assert response.status == 422
    assert response.body["error"]["field"] == field


def forged_cursor(data) -> str:
    """A cursor made by hand (base64url JSON, as the list makes them) from whatever data a test gives."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor!", id="not-base64"),
        pytest.param(forged_cursor([1, 2]), id="not-an-object"),
        pytest.param(forged_cursor({"p": {}, "x": [], "extra": 1}), id="extra-key"),
        pytest.param(
            forged_cursor(
                {"p": {"9": keys.status_sort_key("01JDQ3Z8G7N2V4K6M8P0R2T4W6", 1_795_600_000_000)}, "x": []}
            ),
            id="no-such-shard",
        ),
        pytest.param(
            forged_cursor({"p": {"0": keys.status_partition(keys.LIVE, 0)}, "x": []}), id="not-a-position"
        ),
        pytest.param(forged_cursor({"p": {}, "x": [12]}), id="bad-exhausted-shard"),
    ],
)
def test_a_tampered_live_cursor_is_422_on_the_cursor(aws_backend, cursor):
    response = api.request("GET", "/streams", query=f"status=live&cursor={cursor}")

    assert response.status == 422
    assert response.body["error"]["code"] == "invalid_cursor"
    assert response.body["error"]["field"] == "cursor"


# ---------------------------------------------------------------- a creator's streams


@pytest.fixture
def creators_streams(aws_backend, frozen_clock):
    """Seven streams by one creator (each ended before the next starts), newest last."""
    made = []
    for n in range(7):
        frozen_clock.advance(seconds=60)
        stream = wh.seed_stream("user-alice", created_at=frozen_clock.now_ms, title=f"Session {n}")
        wh.deliver(wh.event("room_finished", at_ms=frozen_clock.now_ms + S, stream=stream))
        made.append(stream)
    wh.seed_stream("user-bob", created_at=frozen_clock.now_ms)
    return made


def test_a_creators_streams_come_newest_first_one_page_at_a_time(creators_streams):
    listed = pages("/users/user-alice/streams", limit=3)

    assert [len(page) for page in listed] == [3, 3, 1]
    assert [item["streamId"] for page in listed for item in page] == [
        stream.stream_id for stream in reversed(creators_streams)
    ]
    assert all(item["authorId"] == "user-alice" for page in listed for item in page)


def test_a_creators_list_holds_their_streams_only(creators_streams):
    items = pages("/users/user-bob/streams", limit=10)[0]

    assert [item["authorId"] for item in items] == ["user-bob"]


def test_a_cursor_from_another_creators_list_is_422(creators_streams):
    cursor = api.request("GET", "/users/user-alice/streams", query="limit=1").body["nextCursor"]

    response = api.request("GET", "/users/user-bob/streams", query=f"cursor={cursor}")

    assert response.status == 422
    assert response.body["error"]["field"] == "cursor"


def test_a_garbled_creator_cursor_is_422(aws_backend):
    response = api.request("GET", "/users/user-alice/streams", query="cursor=%%%")

    assert response.status == 422
    assert response.body["error"]["field"] == "cursor"
