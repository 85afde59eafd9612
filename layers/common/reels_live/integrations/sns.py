"""The only module that talks to SNS: a platform endpoint per push token, and alerts published to them."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from reels_live.core import aws
from reels_live.core.config import settings
from reels_live.entities.people import Platform

if TYPE_CHECKING:
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

# A go-live alert is stale once the moment has passed: APNs and FCM drop it after this long undelivered.
TTL_SECONDS = 900
_GONE = {"EndpointDisabled", "NotFound"}
# SNS's documented answer when the token already has an endpoint with other attributes.
_EXISTING = re.compile(r"Endpoint (arn:aws[\w-]*:sns:\S+) already exists with the same [Tt]oken")


class PushError(Exception):
    """SNS failed after botocore's retries."""


class EndpointGone(PushError):
    """The endpoint is disabled (the app was uninstalled, the token expired) or deleted: drop the device."""


def platform_application_arn(platform: Platform) -> str:
    """The template parameter's ARN for a platform ('' when this deployment does not push there)."""
    config = settings()
    return {
        Platform.IOS: config.apns_platform_application_arn,
        Platform.IOS_SANDBOX: config.apns_sandbox_platform_application_arn,
        Platform.ANDROID: config.fcm_platform_application_arn,
    }[platform]


def create_endpoint(application_arn: str, token: str, user_id: str) -> str:
    """A new endpoint for a token (or the one SNS already has for it), enabled and labelled with the user."""
    try:
        response = _client().create_platform_endpoint(PlatformApplicationArn=application_arn, Token=token)
        arn: str = response["EndpointArn"]
    except ClientError as error:
        found = _EXISTING.search(error.response.get("Error", {}).get("Message", ""))
        if not found:
            raise PushError(_code(error)) from error
        arn = found.group(1)
    except BotoCoreError as error:
        raise PushError(type(error).__name__) from error
    if not refresh_endpoint(arn, token, user_id):
        raise PushError("endpoint vanished while being created")
    return arn


def refresh_endpoint(arn: str, token: str, user_id: str) -> bool:
    """Re-enable an endpoint with the current token (re-registration); False when SNS no longer has it."""
    try:
        _client().set_endpoint_attributes(
            EndpointArn=arn, Attributes={"Token": token, "Enabled": "true", "CustomUserData": user_id}
        )
    except ClientError as error:
        if _code(error) == "NotFound":
            return False
        raise PushError(_code(error)) from error
    except BotoCoreError as error:
        raise PushError(type(error).__name__) from error
    return True


def delete_endpoint(arn: str) -> None:
    """Delete an endpoint (idempotent in SNS)."""
    try:
        _client().delete_endpoint(EndpointArn=arn)
    except (ClientError, BotoCoreError) as error:
        raise PushError(str(error)) from error


def publish_go_live(arn: str, *, title: str, body: str, data: dict[str, str], collapse_key: str) -> None:
    """One alert to one device, in each platform's own payload shape."""
    apns = json.dumps(
        {
            "aps": {"alert": {"title": title, "body": body}, "sound": "default", "thread-id": collapse_key},
            **data,
        }
    )
    fcm = json.dumps(
        {
            "fcmV1Message": {
                "message": {
                    "notification": {"title": title, "body": body},
                    "data": data,
                    "android": {"collapse_key": collapse_key, "ttl": f"{TTL_SECONDS}s"},
                }
            }
        }
    )
    message = {"default": f"{title}: {body}", "APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm}
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        name: {"DataType": "String", "StringValue": str(TTL_SECONDS)}
        for name in ("AWS.SNS.MOBILE.APNS.TTL", "AWS.SNS.MOBILE.APNS_SANDBOX.TTL", "AWS.SNS.MOBILE.FCM.TTL")
    }
    try:
        _client().publish(
            TargetArn=arn, Message=json.dumps(message), MessageStructure="json", MessageAttributes=attributes
        )
    except ClientError as error:
        if _code(error) in _GONE:
            raise EndpointGone(_code(error)) from error
        raise PushError(_code(error)) from error
    except BotoCoreError as error:
        raise PushError(type(error).__name__) from error


def _client() -> SNSClient:
    return aws.client("sns")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))
