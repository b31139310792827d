"""The chaos harness: the whole system under a steady workload while processes die.

``python bench/chaos.py --iterations 50 --seed 1`` (``make chaos``) runs every service as three
processes (``api``, ``worker`` and ``relay``: eighteen in all) on a private PostgreSQL cluster and
a private nats-server, with mail caught by an SMTP sink. Each iteration:

1. drives the seed workflow and the public API at a steady rate for ``--duration`` seconds: CSV
   imports of a few rows (the contractor service's upload), opt-ins through the links in the
   invitation emails (the public form, through the gateway), PO numbers set on imported
   campaigns (the bulk action), and public API writes through the gateway (an entity, a job, a
   contractor and an assignment, each a POST with an API key and an ``Idempotency-Key``). A client
   that gets no answer, a 5xx or "in progress" retries with the same request and key; every write
   that got a 2xx is *accepted* and written down;
2. meanwhile, at ``--faults`` random moments, SIGKILLs a random process (any service's api, worker
   or relay, or the nats-server) or crash-stops PostgreSQL (``pg_ctl -m immediate``), and starts it
   again after a short random downtime. Faults may overlap (a process killed while PostgreSQL is
   down; ``--sequential`` makes each wait for the previous one to recover); the nats-server and
   PostgreSQL are three times as likely as one service process; the first fault of iterations 1
   and 2 hits the nats-server and PostgreSQL, so that even a short run covers both. Some imports
   are big enough (30-80 rows, 20 per chunk) that a worker dies in the middle of one;
3. waits for quiescence: every process up and ready, every JetStream consumer caught up, every
   outbox drained, no import pending, no email queued or being sent, nothing flagged for billing;
4. checks the invariants on the databases (read-only SQL) and the SMTP sink, over everything
   accepted so far:
   - every accepted write is present: each imported row's contractor with exactly one assignment,
     each public API write (by its id, and exactly once by its unique name), each PO set, each
     opt-in (a completed application);
   - every assignment of an opted-in contractor has exactly one coverage, one certificate, one
     certificate email (by Message-ID), and one invoice line if it has a PO (none without);
   - every contractor with an assignment got exactly one invitation, emailed exactly once (by
     Message-ID); every invoice emailed exactly once; every delivery recorded as sent reached the
     SMTP server; the contractor service's read model (the Contractors page) heard of every
     invitation, opt-in and coverage;
   - no dead letters; no outbox row unsent.

It prints a row per iteration and writes ``bench/results/chaos.json`` (``--out``). Exit status 0
when nothing was lost or duplicated and nothing got stuck.

``--pg external`` uses the PostgreSQL at ``TEST_DATABASE_URL`` (default 127.0.0.1:5432) instead of
a private cluster, and never restarts it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.parser
import email.policy
import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ten99_testing.nats_server import NatsServerProcess  # noqa: E402
from ten99_testing.ports import free_port  # noqa: E402
from ten99_testing.smtp import SmtpSink  # noqa: E402
from ten99_testing.system import SERVICES, ServiceProcess, System  # noqa: E402
from ten99_testing.waiting import quiescent_processes  # noqa: E402

from tests.conftest import create_company  # noqa: E402
from tests.e2e.flow import Row, csv_bytes, form_values, page_state  # noqa: E402

MODES = ("api", "worker", "relay")
NATS = "nats-server"
POSTGRES = "postgresql"
#: how much likelier a fault hits the nats-server or PostgreSQL than one service process
INFRA_WEIGHT = 3
STATES = ["CA", "NY", "TX", "FL", "IL", "GA", "NC", "NJ", "PA", "AZ"]
TITLES = ["Content creator", "Photographer", "Videographer", "Model", "Brand ambassador", "Event staff"]
CLIENTS = ["Nike", "Adidas", "Puma", "Reebok", "Asics"]
API_CATEGORIES = ["jc_photographer", "jc_model", "jc_creator", "jc_videographer"]
ADDRESS = {"line1": "2211 Mission St", "locality": "San Francisco", "region": "CA", "postalcode": "94110"}
LINK = re.compile(r"https?://[^\s\"'<>]+/opt-in/[A-Za-z0-9_\-]+")

#: settings that make recovery take seconds instead of minutes (the defaults are for production:
#: a 60 s import lease, a 60 s email lease, 30 s of email backoff, a 30 s JetStream ack wait), and
#: imports applied in chunks of 20 rows (1,000 by default) so that a big one spans several commits
FAST_RECOVERY = {
    "CONTRACTOR_IMPORTS__LEASE_S": "10",
    "CONTRACTOR_IMPORTS__CHUNK_ROWS": "20",
    "NOTIFICATION_DELIVERY__LEASE_S": "5",
    "NOTIFICATION_DELIVERY__BACKOFF_BASE_S": "0.5",
    **{f"{s.upper()}_NATS__ACK_WAIT_S": "10" for s in SERVICES},
}


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {msg}", flush=True)


# ------------------------------------------------------------------------------------------------
# PostgreSQL of our own, that we may crash


def _pg_bindir() -> Path | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, on a port of its own (trust auth, fsync off:
    only processes crash here, never the machine, so what a process wrote survives anyway)."""

    def __init__(self) -> None:
        bindir = _pg_bindir()
        if bindir is None:
            raise RuntimeError("no initdb/pg_ctl found: use --pg external")
        self.bindir = bindir
        # a directory of its own under the system temp dir: PostgreSQL runs as `postgres` and must reach it
        self.root = Path(tempfile.mkdtemp(prefix="ten99-chaos-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.logfile = self.root / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        self.running = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed ({out.returncode}): {out.stdout}\n{out.stderr}")
        return out

    def init(self) -> PrivatePostgres:
        self.sock.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            for p in (self.root, self.sock):
                shutil.chown(p, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c max_connections=500 -c fsync=off "
            "-c shared_buffers=128MB -c log_min_messages=warning"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60", "-o", options, "start")
        self.running = True

    def crash(self) -> None:
        """Stop as in a crash: every backend killed, recovery from the WAL at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def stop(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# ------------------------------------------------------------------------------------------------
# The system: eighteen service processes, NATS, PostgreSQL, the SMTP sink


@dataclass
class Fault:
    iteration: int
    at_s: float
    target: str
    down_s: float
    recovered_s: float = 0.0
    error: str = ""


class ChaosSystem:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="ten99-chaos-"))
        self.pg: PrivatePostgres | None = None
        self.nats = NatsServerProcess(self.workdir / "nats-store")
        self.smtp = SmtpSink()
        self.admin_url = ""
        self.db_names = {s: f"chaos_{s[:5]}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
        self.database_urls: dict[str, str] = {}
        self.system: System | None = None
        self.procs: dict[str, ServiceProcess] = {}
        #: targets deliberately down right now (the supervisor leaves them alone)
        self.down: set[str] = set()
        #: processes that exited without being killed: (name, exit code, log tail)
        self.unexpected_exits: list[dict[str, Any]] = []
        self.company: Any = None

    @property
    def targets(self) -> list[str]:
        return [*self.procs, NATS, *([POSTGRES] if self.pg is not None else [])]

    async def start(self) -> None:
        if self.args.pg == "private":
            self.pg = PrivatePostgres().init()
            self.pg.start()
            self.admin_url = self.pg.admin_url
            self.database_urls = {s: self.pg.url(n) for s, n in self.db_names.items()}
        else:
            from sqlalchemy.engine import make_url

            base = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
            u = make_url(base)
            self.admin_url = u.set(drivername="postgresql").render_as_string(hide_password=False)
            self.database_urls = {
                s: u.set(drivername="postgresql+asyncpg", database=n).render_as_string(hide_password=False)
                for s, n in self.db_names.items()
            }
        for n in self.db_names.values():
            await _admin(self.admin_url, f'CREATE DATABASE "{n}"')
        self.nats.start()
        self.smtp.start()
        level = self.args.log_level
        system = System(
            nats_url=self.nats.url,
            database_urls=self.database_urls,
            smtp_host=self.smtp.host,
            smtp_port=self.smtp.port,
            workdir=self.workdir / "system",
            cwd=ROOT,
            extra_env={**FAST_RECOVERY, **{f"{s.upper()}_LOG__LEVEL": level for s in SERVICES}},
        )
        self.system = system
        for name in SERVICES:
            api = system.services[name]
            api.mode, api.args = "api", ("--no-migrate",)
            api.log_path = system.workdir / f"{name}-api.log"
            self.procs[f"{name}-api"] = api
            for mode in ("worker", "relay"):
                port = free_port()
                env = {**api.env, f"{name.upper()}_HTTP__PORT": str(port)}
                self.procs[f"{name}-{mode}"] = ServiceProcess(
                    name, port, env, system.workdir / f"{name}-{mode}.log", ROOT, mode=mode, args=("--no-migrate",)
                )
        migrations = [
            asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", name, "migrate"],
                env=system.services[name].env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            for name in SERVICES
        ]
        for name, out in zip(SERVICES, await asyncio.gather(*migrations), strict=True):
            if out.returncode != 0:
                raise RuntimeError(f"{name} migrate failed: {out.stdout}{out.stderr}")
        self.company = await asyncio.to_thread(create_company, system, "Chaos Co", "owner@chaos.test", "chaos horse battery")
        for p in self.procs.values():
            p.start()
        for p in self.procs.values():
            await asyncio.to_thread(p.wait_ready, 120)

    def stop(self) -> None:
        for p in self.procs.values():  # no graceful shutdown: nothing is checked after this
            with contextlib.suppress(Exception):
                p.kill()
        with contextlib.suppress(Exception):
            self.smtp.stop()
        with contextlib.suppress(Exception):
            self.nats.stop()

    async def drop_databases(self) -> None:
        if self.pg is not None:
            return  # the cluster goes as a whole
        for n in self.db_names.values():
            with contextlib.suppress(Exception):
                await _admin(self.admin_url, f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)')

    def cleanup(self, keep: bool) -> None:
        if self.pg is not None:
            if keep:
                self.pg.stop()
                log(f"PostgreSQL data and log kept in {self.pg.root}")
            else:
                self.pg.cleanup()
        if keep:
            log(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- faults ----------------------------------------------------------------------------------

    def kill(self, target: str) -> None:
        self.down.add(target)
        if target == NATS:
            proc = self.nats.proc
            if proc is not None:
                proc.kill()
                proc.wait()
            self.nats.proc = None
        elif target == POSTGRES:
            assert self.pg is not None
            self.pg.crash()
        else:
            self.procs[target].kill()

    def revive(self, target: str) -> None:
        if target == NATS:
            self.nats.start()
        elif target == POSTGRES:
            assert self.pg is not None
            self.pg.start()
        else:
            p = self.procs[target]
            p.start()
            p.wait_ready(120)
        self.down.discard(target)

    def supervise(self) -> list[str]:
        """Start again any service process that exited while no fault was holding it down (as an
        orchestrator would); returns their names."""
        revived = []
        for name, p in self.procs.items():
            if name in self.down or p.proc is None or p.proc.poll() is None:
                continue
            code = p.proc.returncode
            self.unexpected_exits.append({"process": name, "exit_code": code, "log": p.tail(30)})
            log(f"!! {name} exited by itself (code {code}); starting it again")
            p.kill()
            p.start()
            revived.append(name)
        return revived

    def all_ready(self) -> list[str]:
        """The processes that do not answer /readyz with 200 (empty: all ready)."""
        bad = []
        for name, p in self.procs.items():
            try:
                r = httpx.get(f"{p.url}/readyz", timeout=2)
                if r.status_code != 200:
                    bad.append(f"{name}: {r.text[:200]}")
            except httpx.HTTPError as e:
                bad.append(f"{name}: {e!r}")
        return bad


# ------------------------------------------------------------------------------------------------
# The workload and what it got accepted


@dataclass
class ApiWrite:
    kind: str  # entity | job | contractor | assignment
    key: str
    marker: str  # the unique name (entity, job), email (contractor), "contractor|job" (assignment)
    id: str


@dataclass
class Ledger:
    #: email -> the row imported for that contractor (each row a contractor of its own)
    import_rows: dict[str, Row] = field(default_factory=dict)
    import_ids: list[str] = field(default_factory=list)
    #: campaign -> emails of its rows that were uploaded without a PO
    campaigns: dict[str, list[str]] = field(default_factory=dict)
    campaigns_done: set[str] = field(default_factory=set)
    api: list[ApiWrite] = field(default_factory=list)
    #: public API writes that never got an answer (their outcome is unknown)
    api_unanswered: list[ApiWrite] = field(default_factory=list)
    po_sets: dict[str, str] = field(default_factory=dict)  # assignment id -> PO number
    opted_in: set[str] = field(default_factory=set)  # contractor emails (lower case)
    links_taken: set[str] = field(default_factory=set)
    #: operations given up: no answer within --op-timeout, or refused with a 4xx
    failures: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


class GaveUp(Exception):
    pass


class Workload:
    def __init__(self, cs: ChaosSystem, ledger: Ledger, rng: random.Random, args: argparse.Namespace) -> None:
        assert cs.system is not None
        self.cs = cs
        self.ledger = ledger
        self.rng = rng
        self.args = args
        self.run_id = uuid.uuid4().hex[:6]
        self.seq = 0
        tenant = cs.company.company_id
        self.contractor = httpx.AsyncClient(
            base_url=cs.system.url("contractor"),
            headers={"x-ten99-internal-token": cs.system.internal_token, "x-tenant-id": tenant},
            timeout=20,
        )
        self.gateway = httpx.AsyncClient(
            base_url=cs.system.gateway_url, headers={"Authorization": f"Bearer {cs.company.api_key}"}, timeout=20
        )
        self.public = httpx.AsyncClient(timeout=20)
        self.tasks: set[asyncio.Task[None]] = set()
        #: invitation links seen in the SMTP sink -> contractor email (scanned incrementally)
        self._invitations: dict[str, str] = {}
        self._scanned = 0

    async def close(self) -> None:
        for c in (self.contractor, self.gateway, self.public):
            await c.aclose()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # -- the client's retry rule -----------------------------------------------------------------

    async def call(self, client: httpx.AsyncClient, method: str, url: str, what: str, **kw: Any) -> httpx.Response:
        """Send until answered: a transport error, a 5xx, a 429 or a 409 "in progress" is retried
        with the very same request (and idempotency key) after a growing pause."""
        deadline = time.monotonic() + self.args.op_timeout
        delay = 0.2
        last = ""
        while True:
            try:
                r = await client.request(method, url, **kw)
            except httpx.TransportError as e:
                last = repr(e)
                self.ledger.counts["retries"] += 1
            else:
                in_progress = r.status_code == 409 and "request_in_progress" in r.text
                if r.status_code < 500 and r.status_code != 429 and not in_progress:
                    return r
                last = f"{r.status_code} {r.text[:200]}"
                self.ledger.counts["retries"] += 1
            if time.monotonic() > deadline:
                raise GaveUp(f"{what}: no answer after {self.args.op_timeout:g} s (last: {last})")
            await asyncio.sleep(delay)
            delay = min(delay * 1.6, 2.0)

    # -- the operations --------------------------------------------------------------------------

    async def op_import(self) -> None:
        # a big one now and then: applied in chunks (CONTRACTOR_IMPORTS__CHUNK_ROWS), so that a worker
        # dies in the middle of one and its successor resumes after the last chunk committed
        n = self.rng.randint(30, 80) if self.rng.random() < self.args.big_import_share else self.rng.randint(2, 4)
        today = datetime.now(UTC).date()
        batch = self.next_seq()
        campaign = f"camp-{self.run_id}-{batch}"
        rows = []
        for _ in range(n):
            i = self.next_seq()
            start = today + timedelta(days=self.rng.randint(2, 6))
            with_po = self.rng.random() < 0.35
            rows.append(
                Row(
                    self.rng.choice(CLIENTS),
                    f"Chaos{i}",
                    "Tester",
                    f"c{i}.{self.run_id}@chaos.test",
                    self.rng.choice(STATES),
                    self.rng.choice(TITLES),
                    self.rng.choice(STATES),
                    str(500 + 25 * self.rng.randint(0, 40)),
                    "flatfee",
                    start,
                    start + timedelta(days=self.rng.randint(10, 40)),
                    po=f"PO-UP-{i}" if with_po else "",
                    po_contact="ap@client.test" if with_po else "",
                    campaign=campaign,
                )
            )
        body = csv_bytes(rows)
        r = await self.call(
            self.contractor,
            "POST",
            "/v1/imports",
            f"import {campaign}",
            files={"file": (f"{campaign}.csv", body, "text/csv")},
            data={"all_or_nothing": "false", "uploaded_by": "owner@chaos.test"},
        )
        if r.status_code != 202:
            raise GaveUp(f"import {campaign} refused: {r.status_code} {r.text[:300]}")
        self.ledger.import_ids.append(r.json()["id"])
        for row in rows:
            self.ledger.import_rows[row.email.lower()] = row
        self.ledger.campaigns[campaign] = [row.email.lower() for row in rows if not row.po]
        self.ledger.counts["imports"] += 1
        self.ledger.counts["import_rows"] += len(rows)

    async def op_po(self) -> None:
        open_campaigns = [c for c, emails in self.ledger.campaigns.items() if emails and c not in self.ledger.campaigns_done]
        if not open_campaigns:
            return
        campaign = self.rng.choice(open_campaigns)
        r = await self.call(
            self.contractor, "GET", "/v1/po/missing", f"missing POs of {campaign}", params={"campaign": campaign, "limit": 1000}
        )
        if r.status_code != 200:
            raise GaveUp(f"missing POs of {campaign}: {r.status_code} {r.text[:300]}")
        listed = r.json()["assignments"]
        wanted = set(self.ledger.campaigns[campaign])
        ids = [a["assignment_id"] for a in listed if a["email"].lower() in wanted]
        if len({a["email"].lower() for a in listed} & wanted) < len(wanted):
            return  # the import is not applied yet: later
        self.ledger.campaigns_done.add(campaign)
        po = f"PO-{campaign}"
        r = await self.call(
            self.contractor,
            "POST",
            "/v1/po/bulk-set",
            f"PO for {campaign}",
            json={"assignment_ids": ids, "po_number": po, "po_contact_email": "ap@client.test", "set_by": "chaos"},
        )
        if r.status_code != 200:
            self.ledger.campaigns_done.discard(campaign)
            raise GaveUp(f"PO for {campaign} refused: {r.status_code} {r.text[:300]}")
        for i in ids:
            self.ledger.po_sets[i] = po
        self.ledger.counts["po_sets"] += 1

    def _fresh_invitations(self) -> list[tuple[str, str]]:
        """(link, contractor email) of invitation emails not taken yet."""
        with self.cs.smtp.lock:
            raws = list(self.cs.smtp._raw)
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        for raw in raws[self._scanned :]:
            self._scanned += 1
            if str(parser.parsebytes(raw.split(b"\r\n\r\n", 1)[0]).get("X-Ten99-Template", "")) != "invitation":
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            part = msg.get_body(preferencelist=("plain",))
            found = LINK.search(part.get_content() if part is not None else "")  # type: ignore[union-attr]
            if not found:
                continue
            to = str(msg.get("To", "")).split("<")[-1].strip(">").strip().lower()
            self._invitations[found.group(0)] = to
        return [(link, to) for link, to in self._invitations.items() if link not in self.ledger.links_taken]

    async def op_opt_in(self) -> None:
        fresh = self._fresh_invitations()
        if not fresh:
            return
        link, to = self.rng.choice(fresh)
        self.ledger.links_taken.add(link)
        if self.rng.random() < self.args.ignore_share:
            self.ledger.counts["invitations_ignored"] += 1
            return
        for _ in range(20):
            page = await self.call(self.public, "GET", link, f"opt-in form of {to}")
            state = page_state(page.text)
            if state in ("answered", "done"):
                break
            if page.status_code != 200 or state is not None:
                raise GaveUp(f"opt-in form of {to}: {page.status_code} state={state}")
            values = form_values(page.text)
            form = {k: v for k, v in values.items() if not k.startswith("q_")}
            for q in set(re.findall(r'name="(q_[a-z0-9_]+)"', page.text)):
                form[q] = "no" if q in ("q_claims_last_3_years", "q_coverage_declined_last_3_years") else "yes"
            form["consent"] = "yes"
            form["signed_name"] = f"{values.get('first_name', '')} {values.get('last_name', '')}".strip()
            r = await self.call(self.public, "POST", link, f"opt-in of {to}", data=form, follow_redirects=True)
            state = page_state(r.text)
            if state in ("answered", "done"):
                break
            if state == "unavailable":
                continue
            raise GaveUp(f"opt-in of {to}: {r.status_code} state={state} {r.text[:300]}")
        else:
            raise GaveUp(f"opt-in of {to}: never answered")
        self.ledger.opted_in.add(to)
        self.ledger.counts["opt_ins"] += 1

    async def _api_post(self, kind: str, path: str, body: dict[str, Any], marker: str) -> str:
        key = f"chaos-{self.run_id}-{kind}-{self.next_seq()}"
        write = ApiWrite(kind, key, marker, "")
        try:
            r = await self.call(
                self.gateway, "POST", path, f"POST {path} ({marker})", json=body, headers={"Idempotency-Key": key}
            )
        except GaveUp:
            self.ledger.api_unanswered.append(write)
            raise
        if r.status_code != 200:
            raise GaveUp(f"POST {path} ({marker}) refused: {r.status_code} {r.text[:300]}")
        write.id = r.json()["id"]
        self.ledger.api.append(write)
        self.ledger.counts["api_writes"] += 1
        return write.id

    async def op_api(self) -> None:
        i = self.next_seq()
        today = datetime.now(UTC).date()
        entity = await self._api_post(
            "entity", "/api/v1/entities", {"name": f"Chaos Client {self.run_id} {i}"}, f"Chaos Client {self.run_id} {i}"
        )
        job_name = f"Chaos job {self.run_id} {i}"
        job = await self._api_post(
            "job",
            "/api/v1/jobs",
            {
                "entity": entity,
                "category_code": self.rng.choice(API_CATEGORIES),
                "name": job_name,
                "description": "Shoots the chaos lookbook",
                "wage": 100_000 + 5_000 * self.rng.randint(0, 20),
                "wage_type": "flatfee",
                "work_state": self.rng.choice(STATES),
            },
            job_name,
        )
        address = self.rng.choice(STATES)
        mail = f"api{i}.{self.run_id}@chaos.test"
        contractor = await self._api_post(
            "contractor",
            "/api/v1/contractors",
            {
                "first_name": f"Api{i}",
                "last_name": "Chaos",
                "email": mail,
                "phone": "+14155550100",
                "address": {**ADDRESS, "region": address},
            },
            mail,
        )
        start = today + timedelta(days=self.rng.randint(2, 6))
        body: dict[str, Any] = {
            "contractor": contractor,
            "job": job,
            "effective_date": start.isoformat(),
            "end_date": (start + timedelta(days=self.rng.randint(10, 40))).isoformat(),
        }
        if self.rng.random() < 0.5:
            body.update(po_number=f"PO-API-{i}", po_contact_email="ap@client.test")
        await self._api_post("assignment", "/api/v1/assignments", body, f"{contractor}|{job}")

    # -- running ---------------------------------------------------------------------------------

    async def _run_op(self, name: str, op: Any) -> None:
        try:
            await op()
        except GaveUp as e:
            self.ledger.failures.append(str(e))
            log(f"!! {e}")
        except Exception as e:
            self.ledger.failures.append(f"{name}: {e!r}")
            log(f"!! {name}: {e!r}\n{traceback.format_exc()}")

    async def drive(self, seconds: float) -> None:
        """Start operations at a steady rate for ``seconds`` (they finish in the background)."""
        ops = [
            ("import", self.op_import, 0.2),
            ("opt_in", self.op_opt_in, 0.5),
            ("po", self.op_po, 0.15),
            ("api", self.op_api, 0.15),
        ]
        end = time.monotonic() + seconds
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while time.monotonic() < end:
            name, op, _ = self.rng.choices(ops, weights=[w for *_, w in ops])[0]
            if len(self.tasks) < self.args.concurrency:
                t = asyncio.create_task(self._run_op(name, op))
                self.tasks.add(t)
                t.add_done_callback(self.tasks.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def settle(self) -> None:
        """Wait for the operations in flight (each retries until answered or --op-timeout)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)


# ------------------------------------------------------------------------------------------------
# Quiescence and the invariants


class Databases:
    """Read-only SQL on each service's database."""

    def __init__(self, urls: dict[str, str]) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        self.engines = {s: create_async_engine(u, poolclass=NullPool) for s, u in urls.items()}

    async def rows(self, service: str, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        async with self.engines[service].connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def scalar(self, service: str, sql: str, **params: Any) -> int:
        rows = await self.rows(service, sql, **params)
        return int(rows[0][0]) if rows else 0

    async def close(self) -> None:
        for e in self.engines.values():
            await e.dispose()


BUSY = {
    "contractor": ("imports pending or running", "SELECT count(*) FROM import_batches WHERE status IN ('pending', 'running')"),
    "notification": ("emails queued or being sent", "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending')"),
    "billing": ("assignments flagged for billing", "SELECT count(*) FROM assignments WHERE needs_billing"),
    "policy": ("certificates due", "SELECT count(*) FROM coverages WHERE certificate_due"),
}


async def busy_work(dbs: Databases) -> list[str]:
    out = []
    for service, (what, sql) in BUSY.items():
        n = await dbs.scalar(service, sql)
        if n:
            out.append(f"{service}: {n} {what}")
    return out


@dataclass
class Quiet:
    seconds: float
    #: why it is not quiet (empty once it is)
    stuck: str = ""
    #: what was still busy at the last look before it was quiet (for the slow ones)
    waited_for: str = ""


async def quiesce(cs: ChaosSystem, dbs: Databases, timeout: float) -> Quiet:
    """Wait until nothing more will happen without new input."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = ""
    while time.monotonic() < deadline:
        cs.supervise()
        not_ready = await asyncio.to_thread(cs.all_ready)
        if not_ready:
            last = "not ready: " + "; ".join(not_ready)
            await asyncio.sleep(0.5)
            continue
        try:
            # in slices of 5 s, so that what was still busy can be told
            await asyncio.to_thread(quiescent_processes, cs.nats.url, cs.database_urls.values(), timeout=5.0)
            busy = await busy_work(dbs)
            if busy:
                last = "; ".join(busy)
                await asyncio.sleep(0.5)
                continue
            # what the last work sent out (emails announced, invoices issued) is applied too
            await asyncio.to_thread(quiescent_processes, cs.nats.url, cs.database_urls.values(), timeout=30)
            if not await busy_work(dbs):
                return Quiet(time.monotonic() - t0, "", last)
        except AssertionError as e:  # WaitTimeout
            last = str(e)
        except Exception as e:
            last = repr(e)
            await asyncio.sleep(0.5)
    return Quiet(time.monotonic() - t0, last or "timed out", last)


@dataclass
class Problem:
    kind: str  # lost | duplicated | dead_letter | unsent | stuck | crashed | refused
    what: str

    @property
    def key(self) -> str:
        return f"{self.kind}: {self.what}"


def _smtp_index(sink: SmtpSink) -> dict[str, dict[str, set[str]]]:
    """delivery id -> {"message_ids": {...}, "template": {...}} of the mail the sink accepted."""
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"message_ids": set(), "template": set()})
    with sink.lock:
        raws = list(sink._raw)
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    for raw in raws:
        head = raw.split(b"\r\n\r\n", 1)[0]
        h = parser.parsebytes(head)
        delivery = str(h.get("X-Ten99-Delivery", ""))
        out[delivery]["message_ids"].add(str(h.get("Message-ID", "")).strip())
        out[delivery]["template"].add(str(h.get("X-Ten99-Template", "")))
    return out


async def check_invariants(cs: ChaosSystem, dbs: Databases, ledger: Ledger) -> tuple[list[Problem], dict[str, int]]:
    """Every invariant after one iteration: what was accepted is there once, and nothing else."""
    check = InvariantCheck(cs, dbs, ledger, cs.company.company_id)
    await check.contractor_writes()
    await check.enrollment()
    await check.emails()
    await check.coverage_and_billing()
    await check.dead_letters_and_outboxes()
    return check.problems, dict(check.stats)


class InvariantCheck:
    """The invariant checks of one iteration, one method a service's part; the state the later checks
    need (the contractors, the opted-in, the emails received) is kept on the instance."""

    def __init__(self, cs: ChaosSystem, dbs: Databases, ledger: Ledger, tenant: str) -> None:
        self.cs, self.dbs, self.ledger, self.tenant = cs, dbs, ledger, tenant
        self.problems: list[Problem] = []
        self.stats: Counter[str] = Counter()
        self.contractors: dict[str, str] = {}
        self.by_contractor: dict[str, list[Any]] = defaultdict(list)
        self.invitations: list[Any] = []
        self.invitations_of: dict[str, list[str]] = defaultdict(list)
        self.complete: set[str] = set()
        self.mail_of: dict[tuple[str, str], set[str]] = defaultdict(set)  # (template, related id) -> Message-IDs

    def lost(self, what: str) -> None:
        self.problems.append(Problem("lost", what))

    def dup(self, what: str) -> None:
        self.problems.append(Problem("duplicated", what))

    def count(self, what: str, n: int) -> None:
        """Exactly one expected: none is lost, more than one duplicated."""
        if n != 1:
            (self.lost if n == 0 else self.dup)(f"{what}: {n}")

    async def rows(self, service: str, sql: str) -> list[Any]:
        return await self.dbs.rows(service, sql, t=self.tenant)

    async def contractor_writes(self) -> None:
        """Imports, API writes and POs: each accepted write is there, once."""
        self.contractors = {
            key.lower(): cid
            for cid, key in await self.rows("contractor", "SELECT id, email_key FROM contractors WHERE tenant_id = :t")
        }
        assignments = await self.rows(
            "contractor",
            "SELECT id, contractor_id, job_id, po_number, status, deleted_at, coverage_bound_at FROM assignments "
            "WHERE tenant_id = :t",
        )
        for a in assignments:
            if a.deleted_at is None and a.status == "pending":
                self.by_contractor[a.contractor_id].append(a)
        self.assignment_ids = {a.id: a for a in assignments}
        await self._imports()
        await self._api_writes(assignments)
        for aid, po in self.ledger.po_sets.items():
            a = self.assignment_ids.get(aid)
            if a is None or a.po_number != po:
                self.lost(f"PO {po} on {aid} (has {a.po_number if a is not None else 'no assignment'})")
        self.stats["po_set"] = len(self.ledger.po_sets)

    async def _imports(self) -> None:
        sql = "SELECT id, status, error FROM import_batches WHERE tenant_id = :t"
        batches = {i: (s, e) for i, s, e in await self.rows("contractor", sql)}
        for import_id in self.ledger.import_ids:
            status, error = batches.get(import_id, ("missing", None))
            if status != "completed":
                self.lost(f"import {import_id} is {status} ({error})")
        for mail in self.ledger.import_rows:
            cid = self.contractors.get(mail)
            if cid is None:
                self.lost(f"imported contractor {mail}")
                continue
            n = len(self.by_contractor.get(cid, []))
            if n == 0:
                self.lost(f"assignment of imported contractor {mail}")
            elif n > 1:
                self.dup(f"assignment of imported contractor {mail} ({n} of them)")
        self.stats["import_rows"] = len(self.ledger.import_rows)

    async def _api_writes(self, assignments: list[Any]) -> None:
        entities = Counter(name for (name,) in await self.rows("contractor", "SELECT name FROM entities WHERE tenant_id = :t"))
        entity_ids = {i for (i,) in await self.rows("contractor", "SELECT id FROM entities WHERE tenant_id = :t")}
        jobs = await self.rows("contractor", "SELECT id, name FROM jobs WHERE tenant_id = :t")
        job_names = Counter(j.name for j in jobs)
        job_ids = {j.id for j in jobs}
        pairs = Counter((a.contractor_id, a.job_id) for a in assignments if a.deleted_at is None)
        for w in self.ledger.api:
            if w.kind == "entity":
                present, count = w.id in entity_ids, entities[w.marker]
            elif w.kind == "job":
                present, count = w.id in job_ids, job_names[w.marker]
            elif w.kind == "contractor":
                present, count = w.id in self.contractors.values(), int(w.marker.lower() in self.contractors)
            else:
                cn, jb = w.marker.split("|")
                present, count = w.id in self.assignment_ids, pairs[(cn, jb)]
            if not present:
                self.lost(f"API {w.kind} {w.id} ({w.marker})")
            if count > 1:
                self.dup(f"API {w.kind} {w.marker}: {count} made for one idempotency key {w.key}")
        for w in self.ledger.api_unanswered:
            count = entities[w.marker] if w.kind == "entity" else job_names[w.marker] if w.kind == "job" else 0
            if count > 1:
                self.dup(f"API {w.kind} {w.marker} (never answered): {count} made")
        self.stats["api_writes"] = len(self.ledger.api)

    async def enrollment(self) -> None:
        """Opt-ins recorded, and one invitation a pending contractor who has not opted in."""
        sql = "SELECT DISTINCT contractor_id FROM application_sessions WHERE tenant_id = :t AND status = 'complete'"
        self.complete = {cid for (cid,) in await self.rows("enrollment", sql)}
        for mail in self.ledger.opted_in:
            cid = self.contractors.get(mail)
            if cid is None or cid not in self.complete:
                self.lost(f"opt-in of {mail}")
        self.stats["opted_in"] = len(self.complete)
        self.invitations = await self.rows("enrollment", "SELECT id, contractor_id, status FROM invitations WHERE tenant_id = :t")
        for inv in self.invitations:
            self.invitations_of[inv.contractor_id].append(inv.id)
        for cid in self.by_contractor:
            n = len(self.invitations_of.get(cid, []))
            if n == 0 and cid not in self.complete:
                self.lost(f"invitation of contractor {cid}")
            elif n > 1:
                self.dup(f"invitations of contractor {cid}: {n}")

    async def emails(self) -> None:
        """Every delivery reached the SMTP server once; no email without a delivery."""
        sql = "SELECT id, template, related_id, message_id, status FROM deliveries WHERE tenant_id = :t"
        deliveries = await self.rows("notification", sql)
        smtp = _smtp_index(self.cs.smtp)
        for d in deliveries:
            got = smtp.get(d.id, {"message_ids": set()})["message_ids"]
            self.mail_of[(d.template, d.related_id)].update(got)
            if d.status == "sent" and not got:
                self.lost(f"{d.template} email {d.id}: recorded as sent, never reached the SMTP server")
            elif d.status != "sent":
                self.lost(f"{d.template} email {d.id} is {d.status}")
            if len(got) > 1:
                self.dup(f"{d.template} email {d.id}: {len(got)} Message-IDs")
        known = {d.id for d in deliveries}
        strangers = [k for k in smtp if k not in known]
        if strangers:
            self.dup(f"{len(strangers)} emails the notification service has no delivery for")
        for inv in self.invitations:
            self.count(
                f"invitation email of {inv.id} ({inv.contractor_id}) Message-IDs",
                len(self.mail_of.get(("invitation", inv.id), set())),
            )
        self.stats["invitation_emails"] = sum(len(self.mail_of.get(("invitation", i.id), set())) for i in self.invitations)
        self.stats["emails"] = sum(len(v["message_ids"]) for v in smtp.values())

    async def coverage_and_billing(self) -> None:
        """Per assignment of an opted-in contractor: one coverage, one certificate and its email, one
        invoice line when it has a PO; the Contractors page heard of each step."""
        sql = "SELECT assignment_id FROM coverages WHERE tenant_id = :t"
        self.coverages = Counter(aid for (aid,) in await self.rows("policy", sql))
        self.certificates: dict[str, list[str]] = defaultdict(list)
        for cert_id, aid in await self.rows("policy", "SELECT id, assignment_id FROM certificates WHERE tenant_id = :t"):
            self.certificates[aid].append(cert_id)
        sql = "SELECT assignment_id FROM invoice_lines WHERE tenant_id = :t"
        self.lines = Counter(aid for (aid,) in await self.rows("billing", sql))
        await self._roster()
        covered = 0
        for cid, rows in self.by_contractor.items():
            for a in rows:
                if cid not in self.complete:
                    if self.coverages[a.id]:
                        self.dup(f"coverage for {a.id} of a contractor who did not opt in")
                    continue
                covered += 1
                self._covered_assignment(a)
        self.stats["covered_assignments"] = covered
        invoices = await self.rows("billing", "SELECT id FROM invoices WHERE tenant_id = :t")
        for (inv_id,) in invoices:
            self.count(f"invoice email of {inv_id} Message-IDs", len(self.mail_of.get(("invoice", inv_id), set())))
        self.stats["invoices"] = len(invoices)
        self.stats["invoice_lines"] = sum(self.lines.values())

    async def _roster(self) -> None:
        sql = "SELECT contractor_id, invited_at, opted_in_at, covered_at FROM roster_status WHERE tenant_id = :t"
        roster = {r.contractor_id: r for r in await self.rows("contractor", sql)}
        for cid in self.by_contractor:
            seen = roster.get(cid)
            if self.invitations_of.get(cid) and (seen is None or seen.invited_at is None):
                self.lost(f"the Contractors page never heard of the invitation of {cid}")
            if cid in self.complete and (seen is None or seen.opted_in_at is None or seen.covered_at is None):
                self.lost(f"the Contractors page never heard of the opt-in or coverage of {cid}")

    def _covered_assignment(self, a: Any) -> None:
        n_cov = self.coverages[a.id]
        if n_cov != 1:
            self.count(f"coverage of {a.id}", n_cov)
        elif a.coverage_bound_at is None:
            self.lost(f"contractor never heard that {a.id} is covered")
        certs = self.certificates.get(a.id, [])
        self.count(f"certificates of {a.id}", len(certs))
        n_mail = len(set().union(*(self.mail_of.get(("certificate", c), set()) for c in certs))) if certs else 0
        self.count(f"certificate emails of {a.id} Message-IDs", n_mail)
        n_lines = self.lines[a.id]
        if n_lines > 1:
            self.dup(f"invoice lines of {a.id}: {n_lines}")
        elif a.po_number and n_lines == 0:
            self.lost(f"invoice line of {a.id} (PO {a.po_number})")
        elif not a.po_number and n_lines:
            self.dup(f"invoice line of {a.id} without a PO")

    async def dead_letters_and_outboxes(self) -> None:
        """No service dead-lettered anything; every outbox row was sent."""
        assert self.cs.system is not None
        for service in SERVICES:
            try:
                with self.cs.system.ops_client(service) as c:
                    dead = c.get("/_ops/dead-letters").raise_for_status().json()
            except Exception as e:
                self.problems.append(Problem("dead_letter", f"{service}: could not list ({e!r})"))
                continue
            for d in dead if isinstance(dead, list) else dead.get("data", []):
                error = str(d.get("error", "")).splitlines()[0][:200]
                self.problems.append(Problem("dead_letter", f"{service} #{d.get('id')} {d.get('subject')}: {error}"))
            unsent = await self.dbs.scalar(service, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
            if unsent:
                self.problems.append(Problem("unsent", f"{service}: {unsent} outbox rows unsent"))


# ------------------------------------------------------------------------------------------------
# The run


class Chaos:
    def __init__(self, cs: ChaosSystem, rng: random.Random, only: list[str] | None = None) -> None:
        self.cs = cs
        self.rng = rng
        self.faults: list[Fault] = []
        #: hit only these targets (all when empty)
        self.only = set(only or [])

    def pick(self, iteration: int, first: bool, busy: set[str]) -> str | None:
        if first and iteration == 1 and not self.only:
            return NATS
        if first and iteration == 2 and self.cs.pg is not None and not self.only:
            return POSTGRES
        # the nats-server and PostgreSQL weigh as much as three processes each: every service depends on them
        targets = [t for t in self.cs.targets if t not in busy and (not self.only or t in self.only)]
        if not targets:
            return None
        return self.rng.choices(targets, weights=[INFRA_WEIGHT if t in (NATS, POSTGRES) else 1 for t in targets])[0]

    async def _fault(self, iteration: int, t0: float, target: str, busy: set[str]) -> Fault:
        down = self.rng.uniform(0.5, 3.0) if target in (NATS, POSTGRES) else self.rng.uniform(0.1, 1.5)
        fault = Fault(iteration, round(time.monotonic() - t0, 2), target, round(down, 2))
        try:
            await asyncio.to_thread(self.cs.kill, target)
            await asyncio.sleep(down)
            t1 = time.monotonic()
            await asyncio.to_thread(self.cs.revive, target)
            fault.recovered_s = round(time.monotonic() - t1, 2)
        except Exception as e:
            fault.error = repr(e)
            log(f"!! fault on {target}: {e!r}")
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.cs.revive, target)
        finally:
            busy.discard(target)
        self.faults.append(fault)
        log(f"   killed {target} at {fault.at_s:.1f}s, down {down:.1f}s, ready again in {fault.recovered_s:.1f}s")
        return fault

    async def run(self, iteration: int, seconds: float, count: int, *, overlap: bool) -> list[Fault]:
        """``count`` faults at random moments within ``seconds``. With ``overlap`` a fault does not
        wait for the previous one to recover (a process may be killed while PostgreSQL is down);
        never two at once on one target."""
        t0 = time.monotonic()
        moments = sorted(self.rng.uniform(0.5, max(1.0, seconds - 2.0)) for _ in range(count))
        busy: set[str] = set()
        running: list[asyncio.Task[Fault]] = []
        for k, at in enumerate(moments):
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            target = self.pick(iteration, k == 0, busy)
            while target is None:  # every allowed target is down already: the next one to recover
                await asyncio.sleep(0.2)
                target = self.pick(iteration, k == 0, busy)
            busy.add(target)
            task = asyncio.create_task(self._fault(iteration, t0, target, busy))
            running.append(task)
            if not overlap:
                await task
        return list(await asyncio.gather(*running))


def print_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'iter':>4} {'faults (SIGKILL + restart)':<46} {'accepted':>8} {'opted in':>8} {'quiesce':>8} "
        f"{'lost':>4} {'dup':>4} {'dead':>4} {'unsent':>6} {'stuck':>5} {'other':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        faults = ",".join(r["faults"])
        if len(faults) > 46:
            faults = faults[:43] + "..."
        lines.append(
            f"{r['iteration']:>4} {faults:<46} {r['accepted']:>8} {r['opt_ins']:>8} {r['quiesce_s']:>7.1f}s "
            f"{r['lost']:>4} {r['duplicated']:>4} {r['dead_letters']:>4} {r['unsent']:>6} {r['stuck']:>5} {r['other']:>5}"
        )
    return "\n".join(lines)


def _accepted(ledger: Ledger) -> int:
    return len(ledger.api) + ledger.counts["import_rows"] + len(ledger.po_sets) + len(ledger.opted_in)


class ChaosRun:
    """One `make chaos` run: the iterations, the problems first seen in each, and the report."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.cs = ChaosSystem(args)
        self.ledger = Ledger()
        self.seen: dict[str, Problem] = {}
        self.rows: list[dict[str, Any]] = []
        self.started = datetime.now(UTC)
        self.t_start = time.monotonic()
        self.failed = False
        self.dbs: Databases | None = None
        self.workload: Workload | None = None
        self.chaos: Chaos | None = None

    async def iterations(self) -> None:
        args, cs = self.args, self.cs
        log(
            f"starting: PostgreSQL {args.pg}, nats-server, SMTP sink, {len(SERVICES) * 3} service processes "
            f"(workdir {cs.workdir})"
        )
        await cs.start()
        self.dbs = Databases(cs.database_urls)
        self.workload = Workload(cs, self.ledger, random.Random(self.rng.random()), args)
        self.chaos = Chaos(cs, random.Random(self.rng.random()), args.targets)
        log(
            f"ready in {time.monotonic() - self.t_start:.1f}s; {args.iterations} iterations of {args.duration:g}s "
            f"with {args.faults} faults each"
        )
        for it in range(1, args.iterations + 1):
            stuck = await self.iteration(it, self.dbs, self.workload, self.chaos)
            if stuck and args.stop_when_stuck:
                self.failed = True
                break

    async def iteration(self, it: int, dbs: Databases, workload: Workload, chaos: Chaos) -> bool:
        """Workload and faults for one iteration, then quiescence and the invariants; True when stuck."""
        args, cs, ledger = self.args, self.cs, self.ledger
        accepted_before = _accepted(ledger)
        log(f"iteration {it}")
        drive = asyncio.create_task(workload.drive(args.duration))
        faults = await chaos.run(it, args.duration, args.faults, overlap=not args.sequential)
        await drive
        await asyncio.wait_for(workload.settle(), timeout=args.op_timeout + 60)
        cs.supervise()
        quiet = await quiesce(cs, dbs, args.quiesce_timeout)
        if quiet.seconds > 10 and not quiet.stuck:
            log(f"   quiescent after {quiet.seconds:.1f}s; last waited for: {quiet.waited_for[:600]}")
        new: list[Problem] = []
        if quiet.stuck:
            new.append(Problem("stuck", f"iteration {it}: {quiet.stuck}"))
            log(f"!! not quiescent after {quiet.seconds:.0f}s: {quiet.stuck}\n{cs.system.logs(20) if cs.system else ''}")
        problems, stats = await check_invariants(cs, dbs, ledger)
        new += self.first_seen(problems)
        row = self.row(it, faults, accepted_before, quiet, new, stats)
        self.rows.append(row)
        log(
            f"iteration {it}: faults {','.join(f.target for f in faults)}; accepted {row['accepted']} "
            f"(total {_accepted(ledger)}); quiescent in {quiet.seconds:.1f}s; lost {row['lost']} dup {row['duplicated']} "
            f"dead {row['dead_letters']} unsent {row['unsent']} stuck {row['stuck']} other {row['other']}; state {stats}"
        )
        for p in new:
            log(f"   !! {p.key}")
        return bool(quiet.stuck)

    def first_seen(self, problems: list[Problem]) -> list[Problem]:
        """The problems not reported by an earlier iteration (crashes are each new)."""
        new: list[Problem] = []
        candidates = [(p.key, p) for p in problems]
        for e in self.cs.unexpected_exits:
            p = Problem("crashed", f"{e['process']} exited with {e['exit_code']}")
            candidates.append((f"{p.key} #{id(e)}", p))
        candidates += [(Problem("refused", f).key, Problem("refused", f)) for f in self.ledger.failures]
        for key, p in candidates:
            if key not in self.seen:
                self.seen[key] = p
                new.append(p)
        return new

    def row(
        self, it: int, faults: list[Fault], accepted_before: int, quiet: Quiet, new: list[Problem], stats: dict[str, int]
    ) -> dict[str, Any]:
        kinds = Counter(p.kind for p in new)
        return {
            "iteration": it,
            "faults": [f.target for f in faults],
            "accepted": _accepted(self.ledger) - accepted_before,
            "opt_ins": len(self.ledger.opted_in),
            "quiesce_s": round(quiet.seconds, 1),
            "waited_for": quiet.waited_for[:600] if quiet.seconds > 10 else "",
            "lost": kinds["lost"],
            "duplicated": kinds["duplicated"],
            "dead_letters": kinds["dead_letter"],
            "unsent": kinds["unsent"],
            "stuck": kinds["stuck"],
            "other": kinds["crashed"] + kinds["refused"],
            "state": stats,
            "problems": [p.key for p in new],
        }

    async def close(self) -> None:
        if self.workload is not None:
            for t in list(self.workload.tasks):
                t.cancel()
            await self.workload.close()
        if self.dbs is not None:
            await self.dbs.close()
        self.cs.stop()
        await self.cs.drop_databases()

    def report(self) -> int:
        """Print the table, write the JSON report, and answer the exit code."""
        args, ledger, rows = self.args, self.ledger, self.rows
        totals: Counter[str] = Counter()
        for r in rows:
            for k in ("lost", "duplicated", "dead_letters", "unsent", "stuck", "other"):
                totals[k] += r[k]
        table = print_table(rows)
        print("\n" + table + "\n", flush=True)
        all_faults = self.chaos.faults if self.chaos else []
        faults_by_target = Counter(f.target for f in all_faults)
        result = {
            "what": "chaos: the whole system under a steady workload while processes are SIGKILLed and restarted",
            "started_at": self.started.isoformat(timespec="seconds"),
            "wall_s": round(time.monotonic() - self.t_start, 1),
            "seed": args.seed,
            "config": {
                "iterations": args.iterations,
                "duration_s": args.duration,
                "faults_per_iteration": args.faults,
                "rate_per_s": args.rate,
                "postgres": args.pg,
                "processes": len(self.cs.procs),
                "fast_recovery_settings": FAST_RECOVERY,
            },
            "iterations_run": len(rows),
            "totals": {
                **dict(totals),
                "faults": sum(faults_by_target.values()),
                "accepted_writes": _accepted(ledger),
                "api_writes": len(ledger.api),
                "import_rows": ledger.counts["import_rows"],
                "po_sets": len(ledger.po_sets),
                "opt_ins": len(ledger.opted_in),
                "client_retries": ledger.counts["retries"],
                "state": rows[-1]["state"] if rows else {},
            },
            "faults_by_target": dict(sorted(faults_by_target.items())),
            "faults": [asdict(f) for f in all_faults],
            "problems": [asdict(p) for p in self.seen.values()],
            "unexpected_exits": self.cs.unexpected_exits,
            "table": table.splitlines(),
            "iterations": rows,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        ok = not self.failed and len(rows) == args.iterations and not any(totals.values())
        log(
            f"{'OK' if ok else 'FAILED'}: {len(rows)} iterations, {result['totals']['faults']} faults, "
            f"{_accepted(ledger)} accepted writes; lost {totals['lost']}, duplicated {totals['duplicated']}, "
            f"dead letters {totals['dead_letters']}, unsent {totals['unsent']}, stuck {totals['stuck']}, "
            f"other {totals['other']} -> {out}"
        )
        self.cs.cleanup(keep=args.keep or not ok)
        return 0 if ok else 1


async def run(args: argparse.Namespace) -> int:
    chaos_run = ChaosRun(args)
    # Ctrl-C or a SIGTERM (make, a test's timeout) cancels the run; the cleanup below still runs
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, main.cancel)
    try:
        await chaos_run.iterations()
    except BaseException as e:
        chaos_run.failed = True
        log(f"!! harness failed: {e!r}\n{traceback.format_exc()}")
        if chaos_run.cs.system is not None:
            log(chaos_run.cs.system.logs(30))
    finally:
        await chaos_run.close()
    return chaos_run.report()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--duration", type=float, default=20.0, help="seconds of workload (and faults) per iteration")
    p.add_argument("--faults", type=int, default=3, help="faults per iteration")
    p.add_argument("--sequential", action="store_true", help="a fault waits until the previous one recovered")
    p.add_argument("--targets", nargs="*", help="hit only these (nats-server, postgresql, contractor-api, ...)")
    p.add_argument("--big-import-share", type=float, default=0.15, help="share of imports of 30-80 rows (several chunks)")
    p.add_argument("--rate", type=float, default=2.0, help="operations started per second")
    p.add_argument("--concurrency", type=int, default=12, help="operations in flight at most")
    p.add_argument("--ignore-share", type=float, default=0.15, help="share of invitations never answered")
    p.add_argument("--op-timeout", type=float, default=200.0, help="a client retries an operation this long")
    p.add_argument("--quiesce-timeout", type=float, default=240.0)
    p.add_argument("--pg", choices=["private", "external"], default="private")
    p.add_argument("--log-level", default="INFO", help="the services' log level")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "chaos.json"))
    p.add_argument("--keep", action="store_true", help="keep logs and data (always kept after a failure)")
    p.add_argument("--stop-when-stuck", action="store_true", default=True)
    args = p.parse_args(argv)
    if args.pg == "private" and _pg_bindir() is None:
        log("no initdb/pg_ctl on this machine: using the external PostgreSQL (no PostgreSQL restarts)")
        args.pg = "external"
    try:
        import uvloop

        return uvloop.run(run(args))
    except ImportError:
        return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
