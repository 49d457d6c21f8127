"""`python -m conformance ...` as the tests call it: a subprocess from the checkout."""

import json
import os
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).parent.parent


def conformance(*args, cwd=CHECKOUT, env=None, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(CHECKOUT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_record(path: Path) -> dict:
    """The one measurement of a results file."""
    (record,) = json.loads(path.read_text())["measurements"]
    return record
