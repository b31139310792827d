"""A three-iteration smoke of the chaos harness (``make chaos`` runs fifty, bench/chaos.py).

The whole system (eighteen processes: each service's api, worker and relay) on a private PostgreSQL
cluster and a private nats-server, driven by the seed workflow and the public API while faults hit
it: the first fault of iteration 1 SIGKILLs the nats-server, of iteration 2 crash-stops PostgreSQL
(``pg_ctl -m immediate``; on a machine without ``initdb`` the harness uses ``TEST_DATABASE_URL``
and restarts only processes), the others SIGKILL a random process. After each iteration the harness
waits for quiescence and checks that nothing accepted was lost or done twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]


def test_three_iterations_of_chaos_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "chaos.py"),
        *("--iterations", "3", "--seed", "7", "--duration", "8", "--faults", "2", "--out", str(out)),
    ]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=560, check=False)
    log = run.stdout[-6000:] + run.stderr[-3000:]
    assert out.exists(), log
    result = json.loads(out.read_text())
    assert result["iterations_run"] == 3, log
    totals = result["totals"]
    assert (totals["lost"], totals["duplicated"], totals["dead_letters"], totals["unsent"], totals["stuck"]) == (0, 0, 0, 0, 0), (
        result["problems"],
        log,
    )
    assert totals["other"] == 0, (result["problems"], result["unexpected_exits"], log)
    assert run.returncode == 0, log
    # the faults covered the infrastructure as well as the services, and the workload got through
    targets = set(result["faults_by_target"])
    assert "nats-server" in targets, targets
    assert totals["accepted_writes"] > 0 and totals["opt_ins"] > 0, totals
