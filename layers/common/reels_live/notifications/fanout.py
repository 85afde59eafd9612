"""Step 1 of a go-live alert: one go-live message becomes chunks of recipients (GoLiveQueue consumer).

Deduplicate by stream id with the announcement item, read the stream once (not live any more: nobody is
alerted), fix what the alert says, then page the creator's followers by key and enqueue chunks of
recipients (SendMessageBatch), checkpointing after every page so a crash or a continuation resumes where it
stopped. Step 2 is `delivery`.
"""

from dataclasses import dataclass
from itertools import batched

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock, ids
from reels_live.core.config import settings
from reels_live.core.observability import logger, metrics
from reels_live.entities.lifecycle import StreamStatus
from reels_live.entities.notifications import AnnouncementStatus, GoLiveContent
from reels_live.integrations import sqs
from reels_live.notifications.messages import GoLiveMessage, NotificationChunk
from reels_live.notifications.rules import chunk_size
from reels_live.store import notifications as store
from reels_live.store import profiles as profile_store
from reels_live.store import streams as stream_store

CHUNKS_PER_PAGE = 10  # one SendMessageBatch per page of followers
RESERVE_MS = 15_000  # kept back at the end of an invocation for the last writes
LEASE_MARGIN_MS = 30_000  # a claim outlives its invocation's deadline by this much, so it is never stolen
ANNOUNCEMENT_TTL_SECONDS = 30 * 86_400


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
                **content.model_dump(), chunk_id=f"{stream_id}:{pages}:{index}", recipient_ids=list(group)
            ).model_dump_json(by_alias=True, exclude_none=True)
            for index, group in enumerate(batched(page.user_ids, size))
        ]
        sqs.send_batch(config.notification_chunk_queue_url, bodies)
        pages, cursor = pages + 1, page.cursor
        chunks, recipients = chunks + len(bodies), recipients + len(page.user_ids)
        report.chunks, report.recipients = report.chunks + len(bodies), report.recipients + len(page.user_ids)
        store.checkpoint(stream_id, token, cursor=cursor, pages=pages, chunks=chunks, recipients=recipients)
        if cursor is not None and clock.now_ms() > deadline_ms - RESERVE_MS:
            # Out of time: hand the rest to a fresh invocation rather than holding it here.
            store.release(stream_id, token)
            # No settle delay for a continuation: the stream was found live already.
            sqs.send(config.go_live_queue_url, message.model_dump_json(by_alias=True), delay_seconds=0)
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
    creator = profile_store.get_profile(stream.author_id)
    return GoLiveContent(
        stream_id=stream_id,
        creator_id=stream.author_id,
        creator_name=creator.display_name if creator else None,
        title=stream.title,
        link=f"{settings().stream_link_base_url}{stream_id}",
        started_at=stream.started_at or clock.now_ms(),
    )
