"""Environment parsed once per container into typed settings (template.yaml sets every variable)."""

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Everything a function reads from its environment; names match template.yaml's variables."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    table_name: str = Field(alias="TABLE_NAME")
    livekit_url: str = Field(default="", alias="LIVEKIT_URL")
    livekit_credentials_secret: str = Field(default="", alias="LIVEKIT_CREDENTIALS_SECRET")
    # Powertools Parameters cache: a rotated secret is picked up within this many seconds.
    livekit_credentials_max_age_seconds: int = Field(default=300, alias="LIVEKIT_CREDENTIALS_MAX_AGE_SECONDS")
    broadcaster_token_ttl_seconds: int = Field(default=3600, alias="BROADCASTER_TOKEN_TTL_SECONDS", gt=0)
    viewer_token_ttl_seconds: int = Field(default=600, alias="VIEWER_TOKEN_TTL_SECONDS", gt=0)
    room_empty_timeout_seconds: int = Field(default=300, alias="ROOM_EMPTY_TIMEOUT_SECONDS", ge=0)
    room_departure_timeout_seconds: int = Field(default=60, alias="ROOM_DEPARTURE_TIMEOUT_SECONDS", ge=0)
    room_max_participants: int = Field(default=1000, alias="ROOM_MAX_PARTICIPANTS", ge=0)
    recordings_bucket: str = Field(default="", alias="RECORDINGS_BUCKET")
    egress_role_arn: str = Field(default="", alias="EGRESS_ROLE_ARN")
    egress_external_id: str = Field(default="", alias="EGRESS_EXTERNAL_ID")
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    stream_create_limit_per_hour: int = Field(default=10, alias="STREAM_CREATE_LIMIT_PER_HOUR", gt=0)
    idempotency_ttl_seconds: int = Field(default=86400, alias="IDEMPOTENCY_TTL_SECONDS", gt=0)
    livekit_attempts: int = Field(default=3, alias="LIVEKIT_ATTEMPTS", ge=1)
    livekit_timeout_seconds: float = Field(default=5.0, alias="LIVEKIT_TIMEOUT_SECONDS", gt=0)

    # Social surface and go-live notifications (issue 9).
    go_live_queue_url: str = Field(default="", alias="GO_LIVE_QUEUE_URL")
    notification_chunk_queue_url: str = Field(default="", alias="NOTIFICATION_CHUNK_QUEUE_URL")
    notification_chunk_size: int = Field(default=500, alias="NOTIFICATION_CHUNK_SIZE", ge=1, le=2000)
    # The chunk queue's ScalingConfig.MaximumConcurrency: each invocation gets this share of the SES rate.
    notification_delivery_concurrency: int = Field(
        default=10, alias="NOTIFICATION_DELIVERY_CONCURRENCY", ge=1
    )
    # Threads one delivering invocation uses for its per-recipient claims and per-device publishes.
    delivery_workers: int = Field(default=16, alias="DELIVERY_WORKERS", ge=1)
    ses_max_send_rate: float = Field(default=14, alias="SES_MAX_SEND_RATE", gt=0)
    go_live_cooldown_seconds: int = Field(default=1800, alias="GO_LIVE_COOLDOWN_SECONDS", ge=0)
    inbox_retention_days: int = Field(default=30, alias="INBOX_RETENTION_DAYS", gt=0)
    stream_link_base_url: str = Field(default="", alias="STREAM_LINK_BASE_URL")
    email_template_name: str = Field(default="", alias="EMAIL_TEMPLATE_NAME")
    email_configuration_set: str = Field(default="", alias="EMAIL_CONFIGURATION_SET")
    email_sender_address: str = Field(default="", alias="EMAIL_SENDER_ADDRESS")
    unsubscribe_url: str = Field(default="", alias="UNSUBSCRIBE_URL")
    unsubscribe_secret_arn: str = Field(default="", alias="UNSUBSCRIBE_SECRET_ARN")
    # Mailbox providers may send the one-click POST long after delivery, so links live for months.
    unsubscribe_link_ttl_days: int = Field(default=90, alias="UNSUBSCRIBE_LINK_TTL_DAYS", gt=0)
    unsubscribe_secret_max_age_seconds: int = Field(default=300, alias="UNSUBSCRIBE_SECRET_MAX_AGE_SECONDS")
    apns_platform_application_arn: str = Field(default="", alias="APNS_PLATFORM_APPLICATION_ARN")
    apns_sandbox_platform_application_arn: str = Field(
        default="", alias="APNS_SANDBOX_PLATFORM_APPLICATION_ARN"
    )
    fcm_platform_application_arn: str = Field(default="", alias="FCM_PLATFORM_APPLICATION_ARN")

    # LiveKit webhooks and the reconciler (issue 8); they send to GO_LIVE_QUEUE_URL (above) too.
    # LiveKit retries a webhook within about a minute; ids are remembered far longer than that.
    webhook_event_ttl_seconds: int = Field(default=86400, alias="WEBHOOK_EVENT_TTL_SECONDS", gt=0)
    preparing_grace_seconds: int = Field(default=600, alias="PREPARING_GRACE_SECONDS", gt=0)
    recording_grace_seconds: int = Field(default=1800, alias="RECORDING_GRACE_SECONDS", gt=0)
    # Calls the reconciler keeps in flight to LiveKit at once.
    reconciler_concurrency: int = Field(default=32, alias="RECONCILER_CONCURRENCY", ge=1)


@cache
def settings() -> Settings:
    """The container's settings, read from the environment on first use."""
    return Settings.model_validate(dict(os.environ))
