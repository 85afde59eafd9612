"""POST /livekit/webhook: only what LiveKit signed is applied; everything else is 401 and writes nothing."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from aws_lambda_powertools.utilities import parameters
from livekit import api as livekit_api

from local import provision
from reels_live.store import keys
from tests.conftest import DEV_KEYS
from tests.support import api, stack
from tests.support import aws as table
from tests.support import webhooks as wh

KEY, SECRET = DEV_KEYS

# A hand-computed HS256 vector: the token LiveKit would send for BODY, made with hmac and base64 alone
# (the claims LiveKit's Go auth package writes; nbf in the past, exp far in the future).
VECTOR_BODY = (
    b'{"event":"room_started","room":{"sid":"RM_vector","name":"not_ours_vector"},"id":"EV_vector",'
    b'"createdAt":"1700000000"}'
)
VECTOR_TOKEN = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6ImRldmtleSIsIm5iZiI6MTcwMDAw"
    "MDAwMCwic2hhMjU2IjoiMzROZitDUlZsSlVKdUZ5eDk4N2NQaWNZTDFDSG14"
    "T2lEMVRVVll3Z25WMD0iLCJzdWIiOiIifQ."
    "Jckql1BHJusuEJG__e7Li8fP1BPHrPhhGEocYN0dZ1w"
)


@pytest.fixture
def stream(aws_backend, frozen_clock):
    return wh.seed_stream(created_at=frozen_clock.now_ms)


def joined_event(stream, frozen_clock):
    broadcaster = wh.participant("user-alice", "PA_alice", joined_at_ms=frozen_clock.now_ms + 1000)
    return wh.event(
        "participant_joined", at_ms=frozen_clock.now_ms + 2000, stream=stream, participant=broadcaster
    )


def nothing_applied(stream) -> bool:
    item = table.get(keys.stream(stream.stream_id))
    return item["status"] == "preparing" and not table.items(keys.WEBHOOK_EVENT_PK_PREFIX)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_vector_is_what_hmac_sha256_gives():
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    digest = base64.b64encode(hashlib.sha256(VECTOR_BODY).digest()).decode()
    claims = {"exp": 4102444800, "iss": KEY, "nbf": 1700000000, "sha256": digest, "sub": ""}
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64url(hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())

    assert f"{header}.{payload}.{signature}" == VECTOR_TOKEN


def test_a_hand_computed_hs256_vector_verifies(aws_backend):
    response = wh.post(VECTOR_BODY, VECTOR_TOKEN)

    assert response.status == 200
    assert response.body == {"outcome": "not_our_room"}


def test_an_event_signed_with_livekit_apis_token_code_is_applied(stream, frozen_clock):
    body = wh.encode(joined_event(stream, frozen_clock))
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    token = livekit_api.AccessToken(KEY, SECRET).with_sha256(digest).to_jwt()

    response = wh.post(body, token)

    assert response.status == 200
    assert response.body == {"outcome": "go_live"}
    assert table.get(keys.stream(stream.stream_id))["status"] == "live"


def test_a_bearer_prefix_is_accepted_too(stream, frozen_clock):
    body = wh.encode(joined_event(stream, frozen_clock))

    assert wh.post(body, f"Bearer {wh.sign(body)}").status == 200


def test_a_base64_encoded_body_is_verified_on_its_decoded_bytes(stream, frozen_clock):
    body = wh.encode(joined_event(stream, frozen_clock))
    function, event = api.http_event(
        "POST", "/livekit/webhook", user=None, raw_body=body, headers={"authorization": wh.sign(body)}
    )
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True

    response = api.invoke(function, event)

    assert response.status == 200
    assert response.body == {"outcome": "go_live"}


def forged(body: bytes, **claims) -> str:
    """A token like LiveKit's with some claims changed (None leaves one out), signed with our secret."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    now = int(time.time())
    values = {"iss": KEY, "nbf": now, "exp": now + 300, "sha256": digest, **claims}
    return jwt.encode({k: v for k, v in values.items() if v is not None}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param(
            lambda body: wh.sign(body, secret="another-secret-that-is-32-chars-long!"), id="wrong-secret"
        ),
        pytest.param(lambda body: wh.sign(body, key="APIunknown", secret=SECRET), id="unknown-key"),
        pytest.param(lambda body: wh.sign(b"another body"), id="hash-of-another-body"),
        pytest.param(lambda body: forged(body, sha256=None), id="no-sha256-claim"),
        pytest.param(
            lambda body: forged(body, exp=int(time.time()) - 3600, nbf=int(time.time()) - 3900), id="expired"
        ),
        pytest.param(lambda body: forged(body, exp=None), id="no-expiry"),
        pytest.param(lambda body: forged(body, nbf=int(time.time()) + 3600), id="not-yet-valid"),
        pytest.param(
            lambda body: jwt.encode({"iss": KEY, "exp": int(time.time()) + 300}, key=None, algorithm="none"),
            id="alg-none",
        ),
    ],
)
def test_anything_that_does_not_verify_is_401_and_writes_nothing(stream, frozen_clock, authorization):
    body = wh.encode(joined_event(stream, frozen_clock))
    header = authorization(body) if callable(authorization) else authorization

    response = wh.post(body, header)

    assert response.status == 401
    assert response.error_code == "invalid_webhook_signature"
    assert nothing_applied(stream)


def test_a_body_changed_after_signing_is_401(stream, frozen_clock):
    body = wh.encode(joined_event(stream, frozen_clock))
    token = wh.sign(body)

    response = wh.post(body.replace(b"user-alice", b"user-mallory"), token)

    assert response.status == 401
    assert nothing_applied(stream)


def test_during_a_key_rotation_the_old_and_the_new_key_both_verify(stream, frozen_clock):
    provision.put_livekit_secret(
        stack.current().parameters["LiveKitCredentialsSecretName"],
        "APInewkey",
        "the-new-secret-that-is-32-chars-long",
        previous={KEY: SECRET},
        clients=provision.Clients(),
    )
    parameters.clear_caches()  # what the cache's max age does in a running container
    old = wh.encode(joined_event(stream, frozen_clock))
    viewer = wh.participant("user-bob", "PA_bob", joined_at_ms=frozen_clock.now_ms + 3000)
    new = wh.encode(
        wh.event("participant_joined", at_ms=frozen_clock.now_ms + 3000, stream=stream, participant=viewer)
    )

    assert wh.post(old, wh.sign(old)).status == 200
    assert (
        wh.post(new, wh.sign(new, key="APInewkey", secret="the-new-secret-that-is-32-chars-long")).status
        == 200
    )
    assert table.get(keys.stream(stream.stream_id))["viewerCount"] == 1


def test_a_key_dropped_from_the_secret_no_longer_verifies(stream, frozen_clock):
    provision.put_livekit_secret(
        stack.current().parameters["LiveKitCredentialsSecretName"],
        "APInewkey",
        "the-new-secret-that-is-32-chars-long",
        clients=provision.Clients(),
    )
    parameters.clear_caches()
    body = wh.encode(joined_event(stream, frozen_clock))

    assert wh.post(body, wh.sign(body)).status == 401
    assert nothing_applied(stream)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"this is not json", None, id="not-json"),
        pytest.param(b'{"event": 42, "id": "EV_1"}', None, id="wrong-type"),
        pytest.param(b'{"id": "EV_1", "room": {"name": "stream_X"}}', "event", id="no-event-name"),
        pytest.param(b'{"event": "room_started", "room": {"name": "stream_X"}}', "id", id="no-id"),
    ],
)
def test_a_verified_body_that_is_not_an_event_is_400(aws_backend, body, field):
    response = wh.post(body, wh.sign(body))

    assert response.status == 400
    assert response.error_code == "malformed_webhook"
    assert response.body["error"].get("field") == field
    assert not table.items(keys.WEBHOOK_EVENT_PK_PREFIX)


def test_unknown_fields_from_a_newer_livekit_are_ignored(stream, frozen_clock):
    data = json.loads(wh.encode(joined_event(stream, frozen_clock)))
    data["somethingNew"] = {"added": "by a later LiveKit"}
    data["participant"]["futureField"] = 1
    body = json.dumps(data).encode()

    response = wh.post(body, wh.sign(body))

    assert response.status == 200
    assert response.body == {"outcome": "go_live"}


def test_an_event_for_a_room_this_app_does_not_own_is_200_and_ignored(aws_backend, frozen_clock):
    foreign = wh.event("room_started", at_ms=frozen_clock.now_ms, room_name="someone-elses-room")

    response = wh.deliver(foreign)

    assert response.body == {"outcome": "not_our_room"}
    assert not table.items(keys.WEBHOOK_EVENT_PK_PREFIX)


def test_the_route_is_outside_the_jwt_authorizer():
    route = next(r for r in api.template.http_routes() if r.path == "/livekit/webhook")

    assert route.method == "POST"
    assert route.authorized is False
