"""Runs the benchmark sections and prints their tables: `python -m bench [section ...]`."""

import argparse
import importlib
import sys
import time

# Each section is a module with `run() -> None` that prints its own tables.
SECTIONS = {
    "lifecycle": "bench.lifecycle",
    "fanout": "bench.fanout",
    "webhooks": "bench.webhooks",
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("sections", nargs="*", choices=[*SECTIONS, []], help="default: all")
    chosen = parser.parse_args().sections or list(SECTIONS)
    for name in chosen:
        started = time.perf_counter()
        print(f"\n=== {name} ===", flush=True)
        importlib.import_module(SECTIONS[name]).run()
        print(f"({name}: {time.perf_counter() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
