"""Runs the real livekit-server binary on loopback, configured from `local/livekit/livekit.yaml`.

The repo file is the config; a run only overrides its ports, keys and webhook settings, and hands the merged
YAML to the server with `--config-body`. Logs go to a file (`log_path`) rather than the test output.
"""

from __future__ import annotations

import copy
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Self

import yaml

CONFIG_PATH = Path(__file__).with_name("livekit.yaml")
# The development pair (also in livekit.yaml and tests/conftest.py); never a deployed key.
DEV_API_KEY = "devkey"
DEV_API_SECRET = "secret-that-is-at-least-32-characters-long"


class LiveKitServerError(RuntimeError):
    """The server binary is missing, or the server did not start or stop as expected."""


class Socket(NamedTuple):
    """One socket a process listens on (TCP) or has bound (UDP)."""

    protocol: str  # "tcp" or "udp"
    host: str
    port: int


def tools_dir() -> Path:
    """Where `make livekit` installs the binary: `$REELS_LIVE_TOOLS_DIR` or the XDG cache."""
    if configured := os.environ.get("REELS_LIVE_TOOLS_DIR"):
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "reels-live" / "bin"


def find_server_binary() -> Path:
    """`$LIVEKIT_SERVER_BIN`, then the tools dir (`livekit-server`, `server`, `livekit-server-v*`), then
    `livekit-server` on PATH."""
    if configured := os.environ.get("LIVEKIT_SERVER_BIN"):
        path = Path(configured)
        if _is_executable(path):
            return path
        raise LiveKitServerError(
            f"LIVEKIT_SERVER_BIN={configured} is not an executable file; run `make livekit`"
        )
    # `server` is what `go install` names it; the versioned name is what local/tools.mk builds today.
    versioned = sorted(tools_dir().glob("livekit-server-v*"), reverse=True)
    for candidate in [tools_dir() / "livekit-server", tools_dir() / "server", *versioned]:
        if _is_executable(candidate):
            return candidate
    if on_path := shutil.which("livekit-server"):
        return Path(on_path)
    raise LiveKitServerError(
        f"livekit-server was not found (LIVEKIT_SERVER_BIN, {tools_dir()}/livekit-server, PATH); "
        "run `make livekit` to build it"
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 right now (the caller must still cope with losing a race for it)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening_sockets(pid: int) -> list[Socket]:
    """Listening TCP and bound UDP sockets of one process, from `ss -ltnupH` (needs to see the process)."""
    output = subprocess.run(["ss", "-ltnupH"], check=True, capture_output=True, text=True, timeout=10).stdout
    sockets = []
    for line in output.splitlines():
        fields = line.split()
        # netid state recv-q send-q local peer process
        if len(fields) < 7 or f"pid={pid}," not in line:
            continue
        host, _, port = fields[4].rpartition(":")
        # IPv6 addresses come bracketed, and a socket may be scoped to an interface (`addr%lo`).
        sockets.append(Socket(fields[0], host.strip("[]").split("%")[0], int(port)))
    return sockets


def load_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()) or {})


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge key by key, anything else in `overrides` replaces."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class LiveKitServer:
    """One livekit-server process on free loopback ports; use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        api_key: str = DEV_API_KEY,
        api_secret: str = DEV_API_SECRET,
        webhook_urls: Sequence[str] = (),
        extra_keys: Mapping[str, str] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        log_path: Path | None = None,
        binary: Path | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.webhook_urls = list(webhook_urls)
        # More keys the server accepts (key rotation); webhooks are still signed with `api_key`.
        self.extra_keys = dict(extra_keys or {})
        self.config_overrides = dict(config_overrides or {})
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="livekit-server-")) / "livekit-server.log"
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.port = 0
        self.udp_port = 0
        self.config: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise LiveKitServerError("the server is not running")
        return self._process.pid

    @property
    def keys(self) -> dict[str, str]:
        return {**self.extra_keys, self.api_key: self.api_secret}

    def build_config(self, port: int, udp_port: int) -> dict[str, Any]:
        """The repo config with this run's ports, keys and webhook targets (then `config_overrides`)."""
        run = {
            "port": port,
            "rtc": {"udp_port": udp_port},
            "keys": self.keys,
            "webhook": {"api_key": self.api_key, "urls": self.webhook_urls},
        }
        return merge(merge(load_config(), run), self.config_overrides)

    def start(self) -> Self:
        binary = self.binary or find_server_binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Free ports can be taken between probing and binding; a lost race shows as an early exit.
        for attempt in range(3):
            self.port, self.udp_port = free_port(), free_port(socket.SOCK_DGRAM)
            self.config = self.build_config(self.port, self.udp_port)
            body = yaml.safe_dump(self.config, sort_keys=False)
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [str(binary), "--config-body", body],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                self._wait_ready()
                return self
            except LiveKitServerError:
                exited = self._process.poll() is not None
                self.stop()
                if not exited or "address already in use" not in self.log_tail() or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        """Ready when GET / answers 200 (the server's health check)."""
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LiveKitServerError(
                    f"livekit-server exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(self.http_url + "/", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise LiveKitServerError(
            f"livekit-server not ready after {self.startup_timeout}s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM; a second SIGTERM forces (the first waits for participants to leave); SIGKILL last."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
            process.send_signal(sig)
            try:
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
        raise LiveKitServerError(f"livekit-server {process.pid} did not exit")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
