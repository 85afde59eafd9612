"""Profiles: one item per user (`USER#id / PROFILE`), created on first sight."""

from typing import Any

from botocore.exceptions import ClientError

from reels_live.entities.people import Profile
from reels_live.store import batch, keys
from reels_live.store.table import (
    client,
    from_attributes,
    get,
    is_condition_failure,
    name,
    to_attributes,
)


def get_profile(user_id: str, *, consistent: bool = False) -> Profile | None:
    item = get(keys.profile(user_id), consistent=consistent)
    return Profile.model_validate(item) if item else None


def profile_item(profile: Profile) -> dict[str, Any]:
    return {
        **profile.model_dump(by_alias=True, exclude_none=True),
        **keys.profile(profile.user_id),
        keys.ENTITY: "profile",
    }


def create_profile(profile: Profile) -> Profile:
    """Store a new profile; if another request created it first, that one wins and is returned."""
    try:
        client().put_item(
            TableName=name(),
            Item=to_attributes(profile_item(profile)),
            ConditionExpression="attribute_not_exists(PK)",
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        existing = get_profile(profile.user_id, consistent=True)
        assert existing is not None
        return existing
    return profile


def update_profile(
    user_id: str, *, display_name: str, bio: str | None, email: str | None, drop_email: bool, now_ms: int
) -> Profile:
    """Set the editable fields (creating the profile if needed) and refresh the verified email."""
    sets = [
        "displayName = :name",
        "userId = :user",
        "updatedAt = :now",
        "createdAt = if_not_exists(createdAt, :now)",
        "followerCount = if_not_exists(followerCount, :zero)",
        "followingCount = if_not_exists(followingCount, :zero)",
        "#entity = :entity",
    ]
    removes = []
    values: dict[str, object] = {
        ":name": display_name,
        ":user": user_id,
        ":now": now_ms,
        ":zero": 0,
        ":entity": "profile",
    }
    if bio is None:
        removes.append("bio")
    else:
        sets.append("bio = :bio")
        values[":bio"] = bio
    email_sets, email_removes, email_values = _email_update(email, drop_email)
    expression = "SET " + ", ".join(sets + email_sets)
    if removes + email_removes:
        expression += " REMOVE " + ", ".join(removes + email_removes)
    response = client().update_item(
        TableName=name(),
        Key=to_attributes(keys.profile(user_id)),
        UpdateExpression=expression,
        ExpressionAttributeNames={"#entity": keys.ENTITY},
        ExpressionAttributeValues=to_attributes({**values, **email_values}),
        ReturnValues="ALL_NEW",
    )
    return Profile.model_validate(from_attributes(response["Attributes"]))


def set_email(user_id: str, email: str | None, *, now_ms: int) -> None:
    """Store (or, with None, forget) the verified address on an existing profile."""
    sets, removes, values = _email_update(email, email is None)
    expression = "SET " + ", ".join([*sets, "updatedAt = :now"])
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    try:
        client().update_item(
            TableName=name(),
            Key=to_attributes(keys.profile(user_id)),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues=to_attributes({**values, ":now": now_ms}),
        )
    except ClientError as error:
        if not is_condition_failure(error):
            raise


def profiles(user_ids: list[str]) -> dict[str, Profile]:
    """Several profiles at once (BatchGetItem); unknown users are absent from the answer."""
    items = batch.get_items([keys.profile(user_id) for user_id in dict.fromkeys(user_ids)])
    return {item["userId"]: Profile.model_validate(item) for item in items}


def _email_update(email: str | None, drop: bool) -> tuple[list[str], list[str], dict[str, object]]:
    if email is not None:
        return ["email = :email"], [], {":email": email}
    return [], (["email"] if drop else []), {}
