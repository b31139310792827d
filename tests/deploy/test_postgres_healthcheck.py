"""docker-compose.yml's PostgreSQL healthcheck against a real PostgreSQL in the two states the
image's entrypoint goes through: while the init script creates the databases, a temporary server
listens on the Unix socket only (``listen_addresses=''``), and the check must say "not yet"; then
the real server listens on TCP, and the check must pass. The former check (``pg_isready`` over
the socket) passes in both, so the migrators started against a half-made server.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ten99_testing.ports import free_port

from tests.deploy.support import ROOT

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
pytestmark = pytest.mark.skipif(
    (PG_BIN is None or os.geteuid() != 0) and not os.environ.get("CI"), reason="needs PostgreSQL's binaries and root (runuser)"
)


def _as_postgres(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def cluster() -> Iterator[tuple[Path, Path]]:
    """A fresh, stopped cluster: (data directory, socket directory), in a folder the postgres user
    can reach (pytest's own temporary folders are root's only)."""
    assert PG_BIN is not None
    base = Path(tempfile.mkdtemp(prefix="ten99-pg-healthcheck-"))
    data, sockets = base / "data", base / "run"
    sockets.mkdir()
    shutil.chown(base, "postgres")
    shutil.chown(sockets, "postgres")
    out = _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    assert out.returncode == 0, out.stderr
    try:
        yield data, sockets
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _start(data: Path, sockets: Path, port: int, listen: str) -> None:
    assert PG_BIN is not None
    options = f"-c listen_addresses='{listen}' -p {port} -k {sockets}"
    out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-o", options, "-l", str(data / "log"), "start")
    assert out.returncode == 0, out.stderr + (data / "log").read_text()


def _stop(data: Path) -> None:
    assert PG_BIN is not None
    out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "stop")
    assert out.returncode == 0, out.stderr


def _healthcheck(port: int) -> list[str]:
    """compose's healthcheck command, on this test's port."""
    test = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["postgres"]["healthcheck"]["test"]
    assert test[0] == "CMD", "an exec-form healthcheck (no shell)"
    command = test[1:]
    assert command[command.index("-p") + 1] == "5432"
    command[command.index("-p") + 1] = str(port)
    return [str(PG_BIN / command[0]) if PG_BIN else command[0], *command[1:]]


def test_the_healthcheck_waits_for_the_real_server(cluster: tuple[Path, Path]) -> None:
    data, sockets = cluster
    assert PG_BIN is not None
    port = free_port()
    check = _healthcheck(port)
    socket_only = [str(PG_BIN / "pg_isready"), "-h", str(sockets), "-p", str(port), "-U", "postgres", "-d", "postgres"]
    # the entrypoint's temporary server, running the init script: socket only
    _start(data, sockets, port, listen="")
    assert subprocess.run(socket_only, capture_output=True, timeout=30).returncode == 0  # what the old check saw
    assert subprocess.run(check, capture_output=True, timeout=30).returncode != 0, shlex.join(check)
    _stop(data)
    # the real server
    _start(data, sockets, port, listen="127.0.0.1")
    out = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
