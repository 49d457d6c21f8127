import sys
from pathlib import Path

# The independent MPFR oracle lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    """A marker per framework (`pytest tests -m torch`), as the gate's conftest has them."""
    from conformance.registry import FRAMEWORKS

    for framework in FRAMEWORKS:
        config.addinivalue_line("markers", f"{framework}: tests that need {framework}")
