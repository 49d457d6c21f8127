"""The programs the adapters run (`Adapter.programs`: tinygrad's clang-19), and whether
they are on PATH; `--install` installs the missing ones with apt-get where this is Debian
and the user is root (as the report's test installs Chromium), and otherwise says which
are missing: their implementations are then listed as unavailable, with the reason.

    python -m tools.programs [--install]

Exit status 0 either way: a missing program skips implementations, it does not stop setup.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from conformance.frameworks import adapters


def wanted() -> dict[str, str]:
    """{program: how to install it} over every adapter, in the registry's order."""
    return {k: v for a in adapters() for k, v in a.programs.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.programs")
    parser.add_argument("--install", action="store_true", help="apt-get install the missing")
    args = parser.parse_args(argv)
    for program, install in wanted().items():
        if shutil.which(program):
            print(f"{program}: {shutil.which(program)}")
            continue
        can = args.install and os.geteuid() == 0 and shutil.which("apt-get")
        if can:
            done = subprocess.run(
                ["apt-get", "install", "-y", "-qq", program], capture_output=True, text=True
            )
            if done.returncode == 0 and shutil.which(program):
                print(f"{program}: installed with apt-get")
                continue
        print(f"{program}: missing ({install}); its implementations will be skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
