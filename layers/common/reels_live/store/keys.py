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
