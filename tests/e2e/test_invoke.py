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
    """The function an event belongs to, read from the event and template.yaml: the route of an API event,
    the function consuming the queue an SQS event names, the function running on a schedule."""
    event = json.loads(event_file.read_text())
    functions = template.resources("AWS::Serverless::Function")
    if "routeKey" in event:
        method, path = event["routeKey"].split(" ", 1)
        found = template.find_route(method, event.get("rawPath") or path)
        assert found, f"{event_file.name}: no route for {event['routeKey']}"
        return found[0].function
    if event.get("Records") and event["Records"][0].get("eventSource") == "aws:sqs":
        queue_name = event["Records"][0]["eventSourceARN"].rsplit(":", 1)[1]
        for name, spec in functions.items():
            for source in spec["Properties"].get("Events", {}).values():
                queue = source.get("Properties", {}).get("Queue", {})
                logical_id = queue.get("Fn::GetAtt", [""])[0] if isinstance(queue, dict) else ""
                if source["Type"] == "SQS" and logical_id and queue_name.endswith(logical_id):
                    return name
        raise AssertionError(f"{event_file.name}: no function consumes a queue named like {queue_name}")
    if event.get("detail-type") == "Scheduled Event":
        scheduled = [
            name
            for name, spec in functions.items()
            if any(
                e["Type"] in ("Schedule", "ScheduleV2") for e in spec["Properties"].get("Events", {}).values()
            )
        ]
        folders = {name: Path(functions[name]["Properties"]["CodeUri"]).name for name in scheduled}
        named = [name for name in scheduled if folders[name] in event_file.stem]
        assert len(named or scheduled) == 1, (
            f"{event_file.name}: which of {scheduled}? name it after its folder"
        )
        return (named or scheduled)[0]
    raise AssertionError(f"{event_file.name}: not an API, SQS or scheduled event")


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
