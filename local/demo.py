"""`make demo`: the whole story on the local stack with real LiveKit clients, checked step by step.

alice (the creator of local/demo_data.py) starts a recorded stream through the API, connects with the
`livekit` SDK and publishes synthetic video; LiveKit's own webhooks make the stream live. After the go-live
settle delay her followers bob, carol and dave each find an in-app item, an email (moto's SES) and, if they
registered a phone, a push (moto's SNS). bob and carol join through the API and watch; carol leaves. alice
ends with saveAsReel; the relay's simulated egress finishes, and the recording and the reel exist. Each step
prints what it saw; the first divergence stops the demo with a message naming the step (exit status 1).

    python -m local.demo                     # against `make run`, else on a stack of its own (free ports)
    python -m local.demo --state-dir DIR     # against the stack whose state is in DIR (tests/e2e)

It reads moto directly only for what the API does not show (emails, pushes, the reel item, the recording)
and to forget go-live cooldowns an earlier run left, so the story can be replayed on one stack.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import boto3
import requests
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from local import auth, launch, state, template
from local.demo_data import CREATOR, DEVICES, FOLLOWERS, email_of
from local.intrinsics import REGION
from local.livekit import clients

LAYER_SOURCE = template.ROOT / "layers" / "common"
STARTUP_SECONDS = 120
POLL_SECONDS = 0.5
VIEWERS = ("bob", "carol")
Probe = Callable[[], tuple[bool, Any]]


class Divergence(Exception):
    """The stack did something other than the story says; the message names the step."""


@dataclass
class Story:
    """One run of the story against one stack: its state, the step being played, and how to look."""

    state_dir: Path
    info: dict[str, Any]
    wait: float  # the longest wait for any one change the story expects
    step: str = "0 (setup)"
    began: float = field(default_factory=time.monotonic)
    session: requests.Session = field(default_factory=requests.Session)
    _tokens: dict[str, str] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(f"{time.monotonic() - self.began:5.1f}s  {text}", flush=True)

    def fail(self, message: str) -> NoReturn:
        raise Divergence(f"step {self.step}: {message}")

    @property
    def refs(self) -> dict[str, str]:
        return self.info["context"]["refs"]

    def parameter(self, name: str) -> Any:
        return self.info["context"]["parameters"][name]

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.info["moto"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def call_now(self, user: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """One API call as `user`; anything but `expect` is a divergence."""
        if user not in self._tokens:
            self._tokens[user] = auth.token_from_state(self.state_dir, user)
        response = self.session.request(
            method,
            self.info["gateway"] + path,
            json=body,
            headers={"Authorization": f"Bearer {self._tokens[user]}"},
            timeout=60,
        )
        answer = response.json() if response.content else None
        if response.status_code != expect:
            self.fail(f"{user} {method} {path} answered {response.status_code} (expected {expect}): {answer}")
        return answer

    async def call(self, user: str, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        return await asyncio.to_thread(self.call_now, user, method, path, body, expect)

    async def until(self, what: str, probe: Probe, timeout: float | None = None) -> Any:
        """Poll `probe` (returns done, what it saw) until done; a divergence after `timeout` seconds."""
        timeout = self.wait if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            done, seen = await asyncio.to_thread(probe)
            if done:
                return seen
            if time.monotonic() > deadline:
                self.fail(f"{what} not seen within {timeout:.0f}s; last seen: {seen}")
            await asyncio.sleep(POLL_SECONDS)

    def stream(self, stream_id: str) -> dict[str, Any]:
        return self.call_now(CREATOR, "GET", f"/streams/{stream_id}")

    def stream_has(self, stream_id: str, **expected: Any) -> Probe:
        def probe() -> tuple[bool, Any]:
            stream = self.stream(stream_id)
            seen = {name: stream.get(name) for name in expected}
            return seen == expected, seen

        return probe


def _keys() -> Any:
    """The table's key spellings, from the layer (the only place that knows them)."""
    if str(LAYER_SOURCE) not in sys.path:
        sys.path.insert(0, str(LAYER_SOURCE))
    from reels_live.store import keys

    return keys


# ---------------------------------------------------------------------- the steps


async def set_the_stage(story: Story) -> None:
    """End a stream an earlier run left active and forget its go-live cooldowns, so the story replays."""
    followers = story.call_now(CREATOR, "GET", f"/users/{CREATOR}/followers")
    names = sorted(item["userId"] for item in followers["items"])
    if not set(FOLLOWERS) <= set(names):
        story.fail(f"{CREATOR}'s followers are {names}, expected {list(FOLLOWERS)} (local/demo_data.py)")
    streams = story.call_now(CREATOR, "GET", f"/users/{CREATOR}/streams")["items"]
    for leftover in (s for s in streams if s["status"] in ("preparing", "live")):
        await story.call(CREATOR, "POST", f"/streams/{leftover['streamId']}/end", {})
        story.say(f"0. stage     ended {CREATOR}'s stream {leftover['streamId']} left by an earlier run")
    keys, table = _keys(), story.aws("dynamodb")
    forgotten = []
    for follower in FOLLOWERS:
        key = {name: {"S": value} for name, value in keys.alert(follower, CREATOR).items()}
        if "Attributes" in table.delete_item(TableName=story.refs["Table"], Key=key, ReturnValues="ALL_OLD"):
            forgotten.append(follower)
    if forgotten:
        story.say(f"0. stage     forgot go-live cooldowns of an earlier run for {', '.join(forgotten)}")


async def create_stream(story: Story) -> dict[str, Any]:
    story.step = "1 (alice creates a stream)"
    created = await story.call(
        CREATOR, "POST", "/streams", {"title": "Morning skate", "tags": ["skate"], "record": True}, expect=201
    )
    stream, connection = created["stream"], created["connection"]
    if (stream["status"], stream["recordingStatus"]) != ("preparing", "pending"):
        story.fail(f"new stream is {stream['status']}, recording {stream['recordingStatus']}")
    if not {"url", "room", "token"} <= connection.keys():
        story.fail(f"connection lacks url, room or token: {sorted(connection)}")
    story.say(
        f"1. created   stream {stream['streamId']} {stream['status']}, room {connection['room']}, "
        f"recording {stream['recordingStatus']}"
    )
    return created


async def go_live(story: Story, created: dict[str, Any]) -> Any:
    """alice connects and publishes; LiveKit's own webhooks make the stream live."""
    story.step = "2 (alice publishes and goes live)"
    stream_id, connection = created["stream"]["streamId"], created["connection"]
    room = await clients.connect(connection["url"], connection["token"], timeout=story.wait)
    track = await clients.publish_synthetic_video(room, timeout=story.wait)
    story.say(f"2. publishing {CREATOR} is in the room with synthetic video (track {track.sid})")
    await story.until("the stream going live", story.stream_has(stream_id, status="live"))
    await story.until("the recording starting", story.stream_has(stream_id, recordingStatus="active"))
    stream = story.stream(stream_id)
    story.say(f"2. live      status {stream['status']}, recording {stream['recordingStatus']} (webhooks)")
    return room


async def followers_notified(story: Story, stream_id: str) -> None:
    """After the settle delay every follower has an in-app item, an email and (with a phone) a push."""
    story.step = "3 (followers are notified)"
    settle = int(story.parameter("GoLiveSettleSeconds"))
    story.say(f"3. waiting   GoLiveSettleSeconds is {settle}s: alerts go out after it")

    def probe() -> tuple[bool, Any]:
        moto = _moto_data(story)
        seen = {
            "inbox": sorted(user for user in FOLLOWERS if _in_inbox(story, user, stream_id)),
            "email": sorted(_emailed(moto, stream_id)),
            "push": sorted(_pushed(moto, stream_id)),
        }
        expected = {"inbox": sorted(FOLLOWERS), "email": sorted(FOLLOWERS), "push": sorted(DEVICES)}
        return seen == expected, seen

    seen = await story.until("every follower's alert", probe, timeout=settle + story.wait)
    for channel, users in seen.items():
        story.say(f"3. notified  {channel:5} {len(users)}: {', '.join(users)}")


def _in_inbox(story: Story, user: str, stream_id: str) -> bool:
    inbox = story.call_now(user, "GET", "/me/notifications")["items"]
    return any(item["streamId"] == stream_id and item["creatorId"] == CREATOR for item in inbox)


def _moto_data(story: Story) -> dict[str, Any]:
    response = story.session.get(f"{story.info['moto']}/moto-api/data.json", timeout=30)
    response.raise_for_status()
    return response.json()


def _emailed(moto: dict[str, Any], stream_id: str) -> set[str]:
    """Followers with an email about this stream in moto's SES (the SESv2 shim delivers raw MIME there)."""
    by_address = {email_of(user): user for user in FOLLOWERS}
    found = set()
    for message in moto.get("ses", {}).get("RawMessage", []):
        mail = email.message_from_string(message["raw_data"], policy=email.policy.default)
        text = " ".join(str(part.get_content()) for part in mail.walk() if not part.is_multipart())
        if stream_id in text:
            found.update(by_address[to] for to in message["destinations"] if to in by_address)
    return found


def _pushed(moto: dict[str, Any], stream_id: str) -> set[str]:
    """Followers whose device endpoint in moto's SNS got a publish about this stream."""
    found = set()
    for endpoint in moto.get("sns", {}).get("PlatformEndpoint", []):
        user = endpoint["attributes"].get("CustomUserData")
        if user in FOLLOWERS and any(stream_id in body for body in endpoint["messages"].values()):
            found.add(user)
    return found


async def viewers_join_and_leave(story: Story, stream_id: str) -> Any:
    """bob and carol join through the API and watch; the count follows; carol leaves."""
    story.step = "4 (viewers join and leave)"
    rooms = {}
    for viewer in VIEWERS:
        connection = (await story.call(viewer, "POST", f"/streams/{stream_id}/join"))["connection"]
        rooms[viewer] = await clients.connect(connection["url"], connection["token"], timeout=story.wait)
    for viewer, room in rooms.items():
        try:
            publications = await clients.wait_for(
                lambda room=room: [
                    publication
                    for participant in room.remote_participants.values()
                    for publication in participant.track_publications.values()
                    if participant.identity == CREATOR and publication.subscribed and publication.track
                ],
                timeout=story.wait,
            )
            frame = await clients.first_video_frame(publications[0].track, timeout=story.wait)
        except TimeoutError:
            story.fail(f"{viewer} got no video from {CREATOR} within {story.wait:.0f}s")
        story.say(f"4. watching  {viewer} subscribed to {CREATOR}'s video ({frame.width}x{frame.height})")
    counts = await story.until(
        "two viewers counted", story.stream_has(stream_id, viewerCount=2, uniqueViewers=2)
    )
    story.say(f"4. counted   viewerCount {counts['viewerCount']}, uniqueViewers {counts['uniqueViewers']}")
    await clients.disconnect(rooms.pop("carol"))
    counts = await story.until(
        "carol's leave counted", story.stream_has(stream_id, viewerCount=1, uniqueViewers=2, maxViewers=2)
    )
    story.say(
        f"4. left      carol left: viewerCount {counts['viewerCount']}, maxViewers {counts['maxViewers']}"
    )
    return rooms["bob"]


async def end_with_reel(story: Story, stream_id: str) -> dict[str, Any]:
    """alice ends with saveAsReel; egress finishes; the recording and the reel exist."""
    story.step = "5 (alice ends and the reel exists)"
    ended = await story.call(CREATOR, "POST", f"/streams/{stream_id}/end", {"saveAsReel": True})
    if ended["status"] != "ended":
        story.fail(f"end answered status {ended['status']}")
    story.say(f"5. ended     status {ended['status']} after {(ended['durationMs'] or 0) / 1000:.1f}s live")
    await story.until("the recording completing", story.stream_has(stream_id, recordingStatus="complete"))
    stream = story.stream(stream_id)
    url = stream.get("recordingUrl") or story.fail("recording complete without a recordingUrl")
    bucket, key = urlsplit(url).netloc.split(".s3.", 1)[0], urlsplit(url).path.lstrip("/")
    if bucket != story.refs["RecordingsBucket"]:
        story.fail(f"recordingUrl {url} is not in the recordings bucket {story.refs['RecordingsBucket']}")
    try:
        size = story.aws("s3").head_object(Bucket=bucket, Key=key)["ContentLength"]
    except ClientError as error:
        story.fail(f"the recording {url} is not in moto's S3: {error}")
    story.say(f"5. recorded  {url} ({size} bytes)")

    keys = _keys()
    key_attributes = {name: {"S": value} for name, value in keys.reel(stream_id).items()}
    item = story.aws("dynamodb").get_item(TableName=story.refs["Table"], Key=key_attributes).get("Item")
    if not item:
        story.fail(f"no reel item {keys.reel(stream_id)}")
    reel = {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
    if (reel.get("videoUrl"), reel.get("authorId")) != (url, CREATOR):
        story.fail(f"the reel has video {reel.get('videoUrl')} by {reel.get('authorId')}")
    story.say(f"5. reel      {reel['PK']} by {reel['authorId']}: {reel.get('title')!r}, video = recordingUrl")
    return stream


async def play(story: Story) -> None:
    rooms: list[Any] = []
    stream_id, stream = None, None
    try:
        await set_the_stage(story)
        created = await create_stream(story)
        stream_id = created["stream"]["streamId"]
        rooms.append(await go_live(story, created))
        await followers_notified(story, stream_id)
        rooms.append(await viewers_join_and_leave(story, stream_id))
        stream = await end_with_reel(story, stream_id)
    except Divergence:
        raise
    except Exception as error:  # a client that cannot connect, a timeout in the SDK, moto unreachable
        raise Divergence(f"step {story.step}: {type(error).__name__}: {error}") from error
    finally:
        for room in rooms:
            await clients.disconnect(room)
        if stream_id and stream is None:
            # Leave no active stream behind a failed run (the next run would find alice busy).
            with contextlib.suppress(Exception):
                await story.call(CREATOR, "POST", f"/streams/{stream_id}/end", {})
    story.step = "6 (summary)"
    story.say(
        f"6. done      stream {stream_id}: live {stream['durationMs'] / 1000:.1f}s, "
        f"maxViewers {stream['maxViewers']}, uniqueViewers {stream['uniqueViewers']}, "
        f"{len(FOLLOWERS)} followers alerted, recording {stream['recordingStatus']}, reel saved"
    )


# ---------------------------------------------------------------------- which stack


@contextlib.contextmanager
def own_stack() -> Iterator[Path]:
    """A stack of the demo's own on free ports with a temporary state dir, stopped when the demo ends."""
    with tempfile.TemporaryDirectory(prefix="reels-live-demo-") as folder:
        print(f"no stack running: starting one on free ports (log: {folder}/stack.log)", flush=True)
        try:
            with launch.stack_in_background(Path(folder), startup_seconds=STARTUP_SECONDS):
                yield Path(folder)
        except launch.StackDidNotStart as failure:
            raise Divergence(f"setup: {failure}") from failure


def run(state_dir: Path, wait: float) -> None:
    info = state.running(state_dir)
    if info is None:
        raise Divergence(f"setup: no running stack has its state in {state_dir}")
    story = Story(state_dir, info, wait)
    story.say(f"stack        API {info['gateway']}, LiveKit {info['livekit']['url']}, moto {info['moto']}")
    asyncio.run(play(story))
    story.say("the story played as written")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", type=Path, help="the stack to play against (default: `make run`'s)")
    parser.add_argument(
        "--wait", type=float, default=60.0, help="longest wait for any one expected change, seconds (60)"
    )
    args = parser.parse_args(argv)
    # Ending the stream closes the room under its clients, which the SDK logs as errors; anything else shows.
    logging.getLogger("livekit").addFilter(lambda record: "closed unexpectedly" not in record.getMessage())
    try:
        if args.state_dir is not None or state.running() is not None:
            run(args.state_dir or state.state_dir(), args.wait)
        else:
            with own_stack() as state_dir:
                run(state_dir, args.wait)
    except Divergence as divergence:
        print(f"demo failed at {divergence}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
