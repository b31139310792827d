"""Run benchmarks and write their results to bench/results/<name>.json.

    python bench/run.py            # all
    python bench/run.py kit        # some

Not part of the test suite: benchmarks measure, they do not pass or fail. Targets and the latest
numbers are written down in bench/README.md.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: name -> "module:async function returning a dict"
BENCHMARKS = {
    "kit": "kit_bench:main",
    "import": "workflow_bench:run_import",
    "optin_po": "workflow_bench:run_optin_po",
    "optin_sweep": "workflow_bench:run_optin_sweep",
    "pdf": "pdf_bench:main",
    "api": "api_bench:main",
}


def cpu_reference_us() -> float:
    """A fixed pure-Python workload (best of 5), to tell a slower day of the machine from a slower
    commit: results are comparable only at similar values."""
    import timeit

    best = min(timeit.repeat("sorted(x, key=lambda v: -v)", setup="x = list(range(1000))", number=2000, repeat=5))
    return round(best / 2000 * 1e6, 1)


def machine() -> dict[str, object]:
    return {
        "cpu_reference_us": cpu_reference_us(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    (HERE / "results").mkdir(exist_ok=True)
    for name in names:
        module_name, function = BENCHMARKS[name].split(":")
        module = importlib.import_module(module_name)
        print(f"running {name} ...", file=sys.stderr)
        # the event loop the services run on (ten99kit settings: event_loop)
        result = {"benchmark": name, "machine": machine(), "results": uvloop.run(getattr(module, function)())}
        (HERE / "results" / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["results"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
