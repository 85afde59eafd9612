"""The stack a test runs against: template.yaml's resources in moto and each function's resolved environment."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from local import intrinsics, template
from local.intrinsics import Context

__all__ = [
    "Context",
    "activate",
    "current",
    "environment_of",
    "function_environment",
    "powertools_settings",
    "set_parameter",
]
from reels_live.core import config

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


def powertools_settings(parameter_overrides: dict[str, Any]) -> dict[str, str]:
    """The POWERTOOLS_* variables template.yaml's Globals give every function, quiet and untraced for tests.

    Logger, Tracer and Metrics read them when reels_live.core.observability is first imported, so they must be in
    the environment before any handler module is."""
    context = Context(parameters=intrinsics.parameters(parameter_overrides))
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    settings = {
        name: str(intrinsics.resolve(value, context))
        for name, value in variables.items()
        if name.startswith("POWERTOOLS_")
    }
    return {**settings, "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
