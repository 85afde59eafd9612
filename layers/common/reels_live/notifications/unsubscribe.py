"""One-click unsubscribe (RFC 8058): signed, expiring links in every go-live email, and what they do.

A token is `<user id, base64url>.<expiry, base 36 epoch seconds>.<HMAC-SHA256, first 16 bytes>`, keyed with
a random secret CloudFormation generated into Secrets Manager: about 80 characters, so the List-Unsubscribe
header stays far below SES's 995-character limit. Only our key makes a valid one, and it names a single user.
"""

import binascii
import hashlib
import hmac

from aws_lambda_powertools.metrics import MetricUnit

from reels_live.core import clock
from reels_live.core.config import settings
from reels_live.core.encoding import b64url_decode, b64url_encode
from reels_live.core.errors import InvalidUnsubscribeLink, UnsubscribeLinkExpired
from reels_live.core.observability import logger, metrics
from reels_live.integrations import secrets
from reels_live.store import preferences as preferences_store

_PURPOSE = b"unsubscribe-go-live-email.v1"
_MAC_BYTES = 16
FIELD = "t"


def link(user_id: str) -> str:
    """The URL for a user's List-Unsubscribe header (and the footer link)."""
    config = settings()
    expires_at = clock.now_ms() // 1000 + config.unsubscribe_link_ttl_days * 86_400
    return f"{config.unsubscribe_url}?{FIELD}={token(user_id, expires_at)}"


def token(user_id: str, expires_at_s: int) -> str:
    subject = b64url_encode(user_id.encode())
    expiry = _base36(expires_at_s)
    return f"{subject}.{expiry}.{b64url_encode(_mac(subject, expiry))}"


def verify(value: str) -> str:
    """The user a token was made for; raises when it is not ours (403) or has expired (410)."""
    parts = value.split(".")
    if len(parts) != 3:
        raise _invalid()
    subject, expiry, signature = parts
    try:
        given = b64url_decode(signature)
        user_id = b64url_decode(subject).decode()
        expires_at = int(expiry, 36)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _invalid() from None
    # Compare the signature before anything else is believed, in constant time.
    if not hmac.compare_digest(given, _mac(subject, expiry)):
        raise _invalid()
    if expires_at * 1000 <= clock.now_ms():
        raise UnsubscribeLinkExpired(
            "This unsubscribe link has expired; use the one in a newer email.", field=FIELD
        )
    return user_id


def unsubscribe(value: str) -> None:
    """The one-click POST: switch the link's user off go-live email (idempotent)."""
    user_id = verify(value)
    preferences_store.switch_off_go_live_email(user_id, now_ms=clock.now_ms())
    logger.info("unsubscribed from go-live email", extra={"user_id": user_id})
    metrics.add_metric(name="EmailUnsubscribed", unit=MetricUnit.Count, value=1)


def _mac(subject: str, expiry: str) -> bytes:
    message = b"|".join([_PURPOSE, subject.encode(), expiry.encode()])
    return hmac.new(secrets.unsubscribe_signing_key(), message, hashlib.sha256).digest()[:_MAC_BYTES]


def _invalid() -> InvalidUnsubscribeLink:
    return InvalidUnsubscribeLink("This unsubscribe link is not valid.", field=FIELD)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, index = divmod(number, 36)
        out = digits[index] + out
    return out or "0"
