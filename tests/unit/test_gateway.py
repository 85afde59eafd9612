"""The local gateway as API Gateway's HTTP API: payload 2.0 events in, responses out, the JWT authorizer first.

The function behind it is a recording fake here; tests/e2e runs the real ones under RIE.
"""

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from local import intrinsics
from local.auth import LocalIssuer
from local.gateway import Gateway
from local.intrinsics import Context

STREAM = "01JDQ3Z8G7N2V4K6M8P0R2T4W6"


@dataclass
class FakeResult:
    payload: bytes
    outcome: str = "ok"
    cold: bool = False

    @property
    def function_error(self) -> bool:
        return self.outcome != "ok"


@dataclass
class RecordingInvoker:
    """Answers every invocation with `result` and keeps the events it was given."""

    result: Any = field(default_factory=lambda: {"statusCode": 200, "body": "{}"})
    outcome: str = "ok"
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raises: type[BaseException] | None = None

    def invoke(self, function: str, event: Any, *, timeout: float | None = None) -> FakeResult:
        self.calls.append((function, event))
        if self.raises:
            raise self.raises()
        payload = self.result if isinstance(self.result, bytes) else json.dumps(self.result).encode()
        return FakeResult(payload, self.outcome)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    running = LocalIssuer(Path(tmp_path_factory.mktemp("issuer"))).start()
    yield running
    running.stop()


@pytest.fixture
def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
def client(issuer: LocalIssuer, invoker: RecordingInvoker) -> Client:
    context = Context(
        parameters=intrinsics.parameters({"JwtIssuer": issuer.url, "JwtAudience": issuer.audience})
    )
    return Client(Gateway(invoker, context, openapi=lambda: {"openapi": "3.1.0"}))


def bearer(issuer: LocalIssuer, user: str = "alice", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.token(user, **claims)}"}


def test_a_request_becomes_a_payload_2_event(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    client.set_cookie("s", "1")
    client.set_cookie("t", "2")
    client.post(
        f"/streams/{STREAM}/join?a=1&a=2&b=",
        headers=[*bearer(issuer).items(), ("X-Thing", "one"), ("X-Thing", "two")],
        json={"x": 1},
    )
    function, event = invoker.calls[0]
    assert function == "JoinStreamFunction"
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /streams/{streamId}/join"
    assert event["rawPath"] == f"/streams/{STREAM}/join"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["pathParameters"] == {"streamId": STREAM}
    # The test client's WSGI environ joins repeated headers with ", " (the real server, like API Gateway, ",").
    assert event["headers"]["x-thing"].replace(" ", "") == "one,two"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"x": 1}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"


def test_claims_reach_the_function_as_strings(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    client.get(f"/streams/{STREAM}", headers=bearer(issuer, "bob", groups=["a", "b"]))
    claims = invoker.calls[0][1]["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "bob"
    assert claims["email_verified"] == "true"
    assert claims["groups"] == "[a b]"
    assert all(isinstance(value, str) for value in claims.values())


def test_a_binary_body_arrives_base64_encoded(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    client.post(
        "/streams", headers={**bearer(issuer), "Content-Type": "application/octet-stream"}, data=b"\xff\x00"
    )
    event = invoker.calls[0][1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
    ],
    ids=["missing", "empty", "malformed", "basic"],
)
def test_no_valid_token_is_api_gateways_401_before_any_function_runs(
    client: Client, invoker: RecordingInvoker, headers: dict[str, str]
) -> None:
    response = client.get(f"/streams/{STREAM}", headers=headers)
    assert response.status_code == 401
    assert response.json == {"message": "Unauthorized"}
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert invoker.calls == []


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"exp": int(time.time()) - 10}, "the token has expired"),
        ({"nbf": int(time.time()) + 600}, "the token is not valid yet"),
        (
            {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"},
            "the token's issuer is not trusted",
        ),
        ({"aud": "another-client"}, "the token's audience is not accepted"),
        ({"exp": None}, "the token is invalid"),
    ],
    ids=["expired", "not-yet-valid", "wrong-issuer", "wrong-audience", "no-expiry"],
)
def test_tokens_failing_a_check_get_401(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker, claims: dict[str, Any], description: str
) -> None:
    response = client.get(f"/streams/{STREAM}", headers=bearer(issuer, **claims))
    assert response.status_code == 401
    assert response.json == {"message": "Unauthorized"}
    assert f'error_description="{description}"' in response.headers["www-authenticate"]
    assert invoker.calls == []


def test_a_token_signed_by_another_key_gets_401(
    tmp_path: Path, client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    impostor = LocalIssuer(tmp_path)
    token = impostor.token("alice")  # same claims shape, a key the issuer's JWKS does not have
    forged = token.replace(token.split(".")[0], issuer.token("alice").split(".")[0])
    for candidate in (token, forged):
        response = client.get(f"/streams/{STREAM}", headers={"Authorization": f"Bearer {candidate}"})
        assert response.status_code == 401
    assert invoker.calls == []


def test_an_access_token_with_client_id_is_accepted(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    response = client.get(
        f"/streams/{STREAM}", headers=bearer(issuer, aud=None, client_id=issuer.audience, token_use="access")
    )
    assert response.status_code == 200
    assert len(invoker.calls) == 1


def test_the_function_response_is_mapped(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    invoker.result = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "X-One": "1"},
        "cookies": ["a=1; Path=/", "b=2"],
        "body": base64.b64encode(b"made").decode(),
        "isBase64Encoded": True,
    }
    response = client.post("/streams", headers=bearer(issuer), json={})
    assert response.status_code == 201
    assert response.data == b"made"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-one"] == "1"
    assert response.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]


@pytest.mark.parametrize(
    ("result", "body"),
    [({"hello": "world"}, {"hello": "world"}), ("Hello from Lambda!", "Hello from Lambda!")],
    ids=["object", "string"],
)
def test_json_without_status_code_is_a_200_with_that_body(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker, result: Any, body: Any
) -> None:
    invoker.result = result
    response = client.get(f"/streams/{STREAM}", headers=bearer(issuer))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert (response.json if isinstance(body, dict) else response.get_data(as_text=True)) == body


@pytest.mark.parametrize("outcome", ["error", "timeout", "crash"])
def test_a_failed_function_is_a_500(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker, outcome: str
) -> None:
    invoker.outcome = outcome
    response = client.get(f"/streams/{STREAM}", headers=bearer(issuer))
    assert response.status_code == 500
    assert response.json == {"message": "Internal Server Error"}


def test_an_integration_timeout_is_a_503(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    invoker.raises = TimeoutError
    response = client.get(f"/streams/{STREAM}", headers=bearer(issuer))
    assert response.status_code == 503
    assert response.json == {"message": "Service Unavailable"}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nope"), ("DELETE", f"/streams/{STREAM}"), ("PATCH", "/streams")]
)
def test_unknown_routes_are_404_without_asking_for_a_token(
    client: Client, invoker: RecordingInvoker, method: str, path: str
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 404
    assert response.json == {"message": "Not Found"}
    assert invoker.calls == []


def test_the_openapi_document_and_swagger_ui_are_served(client: Client) -> None:
    assert client.get("/openapi.json").json == {"openapi": "3.1.0"}
    page = client.get("/docs")
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.get_data(as_text=True)


def test_the_raw_path_keeps_its_percent_encoding(
    client: Client, issuer: LocalIssuer, invoker: RecordingInvoker
) -> None:
    client.get("/users/caf%C3%A9/followers", headers=bearer(issuer))
    event = invoker.calls[0][1]
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/users/caf%C3%A9/followers"
    assert event["pathParameters"] == {"userId": "café"}
