"""GET /streams?status=live: live streams, most recently started first, one page at a time."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.streams import listings
from reels_live.streams.schemas import StreamPage

app = http_api()

Status = Annotated[Literal["live"], Query(description="Which streams: only `live` is listed")]
Limit = Annotated[int, Query(ge=1, le=50, description="Page size")]
Cursor = Annotated[
    str | None, Query(min_length=1, max_length=2048, description="`nextCursor` of the previous page")
]


@app.get(
    "/streams",
    summary="Live streams, newest first",
    operation_id="listLiveStreams",
    responses=documented((200, StreamPage, "A page of live streams (isSensitive: blur until opted in)"), 401),
    tags=["streams"],
)
@tracer.capture_method
def list_streams(status: Status = "live", limit: Limit = 20, cursor: Cursor = None) -> StreamPage:  # noqa: ARG001 (one status today)
    return listings.live_streams(limit=limit, cursor=cursor)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
