"""Probes that mean what they say, on real service processes (``python -m contractor <mode>``)
against PostgreSQL and NATS:

- a database not migrated: ``/readyz`` 503 naming the schema; migrated (``migrate``): 200;
- NATS gone: an ``api`` process stays ready (its writes wait in the outbox), a ``worker`` does not,
  and is ready again once NATS is back;
- a process started while NATS is down serves ``/livez`` and ``/readyz`` (saying why), exits
  promptly on SIGTERM, and becomes ready once NATS comes up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ten99_testing.nats_server import NatsServerProcess
from ten99_testing.ports import free_port
from ten99_testing.service import INTERNAL_TOKEN, OPERATOR_TOKEN
from ten99_testing.system import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: generous: a loaded machine starts a Python process slowly; the wait ends as soon as it is met
STARTUP_S = 60.0


def _process(name: str, mode: str, database_url: str, nats_url: str, workdir: Path, *args: str) -> ServiceProcess:
    p = name.upper()
    port = free_port()
    env = {
        **os.environ,
        f"{p}_DB__URL": database_url,
        f"{p}_NATS__URL": nats_url,
        f"{p}_HTTP__PORT": str(port),
        f"{p}_INTERNAL_TOKEN": INTERNAL_TOKEN,
        f"{p}_OPERATOR_TOKEN": OPERATOR_TOKEN,
        f"{p}_DEVELOPMENT": "true",
        f"{p}_DATA_DIR": str(workdir / "data"),
    }
    return ServiceProcess(name, port, env, workdir / f"{name}-{mode}.log", ROOT, mode=mode, args=args)


def _probe(process: ServiceProcess, path: str) -> httpx.Response | None:
    """The answer of a probe, or None while the process does not listen yet."""
    if process.proc is None or process.proc.poll() is not None:
        raise AssertionError(f"{process.name} exited; log:\n{process.tail()}")
    try:
        return httpx.get(f"{process.url}{path}", timeout=2.0)
    except httpx.TransportError:
        return None


def _readiness(process: ServiceProcess, status: int) -> dict[str, Any]:
    """Wait until ``/readyz`` answers with ``status``; its body."""

    def answered() -> httpx.Response | None:
        r = _probe(process, "/readyz")
        return r if r is not None and r.status_code == status else None

    r = wait_until(answered, timeout=STARTUP_S, what=f"{process.name} {process.mode} /readyz {status}")
    return dict(r.json())


@pytest.fixture
def processes() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for p in started:
        p.stop()


def _start(processes: list[ServiceProcess], process: ServiceProcess) -> ServiceProcess:
    processes.append(process)
    process.start()
    return process


def _migrate(name: str, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, f"{name.upper()}_DB__URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", name, "migrate", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_unmigrated_database_is_not_ready_until_migrated(
    database_factory: Any, jetstream_url: str, tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    db = await database_factory("probe")
    api = _start(processes, _process("contractor", "api", db, jetstream_url, tmp_path, "--no-migrate"))
    body = _readiness(api, 503)
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["schema"].startswith("failing: schema not migrated (no alembic_version table); head is ")
    assert body["mode"] == "api"

    done = _migrate("contractor", db)
    assert done.returncode == 0, done.stderr
    body = _readiness(api, 200)
    assert body["checks"] == {"database": "ok", "schema": "ok"}


async def test_without_nats_an_api_process_stays_ready_and_a_worker_does_not(
    database_factory: Any, tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    nats = NatsServerProcess(tmp_path / "nats").start()
    try:
        db = await database_factory("probe")
        assert _migrate("contractor", db).returncode == 0
        api = _start(processes, _process("contractor", "api", db, nats.url, tmp_path, "--no-migrate"))
        worker = _start(processes, _process("contractor", "worker", db, nats.url, tmp_path, "--no-migrate"))
        _readiness(api, 200)
        _readiness(worker, 200)

        nats.stop()
        body = _readiness(worker, 503)
        assert body["checks"]["nats"] == "failing: not connected to NATS"
        assert body["checks"]["database"] == "ok" and body["checks"]["schema"] == "ok"
        body = _readiness(api, 200)  # at the same time, the api process still takes requests
        assert body["not_required"] == {"nats": "failing: not connected to NATS"}
        r = httpx.get(
            f"{api.url}/v1/contractors",
            headers={"x-ten99-internal-token": INTERNAL_TOKEN, "x-tenant-id": "co_probe"},
            timeout=10,
        )
        assert r.status_code == 200, r.text

        nats.start()
        _readiness(worker, 200)
    finally:
        nats.stop()


@pytest.mark.parametrize("mode", ["api", "worker", "all"])
async def test_a_process_started_while_nats_is_down_serves_probes_and_stops_on_sigterm(
    database_factory: Any, tmp_path: Path, processes: list[ServiceProcess], mode: str
) -> None:
    closed = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    db = await database_factory("probe")
    process = _start(processes, _process("contractor", mode, db, closed, tmp_path))  # migrates itself first

    live = wait_until(lambda: _probe(process, "/livez"), timeout=STARTUP_S, what="/livez answers")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    body = _readiness(process, 200 if mode == "api" else 503)
    nats = body["checks"].get("nats") or body["not_required"]["nats"]
    assert nats == "failing: not connected to NATS"

    assert process.proc is not None
    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(timeout=30) == 0, process.tail()
    assert '"service.stopped"' in process.tail() or "service.stopped" in process.tail()


async def test_a_worker_started_before_nats_becomes_ready_when_nats_comes(
    database_factory: Any, tmp_path: Path, processes: list[ServiceProcess]
) -> None:
    nats = NatsServerProcess(tmp_path / "nats")  # its port is chosen, nothing listens yet
    db = await database_factory("probe")
    worker = _start(processes, _process("contractor", "worker", db, nats.url, tmp_path))
    try:
        body = _readiness(worker, 503)
        assert body["checks"]["nats"] == "failing: not connected to NATS"
        nats.start()
        body = _readiness(worker, 200)
        assert body["checks"] == {"database": "ok", "schema": "ok", "nats": "ok"}
    finally:
        worker.stop()
        nats.stop()
