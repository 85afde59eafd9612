"""Reading the truth: live streams newest first, and a creator's streams, one page at a time.

The live list merges GSI2's eight LIVE shards (so thousands of live streams never share one hot key);
its cursor is where each shard stands, base64url JSON, checked on the way back in.
"""

import binascii
import json
import re

from reels_live.core.encoding import b64url_decode, b64url_encode
from reels_live.core.errors import InvalidCursor
from reels_live.entities.lifecycle import StreamStatus
from reels_live.store import cursors, keys
from reels_live.store import listings as store
from reels_live.streams.schemas import StreamPage, StreamView

_POSITION = re.compile(r"^\d{13}#[0-9A-HJKMNP-TV-Z]{26}$")


def live_streams(*, limit: int, cursor: str | None) -> StreamPage:
    """Live streams, most recently started first; sensitive ones carry `isSensitive` so the app blurs them."""
    positions, exhausted = _decode_live_cursor(cursor)
    page = store.live_streams(positions, exhausted, limit)
    items = [StreamView.of(stream) for stream in page.streams if stream.status is StreamStatus.LIVE]
    next_cursor = _encode_live_cursor(page.positions, page.exhausted) if page.has_more else None
    return StreamPage(items=items, next_cursor=next_cursor)


def user_streams(user_id: str, *, limit: int, cursor: str | None) -> StreamPage:
    """A creator's streams, newest first, whatever their status."""
    try:
        start = cursors.decode(
            cursor,
            pinned={keys.GSI1PK: keys.author_partition(user_id)},
            prefixes={
                keys.PK: keys.STREAM_PK_PREFIX,
                keys.SK: keys.STREAM_SK,
                keys.GSI1SK: keys.STREAM_GSI1_PREFIX,
            },
        )
    except cursors.InvalidCursor as error:
        raise InvalidCursor("The cursor is not one this list gave out.", field="cursor") from error
    streams, last = store.author_streams(user_id, limit, start)
    return StreamPage(items=[StreamView.of(stream) for stream in streams], next_cursor=cursors.encode(last))


def _encode_live_cursor(positions: dict[int, str], exhausted: frozenset[int]) -> str:
    data = {"p": {str(shard): key for shard, key in sorted(positions.items())}, "x": sorted(exhausted)}
    return b64url_encode(json.dumps(data, separators=(",", ":")).encode())


def _decode_live_cursor(cursor: str | None) -> tuple[dict[int, str], frozenset[int]]:
    if cursor is None:
        return {}, frozenset()
    invalid = InvalidCursor("The cursor is not one this list gave out.", field="cursor")
    try:
        data = json.loads(b64url_decode(cursor))
    except (binascii.Error, ValueError) as error:
        raise invalid from error
    if not isinstance(data, dict) or set(data) != {"p", "x"}:
        raise invalid
    raw_positions, raw_exhausted = data["p"], data["x"]
    shards = {str(shard) for shard in range(keys.STATUS_SHARDS)}
    if not isinstance(raw_positions, dict) or not set(raw_positions) <= shards:
        raise invalid
    if not all(isinstance(key, str) and _POSITION.match(key) for key in raw_positions.values()):
        raise invalid
    if not isinstance(raw_exhausted, list) or not all(
        isinstance(shard, int) and not isinstance(shard, bool) and 0 <= shard < keys.STATUS_SHARDS
        for shard in raw_exhausted
    ):
        raise invalid
    return {int(shard): key for shard, key in raw_positions.items()}, frozenset(raw_exhausted)
