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


@cache
def settings() -> Settings:
    """The container's settings, read from the environment on first use."""
    return Settings.model_validate(dict(os.environ))
