"""Stream lifecycle: AWS and LiveKit calls per operation, and each API function's cold import.

Calls are counted in-process (every boto3 client and livekit-api's Twirp client) while the real handlers
run against moto and the real livekit-server behind the relay. Times next to them are wall-clock on this
machine against emulators, so the call counts are the figure to compare; the import times are measured in
fresh interpreters on what `sam build` produced.
"""

import time
from collections.abc import Callable
from typing import Any

from moto import mock_aws

from bench import cold_import
from bench.counting import Calls, counting
from local import provision
from local.livekit.relay import local_livekit
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET
from reels_live.integrations import rooms as livekit_client
from reels_live.store import keys
from tests.support import api, stack

API_FUNCTIONS = ["CreateStreamFunction", "GetStreamFunction", "JoinStreamFunction", "EndStreamFunction"]


def run() -> None:
    _print_calls(_measure_calls())
    _print_cold_imports()


def _measure_calls() -> list[tuple[str, int, Calls, float]]:
    rows: list[tuple[str, int, Calls, float]] = []

    def measure(label: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        with counting() as calls:
            response = call()
        rows.append((label, response.status, calls, (time.perf_counter() - started) * 1000))
        return response

    with local_livekit() as local, mock_aws():
        context = provision.provision({"LiveKitUrl": local.url}, livekit_keys=(DEV_API_KEY, DEV_API_SECRET))
        stack.activate(context)
        body = {"title": "Bench", "tags": ["bench"]}
        gated = {
            "title": "Gated",
            "isGated": True,
            "priceToken": "USDC",
            "priceAmount": "1",
            "sellerAddress": "0x1",
        }

        first = measure(
            "create (first call in container)", lambda: api.request("POST", "/streams", body=body)
        )
        stream_id = first.body["stream"]["streamId"]
        measure("end", lambda: api.request("POST", f"/streams/{stream_id}/end"))
        created = measure("create", lambda: api.request("POST", "/streams", body=body))
        stream_id = created.body["stream"]["streamId"]
        measure(
            "create with Idempotency-Key",
            lambda: api.request(
                "POST", "/streams", user="user-bob", body=body, headers={"idempotency-key": "k"}
            ),
        )
        measure(
            "create, replayed key",
            lambda: api.request(
                "POST", "/streams", user="user-bob", body=body, headers={"idempotency-key": "k"}
            ),
        )
        measure("create, 409 already live", lambda: api.request("POST", "/streams", body=body))
        measure("get", lambda: api.request("GET", f"/streams/{stream_id}"))
        measure("join (viewer)", lambda: api.request("POST", f"/streams/{stream_id}/join", user="user-carol"))
        measure("join (creator)", lambda: api.request("POST", f"/streams/{stream_id}/join"))
        measure("end", lambda: api.request("POST", f"/streams/{stream_id}/end"))
        measure("end, repeated", lambda: api.request("POST", f"/streams/{stream_id}/end"))
        gated_id = api.request("POST", "/streams", user="user-dave", body=gated).body["stream"]["streamId"]
        measure(
            "join gated (402)", lambda: api.request("POST", f"/streams/{gated_id}/join", user="user-carol")
        )
        _grant(gated_id, "user-carol")
        measure(
            "join gated (entitled)",
            lambda: api.request("POST", f"/streams/{gated_id}/join", user="user-carol"),
        )
        livekit_client.close()
        stack.activate(None)
    return rows


def _grant(stream_id: str, user: str) -> None:
    import boto3

    item = {**keys.entitlement(user, stream_id), "entity": "entitlement"}
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=stack.current().refs["Table"], Item={k: {"S": v} for k, v in item.items()}
    )


def _print_calls(rows: list[tuple[str, int, Calls, float]]) -> None:
    print("\nCalls per operation (handler in-process, moto + real livekit-server):")
    print(f"{'operation':34} {'status':>6} {'AWS':>4} {'LiveKit':>7} {'ms':>7}  calls")
    for label, status, calls, ms in rows:
        aws, livekit = sum(calls.aws.values()), sum(calls.livekit.values())
        print(f"{label:34} {status:>6} {aws:>4} {livekit:>7} {ms:>7.1f}  {calls.summary()}")


def _print_cold_imports() -> None:
    print("\nCold import (median of 7 fresh interpreters; handler module as Lambda imports it):")
    baseline = cold_import.module_import_ms("boto3", API_FUNCTIONS[0])
    lazy = cold_import.module_import_ms("livekit.api", API_FUNCTIONS[0])
    print(f"{'import boto3 (baseline, same run)':44} {baseline:7.0f} ms")
    for function in API_FUNCTIONS:
        ms, origin = cold_import.handler_import_ms(function)
        print(f"{function + ' (' + origin + ')':44} {ms:7.0f} ms  (+{ms - baseline:.0f} ms over boto3)")
    print(f"{'livekit.api (lazy: first LiveKit call)':44} {lazy:7.0f} ms")
