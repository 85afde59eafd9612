"""The stack a test runs against: template.yaml's resources in moto and each function's resolved environment."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local import intrinsics
from local.intrinsics import Context

__all__ = ["Context", "activate", "current", "environment_of", "function_environment", "set_parameter"]
from reels_live import config

_current: Context | None = None


def activate(context: Context | None) -> None:
    global _current
    _current = context


def current() -> Context:
    assert _current is not None, "this test needs the aws_backend fixture"
    return _current


def set_parameter(name: str, value: Any) -> None:
    """Change a template parameter for the rest of the test (as a redeploy with an override would)."""
    current().parameters[name] = value


def environment_of(function: str) -> dict[str, str]:
    return intrinsics.function_environment(function, current())


@contextmanager
def function_environment(function: str) -> Iterator[dict[str, str]]:
    """os.environ as Lambda would set it for `function` (on top of the test's AWS settings)."""
    variables = environment_of(function)
    saved = dict(os.environ)
    os.environ.update(variables)
    config.settings.cache_clear()
    try:
        yield variables
    finally:
        os.environ.clear()
        os.environ.update(saved)
        config.settings.cache_clear()
