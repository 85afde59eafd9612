"""Runs template.yaml's functions the way Lambda does, without a container: AWS's Runtime Interface Emulator
(RIE) driving `awslambdaric` over what `sam build` produced.

Each function gets a small pool of RIE processes (RIE serves one invocation at a time and answers a second
one with 400). A process is started on 127.0.0.1 ports of its own, with a clean environment (RIE hands its
whole environment to the runtime): the template's variables resolved against the local resources, what
Lambda itself sets, and dummy credentials pointing at the local AWS endpoint. The runtime is
`.runtime-venv/bin/python -m awslambdaric <Handler>` with the task root (`.aws-sam/build/<Function>`) and the
built layer's `python/` folder (where Lambda mounts a layer, `/opt/python`) on PYTHONPATH, in Lambda's order.

RIE's quirks handled here: it drops response headers, so a function error is a 200 with an `errorType` body
and a timeout a 200 with "Task timed out after N seconds"; a failed init or crashed runtime answers 502.
After a crash or a timeout the process is replaced (RIE keeps its init state otherwise). Its REPORT line's
"Max Memory Used" is just the configured size, so memory is read from the runtime process (VmHWM).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from local import intrinsics, template
from local.intrinsics import REGION, Context

log = logging.getLogger("local.runtime")

ROOT = template.ROOT
BUILD_DIR = ROOT / ".aws-sam" / "build"
RUNTIME_VENV = ROOT / ".runtime-venv"
# HTTP API's integration timeout: a function still running after this answers 503 at the gateway.
INTEGRATION_TIMEOUT_SECONDS = 30.0
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_REPORT = re.compile(r"^REPORT RequestId: (?P<id>\S+)\t(?P<rest>.*)$")
_INIT = re.compile(r"Init Duration: (?P<ms>[\d.]+) ms")

Outcome = Literal["ok", "error", "timeout", "crash"]


class RuntimeSetupError(RuntimeError):
    """Something `make build`, `make rie` or the runtime venv should have produced is missing."""


def rie_binary() -> Path:
    """`$RIE_BIN` (the Makefile exports it), else the versioned binary in the tools cache."""
    if configured := os.environ.get("RIE_BIN"):
        path = Path(configured)
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reels-live" / "bin"
        found = sorted(cache.glob("aws-lambda-rie-v*"), reverse=True)
        path = found[0] if found else cache / "aws-lambda-rie"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeSetupError(f"RIE not found at {path}; run `make rie`")
    return path


def runtime_python() -> Path:
    python = RUNTIME_VENV / "bin" / "python"
    if not python.exists():
        raise RuntimeSetupError(f"{python} is missing; run `make runtime-venv`")
    return python


def task_root(function: str) -> Path:
    root = BUILD_DIR / function
    if not root.is_dir():
        raise RuntimeSetupError(f"{root} is missing; run `make build` (sam build)")
    return root


def layer_paths(function: str) -> list[Path]:
    """The built layers of a function, each as Lambda puts them on sys.path (under /opt/python)."""
    layers = intrinsics.function_setting(function, "Layers", []) or []
    paths = []
    for layer in layers:
        logical_id = layer.get("Ref") if isinstance(layer, dict) else None
        if not logical_id:
            continue  # a layer ARN from elsewhere cannot be run locally
        built = BUILD_DIR / logical_id / "python"
        if not built.is_dir():
            raise RuntimeSetupError(f"{built} is missing; run `make build` (sam build)")
        paths += [built / "lib" / "python3.12" / "site-packages", built]
    return paths


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def function_handler(function: str) -> str:
    return str(template.resources("AWS::Serverless::Function")[function]["Properties"]["Handler"])


def function_timeout(function: str) -> int:
    return int(intrinsics.function_setting(function, "Timeout", 3))


def function_environment(
    function: str, context: Context, *, endpoints: Mapping[str, str], runtime_api: str | None = None
) -> dict[str, str]:
    """The whole environment a function's runtime sees, built from nothing (RIE passes its own on).

    `endpoints` maps environment names (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SESV2`, ...) to local URLs.
    """
    name = str(context.refs.get(function, function))
    root = task_root(function)
    env = {
        # What Lambda sets for a python3.12 function.
        "PATH": f"{RUNTIME_VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(root),
        "LAMBDA_RUNTIME_DIR": str(RUNTIME_VENV),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(intrinsics.function_setting(function, "MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function_timeout(function)),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        **DUMMY_CREDENTIALS,
        "AWS_SESSION_TOKEN": "testing",
        # As `sam local` sets it: Powertools Tracer would switch itself on under a task root otherwise.
        "AWS_SAM_LOCAL": "true",
        # Lambda's order: task root, then the layers under /opt/python, then the runtime's own packages.
        "PYTHONPATH": os.pathsep.join(str(path) for path in [root, *layer_paths(function)]),
        "PYTHONNOUSERSITE": "1",
        # The deployment package is read-only in Lambda; do not write .pyc files into the build.
        "PYTHONDONTWRITEBYTECODE": "1",
        **dict(endpoints),
        **intrinsics.function_environment(function, context),
    }
    if runtime_api:
        env["AWS_LAMBDA_RUNTIME_API"] = runtime_api
    # Never set: it switches RIE and awslambdaric into Lambda Managed Instances mode.
    env.pop("AWS_LAMBDA_MAX_CONCURRENCY", None)
    return env


@dataclass
class Invocation:
    """One invocation's result as Lambda's Invoke API would give it, plus what RIE measured."""

    outcome: Outcome
    payload: bytes
    request_id: str
    cold: bool
    duration_ms: float
    init_ms: float | None = None
    max_memory_mb: int | None = None
    report: str | None = None

    @property
    def function_error(self) -> bool:
        return self.outcome != "ok"

    def json(self) -> Any:
        return json.loads(self.payload) if self.payload else None


@dataclass
class _Report:
    line: str
    init_ms: float | None


class RieProcess:
    """One RIE process running one function's runtime; serves one invocation at a time."""

    def __init__(
        self,
        function: str,
        environment: Mapping[str, str],
        log_path: Path,
        *,
        root: Path | None = None,
        handler: str | None = None,
    ) -> None:
        self.function = function
        self.environment = dict(environment)
        self.log_path = log_path
        # Where the code is and what to run: the function's build output and Handler unless given.
        self.root = root
        self.handler = handler
        self.port = 0
        self.invocations = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._reports: dict[str, _Report] = {}
        self._report_ready = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> RieProcess:
        root = self.root or task_root(self.function)
        handler = self.handler or function_handler(self.function)
        self.port = free_port()
        api_port = free_port()
        command = [
            str(rie_binary()),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{api_port}",
            "--log-level",
            "info",
            str(runtime_python()),
            "-m",
            "awslambdaric",
            handler,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            command,
            cwd=root,
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.invocations = 0
        self._reader = threading.Thread(target=self._read_output, args=(self._process,), daemon=True)
        self._reader.start()
        self._wait_listening()
        return self

    def _wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeSetupError(f"RIE for {self.function} exited; see {self.log_path}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.02)
        raise RuntimeSetupError(f"RIE for {self.function} did not listen within {timeout}s")

    def _read_output(self, process: subprocess.Popen[bytes]) -> None:
        """Copy RIE's output (its own log, START/END/REPORT and the function's logs) to the log file."""
        assert process.stdout is not None
        with self.log_path.open("ab") as sink:
            for raw in process.stdout:
                sink.write(raw)
                sink.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                found = _REPORT.match(line)
                if found:
                    init = _INIT.search(found["rest"])
                    with self._report_ready:
                        self._reports[found["id"]] = _Report(
                            line.rstrip(), float(init["ms"]) if init else None
                        )
                        self._report_ready.notify_all()

    def invoke(self, payload: bytes, *, timeout: float = INTEGRATION_TIMEOUT_SECONDS) -> Invocation:
        """Invoke once. Raises TimeoutError when RIE has not answered within `timeout` seconds."""
        request_id = str(uuid.uuid4())
        cold = self.invocations == 0
        self.invocations += 1
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=payload,
            method="POST",
            headers={"X-Amzn-RequestId": request_id, "Content-Type": "application/json"},
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        except TimeoutError as error:
            raise TimeoutError(f"{self.function} did not answer within {timeout}s") from error
        except (urllib.error.URLError, ConnectionError) as error:
            # The RIE process itself is gone.
            status, body = 599, str(error).encode()
        elapsed = (time.monotonic() - started) * 1000
        report = self._wait_report(request_id, 1.0 if status == 200 else 0.2)
        outcome = classify(status, body)
        return Invocation(
            outcome=outcome,
            payload=body,
            request_id=request_id,
            cold=cold,
            duration_ms=elapsed,
            init_ms=report.init_ms if report else None,
            max_memory_mb=self.max_memory_mb(),
            report=report.line if report else None,
        )

    def _wait_report(self, request_id: str, timeout: float) -> _Report | None:
        with self._report_ready:
            self._report_ready.wait_for(lambda: request_id in self._reports, timeout)
            return self._reports.pop(request_id, None)

    def runtime_pid(self) -> int | None:
        """The runtime (python) process RIE started: its child."""
        if not self.alive or self.pid is None:
            return None
        for children in Path(f"/proc/{self.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for child in children.read_text().split():
                    return int(child)
        return None

    def max_memory_mb(self) -> int | None:
        """Peak resident memory of the runtime process (VmHWM), what Lambda reports as Max Memory Used."""
        pid = self.runtime_pid()
        if pid is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return max(1, round(int(line.split()[1]) / 1024))
        return None

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            # RIE runs in its own session: take the runtime down with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(3)
        if process.stdout:
            process.stdout.close()


def classify(status: int, body: bytes) -> Outcome:
    """What an RIE answer means: RIE drops the X-Amz-Function-Error header, so read the body."""
    if status == 200:
        if body.startswith(b"Task timed out after"):
            return "timeout"
        if _is_error_body(body):
            return "error"
        return "ok"
    # 502: failed init or a runtime that died mid-invocation; 599: the RIE process is gone.
    return "crash"


def _is_error_body(body: bytes) -> bool:
    """awslambdaric's error shape: {errorMessage, errorType, requestId?, stackTrace?} and nothing else."""
    if not body.startswith(b"{"):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    keys = set(data) if isinstance(data, dict) else set()
    return {"errorType", "errorMessage"} <= keys <= {"errorType", "errorMessage", "requestId", "stackTrace"}


@dataclass
class FunctionPool:
    """Warm RIE processes for one function: an invocation takes an idle one or starts another (up to
    `size`), else waits. A process that crashed or timed out is replaced before it serves again."""

    function: str
    environment: dict[str, str]
    log_dir: Path
    size: int = 2
    root: Path | None = None
    handler: str | None = None
    _idle: list[RieProcess] = field(default_factory=list)
    _all: list[RieProcess] = field(default_factory=list)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    invocations: int = 0
    closed: bool = False

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.function}.log"

    @contextlib.contextmanager
    def _process(self, timeout: float) -> Iterator[RieProcess]:
        with self._lock:
            if not self._lock.wait_for(lambda: self._idle or len(self._all) < self.size, timeout):
                raise TimeoutError(f"no {self.function} runtime free within {timeout}s")
            if self.closed:
                raise RuntimeSetupError("the stack is stopping")
            process = self._idle.pop() if self._idle else None
            if process is None:
                process = RieProcess(
                    self.function, self.environment, self.log_path, root=self.root, handler=self.handler
                )
                self._all.append(process)
        try:
            if not process.alive:
                process.start()
            yield process
        finally:
            with self._lock:
                if self.closed:
                    process.stop()
                else:
                    self._idle.append(process)
                self._lock.notify()

    def invoke(self, payload: bytes, *, timeout: float = INTEGRATION_TIMEOUT_SECONDS) -> Invocation:
        """One invocation on a warm (or new) process; TimeoutError when it exceeds `timeout`."""
        started = time.monotonic()
        with self._process(timeout) as process:
            with self._lock:
                self.invocations += 1
            remaining = max(timeout - (time.monotonic() - started), 0.1)
            try:
                result = process.invoke(payload, timeout=remaining)
            except TimeoutError:
                process.stop()
                raise
            if result.cold:
                # RIE's "Init Duration" only covers its own setup: the runtime starts and imports the
                # handler inside the first invocation, so that whole first call is the cold start.
                log.info(
                    "cold start %s: %.0f ms to the first answer, %s MB (runtime pid %s)",
                    self.function,
                    result.duration_ms,
                    result.max_memory_mb or "?",
                    process.runtime_pid(),
                )
            if result.outcome in ("timeout", "crash"):
                # RIE keeps its init state after a reset; a fresh process is the honest cold start.
                log.warning(
                    "%s: %s; replacing its runtime (log: %s)", self.function, result.outcome, self.log_path
                )
                process.stop()
            return result

    def close(self) -> None:
        with self._lock:
            self.closed = True
            processes = list(self._all)
            self._lock.notify_all()
        for process in processes:
            process.stop()


class Functions:
    """Every function of template.yaml, each with its pool, against one set of local resources."""

    def __init__(
        self,
        context: Context,
        *,
        endpoints: Mapping[str, str],
        log_dir: Path,
        pool_size: int = 2,
        functions: list[str] | None = None,
    ) -> None:
        self.context = context
        self.endpoints = dict(endpoints)
        self.log_dir = log_dir
        names = functions or list(template.resources("AWS::Serverless::Function"))
        self.pools = {
            name: FunctionPool(
                name, function_environment(name, context, endpoints=endpoints), log_dir, pool_size
            )
            for name in names
        }

    def invoke(self, function: str, event: Any, *, timeout: float | None = None) -> Invocation:
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        limit = timeout if timeout is not None else INTEGRATION_TIMEOUT_SECONDS
        return self.pools[function].invoke(payload, timeout=limit)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()


def check_ready(functions: list[str] | None = None) -> None:
    """Fail early, with the command to run, when a build product is missing."""
    rie_binary()
    runtime_python()
    for name in functions or list(template.resources("AWS::Serverless::Function")):
        task_root(name)
        layer_paths(name)
