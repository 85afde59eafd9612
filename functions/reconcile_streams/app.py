"""Every minute (EventBridge schedule): compare preparing, live and unsettled streams with LiveKit."""

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.core.observability import logger, metrics, tracer
from reels_live.live import reconciler


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(schedule=event.resources[0] if event.resources else None)
    return reconciler.reconcile(remaining_ms=context.get_remaining_time_in_millis).as_dict()
