"""Every key and index of the single table, in one place. README's table design mirrors this file.

Items carry generic `PK`/`SK`, an `entity` attribute, and where an access pattern needs it `GSI1PK`/`GSI1SK`
(a creator's streams, newest first) or `GSI2PK`/`GSI2SK` (the sparse, sharded status index of streams that
need attention: preparing and live). Expiring items share one TTL attribute, `expiresAt` (epoch seconds).
"""

import zlib

PK, SK = "PK", "SK"
GSI1, GSI1PK, GSI1SK = "GSI1", "GSI1PK", "GSI1SK"
GSI2, GSI2PK, GSI2SK = "GSI2", "GSI2PK", "GSI2SK"
TTL_ATTRIBUTE = "expiresAt"
ENTITY = "entity"

# Spreads the status index over partitions so thousands of live streams never share one hot key.
STATUS_SHARDS = 8

STREAM_SK = "STREAM"
ACTIVE_STREAM_SK = "ACTIVE_STREAM"
IDEMPOTENCY_PK_PREFIX = "IDEMPOTENCY#"


def stream(stream_id: str) -> dict[str, str]:
    return {PK: f"STREAM#{stream_id}", SK: STREAM_SK}


def participant(stream_id: str, user_id: str) -> dict[str, str]:
    return {PK: f"STREAM#{stream_id}", SK: f"PARTICIPANT#{user_id}"}


def active_stream_lock(user_id: str) -> dict[str, str]:
    """One item per creator while a stream is preparing or live: the one-active-stream rule's lock."""
    return {PK: f"USER#{user_id}", SK: ACTIVE_STREAM_SK}


def create_quota(user_id: str, window_start_ms: int) -> dict[str, str]:
    return {PK: f"USER#{user_id}", SK: f"QUOTA#CREATE_STREAM#{window_start_ms}"}


def entitlement(user_id: str, stream_id: str) -> dict[str, str]:
    return {PK: f"USER#{user_id}", SK: f"ENTITLEMENT#{stream_id}"}


def author_streams(author_id: str, stream_id: str) -> dict[str, str]:
    """GSI1: a creator's streams; stream ids sort by creation time, so the index is newest-first reversed."""
    return {GSI1PK: f"AUTHOR#{author_id}", GSI1SK: f"STREAM#{stream_id}"}


def status_shard(stream_id: str) -> int:
    return zlib.crc32(stream_id.encode()) % STATUS_SHARDS


def status_index(status: str, stream_id: str, since_ms: int) -> dict[str, str]:
    """GSI2 (sparse): present only while a stream needs watching; sorted by when it entered the status."""
    return {GSI2PK: f"{status.upper()}#{status_shard(stream_id)}", GSI2SK: f"{since_ms:013d}#{stream_id}"}


def idempotency_partition(function_name: str) -> str:
    return f"{IDEMPOTENCY_PK_PREFIX}{function_name}"


# ---------------------------------------------------------------- social graph and notifications
# A user's own items share the partition USER#<userId>: profile, preferences, devices, follows (as the
# follower), inbox items and per-creator alert markers. Followers of a creator are read through GSI1.

PROFILE_SK = "PROFILE"
PREFERENCES_SK = "PREFERENCES"
DEVICES_SK = "DEVICES"
PUSH_TOKEN_SK = "PUSH_TOKEN"
ANNOUNCEMENT_SK = "ANNOUNCEMENT"
FOLLOWS_PREFIX = "FOLLOWS#"
FOLLOWERS_PREFIX = "FOLLOWERS#"
INBOX_PREFIX = "INBOX#"
ALERT_PREFIX = "ALERT#"
USER_PREFIX = "USER#"


def user_partition(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def profile(user_id: str) -> dict[str, str]:
    return {PK: user_partition(user_id), SK: PROFILE_SK}


def preferences(user_id: str) -> dict[str, str]:
    return {PK: user_partition(user_id), SK: PREFERENCES_SK}


def devices(user_id: str) -> dict[str, str]:
    """One item per user holding every registered device, so a fan-out reads them with one BatchGetItem key."""
    return {PK: user_partition(user_id), SK: DEVICES_SK}


def push_token(token_hash: str) -> dict[str, str]:
    """Which user and SNS endpoint a push token belongs to: one endpoint per token, ever."""
    return {PK: f"PUSH_TOKEN#{token_hash}", SK: PUSH_TOKEN_SK}


def follow(follower_id: str, creator_id: str) -> dict[str, str]:
    """The follow edge, in the follower's partition (who do I follow, do I follow X)."""
    return {PK: user_partition(follower_id), SK: f"{FOLLOWS_PREFIX}{creator_id}"}


def followers_index(creator_id: str, followed_at_ms: int, follower_id: str) -> dict[str, str]:
    """GSI1 on the follow edge: a creator's followers by when they followed (fan-out and the list)."""
    return {GSI1PK: f"{FOLLOWERS_PREFIX}{creator_id}", GSI1SK: f"{followed_at_ms:013d}#{follower_id}"}


def followers_partition(creator_id: str) -> str:
    return f"{FOLLOWERS_PREFIX}{creator_id}"


def inbox(user_id: str, notification_id: str) -> dict[str, str]:
    """An in-app notification; ids sort by time (a go-live's id is its stream id), so SK order is age."""
    return {PK: user_partition(user_id), SK: f"{INBOX_PREFIX}{notification_id}"}


def alert(user_id: str, creator_id: str) -> dict[str, str]:
    """The last go-live alert a user got about a creator: delivery marker and cooldown in one item."""
    return {PK: user_partition(user_id), SK: f"{ALERT_PREFIX}{creator_id}"}


def announcement(stream_id: str) -> dict[str, str]:
    """One per stream that went live: deduplicates go-live messages and checkpoints the fan-out."""
    return {PK: f"STREAM#{stream_id}", SK: ANNOUNCEMENT_SK}


# ---------------------------------------------------------------- LiveKit's view of streams (issue 8)
# A stream's sessions live in its partition; webhook event ids get one partition each (spread, TTL);
# a reel's own partition is its id, and GSI1 lists a creator's reels next to their streams.

SESSION_PREFIX = "SESSION#"
STREAM_GSI1_PREFIX = "STREAM#"
REEL_GSI1_PREFIX = "REEL#"
REEL_SK = "REEL"
WEBHOOK_EVENT_SK = "WEBHOOK_EVENT"
# GSI2 prefixes: streams preparing or live, and ended streams still waiting for something from LiveKit.
PREPARING, LIVE, SETTLING = "PREPARING", "LIVE", "SETTLING"
WATCHED_PREFIXES = (PREPARING, LIVE, SETTLING)


def stream_partition(stream_id: str) -> str:
    return f"STREAM#{stream_id}"


def session(stream_id: str, sid: str) -> dict[str, str]:
    """One LiveKit connection (participant sid) to the stream's room."""
    return {PK: stream_partition(stream_id), SK: f"{SESSION_PREFIX}{sid}"}


def webhook_event(event_id: str) -> dict[str, str]:
    """A LiveKit webhook event already applied (expires: LiveKit retries within minutes)."""
    return {PK: f"WEBHOOK_EVENT#{event_id}", SK: WEBHOOK_EVENT_SK}


def reel(reel_id: str) -> dict[str, str]:
    return {PK: f"REEL#{reel_id}", SK: REEL_SK}


def author_reels(author_id: str, reel_id: str) -> dict[str, str]:
    """GSI1: a creator's reels next to their streams (ids sort by time, so the index is newest-first reversed)."""
    return {GSI1PK: f"AUTHOR#{author_id}", GSI1SK: f"{REEL_GSI1_PREFIX}{reel_id}"}


def author_partition(author_id: str) -> str:
    return f"AUTHOR#{author_id}"


def status_partition(prefix: str, shard: int) -> str:
    """GSI2 partition of one shard of a watched set (PREPARING, LIVE, SETTLING)."""
    return f"{prefix}#{shard}"


def status_sort_key(stream_id: str, since_ms: int) -> str:
    return f"{since_ms:013d}#{stream_id}"


def stream_id_of_status_key(sort_key: str) -> tuple[str, int]:
    """(stream id, since) from a GSI2 sort key."""
    since, stream_id = sort_key.split("#", 1)
    return stream_id, int(since)


# ---------------------------------------------------------------- prefixes for reading the table back
# What whole families of items start with: scans and checks outside the access patterns (tests, tools).

STREAM_PK_PREFIX = "STREAM#"
"""PK of every stream partition: the stream, its participants, sessions and announcement."""
PARTICIPANT_PREFIX = "PARTICIPANT#"
"""SK of a stream's participants, in the stream's partition."""
REEL_PK_PREFIX = "REEL#"
"""PK of every reel (a reel's partition is its own id)."""
WEBHOOK_EVENT_PK_PREFIX = "WEBHOOK_EVENT#"
"""PK of every applied LiveKit webhook event."""
PUSH_TOKEN_PK_PREFIX = "PUSH_TOKEN#"
"""PK of every push token's owner item."""


def status_partition_prefix(prefix: str) -> str:
    """What the GSI2 partition of every shard of a watched set (PREPARING, LIVE, SETTLING) starts with."""
    return f"{prefix}#"
