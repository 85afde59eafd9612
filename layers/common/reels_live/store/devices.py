"""Push devices: one `DEVICES` item per user (optimistic, versioned) and one owner item per push token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from reels_live.entities.people import Device
from reels_live.store import keys
from reels_live.store.table import (
    cancellation_codes,
    client,
    get,
    name,
    to_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef


class ConcurrentChange(Exception):
    """An optimistic write lost to another writer more times than it retried."""


@dataclass(frozen=True)
class TokenOwner:
    user_id: str
    device_id: str
    endpoint_arn: str


@dataclass(frozen=True)
class DeviceSet:
    """A user's DEVICES item and its version, for optimistic read-modify-write."""

    devices: dict[str, Device]
    version: int


def devices_from_item(item: dict[str, Any] | None) -> dict[str, Device]:
    return {
        device_id: Device.model_validate(value)
        for device_id, value in ((item or {}).get("devices") or {}).items()
    }


def get_devices(user_id: str, *, consistent: bool = False) -> DeviceSet:
    item = get(keys.devices(user_id), consistent=consistent)
    return DeviceSet(devices_from_item(item), int(item["version"]) if item else 0)


def get_token_owner(token_hash: str) -> TokenOwner | None:
    item = get(keys.push_token(token_hash), consistent=True)
    if not item:
        return None
    return TokenOwner(item["userId"], item["deviceId"], item["endpointArn"])


def save_devices(
    user_id: str,
    current: DeviceSet,
    devices: dict[str, Device],
    *,
    token_hash: str,
    owner: TokenOwner,
    now_ms: int,
    previous_owner: tuple[str, DeviceSet, dict[str, Device]] | None = None,
) -> None:
    """Write a user's devices and the token's owner together; raises ConcurrentChange if either moved.

    `previous_owner` (user, their set as read, their devices without this token) moves a token that
    changed hands (a phone signed into another account) in the same transaction.
    """
    items: list[TransactWriteItemTypeDef] = [
        _devices_put(user_id, current, devices, now_ms),
        {
            "Put": {
                "TableName": name(),
                "Item": to_attributes(
                    {
                        **keys.push_token(token_hash),
                        keys.ENTITY: "pushToken",
                        "userId": owner.user_id,
                        "deviceId": owner.device_id,
                        "endpointArn": owner.endpoint_arn,
                        "updatedAt": now_ms,
                    }
                ),
            }
        },
    ]
    if previous_owner:
        other, other_set, other_devices = previous_owner
        items.append(_devices_put(other, other_set, other_devices, now_ms))
    try:
        client().transact_write_items(TransactItems=items)
    except ClientError as error:
        if "ConditionalCheckFailed" in cancellation_codes(error):
            raise ConcurrentChange from error
        raise


def remove_device(
    user_id: str, current: DeviceSet, device_id: str, *, token_hash: str | None, now_ms: int
) -> None:
    """Drop one device from the user's set and forget its token (if the token still points here)."""
    remaining = {key: value for key, value in current.devices.items() if key != device_id}
    items: list[TransactWriteItemTypeDef] = [_devices_put(user_id, current, remaining, now_ms)]
    if token_hash:
        items.append(
            {
                "Delete": {
                    "TableName": name(),
                    "Key": to_attributes(keys.push_token(token_hash)),
                    "ConditionExpression": "attribute_not_exists(PK) OR (userId = :user AND deviceId = :device)",
                    "ExpressionAttributeValues": to_attributes({":user": user_id, ":device": device_id}),
                }
            }
        )
    try:
        client().transact_write_items(TransactItems=items)
    except ClientError as error:
        codes = cancellation_codes(error)
        if codes[:1] == ["ConditionalCheckFailed"]:
            raise ConcurrentChange from error
        if "ConditionalCheckFailed" in codes:
            # The token moved to another user meanwhile: drop it from this set alone.
            client().transact_write_items(TransactItems=items[:1])
            return
        raise


def devices_item(user_id: str, devices: dict[str, Device], *, version: int, now_ms: int) -> dict[str, Any]:
    return {
        **keys.devices(user_id),
        keys.ENTITY: "devices",
        "userId": user_id,
        "version": version,
        "updatedAt": now_ms,
        "devices": {
            device_id: device.model_dump(by_alias=True, mode="json") for device_id, device in devices.items()
        },
    }


def _devices_put(
    user_id: str, current: DeviceSet, devices: dict[str, Device], now_ms: int
) -> TransactWriteItemTypeDef:
    item = devices_item(user_id, devices, version=current.version + 1, now_ms=now_ms)
    condition = "attribute_not_exists(PK)" if current.version == 0 else "version = :version"
    put: PutTypeDef = {"TableName": name(), "Item": to_attributes(item), "ConditionExpression": condition}
    if current.version:
        put["ExpressionAttributeValues"] = to_attributes({":version": current.version})
    return {"Put": put}
