"""`make invoke FN=<LogicalId> EVENT=events/<file>.json`: one event through the same RIE path as `make run`,
printing the function's response and RIE's REPORT line, like `sam local invoke -e` (which needs Docker).

Against a running stack (`make run`) it uses that stack's AWS, LiveKit and parameters; otherwise it starts
the services alone for this one invocation (moto provisioned from template.yaml, LiveKit behind the relay)
and stops them after. Exit status 1 when the function failed (error, timeout, crash), like Lambda's
`X-Amz-Function-Error`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import tempfile
from pathlib import Path

from local import runtime, state, template


def invoke(function: str, event_file: Path, *, log_dir: Path | None = None) -> runtime.Invocation:
    payload = event_file.read_bytes()
    json.loads(payload)  # an event file must be JSON
    running = state.running()
    with contextlib.ExitStack() as cleanup:
        if running:
            context = state.context_from_json(running["context"])
            endpoints = dict(running["endpoints"])
            logs = log_dir or Path(running["logs"])
            print(f"using the running stack at {running['gateway']}", file=sys.stderr)
        else:
            from local.stack import Stack

            scratch = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="reels-live-invoke-")))
            print("no stack running: starting moto and LiveKit for this invocation", file=sys.stderr)
            ports = {"gateway": 0, "issuer": 0, "moto": 0, "livekit": 0}
            stack = cleanup.enter_context(Stack(state_dir=scratch, ports=ports, services_only=True))
            assert stack.context is not None
            context, endpoints = stack.context, stack.endpoints
            logs = log_dir or scratch / "logs"
        environment = runtime.function_environment(function, context, endpoints=endpoints)
        process = runtime.RieProcess(function, environment, logs / f"{function}.invoke.log").start()
        cleanup.callback(process.stop)
        return process.invoke(payload, timeout=runtime.function_timeout(function) + 5)


def main(argv: list[str] | None = None) -> None:
    functions = list(template.resources("AWS::Serverless::Function"))
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__.split("\n")[0])
    parser.add_argument("function", help=f"logical id: {', '.join(functions)}")
    parser.add_argument("event", type=Path, help="event file, e.g. events/get_stream.json")
    args = parser.parse_args(argv)
    if args.function not in functions:
        parser.error(f"{args.function} is not a function of template.yaml ({', '.join(functions)})")
    logging.basicConfig(level=logging.WARNING)
    try:
        result = invoke(args.function, args.event)
    except runtime.RuntimeSetupError as error:
        raise SystemExit(str(error)) from None
    print(result.payload.decode(errors="replace"))
    if result.report:
        print(result.report, file=sys.stderr)
    print(
        f"local measurement: {result.duration_ms:.0f} ms ({'cold' if result.cold else 'warm'}), "
        f"max memory used {result.max_memory_mb or '?'} MB (RIE's REPORT only repeats the configured size)",
        file=sys.stderr,
    )
    if result.function_error:
        print(f"function {result.outcome}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
