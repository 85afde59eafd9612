"""Stream lists read by key: live streams from GSI2's LIVE shards, a creator's streams from GSI1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reels_live.entities.streams import Stream
from reels_live.store import batch, keys
from reels_live.store.table import client, from_attributes, name, to_attributes

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef


@dataclass(frozen=True)
class LivePage:
    """Live streams newest first, and where each shard stands after them (its last sort key taken)."""

    streams: list[Stream]
    positions: dict[int, str]
    exhausted: frozenset[int]

    @property
    def has_more(self) -> bool:
        return len(self.exhausted) < keys.STATUS_SHARDS


def live_streams(positions: dict[int, str], exhausted: frozenset[int], limit: int) -> LivePage:
    """Merge the LIVE shards newest first: one Query per shard (at most `limit` keys each, after its
    position), the top `limit` of their union, then one BatchGetItem for those streams."""
    candidates: list[tuple[str, int]] = []
    shard_more: dict[int, bool] = {}
    for shard in range(keys.STATUS_SHARDS):
        if shard in exhausted:
            continue
        condition = "GSI2PK = :pk"
        values = {":pk": keys.status_partition(keys.LIVE, shard)}
        if shard in positions:
            condition += " AND GSI2SK < :position"
            values[":position"] = positions[shard]
        page = client().query(
            TableName=name(),
            IndexName=keys.GSI2,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_attributes(values),
            ScanIndexForward=False,
            Limit=limit,
        )
        found = [from_attributes(item)[keys.GSI2SK] for item in page["Items"]]
        candidates += [(sort_key, shard) for sort_key in found]
        shard_more[shard] = "LastEvaluatedKey" in page
    candidates.sort(reverse=True)
    taken, left = candidates[:limit], candidates[limit:]
    moved = dict(positions)
    for sort_key, shard in taken:
        moved[shard] = min(sort_key, moved.get(shard, sort_key))
    still_waiting = {shard for _, shard in left}
    done = set(exhausted) | {
        shard for shard, more in shard_more.items() if not more and shard not in still_waiting
    }
    ids = [keys.stream_id_of_status_key(sort_key)[0] for sort_key, _ in taken]
    found_streams = {
        stream.stream_id: stream
        for stream in map(
            Stream.model_validate, batch.get_items([keys.stream(stream_id) for stream_id in ids])
        )
    }
    return LivePage([found_streams[i] for i in ids if i in found_streams], moved, frozenset(done))


def author_streams(
    author_id: str, limit: int, start: dict[str, str] | None
) -> tuple[list[Stream], dict[str, str] | None]:
    """A creator's streams newest first (GSI1, projection ALL: no second read) and the next page's start."""
    request: QueryInputTypeDef = {
        "TableName": name(),
        "IndexName": keys.GSI1,
        "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
        "ExpressionAttributeValues": to_attributes(
            {":pk": keys.author_partition(author_id), ":prefix": keys.STREAM_GSI1_PREFIX}
        ),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    page = client().query(**request)
    streams = [Stream.model_validate(from_attributes(item)) for item in page["Items"]]
    last = page.get("LastEvaluatedKey")
    return streams, (from_attributes(last) if last else None)
