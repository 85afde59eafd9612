"""`python -m local.livekit.relay`: the relay as a process, in front of a livekit-server given with
`--upstream` or started with `--start-server`; it prints `LIVEKIT_URL=...` once serving and stops on SIGINT
or SIGTERM (the server first). See `--help` for the flags."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Sequence

from local.livekit.relay.core import Relay
from local.livekit.server import DEV_API_KEY, DEV_API_SECRET, LiveKitServer

# One logger name for the whole relay, whichever module logs (local.stack quiets it by this name).
log = logging.getLogger("local.livekit.relay")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local.livekit.relay",
        description="Relay in front of livekit-server: passes API calls, signalling and webhooks through, "
        "simulates egress (placeholder recordings to S3) and injects webhook faults (admin API: /_relay/).",
        epilog="With --upstream, that server's webhook.urls must include http://127.0.0.1:PORT/webhook "
        "(this relay): auto-egress starts on the server's room_started.",
    )
    parser.add_argument("--upstream", help="livekit-server's HTTP URL, e.g. http://127.0.0.1:7880")
    parser.add_argument(
        "--start-server", action="store_true", help="also start livekit-server (local/livekit/livekit.yaml)"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--webhook-target", action="append", default=[], help="URL receiving webhooks (repeatable)"
    )
    parser.add_argument("--api-key", default=DEV_API_KEY)
    parser.add_argument("--api-secret", default=DEV_API_SECRET)
    parser.add_argument(
        "--extra-key",
        action="append",
        default=[],
        metavar="KEY=SECRET",
        help="another accepted key (rotation)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for probabilistic faults")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.upstream and not args.start_server:
        parser.error("give --upstream or --start-server")
    if any("=" not in pair for pair in args.extra_key):
        parser.error("--extra-key takes KEY=SECRET")
    args.extra_keys = dict(pair.split("=", 1) for pair in args.extra_key)
    return args


async def _main(args: argparse.Namespace) -> None:
    relay = Relay(
        args.upstream,
        port=args.port,
        webhook_targets=args.webhook_target,
        api_key=args.api_key,
        api_secret=args.api_secret,
        extra_keys=args.extra_keys,
        seed=args.seed,
    )
    await relay.open()
    server = None
    try:
        if args.start_server:
            server = LiveKitServer(
                api_key=args.api_key,
                api_secret=args.api_secret,
                extra_keys=args.extra_keys,
                webhook_urls=[relay.webhook_url],
            )
            await asyncio.to_thread(server.start)
            relay.upstream = server.http_url
            log.info("livekit-server %s (log: %s)", server.http_url, server.log_path)
        log.info(
            "relay %s -> %s; server webhooks in at %s, out to %s",
            relay.url,
            relay.upstream,
            relay.webhook_url,
            relay.webhook_targets or "nobody",
        )
        print(f"LIVEKIT_URL={relay.url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await relay.close()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
