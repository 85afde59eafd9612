"""Demo users for the local stack, made through the API itself as the apps would make them.

alice is a creator; bob, carol and dave follow her; bob has an iPhone and carol an Android phone registered
for pushes. Everyone's email is the sign-in address their token vouches for (`<name>@example.com`,
`email_verified: true`). Tokens: `make token USER=<name>` (the name is the token's `sub`).
Steps whose route is not in template.yaml are skipped, so this works on any stage of the project.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local import template

log = logging.getLogger("local.demo_data")

CREATOR = "alice"
FOLLOWERS = ("bob", "carol", "dave")
USERS = (CREATOR, *FOLLOWERS)
PROFILES = {
    "alice": {"displayName": "Alice", "bio": "Skater, mornings only"},
    "bob": {"displayName": "Bob"},
    "carol": {"displayName": "Carol"},
    "dave": {"displayName": "Dave"},
}
DEVICES = {
    "bob": {"platform": "ios", "token": "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad"},
    "carol": {"platform": "android", "token": "fcm-demo-token-carol-0123456789abcdef"},
}

Token = Callable[[str], str]


def email_of(user: str) -> str:
    return f"{user}@example.com"


def call(base_url: str, token: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One API call as a client makes it; (status, parsed JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def _has_route(method: str, path: str) -> bool:
    return template.find_route(method, path) is not None


def seed(base_url: str, token: Token) -> list[str]:
    """Profiles, devices and follows through the gateway; returns what was done, one line per step."""
    done: list[str] = []

    def step(user: str, method: str, path: str, body: Any = None) -> None:
        if not _has_route(method, path):
            return
        status, answer = call(base_url, token(user), method, path, body)
        if status >= 300:
            raise RuntimeError(f"demo data: {user} {method} {path} answered {status}: {answer}")
        done.append(f"{user} {method} {path}")

    # One thread per user: the first calls are each function's cold start.
    def for_user(user: str) -> None:
        step(user, "PUT", "/me", PROFILES[user])
        if user in DEVICES:
            step(user, "POST", "/me/devices", DEVICES[user])
        if user in FOLLOWERS:
            step(user, "PUT", f"/users/{CREATOR}/follow")

    with ThreadPoolExecutor(len(USERS)) as pool:
        list(pool.map(for_user, USERS))
    if done:
        log.info("demo users: %s (creator) followed by %s", CREATOR, ", ".join(FOLLOWERS))
    return done
