"""asv benchmarks. The suite runs from its checkout (it is not installed), so the checkout
is put on the import path here, for `asv run` with the project's existing environment."""

import sys
from pathlib import Path

_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.insert(0, _CHECKOUT)
