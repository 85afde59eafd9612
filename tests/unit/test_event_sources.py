"""Lambda's event sources as the local stack plays them: SQS event source mappings and schedules."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import event_sources
from local.event_sources import SqsMapping, SqsPoller
from tests.support.api import sample_event


@dataclass
class Result:
    outcome: str = "ok"
    body: Any = None

    @property
    def function_error(self) -> bool:
        return self.outcome != "ok"

    def json(self) -> Any:
        return self.body


@pytest.fixture
def queues(environment: None) -> Any:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
        main = sqs.create_queue(
            QueueName="main", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive}
        )["QueueUrl"]
        yield sqs, main, dlq


def poller(sqs: Any, queue: str, answer: Any, **options: Any) -> tuple[SqsPoller, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> Result:
        events.append(event)
        return answer(event) if callable(answer) else answer

    mapping = SqsMapping("Notifier", queue, "arn:aws:sqs:us-east-1:123456789012:main", **options)
    return SqsPoller(mapping, sqs, invoke, wait_seconds=0), events


def send(sqs: Any, queue: str, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)


def depth(sqs: Any, queue: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_the_event_has_the_shape_of_lambdas_sqs_event(queues: Any) -> None:
    sqs, main, _ = queues
    sqs.send_message(
        QueueUrl=main,
        MessageBody='{"streamId": "s1"}',
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "go-live"}},
    )
    run, events = poller(sqs, main, Result())
    assert run.poll_once() == 1
    record = events[0]["Records"][0]
    assert set(record) == {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "go-live", "stringListValues": [], "binaryListValues": [], "dataType": "String",
    }  # fmt: skip
    assert depth(sqs, main) == 0


def test_a_batch_holds_at_most_batch_size_messages(queues: Any) -> None:
    sqs, main, _ = queues
    send(sqs, main, *[str(n) for n in range(5)])
    run, events = poller(sqs, main, Result(), batch_size=2)
    assert run.poll_once() == 2
    assert len(events[0]["Records"]) == 2


def test_only_reported_failures_stay_on_the_queue(queues: Any) -> None:
    sqs, main, _ = queues
    send(sqs, main, "keep", "done")

    def fail_keep(event: dict[str, Any]) -> Result:
        failed = [r["messageId"] for r in event["Records"] if r["body"] == "keep"]
        return Result(body={"batchItemFailures": [{"itemIdentifier": i} for i in failed]})

    run, _ = poller(sqs, main, fail_keep, report_failures=True)
    assert run.poll_once() == 1
    left = sqs.receive_message(QueueUrl=main, MaxNumberOfMessages=10)["Messages"]
    assert [message["Body"] for message in left] == ["keep"]


def test_an_unknown_item_identifier_fails_the_whole_batch(queues: Any) -> None:
    sqs, main, _ = queues
    send(sqs, main, "a", "b")
    run, _ = poller(
        sqs, main, Result(body={"batchItemFailures": [{"itemIdentifier": "nope"}]}), report_failures=True
    )
    assert run.poll_once() == 0
    assert depth(sqs, main) == 2


def test_without_report_batch_item_failures_the_response_is_ignored(queues: Any) -> None:
    sqs, main, _ = queues
    send(sqs, main, "a")
    run, _ = poller(sqs, main, Result(body={"batchItemFailures": [{"itemIdentifier": "x"}]}))
    assert run.poll_once() == 1
    assert depth(sqs, main) == 0


def test_a_failing_function_sends_messages_to_the_dlq_after_max_receive_count(queues: Any) -> None:
    sqs, main, dlq = queues
    send(sqs, main, "poison")
    run, events = poller(sqs, main, Result(outcome="error"))
    for _ in range(3):
        run.poll_once()
    assert len(events) == 2  # maxReceiveCount receives, then moto's redrive moves it on the next receive
    assert depth(sqs, main) == 0
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq)["Messages"]] == ["poison"]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(1 minute)", "2026-11-25T10:00:30", "2026-11-25T10:01:30"),
        ("rate(2 hours)", "2026-11-25T10:00:00", "2026-11-25T12:00:00"),
        ("cron(0/15 * * * ? *)", "2026-11-25T10:07:00", "2026-11-25T10:15:00"),
        ("cron(0 8 ? * MON-FRI *)", "2026-11-27T09:00:00", "2026-11-30T08:00:00"),
        ("cron(30 6 1 * ? *)", "2026-11-25T10:00:00", "2026-12-01T06:30:00"),
    ],
)
def test_schedules_fire_on_their_expression(expression: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert event_sources.next_run(expression, start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_a_scheduled_event_has_eventbridges_shape() -> None:
    source = event_sources.ScheduleSource("Reconciler", "Every", "rate(1 minute)", None)
    event = event_sources.scheduled_event(source, datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-25T10:00:00Z"
    assert set(event) == set(sample_scheduled_event_keys())


def sample_scheduled_event_keys() -> list[str]:
    # `sam local generate-event eventbridge scheduled-event`
    return ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]


def test_the_api_sample_event_is_not_mistaken_for_a_queue_event() -> None:
    assert "Records" not in sample_event()
