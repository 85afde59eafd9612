"""Real WebRTC clients for tests, on the `livekit` Python SDK (`livekit.rtc`, a native WebRTC stack).

In-process clients (`connect`, `publish_synthetic_video`, `disconnect`) share the caller's event loop. A client
that must vanish without a clean leave runs in its own process (`spawn_client`) so `drop_abruptly` can
SIGKILL it: the SDK has no way to sever one in-process Room (disposing its FFI handle leaves it connected, and
a closed signalling socket is simply resumed). livekit-server notices a killed client only through ICE
timeouts: `participant_left` comes about 20 s later (its 10 s + 5 s ICE timeouts are hard-coded).

`livekit.rtc` is imported here only: it loads a large native library.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from livekit import rtc
from livekit.rtc.participant import PublishTrackError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Frame tasks per room, so they are kept alive and stopped with the room.
_frame_tasks: weakref.WeakKeyDictionary[rtc.Room, set[asyncio.Task[None]]] = weakref.WeakKeyDictionary()


class PublishRefused(Exception):
    """The server did not accept a publish (for example a token with can_publish=False)."""


async def connect(url: str, token: str, *, timeout: float = 10.0, auto_subscribe: bool = True) -> rtc.Room:
    """A connected Room; raises rtc.ConnectError (or TimeoutError) when the server refuses or is silent."""
    room = rtc.Room()
    try:
        await asyncio.wait_for(
            room.connect(url, token, rtc.RoomOptions(auto_subscribe=auto_subscribe)), timeout
        )
    except BaseException:
        await room.disconnect()
        raise
    return room


async def publish_synthetic_video(
    room: rtc.Room,
    width: int = 64,
    height: int = 64,
    fps: int = 10,
    *,
    name: str = "synthetic-camera",
    timeout: float = 10.0,
) -> rtc.LocalTrackPublication:
    """Publish a camera track fed with generated frames from a background task.

    livekit-server answers a publish it does not allow with RequestResponse NOT_ALLOWED, which the SDK (1.2.1)
    ignores: its publish only times out (after 10 s). So a refusal surfaces as PublishRefused after `timeout`;
    an accepted publish takes tens of milliseconds, so a short timeout is a safe test of refusal.
    """
    source = rtc.VideoSource(width, height)
    track = rtc.LocalVideoTrack.create_video_track(name, source)
    frames = asyncio.get_running_loop().create_task(_push_frames(room, source, width, height, fps))
    tasks = _frame_tasks.setdefault(room, set())
    tasks.add(frames)
    frames.add_done_callback(tasks.discard)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
    try:
        return await asyncio.wait_for(room.local_participant.publish_track(track, options), timeout)
    except (PublishTrackError, TimeoutError) as error:
        frames.cancel()
        granted = room.local_participant.permissions.can_publish
        raise PublishRefused(
            f"publish of {name!r} not accepted within {timeout}s (server granted can_publish={granted}): "
            f"{getattr(error, 'message', None) or type(error).__name__}"
        ) from error


async def _push_frames(room: rtc.Room, source: rtc.VideoSource, width: int, height: int, fps: int) -> None:
    """A slowly changing grey frame: real encoded video without the cost of drawing anything."""
    started = time.monotonic()
    count = 0
    while room.isconnected():
        shade = (count * 8) % 256
        frame = rtc.VideoFrame(width, height, rtc.VideoBufferType.RGBA, bytes([shade]) * (width * height * 4))
        source.capture_frame(frame, timestamp_us=int((time.monotonic() - started) * 1_000_000))
        count += 1
        # Paced against the start so a slow loop does not drift the frame rate down.
        await asyncio.sleep(max(0.0, started + count / fps - time.monotonic()))


async def stop_synthetic_video(room: rtc.Room) -> None:
    tasks = _frame_tasks.pop(room, set())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def disconnect(room: rtc.Room) -> None:
    """A clean leave (the server sees CLIENT_REQUEST_LEAVE at once)."""
    await stop_synthetic_video(room)
    await room.disconnect()


async def wait_for[T](
    predicate: Callable[[], T | Awaitable[T]], timeout: float = 10.0, interval: float = 0.02
) -> T:
    """Poll `predicate` (sync or async) until it returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def wait_for_event(
    room: rtc.Room, event: str, predicate: Callable[..., bool] | None = None, timeout: float = 10.0
) -> tuple[Any, ...]:
    """The arguments of the next `event` the Room emits (that `predicate` accepts)."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def handler(*args: Any) -> None:
        if not future.done() and (predicate is None or predicate(*args)):
            future.set_result(args)

    room.on(event, handler)  # type: ignore[arg-type]
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        room.off(event, handler)  # type: ignore[arg-type]


async def first_video_frame(track: rtc.Track, timeout: float = 10.0) -> rtc.VideoFrame:
    """The first decoded frame of a subscribed video track: proof that media crossed the server."""
    stream = rtc.VideoStream(track)
    try:
        event = await asyncio.wait_for(anext(aiter(stream)), timeout)
        return event.frame
    finally:
        await stream.aclose()


# ---------------------------------------------------------------------- a client in its own process


@dataclass
class ClientProcess:
    """A client in a child process, so it can vanish the way a phone losing its network does."""

    process: asyncio.subprocess.Process
    identity: str
    participant_sid: str
    track_sid: str | None

    @property
    def pid(self) -> int:
        return self.process.pid

    async def leave(self, timeout: float = 10.0) -> None:
        """Clean leave: the child disconnects, then exits."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), timeout)

    async def kill(self) -> None:
        """SIGKILL: no leave, sockets closed by the kernel, media just stops."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill()


async def spawn_client(
    url: str, token: str, *, publish_video: bool = True, timeout: float = 20.0
) -> ClientProcess:
    """Start a child process that connects (and publishes synthetic video); returns once it is in the room."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        # The token travels in the environment, not in argv where `ps` shows it.
        "LIVEKIT_TOKEN": token,
    }
    args = [sys.executable, "-m", "local.livekit.clients", url] + (["--publish"] if publish_video else [])
    process = await asyncio.create_subprocess_exec(
        *args, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout)
        ready = json.loads(line or b'{"error": "the client exited before joining"}')
    except BaseException:
        process.kill()
        await process.wait()
        raise
    if "error" in ready:
        await process.wait()
        raise ConnectionError(f"client process failed: {ready['error']}")
    return ClientProcess(process, ready["identity"], ready["participant_sid"], ready.get("track_sid"))


async def drop_abruptly(client: ClientProcess) -> None:
    """Kill the client's process: the server sees no leave and drops the participant on ICE timeout."""
    await client.kill()


async def _child(url: str, token: str, publish: bool) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        room = await connect(url, token)
        publication = await publish_synthetic_video(room) if publish else None
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}), flush=True)
        raise SystemExit(1) from error
    ready = {
        "identity": room.local_participant.identity,
        "participant_sid": room.local_participant.sid,
        "track_sid": publication.sid if publication else None,
    }
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await disconnect(room)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local.livekit.clients",
        description="One LiveKit client (token in $LIVEKIT_TOKEN); prints a JSON line once joined, "
        "leaves cleanly on SIGTERM.",
    )
    parser.add_argument("url")
    parser.add_argument("--publish", action="store_true", help="publish synthetic video")
    args = parser.parse_args(argv)
    asyncio.run(_child(args.url, os.environ["LIVEKIT_TOKEN"], args.publish))


if __name__ == "__main__":
    main()
