"""GoLiveQueue consumer: a stream went live; its creator's followers become notification chunks.

Messages are `{"streamId"}`, delivered after the settle delay and maybe more than once; failures are
reported per message (ReportBatchItemFailures), so one bad message never holds back the others.
"""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.core import clock
from reels_live.core.observability import logger, metrics, tracer
from reels_live.notifications import fanout
from reels_live.notifications.messages import GoLiveMessage

# The body is parsed with our own model (a bad one fails just its record); the parser utility's event
# models would add ~0.2 s to every cold start.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    message = GoLiveMessage.model_validate_json(record.body)
    logger.append_keys(stream_id=message.stream_id)
    deadline = clock.now_ms() + lambda_context.get_remaining_time_in_millis()
    fanout.announce_go_live(message, deadline_ms=deadline)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
