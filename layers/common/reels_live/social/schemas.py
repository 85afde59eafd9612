"""The social API's request and response bodies (profiles, follows, devices)."""

from typing import Annotated

from pydantic import Field, StringConstraints

from reels_live.entities.base import CamelModel, RequestModel
from reels_live.entities.people import Device, Platform, Profile
from reels_live.entities.text import Bio, DisplayName


class ProfileView(CamelModel):
    """`GET /me`: the caller's own profile."""

    user_id: str
    display_name: str | None
    bio: str | None
    email: str | None = Field(
        description="Your verified sign-in address (only you see it); go-live emails go here"
    )
    follower_count: int
    following_count: int
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, profile: Profile) -> "ProfileView":
        return cls.model_validate(profile.model_dump())


class UpdateProfileRequest(RequestModel):
    """Body of `PUT /me` (a full replacement of the editable fields; the email comes from the sign-in)."""

    display_name: DisplayName
    bio: Bio | None = None


class FollowState(CamelModel):
    """The caller's relation to a user after a follow or unfollow."""

    user_id: str
    following: bool
    follower_count: int


class UserSummary(CamelModel):
    """A person in a followers or following list (never their email)."""

    user_id: str
    display_name: str | None
    followed_at: int


class UserPage(CamelModel):
    items: list[UserSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class RegisterDeviceRequest(RequestModel):
    """Body of `POST /me/devices`: an APNs device token or an FCM registration token."""

    platform: Platform
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096, pattern=r"^[\x21-\x7e]+$")]


class DeviceView(CamelModel):
    device_id: str = Field(description="Stable for a token: registering the same token again returns it")
    platform: Platform
    created_at: int
    updated_at: int

    @classmethod
    def of(cls, device: Device) -> "DeviceView":
        return cls.model_validate(device.model_dump())
