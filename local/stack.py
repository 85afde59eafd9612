"""`make run`: the whole system on one machine, in one process tree; Ctrl-C stops it all.

    python -m local.stack            # what `make run` starts (after `make build livekit rie runtime-venv`)

- AWS on moto (server mode, loopback), with every resource template.yaml declares (local/provision.py) and
  the LiveKit secret. Its state lives in memory and is gone when the stack stops.
- The real livekit-server behind the relay (local/livekit/): one LiveKit URL, simulated egress, and LiveKit's
  own signed webhooks forwarded to the gateway's webhook route.
- A local OpenID issuer (RSA key made at start, JWKS on loopback) in place of Cognito.
- The gateway (local/gateway.py) on 127.0.0.1:3000, functions under RIE (local/runtime.py), SQS event source
  mappings and schedules (local/event_sources.py).

Ports come from the environment: LOCAL_GATEWAY_PORT (3000), LOCAL_ISSUER_PORT (3001), LOCAL_MOTO_PORT
(4566), LOCAL_LIVEKIT_PORT (7880, the relay; the server itself takes free ports); 0 means any free port.
LIVEKIT_API_KEY / LIVEKIT_API_SECRET replace the development key pair (secret and server config alike).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from local import event_sources, provision, runtime, state, template
from local.auth import LocalIssuer
from local.intrinsics import REGION, Context

log = logging.getLogger("local.stack")

DEFAULT_PORTS = {"gateway": 3000, "issuer": 3001, "moto": 4566, "livekit": 7880}
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def ports_from_environment(environ: Mapping[str, str] = os.environ) -> dict[str, int]:
    return {
        name: int(environ.get(f"LOCAL_{name.upper()}_PORT", port)) for name, port in DEFAULT_PORTS.items()
    }


def livekit_keys(environ: Mapping[str, str] = os.environ) -> tuple[str, str]:
    from local.livekit.server import DEV_API_KEY, DEV_API_SECRET

    key, secret = environ.get("LIVEKIT_API_KEY"), environ.get("LIVEKIT_API_SECRET")
    if bool(key) != bool(secret):
        raise SystemExit("set both LIVEKIT_API_KEY and LIVEKIT_API_SECRET, or neither")
    return (key, secret) if key and secret else (DEV_API_KEY, DEV_API_SECRET)


def webhook_routes() -> list[template.Route]:
    """Open (Authorizer: NONE) POST routes under a path naming LiveKit: where LiveKit's webhooks go."""
    return [
        route
        for route in template.http_routes()
        if not route.authorized and route.method == "POST" and "livekit" in route.path.lower()
    ]


def _port_free(port: int) -> bool:
    if port == 0:
        return True
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class MotoServer:
    """moto in server mode as a child process on 127.0.0.1 (its own process, so it has its own core)."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port or runtime.free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **DUMMY_AWS, "AWS_DEFAULT_REGION": REGION}
        with self.log_path.open("ab") as sink:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"moto server exited; see {self.log_path}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"moto server did not start; see {self.log_path}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


class Stack:
    """Everything `make run` starts; `services_only` leaves out gateway, pollers and schedules (make invoke)."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        ports: Mapping[str, int] | None = None,
        parameter_overrides: Mapping[str, Any] | None = None,
        keys: tuple[str, str] | None = None,
        services_only: bool = False,
        pool_size: int = 2,
        seed_demo_data: bool = True,
    ) -> None:
        self.state_dir = state_dir or state.state_dir()
        self.log_dir = self.state_dir / "logs"
        self.ports = dict(ports or ports_from_environment())
        self.parameter_overrides = dict(parameter_overrides or {})
        self.keys = keys or livekit_keys()
        self.services_only = services_only
        self.pool_size = pool_size
        self.seed_demo_data = seed_demo_data
        self.context: Context | None = None
        self.endpoints: dict[str, str] = {}
        self.functions: runtime.Functions | None = None
        self.gateway: Any = None
        self.issuer: LocalIssuer | None = None
        self.moto: MotoServer | None = None
        self.livekit: Any = None
        self._stack = contextlib.ExitStack()
        self._pollers: list[Any] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Stack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        busy = [f"{name} {port}" for name, port in self.ports.items() if not _port_free(port)]
        if busy:
            raise SystemExit(
                f"ports in use: {', '.join(busy)}. Is a stack already running? Stop it, or set "
                + ", ".join(f"LOCAL_{n.split()[0].upper()}_PORT" for n in busy)
            )
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not self.services_only:
            runtime.check_ready()
        gateway_port = self.ports["gateway"] or runtime.free_port()
        self.ports["gateway"] = gateway_port

        started = time.monotonic()
        self.moto = MotoServer(self.ports["moto"], self.log_dir / "moto.log").start()
        self._stack.callback(self.moto.stop)
        self.endpoints["AWS_ENDPOINT_URL"] = self.moto.url
        # This process talks to moto too (provisioning, pollers, the relay's simulated egress uploads).
        os.environ.update({**DUMMY_AWS, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.moto.url})
        log.info("moto on %s (%.1fs)", self.moto.url, time.monotonic() - started)

        self.issuer = LocalIssuer(self.state_dir, port=self.ports["issuer"]).start()
        self._stack.callback(self.issuer.stop)

        self._start_livekit(gateway_port)

        # SNS platform applications are parameters (CloudFormation cannot create them): made in moto here.
        applications = provision.create_platform_applications(provision.Clients(self.moto.url))
        overrides = {
            "LiveKitUrl": self.livekit.url,
            "JwtIssuer": self.issuer.url,
            "JwtAudience": self.issuer.audience,
            # Links in go-live emails lead to this gateway's /unsubscribe.
            "UnsubscribeBaseUrl": f"http://127.0.0.1:{gateway_port}",
            **applications,
            **self.parameter_overrides,
        }
        parameters = template.load().get("Parameters", {})
        overrides = {name: value for name, value in overrides.items() if name in parameters}
        self.context = provision.provision(overrides, endpoint_url=self.moto.url, livekit_keys=self.keys)
        self._start_shims()

        if not self.services_only:
            self._start_functions()
            if self.seed_demo_data:
                from local import demo_data

                assert self.issuer is not None
                demo_data.seed(f"http://127.0.0.1:{gateway_port}", self.issuer.token)
        self._write_state()
        log.info("stack up in %.1fs", time.monotonic() - started)

    def _start_livekit(self, gateway_port: int) -> None:
        from local.livekit.relay import Relay
        from local.livekit.server import LiveKitServer

        targets = [f"http://127.0.0.1:{gateway_port}{route.path}" for route in webhook_routes()]
        key, secret = self.keys
        relay = Relay(
            webhook_targets=targets, api_key=key, api_secret=secret, port=self.ports["livekit"]
        ).start()
        self._stack.callback(relay.stop)
        server = LiveKitServer(
            api_key=key,
            api_secret=secret,
            webhook_urls=[relay.webhook_url],
            log_path=self.log_dir / "livekit-server.log",
        ).start()
        # Registered after the relay: the server stops first and drains its webhooks into the relay.
        self._stack.callback(server.stop)
        relay.upstream = server.http_url

        class _LiveKit:
            url = relay.url
            http_url = relay.http_url

        self.livekit = _LiveKit()
        self.livekit.relay = relay
        self.livekit.server = server
        self.livekit.api_key, self.livekit.api_secret = key, secret
        self.ports["livekit"] = relay.port
        log.info(
            "livekit-server %s behind the relay %s; webhooks -> %s",
            server.http_url,
            relay.url,
            ", ".join(targets) or "nowhere (no open LiveKit webhook route in template.yaml)",
        )

    def _start_shims(self) -> None:
        """Local stand-ins for AWS APIs moto lacks, when the project has them (SESv2: local/sesv2_shim.py)."""
        if importlib.util.find_spec("local.sesv2_shim") is None:
            return
        shim = importlib.import_module("local.sesv2_shim").serve(self.moto.url)
        self._stack.callback(shim.stop)
        self.endpoints["AWS_ENDPOINT_URL_SESV2"] = shim.url
        log.info("SESv2 shim on %s (bulk email into moto)", shim.url)

    def _start_functions(self) -> None:
        from local import gateway, openapi

        assert self.context is not None
        self.functions = runtime.Functions(
            self.context, endpoints=self.endpoints, log_dir=self.log_dir, pool_size=self.pool_size
        )
        self._stack.callback(self.functions.close)
        document = openapi.build()
        self.gateway = gateway.Gateway(self.functions, self.context, openapi=lambda: document)
        self.gateway.serve(self.ports["gateway"])
        self._stack.callback(self.gateway.stop)
        import boto3

        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=self.moto.url)
        for mapping in event_sources.sqs_mappings(self.context):
            if mapping.enabled:
                poller = event_sources.SqsPoller(mapping, sqs, self.functions.invoke).start()
                self._stack.callback(poller.stop)
                self._pollers.append(poller)
                log.info(
                    "SQS %s -> %s (batch %d)",
                    mapping.queue_url.rsplit("/", 1)[1],
                    mapping.function,
                    mapping.batch_size,
                )
        scheduler = event_sources.Scheduler(
            event_sources.schedules(self.context), self.functions.invoke
        ).start()
        self._stack.callback(scheduler.stop)
        for source in scheduler.sources:
            log.info("schedule %s -> %s", source.expression, source.function)

    def _write_state(self) -> None:
        assert self.context is not None
        assert self.issuer is not None
        state.write(
            self.state_dir,
            {
                "pid": os.getpid(),
                "gateway": f"http://127.0.0.1:{self.ports['gateway']}" if not self.services_only else None,
                "moto": self.moto.url if self.moto else None,
                "endpoints": self.endpoints,
                "livekit": {
                    "url": self.livekit.url,
                    "http_url": self.livekit.http_url,
                    "server": self.livekit.server.http_url,
                    "api_key": self.livekit.api_key,
                },
                "issuer": {"url": self.issuer.url, "audience": self.issuer.audience, "kid": self.issuer.kid},
                "context": state.context_to_json(self.context),
                "logs": str(self.log_dir),
            },
        )

    def stop(self) -> None:
        state.clear(self.state_dir)
        self._stack.close()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ banner

    def banner(self) -> str:
        assert self.issuer is not None
        gateway_url = f"http://127.0.0.1:{self.ports['gateway']}"
        token = self.issuer.token("alice")
        lines = [
            "",
            "reels-live is running on this machine (Ctrl-C stops everything).",
            "",
            f"  API            {gateway_url}   (routes from template.yaml, functions under RIE)",
            f"  Swagger UI     {gateway_url}/docs     OpenAPI: {gateway_url}/openapi.json",
            f"  LiveKit        {self.livekit.url}   (real livekit-server behind the relay)",
            f"  AWS (moto)     {self.moto.url if self.moto else '-'}   state is in memory: gone when this stops",
            f"  issuer         {self.issuer.url}   (JWKS at /.well-known/jwks.json)",
            f"  logs           {self.log_dir}/<Function>.log, livekit-server.log, moto.log",
            "",
            "  a token for alice (1 h; `make token USER=bob` for others):",
            f"    export TOKEN={token}",
            "",
            "  next:",
            f'    curl -s -X POST {gateway_url}/streams -H "Authorization: Bearer $TOKEN" \\',
            "         -H 'content-type: application/json' -d '{\"title\": \"My first stream\"}'",
            "    make demo        # the whole story with real LiveKit clients",
            "    make invoke FN=GetStreamFunction EVENT=events/get_stream.json",
            "",
        ]
        return "\n".join(lines)


@contextlib.contextmanager
def running_stack(**options: Any) -> Iterator[Stack]:
    stack = Stack(**options).start()
    try:
        yield stack
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local.stack", description="The whole system on one machine."
    )
    parser.add_argument("--pool-size", type=int, default=2, help="warm runtimes per function (default 2)")
    parser.add_argument("--no-demo-data", action="store_true", help="start with empty AWS state")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="template parameter"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOCAL_LOG_LEVEL", "INFO"), format="%(asctime)s %(message)s", datefmt="%H:%M:%S"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("local.livekit.relay").setLevel(logging.WARNING)
    overrides = dict(pair.split("=", 1) for pair in args.parameter)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    began = time.monotonic()
    stack = Stack(
        parameter_overrides=overrides, pool_size=args.pool_size, seed_demo_data=not args.no_demo_data
    )
    try:
        stack.start()
    except runtime.RuntimeSetupError as error:
        raise SystemExit(str(error)) from None
    try:
        print(stack.banner(), flush=True)
        log.info("ready in %.1fs", time.monotonic() - began)
        stop.wait()
    finally:
        log.info("stopping")
        stack.stop()


if __name__ == "__main__":
    main()
