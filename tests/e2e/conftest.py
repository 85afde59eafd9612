"""The local stack as a user starts it: `python -m local.stack` in its own process, on free ports, with its
state in a temporary folder. Tests talk to it over HTTP only.

It runs what `sam build` produced under RIE (`make test` builds first), so a dependency missing from the
layer or an import that only works from the source tree fails here.
"""

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local import auth, launch

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
    try:
        with launch.stack_in_background(
            state_dir, "--pool-size", "2", startup_seconds=STARTUP_SECONDS
        ) as info:
            yield LocalStack(state_dir, info, state_dir / "stack.log")
    except launch.StackDidNotStart as failure:
        pytest.fail(str(failure))
