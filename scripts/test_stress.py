"""``make test-stress``: the whole suite N times (``STRESS_RUNS``, default 3) while a CPU hog holds
one of the machine's cores, to show that the tests wait on conditions and not on time. Prints a
line per run and a summary; exits non-zero if any run failed.

    make test-stress STRESS_RUNS=5
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOG = "while True: pass"


def main() -> int:
    runs = int(os.environ.get("STRESS_RUNS", "3"))
    pytest_args = os.environ.get("PYTEST_ARGS", "-q -p no:cacheprovider").split()
    hog = subprocess.Popen([sys.executable, "-c", HOG])
    results: list[tuple[int, int, float]] = []
    try:
        for n in range(1, runs + 1):
            started = time.monotonic()
            rc = subprocess.call(
                [sys.executable, "scripts/test_env.py", "--", sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT
            )
            results.append((n, rc, time.monotonic() - started))
            print(
                f"test-stress: run {n} of {runs}: {'passed' if rc == 0 else f'FAILED (exit {rc})'} in {results[-1][2]:.0f} s",
                flush=True,
            )
    finally:
        hog.kill()
        hog.wait()
    failed = [n for n, rc, _ in results if rc != 0]
    print(
        f"test-stress: {runs - len(failed)} of {runs} runs passed with a CPU hog on one core"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
