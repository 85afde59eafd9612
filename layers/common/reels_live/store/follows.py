"""Follow edges: in the follower's partition, and on GSI1 among the creator's followers; counts on profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from reels_live.store import cursors, keys
from reels_live.store.table import (
    cancellation_codes,
    client,
    from_attributes,
    get,
    name,
    to_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef, TransactWriteItemTypeDef, UpdateTypeDef


class UserMissing(Exception):
    """The user to follow has no profile (unknown to this app)."""


def follow_item(follower_id: str, creator_id: str, *, now_ms: int) -> dict[str, Any]:
    """The follow edge: in the follower's partition, and among the creator's followers on GSI1."""
    return {
        **keys.follow(follower_id, creator_id),
        **keys.followers_index(creator_id, now_ms, follower_id),
        keys.ENTITY: "follow",
        "followerId": follower_id,
        "creatorId": creator_id,
        "followedAt": now_ms,
    }


def follow(follower_id: str, creator_id: str, *, now_ms: int) -> bool:
    """Add the edge and both counts in one transaction; False when already following (nothing changes)."""
    try:
        client().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": name(),
                        "Item": to_attributes(follow_item(follower_id, creator_id, now_ms=now_ms)),
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                _count(follower_id, "followingCount", +1, must_exist=False, now_ms=now_ms),
                _count(creator_id, "followerCount", +1, must_exist=True, now_ms=now_ms),
            ]
        )
    except ClientError as error:
        codes = cancellation_codes(error)
        if len(codes) == 3 and codes[2] == "ConditionalCheckFailed":
            raise UserMissing from error
        if codes[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def unfollow(follower_id: str, creator_id: str, *, now_ms: int) -> bool:
    """Remove the edge and both counts in one transaction; False when not following (nothing changes)."""
    try:
        client().transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": name(),
                        "Key": to_attributes(keys.follow(follower_id, creator_id)),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                _count(follower_id, "followingCount", -1, must_exist=True, now_ms=now_ms),
                _count(creator_id, "followerCount", -1, must_exist=True, now_ms=now_ms),
            ]
        )
    except ClientError as error:
        if cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
            return False
        raise
    return True


def is_following(follower_id: str, creator_id: str) -> bool:
    return get(keys.follow(follower_id, creator_id)) is not None


@dataclass(frozen=True)
class FollowPage:
    entries: list[tuple[str, int]]  # (user id, followed at)
    cursor: str | None


def followers(creator_id: str, *, limit: int, cursor: str | None) -> FollowPage:
    """A creator's followers, newest first (GSI1)."""
    items, next_cursor = followers_query(
        creator_id, cursor=cursor, limit=limit, projection="followerId, followedAt", newest_first=True
    )
    return FollowPage([(item["followerId"], int(item["followedAt"])) for item in items], next_cursor)


def followers_query(
    creator_id: str, *, cursor: str | None, limit: int, projection: str, newest_first: bool
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a creator's follow edges from GSI1 (only `projection`), and the cursor after it."""
    partition = keys.followers_partition(creator_id)
    start = cursors.decode(
        cursor,
        pinned={keys.GSI1PK: partition},
        prefixes={keys.GSI1SK: "", keys.PK: keys.USER_PREFIX, keys.SK: keys.FOLLOWS_PREFIX},
    )
    request: QueryInputTypeDef = {
        "TableName": name(),
        "IndexName": keys.GSI1,
        "KeyConditionExpression": "GSI1PK = :partition",
        "ExpressionAttributeValues": to_attributes({":partition": partition}),
        "ProjectionExpression": projection,
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    response = client().query(**request)
    return [from_attributes(item) for item in response["Items"]], cursors.after(response)


def following(follower_id: str, *, limit: int, cursor: str | None) -> FollowPage:
    """Who a user follows, ordered by the followed user's id (the edge's sort key)."""
    partition = keys.user_partition(follower_id)
    start = cursors.decode(cursor, pinned={keys.PK: partition}, prefixes={keys.SK: keys.FOLLOWS_PREFIX})
    request: QueryInputTypeDef = {
        "TableName": name(),
        "KeyConditionExpression": "PK = :partition AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": to_attributes({":partition": partition, ":prefix": keys.FOLLOWS_PREFIX}),
        "ProjectionExpression": "creatorId, followedAt",
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = to_attributes(start)
    response = client().query(**request)
    entries = [
        (item["creatorId"], int(item["followedAt"])) for item in map(from_attributes, response["Items"])
    ]
    return FollowPage(entries, cursors.after(response))


def _count(
    user_id: str, attribute: str, delta: int, *, must_exist: bool, now_ms: int
) -> TransactWriteItemTypeDef:
    update: UpdateTypeDef = {
        "TableName": name(),
        "Key": to_attributes(keys.profile(user_id)),
        # if_not_exists on the identity fields: a follower with no profile yet gets a minimal one.
        "UpdateExpression": (
            "ADD #count :delta SET userId = :user, createdAt = if_not_exists(createdAt, :now), "
            "updatedAt = if_not_exists(updatedAt, :now), #entity = :entity"
        ),
        "ExpressionAttributeNames": {"#count": attribute, "#entity": keys.ENTITY},
        "ExpressionAttributeValues": to_attributes(
            {":delta": delta, ":user": user_id, ":now": now_ms, ":entity": "profile"}
        ),
    }
    if must_exist:
        update["ConditionExpression"] = "attribute_exists(PK)"
    return {"Update": update}
