"""Register and remove the caller's push devices (SNS platform endpoints): `/me/devices`."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from reels_live.api.caller import caller_id
from reels_live.api.resolver import documented, http_api
from reels_live.core.observability import logger, metrics, tracer
from reels_live.social import devices
from reels_live.social.schemas import DeviceView, RegisterDeviceRequest

app = http_api()

DeviceIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Device id from POST /me/devices")]


@app.post(
    "/me/devices",
    summary="Register a push token (the same token again updates its device)",
    operation_id="registerDevice",
    responses={
        **documented((201, DeviceView, "A new device"), 401, 409, 503),
        200: {
            "description": "The token was registered before: its device, updated",
            "content": {content_types.APPLICATION_JSON: {"model": DeviceView}},
        },
    },
    tags=["me"],
)
@tracer.capture_method
def register(request: RegisterDeviceRequest) -> Response[DeviceView]:
    registration = devices.register_device(caller_id(app), request)
    return Response(
        status_code=201 if registration.created else 200,
        content_type=content_types.APPLICATION_JSON,
        body=registration.device,
    )


@app.delete(
    "/me/devices/<deviceId>",
    status_code=204,
    summary="Remove a push device (idempotent)",
    operation_id="removeDevice",
    responses={
        **{
            status: value
            for status, value in documented((204, DeviceView, ""), 401, 409).items()
            if status != 204
        },
        204: {"description": "The device is gone"},
    },
    tags=["me"],
)
@tracer.capture_method
def remove(deviceId: DeviceIdPath) -> Response[None]:
    devices.remove_device(caller_id(app), deviceId)
    return Response(status_code=204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
