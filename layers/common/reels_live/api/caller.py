"""Who is calling: the JWT authorizer's verified claims, and the raw body for routes that verify their own."""

import base64
import re

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from reels_live.core.errors import Unauthorized
from reels_live.entities.people import SignIn

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


def caller_id(app: APIGatewayHttpResolver) -> str:
    """The authenticated user: the JWT authorizer's `sub` claim (claims arrive as strings)."""
    sub = app.current_event.request_context.authorizer.jwt_claim.get("sub")
    if not sub:
        raise Unauthorized("No authenticated caller.")
    return str(sub)


def caller_sign_in(app: APIGatewayHttpResolver) -> SignIn:
    """The caller's email as the identity provider vouches for it (`email_verified` arrives as a string)."""
    claims = app.current_event.request_context.authorizer.jwt_claim
    email = str(claims.get("email") or "").strip()
    verified = str(claims.get("email_verified", "")).lower() == "true"
    name = str(claims.get("name") or claims.get("preferred_username") or "").strip()[:50] or None
    if not email or not _EMAIL.match(email) or len(email) > 254:
        return SignIn(name=name)
    return SignIn(verified_email=email if verified else None, email_unverified=not verified, name=name)


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    """The request body byte for byte, as signed by its sender (API Gateway base64-encodes binary bodies)."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()
