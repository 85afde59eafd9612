"""Go-live messages -> announcement and notification chunks (NotifyFollowersFunction), against moto."""

import json

import pytest

from reels_live.entities.lifecycle import StreamStatus
from reels_live.store import keys
from tests.support import aws as table
from tests.support import queues, stack
from tests.support.notifications import go_live_message, run_notifier
from tests.support.social import STREAM_ID, followers_of, put_stream, sign_up

pytestmark = pytest.mark.usefixtures("aws_backend")

GO_LIVE = go_live_message()


def creator_with_followers(count: int, frozen_clock) -> list[str]:
    sign_up("user-alice", name="Alice")
    followers = [f"user-f{index:03d}" for index in range(count)]
    followers_of("user-alice", followers, now_ms=frozen_clock.now_ms)
    put_stream("user-alice", now_ms=frozen_clock.now_ms)
    return followers


def test_a_live_stream_becomes_chunks_carrying_the_alert_for_every_follower(frozen_clock):
    followers = creator_with_followers(3, frozen_clock)

    assert run_notifier() == []

    [chunk] = queues.chunk_messages()
    assert chunk == {
        "streamId": STREAM_ID,
        "creatorId": "user-alice",
        "creatorName": "Alice",
        "title": "Morning skate",
        "link": f"https://reels.example.com/live/{STREAM_ID}",
        "startedAt": frozen_clock.now_ms - 20_000,
        "chunkId": f"{STREAM_ID}:0:0",
        "recipientIds": chunk["recipientIds"],
    }
    assert sorted(chunk["recipientIds"]) == followers
    announcement = table.get(keys.announcement(STREAM_ID))
    assert announcement["status"] == "done"
    assert (announcement["pages"], announcement["chunks"], announcement["recipients"]) == (1, 1, 3)
    assert announcement["expiresAt"] > frozen_clock.now_ms // 1000


def test_followers_are_split_into_chunks_and_pages_each_follower_once(frozen_clock):
    stack.set_parameter("NotificationChunkSize", 2)
    stack.set_parameter("SesMaxSendRate", 1000)
    followers = creator_with_followers(45, frozen_clock)

    assert run_notifier() == []

    chunks = queues.chunk_messages()
    recipients = [user for chunk in chunks for user in chunk["recipientIds"]]
    assert sorted(recipients) == followers
    assert max(len(chunk["recipientIds"]) for chunk in chunks) == 2
    assert len(chunks) == 23
    announcement = table.get(keys.announcement(STREAM_ID))
    # Pages of 2 x 10 followers: 20, 20, 5.
    assert (announcement["pages"], announcement["chunks"], announcement["recipients"]) == (3, 23, 45)


def test_chunks_shrink_so_one_chunks_paced_email_fits_an_invocation(frozen_clock):
    stack.set_parameter("SesMaxSendRate", 1)
    stack.set_parameter("NotificationDeliveryConcurrency", 2)
    creator_with_followers(31, frozen_clock)

    run_notifier()

    # 0.5 recipients a second per invocation x 60 s budget = 30 recipients a chunk.
    assert [len(chunk["recipientIds"]) for chunk in queues.chunk_messages()] == [30, 1]


def test_a_duplicate_go_live_message_changes_nothing(frozen_clock):
    creator_with_followers(3, frozen_clock)
    run_notifier()
    first = queues.chunk_messages()

    assert run_notifier(GO_LIVE, GO_LIVE) == []

    assert len(first) == 1
    assert queues.chunk_messages() == []
    assert table.get(keys.announcement(STREAM_ID))["chunks"] == 1


def test_a_go_live_arriving_while_another_copy_fans_out_is_left_to_that_one(frozen_clock):
    creator_with_followers(3, frozen_clock)
    from reels_live.store import notifications as store

    with stack.function_environment("NotifyFollowersFunction"):
        store.claim_announcement(
            STREAM_ID,
            token="other",
            now_ms=frozen_clock.now_ms,
            lease_until_ms=frozen_clock.now_ms + 60_000,
            expires_at_s=0,
        )

    assert run_notifier() == []
    assert queues.chunk_messages() == []
    assert table.get(keys.announcement(STREAM_ID))["leaseToken"] == "other"


@pytest.mark.parametrize("status", [StreamStatus.ENDED, StreamStatus.ERROR])
def test_a_stream_that_ended_within_the_settle_delay_alerts_nobody(frozen_clock, status):
    creator_with_followers(3, frozen_clock)
    put_stream("user-alice", status=status, now_ms=frozen_clock.now_ms)

    assert run_notifier() == []

    assert queues.chunk_messages() == []
    announcement = table.get(keys.announcement(STREAM_ID))
    assert announcement["status"] == "skipped"
    assert announcement["reason"] == "not_live"
    # A late duplicate does not resurrect it either.
    put_stream("user-alice", now_ms=frozen_clock.now_ms)
    run_notifier()
    assert queues.chunk_messages() == []


def test_an_unknown_stream_alerts_nobody(frozen_clock):
    assert run_notifier() == []

    assert queues.chunk_messages() == []
    assert table.get(keys.announcement(STREAM_ID))["status"] == "skipped"


def test_a_creator_without_followers_is_announced_with_no_chunks(frozen_clock):
    sign_up("user-alice")
    put_stream("user-alice", now_ms=frozen_clock.now_ms)

    assert run_notifier() == []

    assert queues.chunk_messages() == []
    assert table.get(keys.announcement(STREAM_ID))["status"] == "done"


def test_only_the_bad_message_of_a_batch_is_reported_failed(frozen_clock):
    creator_with_followers(2, frozen_clock)
    event = queues.sqs_event([GO_LIVE, "not json", json.dumps({"stream": "x"})], queue="GoLiveQueue")
    good, bad, incomplete = (record["messageId"] for record in event["Records"])

    from tests.support import api

    answer = api.invoke("NotifyFollowersFunction", event).body

    assert queues.failed_ids(answer) == [bad, incomplete]
    assert good not in queues.failed_ids(answer)
    assert len(queues.chunk_messages()) == 1


def test_a_fan_out_short_of_time_continues_in_a_new_message_from_its_checkpoint(frozen_clock):
    stack.set_parameter("NotificationChunkSize", 2)
    stack.set_parameter("SesMaxSendRate", 1000)
    followers = creator_with_followers(45, frozen_clock)

    # 14 s left is under the 15 s kept back: one page, then hand over.
    assert run_notifier(remaining_ms=14_000) == []

    first = queues.chunk_messages()
    assert len(first) == 10
    announcement = table.get(keys.announcement(STREAM_ID))
    assert announcement["status"] == "fanning_out"
    assert announcement["leaseUntil"] == 0
    [continuation] = queues.bodies("GoLiveQueue")
    assert json.loads(continuation) == {"streamId": STREAM_ID}

    poller = queues.Poller("NotifyFollowersFunction", "GoLiveQueue")
    assert run_notifier(continuation) == []
    poller.drain()

    rest = queues.chunk_messages()
    recipients = [user for chunk in first + rest for user in chunk["recipientIds"]]
    assert sorted(recipients) == followers
    assert table.get(keys.announcement(STREAM_ID))["status"] == "done"


def test_a_crashed_fan_out_is_resumed_by_the_retry_after_its_lease(frozen_clock, monkeypatch):
    stack.set_parameter("NotificationChunkSize", 2)
    stack.set_parameter("SesMaxSendRate", 1000)
    followers = creator_with_followers(45, frozen_clock)
    from reels_live.integrations import sqs as queue_module

    real_send = queue_module.send_batch
    calls = {"n": 0}

    def crash_on_second_page(url, bodies):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ConnectionError("network went away")
        return real_send(url, bodies)

    monkeypatch.setattr(queue_module, "send_batch", crash_on_second_page)
    failed = run_notifier()
    assert len(failed) == 1

    # The same message again before the lease lapses: someone (the crashed one) still holds it.
    assert run_notifier() == []
    frozen_clock.advance(seconds=200)
    assert run_notifier() == []

    recipients = [user for chunk in queues.chunk_messages() for user in chunk["recipientIds"]]
    assert sorted(recipients) == followers
    assert table.get(keys.announcement(STREAM_ID))["status"] == "done"


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue_intact(frozen_clock):
    poison = json.dumps({"streamId": ""})
    boto = __import__("boto3").client("sqs", region_name="us-east-1")
    boto.send_message(QueueUrl=queues.url("GoLiveQueue"), MessageBody=poison, DelaySeconds=0)
    poller = queues.Poller("NotifyFollowersFunction", "GoLiveQueue")

    poller.drain()

    assert len(poller.failures) == 5
    assert queues.bodies("GoLiveDeadLetterQueue") == [poison]
