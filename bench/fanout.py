"""Go-live fan-out at 10,000 and 100,000 followers against moto: AWS calls by API next to their lower bound,
notifications per second, and the peak memory of one chunk's invocation.

Everything runs through the real handlers with the environment template.yaml gives them. DynamoDB and SQS
are moto in-process. SES SendBulkEmail (which moto lacks) and SNS Publish are answered at botocore's call
boundary after botocore validated the parameters against the service model; they are counted like every
other call. Each follower has a verified email and one device, so every channel is used.

moto's DynamoDB Query scans the whole table and each of its conditional writes costs about 20 ms, so the
table holds one creator's followers and nothing else, and while the go-live step pages every follower into
chunks, only the first chunks are delivered: each chunk does the same work, so the delivery rows are scaled
to all chunks and marked so. `FANOUT_FULL=1` delivers every chunk (about an hour at 100,000 on moto). Call
counts are the main figure; times are moto's, not AWS's. SES pacing waits are counted on a virtual clock.

Run: `python -m bench fanout` (or `python -m bench.fanout`).
"""

import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.client
from botocore.validate import validate_parameters

from local import intrinsics, provision, template
from reels_live.core import aws, clock, config
from reels_live.entities.lifecycle import StreamStatus
from reels_live.entities.people import Device, Platform, Profile
from reels_live.store import batch, devices, follows, profiles

SIZES = (10_000, 100_000)
SAMPLED_CHUNKS = 2  # chunks delivered (of 20 or 200) unless FANOUT_FULL=1; each is the same work
CREATOR = "creator-0"
STREAM_ID = "01JDQ3Z8G7N2V4K6M8P0R2T4W6"
# An account out of the sandbox at 500 recipients a second over 10 delivering invocations: 50 a second
# each, so calls carry the full 50 destinations and chunks the full 500 recipients.
PARAMETERS = {
    "LiveKitUrl": "ws://127.0.0.1:9",
    "SesMaxSendRate": "500",
    "NotificationDeliveryConcurrency": "10",
    "NotificationChunkSize": "500",
}
_FAKE = {
    "SESv2.SendBulkEmail": lambda params: {
        "BulkEmailEntryResults": [
            {"Status": "SUCCESS", "MessageId": f"bench-{index}"}
            for index, _ in enumerate(params["BulkEmailEntries"])
        ]
    },
    "SNS.Publish": lambda _: {"MessageId": "bench"},
}


# Cached for the container's life, not made per chunk: never scaled with the chunks.
_PER_CONTAINER = {"SecretsManager.GetSecretValue"}


class Calls:
    """AWS calls by `Service.Operation` while active; SES bulk sends and SNS publishes answered locally."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.active = False
        self._original = botocore.client.BaseClient._make_api_call

    @contextmanager
    def patched(self) -> Iterator["Calls"]:
        original = self._original
        calls = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            key = f"{client.meta.service_model.service_id.replace(' ', '')}.{operation}"
            if calls.active:
                calls.counts[key] += 1
            if key in _FAKE:
                model = client.meta.service_model.operation_model(operation)
                validate_parameters(params, model.input_shape)
                return _FAKE[key](params)
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = make_api_call
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original

    @contextmanager
    def counting(self) -> Iterator[None]:
        self.active = True
        try:
            yield
        finally:
            self.active = False


class VirtualClock:
    """Real time plus whatever was 'slept': pacing and backoff are measured, never waited for."""

    def __init__(self) -> None:
        self.slept_ms = 0

    def now(self) -> int:
        return time.time_ns() // 1_000_000 + self.slept_ms

    def sleep(self, seconds: float) -> None:
        self.slept_ms += int(seconds * 1000)


def run() -> None:
    full = os.environ.get("FANOUT_FULL") == "1"
    for followers in SIZES:
        sample = None if full else SAMPLED_CHUNKS
        _print_run(followers, _fan_out(followers, sample))
    _print_memory(_chunk_memory())


# ---------------------------------------------------------------- one fan-out


def _fan_out(followers: int, sample: int | None) -> dict[str, Any]:
    from moto import mock_aws

    from tests.support import api, queues, stack

    os.environ.pop("AWS_ENDPOINT_URL", None)
    virtual = VirtualClock()
    previous_source, previous_sleep = clock.set_source(virtual.now), clock.set_sleep(virtual.sleep)
    calls = Calls()
    try:
        with mock_aws(), calls.patched():
            config.settings.cache_clear()
            aws.reset()
            applications = provision.create_platform_applications(provision.Clients())
            stack.activate(provision.provision({**PARAMETERS, **applications}))
            user_ids = [f"follower-{index:07d}" for index in range(followers)]
            _arrange_creator_and_followers(user_ids)

            started = time.perf_counter()
            with calls.counting():
                event = queues.sqs_event([json.dumps({"streamId": STREAM_ID})], queue="GoLiveQueue")
                answer = api.invoke("NotifyFollowersFunction", event, remaining_ms=900_000)
            assert not answer.body.get("batchItemFailures"), answer.body
            fan_out_seconds = time.perf_counter() - started
            fan_out_calls = Counter(calls.counts)
            calls.counts.clear()

            chunks = _drain("NotificationChunkQueue")
            delivered = chunks if sample is None else chunks[:sample]
            delivery_seconds = 0.0
            slept_before = virtual.slept_ms
            recipients = 0
            for chunk in delivered:
                _arrange_recipients(chunk["recipientIds"])
                recipients += len(chunk["recipientIds"])
                started = time.perf_counter()
                with calls.counting():
                    event = queues.sqs_event([json.dumps(chunk)], queue="NotificationChunkQueue")
                    answer = api.invoke("DeliverNotificationsFunction", event)
                delivery_seconds += time.perf_counter() - started
                assert not answer.body.get("batchItemFailures"), answer.body
            return {
                "fan_out_calls": fan_out_calls,
                "fan_out_seconds": fan_out_seconds,
                "delivery_calls": Counter(calls.counts),
                "delivery_seconds": delivery_seconds,
                "paced_seconds": (virtual.slept_ms - slept_before) / 1000,
                "chunks": len(chunks),
                "delivered_chunks": len(delivered),
                "delivered_recipients": recipients,
            }
    finally:
        clock.set_source(previous_source)
        clock.set_sleep(previous_sleep)
        stack.activate(None)
        aws.reset()
        config.settings.cache_clear()


def _arrange_creator_and_followers(user_ids: list[str]) -> None:
    """The creator's profile, a follow edge per follower and the live stream (not counted)."""
    from tests.support import stack
    from tests.support.social import put_stream

    now = clock.now_ms()
    with stack.function_environment("FollowsFunction"):
        creator = Profile(user_id=CREATOR, display_name="Creator", created_at=now, updated_at=now)
        batch.put_items(
            [profiles.profile_item(creator)]
            + [follows.follow_item(user_id, CREATOR, now_ms=now) for user_id in user_ids]
        )
        put_stream(CREATOR, stream_id=STREAM_ID, status=StreamStatus.LIVE, now_ms=now)


def _arrange_recipients(user_ids: list[str]) -> None:
    """Each recipient's profile (verified email) and one device, written just before their chunk."""
    from tests.support import stack

    now = clock.now_ms()
    items = [item for user_id in user_ids for item in _recipient_items(user_id, now)]
    with stack.function_environment("DeliverNotificationsFunction"):
        batch.put_items(items)


def _recipient_items(user_id: str, now: int) -> list[dict[str, Any]]:
    """A recipient's profile (verified email) and devices items, one iPhone each."""
    profile = Profile(user_id=user_id, email=f"{user_id}@example.com", created_at=now, updated_at=now)
    device = Device(
        device_id="d" * 32,
        platform=Platform.IOS,
        endpoint_arn=f"arn:aws:sns:us-east-1:123456789012:endpoint/APNS/bench/{user_id}",
        token_hash="h" * 64,
        created_at=now,
        updated_at=now,
    )
    return [
        profiles.profile_item(profile),
        devices.devices_item(user_id, {device.device_id: device}, version=1, now_ms=now),
    ]


def _drain(queue: str) -> list[dict[str, Any]]:
    from tests.support import queues

    return [json.loads(body) for body in queues.bodies(queue)]


# ---------------------------------------------------------------- the table


def _lower_bounds(followers: int, devices: int = 1) -> dict[str, tuple[int | None, str]]:
    chunk, page = 500, 5_000
    chunks, pages = math.ceil(followers / chunk), math.ceil(followers / page)
    return {
        "go-live/DynamoDB.Query": (pages, f"pages of {page:,} follower ids"),
        "go-live/SQS.SendMessageBatch": (math.ceil(chunks / 10), f"{chunks:,} chunks of {chunk}, 10 a call"),
        "go-live/DynamoDB.GetItem": (2, "the stream once, the creator's name"),
        "go-live/DynamoDB.UpdateItem": (1, "dedupe claim; ours adds content, a checkpoint per page, finish"),
        "delivery/SESv2.SendBulkEmail": (math.ceil(followers / 50), "50 destinations a call"),
        "delivery/SNS.Publish": (followers * devices, f"{devices} device per follower"),
        "delivery/DynamoDB.BatchWriteItem": (
            math.ceil(followers / 25),
            "in-app items, 25 a call; ours adds 2 markers per follower (exactly once)",
        ),
        "delivery/DynamoDB.UpdateItem": (
            followers,
            "one conditional claim per follower (no batched conditions)",
        ),
        "delivery/DynamoDB.BatchGetItem": (
            math.ceil(3 * followers / 100),
            "profile, preferences, devices: 100 keys a call",
        ),
        "delivery/SecretsManager.GetSecretValue": (1, "unsubscribe signing key, cached per container"),
    }


def _print_run(followers: int, result: dict[str, Any]) -> None:
    scale = result["chunks"] / result["delivered_chunks"] if result["delivered_chunks"] else 0
    sampled = result["delivered_chunks"] < result["chunks"]
    print(f"\n{followers:,} followers (1 device each, all emailable), {result['chunks']:,} chunks", end="")
    if sampled:
        print(f"; delivery measured on {result['delivered_chunks']} chunks, scaled x{scale:g} (*)", end="")
    print()
    bounds = _lower_bounds(followers)
    rows = [("go-live", name, count) for name, count in sorted(result["fan_out_calls"].items())]
    rows += [
        ("delivery", name, count if name in _PER_CONTAINER else round(count * scale))
        for name, count in sorted(result["delivery_calls"].items())
    ]
    print(f"  {'step':<9} {'AWS API':<32} {'calls':>9} {'lower bound':>12}  note")
    for step, name, count in rows:
        bound, note = bounds.get(f"{step}/{name}", (None, ""))
        marker = "*" if sampled and step == "delivery" and name not in _PER_CONTAINER else " "
        print(
            f"  {step:<9} {name:<32} {count:>8,}{marker} {'' if bound is None else f'{bound:,}':>12}  {note}"
        )
    recipients = result["delivered_recipients"]
    seconds = result["delivery_seconds"]
    per_second = recipients / seconds if seconds else 0
    print(
        f"  go-live step: {result['fan_out_seconds']:.1f} s for {followers:,} followers "
        f"({followers / max(result['fan_out_seconds'], 1e-9):,.0f} follower ids/s paged and enqueued)"
    )
    print(
        f"  delivery: {recipients:,} recipients in {seconds:.1f} s on moto, one invocation at a time: "
        f"{per_second:,.0f} recipients/s = {3 * per_second:,.0f} notifications/s (email + push + in-app)"
    )
    paced = result["paced_seconds"] * scale
    print(
        f"  SES pacing at 50 recipients/s per invocation: {paced:,.0f} s of waits in all, "
        f"{paced / 10:,.0f} s across the 10 concurrent invocations (the account's 500/s: "
        f"{followers / 500:,.0f} s for {followers:,})"
    )


# ---------------------------------------------------------------- one chunk's memory, in its own process


def _chunk_memory(recipients: int = 500) -> dict[str, Any]:
    """Two 500-recipient chunks in a fresh interpreter against a moto server, as one Lambda container would
    run them: the first cold (clients and service models loaded), the second warm."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        env = dict(os.environ)  # bench/__init__.py set dummy credentials and the region
        applications = provision.create_platform_applications(provision.Clients(endpoint))
        context = provision.provision({**PARAMETERS, **applications}, endpoint_url=endpoint)
        user_ids = [f"follower-{index:07d}" for index in range(2 * recipients)]
        chunks = [
            {
                "streamId": STREAM_ID,
                "creatorId": CREATOR,
                "creatorName": "Creator",
                "title": "Morning skate",
                "link": f"https://reels.example.com/live/{STREAM_ID}",
                "startedAt": clock.now_ms(),
                "chunkId": f"{STREAM_ID}:0:{index}",
                "recipientIds": user_ids[index * recipients : (index + 1) * recipients],
            }
            for index in range(2)
        ]
        function_env = intrinsics.function_environment("DeliverNotificationsFunction", context)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        now = clock.now_ms()
        for start in range(0, len(user_ids), 12):
            # 12 recipients, 24 items: BatchWriteItem takes 25.
            items = [
                item for user_id in user_ids[start : start + 12] for item in _recipient_items(user_id, now)
            ]
            from reels_live.store.table import to_attributes

            dynamodb.batch_write_item(
                RequestItems={
                    function_env["TABLE_NAME"]: [
                        {"PutRequest": {"Item": to_attributes(item)}} for item in items
                    ]
                }
            )
        child_env = {
            **env,
            **function_env,
            "AWS_ENDPOINT_URL": endpoint,
            "PYTHONPATH": os.pathsep.join([str(template.ROOT), str(template.ROOT / "layers" / "common")]),
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "FANOUT_CHUNKS": json.dumps(chunks),
        }
        result = subprocess.run(
            [sys.executable, "-m", "bench.fanout", "--child"],
            cwd=template.ROOT,
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        server.stop()


def _child() -> None:
    """In the fresh interpreter: import the handler as Lambda would, deliver a cold and a warm chunk."""
    import importlib.util
    from types import SimpleNamespace

    before = _high_water_mib()
    folder, module, _ = template.function_source("DeliverNotificationsFunction")
    spec = importlib.util.spec_from_file_location("handler", folder / f"{module}.py")
    assert spec
    assert spec.loader
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    imported = _high_water_mib()
    context = SimpleNamespace(
        function_name="DeliverNotificationsFunction",
        memory_limit_in_mb=512,
        aws_request_id="bench",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:DeliverNotificationsFunction",
        get_remaining_time_in_millis=lambda: 120_000,
    )
    virtual = VirtualClock()
    clock.set_source(virtual.now)
    clock.set_sleep(virtual.sleep)
    calls = Calls()
    invocations = []
    with calls.patched(), calls.counting():
        for chunk in json.loads(os.environ["FANOUT_CHUNKS"]):
            event = json.loads((template.ROOT / "events" / "sqs_notification_chunk.json").read_text())
            event["Records"][0]["body"] = json.dumps(chunk)
            calls.counts.clear()
            slept = virtual.slept_ms
            tracemalloc.start()
            started = time.perf_counter()
            answer = handler.lambda_handler(event, context)
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert not answer.get("batchItemFailures"), answer
            invocations.append(
                {
                    "heap_peak_mib": peak / 2**20,
                    "high_water_mib": _high_water_mib(),
                    "seconds": seconds,
                    "paced_seconds": (virtual.slept_ms - slept) / 1000,
                    "calls": dict(calls.counts),
                }
            )
    print(json.dumps({"before_import_mib": before, "after_import_mib": imported, "invocations": invocations}))


def _high_water_mib() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would include the parent's from before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print_memory(memory: dict[str, Any]) -> None:
    cold, warm = memory["invocations"]
    print(
        "\nOne container delivering two 500-recipient chunks (fresh interpreter, handler loaded as Lambda does):"
    )
    print(
        f"  peak RSS {memory['before_import_mib']:.0f} MiB bare, {memory['after_import_mib']:.0f} MiB after imports, "
        f"{cold['high_water_mib']:.0f} MiB after the cold chunk, {warm['high_water_mib']:.0f} MiB after the warm one "
        "(the function has 512 MB)"
    )
    for name, run in (("cold", cold), ("warm", warm)):
        print(
            f"  {name} chunk: Python heap peak {run['heap_peak_mib']:.1f} MiB, {run['seconds']:.1f} s over HTTP to "
            f"moto, {run['paced_seconds']:.0f} s of SES pacing (virtual); "
            + ", ".join(f"{api} x{count}" for api, count in sorted(run["calls"].items()))
        )


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        run()
