import sys
from pathlib import Path

# The independent MPFR oracle lives beside the tests.
sys.path.insert(0, str(Path(__file__).parent))
