"""LiveKit webhooks and the reconciler: AWS calls per webhook event, the reconciler's LiveKit and AWS calls
per run at 10, 1,000 and 10,000 live streams, and the new functions' cold imports.

Everything runs in-process like the tests: the real handlers against moto and the real livekit-server
behind the relay, with every boto3 and livekit-api Twirp call counted. Events are built, encoded and signed
as LiveKit does (tests/support/webhooks.py). Times are wall-clock on this machine against emulators: the
call counts are the figures to compare. The local server keeps rooms in memory and its ListRooms checks
every room against every name asked for, so its time grows with the square of the rooms; a Redis-backed
LiveKit (multi-node, LiveKit Cloud) answers by key.
"""

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from bench import cold_import
from bench.counting import Calls, counting
from local import intrinsics, provision
from local.livekit.relay import LocalLiveKit, local_livekit
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET
from reels_live.core import clock, ids
from reels_live.entities.streams import room_name
from reels_live.integrations import rooms as livekit_client
from reels_live.store import keys
from reels_live.store import live as live_store
from tests.support import api, stack
from tests.support import webhooks as wh
from tests.support.webhooks import EgressStatus, Kind

FUNCTIONS = [
    "LiveKitWebhookFunction",
    "ReconcileStreamsFunction",
    "ListStreamsFunction",
    "ListUserStreamsFunction",
]
SCALES = (10, 1_000, 10_000)
S = 1000

Row = tuple[str, int, str, Calls, float]


def run() -> None:
    with local_livekit() as local:
        rows = _measure_events(local)
        _print_rows("Calls per webhook event (handler in-process, moto + real livekit-server):", rows)
        reconciler_rows = _measure_reconciler(local)
    _print_reconciler(reconciler_rows)
    _print_cold_imports()


def _provision(local: LocalLiveKit) -> None:
    context = provision.provision({"LiveKitUrl": local.url}, livekit_keys=(DEV_API_KEY, DEV_API_SECRET))
    stack.activate(context)
    boto3.client("sqs", region_name="us-east-1").set_queue_attributes(
        QueueUrl=stack.current().refs["GoLiveQueue"], Attributes={"DelaySeconds": "0"}
    )


def _measure_events(local: LocalLiveKit) -> list[Row]:
    rows: list[Row] = []

    def measure(label: str, body: bytes, authorization: str | None = None) -> None:
        started = time.perf_counter()
        with counting() as calls:
            response = wh.post(body, wh.sign(body) if authorization is None else authorization)
        outcome = response.body.get("outcome") or response.error_code or ""
        rows.append((label, response.status, outcome, calls, (time.perf_counter() - started) * 1000))

    def send(label: str, event: Any) -> None:
        measure(label, wh.encode(event))

    with mock_aws():
        _provision(local)
        t0 = clock.now_ms()
        stream = wh.seed_stream("user-alice", created_at=t0, record=True, title="Bench")
        room = api.request("POST", "/streams", user="user-zed", body={"title": "Room for the bench"})
        # A fresh container: the LiveKit keys are not cached yet (Powertools keeps them 5 minutes).
        parameters.clear_caches()
        alice = wh.participant("user-alice", "PA_alice", joined_at_ms=t0 + S)
        bob = wh.participant("user-bob", "PA_bob", joined_at_ms=t0 + 2 * S)
        joined_bob = wh.event("participant_joined", at_ms=t0 + 2 * S, stream=stream, participant=bob)
        send(
            "participant_joined, broadcaster: go live (cold)",
            wh.event("participant_joined", at_ms=t0 + S, stream=stream, participant=alice),
        )
        send("participant_joined, viewer", joined_bob)
        send("participant_joined, retried (same id)", joined_bob)
        send(
            "participant_joined, viewer reconnects (new sid)",
            wh.event(
                "participant_joined",
                at_ms=t0 + 3 * S,
                stream=stream,
                participant=wh.participant("user-bob", "PA_bob2", joined_at_ms=t0 + 3 * S),
            ),
        )
        send(
            "participant_joined, recorder (not a viewer)",
            wh.event(
                "participant_joined",
                at_ms=t0 + 3 * S,
                stream=stream,
                participant=wh.participant("EG_x", "PA_eg", joined_at_ms=t0 + 3 * S, kind=Kind.EGRESS),
            ),
        )
        send(
            "track_published, already live",
            wh.event("track_published", at_ms=t0 + 4 * S, stream=stream, participant=alice),
        )
        send(
            "track_unpublished (nothing kept)",
            wh.event("track_unpublished", at_ms=t0 + 4 * S, stream=stream, participant=alice),
        )
        send(
            "participant_left, viewer",
            wh.event("participant_left", at_ms=t0 + 9 * S, stream=stream, participant=bob),
        )
        send(
            "participant_left, its joined never seen",
            wh.event(
                "participant_left",
                at_ms=t0 + 9 * S,
                stream=stream,
                participant=wh.participant("user-carol", "PA_carol", joined_at_ms=t0 + 5 * S),
            ),
        )
        for name, status, at in (
            ("egress_started", EgressStatus.EGRESS_STARTING, 2),
            ("egress_updated", EgressStatus.EGRESS_ACTIVE, 3),
        ):
            send(
                name,
                wh.event(
                    name, at_ms=t0 + at * S, egress=wh.egress_info(stream, status, updated_at_ms=t0 + at * S)
                ),
            )
        api.request("POST", f"/streams/{stream.stream_id}/end", user="user-alice", body={"saveAsReel": True})
        send(
            "room_finished, after end (2 sessions open)",
            wh.event("room_finished", at_ms=t0 + 60 * S, stream=stream),
        )
        done = wh.egress_info(
            stream,
            EgressStatus.EGRESS_COMPLETE,
            updated_at_ms=t0 + 62 * S,
            location="https://b.s3.amazonaws.com/r.mp4",
        )
        send("egress_ended, complete: the reel", wh.event("egress_ended", at_ms=t0 + 62 * S, egress=done))
        send(
            "room_started, ended stream (DeleteRoom)",
            wh.event("room_started", at_ms=t0 + 70 * S, stream=stream),
        )
        if room.status == 201:
            send(
                "room_started, live room (nothing to do)",
                wh.event("room_started", at_ms=t0, room_name=room.body["connection"]["room"]),
            )
        send("room of another app", wh.event("room_started", at_ms=t0, room_name="another-apps-room"))
        measure("bad signature (401)", wh.encode(joined_bob), wh.sign(b"something else"))
        livekit_client.close()
        stack.activate(None)
    return rows


def _measure_reconciler(local: LocalLiveKit) -> list[tuple[str, Calls, float, dict[str, int]]]:
    """One run over N live streams whose rooms exist (empty) and whose table agrees with LiveKit: a full
    pass with time to spare, then the largest again with the function's real Timeout counting down."""
    stream_ids = [ids.new_id() for _ in range(max(SCALES))]
    _create_rooms(local, [room_name(stream_id) for stream_id in stream_ids])
    timeout_s = int(intrinsics.function_setting("ReconcileStreamsFunction", "Timeout", 3))
    runs: list[tuple[str, int, int | None]] = [(f"{count:,}", count, None) for count in SCALES]
    runs.append((f"{max(SCALES):,} in {timeout_s} s", max(SCALES), timeout_s))
    results = []
    for label, count, budget_s in runs:
        with mock_aws():
            _provision(local)
            _put_live_streams(stream_ids[:count])
            module = api.handler_module("ReconcileStreamsFunction")
            context = _Countdown(budget_s or 3600)
            started = time.perf_counter()
            with (
                counting() as calls,
                _phases() as phases,
                stack.function_environment("ReconcileStreamsFunction"),
            ):
                report = module.lambda_handler(api.sample_event("reconcile_streams.json"), context)
            results.append((label, calls, time.perf_counter() - started, {**report, "phases": phases}))
            livekit_client.close()
            stack.activate(None)
    return results


@contextmanager
def _phases() -> Iterator[dict[str, float]]:
    """Wall-clock seconds the reconciler spends in each phase (wrapping its module-level calls)."""
    spent: dict[str, float] = {}
    wrapped = {
        (live_store, "watched_stream_ids"): "GSI2 queries",
        (live_store, "read_streams"): "BatchGetItem",
        (livekit_client, "list_rooms"): "ListRooms",
        (livekit_client, "list_participants"): "ListParticipants",
    }
    originals = {target: getattr(*target) for target in wrapped}
    for (module, name), phase in wrapped.items():
        original = originals[(module, name)]

        def timed(*args: Any, original: Any = original, phase: str = phase, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
                # A generator's time is spent while it is consumed.
                return list(result) if phase == "GSI2 queries" else result
            finally:
                spent[phase] = spent.get(phase, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)
    try:
        yield spent
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)


class _Countdown(api.LambdaContext):
    """A Lambda context whose remaining time runs down with the wall clock, as Lambda's does."""

    def __init__(self, seconds: int) -> None:
        super().__init__(function_name="ReconcileStreamsFunction")
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _create_rooms(local: LocalLiveKit, names: list[str]) -> None:
    from livekit import api as livekit_api

    async def create_all() -> None:
        client = livekit_api.LiveKitAPI(local.server.http_url, local.api_key, local.api_secret)
        gate = asyncio.Semaphore(32)

        async def create(name: str) -> None:
            async with gate:
                await client.room.create_room(livekit_api.CreateRoomRequest(name=name, empty_timeout=1800))

        try:
            await asyncio.gather(*(create(name) for name in names))
        finally:
            await client.aclose()

    started = time.perf_counter()
    asyncio.run(create_all())
    print(f"\n({len(names)} empty rooms created on the real server in {time.perf_counter() - started:.0f}s)")


def _put_live_streams(stream_ids: list[str]) -> None:
    """Lean live stream items (what the reconciler reads), written 25 to a BatchWriteItem."""
    now = clock.now_ms()
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = stack.current().refs["Table"]
    for start in range(0, len(stream_ids), 25):
        requests = []
        for stream_id in stream_ids[start : start + 25]:
            item = {
                **keys.stream(stream_id),
                **keys.status_index(keys.LIVE, stream_id, now),
                "entity": "stream",
                "streamId": stream_id,
                "authorId": f"user-{stream_id[-8:]}",
                "title": "Bench",
                "roomName": room_name(stream_id),
                "status": "live",
                "createdAt": now,
                "startedAt": now,
            }
            requests.append({"PutRequest": {"Item": {k: _attribute(v) for k, v in item.items()}}})
        client.batch_write_item(RequestItems={table: requests})


def _attribute(value: Any) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"{'event':48} {'status':>6} {'AWS':>4} {'LiveKit':>7} {'ms':>7}  outcome / calls")
    for label, status, outcome, calls, ms in rows:
        aws, lk = sum(calls.aws.values()), sum(calls.livekit.values())
        print(f"{label:48} {status:>6} {aws:>4} {lk:>7} {ms:>7.1f}  {outcome}: {calls.summary()}")


def _print_reconciler(results: list[tuple[str, Calls, float, dict[str, int]]]) -> None:
    print("\nReconciler, one run over N live streams (rooms on the real server, table in agreement):")
    print(f"{'live streams':>18} {'AWS':>6} {'LiveKit':>8} {'seconds':>8} {'deferred':>8}  calls")
    for label, calls, seconds, report in results:
        aws, lk = sum(calls.aws.values()), sum(calls.livekit.values())
        print(f"{label:>18} {aws:>6} {lk:>8} {seconds:>8.1f} {report['deferred']:>8}  {calls.summary()}")
    print("Where the seconds went (wall clock per phase):")
    for label, _, seconds, report in results:
        phases = ", ".join(f"{name} {spent:.1f}" for name, spent in report["phases"].items())
        print(f"{label:>18}  {phases}, the rest {seconds - sum(report['phases'].values()):.1f}")


def _print_cold_imports() -> None:
    print("\nCold import (median of 7 fresh interpreters; handler module as Lambda imports it):")
    measure: Callable[[str], float] = lambda module: cold_import.module_import_ms(module, FUNCTIONS[0])  # noqa: E731
    baseline = measure("boto3")
    print(f"{'import boto3 (baseline, same run)':48} {baseline:7.0f} ms")
    for function in FUNCTIONS:
        ms, origin = cold_import.handler_import_ms(function)
        print(f"{function + ' (' + origin + ')':48} {ms:7.0f} ms  (+{ms - baseline:.0f} ms over boto3)")
    for module, why in (
        ("jwt", "PyJWT, verifies the signature"),
        ("livekit.protocol.webhook", "parses the event"),
        ("livekit.api", "lazy: DeleteRoom and the reconciler only"),
    ):
        print(f"{module + ' (' + why + ')':48} {measure(module):7.0f} ms")
