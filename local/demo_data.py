"""Demo users for the local stack: alice (a creator) and her followers, with verified emails.

Tokens for them come from `make token USER=<name>` (the name is the token's `sub`). Emails are verified SES
identities in moto (SES's sandbox only sends to verified addresses).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import boto3

from local.intrinsics import REGION

if TYPE_CHECKING:
    from local.stack import Stack

log = logging.getLogger("local.demo_data")

CREATOR = "alice"
FOLLOWERS = ("bob", "carol", "dave")
USERS = (CREATOR, *FOLLOWERS)


def email_of(user: str) -> str:
    return f"{user}@example.com"


def seed(stack: Stack) -> None:
    assert stack.moto is not None
    ses = boto3.client("ses", region_name=REGION, endpoint_url=stack.moto.url)
    for user in USERS:
        ses.verify_email_identity(EmailAddress=email_of(user))
    log.info("demo users: %s (creator) followed by %s", CREATOR, ", ".join(FOLLOWERS))
