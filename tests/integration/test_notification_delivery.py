"""Notification chunks -> email, push and in-app (DeliverNotificationsFunction), against moto.

SESv2 SendBulkEmail is answered by botocore's Stubber on the functions' own client (`ses_outbox`, see
tests/support/ses.py): moto implements neither SendBulkEmail nor SESv2 templates, and the Stubber
validates every call against the real service model.
"""

import json
from collections import Counter

import boto3
import pytest
from moto.sns.models import sns_backends

from reels_live.integrations import ses as email_module
from reels_live.integrations import sns as push_module
from reels_live.store import keys
from reels_live.store import notifications as notification_store
from tests.support import api, queues, stack
from tests.support import aws as table
from tests.support.aws import sns
from tests.support.notifications import deliver_chunks, go_live_message, run_notifier
from tests.support.social import STREAM_ID, follow, put_stream, register_device, sign_up

pytestmark = pytest.mark.usefixtures("aws_backend")

SECOND_STREAM = "01JDQ40000000000000000000A"
LEASE_S = 120 + 30  # the function's timeout plus the lease margin


# ---------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def production_ses_rate(aws_backend):
    """An account out of the sandbox at 500 recipients a second: 50 per invocation, full 50-destination calls."""
    stack.set_parameter("SesMaxSendRate", 500)


def put_live_and_fan_out(frozen_clock, stream_id: str = STREAM_ID) -> list[dict]:
    """Put the stream live, run the fan-out, and return the chunks it enqueued."""
    put_stream("user-alice", stream_id=stream_id, now_ms=frozen_clock.now_ms)
    assert run_notifier(go_live_message(stream_id)) == []
    return queues.chunk_messages()


def everyone(frozen_clock) -> None:
    """alice streams; bob (email, an iPhone), carol (unverified email, an Android), dave (email only)."""
    sign_up("user-alice", name="Alice")
    sign_up("user-bob", name="Bob")
    sign_up("user-carol", name="Carol", verified=False)
    sign_up("user-dave", name="Dave")
    for follower in ["user-bob", "user-carol", "user-dave"]:
        follow(follower, "user-alice")
    register_device("user-bob", "b" * 64, "ios")
    register_device("user-carol", "carol-fcm-token-0123456789", "android")


def pushes(user: str) -> list[dict]:
    """Messages SNS accepted for the user's devices (moto keeps them on the endpoint)."""
    backend = sns_backends["123456789012"]["us-east-1"]
    found = []
    for endpoint in backend.platform_endpoints.values():
        if endpoint.attributes.get("CustomUserData") == user:
            found += [json.loads(message) for message in endpoint.messages.values()]
    return found


def inbox(user: str) -> list[dict]:
    response = api.request("GET", "/me/notifications", user=user)
    assert response.status == 200
    return response.body["items"]


def metrics(capsys) -> Counter:
    """Sum of the EMF metrics the handlers printed so far."""
    totals: Counter = Counter()
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"]:
            for metric in definition["Metrics"]:
                value = blob[metric["Name"]]
                totals[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return totals


# ---------------------------------------------------------------- the happy path


def test_each_follower_gets_the_alert_by_email_push_and_in_app_once(frozen_clock, ses_outbox, capsys):
    everyone(frozen_clock)

    assert deliver_chunks(put_live_and_fan_out(frozen_clock)) == []

    [call] = ses_outbox.calls
    request_sent = call["request"]
    refs = stack.current().refs
    assert request_sent["FromEmailAddress"] == "live@example.com"
    assert request_sent["ConfigurationSetName"] == refs["NotificationConfigurationSet"]
    assert request_sent["DefaultContent"]["Template"]["TemplateName"] == refs["GoLiveEmailTemplate"]
    assert sorted(sent.to for sent in ses_outbox.sent) == ["user-bob@example.com", "user-dave@example.com"]
    for sent in ses_outbox.sent:
        assert sent.data["creatorName"] == "Alice"
        assert sent.data["title"] == "Morning skate"
        assert sent.data["link"] == f"https://reels.example.com/live/{STREAM_ID}"
        assert sent.headers["List-Unsubscribe"] == f"<{sent.data['unsubscribeUrl']}>"
        assert sent.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert len(sent.headers["List-Unsubscribe"]) <= 995
        assert sent.data["unsubscribeUrl"].startswith(
            "https://reels-live-local-HttpApi.execute-api.us-east-1.amazonaws.com/unsubscribe?t="
        )

    [bob_push] = pushes("user-bob")
    apns = json.loads(bob_push["APNS"])
    assert apns["aps"]["alert"] == {"title": "Alice is live", "body": "Morning skate"}
    assert apns["streamId"] == STREAM_ID
    [carol_push] = pushes("user-carol")
    assert json.loads(carol_push["GCM"])["fcmV1Message"]["message"]["data"]["streamId"] == STREAM_ID

    for user in ["user-bob", "user-carol", "user-dave"]:
        [item] = inbox(user)
        assert item == {
            "notificationId": STREAM_ID,
            "kind": "go_live",
            "streamId": STREAM_ID,
            "creatorId": "user-alice",
            "creatorName": "Alice",
            "title": "Morning skate",
            "link": f"https://reels.example.com/live/{STREAM_ID}",
            "createdAt": frozen_clock.now_ms,
            "readAt": None,
        }
        assert table.get(keys.alert(user, "user-alice"))["state"] == "delivered"
    stored = table.get(keys.inbox("user-bob", STREAM_ID))
    assert stored["expiresAt"] == frozen_clock.now_ms // 1000 + 30 * 86_400

    counted = metrics(capsys)
    assert counted["EmailSent"] == 2
    assert counted["PushSent"] == 2
    assert counted["NotificationsInApp"] == 3
    assert counted["EmailNotSent"] == counted["PushNotSent"] == 0
    assert "user-bob@example.com" not in capsys.readouterr().out


def test_inbox_is_newest_first_paginated_with_read_marks(frozen_clock, ses_outbox):
    everyone(frozen_clock)
    deliver_chunks(put_live_and_fan_out(frozen_clock))
    frozen_clock.advance(seconds=3600)
    deliver_chunks(put_live_and_fan_out(frozen_clock, SECOND_STREAM))

    first = api.request("GET", "/me/notifications", user="user-bob", query="limit=1")
    second = api.request(
        "GET", "/me/notifications", user="user-bob", query=f"limit=1&cursor={first.body['nextCursor']}"
    )
    assert [item["streamId"] for item in first.body["items"] + second.body["items"]] == [
        SECOND_STREAM,
        STREAM_ID,
    ]

    read_at = frozen_clock.now_ms
    marked = api.request("POST", f"/me/notifications/{STREAM_ID}/read", user="user-bob")
    frozen_clock.advance(seconds=10)
    again = api.request("POST", f"/me/notifications/{STREAM_ID}/read", user="user-bob")
    missing = api.request("POST", f"/me/notifications/{STREAM_ID}/read", user="user-zed")

    assert marked.status == again.status == 200
    assert marked.body["readAt"] == again.body["readAt"] == read_at
    assert missing.status == 404
    assert missing.error_code == "notification_not_found"
    assert [item["readAt"] for item in inbox("user-bob")] == [None, read_at]


def test_expired_inbox_items_are_not_listed_before_ttl_removes_them(frozen_clock, ses_outbox):
    everyone(frozen_clock)
    deliver_chunks(put_live_and_fan_out(frozen_clock))

    frozen_clock.advance(seconds=31 * 86_400)

    assert inbox("user-bob") == []


# ---------------------------------------------------------------- exactly once


def test_a_duplicate_chunk_notifies_nobody_again(frozen_clock, ses_outbox, capsys):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    deliver_chunks(chunks)
    capsys.readouterr()

    assert deliver_chunks(chunks) == []

    assert len(ses_outbox.calls) == 1
    assert len(pushes("user-bob")) == len(pushes("user-carol")) == 1
    assert len(inbox("user-dave")) == 1
    counted = metrics(capsys)
    assert counted["RecipientsSkipped"] == 3
    assert counted["EmailSent"] == counted["PushSent"] == counted["NotificationsInApp"] == 0


def test_a_chunk_that_crashed_before_sending_is_delivered_by_its_retry_once(
    frozen_clock, ses_outbox, monkeypatch
):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    real_publish = push_module.publish_go_live

    def broken(*args, **kwargs):
        raise RuntimeError("the invocation died")

    monkeypatch.setattr(push_module, "publish_go_live", broken)
    assert len(deliver_chunks(chunks)) == 1
    assert table.get(keys.alert("user-bob", "user-alice"))["state"] == "claimed"
    monkeypatch.setattr(push_module, "publish_go_live", real_publish)

    # Retried while the crashed attempt's claims still hold: nothing is sent twice, nothing yet either.
    assert deliver_chunks(chunks) == []
    assert pushes("user-bob") == []
    frozen_clock.advance(seconds=LEASE_S + 1)
    assert deliver_chunks(chunks) == []

    assert len(pushes("user-bob")) == len(pushes("user-carol")) == 1
    assert sorted(sent.to for sent in ses_outbox.sent) == ["user-bob@example.com", "user-dave@example.com"]
    assert all(len(inbox(user)) == 1 for user in ["user-bob", "user-carol", "user-dave"])


def test_a_crash_after_push_and_in_app_were_recorded_retries_only_the_email(
    frozen_clock, ses_outbox, monkeypatch
):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    real_send = email_module.send_bulk

    def broken(*args, **kwargs):
        raise RuntimeError("the invocation died")

    monkeypatch.setattr(email_module, "send_bulk", broken)
    assert len(deliver_chunks(chunks)) == 1
    assert table.get(keys.alert("user-bob", "user-alice"))["state"] == "email_pending"
    assert table.get(keys.alert("user-carol", "user-alice"))["state"] == "delivered"
    monkeypatch.setattr(email_module, "send_bulk", real_send)

    frozen_clock.advance(seconds=LEASE_S + 1)
    assert deliver_chunks(chunks) == []

    assert sorted(sent.to for sent in ses_outbox.sent) == ["user-bob@example.com", "user-dave@example.com"]
    assert len(pushes("user-bob")) == 1
    assert len(inbox("user-bob")) == 1
    assert table.get(keys.alert("user-bob", "user-alice"))["state"] == "delivered"


def test_the_named_window_a_crash_between_sending_and_recording_repeats_that_group(
    frozen_clock, ses_outbox, monkeypatch
):
    """The one duplicate the design admits: sends accepted, then the marker write never happens."""
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    real_write = notification_store.write
    calls = {"n": 0}

    def crash_once(items):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("crashed before the markers were written")
        return real_write(items)

    monkeypatch.setattr(notification_store, "write", crash_once)
    assert len(deliver_chunks(chunks)) == 1
    frozen_clock.advance(seconds=LEASE_S + 1)
    assert deliver_chunks(chunks) == []

    assert len(pushes("user-bob")) == 2  # the duplicate the window allows
    assert len(inbox("user-bob")) == 1  # in-app is keyed by stream: written twice, one item
    assert sorted(sent.to for sent in ses_outbox.sent) == ["user-bob@example.com", "user-dave@example.com"]


# ---------------------------------------------------------------- preferences, quiet hours, cooldown


def put_preferences(user: str, body: dict) -> None:
    response = api.request("PUT", "/me/notification-preferences", user=user, body=body)
    assert response.status == 200, response.body


@pytest.mark.parametrize(
    ("channels", "emails", "bob_pushes", "bob_inbox"),
    [
        ({"email": False, "push": True, "inApp": True}, ["user-dave@example.com"], 1, 1),
        (
            {"email": True, "push": False, "inApp": True},
            ["user-bob@example.com", "user-dave@example.com"],
            0,
            1,
        ),
        (
            {"email": True, "push": True, "inApp": False},
            ["user-bob@example.com", "user-dave@example.com"],
            1,
            0,
        ),
    ],
)
def test_switched_off_channels_are_respected(
    frozen_clock, ses_outbox, channels, emails, bob_pushes, bob_inbox
):
    everyone(frozen_clock)
    put_preferences("user-bob", {"goLive": channels})

    deliver_chunks(put_live_and_fan_out(frozen_clock))

    assert sorted(sent.to for sent in ses_outbox.sent) == emails
    assert len(pushes("user-bob")) == bob_pushes
    assert len(inbox("user-bob")) == bob_inbox


def test_muted_creators_and_all_channels_off_reach_nobody_and_write_nothing(frozen_clock, ses_outbox):
    everyone(frozen_clock)
    put_preferences("user-bob", {"mutedCreatorIds": ["user-alice"]})
    put_preferences("user-dave", {"goLive": {"email": False, "push": False, "inApp": False}})

    deliver_chunks(put_live_and_fan_out(frozen_clock))

    assert [sent.to for sent in ses_outbox.sent] == []
    assert pushes("user-bob") == []
    assert inbox("user-bob") == inbox("user-dave") == []
    assert table.get(keys.alert("user-bob", "user-alice")) is None
    assert table.get(keys.alert("user-dave", "user-alice")) is None
    assert len(pushes("user-carol")) == 1


@pytest.mark.parametrize(
    ("start", "end", "quiet"),
    [
        ("18:00", "19:00", True),  # the frozen clock says 18:46 in Tokyo (09:46 UTC)
        ("17:00", "01:00", True),  # across midnight
        ("22:00", "07:00", False),
        ("18:47", "18:46", False),  # all day but the minute we are in
    ],
)
def test_quiet_hours_in_the_users_time_zone_drop_push_but_keep_in_app_and_email(
    frozen_clock, ses_outbox, capsys, start, end, quiet
):
    everyone(frozen_clock)
    put_preferences("user-bob", {"quietHours": {"start": start, "end": end, "timeZone": "Asia/Tokyo"}})

    deliver_chunks(put_live_and_fan_out(frozen_clock))

    assert len(pushes("user-bob")) == (0 if quiet else 1)
    assert len(inbox("user-bob")) == 1
    assert "user-bob@example.com" in [sent.to for sent in ses_outbox.sent]
    assert metrics(capsys)["PushDroppedQuietHours"] == (1 if quiet else 0)


def test_a_follower_hears_about_a_creator_once_per_cooldown(frozen_clock, ses_outbox, capsys):
    everyone(frozen_clock)
    deliver_chunks(put_live_and_fan_out(frozen_clock))
    frozen_clock.advance(seconds=20 * 60)
    capsys.readouterr()

    deliver_chunks(put_live_and_fan_out(frozen_clock, SECOND_STREAM))

    assert metrics(capsys)["RecipientsSkipped"] == 3
    assert [item["streamId"] for item in inbox("user-bob")] == [STREAM_ID]
    assert len(pushes("user-bob")) == 1
    assert len(ses_outbox.calls) == 1

    frozen_clock.advance(seconds=11 * 60)
    third = "01JDQ50000000000000000000B"
    deliver_chunks(put_live_and_fan_out(frozen_clock, third))
    assert [item["streamId"] for item in inbox("user-bob")] == [third, STREAM_ID]
    assert len(pushes("user-bob")) == 2


# ---------------------------------------------------------------- push endpoints


@pytest.mark.parametrize("how", ["disabled", "deleted"])
def test_a_disabled_or_deleted_endpoint_loses_its_device_and_the_others_still_get_push(
    frozen_clock, ses_outbox, capsys, how
):
    everyone(frozen_clock)
    stale = register_device("user-bob", "c" * 64, "ios")
    arn = table.get(keys.devices("user-bob"))["devices"][stale["deviceId"]]["endpointArn"]
    if how == "disabled":
        sns().set_endpoint_attributes(EndpointArn=arn, Attributes={"Enabled": "false"})
    else:
        sns().delete_endpoint(EndpointArn=arn)

    deliver_chunks(put_live_and_fan_out(frozen_clock))

    assert len(pushes("user-bob")) == 1
    devices = table.get(keys.devices("user-bob"))["devices"]
    assert stale["deviceId"] not in devices
    assert len(devices) == 1
    assert len(table.items(keys.PUSH_TOKEN_PK_PREFIX)) == 2  # bob's live device and carol's
    counted = metrics(capsys)
    assert counted["PushDevicesRemoved"] == 1
    assert counted["PushSent"] == 2


# ---------------------------------------------------------------- SES throttling, outages, pacing


def test_ses_throttling_is_retried_with_backoff_and_the_email_still_goes(frozen_clock, ses_outbox, capsys):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    ses_outbox.fail_next("Throttling", times=2)
    started = frozen_clock.now_ms

    assert deliver_chunks(chunks) == []

    assert [call["outcome"] for call in ses_outbox.calls] == ["Throttling", "Throttling", "ok"]
    assert sorted(sent.to for sent in ses_outbox.sent) == ["user-bob@example.com", "user-dave@example.com"]
    assert frozen_clock.now_ms >= started  # backoff waited on the (frozen) clock, never for real
    counted = metrics(capsys)
    assert counted["EmailThrottled"] == 2
    assert counted["EmailSent"] == 2
    assert counted["EmailNotSent"] == 0


def test_when_ses_stays_down_in_app_still_lands_and_metrics_say_what_was_not_sent(
    frozen_clock, ses_outbox, capsys
):
    stack.set_parameter("SesMaxSendRate", 10)
    stack.set_parameter("NotificationDeliveryConcurrency", 10)  # one destination a call: two groups
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    ses_outbox.fail_next("TooManyRequestsException", times=5, status=429)

    assert deliver_chunks(chunks) == []

    # Five throttled attempts for the first group; the second is not tried (SES counts as down).
    assert len(ses_outbox.calls) == 5
    assert ses_outbox.sent == []
    assert all(len(inbox(user)) == 1 for user in ["user-bob", "user-carol", "user-dave"])
    assert len(pushes("user-bob")) == 1
    assert table.get(keys.alert("user-bob", "user-alice"))["state"] == "delivered"
    counted = metrics(capsys)
    assert counted["EmailNotSent"] == 2
    assert counted["EmailThrottled"] == 5
    assert counted["NotificationsInApp"] == 3


def test_ses_refusing_to_send_skips_email_at_once(frozen_clock, ses_outbox, capsys):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    ses_outbox.fail_next("SendingPausedException")

    deliver_chunks(chunks)

    assert len(ses_outbox.calls) == 1
    assert metrics(capsys)["EmailNotSent"] == 2
    assert len(inbox("user-dave")) == 1


def test_a_throttled_destination_is_retried_alone(frozen_clock, ses_outbox):
    everyone(frozen_clock)
    chunks = put_live_and_fan_out(frozen_clock)
    ses_outbox.statuses_next(["SUCCESS", "ACCOUNT_THROTTLED"])

    deliver_chunks(chunks)

    first, second = (call["request"]["BulkEmailEntries"] for call in ses_outbox.calls)
    assert len(first) == 2
    assert [entry["Destination"]["ToAddresses"] for entry in second] == [
        first[1]["Destination"]["ToAddresses"]
    ]
    assert len(ses_outbox.sent) == 2


def test_email_is_paced_at_the_invocations_share_of_the_ses_rate(frozen_clock, ses_outbox):
    # 4 recipients a second for the account over 2 concurrent invocations: 2 a second, 2 a call.
    stack.set_parameter("SesMaxSendRate", 4)
    stack.set_parameter("NotificationDeliveryConcurrency", 2)
    sign_up("user-alice", name="Alice")
    for index in range(5):
        sign_up(f"user-f{index}")
        follow(f"user-f{index}", "user-alice")
    chunks = put_live_and_fan_out(frozen_clock)
    started = frozen_clock.now_ms

    deliver_chunks(chunks)

    assert [len(call["request"]["BulkEmailEntries"]) for call in ses_outbox.calls] == [2, 2, 1]
    assert len(ses_outbox.sent) == 5
    # Sends at 0 s, 1 s and 2 s: the third waited for the first four recipients' share.
    assert frozen_clock.now_ms - started == 2000


# ---------------------------------------------------------------- dead letters


def test_a_chunk_that_keeps_failing_lands_in_the_dlq_whole_and_replays(frozen_clock, ses_outbox, monkeypatch):
    everyone(frozen_clock)
    put_stream("user-alice", now_ms=frozen_clock.now_ms)
    run_notifier()
    real_recipients = notification_store.recipients

    def table_down(user_ids):
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(notification_store, "recipients", table_down)
    poller = queues.Poller("DeliverNotificationsFunction", "NotificationChunkQueue", batch_size=1)
    poller.drain()

    assert len(poller.failures) == 5
    [dead] = queues.bodies("NotificationChunkDeadLetterQueue")
    assert sorted(json.loads(dead)["recipientIds"]) == ["user-bob", "user-carol", "user-dave"]
    assert inbox("user-bob") == []

    # Fixed, the dead letter is replayed (start-message-move-task in AWS) and delivers once.
    monkeypatch.setattr(notification_store, "recipients", real_recipients)
    boto3.client("sqs", region_name="us-east-1").send_message(
        QueueUrl=queues.url("NotificationChunkQueue"), MessageBody=dead
    )
    poller.drain()
    assert all(len(inbox(user)) == 1 for user in ["user-bob", "user-carol", "user-dave"])
    assert len(ses_outbox.sent) == 2


def test_profiles_show_only_their_owner_the_email(frozen_clock):
    everyone(frozen_clock)

    followers = api.request("GET", "/users/user-alice/followers", user="user-bob")
    mine = api.request("GET", "/me", user="user-bob")

    assert "example.com" not in json.dumps(followers.body)
    assert mine.body["email"] == "user-bob@example.com"
