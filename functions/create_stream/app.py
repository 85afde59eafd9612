"""POST /streams: a creator starts a live stream and gets a token to publish with."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id
from reels_live.api.idempotency import once_per_key
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.streams import lifecycle
from reels_live.streams.schemas import CreateStreamRequest, StreamWithConnection

app = http_api()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="idempotency-key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Makes a retry return the first answer (per caller, 24 h)",
    ),
]


@app.post(
    "/streams",
    status_code=201,
    summary="Start a live stream",
    operation_id="createStream",
    responses=documented(
        (201, StreamWithConnection, "The stream, preparing, and how to publish"), 401, 409, 429, 503
    ),
    tags=["streams"],
)
@tracer.capture_method
def create_stream(
    request: CreateStreamRequest, idempotency_key: IdempotencyKey = None
) -> StreamWithConnection:
    author = caller_id(app)
    return once_per_key(
        "create_stream",
        caller=author,
        key=idempotency_key,
        request=request,
        run=lambda: lifecycle.start_stream(author, request),
        lambda_context=app.lambda_context,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
