"""The API's one OpenAPI 3.1 document: each function's Powertools resolver merged with Powertools' OpenAPI
merge, plus what API Gateway itself answers (template.yaml says which routes need a bearer token).

Functions document their own answers (`reels_live.api.resolver.documented`). The gateway's answers are added here,
from the template: a route behind the JWT authorizer gets the bearer security requirement and API Gateway's
401 `{"message": "Unauthorized"}` (the function never sees an unauthenticated request); every route can get
API Gateway's 500 (function error or timeout) and 503 (integration timeout).

    python -m local.openapi            # writes openapi.json at the repo root (`make openapi`)
    python -m local.openapi --check    # fails when openapi.json differs from the code
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from functools import cache
from pathlib import Path
from typing import Any

from local import template

DOCUMENT = template.ROOT / "openapi.json"
LAYER_SOURCE = template.ROOT / "layers" / "common"
SECURITY_SCHEME = "bearerAuth"
GATEWAY_MESSAGE = "GatewayMessage"
_GATEWAY_ANSWERS = {
    "401": "Missing, malformed, expired or otherwise invalid bearer token (API Gateway's JWT authorizer)",
    "500": "The function failed or timed out (API Gateway)",
    "503": "The function did not answer within the integration timeout of 30 s (API Gateway)",
}


def build() -> dict[str, Any]:
    """The merged document, generated from the handlers' code and template.yaml."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    if str(LAYER_SOURCE) not in sys.path:
        sys.path.insert(0, str(LAYER_SOURCE))
    merge = OpenAPIMerge(
        title="reels-live API",
        version=_project_version(),
        description=(
            "Lets people of a reels app go live. Every route except LiveKit's webhook needs "
            "`Authorization: Bearer <JWT>`; the caller is the token's `sub`. Times are epoch milliseconds."
        ),
        security_schemes={
            SECURITY_SCHEME: HTTPBearer(
                bearerFormat="JWT",
                description="An ID token from the identity provider (locally: `make token USER=alice`)",
            )
        },
        on_conflict="error",
    )
    routes = template.http_routes()
    for function in dict.fromkeys(route.function for route in routes):
        folder, module, _ = template.function_source(function)
        merge.add_file(folder / f"{module}.py", resolver_name="app")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a handler that fails to import must fail the build, not vanish
        document = json.loads(merge.get_openapi_json_schema())
    _add_gateway_answers(document, routes)
    return document


def _add_gateway_answers(document: dict[str, Any], routes: list[template.Route]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[GATEWAY_MESSAGE] = {
        "title": GATEWAY_MESSAGE,
        "description": "An answer from API Gateway itself, before or instead of the function's",
        "type": "object",
        "properties": {"message": {"type": "string", "title": "Message"}},
        "required": ["message"],
    }
    reference = {"$ref": f"#/components/schemas/{GATEWAY_MESSAGE}"}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            # A 204 has no body (RFC 9110); Powertools documents the handler's `None` as a JSON null.
            operation.get("responses", {}).get("204", {}).pop("content", None)
    for route in routes:
        operation = document.get("paths", {}).get(route.path, {}).get(route.method.lower())
        if operation is None:
            raise SystemExit(f"{route.route_key} is in template.yaml but no handler documents it")
        responses = operation.setdefault("responses", {})
        statuses = ["500", "503"]
        if template.route_authorizer(route) is not None:
            operation["security"] = [{SECURITY_SCHEME: []}]
            statuses.insert(0, "401")
        else:
            operation["security"] = []
        for status in statuses:
            answer = {
                "description": _GATEWAY_ANSWERS[status],
                "content": {"application/json": {"schema": reference}},
            }
            own = responses.get(status)
            # A 401 comes from the authorizer before the function runs; a 500 or 503 can come from either.
            if own and status != "401":
                # The function answers this status too (its envelope); either body can arrive.
                schema = own["content"]["application/json"]["schema"]
                answer = {
                    "description": f"{own['description']}; or {answer['description']}",
                    "content": {"application/json": {"schema": {"anyOf": [schema, reference]}}},
                }
            responses[status] = answer
        operation["responses"] = dict(sorted(responses.items()))


def _project_version() -> str:
    import tomllib

    return str(tomllib.loads((template.ROOT / "pyproject.toml").read_text())["project"]["version"])


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


@cache
def _swagger_assets() -> tuple[str, str]:
    import aws_lambda_powertools.event_handler.openapi.swagger_ui as ui

    folder = Path(ui.__file__).parent
    return (
        (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )


def swagger_html(document: dict[str, Any] | None = None) -> str:
    """Swagger UI (the assets Powertools ships) showing the committed or given document."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    spec = render(document) if document is not None else DOCUMENT.read_text()
    script, style = _swagger_assets()
    return generate_swagger_html(
        spec.replace("</", "<\\/"), script, style, "", None, persist_authorization=True
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.openapi", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when openapi.json is out of date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            raise SystemExit("openapi.json is out of date: run `make openapi` and commit it")
        print("openapi.json is up to date")
        return
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(template.ROOT)} ({len(document_paths(text))} paths)")


def document_paths(text: str) -> list[str]:
    return list(json.loads(text).get("paths", {}))


if __name__ == "__main__":
    main()
