"""GoLiveQueue consumer: a stream went live; its creator's followers become notification chunks.

Messages are `{"streamId"}`, delivered after the settle delay and maybe more than once; failures are
reported per message (ReportBatchItemFailures), so one bad message never holds back the others.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live import clock, notifications
from reels_live.models import GoLiveMessage
from reels_live.observability import logger, metrics, tracer


class GoLiveRecord(SqsRecordModel):
    body: Json[GoLiveMessage]  # type: ignore[assignment]


processor = BatchProcessor(event_type=EventType.SQS, model=GoLiveRecord, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: GoLiveRecord, lambda_context: LambdaContext) -> None:
    logger.append_keys(stream_id=record.body.stream_id)
    deadline = clock.now_ms() + lambda_context.get_remaining_time_in_millis()
    notifications.announce_go_live(record.body, deadline_ms=deadline)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
