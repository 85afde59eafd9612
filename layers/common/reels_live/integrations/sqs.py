"""The only module that sends to SQS: go-live continuations and notification chunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from reels_live.core import aws

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageRequestTypeDef

BATCH_ENTRIES = 10
BATCH_BYTES = 262_144  # SendMessageBatch's limit on the sum of its message bodies
ATTEMPTS = 3


class QueueError(Exception):
    """SQS refused some messages after retries."""


def send(queue_url: str, body: str, *, delay_seconds: int | None = None) -> None:
    """One message; `delay_seconds` overrides the queue's own delay (0: deliverable at once)."""
    request: SendMessageRequestTypeDef = {"QueueUrl": queue_url, "MessageBody": body}
    if delay_seconds is not None:
        request["DelaySeconds"] = delay_seconds
    aws.client("sqs").send_message(**request)


def send_batch(queue_url: str, bodies: Sequence[str]) -> int:
    """Send every body, ten (and at most 256 KiB) a call, retrying entries SQS reports as failed.

    Returns the number of SendMessageBatch calls. Raises QueueError if entries still fail, so the caller's
    message is retried; whatever was sent may then be sent again (receivers deduplicate).
    """
    calls = 0
    for group in _groups(bodies):
        pending = {str(index): body for index, body in enumerate(group)}
        for _ in range(ATTEMPTS):
            calls += 1
            response = aws.client("sqs").send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": key, "MessageBody": body} for key, body in pending.items()],
            )
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            pending = {key: body for key, body in pending.items() if key in failed}
            if not pending:
                break
        else:
            raise QueueError(f"{len(pending)} messages not accepted by {queue_url}")
    return calls


def _groups(bodies: Sequence[str]) -> list[list[str]]:
    groups: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if not groups or len(groups[-1]) == BATCH_ENTRIES or size + length > BATCH_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(body)
        size += length
    return groups
