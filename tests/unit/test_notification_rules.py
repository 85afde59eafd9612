"""Fan-out rules that need no AWS: quiet hours, channels, chunk and call sizes, cursors, SQS batching."""

from datetime import UTC, datetime

import pytest

from reels_live.core.config import Settings
from reels_live.entities.notifications import Recipient
from reels_live.entities.people import Device, Platform
from reels_live.entities.preferences import NotificationPreferences, QuietHours
from reels_live.integrations import ses as email
from reels_live.integrations import sqs as queues
from reels_live.notifications import delivery, rules
from reels_live.store import cursors, keys


def at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("start", "end", "utc", "quiet"),
    [
        ("22:00", "07:00", "2026-07-01T21:30:00", True),  # 23:30 in Paris (UTC+2 in summer)
        ("22:00", "07:00", "2026-07-01T04:59:00", True),  # 06:59
        ("22:00", "07:00", "2026-07-01T05:00:00", False),  # 07:00: the end is not quiet
        ("22:00", "07:00", "2026-07-01T20:00:00", True),  # 22:00: the start is quiet
        ("22:00", "07:00", "2026-01-15T21:30:00", True),  # 22:30 in winter (UTC+1)
        ("22:00", "07:00", "2026-01-15T06:30:00", False),  # 07:30 in winter, 08:30 would be summer
        ("09:00", "17:00", "2026-01-15T12:00:00", True),  # 13:00 in Paris
        ("09:00", "17:00", "2026-01-15T17:00:00", False),  # 18:00
    ],
)
def test_quiet_hours_follow_the_users_time_zone_and_wrap_midnight(start, end, utc, quiet):
    hours = QuietHours(start=start, end=end, time_zone="Europe/Paris")

    assert rules.in_quiet_hours(hours, at(utc)) is quiet


def test_no_quiet_hours_is_never_quiet():
    assert rules.in_quiet_hours(None, at("2026-07-01T03:00:00")) is False


def recipient(**preferences) -> Recipient:
    device = Device(
        device_id="d", platform=Platform.IOS, endpoint_arn="arn", token_hash="h", created_at=0, updated_at=0
    )
    return Recipient(
        user_id="user-bob",
        email="bob@example.com",
        preferences=NotificationPreferences.model_validate(preferences),
        devices=[device],
    )


def test_a_muted_creator_gets_no_channel_at_all():
    channels = rules.channels_for(recipient(mutedCreatorIds=["user-alice"]), "user-alice", 0)

    assert channels == rules.NO_CHANNEL
    assert not channels.any


def test_channels_need_both_the_switch_and_a_way_to_reach_the_user():
    someone = recipient(goLive={"email": True, "push": False, "inApp": True})
    unreachable = someone.model_copy(update={"email": None, "devices": []})

    assert rules.channels_for(someone, "user-alice", 0) == rules.Channels(True, False, True)
    assert rules.channels_for(unreachable, "user-alice", 0) == rules.Channels(False, False, True)


def test_quiet_hours_only_drop_push():
    quiet = recipient(quietHours={"start": "00:00", "end": "23:59", "timeZone": "UTC"})

    assert rules.channels_for(quiet, "user-alice", at("2026-07-01T12:00:00")) == rules.Channels(
        email=True, push=False, in_app=True
    )


def settings(rate: float, concurrency: int, chunk: int = 500) -> Settings:
    return Settings.model_validate(
        {
            "TABLE_NAME": "t",
            "SES_MAX_SEND_RATE": rate,
            "NOTIFICATION_DELIVERY_CONCURRENCY": concurrency,
            "NOTIFICATION_CHUNK_SIZE": chunk,
        }
    )


@pytest.mark.parametrize(
    ("rate", "concurrency", "share", "per_call", "chunk"),
    [
        (14, 10, 1.4, 1, 84),  # SES's starting production rate: one destination a call
        (500, 10, 50.0, 50, 500),  # full 50-destination calls
        (10_000, 20, 500.0, 50, 500),  # the configured chunk size caps it
        (1, 2, 0.5, 1, 30),
    ],
)
def test_each_invocation_gets_its_share_of_the_ses_rate(rate, concurrency, share, per_call, chunk):
    config = settings(rate, concurrency)

    assert rules.email_rate(config) == pytest.approx(share)
    assert delivery.destinations_per_call(config) == per_call
    assert rules.chunk_size(config) == chunk


def test_sqs_batches_hold_ten_messages_and_at_most_256_kib():
    small = ["x" * 100] * 25
    large = ["y" * 100_000] * 5

    assert [len(group) for group in queues._groups(small)] == [10, 10, 5]
    assert [len(group) for group in queues._groups(large)] == [2, 2, 1]


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("SUCCESS", email.Outcome.SENT),
        ("ACCOUNT_THROTTLED", email.Outcome.RETRY),
        ("TRANSIENT_FAILURE", email.Outcome.RETRY),
        ("MESSAGE_REJECTED", email.Outcome.REJECTED),
        ("INVALID_PARAMETER", email.Outcome.REJECTED),
        ("ACCOUNT_SENDING_PAUSED", email.Outcome.DOWN),
        ("TEMPLATE_NOT_FOUND", email.Outcome.DOWN),
    ],
)
def test_ses_per_destination_statuses(status, outcome):
    assert email._outcome(status) is outcome


def test_a_cursor_round_trips_and_is_pinned_to_its_partition():
    key = keys.inbox("bob", "01J")
    cursor = cursors.encode(key)
    bobs, carols = {keys.PK: keys.user_partition("bob")}, {keys.PK: keys.user_partition("carol")}
    inbox, follows = {keys.SK: keys.INBOX_PREFIX}, {keys.SK: keys.FOLLOWS_PREFIX}

    assert cursors.decode(cursor, pinned=bobs, prefixes=inbox) == key
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode(cursor, pinned=carols, prefixes=inbox)
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode(cursor, pinned=bobs, prefixes=follows)
    with pytest.raises(cursors.InvalidCursor):
        cursors.decode(cursors.encode({**key, keys.GSI1PK: "x"}), pinned=bobs, prefixes=inbox)
    assert cursors.encode(None) is None
