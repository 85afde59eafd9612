"""GET /streams/{streamId}: a stream as the app shows it."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.params import StreamIdPath
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.streams import lifecycle
from reels_live.streams.schemas import StreamView

app = http_api()


@app.get(
    "/streams/<streamId>",
    summary="Read a stream",
    operation_id="getStream",
    responses=documented((200, StreamView, "The stream"), 401, 404),
    tags=["streams"],
)
@tracer.capture_method
def get_stream(streamId: StreamIdPath) -> StreamView:
    return lifecycle.get_stream(streamId)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
