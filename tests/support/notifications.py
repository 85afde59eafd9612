"""The go-live notification pipeline run by hand: the notifier on go-live messages, delivery on its chunks."""

import json

from tests.support import queues
from tests.support.social import STREAM_ID


def go_live_message(stream_id: str = STREAM_ID) -> str:
    """The body the webhook side puts on GoLiveQueue when a stream goes live."""
    return json.dumps({"streamId": stream_id})


def run_notifier(*bodies: str, remaining_ms: int | None = None) -> list[str]:
    """NotifyFollowersFunction on these go-live messages (STREAM_ID's by default); the failed message ids."""
    return queues.invoke(
        "NotifyFollowersFunction",
        list(bodies or [go_live_message()]),
        queue="GoLiveQueue",
        remaining_ms=remaining_ms,
    )


def deliver_chunks(chunks: list[dict]) -> list[str]:
    """DeliverNotificationsFunction on each chunk (one invocation each, as batch size 1 does); failed ids."""
    failed = []
    for chunk in chunks:
        failed += queues.invoke(
            "DeliverNotificationsFunction", [json.dumps(chunk)], queue="NotificationChunkQueue"
        )
    return failed
