"""Go-live fan-out rules: who hears that a creator went live, on which channel, once.

Two steps, each an SQS consumer:

1. `announce_go_live` (GoLiveQueue, after the settle delay): deduplicate by stream id with the announcement
   item, read the stream once (not live any more: nobody is alerted), fix what the alert says, then page the
   creator's followers by key and enqueue chunks of recipients (SendMessageBatch), checkpointing after every
   page so a crash or a continuation resumes where it stopped.
2. `deliver_chunk` (the chunk queue, concurrency capped by its event source mapping): per recipient, apply
   preferences, mutes, quiet hours and the cooldown, claim the recipient with a conditional write, then write
   in-app items and push right away and send email paced at this invocation's share of the SES rate.

Exactly once, as far as the services allow: each (follower, creator) has an alert marker. A chunk claims a
recipient before sending and records each finished step (in-app + push, then email) in the marker in the
batch write right after the send. A duplicate or retried chunk finds the marker and skips what was done; a
crashed chunk's claims lapse with its lease and the SQS retry takes them over. The one window left: a crash
between SNS/SES accepting a group's sends and that group's marker write (one BatchWriteItem, milliseconds)
makes the retry send that group again.
"""

import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time
from functools import cache
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from reels_live import clock, email, ids, push, queues, social, unsubscribe
from reels_live.config import Settings, settings
from reels_live.models import (
    AnnouncementStatus,
    GoLiveContent,
    GoLiveMessage,
    Notification,
    NotificationChunk,
    NotificationKind,
    QuietHours,
    Recipient,
    StreamStatus,
)
from reels_live.observability import logger, metrics
from reels_live.store import notifications as store
from reels_live.store import social as social_store
from reels_live.store import streams as stream_store
from reels_live.store.notifications import AlertState, Claim

CHUNKS_PER_PAGE = 10  # one SendMessageBatch per page of followers
GROUP_SIZE = 50  # recipients whose in-app and push are recorded together (the duplicate window's size)
RESERVE_MS = 15_000  # kept back at the end of an invocation for the last writes
LEASE_MARGIN_MS = 30_000  # a claim outlives its invocation's deadline by this much, so it is never stolen
EMAIL_BUDGET_SECONDS = 60  # a chunk's paced email must fit in this, at the invocation's share of the rate
EMAIL_ATTEMPTS = 5  # per SendBulkEmail group before SES counts as down for the rest of the chunk
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 16.0
ANNOUNCEMENT_TTL_SECONDS = 30 * 86_400


# ---------------------------------------------------------------- step 1: go-live -> chunks


@dataclass
class FanoutReport:
    outcome: str  # announced | continued | duplicate | not_live
    chunks: int = 0
    recipients: int = 0


def announce_go_live(message: GoLiveMessage, *, deadline_ms: int) -> FanoutReport:
    """Turn one go-live message into chunk messages for every follower (or nothing, if it is a duplicate or
    the stream is no longer live)."""
    stream_id = message.stream_id
    now = clock.now_ms()
    token = ids.new_id()
    announcement = store.claim_announcement(
        stream_id,
        token=token,
        now_ms=now,
        lease_until_ms=deadline_ms + LEASE_MARGIN_MS,
        expires_at_s=now // 1000 + ANNOUNCEMENT_TTL_SECONDS,
    )
    if announcement is None:
        logger.info("go-live already announced or in progress", extra={"stream_id": stream_id})
        metrics.add_metric(name="GoLiveDuplicate", unit=MetricUnit.Count, value=1)
        return FanoutReport("duplicate")
    content = announcement.content or _content_if_live(stream_id)
    if content is None:
        store.finish(stream_id, token, AnnouncementStatus.SKIPPED, reason="not_live")
        logger.info(
            "stream no longer live after the settle delay; nobody alerted", extra={"stream_id": stream_id}
        )
        metrics.add_metric(name="GoLiveSkippedNotLive", unit=MetricUnit.Count, value=1)
        return FanoutReport("not_live")
    if announcement.content is None:
        store.start_fanout(stream_id, token, content)

    config = settings()
    size = chunk_size(config)
    cursor, pages = announcement.cursor, announcement.pages
    chunks, recipients = announcement.chunks, announcement.recipients
    report = FanoutReport("announced")
    # pages > 0 with no cursor: an earlier attempt paged everyone and crashed before finishing.
    while not (pages and cursor is None):
        page = store.follower_ids(content.creator_id, cursor=cursor, limit=size * CHUNKS_PER_PAGE)
        bodies = [
            NotificationChunk(
                **content.model_dump(), chunk_id=f"{stream_id}:{pages}:{index}", recipient_ids=group
            ).model_dump_json(by_alias=True, exclude_none=True)
            for index, group in enumerate(_batched(page.user_ids, size))
        ]
        queues.send_batch(config.notification_chunk_queue_url, bodies)
        pages, cursor = pages + 1, page.cursor
        chunks, recipients = chunks + len(bodies), recipients + len(page.user_ids)
        report.chunks, report.recipients = report.chunks + len(bodies), report.recipients + len(page.user_ids)
        store.checkpoint(stream_id, token, cursor=cursor, pages=pages, chunks=chunks, recipients=recipients)
        if cursor is not None and clock.now_ms() > deadline_ms - RESERVE_MS:
            # Out of time: hand the rest to a fresh invocation rather than holding it here.
            store.release(stream_id, token)
            # No settle delay for a continuation: the stream was found live already.
            queues.send(config.go_live_queue_url, message.model_dump_json(by_alias=True), delay_seconds=0)
            report.outcome = "continued"
            metrics.add_metric(name="GoLiveFanoutContinued", unit=MetricUnit.Count, value=1)
            break
    else:
        store.finish(stream_id, token, AnnouncementStatus.DONE)
        metrics.add_metric(name="GoLiveAnnounced", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="NotificationChunksEnqueued", unit=MetricUnit.Count, value=report.chunks)
    metrics.add_metric(name="FollowersPaged", unit=MetricUnit.Count, value=report.recipients)
    logger.info(
        "go-live fan-out",
        extra={
            "stream_id": stream_id,
            "outcome": report.outcome,
            "chunks": report.chunks,
            "recipients": report.recipients,
            "total_recipients": recipients,
        },
    )
    return report


def _content_if_live(stream_id: str) -> GoLiveContent | None:
    """What the alert says, from the one read of the stream; None if it ended (or errored) meanwhile."""
    stream = stream_store.get_stream(stream_id, consistent=True)
    if stream is None or stream.status is not StreamStatus.LIVE:
        return None
    creator = social_store.get_profile(stream.author_id)
    return GoLiveContent(
        stream_id=stream_id,
        creator_id=stream.author_id,
        creator_name=creator.display_name if creator else None,
        title=stream.title,
        link=f"{settings().stream_link_base_url}{stream_id}",
        started_at=stream.started_at or clock.now_ms(),
    )


def email_rate(config: Settings) -> float:
    """Recipients a second one delivering invocation may send: the account's SES rate over the chunk
    queue's MaximumConcurrency, so all of them together stay within the account's rate."""
    return config.ses_max_send_rate / config.notification_delivery_concurrency


def chunk_size(config: Settings) -> int:
    """Recipients per chunk: the configured size, smaller when a chunk's paced email would not fit."""
    fits = int(email_rate(config) * EMAIL_BUDGET_SECONDS)
    return max(1, min(config.notification_chunk_size, fits))


def destinations_per_call(config: Settings) -> int:
    """SES counts every destination against the rate, so a call never carries more than a second's share."""
    return max(1, min(email.MAX_DESTINATIONS, int(email_rate(config))))


# ---------------------------------------------------------------- step 2: chunk -> email, push, in-app


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

    def claim(candidate: tuple[Recipient, Channels]) -> store.AlertClaim:
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

    for group in _batched([plan for plan in plans if not plan.email_only], GROUP_SIZE):
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
                social_store.inbox_item(plan.recipient.user_id, notification, expires_at_s=expires_at)
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
            push.publish_go_live(
                device.endpoint_arn,
                title=f"{who} is live",
                body=chunk.title,
                data={"streamId": chunk.stream_id, "link": chunk.link},
                collapse_key=f"live-{chunk.creator_id}",
            )
            result.sent += 1
        except push.EndpointGone:
            social.remove_device(recipient.user_id, device.device_id)
            result.removed += 1
            logger.info("push endpoint gone; device removed", extra={"user_id": recipient.user_id})
        except push.PushError as error:
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
    for group in _batched(plans, destinations_per_call(config)):
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
            outcomes = email.send_bulk(destinations, default_data=shared)
        except email.EmailThrottled as error:
            report.email_throttled += 1
            logger.warning("SES throttled", extra={"attempt": attempt + 1, "error": str(error)})
            if not _wait_within(_backoff(attempt), deadline_ms):
                break
            continue
        except email.EmailUnavailable as error:
            logger.error("SES unavailable; email skipped for this chunk", extra={"error": str(error)})
            report.email_not_sent += len(pending)
            return True
        report.email_sent += outcomes.count(email.Outcome.SENT)
        report.email_rejected += outcomes.count(email.Outcome.REJECTED)
        if email.Outcome.DOWN in outcomes:
            report.email_not_sent += outcomes.count(email.Outcome.DOWN) + outcomes.count(email.Outcome.RETRY)
            return True
        pending = [
            plan for plan, outcome in zip(pending, outcomes, strict=True) if outcome is email.Outcome.RETRY
        ]
        if not pending:
            return False
        if not _wait_within(_backoff(attempt), deadline_ms):
            break
    report.email_not_sent += len(pending)
    logger.error(
        "SES stayed unavailable; email skipped for the rest of this chunk", extra={"not_sent": len(pending)}
    )
    return True


def _destination(recipient: Recipient, shared: dict[str, str]) -> email.Destination:
    assert recipient.email is not None
    link = unsubscribe.link(recipient.user_id)
    return email.Destination(
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


def _backoff(attempt: int) -> float:
    """Full jitter: 0..min(cap, base * 2^attempt) seconds, so throttled invocations spread out."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def _marker(plan: _Plan, chunk: NotificationChunk, state: AlertState, now_ms: int) -> dict:
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


def _batched[T](values: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
