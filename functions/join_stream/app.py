"""POST /streams/{streamId}/join: admission to a stream's room (viewers never get to publish)."""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live import streams
from reels_live.http import StreamIdPath, caller_id, documented, http_api
from reels_live.models import StreamWithConnection
from reels_live.observability import logger, metrics, tracer

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
    return streams.join_stream(streamId, caller_id(app))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
