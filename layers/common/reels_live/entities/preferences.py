"""A user's go-live alert preferences as stored (and as `/me/notification-preferences` reads and writes them)."""

from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints, ValidationInfo, field_validator

from reels_live.entities.base import RequestModel
from reels_live.entities.people import UserId

ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class GoLiveChannels(RequestModel):
    """Where go-live alerts may reach the user."""

    email: StrictBool = True
    push: StrictBool = True
    in_app: StrictBool = True


class QuietHours(RequestModel):
    """Local times (in `timeZone`) between which push is dropped; may span midnight (22:00-07:00)."""

    start: ClockTime = Field(description="HH:MM, 24-hour clock")
    end: ClockTime = Field(description="HH:MM, 24-hour clock; not equal to start")
    time_zone: str = Field(min_length=1, max_length=64, description="IANA time zone, e.g. Europe/Paris")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except (ValueError, OSError, KeyError) as error:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError("must be an IANA time zone such as Europe/Paris") from error
        return value

    @field_validator("end")
    @classmethod
    def _not_empty(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("start"):
            raise ValueError("must differ from start")
        return value


class NotificationPreferences(RequestModel):
    """`GET`/`PUT /me/notification-preferences` (PUT replaces the whole document)."""

    go_live: GoLiveChannels = Field(default_factory=GoLiveChannels)
    muted_creator_ids: Annotated[list[UserId], Field(max_length=1000)] = Field(
        default_factory=list, description="Creators whose go-live alerts you never get (any channel)"
    )
    quiet_hours: QuietHours | None = None

    @field_validator("muted_creator_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        return list(dict.fromkeys(ids))
