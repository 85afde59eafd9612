"""The local stack over HTTP, as a developer uses it: real tokens from the local issuer, functions from
`.aws-sam/build` under RIE, moto, and the real livekit-server behind the relay."""

import json
import time
import urllib.request

import jwt
import pytest

from tests.e2e.conftest import LocalStack


def test_a_stream_is_created_joined_and_ended_over_http(local_stack: LocalStack) -> None:
    status, headers, created = local_stack.request(
        "POST",
        "/streams",
        user="erin",
        body={"title": "  Morning skate  ", "tags": ["#Skate"], "record": True},
    )
    assert status == 201, created
    stream = created["stream"]
    assert stream["authorId"] == "erin"
    assert stream["title"] == "Morning skate"
    assert stream["status"] == "preparing"
    assert headers["content-type"] == "application/json"
    assert created["connection"]["url"] == local_stack.info["livekit"]["url"]
    grants = jwt.decode(created["connection"]["token"], options={"verify_signature": False})
    assert grants["video"]["canPublish"] is True

    stream_id = stream["streamId"]
    status, _, read = local_stack.request("GET", f"/streams/{stream_id}", user="frank")
    assert status == 200
    assert read["streamId"] == stream_id

    status, _, joined = local_stack.request("POST", f"/streams/{stream_id}/join", user="frank")
    assert status == 200
    assert joined["connection"]["role"] == "viewer"
    assert (
        jwt.decode(joined["connection"]["token"], options={"verify_signature": False})["video"]["canPublish"]
        is False
    )

    status, _, refused = local_stack.request("POST", f"/streams/{stream_id}/end", user="frank", body={})
    assert status == 403
    assert refused["error"]["code"] == "not_stream_owner"

    status, _, ended = local_stack.request(
        "POST", f"/streams/{stream_id}/end", user="erin", body={"saveAsReel": True}
    )
    assert status == 200
    assert ended["status"] == "ended"

    status, _, gone = local_stack.request("POST", f"/streams/{stream_id}/join", user="frank")
    assert status == 410
    assert gone["error"]["code"] == "stream_ended"


def test_validation_errors_come_from_the_function_as_422(local_stack: LocalStack) -> None:
    status, _, body = local_stack.request("POST", "/streams", user="gina", body={"title": ""})
    assert status == 422
    assert body["error"]["field"] == "title"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nonsense", "expired", "wrong-audience", "wrong-issuer"],
)
def test_the_authorizer_answers_401_before_any_function_runs(
    local_stack: LocalStack, authorization: str | None
) -> None:
    tokens = {
        "expired": local_stack.token("alice", exp=int(time.time()) - 5),
        "wrong-audience": local_stack.token("alice", aud="someone-else"),
        "wrong-issuer": local_stack.token("alice", iss="https://issuer.example.com"),
    }
    header = f"Bearer {tokens[authorization]}" if authorization in tokens else authorization
    before = local_stack.invocations("GetStreamFunction")
    status, _, body = local_stack.request(
        "GET",
        "/streams/01JDQ3Z8G7N2V4K6M8P0R2T4W6",
        user=None,
        headers={"Authorization": header} if header else None,
    )
    assert status == 401
    assert body == {"message": "Unauthorized"}
    assert local_stack.invocations("GetStreamFunction") == before


def test_an_unknown_stream_is_404_from_the_function(local_stack: LocalStack) -> None:
    status, _, body = local_stack.request("GET", "/streams/01JDQ3Z8G7N2V4K6M8P0R2T4W6", user="alice")
    assert status == 404
    assert body["error"]["code"] == "stream_not_found"


def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(local_stack: LocalStack) -> None:
    retry = {"Idempotency-Key": "e2e-same-key"}
    first = local_stack.request("POST", "/streams", user="hank", body={"title": "twice"}, headers=retry)
    second = local_stack.request("POST", "/streams", user="hank", body={"title": "twice"}, headers=retry)
    assert first[0] == 201
    assert second[0] == 201
    assert second[2]["stream"]["streamId"] == first[2]["stream"]["streamId"]


def test_the_merged_openapi_document_and_swagger_ui_are_served(local_stack: LocalStack) -> None:
    with urllib.request.urlopen(local_stack.url + "/openapi.json", timeout=10) as response:
        document = json.loads(response.read())
    assert document["openapi"].startswith("3.1")
    assert "bearerAuth" in document["components"]["securitySchemes"]
    with urllib.request.urlopen(local_stack.url + "/docs", timeout=10) as response:
        assert b"SwaggerUIBundle" in response.read()
