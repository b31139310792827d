"""Migrations as part of a rollout, each command of docs/operations/upgrade-and-rollback.md run here
on PostgreSQL:

- every service: ``migrate --check`` (1 before, 0 at head), ``migrate``, ``migrate --downgrade -1``
  (its latest migration rolls back), ``migrate`` again, and the schema then matches the models;
- migrators started together queue on the service's advisory lock and all succeed;
- ``migrate --wait`` returns once another process migrated, and fails after its timeout.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from ten99_testing.system import SERVICES
from ten99_testing.waiting import wait_until
from ten99kit.cli import main
from ten99kit.migrations import check, downgrade, head_revisions, lock_key, schema_drift, upgrade
from ten99kit.runtime import ServiceDefinition

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _definition(service: str) -> ServiceDefinition:
    module = __import__(f"{service}.bootstrap", fromlist=["definition"])
    return module.definition  # type: ignore[no-any-return]


async def _migrate_in_process(
    definition: ServiceDefinition, url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """``python -m <service> migrate <args>``, run by its own code in this process: exit code and stderr."""
    monkeypatch.setenv(f"{definition.name.upper()}_DB__URL", url)
    code = await asyncio.to_thread(main, definition, ["migrate", *args])
    return code, capsys.readouterr().err


def _command(service: str, url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", service, "migrate", *args]


def _env(service: str, url: str) -> dict[str, str]:
    return {**os.environ, f"{service.upper()}_DB__URL": url}


def _run(service: str, url: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(service, url, *args),
        env=_env(service, url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _start(service: str, url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(service, url, *args),
        env=_env(service, url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _pg(url: str) -> asyncpg.Connection:
    u = make_url(url)
    return await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_upgrades_rolls_back_one_step_and_upgrades_again(
    service: str, database_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    definition = _definition(service)
    url = await database_factory(service[:5])
    head = ", ".join(sorted(head_revisions(definition.migrations)))

    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--check")
    assert code == 1 and f"schema not migrated (no alembic_version table); head is {head}" in err, err
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys)
    assert code == 0 and "database at head" in err, err
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--check")
    assert code == 0 and f"schema at head {head}" in err, err

    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--downgrade", "-1")
    assert code == 0, err
    state = await asyncio.to_thread(check, definition.migrations, url)
    assert not state.at_head and state.current != state.heads
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--check")
    assert code == 1 and f"head is {head}" in err, err

    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys)
    assert code == 0, err
    assert (await asyncio.to_thread(check, definition.migrations, url)).at_head
    # what the round trip left is what the models describe
    assert await schema_drift(url, definition.metadata) == []


async def test_migrators_started_together_queue_on_the_lock(database_factory: Any) -> None:
    definition = _definition("contractor")
    url = await database_factory("lock")
    key = lock_key(definition.migrations)
    holder = await _pg(url)
    await holder.execute("SELECT pg_advisory_lock($1)", key)  # as a migrator that is still running
    watcher = await _pg(url)
    migrators = [_start("contractor", url) for _ in range(3)]
    try:

        async def waiting() -> int:
            return int(
                await watcher.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid::bigint = $1 AND NOT granted", key
                )
            )

        # all three wait for the lock; none has touched the schema
        await wait_until(waiting, satisfies=lambda n: n == 3, timeout=120, what="three migrators waiting on the lock")
        assert not await watcher.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        await holder.execute("SELECT pg_advisory_unlock($1)", key)
        for m in migrators:
            _, err = await asyncio.to_thread(m.communicate, timeout=120)
            assert m.returncode == 0, err
        assert (await asyncio.to_thread(check, definition.migrations, url)).at_head
    finally:
        for m in migrators:
            if m.poll() is None:
                m.kill()
                m.wait()
        await holder.close()
        await watcher.close()


async def test_migrate_wait_returns_once_another_process_migrated(database_factory: Any) -> None:
    url = await database_factory("wait")
    timed_out = await asyncio.to_thread(_run, "contractor", url, "--wait", "--timeout", "1")
    assert timed_out.returncode == 1
    assert "not at head after 1 s: schema not migrated" in timed_out.stderr, timed_out.stderr

    waiter = _start("contractor", url, "--wait", "--timeout", "120")
    try:
        assert waiter.poll() is None
        migrated = await asyncio.to_thread(_run, "contractor", url)
        assert migrated.returncode == 0, migrated.stderr
        _, err = await asyncio.to_thread(waiter.communicate, timeout=120)
        assert waiter.returncode == 0, err
        assert "schema at head" in err
        checked = await asyncio.to_thread(_run, "contractor", url, "--check")
        assert checked.returncode == 0 and "schema at head" in checked.stderr, checked.stderr
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


async def test_sqlite_migrates_without_a_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    definition = _definition("contractor")
    url = f"sqlite+aiosqlite:///{tmp_path / 'contractor.db'}"
    assert (await _migrate_in_process(definition, url, monkeypatch, capsys))[0] == 0
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--check")
    assert code == 0 and "schema at head" in err, err


async def test_a_release_leaves_a_schema_migrated_by_a_later_release_alone(
    database_factory: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A code rollback: the older release's migrator (an initContainer) starts against a schema a
    later release migrated, does nothing, and its pods may serve (expand/contract)."""
    definition = _definition("contractor")
    url = await database_factory("ahead")
    assert (await _migrate_in_process(definition, url, monkeypatch, capsys))[0] == 0
    conn = await _pg(url)
    try:
        await conn.execute("UPDATE alembic_version SET version_num = 'f00dfeed0001'")
    finally:
        await conn.close()
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys)
    assert code == 0 and "newer than this release's head" in err and "nothing to do" in err, err
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--check")
    assert code == 0 and "schema at f00dfeed0001, newer than this release's head" in err, err
    code, err = await _migrate_in_process(definition, url, monkeypatch, capsys, "--wait", "--timeout", "5")
    assert code == 0, err


RUNBOOK = ROOT / "docs" / "operations" / "upgrade-and-rollback.md"
BLOCK = re.compile(r"^[ \t]*```sh upgrade=(?P<id>[\w.-]+)\n(?P<body>.*?)^[ \t]*```", re.S | re.M)


def _runbook_block(block_id: str, env: dict[str, str], *, expect: int) -> str:
    """Run one ``upgrade=<id>`` block of the runbook, as written, with bash; its stderr."""
    blocks = {m["id"]: textwrap.dedent(m["body"]) for m in BLOCK.finditer(RUNBOOK.read_text())}
    venv_bin = str(Path(sys.executable).parent)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks[block_id]],
        env={**os.environ, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}", "EXEC": "", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == expect, f"{block_id} exited {out.returncode}:\n{blocks[block_id]}\n{out.stdout}\n{out.stderr}"
    return out.stderr


def test_every_upgrade_runbook_block_is_run_here() -> None:
    assert {m["id"] for m in BLOCK.finditer(RUNBOOK.read_text())} == {"record", "migrate", "check", "wait", "downgrade"}


async def test_the_upgrade_runbook_as_written(database_factory: Any) -> None:
    """The previous release's schema (head minus one), upgraded and rolled back with the
    runbook's commands."""
    definition = _definition("contractor")
    url = await database_factory("runbook")
    await asyncio.to_thread(upgrade, definition.migrations, url, "head")
    await asyncio.to_thread(downgrade, definition.migrations, url, "-1")
    previous = next(iter((await asyncio.to_thread(check, definition.migrations, url)).current))
    env = {"SVC": "contractor", "CONTRACTOR_DB__URL": url}

    # with this (new) release's scripts the recorded schema is behind: 1, naming the revision
    assert f"schema at {previous}, head is" in _runbook_block("record", env, expect=1)
    _runbook_block("migrate", env, expect=0)
    assert "schema at head" in _runbook_block("check", env, expect=0)
    assert "schema at head" in _runbook_block("wait", env, expect=0)
    _runbook_block("downgrade", {**env, "REVISION": previous}, expect=0)
    assert (await asyncio.to_thread(check, definition.migrations, url)).current == {previous}
