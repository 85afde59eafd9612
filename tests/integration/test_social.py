"""Profiles, follows and followers lists through the handlers, against moto."""

import pytest

from reels_live.store import keys
from tests.support import api
from tests.support import aws as table
from tests.support.social import follow, request_with_claims, sign_up

pytestmark = pytest.mark.usefixtures("aws_backend")


# ---------------------------------------------------------------- profiles


def test_first_get_me_creates_the_profile_with_the_verified_email(frozen_clock):
    response = api.request("GET", "/me", user="user-alice")

    assert response.status == 200
    assert response.body == {
        "userId": "user-alice",
        "displayName": None,
        "bio": None,
        "email": "user-alice@example.com",
        "followerCount": 0,
        "followingCount": 0,
        "createdAt": frozen_clock.now_ms,
        "updatedAt": frozen_clock.now_ms,
    }
    stored = table.get(keys.profile("user-alice"))
    assert stored["email"] == "user-alice@example.com"
    assert stored["entity"] == "profile"


def test_an_unverified_email_is_never_stored():
    response = request_with_claims("GET", "/me", user="user-alice", claims={"email_verified": "false"})

    assert response.status == 200
    assert response.body["email"] is None
    assert "email" not in table.get(keys.profile("user-alice"))


def test_an_email_that_becomes_unverified_is_forgotten_and_a_new_verified_one_replaces_it():
    sign_up("user-alice")

    changed = request_with_claims(
        "GET", "/me", user="user-alice", claims={"email": "new@example.com", "email_verified": "false"}
    )
    assert changed.body["email"] is None
    assert "email" not in table.get(keys.profile("user-alice"))

    verified = request_with_claims(
        "GET", "/me", user="user-alice", claims={"email": "new@example.com", "email_verified": "true"}
    )
    assert verified.body["email"] == "new@example.com"
    assert table.get(keys.profile("user-alice"))["email"] == "new@example.com"


def test_a_token_without_email_keeps_the_stored_address():
    sign_up("user-alice")

    function, event = api.http_event("GET", "/me", user="user-alice")
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    del claims["email"], claims["email_verified"]
    response = api.invoke(function, event)

    assert response.body["email"] == "user-alice@example.com"


def test_put_me_sets_name_and_bio_and_keeps_counts(frozen_clock):
    sign_up("user-bob")
    sign_up("user-alice")
    follow("user-bob", "user-alice")
    frozen_clock.advance(seconds=5)

    response = api.request(
        "PUT", "/me", user="user-alice", body={"displayName": "  Alice  ", "bio": "Skater"}
    )

    assert response.status == 200
    assert response.body["displayName"] == "Alice"
    assert response.body["bio"] == "Skater"
    assert response.body["followerCount"] == 1
    assert response.body["updatedAt"] == frozen_clock.now_ms
    cleared = api.request("PUT", "/me", user="user-alice", body={"displayName": "Alice"})
    assert cleared.body["bio"] is None
    assert "bio" not in table.get(keys.profile("user-alice"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"displayName": ""}, "displayName"),
        ({"displayName": "x" * 51}, "displayName"),
        ({"displayName": "ok", "bio": "y" * 301}, "bio"),
        ({"displayName": "ok", "email": "me@evil.example"}, "email"),
        ({"displayName": "ok", "followerCount": 1000}, "followerCount"),
    ],
)
def test_put_me_rejects_bad_or_server_owned_fields_naming_the_field(body, field):
    response = api.request("PUT", "/me", user="user-alice", body=body)

    assert response.status == 422
    assert response.body["error"]["field"] == field
    assert table.get(keys.profile("user-alice")) is None


# ---------------------------------------------------------------- follows


def test_follow_adds_the_edge_and_both_counts_once():
    sign_up("user-alice")

    first = api.request("PUT", "/users/user-alice/follow", user="user-bob")
    again = api.request("PUT", "/users/user-alice/follow", user="user-bob")

    assert first.status == again.status == 200
    assert first.body == again.body == {"userId": "user-alice", "following": True, "followerCount": 1}
    assert table.get(keys.profile("user-alice"))["followerCount"] == 1
    assert table.get(keys.profile("user-bob"))["followingCount"] == 1
    edge = table.get(keys.follow("user-bob", "user-alice"))
    assert edge["GSI1PK"] == keys.followers_partition("user-alice")
    assert edge["followerId"] == "user-bob"


def test_unfollow_removes_the_edge_and_counts_and_repeating_changes_nothing():
    sign_up("user-alice")
    follow("user-bob", "user-alice")

    first = api.request("DELETE", "/users/user-alice/follow", user="user-bob")
    again = api.request("DELETE", "/users/user-alice/follow", user="user-bob")

    assert first.status == again.status == 200
    assert again.body == {"userId": "user-alice", "following": False, "followerCount": 0}
    assert table.get(keys.follow("user-bob", "user-alice")) is None
    assert table.get(keys.profile("user-alice"))["followerCount"] == 0
    assert table.get(keys.profile("user-bob"))["followingCount"] == 0


def test_nobody_can_follow_themselves():
    sign_up("user-alice")

    response = api.request("PUT", "/users/user-alice/follow", user="user-alice")

    assert response.status == 422
    assert response.error_code == "cannot_follow_self"
    assert response.body["error"]["field"] == "userId"
    assert table.get(keys.follow("user-alice", "user-alice")) is None


def test_following_an_unknown_user_is_404_and_writes_nothing():
    response = api.request("PUT", "/users/user-nobody/follow", user="user-bob")

    assert response.status == 404
    assert response.error_code == "user_not_found"
    assert table.items(keys.USER_PREFIX) == []


def test_a_user_id_that_could_forge_a_key_is_rejected():
    # '#' separates key parts; a browser never sends it raw (it starts a fragment), so it comes encoded.
    response = api.request("PUT", "/users/x%23PROFILE/follow", user="user-bob")

    assert response.status == 422
    assert response.body["error"]["field"] == "userId"
    assert table.items(keys.USER_PREFIX) == []


def test_followers_are_listed_newest_first_with_names_but_never_emails(frozen_clock):
    sign_up("user-alice", name="Alice")
    for follower in ["user-bob", "user-carol", "user-dave"]:
        sign_up(follower, name=follower.removeprefix("user-").title())
        follow(follower, "user-alice")
        frozen_clock.advance(seconds=1)

    first = api.request("GET", "/users/user-alice/followers", user="user-zed", query="limit=2")
    second = api.request(
        "GET",
        "/users/user-alice/followers",
        user="user-zed",
        query=f"limit=2&cursor={first.body['nextCursor']}",
    )

    assert first.status == second.status == 200
    assert [item["userId"] for item in first.body["items"]] == ["user-dave", "user-carol"]
    assert first.body["items"][0]["displayName"] == "Dave"
    assert [item["userId"] for item in second.body["items"]] == ["user-bob"]
    assert second.body["nextCursor"] is None
    assert "email" not in str(first.body) + str(second.body)


def test_following_lists_whom_a_user_follows():
    for creator in ["user-alice", "user-carol"]:
        sign_up(creator)
        follow("user-bob", creator)

    response = api.request("GET", "/users/user-bob/following", user="user-bob")

    assert response.status == 200
    assert [item["userId"] for item in response.body["items"]] == ["user-alice", "user-carol"]
    assert response.body["nextCursor"] is None


@pytest.mark.parametrize(
    "cursor", ["not-base64!", "e30", "eyJQSyI6IlVTRVIjdXNlci16ZWQiLCJTSyI6IkZPTExPV1MjeCJ9"]
)
def test_a_cursor_this_list_did_not_give_out_is_422(cursor):
    # The last one is a well-formed cursor for user-zed's list, used on user-bob's.
    response = api.request("GET", "/users/user-bob/following", user="user-bob", query=f"cursor={cursor}")

    assert response.status == 422
    assert response.body["error"]["field"] == "cursor"
