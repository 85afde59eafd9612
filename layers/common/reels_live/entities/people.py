"""People: a user's profile, their push devices, and what their sign-in says about them."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from reels_live.entities.base import CamelModel

# User ids come from the identity provider's `sub`; '#' is excluded so an id can never forge a table key.
UserId = Annotated[str, StringConstraints(pattern=r"^[\w.|:@-]{1,128}$")]


class Profile(CamelModel):
    """A user as stored; `email` is the identity provider's verified address and never leaves its owner."""

    model_config = ConfigDict(extra="ignore")

    user_id: str
    display_name: str | None = None
    bio: str | None = None
    email: str | None = None
    follower_count: int = 0
    following_count: int = 0
    created_at: int
    updated_at: int


class Platform(StrEnum):
    IOS = "ios"
    IOS_SANDBOX = "ios_sandbox"
    ANDROID = "android"


class Device(CamelModel):
    """A registered push device as stored (inside the user's DEVICES item)."""

    model_config = ConfigDict(extra="ignore")

    device_id: str
    platform: Platform
    endpoint_arn: str
    token_hash: str
    created_at: int
    updated_at: int


class SignIn(BaseModel):
    """What the caller's token says about their email: the address only counts when the provider verified it."""

    verified_email: str | None = None
    # The token carries an address it does not vouch for (changed, pending verification): stop using ours.
    email_unverified: bool = False
    name: str | None = None
