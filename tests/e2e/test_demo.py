"""`make demo` against the e2e session's stack: the whole story plays, and a broken step is named."""

import subprocess
import sys

import requests

from local import template
from tests.e2e.conftest import LocalStack


def play_demo(local_stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local.demo", "--state-dir", str(local_stack.state_dir), *args],
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_demo_plays_the_whole_story_with_real_livekit_clients(local_stack: LocalStack) -> None:
    result = play_demo(local_stack)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in (
        "2. live      status live, recording active",
        "3. notified  inbox 3: bob, carol, dave",
        "3. notified  email 3: bob, carol, dave",
        "3. notified  push  2: bob, carol",
        "4. counted   viewerCount 2, uniqueViewers 2",
        "4. left      carol left: viewerCount 1",
        "5. reel      REEL#",
        "the story played as written",
    ):
        assert line in result.stdout, result.stdout


def test_the_demo_fails_naming_the_step_when_livekits_webhooks_cannot_reach_the_gateway(
    local_stack: LocalStack,
) -> None:
    targets_url = f"{local_stack.info['livekit']['http_url']}/_relay/targets"
    targets = requests.get(targets_url, timeout=10).json()["urls"]
    requests.put(targets_url, json={"urls": []}, timeout=10).raise_for_status()
    try:
        result = play_demo(local_stack, "--wait", "5")
    finally:
        requests.put(targets_url, json={"urls": targets}, timeout=10).raise_for_status()
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "demo failed at step 2 (alice publishes and goes live): the stream going live not seen within 5s"
        in result.stderr
    ), result.stderr
    # The failed run ended its stream, so alice can start the next one.
    status, _, streams = local_stack.request("GET", "/users/alice/streams", user="alice")
    assert status == 200
    assert [s["status"] for s in streams["items"] if s["status"] in ("preparing", "live")] == []
