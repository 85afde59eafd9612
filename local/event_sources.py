"""Lambda's event sources for the local stack, read from template.yaml: SQS event source mappings and schedules.

SQS, as Lambda's event source mapping behaves: long-polls the queue, gathers up to `BatchSize` messages for
at most `MaximumBatchingWindowInSeconds`, invokes with Lambda's SQS event, deletes what succeeded. With
`ReportBatchItemFailures` only the reported messages stay (an unknown or empty itemIdentifier fails the whole
batch, as Lambda does); a function error or timeout leaves the whole batch. Messages left behind come back
after the queue's visibility timeout, and the queue's RedrivePolicy (moto applies it on receive) moves them to
the DLQ after maxReceiveCount receives. Message delays are the queue's own. `ScalingConfig.MaximumConcurrency`
bounds concurrent batches (Lambda's default for SQS starts at 5 pollers; locally 2 unless set).

Schedules (`Schedule` / `ScheduleV2` events): `rate(...)` and `cron(...)` expressions, invoking with the
EventBridge scheduled event (or the event's `Input`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local import intrinsics, template
from local.intrinsics import ACCOUNT_ID, REGION, Context

log = logging.getLogger("local.event_sources")

LOCAL_CONCURRENCY = 2


@dataclass(frozen=True)
class SqsMapping:
    function: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window: float = 0.0
    report_failures: bool = False
    concurrency: int = LOCAL_CONCURRENCY
    enabled: bool = True


@dataclass(frozen=True)
class ScheduleSource:
    function: str
    name: str
    expression: str
    input: str | None
    enabled: bool = True


def sqs_mappings(context: Context) -> list[SqsMapping]:
    found = []
    for function, spec in template.resources("AWS::Serverless::Function").items():
        for event in spec["Properties"].get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            props = event["Properties"]
            arn = str(intrinsics.resolve(props["Queue"], context))
            queue_id = next(
                (lid for lid, attrs in context.attributes.items() if attrs.get("Arn") == arn), None
            )
            if queue_id is None:
                raise KeyError(f"{function}: queue {arn} is not a local resource")
            scaling = intrinsics.resolve(props.get("ScalingConfig", {}), context)
            found.append(
                SqsMapping(
                    function=function,
                    queue_url=str(context.refs[queue_id]),
                    queue_arn=arn,
                    batch_size=int(intrinsics.resolve(props.get("BatchSize", 10), context)),
                    batching_window=float(
                        intrinsics.resolve(props.get("MaximumBatchingWindowInSeconds", 0), context)
                    ),
                    report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    concurrency=int(scaling.get("MaximumConcurrency", LOCAL_CONCURRENCY)),
                    enabled=bool(intrinsics.resolve(props.get("Enabled", True), context)),
                )
            )
    return found


def schedules(context: Context) -> list[ScheduleSource]:
    found = []
    for function, spec in template.resources("AWS::Serverless::Function").items():
        for name, event in spec["Properties"].get("Events", {}).items():
            if event["Type"] not in ("Schedule", "ScheduleV2"):
                continue
            props = intrinsics.resolve(event["Properties"], context)
            expression = props.get("Schedule") or props.get("ScheduleExpression")
            enabled = props.get("Enabled", True) and props.get("State", "ENABLED") != "DISABLED"
            found.append(ScheduleSource(function, name, str(expression), props.get("Input"), bool(enabled)))
    return found


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """Lambda's SQS event (`sam local generate-event sqs receive-message`) for received messages."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": value.get("StringListValues", []),
                    "binaryListValues": value.get("BinaryListValues", []),
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        for value in record["messageAttributes"].values():
            if value["binaryValue"] is None:
                del value["binaryValue"]
            if value["stringValue"] is None:
                del value["stringValue"]
        records.append(record)
    return {"Records": records}


def failed_ids(result: Any, message_ids: list[str], report_failures: bool) -> set[str]:
    """Which messages stay on the queue after a successful invocation, as Lambda reads the response."""
    if not report_failures:
        return set()
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return set(message_ids)
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            # Lambda treats an empty, missing or unknown identifier as a failure of the whole batch.
            return set(message_ids)
        failed.add(identifier)
    return failed


Invoke = Callable[[str, Any], Any]


@dataclass
class SqsPoller:
    """One event source mapping: `concurrency` threads each gathering and delivering batches."""

    mapping: SqsMapping
    sqs: Any
    invoke: Invoke
    stop_event: threading.Event = field(default_factory=threading.Event)
    wait_seconds: int = 1
    delivered: int = 0
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> SqsPoller:
        for index in range(max(1, self.mapping.concurrency)):
            thread = threading.Thread(
                target=self._run, name=f"sqs-{self.mapping.function}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self._threads:
            thread.join(self.wait_seconds + 5)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except Exception:
                if self.stop_event.is_set():
                    return
                log.exception("SQS poller for %s failed; retrying", self.mapping.function)
                self.stop_event.wait(1)

    def receive_batch(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages, waiting at most the batching window once the first one arrived."""
        mapping = self.mapping
        batch: list[dict[str, Any]] = []
        deadline: float | None = None
        while len(batch) < mapping.batch_size and not self.stop_event.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            wait = self.wait_seconds if remaining is None else max(0, min(self.wait_seconds, int(remaining)))
            response = self.sqs.receive_message(
                QueueUrl=mapping.queue_url,
                MaxNumberOfMessages=min(10, mapping.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages and not batch:
                break  # nothing waiting: the caller polls again
            batch += messages
            if batch and deadline is None:
                if mapping.batching_window <= 0:
                    break
                deadline = time.monotonic() + mapping.batching_window
            if not messages and batch and remaining is not None and remaining < 1:
                break
        return batch

    def poll_once(self) -> int:
        """Receive one batch and deliver it; returns how many messages were deleted."""
        batch = self.receive_batch()
        if not batch:
            return 0
        mapping = self.mapping
        result = self.invoke(mapping.function, sqs_event(batch, mapping.queue_arn))
        ids = [message["MessageId"] for message in batch]
        if result.function_error:
            log.warning(
                "%s: batch of %d failed (%s); left for retry", mapping.function, len(batch), result.outcome
            )
            return 0
        keep = failed_ids(result.json(), ids, mapping.report_failures)
        done = [message for message in batch if message["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done[start : start + 10])
                ],
            )
        self.delivered += len(done)
        log.info(
            "%s: SQS batch of %d, %d done, %d back to the queue",
            mapping.function,
            len(batch),
            len(done),
            len(keep),
        )
        return len(done)


# ------------------------------------------------------------------------ schedules

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}


def next_run(expression: str, after: datetime) -> datetime:
    """The first time strictly after `after` that a rate() or cron() expression fires (UTC)."""
    rate = _RATE.match(expression.strip())
    if rate:
        return after + timedelta(seconds=int(rate[1]) * _UNITS[rate[2].rstrip("s")])
    if expression.startswith("cron(") and expression.endswith(")"):
        return _next_cron(expression[5:-1].split(), after)
    raise ValueError(f"unsupported schedule expression {expression!r}")


def _field_values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def _number(text: str, names: dict[str, int] | None) -> int:
    return (names or {}).get(text.upper(), None) or int(text)


_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {d: i + 1 for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}


def _next_cron(fields: list[str], after: datetime) -> datetime:
    """EventBridge cron: minutes hours day-of-month month day-of-week year (L, W and # are not supported)."""
    minute, hour, dom, month, dow, year = fields
    minutes, hours = _field_values(minute, 0, 59), _field_values(hour, 0, 23)
    days, months = _field_values(dom, 1, 31), _field_values(month, 1, 12, _MONTHS)
    weekdays, years = _field_values(dow, 1, 7, _DAYS), _field_values(year, 1970, 2199)
    candidate = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(366 * 24 * 60):
        weekday = candidate.isoweekday() % 7 + 1  # EventBridge: 1 = Sunday
        if (
            candidate.year in years
            and candidate.month in months
            and (dom == "?" or candidate.day in days)
            and (dow == "?" or weekday in weekdays)
            and candidate.hour in hours
            and candidate.minute in minutes
        ):
            return candidate
        candidate += timedelta(minutes=1)
    raise ValueError(f"cron({' '.join(fields)}) never fires within a year")


def scheduled_event(source: ScheduleSource, at: datetime) -> Any:
    """The event a schedule delivers: its Input, or EventBridge's scheduled event."""
    if source.input is not None:
        return json.loads(source.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{source.function}{source.name}"],
        "detail": {},
    }


@dataclass
class Scheduler:
    """Runs every enabled schedule on its expression, one thread, one invocation at a time per schedule."""

    sources: list[ScheduleSource]
    invoke: Invoke
    stop_event: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        if any(source.enabled for source in self.sources):
            self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        now = datetime.now(UTC)
        due = {source: next_run(source.expression, now) for source in self.sources if source.enabled}
        while not self.stop_event.is_set():
            source, at = min(due.items(), key=lambda item: item[1])
            wait = (at - datetime.now(UTC)).total_seconds()
            if wait > 0 and self.stop_event.wait(min(wait, 1.0)):
                return
            if wait > 0:
                continue
            try:
                result = self.invoke(source.function, scheduled_event(source, at))
                log.info("%s: scheduled run (%s) %s", source.function, source.expression, result.outcome)
            except Exception:
                log.exception("%s: scheduled run failed", source.function)
            due[source] = next_run(source.expression, max(at, datetime.now(UTC)))
