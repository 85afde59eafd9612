"""Where a running local stack leaves what other commands need (`make token`, `make invoke`, `make demo`).

The state dir (`.local-stack/`, git-ignored; `LOCAL_STACK_DIR` moves it) holds `state.json` (URLs, ports,
the template parameters and resolved resource references) and the issuer's signing key. It describes the
process that wrote it; AWS state itself lives in that process's moto and is gone when it stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

from local import template
from local.intrinsics import Context

STATE_FILE = "state.json"


def state_dir() -> Path:
    return Path(os.environ.get("LOCAL_STACK_DIR") or template.ROOT / ".local-stack")


def write(directory: Path, state: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state, indent=2, default=str))
    temporary.replace(directory / STATE_FILE)


def read(directory: Path | None = None) -> dict[str, Any] | None:
    path = (directory or state_dir()) / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def running(directory: Path | None = None) -> dict[str, Any] | None:
    """The state of a stack that is up and answering, else None."""
    state = read(directory)
    if not state:
        return None
    pid = int(state.get("pid", 0))
    if pid <= 0 or not Path(f"/proc/{pid}").exists():
        return None
    if not state.get("gateway"):
        return None
    url = f"{state['gateway']}/openapi.json"
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
        if response.status == 200:
            return state
    return None


def clear(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (directory / STATE_FILE).unlink()


def context_to_json(context: Context) -> dict[str, Any]:
    return {"parameters": context.parameters, "refs": context.refs, "attributes": context.attributes}


def context_from_json(data: dict[str, Any]) -> Context:
    return Context(parameters=data["parameters"], refs=data["refs"], attributes=data["attributes"])
