"""The local identity provider and the JWT authorizer check, as API Gateway's HTTP API does it.

`LocalIssuer` plays the part of Cognito: an RSA key made at start (kept in the state dir so `make token` can
sign with it while the stack runs), an OpenID configuration and a JWKS on loopback. `JwtAuthorizer` checks
bearer tokens the way the HTTP API's JWT authorizer does: it fetches the issuer's JWKS, then checks the
signature (RSA only), `exp`, `nbf`, `iat`, `iss` and `aud` (or `client_id`), and hands the claims on as
strings. Any failure is API Gateway's own 401 before a function runs.

    python -m local.auth token alice      # a bearer token for user `alice` from the running stack
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

AUDIENCE = "reels-live-local"
KEY_FILE = "issuer-key.pem"
TOKEN_TTL_SECONDS = 3600
# The algorithms an HTTP API JWT authorizer accepts.
ALGORITHMS = ["RS256", "RS384", "RS512"]


class LocalIssuer:
    """An OpenID issuer on 127.0.0.1: discovery document and JWKS, signing with a key made at start."""

    def __init__(self, state_dir: Path, *, port: int = 0, audience: str = AUDIENCE) -> None:
        self.state_dir = state_dir
        self.audience = audience
        self.kid = f"local-{uuid.uuid4().hex[:8]}"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def private_key_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def start(self) -> LocalIssuer:
        self._server = make_server("127.0.0.1", self._port, self._app, threaded=True)
        self._port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="issuer", daemon=True)
        self._thread.start()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.state_dir / KEY_FILE
        key_file.write_bytes(self.private_key_pem)
        key_file.chmod(0o600)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def token(self, user: str, **claims: Any) -> str:
        return mint(
            user,
            issuer=self.url,
            audience=self.audience,
            key_pem=self.private_key_pem,
            kid=self.kid,
            **claims,
        )

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.path == "/.well-known/openid-configuration":
            body = {
                "issuer": self.url,
                "jwks_uri": f"{self.url}/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": ["RS256"],
                "subject_types_supported": ["public"],
                "response_types_supported": ["code"],
            }
        elif request.path == "/.well-known/jwks.json":
            body = self.jwks()
        else:
            return Response(json.dumps({"message": "Not Found"}), 404, content_type="application/json")
        return Response(json.dumps(body), 200, content_type="application/json")


def mint(
    user: str,
    *,
    issuer: str,
    audience: str,
    key_pem: bytes,
    kid: str | None = None,
    ttl: int = TOKEN_TTL_SECONDS,
    now: float | None = None,
    **claims: Any,
) -> str:
    """A Cognito-like ID token for `user` (its `sub`); `claims` add or replace claims (None removes one)."""
    issued = int(now if now is not None else time.time())
    body: dict[str, Any] = {
        "sub": user,
        "cognito:username": user,
        "email": f"{user}@example.com",
        "email_verified": True,
        "token_use": "id",
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "auth_time": issued,
        "exp": issued + ttl,
        "event_id": str(uuid.uuid4()),
    }
    body.update(claims)
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, key_pem, algorithm="RS256", headers={"kid": kid} if kid else None)


class Unauthorized(Exception):
    """The token is missing or fails a check; `description` goes to WWW-Authenticate as API Gateway does."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass
class JwtAuthorizer:
    """One JWT authorizer's configuration (issuer, audiences), checking tokens against the issuer's JWKS."""

    issuer: str
    audiences: list[str]
    leeway: float = 0.0

    def __post_init__(self) -> None:
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwk_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._jwks is None:
                import urllib.request

                with urllib.request.urlopen(
                    f"{self.issuer}/.well-known/openid-configuration", timeout=5
                ) as r:
                    discovery = json.loads(r.read())
                self._jwks = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=True, lifespan=300)
            return self._jwks

    def authorize(self, authorization: str | None) -> dict[str, Any]:
        """The token's claims, or Unauthorized. The header may carry the token with or without `Bearer `."""
        if not authorization:
            raise Unauthorized("")
        token = (
            authorization.split(" ", 1)[1] if authorization.lower().startswith("bearer ") else authorization
        )
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the token is malformed") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("the token's algorithm is not supported")
        try:
            key = self._jwk_client().get_signing_key(header.get("kid") or "")
        except jwt.PyJWKClientError:
            raise Unauthorized("the token's key is not known") from None
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss"], "verify_aud": False, "verify_iat": True},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token's issuer is not trusted") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is invalid") from None
        if not self._audience_ok(claims):
            raise Unauthorized("the token's audience is not accepted")
        return claims

    def _audience_ok(self, claims: dict[str, Any]) -> bool:
        audience = claims.get("aud")
        if audience is not None:
            given = audience if isinstance(audience, list) else [audience]
            return any(item in self.audiences for item in given)
        # Access tokens (Cognito's) carry client_id instead of aud.
        return claims.get("client_id") in self.audiences


def claims_as_strings(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as the HTTP API passes them to a function: every value a string, lists as `[a b]`."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return "[" + " ".join(text(item) for item in value) + "]"
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    return {name: text(value) for name, value in claims.items()}


def token_from_state(state_dir: Path, user: str, **claims: Any) -> str:
    """A token signed by the running stack's issuer (its key and URLs are in the state dir)."""
    state_file = state_dir / "state.json"
    key_file = state_dir / KEY_FILE
    if not state_file.exists() or not key_file.exists():
        raise SystemExit(f"no local stack state in {state_dir}: start it with `make run`")
    state = json.loads(state_file.read_text())
    return mint(
        user,
        issuer=state["issuer"]["url"],
        audience=state["issuer"]["audience"],
        key_pem=key_file.read_bytes(),
        kid=state["issuer"]["kid"],
        **claims,
    )


def main(argv: list[str] | None = None) -> None:
    from local import state

    parser = argparse.ArgumentParser(prog="python -m local.auth", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("token", help="print a bearer token for a user of the running stack")
    token.add_argument("user", nargs="?", default="alice")
    token.add_argument("--ttl", type=int, default=TOKEN_TTL_SECONDS, help="seconds the token is valid")
    args = parser.parse_args(argv)
    issued = int(time.time())
    print(token_from_state(state.state_dir(), args.user, exp=issued + args.ttl))


if __name__ == "__main__":
    main()
