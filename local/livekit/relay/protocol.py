"""How LiveKit speaks, for the parts of the relay that answer or sign like the server: Twirp's error codes and
their HTTP statuses, and webhook bodies encoded (protojson) and signed (an HS256 JWT over the body's sha256)
the way livekit-server does it. Pure helpers: no state, no I/O."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

from aiohttp import web
from google.protobuf import json_format
from livekit import api
from livekit.protocol import webhook as webhook_pb

TWIRP_STATUS = {
    "invalid_argument": 400,
    "malformed": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "bad_route": 404,
    "failed_precondition": 412,
    "internal": 500,
    "unimplemented": 501,
    "unavailable": 503,
}


class TwirpError(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg

    def response(self) -> web.Response:
        return web.json_response(
            {"code": self.code, "msg": self.msg}, status=TWIRP_STATUS.get(self.code, 500)
        )


def sign_webhook(body: bytes, api_key: str, api_secret: str) -> str:
    """The Authorization header LiveKit puts on a webhook: an HS256 JWT from the API key, valid 5 minutes,
    whose `sha256` claim is base64(sha256(body))."""
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(api_key, api_secret).with_ttl(timedelta(minutes=5)).with_sha256(digest).to_jwt()


def encode_webhook(event: webhook_pb.WebhookEvent) -> bytes:
    """protojson as the server sends it: lowerCamelCase names, defaults omitted, int64 as strings."""
    return json.dumps(json_format.MessageToDict(event), separators=(",", ":")).encode()
