"""SQS-triggered handlers, fed the way Lambda's event source mapping feeds them.

`sqs_event` builds an event from the real sample in events/ (`sam local generate-event sqs receive-message`);
`Poller` receives from the moto queue, invokes, deletes what succeeded and makes failures visible again at
once (Lambda waits for the visibility timeout; the receive count, and so the redrive, is the same).
"""

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.support import api, stack

REGION = "us-east-1"


def sqs_event(bodies: list[str], *, queue: str, sample: str = "sqs_go_live.json") -> dict[str, Any]:
    """An SQS event with one record per body, for the queue with this logical id."""
    record = api.sample_event(sample)["Records"][0]
    records = []
    for body in bodies:
        one = copy.deepcopy(record)
        one["messageId"] = str(uuid.uuid4())
        one["body"] = body
        one["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()
        one["eventSourceARN"] = stack.current().attributes[queue]["Arn"]
        records.append(one)
    return {"Records": records}


def invoke(function: str, bodies: list[str], *, queue: str, remaining_ms: int | None = None) -> list[str]:
    """Invoke with these bodies; returns the messageIds the handler reported as failed."""
    event = sqs_event(bodies, queue=queue)
    return failed_ids(api.invoke(function, event, remaining_ms=remaining_ms).body)


def failed_ids(answer: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in answer.get("batchItemFailures", [])]


def url(queue: str) -> str:
    return stack.current().refs[queue]


def without_delay(queue: str) -> None:
    """The queue delivers at once (the go-live queue's settle delay off), so a test reads it straight away."""
    boto3.client("sqs", region_name=REGION).set_queue_attributes(
        QueueUrl=url(queue), Attributes={"DelaySeconds": "0"}
    )


def go_live_stream_ids() -> list[str]:
    """The stream ids of the go-live messages waiting in GoLiveQueue (received and removed)."""
    return [json.loads(body)["streamId"] for body in bodies("GoLiveQueue")]


def bodies(queue: str, *, delete: bool = True) -> list[str]:
    """Every message body waiting in a queue (received, and deleted unless told otherwise)."""
    sqs = boto3.client("sqs", region_name=REGION)
    found = []
    while True:
        response = sqs.receive_message(QueueUrl=url(queue), MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = response.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(message["Body"])
            if delete:
                sqs.delete_message(QueueUrl=url(queue), ReceiptHandle=message["ReceiptHandle"])
        if not delete:
            return found


@dataclass
class Poller:
    """Lambda's event source mapping for one queue and function, run by hand."""

    function: str
    queue: str
    batch_size: int = 10
    invocations: int = 0
    failures: list[str] = field(default_factory=list)

    def poll_once(self) -> int:
        """One receive + invoke; returns the number of messages handled (0: queue empty)."""
        sqs = boto3.client("sqs", region_name=REGION)
        response = sqs.receive_message(
            QueueUrl=url(self.queue),
            MaxNumberOfMessages=self.batch_size,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = sqs_event([message["Body"] for message in messages], queue=self.queue)
        for record, message in zip(event["Records"], messages, strict=True):
            record["messageId"] = message["MessageId"]
            record["receiptHandle"] = message["ReceiptHandle"]
            record["attributes"] = {**record["attributes"], **message.get("Attributes", {})}
        self.invocations += 1
        try:
            failed = set(failed_ids(api.invoke(self.function, event).body))
        except Exception:  # a crashed invocation: the whole batch comes back
            failed = {message["MessageId"] for message in messages}
        for message in messages:
            if message["MessageId"] in failed:
                self.failures.append(message["MessageId"])
                sqs.change_message_visibility(
                    QueueUrl=url(self.queue), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=url(self.queue), ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def drain(self, *, max_invocations: int = 100) -> None:
        """Poll until the queue is empty (or the limit is hit, which fails the test)."""
        for _ in range(max_invocations):
            if not self.poll_once():
                return
        raise AssertionError(f"{self.queue} still not empty after {max_invocations} invocations")


def chunk_messages(queue: str = "NotificationChunkQueue") -> list[dict[str, Any]]:
    """The chunks waiting in the chunk queue, parsed (and removed)."""
    return [json.loads(body) for body in bodies(queue)]
