"""What the LiveKit webhook route answers."""

from pydantic import Field

from reels_live.entities.base import CamelModel


class WebhookReceipt(CamelModel):
    """What the webhook did with an event (LiveKit only looks at the status)."""

    outcome: str = Field(
        description="What the event changed: go_live, viewer_joined, duplicate, ignored, ..."
    )
