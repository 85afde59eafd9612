"""Profiles: made on a user's first sight, the verified email refreshed from every sign-in."""

from reels_live.core import clock
from reels_live.core.observability import logger
from reels_live.entities.people import Profile, SignIn
from reels_live.social.schemas import ProfileView, UpdateProfileRequest
from reels_live.store import profiles as store


def my_profile(user_id: str, sign_in: SignIn) -> ProfileView:
    """The caller's profile, created on first sight, with the verified email refreshed from the sign-in."""
    now = clock.now_ms()
    profile = store.get_profile(user_id, consistent=True)
    if profile is None:
        profile = store.create_profile(
            Profile(
                user_id=user_id,
                display_name=sign_in.name,
                email=sign_in.verified_email,
                created_at=now,
                updated_at=now,
            )
        )
        logger.info("profile created", extra={"user_id": user_id})
    new_email = _email_after(profile.email, sign_in)
    if new_email != profile.email:
        store.set_email(user_id, new_email, now_ms=now)
        profile = profile.model_copy(update={"email": new_email, "updated_at": now})
    return ProfileView.of(profile)


def update_my_profile(user_id: str, sign_in: SignIn, request: UpdateProfileRequest) -> ProfileView:
    profile = store.update_profile(
        user_id,
        display_name=request.display_name,
        bio=request.bio,
        email=sign_in.verified_email,
        drop_email=sign_in.email_unverified,
        now_ms=clock.now_ms(),
    )
    return ProfileView.of(profile)


def _email_after(current: str | None, sign_in: SignIn) -> str | None:
    """Only an address the identity provider verified is ever ours to mail; an unverified one revokes it."""
    if sign_in.verified_email:
        return sign_in.verified_email
    return None if sign_in.email_unverified else current
