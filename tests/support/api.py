"""Calls handlers the way API Gateway's HTTP API would: route from template.yaml, payload 2.0 event."""

import base64
import copy
import importlib.util
import json
import sys
import threading
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from local import intrinsics, template
from tests.support import stack

EVENTS = template.ROOT / "events"


@dataclass
class LambdaContext:
    """The attributes Powertools and our handlers read from Lambda's context object."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = ""
    remaining_ms: int = 10_000

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any
    raw: dict[str, Any]

    @property
    def error_code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


@cache
def handler_module(function: str) -> ModuleType:
    """Import a function's handler module from its CodeUri, under a name unique to the function."""
    folder, module, _ = template.function_source(function)
    name = f"handlers.{function}.{module}"
    spec = importlib.util.spec_from_file_location(name, folder / f"{module}.py")
    assert spec
    assert spec.loader
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded


def sample_event(name: str = "get_stream.json") -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def claims_for(user: str) -> dict[str, str]:
    """Cognito ID-token claims as the JWT authorizer passes them: every value a string."""
    return {
        **sample_event()["requestContext"]["authorizer"]["jwt"]["claims"],
        "sub": user,
        "cognito:username": user,
        "email": f"{user}@example.com",
    }


def http_event(
    method: str,
    path: str,
    *,
    user: str | None = "user-alice",
    body: Any = None,
    raw_body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> tuple[str, dict[str, Any]]:
    """(function logical id, payload 2.0 event) for a request, routed through template.yaml."""
    found = template.find_route(method, path)
    assert found, f"no route in template.yaml for {method} {path}"
    route, params = found
    event = sample_event()
    event["routeKey"] = event["requestContext"]["routeKey"] = route.route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(pair.split("=", 1) for pair in query.split("&"))
    event.pop("pathParameters", None)
    if params:
        event["pathParameters"] = params
    event["headers"] = {
        k: v for k, v in event["headers"].items() if k not in {"content-type", "content-length"}
    }
    if route.authorized and user is not None:
        event["requestContext"]["authorizer"]["jwt"]["claims"] = claims_for(user)
    else:
        event["requestContext"].pop("authorizer", None)
        event["headers"].pop("authorization", None)
    payload = json.dumps(body) if body is not None else raw_body
    if payload is not None:
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            event["body"] = data.decode()
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(data).decode()
            event["isBase64Encoded"] = True
        event["headers"]["content-type"] = "application/json"
        event["headers"]["content-length"] = str(len(data))
    for name, value in (headers or {}).items():
        event["headers"][name.lower()] = value
    return route.function, event


_one_at_a_time = threading.RLock()


def invoke(function: str, event: dict[str, Any], *, remaining_ms: int | None = None) -> ApiResponse:
    """Run a handler; its context has the template's Timeout left (or `remaining_ms`), as a fresh invocation."""
    if remaining_ms is None:
        remaining_ms = int(intrinsics.function_setting(function, "Timeout", 3)) * 1000
    context = LambdaContext(function_name=function, remaining_ms=remaining_ms)
    # One invocation at a time: a handler swaps os.environ for its function's, and webhook sinks invoke
    # from their own threads while a test calls the API.
    with _one_at_a_time, stack.function_environment(function):
        # Imported inside the function's environment, as Lambda does: Powertools reads its settings
        # (service, metrics namespace) when the shared Logger and Metrics are created.
        module = handler_module(function)
        result = module.lambda_handler(copy.deepcopy(event), context)
    if "statusCode" not in result:
        # HTTP API treats a bare JSON answer as 200 with that body.
        return ApiResponse(200, {}, result, result)
    body = result.get("body")
    if result.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode()
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    # JSON answers parsed; anything else (the unsubscribe pages' HTML) kept as text.
    is_json = headers.get("content-type", "application/json").startswith("application/json")
    parsed = (json.loads(body) if is_json else body) if body else None
    return ApiResponse(result["statusCode"], headers, parsed, result)


def request(method: str, path: str, **kwargs: Any) -> ApiResponse:
    function, event = http_event(method, path, **kwargs)
    return invoke(function, event)


def create_stream(body: dict[str, Any] | None = None, *, user: str = "user-alice") -> dict[str, Any]:
    """POST /streams as `user`, which must answer 201: its body, `{stream, connection}`."""
    response = request("POST", "/streams", user=user, body=body or {"title": "Skate"})
    assert response.status == 201, response.body
    return response.body


def join_stream(stream_id: str, user: str) -> dict[str, Any]:
    """POST /streams/{id}/join as `user`, which must answer 200: the LiveKit connection it hands out."""
    response = request("POST", f"/streams/{stream_id}/join", user=user)
    assert response.status == 200, response.body
    return response.body["connection"]


def events_dir() -> Path:
    return EVENTS
