import sys
from pathlib import Path

# The independent MPFR oracle lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    """A marker per framework (`pytest tests -m torch`), as the gate's conftest has them."""
    from conformance.registry import FRAMEWORKS

    for framework in FRAMEWORKS:
        config.addinivalue_line("markers", f"{framework}: tests that need {framework}")


CHECKOUT = Path(__file__).parent.parent
#: The smallest environment of the matrix: numpy 1.26 and ml_dtypes, beside the suite's
#: numpy 2 (conformance/data/environments.toml). Built by uv from its lock on first use.
SMALL_ENV = "numpy-1.26"


def _build_small_env() -> Path:
    import subprocess

    from conformance.environments import catalog

    environment = catalog.get(SMALL_ENV)
    if not environment.built():
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "env", "build", SMALL_ENV],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
    return environment.python


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def old_numpy_python() -> Path:
    """The interpreter of the environment numpy-1.26 (built by uv from its committed lock:
    a network or a uv failure fails the tests that need it)."""
    return _build_small_env()
