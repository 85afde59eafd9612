"""The go-live outbox: a stream that went live carries `goLivePending` until its message is on the queue.

The marker is written in the same transaction as the transition to live, so a crash before the send
cannot lose the message: the next event for the stream, a retried webhook or the reconciler finds the
marker and sends again. The message may go out more than once; the notifier deduplicates by stream id.
The queue's own DelaySeconds is the settle delay, so a flapping broadcaster sets off no alert.
"""

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from reels_live.core.config import settings
from reels_live.core.observability import logger, metrics
from reels_live.entities.streams import Stream
from reels_live.integrations import sqs
from reels_live.notifications.messages import GoLiveMessage
from reels_live.store import live as live_store


def announce(stream: Stream) -> bool:
    """Send `{"streamId"}` to the go-live queue and clear the marker; False (marker kept) if SQS failed."""
    try:
        sqs.send(
            settings().go_live_queue_url,
            GoLiveMessage(stream_id=stream.stream_id).model_dump_json(by_alias=True),
        )
    except (BotoCoreError, ClientError) as error:
        # The marker stays: the next event for this stream or the reconciler sends it.
        logger.warning("go-live message not sent", extra={"stream_id": stream.stream_id, "error": str(error)})
        metrics.add_metric(name="GoLiveSendFailed", unit=MetricUnit.Count, value=1)
        return False
    live_store.clear_go_live_pending(stream.stream_id)
    metrics.add_metric(name="GoLiveEnqueued", unit=MetricUnit.Count, value=1)
    logger.info("go-live announced", extra={"stream_id": stream.stream_id, "user_id": stream.author_id})
    return True
