"""The only module that talks to SES: go-live emails as SESv2 SendBulkEmail with the stored template.

The client does not retry (botocore's retries would sleep where nobody can see them): the fan-out paces
and backs off itself, and decides when SES has stayed down long enough to give up on email.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from reels_live.core import aws
from reels_live.core.config import settings

if TYPE_CHECKING:
    from mypy_boto3_sesv2.type_defs import SendBulkEmailRequestTypeDef

# SendBulkEmail takes at most 50 destinations a call (an SES quota, not in the API model).
MAX_DESTINATIONS = 50

_THROTTLING = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
_RETRY_STATUSES = {"ACCOUNT_THROTTLED", "TRANSIENT_FAILURE", "FAILED"}
# Statuses that say the whole account or configuration cannot send now, not just this destination.
_DOWN_STATUSES = {
    "ACCOUNT_SUSPENDED",
    "ACCOUNT_SENDING_PAUSED",
    "ACCOUNT_DAILY_QUOTA_EXCEEDED",
    "CONFIGURATION_SET_SENDING_PAUSED",
    "CONFIGURATION_SET_NOT_FOUND",
    "MAIL_FROM_DOMAIN_NOT_VERIFIED",
    "TEMPLATE_NOT_FOUND",
    "INVALID_SENDING_POOL_NAME",
}


class EmailError(Exception):
    """SES did not take the call."""


class EmailThrottled(EmailError):
    """Throttled or a transient failure: worth retrying after a backoff."""


class EmailUnavailable(EmailError):
    """SES will not send now (paused, suspended, quota, misconfigured): retrying soon would not help."""


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # this destination was throttled or failed transiently
    REJECTED = "rejected"  # this destination will not be sent (bad address, rejected content)
    DOWN = "down"  # the account or configuration cannot send


@dataclass(frozen=True)
class Destination:
    to: str
    template_data: Mapping[str, Any]
    headers: Mapping[str, str]


def send_bulk(destinations: Sequence[Destination], *, default_data: Mapping[str, Any]) -> list[Outcome]:
    """One SendBulkEmail call with the go-live template; an outcome per destination, in order."""
    if not 0 < len(destinations) <= MAX_DESTINATIONS:
        raise ValueError(f"1..{MAX_DESTINATIONS} destinations a call, not {len(destinations)}")
    config = settings()
    request: SendBulkEmailRequestTypeDef = {
        "FromEmailAddress": config.email_sender_address,
        "ConfigurationSetName": config.email_configuration_set,
        "DefaultContent": {
            "Template": {"TemplateName": config.email_template_name, "TemplateData": _json(default_data)}
        },
        "BulkEmailEntries": [
            {
                "Destination": {"ToAddresses": [destination.to]},
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": _json(destination.template_data)}
                },
                "ReplacementHeaders": [
                    {"Name": name, "Value": value} for name, value in destination.headers.items()
                ],
            }
            for destination in destinations
        ],
    }
    try:
        response = aws.client("sesv2", max_attempts=1).send_bulk_email(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLING or status >= 500:
            raise EmailThrottled(code or str(status)) from error
        raise EmailUnavailable(code) from error
    except BotoCoreError as error:  # connection and timeout errors
        raise EmailThrottled(type(error).__name__) from error
    results = response.get("BulkEmailEntryResults", [])
    return [_outcome(result.get("Status", "FAILED")) for result in results] + [Outcome.RETRY] * (
        len(destinations) - len(results)
    )


def _outcome(status: str) -> Outcome:
    if status == "SUCCESS":
        return Outcome.SENT
    if status in _RETRY_STATUSES:
        return Outcome.RETRY
    if status in _DOWN_STATUSES:
        return Outcome.DOWN
    return Outcome.REJECTED


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
