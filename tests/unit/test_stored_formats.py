"""Golden formats: every table key, page cursor, unsubscribe token and queue message, pinned as literals.

Items in the table, cursors in clients' hands, links in sent emails and messages in queues all outlive a
deploy, so changing one of these formats is a migration on live data, never a refactor. Every literal here
is what the code at `main` produced before the package was reorganised (by concern); the keys added since
spell the same strings. A failure means a format changed: write the migration, or put the format back.
"""

import inspect

import pytest

from reels_live.integrations import secrets
from reels_live.notifications import unsubscribe
from reels_live.notifications.messages import GoLiveMessage, NotificationChunk
from reels_live.store import cursors, keys
from reels_live.streams.listings import _decode_live_cursor, _encode_live_cursor

STREAM = "01JDQ3Z8G7N2V4K6M8P0R2T4W6"
OTHER = "01JDQ40000000000000000000A"
SINCE = 1_795_600_000_000

# (function, arguments, exactly what it returns). Each public function of keys.py has at least one line.
KEYS = [
    (keys.stream, (STREAM,), {"PK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6", "SK": "STREAM"}),
    (
        keys.participant,
        (STREAM, "user-bob"),
        {"PK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6", "SK": "PARTICIPANT#user-bob"},
    ),
    (keys.active_stream_lock, ("user-alice",), {"PK": "USER#user-alice", "SK": "ACTIVE_STREAM"}),
    (
        keys.create_quota,
        ("user-alice", 1_795_599_600_000),
        {"PK": "USER#user-alice", "SK": "QUOTA#CREATE_STREAM#1795599600000"},
    ),
    (
        keys.entitlement,
        ("user-bob", STREAM),
        {"PK": "USER#user-bob", "SK": "ENTITLEMENT#01JDQ3Z8G7N2V4K6M8P0R2T4W6"},
    ),
    (
        keys.author_streams,
        ("user-alice", STREAM),
        {"GSI1PK": "AUTHOR#user-alice", "GSI1SK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6"},
    ),
    (keys.status_shard, (STREAM,), 2),
    (keys.status_shard, (OTHER,), 5),
    (keys.status_shard, ("01JDQ50000000000000000000B",), 1),
    (keys.status_shard, ("x",), 3),
    (
        keys.status_index,
        ("live", STREAM, SINCE),
        {"GSI2PK": "LIVE#2", "GSI2SK": "1795600000000#01JDQ3Z8G7N2V4K6M8P0R2T4W6"},
    ),
    (
        keys.status_index,
        ("preparing", OTHER, 42),
        {"GSI2PK": "PREPARING#5", "GSI2SK": "0000000000042#01JDQ40000000000000000000A"},
    ),
    (keys.idempotency_partition, ("CreateStreamFunction",), "IDEMPOTENCY#CreateStreamFunction"),
    (keys.user_partition, ("user-alice",), "USER#user-alice"),
    (keys.profile, ("user-alice",), {"PK": "USER#user-alice", "SK": "PROFILE"}),
    (keys.preferences, ("user-bob",), {"PK": "USER#user-bob", "SK": "PREFERENCES"}),
    (keys.devices, ("user-bob",), {"PK": "USER#user-bob", "SK": "DEVICES"}),
    (keys.push_token, ("9f86d081884c7d65",), {"PK": "PUSH_TOKEN#9f86d081884c7d65", "SK": "PUSH_TOKEN"}),
    (keys.follow, ("user-bob", "user-alice"), {"PK": "USER#user-bob", "SK": "FOLLOWS#user-alice"}),
    (
        keys.followers_index,
        ("user-alice", SINCE, "user-bob"),
        {"GSI1PK": "FOLLOWERS#user-alice", "GSI1SK": "1795600000000#user-bob"},
    ),
    (keys.followers_partition, ("user-alice",), "FOLLOWERS#user-alice"),
    (
        keys.inbox,
        ("user-bob", STREAM),
        {"PK": "USER#user-bob", "SK": "INBOX#01JDQ3Z8G7N2V4K6M8P0R2T4W6"},
    ),
    (keys.alert, ("user-bob", "user-alice"), {"PK": "USER#user-bob", "SK": "ALERT#user-alice"}),
    (keys.announcement, (STREAM,), {"PK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6", "SK": "ANNOUNCEMENT"}),
    (keys.stream_partition, (STREAM,), "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6"),
    (
        keys.session,
        (STREAM, "PA_alice"),
        {"PK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6", "SK": "SESSION#PA_alice"},
    ),
    (keys.webhook_event, ("EV_abc123",), {"PK": "WEBHOOK_EVENT#EV_abc123", "SK": "WEBHOOK_EVENT"}),
    (keys.reel, (STREAM,), {"PK": "REEL#01JDQ3Z8G7N2V4K6M8P0R2T4W6", "SK": "REEL"}),
    (
        keys.author_reels,
        ("user-alice", STREAM),
        {"GSI1PK": "AUTHOR#user-alice", "GSI1SK": "REEL#01JDQ3Z8G7N2V4K6M8P0R2T4W6"},
    ),
    (keys.author_partition, ("user-alice",), "AUTHOR#user-alice"),
    (keys.status_partition, ("SETTLING", 3), "SETTLING#3"),
    (keys.status_sort_key, (STREAM, SINCE), "1795600000000#01JDQ3Z8G7N2V4K6M8P0R2T4W6"),
    (keys.status_sort_key, (STREAM, 7), "0000000000007#01JDQ3Z8G7N2V4K6M8P0R2T4W6"),
    (
        keys.stream_id_of_status_key,
        ("1795600000000#01JDQ3Z8G7N2V4K6M8P0R2T4W6",),
        ("01JDQ3Z8G7N2V4K6M8P0R2T4W6", 1_795_600_000_000),
    ),
    (keys.status_partition_prefix, ("LIVE",), "LIVE#"),
]

CONSTANTS = {
    "ACTIVE_STREAM_SK": "ACTIVE_STREAM",
    "ALERT_PREFIX": "ALERT#",
    "ANNOUNCEMENT_SK": "ANNOUNCEMENT",
    "DEVICES_SK": "DEVICES",
    "ENTITY": "entity",
    "FOLLOWERS_PREFIX": "FOLLOWERS#",
    "FOLLOWS_PREFIX": "FOLLOWS#",
    "GSI1": "GSI1",
    "GSI1PK": "GSI1PK",
    "GSI1SK": "GSI1SK",
    "GSI2": "GSI2",
    "GSI2PK": "GSI2PK",
    "GSI2SK": "GSI2SK",
    "IDEMPOTENCY_PK_PREFIX": "IDEMPOTENCY#",
    "INBOX_PREFIX": "INBOX#",
    "LIVE": "LIVE",
    "PARTICIPANT_PREFIX": "PARTICIPANT#",
    "PK": "PK",
    "PREFERENCES_SK": "PREFERENCES",
    "PREPARING": "PREPARING",
    "PROFILE_SK": "PROFILE",
    "PUSH_TOKEN_PK_PREFIX": "PUSH_TOKEN#",
    "PUSH_TOKEN_SK": "PUSH_TOKEN",
    "REEL_GSI1_PREFIX": "REEL#",
    "REEL_PK_PREFIX": "REEL#",
    "REEL_SK": "REEL",
    "SESSION_PREFIX": "SESSION#",
    "SETTLING": "SETTLING",
    "SK": "SK",
    "STATUS_SHARDS": 8,
    "STREAM_GSI1_PREFIX": "STREAM#",
    "STREAM_PK_PREFIX": "STREAM#",
    "STREAM_SK": "STREAM",
    "TTL_ATTRIBUTE": "expiresAt",
    "USER_PREFIX": "USER#",
    "WATCHED_PREFIXES": ("PREPARING", "LIVE", "SETTLING"),
    "WEBHOOK_EVENT_PK_PREFIX": "WEBHOOK_EVENT#",
    "WEBHOOK_EVENT_SK": "WEBHOOK_EVENT",
}


# ---------------------------------------------------------------- table keys


@pytest.mark.parametrize(
    ("function", "args", "expected"),
    KEYS,
    ids=[f"{function.__name__}{args}" for function, args, _ in KEYS],
)
def test_a_key_function_makes_exactly_the_stored_format(function, args, expected):
    assert function(*args) == expected


def test_every_public_callable_of_keys_has_a_golden_line():
    defined_here = {
        name for name, value in vars(keys).items() if getattr(value, "__module__", None) == keys.__name__
    }
    public = {name for name in defined_here if callable(getattr(keys, name)) and not name.startswith("_")}
    assert public == {function.__name__ for function, _, _ in KEYS}


def test_every_public_constant_of_keys_is_pinned():
    constants = {
        name: value
        for name, value in vars(keys).items()
        if not name.startswith("_") and not callable(value) and not inspect.ismodule(value)
    }
    assert constants == CONSTANTS


# ---------------------------------------------------------------- page cursors

INBOX_CURSOR = "eyJQSyI6IlVTRVIjdXNlci1ib2IiLCJTSyI6IklOQk9YIzAxSkRRM1o4RzdOMlY0SzZNOFAwUjJUNFc2In0"
AUTHOR_CURSOR = (
    "eyJHU0kxUEsiOiJBVVRIT1IjdXNlci1hbGljZSIsIkdTSTFTSyI6IlNUUkVBTSMwMUpEUTNaOEc3TjJWNEs2TThQMFIyVDRXNiIs"
    "IlBLIjoiU1RSRUFNIzAxSkRRM1o4RzdOMlY0SzZNOFAwUjJUNFc2IiwiU0siOiJTVFJFQU0ifQ"
)
LIVE_CURSOR = (
    "eyJwIjp7IjAiOiIxNzk1NjAwMDAwMDAwIzAxSkRRM1o4RzdOMlY0SzZNOFAwUjJUNFc2IiwiNSI6IjE3OTU1OTk5OTAwMDAjMDFK"
    "RFE0MDAwMDAwMDAwMDAwMDAwMDAwMEEifSwieCI6WzIsN119"
)


def test_a_page_cursor_is_the_compact_sorted_key_in_base64url_and_old_ones_still_decode():
    inbox_key = {"PK": "USER#user-bob", "SK": "INBOX#01JDQ3Z8G7N2V4K6M8P0R2T4W6"}
    author_key = {
        "PK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6",
        "SK": "STREAM",
        "GSI1PK": "AUTHOR#user-alice",
        "GSI1SK": "STREAM#01JDQ3Z8G7N2V4K6M8P0R2T4W6",
    }

    assert cursors.encode(inbox_key) == INBOX_CURSOR
    assert cursors.encode(author_key) == AUTHOR_CURSOR
    pinned, prefixes = {"PK": "USER#user-bob"}, {"SK": "INBOX#"}
    assert cursors.decode(INBOX_CURSOR, pinned=pinned, prefixes=prefixes) == inbox_key


def test_the_live_list_cursor_is_positions_by_shard_and_exhausted_shards_and_old_ones_still_decode():
    positions = {0: "1795600000000#01JDQ3Z8G7N2V4K6M8P0R2T4W6", 5: "1795599990000#01JDQ40000000000000000000A"}

    assert _encode_live_cursor(positions, frozenset({2, 7})) == LIVE_CURSOR
    assert _decode_live_cursor(LIVE_CURSOR) == (positions, frozenset({2, 7}))


# ---------------------------------------------------------------- links in sent emails

UNSUBSCRIBE_TOKEN = "dXNlci1ib2I.tqlhts.BRXQnBeStSACT7sBQfV1oQ"


def test_an_unsubscribe_token_keeps_its_format_and_old_links_still_verify(monkeypatch):
    monkeypatch.setattr(secrets, "unsubscribe_signing_key", lambda: b"golden-signing-key")

    # 30 days after the frozen clock's start, in epoch seconds.
    assert unsubscribe.token("user-bob", 1_798_192_000) == UNSUBSCRIBE_TOKEN
    assert unsubscribe.verify(UNSUBSCRIBE_TOKEN) == "user-bob"


# ---------------------------------------------------------------- queue messages, dumped as the senders dump them

GO_LIVE_JSON = '{"streamId":"01JDQ3Z8G7N2V4K6M8P0R2T4W6"}'
CHUNK_JSON = (
    '{"streamId":"01JDQ3Z8G7N2V4K6M8P0R2T4W6","creatorId":"user-alice","creatorName":"Alice",'
    '"title":"Morning skate","link":"https://reels.example.com/live/01JDQ3Z8G7N2V4K6M8P0R2T4W6",'
    '"startedAt":1795599980000,"chunkId":"01JDQ3Z8G7N2V4K6M8P0R2T4W6:0:0","recipientIds":["user-bob","user-carol"]}'
)
UNNAMED_CHUNK_JSON = (
    '{"streamId":"01JDQ3Z8G7N2V4K6M8P0R2T4W6","creatorId":"user-alice",'
    '"title":"Morning skate","link":"https://reels.example.com/live/01JDQ3Z8G7N2V4K6M8P0R2T4W6",'
    '"startedAt":1795599980000,"chunkId":"01JDQ3Z8G7N2V4K6M8P0R2T4W6:0:0","recipientIds":["user-bob","user-carol"]}'
)


def test_a_go_live_message_keeps_its_json_and_old_ones_still_parse():
    message = GoLiveMessage(stream_id=STREAM)

    # The webhook side and the fan-out's continuation both send it with by_alias=True only.
    assert message.model_dump_json(by_alias=True) == GO_LIVE_JSON
    assert message.model_dump_json(by_alias=True, exclude_none=True) == GO_LIVE_JSON
    assert GoLiveMessage.model_validate_json(GO_LIVE_JSON) == message


@pytest.mark.parametrize(
    ("creator_name", "expected"),
    [("Alice", CHUNK_JSON), (None, UNNAMED_CHUNK_JSON)],
    ids=["named-creator", "creator-without-a-name"],
)
def test_a_notification_chunk_keeps_its_json_and_old_ones_still_parse(creator_name, expected):
    chunk = NotificationChunk(
        stream_id=STREAM,
        creator_id="user-alice",
        creator_name=creator_name,
        title="Morning skate",
        link=f"https://reels.example.com/live/{STREAM}",
        started_at=1_795_599_980_000,
        chunk_id=f"{STREAM}:0:0",
        recipient_ids=["user-bob", "user-carol"],
    )

    assert chunk.model_dump_json(by_alias=True, exclude_none=True) == expected
    assert NotificationChunk.model_validate_json(expected) == chunk
