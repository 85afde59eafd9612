"""Reads template.yaml, the single source of truth, for local tooling (tests, the local stack).

CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, ...) load as their long form ({"Ref": ...}), so the
rest of the tooling resolves one shape.
"""

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_SEQUENCE_FUNCTIONS = {
    "And", "Base64", "Cidr", "Equals", "FindInMap", "GetAZs", "If", "ImportValue", "Join", "Not", "Or",
    "Select", "Split", "Sub", "Transform", "Condition", "GetAtt",
}  # fmt: skip


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's intrinsic-function tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_intrinsic)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as plain data, intrinsic functions in their long form."""
    with path.open() as handle:
        return yaml.load(handle, Loader=_TemplateLoader)


def resources(resource_type: str | None = None) -> dict[str, dict[str, Any]]:
    """Resources by logical id, optionally only those of one type."""
    every = load()["Resources"]
    return {
        name: spec for name, spec in every.items() if resource_type is None or spec["Type"] == resource_type
    }


def parameter_defaults() -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in load().get("Parameters", {}).items()}


def table_definitions() -> dict[str, dict[str, Any]]:
    """DynamoDB CreateTable arguments for each AWS::DynamoDB::Table, keyed by logical id (name left out).

    TTL is returned separately under `TimeToLive` since CreateTable does not take it.
    """
    definitions = {}
    for name, spec in resources("AWS::DynamoDB::Table").items():
        props = spec["Properties"]
        definition: dict[str, Any] = {
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        if props.get("GlobalSecondaryIndexes"):
            definition["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index["IndexName"],
                    "KeySchema": index["KeySchema"],
                    "Projection": index["Projection"],
                }
                for index in props["GlobalSecondaryIndexes"]
            ]
        if props.get("TimeToLiveSpecification"):
            definition["TimeToLive"] = props["TimeToLiveSpecification"]
        definitions[name] = definition
    return definitions


@dataclass(frozen=True)
class Route:
    """One HTTP API route of a function's `HttpApi` event."""

    method: str
    path: str
    function: str
    authorized: bool

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when `method path` is this route, else None."""
        if method.upper() != self.method and self.method != "ANY":
            return None
        found = _route_pattern(self.path).fullmatch(path)
        return found.groupdict() if found else None


def http_routes() -> list[Route]:
    """Every HttpApi route in the template; routes without `Auth: {Authorizer: NONE}` need a JWT."""
    routes = []
    for name, spec in resources("AWS::Serverless::Function").items():
        for event in spec["Properties"].get("Events", {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = props.get("Auth", {}).get("Authorizer")
            routes.append(Route(props["Method"].upper(), props["Path"], name, authorizer != "NONE"))
    # Literal segments win over parameters, as in API Gateway: sort routes with fewer parameters first.
    return sorted(routes, key=lambda route: (route.path.count("{"), -len(route.path)))


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in http_routes():
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def function_source(logical_id: str) -> tuple[Path, str, str]:
    """(code folder, module, handler attribute) of a function, from CodeUri and Handler."""
    props = resources("AWS::Serverless::Function")[logical_id]["Properties"]
    module, attribute = props["Handler"].rsplit(".", 1)
    return ROOT / props["CodeUri"], module, attribute


@cache
def _route_pattern(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile(pattern)


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """A JWT authorizer of an HttpApi, its issuer and audiences still as template values."""

    api: str
    name: str
    issuer: Any
    audience: Any
    identity_source: str


def http_api_of(route: Route) -> str:
    """The HttpApi resource a route belongs to (SAM's implicit `ServerlessHttpApi` without ApiId)."""
    for event in (
        resources("AWS::Serverless::Function")[route.function]["Properties"].get("Events", {}).values()
    ):
        props = event.get("Properties", {})
        if (
            event["Type"] == "HttpApi"
            and props.get("Method", "").upper() == route.method
            and props.get("Path") == route.path
        ):
            api = props.get("ApiId")
            return api["Ref"] if isinstance(api, dict) else "ServerlessHttpApi"
    raise KeyError(route.route_key)


def route_authorizer(route: Route) -> JwtAuthorizerSpec | None:
    """The JWT authorizer guarding a route: its own `Auth.Authorizer`, else its API's default; None if open."""
    if not route.authorized:
        return None
    api = http_api_of(route)
    api_auth = resources().get(api, {}).get("Properties", {}).get("Auth", {})
    name = api_auth.get("DefaultAuthorizer")
    for event in (
        resources("AWS::Serverless::Function")[route.function]["Properties"].get("Events", {}).values()
    ):
        props = event.get("Properties", {})
        if (
            event["Type"] == "HttpApi"
            and props.get("Path") == route.path
            and props.get("Method", "").upper() == route.method
        ):
            name = props.get("Auth", {}).get("Authorizer", name)
    if not name:
        return None
    spec = api_auth["Authorizers"][name]
    jwt_config = spec["JwtConfiguration"]
    return JwtAuthorizerSpec(
        api=api,
        name=name,
        issuer=jwt_config["issuer"],
        audience=jwt_config["audience"],
        identity_source=spec.get("IdentitySource", "$request.header.Authorization"),
    )
