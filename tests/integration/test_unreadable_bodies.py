"""Bodies the handlers cannot read at all answer 422 with the envelope, never 500 (found by schemathesis
against the local stack: a JSON body declared as text/plain, and bytes that are not UTF-8)."""

import pytest

from reels_live.store import keys
from tests.support import api, aws

STREAM = "01JDQ3Z8G7N2V4K6M8P0R2T4W6"


@pytest.mark.parametrize(("method", "path"), [("POST", "/streams"), ("POST", f"/streams/{STREAM}/end")])
@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data"])
def test_a_body_that_is_not_declared_json_is_a_422(
    aws_backend: object, method: str, path: str, content_type: str
) -> None:
    response = api.request(method, path, raw_body='{"title": "x"}', headers={"content-type": content_type})
    assert response.status == 422
    assert response.error_code == "validation_error"
    assert "JSON" in response.body["error"]["message"]
    assert aws.items(keys.STREAM_PK_PREFIX) == []


@pytest.mark.parametrize(("method", "path"), [("POST", "/streams"), ("POST", f"/streams/{STREAM}/end")])
def test_a_body_that_is_not_utf8_is_a_422(aws_backend: object, method: str, path: str) -> None:
    response = api.request(method, path, raw_body=b"\x1d\xff%_1")
    assert response.status == 422
    assert response.body["error"] == {"code": "validation_error", "message": "The body is not valid JSON."}
    assert aws.items(keys.STREAM_PK_PREFIX) == []
