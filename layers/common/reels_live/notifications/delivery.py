"""Step 2 of a go-live alert: one chunk of recipients gets email, push and in-app (chunk queue consumer).

Per recipient: apply preferences, mutes, quiet hours and the cooldown, claim the recipient with a
conditional write, then write in-app items and push right away and send email paced at this invocation's
share of the SES rate (the chunk queue's event source mapping caps concurrency).

Exactly once, as far as the services allow: each (follower, creator) has an alert marker. A chunk claims a
recipient before sending and records each finished step (in-app + push, then email) in the marker in the
batch write right after the send. A duplicate or retried chunk finds the marker and skips what was done; a
crashed chunk's claims lapse with its lease and the SQS retry takes them over. The one window left: a crash
between SNS/SES accepting a group's sends and that group's marker write (one BatchWriteItem, milliseconds)
makes the retry send that group again.
"""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from itertools import batched
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock, retry
from reels_live.core.config import Settings, settings
from reels_live.core.observability import logger, metrics
from reels_live.entities.notifications import (
    AlertClaim,
    AlertState,
    Claim,
    Notification,
    NotificationKind,
    Recipient,
)
from reels_live.integrations import ses, sns
from reels_live.notifications import unsubscribe
from reels_live.notifications.messages import NotificationChunk
from reels_live.notifications.rules import Channels, channels_for, email_rate
from reels_live.social import devices
from reels_live.store import inbox as inbox_store
from reels_live.store import notifications as store

GROUP_SIZE = 50  # recipients whose in-app and push are recorded together (the duplicate window's size)
RESERVE_MS = 15_000  # kept back at the end of an invocation for the last writes
LEASE_MARGIN_MS = 30_000  # a claim outlives its invocation's deadline by this much, so it is never stolen
EMAIL_ATTEMPTS = 5  # per SendBulkEmail group before SES counts as down for the rest of the chunk
# Full jitter, 1 s doubling, capped at 16 s: throttled invocations spread out.
EMAIL_BACKOFF = retry.Backoff(attempts=EMAIL_ATTEMPTS, base_seconds=1.0, cap_seconds=16.0)


def destinations_per_call(config: Settings) -> int:
    """SES counts every destination against the rate, so a call never carries more than a second's share."""
    return max(1, min(ses.MAX_DESTINATIONS, int(email_rate(config))))


@dataclass
class DeliveryReport:
    """What one chunk did, by outcome; becomes metrics and the log line."""

    skipped: dict[str, int] = field(default_factory=dict)
    in_app: int = 0
    push_sent: int = 0
    push_failed: int = 0
    push_quiet_hours: int = 0
    devices_removed: int = 0
    email_sent: int = 0
    email_rejected: int = 0
    email_not_sent: int = 0  # SES down, throttled beyond the backoff budget, or out of time
    email_throttled: int = 0  # throttled calls (each retried after a backoff)
    email_calls: int = 0
    writes: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass(frozen=True)
class _Plan:
    recipient: Recipient
    channels: Channels
    cooldown_until: int
    email_only: bool


def deliver_chunk(chunk: NotificationChunk, *, deadline_ms: int) -> DeliveryReport:
    """Deliver one chunk: claim each eligible recipient, land in-app and push at once, email paced."""
    config = settings()
    now = clock.now_ms()
    report = DeliveryReport()
    people = store.recipients(chunk.recipient_ids)
    eligible: list[tuple[Recipient, Channels]] = []
    for user_id in dict.fromkeys(chunk.recipient_ids):
        recipient = people[user_id]
        channels = channels_for(recipient, chunk.creator_id, now)
        if channels.any:
            eligible.append((recipient, channels))
        else:
            report.skip(
                "muted" if chunk.creator_id in recipient.preferences.muted_creator_ids else "switched_off"
            )

    def claim(candidate: tuple[Recipient, Channels]) -> AlertClaim:
        return store.claim_alert(
            candidate[0].user_id,
            chunk.creator_id,
            chunk.stream_id,
            now_ms=now,
            lease_until_ms=deadline_ms + LEASE_MARGIN_MS,
            cooldown_until_ms=now + config.go_live_cooldown_seconds * 1000,
        )

    plans: list[_Plan] = []
    # One conditional write per recipient (DynamoDB has no batched conditional write outside transactions),
    # issued from a few threads at once.
    for (recipient, channels), claimed in zip(eligible, _parallel(claim, eligible), strict=True):
        if not claimed.granted:
            report.skip(claimed.outcome.value)
            continue
        if recipient.preferences.go_live.push and recipient.devices and not channels.push:
            report.push_quiet_hours += 1
        plans.append(_Plan(recipient, channels, claimed.cooldown_until, claimed.outcome is Claim.EMAIL_ONLY))

    for group in batched([plan for plan in plans if not plan.email_only], GROUP_SIZE):
        _deliver_in_app_and_push(group, chunk, report)
    _deliver_email([plan for plan in plans if plan.channels.email], chunk, report, deadline_ms)
    # An email left over from a crashed attempt, for someone who has since switched email off.
    settled = [plan for plan in plans if plan.email_only and not plan.channels.email]
    if settled:
        now = clock.now_ms()
        report.writes += store.write([_marker(plan, chunk, AlertState.DELIVERED, now) for plan in settled])
    _emit(report, chunk)
    return report


def _deliver_in_app_and_push(
    group: Sequence[_Plan], chunk: NotificationChunk, report: DeliveryReport
) -> None:
    now = clock.now_ms()
    notification = Notification(
        notification_id=chunk.stream_id,
        kind=NotificationKind.GO_LIVE,
        stream_id=chunk.stream_id,
        creator_id=chunk.creator_id,
        creator_name=chunk.creator_name,
        title=chunk.title,
        link=chunk.link,
        created_at=now,
    )
    expires_at = now // 1000 + settings().inbox_retention_days * 86_400
    for result in _parallel(lambda plan: _push(plan.recipient, chunk), [p for p in group if p.channels.push]):
        report.push_sent += result.sent
        report.push_failed += result.failed
        report.devices_removed += result.removed
    items = []
    for plan in group:
        if plan.channels.in_app:
            items.append(
                inbox_store.inbox_item(plan.recipient.user_id, notification, expires_at_s=expires_at)
            )
            report.in_app += 1
        state = AlertState.EMAIL_PENDING if plan.channels.email else AlertState.DELIVERED
        items.append(_marker(plan, chunk, state, now))
    # Right after the sends: this write closes the group's duplicate window.
    report.writes += store.write(items)


@dataclass
class _PushResult:
    sent: int = 0
    failed: int = 0
    removed: int = 0


def _push(recipient: Recipient, chunk: NotificationChunk) -> _PushResult:
    """Publish to each of the recipient's devices; a disabled or deleted endpoint loses its device."""
    result = _PushResult()
    who = chunk.creator_name or "Someone you follow"
    for device in recipient.devices:
        try:
            sns.publish_go_live(
                device.endpoint_arn,
                title=f"{who} is live",
                body=chunk.title,
                data={"streamId": chunk.stream_id, "link": chunk.link},
                collapse_key=f"live-{chunk.creator_id}",
            )
            result.sent += 1
        except sns.EndpointGone:
            devices.remove_device(recipient.user_id, device.device_id)
            result.removed += 1
            logger.info("push endpoint gone; device removed", extra={"user_id": recipient.user_id})
        except sns.PushError as error:
            result.failed += 1
            logger.warning("push failed", extra={"user_id": recipient.user_id, "error": str(error)})
    return result


class _Pacer:
    """Spaces sends so this invocation stays at `rate` recipients a second (counted per destination)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next_free_ms = 0

    def reserve(self, recipients: int) -> float:
        """Seconds to wait before sending to `recipients`; books their share of the rate."""
        now = clock.now_ms()
        start = max(now, self.next_free_ms)
        self.next_free_ms = start + int(recipients / self.rate * 1000)
        return (start - now) / 1000


def _deliver_email(
    plans: list[_Plan], chunk: NotificationChunk, report: DeliveryReport, deadline_ms: int
) -> None:
    if not plans:
        return
    config = settings()
    pacer = _Pacer(email_rate(config))
    shared = {
        "creatorName": chunk.creator_name or "Someone you follow",
        "title": chunk.title,
        "link": chunk.link,
    }
    down = False
    for group in batched(plans, destinations_per_call(config)):
        if not down:
            down = _send_group(group, shared, pacer, report, deadline_ms)
        else:
            report.email_not_sent += len(group)
        # Sent, rejected or given up: either way this stream's email to them is settled.
        now = clock.now_ms()
        report.writes += store.write([_marker(plan, chunk, AlertState.DELIVERED, now) for plan in group])


def _send_group(
    group: Sequence[_Plan], shared: dict[str, str], pacer: _Pacer, report: DeliveryReport, deadline_ms: int
) -> bool:
    """Send one SendBulkEmail group with pacing and backoff; True when SES is down for the rest of the chunk."""
    pending = list(group)
    for attempt in range(EMAIL_ATTEMPTS):
        wait = pacer.reserve(len(pending))
        if not _wait_within(wait, deadline_ms):
            break
        destinations = [_destination(plan.recipient, shared) for plan in pending]
        report.email_calls += 1
        try:
            outcomes = ses.send_bulk(destinations, default_data=shared)
        except ses.EmailThrottled as error:
            report.email_throttled += 1
            logger.warning("SES throttled", extra={"attempt": attempt + 1, "error": str(error)})
            if not _wait_within(EMAIL_BACKOFF.delay(attempt), deadline_ms):
                break
            continue
        except ses.EmailUnavailable as error:
            logger.error("SES unavailable; email skipped for this chunk", extra={"error": str(error)})
            report.email_not_sent += len(pending)
            return True
        report.email_sent += outcomes.count(ses.Outcome.SENT)
        report.email_rejected += outcomes.count(ses.Outcome.REJECTED)
        if ses.Outcome.DOWN in outcomes:
            report.email_not_sent += outcomes.count(ses.Outcome.DOWN) + outcomes.count(ses.Outcome.RETRY)
            return True
        pending = [
            plan for plan, outcome in zip(pending, outcomes, strict=True) if outcome is ses.Outcome.RETRY
        ]
        if not pending:
            return False
        if not _wait_within(EMAIL_BACKOFF.delay(attempt), deadline_ms):
            break
    report.email_not_sent += len(pending)
    logger.error(
        "SES stayed unavailable; email skipped for the rest of this chunk", extra={"not_sent": len(pending)}
    )
    return True


def _destination(recipient: Recipient, shared: dict[str, str]) -> ses.Destination:
    assert recipient.email is not None
    link = unsubscribe.link(recipient.user_id)
    return ses.Destination(
        to=recipient.email,
        # Replacement data stands in for the default entirely, so it repeats the shared fields.
        template_data={**shared, "unsubscribeUrl": link},
        headers={"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _wait_within(seconds: float, deadline_ms: int) -> bool:
    """Sleep unless that would run into the time kept back for the last writes."""
    if clock.now_ms() + seconds * 1000 > deadline_ms - RESERVE_MS:
        return False
    if seconds > 0:
        clock.sleep(seconds)
    return True


def _marker(plan: _Plan, chunk: NotificationChunk, state: AlertState, now_ms: int) -> dict[str, Any]:
    return store.alert_item(
        plan.recipient.user_id,
        chunk.creator_id,
        chunk.stream_id,
        state,
        cooldown_until_ms=plan.cooldown_until,
        now_ms=now_ms,
    )


def _emit(report: DeliveryReport, chunk: NotificationChunk) -> None:
    counts = {
        "NotificationsInApp": report.in_app,
        "PushSent": report.push_sent,
        "PushNotSent": report.push_failed,
        "PushDroppedQuietHours": report.push_quiet_hours,
        "PushDevicesRemoved": report.devices_removed,
        "EmailSent": report.email_sent,
        "EmailRejected": report.email_rejected,
        "EmailNotSent": report.email_not_sent,
        "EmailThrottled": report.email_throttled,
        "RecipientsSkipped": sum(report.skipped.values()),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    logger.info(
        "chunk delivered",
        extra={"stream_id": chunk.stream_id, "chunk_id": chunk.chunk_id, **counts, "skipped": report.skipped},
    )


def _parallel[T, R](work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`work` over `items` on the container's thread pool (boto3 clients are thread-safe), results in order."""
    if len(items) <= 1:
        return [work(item) for item in items]
    return list(_executor().map(work, items))


@cache
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings().delivery_workers, thread_name_prefix="deliver")
