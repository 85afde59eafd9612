"""POST /streams/{streamId}/join: admission to a stream's room (viewers never get to publish)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id
from reels_live.api.params import StreamIdPath
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.streams import lifecycle
from reels_live.streams.schemas import StreamWithConnection

app = http_api()


@app.post(
    "/streams/<streamId>/join",
    summary="Join a stream",
    operation_id="joinStream",
    responses=documented((200, StreamWithConnection, "How to connect"), 401, 402, 404, 410),
    tags=["streams"],
)
@tracer.capture_method
def join_stream(streamId: StreamIdPath) -> StreamWithConnection:
    return lifecycle.join_stream(streamId, caller_id(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
