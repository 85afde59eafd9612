"""The house's rules that import-linter cannot see: handlers, local/, package docstrings, module length.

import-linter checks the domain package's layers (pyproject.toml; `make imports`); it cannot tell apart the
fourteen handler modules that are all named `app`, so they are parsed here. The last test proves the
contracts bite: a forbidden import planted in a copy of the package makes `lint-imports` fail.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local import template

ROOT = template.ROOT
PACKAGE = ROOT / "layers" / "common" / "reels_live"
FUNCTIONS = ROOT / "functions"
CONCERNS = {"streams", "live", "social", "notifications"}
# What a handler may import from the domain package besides the concern it serves.
EDGE = {"api", "core"}
# The concern(s) each function serves (a handler wires the HTTP edge or an event source to them).
SERVES = {
    "create_stream": {"streams"},
    "get_stream": {"streams"},
    "join_stream": {"streams"},
    "end_stream": {"streams"},
    "list_streams": {"streams"},
    "list_user_streams": {"streams"},
    "livekit_webhook": {"live"},
    "reconcile_streams": {"live"},
    "me": {"social", "notifications"},
    "follows": {"social"},
    "devices": {"social"},
    "unsubscribe": {"notifications"},
    "notify_followers": {"notifications"},
    "deliver_notifications": {"notifications"},
}
LONG_MODULE_LINES = 400
LONG_MODULE_REASON = "Long on purpose:"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names; `from x import y` counts as x)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def handlers() -> list[Path]:
    return sorted(FUNCTIONS.glob("*/app.py"))


def test_every_function_folder_is_listed_here():
    assert {path.parent.name for path in handlers()} == set(SERVES)


@pytest.mark.parametrize("handler", handlers(), ids=lambda path: path.parent.name)
def test_a_handler_imports_the_edge_core_and_the_concern_it_serves(handler: Path):
    serves = SERVES[handler.parent.name]
    packages = {
        module.split(".")[1]
        for module in imported_modules(handler)
        if module.startswith("reels_live.") and module.count(".") >= 1
    }
    assert packages - EDGE <= serves, (
        f"{handler} reaches past its concern: {sorted(packages - EDGE - serves)}"
    )
    assert packages & serves, f"{handler} calls no concern"
    assert not any(
        module == "reels_live" or module.startswith("boto3") for module in imported_modules(handler)
    )


def python_files(*folders: Path) -> list[Path]:
    return sorted(
        path for folder in folders for path in folder.rglob("*.py") if "__pycache__" not in path.parts
    )


def test_nothing_deployed_imports_local_tooling():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files(FUNCTIONS, PACKAGE)
        if any(module == "local" or module.startswith("local.") for module in imported_modules(path))
    ]
    assert offenders == []


def subpackages() -> list[Path]:
    return sorted(path.parent for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE)


@pytest.mark.parametrize("package", subpackages(), ids=lambda path: path.name)
def test_every_subpackage_says_what_lives_there_and_what_it_may_import(package: Path):
    tree = ast.parse((package / "__init__.py").read_text())
    docstring = ast.get_docstring(tree) or ""
    assert len(docstring) > 40, f"{package.name}/__init__.py needs a docstring saying what lives there"
    assert "May import:" in docstring, f"{package.name}/__init__.py must say what it may import"


@pytest.mark.parametrize("package", [PACKAGE, *subpackages()], ids=lambda path: path.name)
def test_no_package_init_imports_its_modules(package: Path):
    """A re-export in an __init__ would make every handler pay for every sibling's imports."""
    tree = ast.parse((package / "__init__.py").read_text())
    statements = [
        node
        for node in tree.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    assert statements == [], f"{package.name}/__init__.py should hold only its docstring"


def test_no_module_is_long_without_a_reason_at_its_top():
    long_ones = []
    for path in python_files(PACKAGE):
        lines = len(path.read_text().splitlines())
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        if lines > LONG_MODULE_LINES and LONG_MODULE_REASON not in docstring:
            long_ones.append(f"{path.relative_to(PACKAGE)} ({lines} lines)")
    assert long_ones == [], f"over {LONG_MODULE_LINES} lines without '{LONG_MODULE_REASON}' in the docstring"


def lint_imports(package_root: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(executable), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(package_root)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("live/transitions.py", "from reels_live.store import live as _planted\n", "Pure rules"),
        ("store/keys.py", "from reels_live.streams import lifecycle as _planted\n", "Layers:"),
        (
            "streams/lifecycle.py",
            "from reels_live.api import resolver as _planted\n",
            "Concerns never import",
        ),
        ("social/follows.py", "import boto3 as _planted\n", "Only store and integrations"),
    ],
)
def test_the_import_contracts_catch_a_forbidden_import(
    tmp_path: Path, module: str, planted: str, contract: str
):
    copy = tmp_path / "reels_live"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + "\n" + planted)
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout


def test_the_package_as_it_is_keeps_every_contract():
    result = lint_imports(PACKAGE.parent)
    assert result.returncode == 0, result.stdout + result.stderr
