"""The local stack as a user starts it: `python -m local.stack` in its own process, on free ports, with its
state in a temporary folder. Tests talk to it over HTTP only.

It runs what `sam build` produced under RIE (`make test` builds first), so a dependency missing from the
layer or an import that only works from the source tree fails here.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local import auth, state, template

STARTUP_SECONDS = 90


@dataclass
class LocalStack:
    """A running `python -m local.stack`: its URLs, its state dir, and requests as a user sends them."""

    state_dir: Path
    info: dict[str, Any]
    log_path: Path

    @property
    def url(self) -> str:
        return str(self.info["gateway"])

    def token(self, user: str = "alice", **claims: Any) -> str:
        return auth.token_from_state(self.state_dir, user, **claims)

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "alice",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if user is not None:
            request.add_header("Authorization", f"Bearer {self.token(user)}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, response_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, response_headers = error.code, error.read(), error.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, {k.lower(): v for k, v in response_headers.items()}, parsed

    def invocations(self, function: str) -> int:
        """How many invocations a function's runtimes have started (RIE's START lines in its log)."""
        log = self.state_dir / "logs" / f"{function}.log"
        return log.read_text(errors="replace").count("START RequestId:") if log.exists() else 0

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    log_path = state_dir / "stack.log"
    env = {
        **os.environ,
        "LOCAL_STACK_DIR": str(state_dir),
        "LOCAL_GATEWAY_PORT": "0",
        "LOCAL_ISSUER_PORT": "0",
        "LOCAL_MOTO_PORT": "0",
        "LOCAL_LIVEKIT_PORT": "0",
    }
    for name in ("AWS_ENDPOINT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        env.pop(name, None)
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", "--pool-size", "2"],
            cwd=template.ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = LocalStack(state_dir, {}, log_path)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"`python -m local.stack` exited with {process.returncode}:\n{stack.log_tail()}")
            info = state.running(state_dir)
            if info:
                stack.info = info
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the local stack did not come up in {STARTUP_SECONDS}s:\n{stack.log_tail()}")
        yield stack
    finally:
        # The stack may have exited already (a failed start): its group may be gone too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
