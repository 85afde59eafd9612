"""`make bench`: figures that are measured, not hoped (calls per operation, cold imports, fan-out).

Benchmarks drive the real handlers in-process like the tests do: the domain package from the source tree,
dummy AWS credentials (moto), and the Powertools settings template.yaml gives every function.
"""

import logging
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (str(_ROOT / "layers" / "common"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        # The tables are the output: no EMF lines between them.
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
# Handlers run with their template's log level (INFO); their lines would bury the tables.
logging.disable(logging.INFO)

from tests.support import stack  # noqa: E402 (needs the paths above)

os.environ.update(stack.powertools_settings({"LiveKitUrl": "ws://127.0.0.1:9"}))
