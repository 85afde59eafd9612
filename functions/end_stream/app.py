"""POST /streams/{streamId}/end: the creator ends the stream (repeating it answers the ended stream)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id
from reels_live.api.params import StreamIdPath
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.streams import lifecycle
from reels_live.streams.schemas import EndStreamRequest, StreamView

app = http_api()


@app.post(
    "/streams/<streamId>/end",
    summary="End a stream",
    operation_id="endStream",
    responses=documented((200, StreamView, "The ended stream"), 401, 403, 404),
    tags=["streams"],
)
@tracer.capture_method
def end_stream(streamId: StreamIdPath, request: EndStreamRequest | None = None) -> StreamView:
    save_as_reel = request.save_as_reel if request else False
    return lifecycle.end_stream(streamId, caller_id(app), save_as_reel=save_as_reel)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
