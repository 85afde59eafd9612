"""Cold-import time of a handler module, measured in fresh interpreters the way Lambda loads it.

The handler is imported from what `sam build` produced (task root + the layer's python/ folder, with its
precompiled .pyc) when a build exists, else from the source tree. A bare `import boto3` is measured in the
same run as the baseline every Python Lambda pays.
"""

import os
import statistics
import subprocess
import sys
from pathlib import Path

from local import intrinsics, provision, template

BUILD = template.ROOT / ".aws-sam" / "build"
_SNIPPET = "import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"


def code_paths(function: str) -> tuple[Path, Path, str]:
    """(task root, layer python dir, 'build' or 'source') for a function."""
    if (BUILD / function).is_dir() and (BUILD / "CommonLayer" / "python").is_dir():
        return BUILD / function, BUILD / "CommonLayer" / "python", "build"
    folder, _, _ = template.function_source(function)
    return folder, template.ROOT / "layers" / "common", "source"


def median_ms(
    statement: str, *, cwd: Path, pythonpath: list[Path], env: dict[str, str], runs: int = 7
) -> float:
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", _SNIPPET.format(statement=statement)],
            cwd=cwd,
            env={**env, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)), "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def lambda_like_environment(function: str) -> dict[str, str]:
    """The function's template variables plus what Lambda sets, with dummy credentials."""
    context = intrinsics.Context(parameters=intrinsics.parameters({"LiveKitUrl": "ws://127.0.0.1:9"}))
    for logical_id, spec in template.resources().items():
        provision._name_resource(logical_id, spec, context)
    return {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(intrinsics.function_setting(function, "MemorySize", 128)),
        **intrinsics.function_environment(function, context),
    }


def handler_import_ms(function: str, runs: int = 7) -> tuple[float, str]:
    task_root, layer, origin = code_paths(function)
    env = lambda_like_environment(function)
    return median_ms("import app", cwd=task_root, pythonpath=[task_root, layer], env=env, runs=runs), origin


def module_import_ms(module: str, function: str, runs: int = 7) -> float:
    task_root, layer, _ = code_paths(function)
    env = lambda_like_environment(function)
    return median_ms(f"import {module}", cwd=task_root, pythonpath=[task_root, layer], env=env, runs=runs)
