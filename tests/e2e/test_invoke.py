"""`make invoke`: every committed event in events/ runs through RIE the way `sam local invoke -e` would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local import template
from tests.e2e.conftest import LocalStack

EVENTS = sorted((template.ROOT / "events").glob("*.json"))


def function_for(event_file: Path) -> str:
    """The function an event belongs to: its route (API events), else the function whose CodeUri folder
    has the event's name (events/<folder>.json, or events/<folder>_<variant>.json)."""
    event = json.loads(event_file.read_text())
    if "routeKey" in event:
        method, path = event["routeKey"].split(" ", 1)
        found = template.find_route(method, event.get("rawPath") or path)
        assert found, f"{event_file.name}: no route for {event['routeKey']}"
        return found[0].function
    folders = {
        Path(spec["Properties"]["CodeUri"]).name: name
        for name, spec in template.resources("AWS::Serverless::Function").items()
    }
    for folder in sorted(folders, key=len, reverse=True):
        if event_file.stem == folder or event_file.stem.startswith(f"{folder}_"):
            return folders[folder]
    raise AssertionError(
        f"{event_file.name}: name it after a function's folder ({', '.join(sorted(folders))})"
    )


@pytest.mark.parametrize("event_file", EVENTS, ids=[path.name for path in EVENTS])
def test_every_event_runs_through_make_invoke(local_stack: LocalStack, event_file: Path) -> None:
    function = function_for(event_file)
    result = subprocess.run(
        [sys.executable, "-m", "local.invoke", function, str(event_file.relative_to(template.ROOT))],
        cwd=template.ROOT,
        env={**os.environ, "LOCAL_STACK_DIR": str(local_stack.state_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "using the running stack" in result.stderr
    assert "REPORT RequestId:" in result.stderr
    response = json.loads(result.stdout)
    if "routeKey" in json.loads(event_file.read_text()):
        assert 200 <= response["statusCode"] < 500, response
