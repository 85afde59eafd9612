"""Push devices: one SNS platform endpoint per token, a user's newest devices kept."""

import hashlib
from dataclasses import dataclass

from reels_live.core import clock
from reels_live.core.errors import Conflict, PlatformNotConfigured, PushUnavailable
from reels_live.core.observability import logger
from reels_live.entities.people import Device
from reels_live.integrations import sns
from reels_live.social.schemas import DeviceView, RegisterDeviceRequest
from reels_live.store import devices as store

# Devices kept per user; registering one more forgets the one updated longest ago.
MAX_DEVICES = 10
_OPTIMISTIC_ATTEMPTS = 3


@dataclass(frozen=True)
class Registration:
    device: DeviceView
    created: bool


def register_device(user_id: str, request: RegisterDeviceRequest) -> Registration:
    """One SNS endpoint per token: a token seen before gets its endpoint refreshed (and moves to this user
    if it was someone else's), a new one gets an endpoint; the user keeps their MAX_DEVICES newest devices."""
    application = sns.platform_application_arn(request.platform)
    if not application:
        raise PlatformNotConfigured(f"Push to {request.platform.value} is not set up here.", field="platform")
    token_hash = hashlib.sha256(f"{request.platform.value}:{request.token}".encode()).hexdigest()
    device_id = token_hash[:32]
    for _ in range(_OPTIMISTIC_ATTEMPTS):
        owner = store.get_token_owner(token_hash)
        current = store.get_devices(user_id, consistent=True)
        existing = current.devices.get(device_id)
        endpoint_arn = _endpoint_for(application, request.token, user_id, owner)
        now = clock.now_ms()
        device = Device(
            device_id=device_id,
            platform=request.platform,
            endpoint_arn=endpoint_arn,
            token_hash=token_hash,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        kept, evicted = _newest({**current.devices, device_id: device})
        previous = None
        if owner and owner.user_id != user_id:
            theirs = store.get_devices(owner.user_id, consistent=True)
            previous = (
                owner.user_id,
                theirs,
                {k: v for k, v in theirs.devices.items() if k != owner.device_id},
            )
        try:
            store.save_devices(
                user_id,
                current,
                kept,
                token_hash=token_hash,
                owner=store.TokenOwner(user_id, device_id, endpoint_arn),
                now_ms=now,
                previous_owner=previous,
            )
        except store.ConcurrentChange:
            continue
        for gone in evicted:
            _delete_endpoint_quietly(gone)
        logger.info(
            "device registered",
            extra={"user_id": user_id, "device_id": device_id, "platform": request.platform.value},
        )
        return Registration(DeviceView.of(device), created=existing is None)
    raise Conflict("Your devices changed while registering this one; retry.")


def remove_device(user_id: str, device_id: str) -> None:
    """Forget a device and delete its endpoint (idempotent: an unknown device is already gone)."""
    for _ in range(_OPTIMISTIC_ATTEMPTS):
        current = store.get_devices(user_id, consistent=True)
        device = current.devices.get(device_id)
        if device is None:
            return
        try:
            store.remove_device(
                user_id, current, device_id, token_hash=device.token_hash, now_ms=clock.now_ms()
            )
        except store.ConcurrentChange:
            continue
        _delete_endpoint_quietly(device)
        logger.info("device removed", extra={"user_id": user_id, "device_id": device_id})
        return
    raise Conflict("Your devices changed while removing this one; retry.")


def _endpoint_for(application: str, token: str, user_id: str, owner: store.TokenOwner | None) -> str:
    try:
        if owner and sns.refresh_endpoint(owner.endpoint_arn, token, user_id):
            return owner.endpoint_arn
        return sns.create_endpoint(application, token, user_id)
    except sns.PushError as error:
        logger.warning("push endpoint registration failed", extra={"user_id": user_id, "error": str(error)})
        raise PushUnavailable("Push registration is unavailable; retry later.") from error


def _newest(devices: dict[str, Device]) -> tuple[dict[str, Device], list[Device]]:
    ordered = sorted(devices.values(), key=lambda device: device.updated_at, reverse=True)
    return {device.device_id: device for device in ordered[:MAX_DEVICES]}, ordered[MAX_DEVICES:]


def _delete_endpoint_quietly(device: Device) -> None:
    try:
        sns.delete_endpoint(device.endpoint_arn)
    except sns.PushError as error:
        # The device is gone from the table; an orphaned endpoint only costs an SNS entry.
        logger.warning("endpoint deletion failed", extra={"device_id": device.device_id, "error": str(error)})
