"""RFC 8058 one-click unsubscribe: the link every go-live email carries, POSTed and GETted without a JWT."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from reels_live.store import keys
from tests.support import api, queues, stack
from tests.support import aws as table
from tests.support.notifications import deliver_chunks, run_notifier
from tests.support.social import STREAM_ID, follow, put_stream, sign_up

pytestmark = pytest.mark.usefixtures("aws_backend")


@pytest.fixture
def link(frozen_clock, ses_outbox) -> str:
    """The List-Unsubscribe URL of the go-live email bob got."""
    stack.set_parameter("SesMaxSendRate", 500)
    sign_up("user-alice", name="Alice")
    sign_up("user-bob")
    follow("user-bob", "user-alice")
    put_stream("user-alice", now_ms=frozen_clock.now_ms)
    run_notifier()
    deliver_chunks(queues.chunk_messages())
    [sent] = ses_outbox.sent
    header = sent.headers["List-Unsubscribe"]
    assert header.startswith("<")
    assert header.endswith(">")
    return header[1:-1]


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["t"][0]


def tampered(token: str) -> str:
    """The token with its signature's first character changed (the last one carries padding bits)."""
    subject, expiry, signature = token.split(".")
    return f"{subject}.{expiry}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def one_click(token: str, **kwargs) -> api.ApiResponse:
    """What a mailbox provider sends: POST to the link with `List-Unsubscribe=One-Click`, no login."""
    return api.request(
        "POST",
        "/unsubscribe",
        user=None,
        raw_body="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        query=f"t={token}",
        **kwargs,
    )


def email_switch(user: str) -> bool | None:
    item = table.get(keys.preferences(user))
    return None if item is None else item.get("goLiveEmail")


def test_the_link_is_short_and_https(link):
    assert link.startswith("https://")
    assert len(f"<{link}>") < 300


def test_a_one_click_post_switches_go_live_email_off_and_nothing_else(link, frozen_clock):
    response = one_click(token_of(link))

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Unsubscribed" in response.body
    assert email_switch("user-bob") is False
    stored = table.get(keys.preferences("user-bob"))
    assert stored["emailUnsubscribedAt"] == frozen_clock.now_ms
    preferences = api.request("GET", "/me/notification-preferences", user="user-bob").body
    assert preferences["goLive"] == {"email": False, "push": True, "inApp": True}
    # Repeating it (providers retry) is fine.
    assert one_click(token_of(link)).status == 200


def test_after_unsubscribing_no_more_go_live_email_but_in_app_still_lands(link, frozen_clock, ses_outbox):
    one_click(token_of(link))
    frozen_clock.advance(seconds=3600)
    second = "01JDQ40000000000000000000A"
    put_stream("user-alice", stream_id=second, now_ms=frozen_clock.now_ms)
    queues.invoke("NotifyFollowersFunction", [json.dumps({"streamId": second})], queue="GoLiveQueue")
    for chunk in queues.chunk_messages():
        queues.invoke("DeliverNotificationsFunction", [json.dumps(chunk)], queue="NotificationChunkQueue")

    assert len(ses_outbox.sent) == 1
    items = api.request("GET", "/me/notifications", user="user-bob").body["items"]
    assert [item["streamId"] for item in items] == [second, STREAM_ID]


def test_a_tampered_link_is_refused_and_changes_nothing(link):
    token = token_of(link)
    subject, expiry, signature = token.split(".")
    other_user = "dXNlci1jYXJvbA"  # base64url("user-carol")
    forged = [
        f"{other_user}.{expiry}.{signature}",
        f"{subject}.{expiry}zz.{signature}",
        tampered(token),
        f"{subject}.{expiry}",
    ]

    for bad in forged:
        response = one_click(bad)
        assert response.status == 403, bad
        assert response.error_code == "invalid_unsubscribe_link"
        assert response.body["error"]["field"] == "t"
    assert email_switch("user-bob") is None
    assert email_switch("user-carol") is None


def test_an_expired_link_is_410_and_changes_nothing(link, frozen_clock):
    frozen_clock.advance(seconds=91 * 86_400)

    response = one_click(token_of(link))

    assert response.status == 410
    assert response.error_code == "unsubscribe_link_expired"
    assert email_switch("user-bob") is None


def test_get_shows_a_confirmation_page_that_posts_and_changes_nothing(link):
    response = api.request("GET", "/unsubscribe", user=None, query=f"t={token_of(link)}")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.body
    assert '<form method="post" action="?t=' in page
    assert token_of(link) in page
    assert email_switch("user-bob") is None
    assert table.get(keys.preferences("user-bob")) is None


def test_get_with_a_bad_or_expired_link_shows_an_error_page(link, frozen_clock):
    forged = api.request("GET", "/unsubscribe", user=None, query=f"t={tampered(token_of(link))}")
    frozen_clock.advance(seconds=91 * 86_400)
    expired = api.request("GET", "/unsubscribe", user=None, query=f"t={token_of(link)}")

    assert forged.status == 403
    assert expired.status == 410
    assert "does not work" in forged.body
    assert "expired" in expired.body
    assert email_switch("user-bob") is None


@pytest.mark.parametrize("query", ["", "t=short", "t=" + "a" * 600, "t=has%20space.x.y"])
def test_a_malformed_token_is_422_naming_it(query):
    response = api.request("POST", "/unsubscribe", user=None, query=query)

    assert response.status == 422
    assert response.body["error"]["field"] == "t"
