"""Starting `python -m local.stack` in the background, on free ports, with its state in a folder of the
caller's: what `make demo` does when no stack runs and what the e2e tests do. The stack is stopped (its whole
process group) when the context ends."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local import state, template


class StackDidNotStart(RuntimeError):
    """The stack exited or did not answer in time; the message ends with its log's last lines."""


@contextlib.contextmanager
def stack_in_background(
    state_dir: Path, *arguments: str, startup_seconds: float = 120
) -> Iterator[dict[str, Any]]:
    """Yields the running stack's state (URLs, ports, parameters); its output goes to `state_dir/stack.log`."""
    environment = {**os.environ, "LOCAL_STACK_DIR": str(state_dir)}
    environment.update({f"LOCAL_{name}_PORT": "0" for name in ("GATEWAY", "ISSUER", "MOTO", "LIVEKIT")})
    # The caller's own AWS endpoint or LiveKit keys would leak into the stack.
    for name in ("AWS_ENDPOINT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        environment.pop(name, None)
    log_path = state_dir / "stack.log"
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack", *arguments],
            cwd=template.ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + startup_seconds
        while not (info := state.running(state_dir)):
            if process.poll() is not None:
                raise StackDidNotStart(
                    f"`python -m local.stack` exited with {process.returncode}:\n{tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise StackDidNotStart(
                    f"the local stack did not come up in {startup_seconds:.0f}s:\n{tail(log_path)}"
                )
            time.sleep(0.2)
        yield info
    finally:
        # A stack that failed to start may have taken its process group with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def tail(log_path: Path, lines: int = 60) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])
