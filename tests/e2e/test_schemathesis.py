"""A bounded schemathesis run against the local stack, authorised with a local token: no 5xx, and every
answer (status, content type, body) as the OpenAPI document at /openapi.json declares it.

Bounded so `make test` stays quick on two cores: a fixed seed, at most 10 examples per operation in the
fuzzing phase and the coverage phase's boundary and negative cases (no --max-time: with it, fuzzing
repeats until the budget is spent). For a wider hunt against a
running `make run`: `.venv/bin/schemathesis run http://127.0.0.1:3000/openapi.json -H "Authorization: Bearer
$(make -s token)"`.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import LocalStack

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",
]


def test_the_api_answers_as_its_openapi_document_says(local_stack: LocalStack, tmp_path: Path) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [
            str(schemathesis),
            "run",
            f"{local_stack.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {local_stack.token('schemathesis')}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--seed",
            "20261125",
            "--workers",
            "2",
            "--request-timeout",
            "35",
            "--no-shrink",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
