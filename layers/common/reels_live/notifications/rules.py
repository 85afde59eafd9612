"""Who hears a go-live alert on which channel, and the pace email may go at: pure rules, no I/O."""

from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from reels_live.core.config import Settings
from reels_live.entities.notifications import Recipient
from reels_live.entities.preferences import QuietHours

EMAIL_BUDGET_SECONDS = 60  # a chunk's paced email must fit in this, at the invocation's share of the rate


def email_rate(config: Settings) -> float:
    """Recipients a second one delivering invocation may send: the account's SES rate over the chunk
    queue's MaximumConcurrency, so all of them together stay within the account's rate."""
    return config.ses_max_send_rate / config.notification_delivery_concurrency


def chunk_size(config: Settings) -> int:
    """Recipients per chunk: the configured size, smaller when a chunk's paced email would not fit."""
    fits = int(email_rate(config) * EMAIL_BUDGET_SECONDS)
    return max(1, min(config.notification_chunk_size, fits))


@dataclass(frozen=True)
class Channels:
    email: bool
    push: bool
    in_app: bool

    @property
    def any(self) -> bool:
        return self.email or self.push or self.in_app


NO_CHANNEL = Channels(email=False, push=False, in_app=False)


def in_quiet_hours(quiet: QuietHours | None, now_ms: int) -> bool:
    """Whether `now` falls in the user's quiet hours, in their own time zone (spans over midnight work)."""
    if quiet is None:
        return False
    local = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(quiet.time_zone)).time()
    start, end = clock_time.fromisoformat(quiet.start), clock_time.fromisoformat(quiet.end)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def channels_for(recipient: Recipient, creator_id: str, now_ms: int) -> Channels:
    """Where this alert may reach this recipient: mutes and switches first, then what they can receive;
    push is dropped during quiet hours (a late go-live alert is stale), in-app and email stay."""
    preferences = recipient.preferences
    if creator_id in preferences.muted_creator_ids:
        return NO_CHANNEL
    return Channels(
        email=preferences.go_live.email and recipient.email is not None,
        push=preferences.go_live.push
        and bool(recipient.devices)
        and not in_quiet_hours(preferences.quiet_hours, now_ms),
        in_app=preferences.go_live.in_app,
    )
