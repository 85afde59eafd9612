"""Functions under AWS's RIE with awslambdaric (local/runtime.py): errors, timeouts, crashes and the pool.

A small handler module written to a temporary task root stands in for a function, so each RIE quirk is
provoked on purpose; the gateway's answers to them are checked through `Gateway.handle`.
"""

import json
from pathlib import Path

import pytest

from local import runtime
from local.gateway import GatewayAnswer, map_result

HANDLERS = """
import os, time

def ok(event, context):
    return {"statusCode": 200, "body": os.environ.get("GREETING", "")}

def boom(event, context):
    raise ValueError("boom")

def slow(event, context):
    time.sleep(5)

def crash(event, context):
    os._exit(3)

def environment(event, context):
    return {name: os.environ.get(name) for name in event["names"]}

def memory(event, context):
    global hog
    hog = bytearray(64 * 1024 * 1024)
    return len(hog)
"""


@pytest.fixture
def task_root(tmp_path: Path) -> Path:
    root = tmp_path / "task"
    root.mkdir()
    (root / "handlers.py").write_text(HANDLERS)
    return root


def runtime_environment(root: Path, **extra: str) -> dict[str, str]:
    """The environment the runtime starts the synthetic function with, plus `extra`."""
    return {
        "PATH": "/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(root),
        "AWS_LAMBDA_FUNCTION_NAME": "Synthetic",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "1",
        "AWS_REGION": "us-east-1",
        "PYTHONPATH": str(root),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra,
    }


def pool(root: Path, handler: str, tmp_path: Path, **extra: str) -> runtime.FunctionPool:
    return runtime.FunctionPool(
        "Synthetic",
        runtime_environment(root, **extra),
        tmp_path / "logs",
        size=1,
        root=root,
        handler=f"handlers.{handler}",
    )


def test_a_result_comes_back_with_the_report_and_measured_memory(task_root: Path, tmp_path: Path) -> None:
    functions = pool(task_root, "ok", tmp_path, GREETING="hello")
    try:
        first = functions.invoke(b"{}", timeout=10)
        second = functions.invoke(b"{}", timeout=10)
    finally:
        functions.close()
    assert first.outcome == "ok"
    assert first.json() == {"statusCode": 200, "body": "hello"}
    assert first.cold
    assert not second.cold
    assert first.report is not None
    assert first.report.startswith(f"REPORT RequestId: {first.request_id}")
    # RIE reports the configured size as the maximum used; the measured peak is the runtime's own.
    assert first.max_memory_mb is not None
    assert 5 < first.max_memory_mb < 128


def test_a_function_error_is_recognised_and_the_gateway_answers_500(task_root: Path, tmp_path: Path) -> None:
    functions = pool(task_root, "boom", tmp_path)
    try:
        result = functions.invoke(b"{}", timeout=10)
        pid = functions._all[0].runtime_pid()
        again = functions.invoke(b"{}", timeout=10)
    finally:
        functions.close()
    assert result.outcome == "error"
    assert result.json()["errorType"] == "ValueError"
    # An error is not a crash: the same warm runtime serves the next invocation.
    assert not again.cold
    assert pid is not None


def test_a_timeout_is_recognised_and_the_runtime_replaced(task_root: Path, tmp_path: Path) -> None:
    functions = pool(task_root, "slow", tmp_path)
    try:
        result = functions.invoke(b"{}", timeout=10)
        after = functions.invoke(b"{}", timeout=10)
    finally:
        functions.close()
    assert result.outcome == "timeout"
    assert result.payload.startswith(b"Task timed out after 1.00 seconds")
    assert after.cold  # a fresh RIE process: a new cold start


def test_a_crashed_runtime_is_replaced_and_others_keep_serving(task_root: Path, tmp_path: Path) -> None:
    crashing = pool(task_root, "crash", tmp_path)
    healthy = pool(task_root, "ok", tmp_path)
    try:
        crashed = crashing.invoke(b"{}", timeout=10)
        fine = healthy.invoke(b"{}", timeout=10)
        again = crashing.invoke(b"{}", timeout=10)
    finally:
        crashing.close()
        healthy.close()
    assert crashed.outcome == "crash"
    assert fine.outcome == "ok"
    assert again.outcome == "crash"
    assert again.cold


def test_the_runtime_sees_only_the_environment_it_is_given(
    task_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOMETHING_FROM_MY_SHELL", "leaked")
    functions = pool(task_root, "environment", tmp_path)
    names = ["SOMETHING_FROM_MY_SHELL", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_MAX_CONCURRENCY", "_HANDLER"]
    try:
        result = functions.invoke(json.dumps({"names": names}).encode(), timeout=10)
    finally:
        functions.close()
    assert result.json() == {
        "SOMETHING_FROM_MY_SHELL": None,
        "AWS_LAMBDA_FUNCTION_NAME": "Synthetic",
        "AWS_LAMBDA_MAX_CONCURRENCY": None,
        "_HANDLER": "handlers.environment",
    }


def test_memory_is_measured_from_the_runtime_process(task_root: Path, tmp_path: Path) -> None:
    functions = pool(task_root, "memory", tmp_path)
    try:
        result = functions.invoke(b"{}", timeout=10)
    finally:
        functions.close()
    assert result.outcome == "ok"
    assert result.max_memory_mb is not None
    assert result.max_memory_mb >= 64


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"errorMessage": "boom", "errorType": "ValueError", "requestId": "x", "stackTrace": []}', "error"),
        (b"Task timed out after 10.00 seconds", "timeout"),
        (b'{"statusCode": 200, "errorType": "mine"}', "ok"),
        (b'{"errorType": "A", "errorMessage": "b", "extra": 1}', "ok"),
    ],
)
def test_rie_answers_are_classified_by_their_body(payload: bytes, expected: str) -> None:
    assert runtime.classify(200, payload) == expected


def test_a_failed_init_is_a_crash() -> None:
    assert runtime.classify(502, b'{"errorType": "Runtime.ImportModuleError"}') == "crash"


def test_map_result_rejects_a_status_code_that_is_not_a_number() -> None:
    answer = map_result(b'{"statusCode": "abc"}')
    assert answer == GatewayAnswer(
        500, [("content-type", "application/json")], b'{"message": "Internal Server Error"}'
    )
