"""A local stand-in for the HTTP API: template.yaml's routes, its JWT authorizer and payload format 2.0.

Requests become the events API Gateway's HTTP API sends (lowercase headers with repeated ones joined by
commas, `cookies`, `queryStringParameters`, `routeKey`, `pathParameters`, JWT claims as strings,
`isBase64Encoded` for non-text bodies) and function results become responses the way it maps them (a result
without `statusCode` is a 200 whose body is that JSON; `cookies` become Set-Cookie; base64 bodies decoded).
Its own answers are API Gateway's: 401 `{"message":"Unauthorized"}` before any function runs, 404
`{"message":"Not Found"}`, 500 `{"message":"Internal Server Error"}` for a function error or timeout, 503
`{"message":"Service Unavailable"}` when the integration's 30 s run out.

Also served, locally only: `/openapi.json` (the merged document) and `/docs` (Swagger UI).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local import intrinsics, template
from local.auth import JwtAuthorizer, Unauthorized, claims_as_strings
from local.intrinsics import ACCOUNT_ID, Context

log = logging.getLogger("local.gateway")

API_ID = "local"
STAGE = "$default"
# Bodies of these types reach the function as text; anything else is base64 (isBase64Encoded: true).
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


class Invoker(Protocol):
    def invoke(self, function: str, event: Any, *, timeout: float | None = None) -> Any: ...


@dataclass(frozen=True)
class GatewayAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _message(status: int, message: str, **headers: str) -> GatewayAnswer:
    body = json.dumps({"message": message}).encode()
    return GatewayAnswer(status, [("content-type", "application/json"), *headers.items()], body)


UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
INTERNAL_ERROR = "Internal Server Error"
UNAVAILABLE = "Service Unavailable"


def authorizers(context: Context) -> dict[tuple[str, str], JwtAuthorizer]:
    """Every JWT authorizer in the template, configured with issuer and audiences resolved locally."""
    found: dict[tuple[str, str], JwtAuthorizer] = {}
    for route in template.http_routes():
        spec = template.route_authorizer(route)
        if spec and (spec.api, spec.name) not in found:
            issuer = str(intrinsics.resolve(spec.issuer, context))
            audience = intrinsics.resolve(spec.audience, context)
            audiences = [str(item) for item in (audience if isinstance(audience, list) else [audience])]
            found[(spec.api, spec.name)] = JwtAuthorizer(issuer, audiences)
    return found


def build_event(
    request: Request, route: template.Route, path_parameters: dict[str, str], claims: dict[str, Any] | None
) -> dict[str, Any]:
    """The payload format 2.0 event HTTP API sends for this request."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    cookies = [c.strip() for c in request.headers.get("Cookie", "").split(";") if c.strip()]
    raw_query = request.query_string.decode("latin-1")
    # rawPath keeps the percent-encoding the client sent; pathParameters are decoded.
    raw_path = str(request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or "").split("?", 1)[
        0
    ]
    raw_path = raw_path or quote(request.path, safe="/:@!$&'()*+,;=-._~")
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = datetime.now(UTC)
    request_id = base64.b64encode(secrets.token_bytes(10)).decode()
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "sourceIp": request.remote_addr or "127.0.0.1",
            "userAgent": request.headers.get("User-Agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": STAGE,
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if claims is not None:
        scope = claims.get("scope")
        context["authorizer"] = {
            "jwt": {"claims": claims_as_strings(claims), "scopes": str(scope).split() if scope else None}
        }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    data = request.get_data()
    if data:
        content_type = headers.get("content-type", "").lower()
        text = any(kind in content_type for kind in _TEXT_TYPES)
        try:
            event["body"] = data.decode() if text else None
        except UnicodeDecodeError:
            event["body"] = None
        if event["body"] is None:
            event["body"] = base64.b64encode(data).decode()
            event["isBase64Encoded"] = True
    return event


def map_result(payload: bytes) -> GatewayAnswer:
    """A function's successful result as HTTP API turns it into a response (payload format 2.0)."""
    try:
        result = json.loads(payload) if payload else None
    except ValueError:
        return _message(500, INTERNAL_ERROR)
    if not (isinstance(result, dict) and "statusCode" in result):
        # Valid JSON without statusCode: API Gateway assumes a 200 with that JSON as the body.
        body = result if isinstance(result, str) else json.dumps(result)
        return GatewayAnswer(200, [("content-type", "application/json")], body.encode())
    try:
        status = int(result["statusCode"])
        headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.append((str(name).lower(), ",".join(str(v) for v in values)))
        headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or []]
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    except (TypeError, ValueError):
        return _message(500, INTERNAL_ERROR)
    if not 100 <= status <= 599:
        return _message(500, INTERNAL_ERROR)
    return GatewayAnswer(status, headers, raw)


class Gateway:
    """The WSGI app: route, authorize, invoke, map; one log line per request."""

    def __init__(
        self,
        invoker: Invoker,
        context: Context,
        *,
        openapi: Callable[[], dict[str, Any]] | None = None,
        integration_timeout: float = 30.0,
    ) -> None:
        self.invoker = invoker
        self.routes = template.http_routes()
        self.authorizers = authorizers(context)
        self.openapi = openapi
        self.integration_timeout = integration_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        answer, function, temperature = self.handle(request)
        response = Response(answer.body, answer.status)
        response.headers.clear()
        for name, value in answer.headers:
            response.headers.add(name, value)
        response.headers.setdefault("apigw-requestid", base64.b64encode(secrets.token_bytes(10)).decode())
        log.info(
            "%s %s -> %s %d %.0f ms%s",
            request.method,
            request.full_path.rstrip("?"),
            function or "-",
            answer.status,
            (time.monotonic() - started) * 1000,
            f" {temperature}" if temperature else "",
        )
        return response(environ, start_response)

    def handle(self, request: Request) -> tuple[GatewayAnswer, str | None, str | None]:
        local = self._local_route(request)
        if local is not None:
            return local, None, None
        found = self._match(request.method, request.path)
        if found is None:
            return _message(404, NOT_FOUND), None, None
        route, params = found
        claims = None
        spec = template.route_authorizer(route)
        if spec is not None:
            authorizer = self.authorizers[(spec.api, spec.name)]
            header = spec.identity_source.removeprefix("$request.header.")
            try:
                claims = authorizer.authorize(request.headers.get(header))
            except Unauthorized as denied:
                challenge = "Bearer"
                if denied.description:
                    challenge += f' error="invalid_token" error_description="{denied.description}"'
                return _message(401, UNAUTHORIZED, **{"www-authenticate": challenge}), None, None
        event = build_event(request, route, params, claims)
        try:
            result = self.invoker.invoke(route.function, event, timeout=self.integration_timeout)
        except TimeoutError:
            return _message(503, UNAVAILABLE), route.function, None
        temperature = "cold" if result.cold else "warm"
        if result.function_error:
            log.warning(
                "%s failed (%s): %s",
                route.function,
                result.outcome,
                result.payload[:500].decode(errors="replace"),
            )
            return _message(500, INTERNAL_ERROR), route.function, temperature
        return map_result(result.payload), route.function, temperature

    def _match(self, method: str, path: str) -> tuple[template.Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def _local_route(self, request: Request) -> GatewayAnswer | None:
        if request.method != "GET" or self.openapi is None:
            return None
        if request.path == "/openapi.json":
            body = json.dumps(self.openapi(), indent=2).encode()
            return GatewayAnswer(200, [("content-type", "application/json")], body)
        if request.path in ("/docs", "/docs/"):
            from local.openapi import swagger_html

            return GatewayAnswer(200, [("content-type", "text/html; charset=utf-8")], swagger_html().encode())
        return None

    def serve(self, port: int) -> Gateway:
        self._server = make_server("127.0.0.1", port, self, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
