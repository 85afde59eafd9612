"""POST /livekit/webhook: LiveKit's signed webhooks keep streams, viewers and recordings true.

Outside the JWT authorizer: the signature is the authentication. 401 for anything that does not verify
(nothing is written), 400 for a verified body that is not an event, 200 for everything else (applied,
duplicate, or a room this app does not own), 503 when a retry by LiveKit will do better.
"""

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import raw_body
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.live import webhooks
from reels_live.live.schemas import WebhookReceipt

app = http_api()


@app.post(
    "/livekit/webhook",
    summary="Receive a LiveKit webhook",
    operation_id="receiveLiveKitWebhook",
    responses=documented((200, WebhookReceipt, "Applied, already applied, or ignored"), 400, 401, 503),
    tags=["livekit"],
)
@tracer.capture_method
def livekit_webhook() -> WebhookReceipt:
    event = webhooks.receive(raw_body(app), app.current_event.headers.get("authorization"))
    return WebhookReceipt(outcome=webhooks.handle(event))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
