"""Sustained load (issue "Deterministic tests", item 5): the whole system under a steady mixed
workload for minutes (30 by default), not in CI.

    make soak                                            # 30 minutes at scale 1
    make soak SOAK_ARGS="--minutes 3 --scale 2"          # any length and rate

Every service is a real process (``python -m <service> all``) on PostgreSQL (``TEST_DATABASE_URL``
or 127.0.0.1:5432, one fresh database each), with a nats-server 2.15 of the run's own and an SMTP
sink that keeps no mail. One company, logged in to the dashboard and holding an API key, works
at a fixed rate (an open-loop schedule: each operation is due at its time whatever the ones before
did, and its latency counts from when it was due, so a slow system cannot slow the load down):

- API reads through the gateway with the API key: ``GET /api/v1/contractors/{id}``,
  ``/assignments/{id}``, ``/contractors?limit=20``, ``/policies``, ``/invoices``;
- API writes: ``POST /api/v1/contractors`` then ``POST /api/v1/assignments`` for it (which invites
  the contractor), ``PUT /api/v1/contractors/{id}``, now and then an entity and a job;
- small CSV imports through the dashboard (``POST /imports``, 20 rows, each its own campaign);
- opt-ins: every invitation email that arrives is opened (``GET /opt-in/{token}``) and the form
  submitted (``POST``), as the contractor would at once;
- PO actions through the dashboard (``POST /po/missing``): one PO on a whole imported campaign,
  and one on the API's assignments of the last half minute, selected by id.

Measured: the latency of every request (p50, p95, p99, max, errors: any other status than the
expected one, or no answer), and end to end: upload to import committed, assignment to invitation
email, submit to certificate email, PO to invoice email. Every minute: the RSS and CPU of every
process (the six services, nats-server, PostgreSQL's backends of these databases, this process
with the load and the sink), the machine's load (load average, busy %, the busiest other processes,
``cpu_reference_us`` as bench/run.py measures it), and every 10 s the queues: JetStream
``num_pending`` + ``num_ack_pending`` per durable consumer, unsent outbox rows (and the oldest's
age) per service, notification's queued deliveries, contractor's unfinished imports. After the
load stops: the time until every queue is empty, and whether every expected email came.

Writes bench/results/soak.json (``--out`` for another file) and prints a summary.

The load generator is this asyncio process with httpx (no aiohttp or psutil in requirements.lock):
at these rates (about 15 requests/s at scale 1) httpx costs about 2 ms of CPU per request, which
the result shows (``bench_and_smtp_sink`` in the CPU table).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import uvloop

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import machine  # noqa: E402
from workflow_bench import ROOT, CountingSink, admin_dsn, system_and_company  # noqa: E402

from tests.e2e.flow import Row, csv_bytes, form_values, opt_in_link, page_state  # noqa: E402

STATES = ["CA", "NY", "TX", "FL", "IL", "GA", "NC", "NJ", "PA", "AZ"]
TITLES = ["Content creator", "Photographer", "Videographer", "Model", "Brand ambassador", "Event staff"]
ADDRESS = {"line1": "2211 Mission St", "locality": "San Francisco", "region": "CA", "postalcode": "94110"}
_CSRF = re.compile(r'name="_csrf"\s+value="([^"]+)"')
_HX_CSRF = re.compile(r'"X-CSRF-Token":\s*"([^"]+)"')

#: operations per second at scale 1 (the schedule); ``import`` and the PO actions are per second too
RATES = {
    "api_get_contractor": 5.0,
    "api_get_assignment": 2.0,
    "api_list_contractors": 1.0,
    "api_list_policies": 0.5,
    "api_list_invoices": 0.5,
    "api_create_contractor_and_assignment": 0.5,
    "api_update_contractor": 0.5,
    "api_create_entity_and_job": 1 / 30,
    "dashboard_import": 1 / 20,
    "dashboard_po_campaign": 1 / 20,
    "dashboard_po_selected": 1 / 30,
}
IMPORT_ROWS = 20
#: requests in flight per client at most (the rest wait, in the measured time)
IN_FLIGHT = 32


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
    }


# ---------------------------------------------------------------- processes and the machine


def proc_rss_mb(pid: int, field: str = "VmRSS") -> float | None:
    """``VmRSS`` (resident memory), or ``RssAnon`` (its private part, without shared memory and
    mapped files: what a PostgreSQL backend holds of its own, beside the shared buffers it touched)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def proc_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def all_processes_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command line, CPU seconds so far), for every process of the machine."""
    out: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        used = proc_cpu_s(pid)
        if used is None:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out[pid] = (cmd[:120] or f"[{entry.name}]", used)
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return total - idle, total


async def cpu_reference_us() -> float:
    """bench/run.py's reference workload, in a process of its own (it would block this loop)."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); from run import cpu_reference_us; print(cpu_reference_us())"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, str(HERE), stdout=subprocess.PIPE)
    out, _ = await proc.communicate()
    return float(out.decode().strip() or "nan")


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_files": git("status", "--short").splitlines()}


# ---------------------------------------------------------------- the record


@dataclass
class Record:
    """What happened, per operation: (seconds since start, latency ms, ok)."""

    t0: float
    samples: dict[str, list[tuple[float, float, bool]]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    error_samples: list[dict[str, Any]] = field(default_factory=list)
    #: how late the generator started operations (ms), per minute: it must keep up for the numbers to count
    start_lag_ms: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    service_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, op: str, due: float, ok: bool, error: str = "", detail: str = "", sent: float | None = None) -> None:
        now = time.monotonic()
        self.samples[op].append((round(due - self.t0, 3), (now - due) * 1000, ok))
        if sent is not None and ok:  # the request's own time, without the wait for a free connection
            self.service_ms[op].append((now - sent) * 1000)
        if not ok:
            self.errors[op][error] += 1
            if len(self.error_samples) < 50:
                self.error_samples.append({"t": round(now - self.t0, 1), "op": op, "error": error, "detail": detail[:300]})

    def started(self, due: float) -> None:
        minute = int((due - self.t0) // 60)
        self.start_lag_ms[minute] = max(self.start_lag_ms[minute], (time.monotonic() - due) * 1000)

    def summary(self, until: float | None = None, since: float = 0.0) -> dict[str, Any]:
        out = {}
        for op, rows in sorted(self.samples.items()):
            chosen = [r for r in rows if r[0] >= since and (until is None or r[0] < until)]
            if not chosen:
                continue
            lat = [r[1] for r in chosen if r[2]]
            out[op] = {"count": len(chosen), "errors": sum(1 for r in chosen if not r[2]), **stats(lat)}
        return out

    def timeline(self, bucket_s: float = 10.0) -> dict[str, list[list[float]]]:
        """Per operation, every ``bucket_s`` seconds by due time: [start s, count, max latency ms]
        (where a stall shows, which the percentiles of a minute hide)."""
        out: dict[str, list[list[float]]] = {}
        for op, rows in sorted(self.samples.items()):
            buckets: dict[int, list[float]] = defaultdict(list)
            for t, ms, _ok in rows:
                buckets[int(t // bucket_s)].append(ms)
            out[op] = [[b * bucket_s, len(v), round(max(v), 1)] for b, v in sorted(buckets.items())]
        return out


# ---------------------------------------------------------------- the workload


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.minutes: float = args.minutes
        self.rates = {op: rate * args.scale for op, rate in RATES.items()}
        self.run_id = uuid.uuid4().hex[:6]
        self.loop = asyncio.get_running_loop()
        self.rec = Record(time.monotonic())
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        # the world as the load sees it
        self.contractors: list[str] = []
        self.assignments: list[str] = []
        self.jobs: list[str] = []
        self.entities: list[str] = []
        self.api_assignments_without_po: list[tuple[float, str]] = []
        self.imports: list[dict[str, Any]] = []  # {"id", "campaign", "rows", "t_upload", "t_done", "po"}
        self.counter = 0
        # end to end: emails awaited, by recipient
        self.await_invitation: dict[str, tuple[str, float]] = {}  # email -> (op, t_sent)
        self.await_certificate: dict[str, float] = {}
        self.await_invoice: dict[str, float] = {}  # PO contact -> t of the PO action
        self.import_emails: dict[str, dict[str, Any]] = {}  # email -> the import
        self.links: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.opt_ins_submitted = 0
        self.minute_records: list[dict[str, Any]] = []
        self.lag_samples: list[dict[str, Any]] = []
        self.sink = CountingSink(self._on_mail)

    # -- mail (called in the SMTP server's thread) -------------------------------------------

    def _on_mail(self, template: str, rcpts: list[str], content: bytes, received: float) -> None:
        if template == "invitation":
            try:
                link = opt_in_link(email.message_from_bytes(content, policy=email.policy.default))  # type: ignore[arg-type]
            except Exception as e:
                self.loop.call_soon_threadsafe(self.rec.add, "invitation_email_link", time.monotonic(), False, "no link", repr(e))
                return
            for to in rcpts:
                self.loop.call_soon_threadsafe(self._invitation, to.lower(), link, received)
        elif template in ("certificate", "invoice"):
            for to in rcpts:
                self.loop.call_soon_threadsafe(self._arrived, template, to.lower(), received)

    def _invitation(self, to: str, link: str, received: float) -> None:
        waiting = self.await_invitation.pop(to, None)
        if waiting is not None:
            op, t_sent = waiting
            self.rec.samples[op].append((round(t_sent - self.rec.t0, 3), (received - t_sent) * 1000, True))
        imp = self.import_emails.pop(to, None)
        if imp is not None:
            imp["emails_left"] -= 1
            if imp["emails_left"] == 0:
                self.rec.samples["e2e_import_upload_to_all_invitations"].append(
                    (round(imp["t_upload"] - self.rec.t0, 3), (received - imp["t_upload"]) * 1000, True)
                )
        if not self.stopping:
            self.links.put_nowait((to, link))

    def _arrived(self, template: str, to: str, received: float) -> None:
        if template == "certificate":
            t = self.await_certificate.pop(to, None)
            if t is not None:
                self.rec.samples["e2e_opt_in_submit_to_certificate_email"].append(
                    (round(t - self.rec.t0, 3), (received - t) * 1000, True)
                )
        else:
            t = self.await_invoice.pop(to, None)
            if t is not None:
                self.rec.samples["e2e_po_action_to_invoice_email"].append(
                    (round(t - self.rec.t0, 3), (received - t) * 1000, True)
                )

    # -- helpers ----------------------------------------------------------------------------

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def next_n(self) -> int:
        self.counter += 1
        return self.counter

    async def call(
        self,
        op: str,
        due: float,
        client: httpx.AsyncClient,
        sem: asyncio.Semaphore,
        method: str,
        url: str,
        expect: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> httpx.Response | None:
        """One request, recorded under ``op`` with its latency from ``due``."""
        sent = None
        try:
            async with sem:
                sent = time.monotonic()
                r = await client.request(method, url, **kw)
        except Exception as e:
            self.rec.add(op, due, False, type(e).__name__, repr(e))
            return None
        if r.status_code not in expect:
            self.rec.add(op, due, False, f"status {r.status_code}", r.text[:300])
            return None
        self.rec.add(op, due, True, sent=sent)
        return r

    # -- setup ------------------------------------------------------------------------------

    async def setup(self, system: Any, company: Any) -> None:
        self.system = system
        self.company = company
        limits = httpx.Limits(max_connections=IN_FLIGHT, keepalive_expiry=2.0)
        gw = system.gateway_url
        self.api = httpx.AsyncClient(
            base_url=f"{gw}/api/v1", headers={"Authorization": f"Bearer {company.api_key}"}, timeout=60, limits=limits
        )
        self.dash = httpx.AsyncClient(base_url=gw, timeout=120, limits=limits, follow_redirects=False)
        self.public = httpx.AsyncClient(timeout=60, limits=limits)
        self.internal = httpx.AsyncClient(
            base_url=system.url("contractor"),
            headers={"x-ten99-internal-token": system.internal_token, "x-tenant-id": company.company_id},
            timeout=60,
            limits=limits,
        )
        self.api_sem, self.dash_sem, self.public_sem = (asyncio.Semaphore(IN_FLIGHT) for _ in range(3))
        page = await self.dash.get("/login")
        token = _CSRF.search(page.text)
        assert token, "no CSRF token on the login page"
        r = await self.dash.post(
            "/login", data={"email": company.email, "password": company.password, "_csrf": token.group(1), "next": "/"}
        )
        assert r.status_code in (200, 303), r.text[:300]
        home = await self.dash.get("/imports")
        csrf = _HX_CSRF.search(home.text)
        assert csrf, "no CSRF token on the dashboard"
        self.dash.headers["X-CSRF-Token"] = csrf.group(1)
        # something to read from the first second
        for _ in range(3):
            await self.create_entity_and_job(time.monotonic())
        for _ in range(10):
            await self.create_contractor_and_assignment(time.monotonic())

    # -- operations -------------------------------------------------------------------------

    async def api_get(self, op: str, due: float, pool: list[str], path: str) -> None:
        if not pool:
            return
        await self.call(op, due, self.api, self.api_sem, "GET", path.format(random.choice(pool[-2000:])))

    async def create_entity_and_job(self, due: float) -> None:
        n = self.next_n()
        r = await self.call(
            "api_create_entity", due, self.api, self.api_sem, "POST", "/entities", json={"name": f"Soak brand {n}"}
        )
        if r is None:
            return
        self.entities.append(r.json()["id"])
        body = {
            "entity": self.entities[-1],
            "category_code": "jc_photographer",
            "name": random.choice(TITLES),
            "description": "Shoots the spring lookbook",
            "wage": 250_000,
            "wage_type": "flatfee",
            "work_state": random.choice(STATES),
        }
        r = await self.call("api_create_job", time.monotonic(), self.api, self.api_sem, "POST", "/jobs", json=body)
        if r is not None:
            self.jobs.append(r.json()["id"])

    async def create_contractor_and_assignment(self, due: float) -> None:
        n = self.next_n()
        address = {**ADDRESS, "region": random.choice(STATES)}
        mail = f"api{n}-{self.run_id}@soak.test"
        body = {"first_name": "Api", "last_name": f"Person{n}", "email": mail, "phone": "+14155550100", "address": address}
        r = await self.call("api_create_contractor", due, self.api, self.api_sem, "POST", "/contractors", json=body)
        if r is None:
            return
        cid = r.json()["id"]
        self.contractors.append(cid)
        if not self.jobs:
            return
        start = datetime.now(UTC).date() + timedelta(days=5)
        work = {
            "contractor": cid,
            "job": random.choice(self.jobs),
            "effective_date": start.isoformat(),
            "end_date": (start + timedelta(days=20)).isoformat(),
        }
        t = time.monotonic()
        self.await_invitation[mail] = ("e2e_api_assignment_to_invitation_email", t)
        r = await self.call("api_create_assignment", t, self.api, self.api_sem, "POST", "/assignments", json=work)
        if r is None:
            self.await_invitation.pop(mail, None)
            return
        aid = r.json()["id"]
        self.assignments.append(aid)
        self.api_assignments_without_po.append((time.monotonic(), aid))

    async def update_contractor(self, due: float) -> None:
        if not self.contractors:
            return
        cid = random.choice(self.contractors[-2000:])
        body = {"phone": f"+1415555{random.randint(1000, 9999)}"}
        await self.call("api_update_contractor", due, self.api, self.api_sem, "PUT", f"/contractors/{cid}", json=body)

    async def dashboard_import(self, due: float) -> None:
        k = self.next_n()
        campaign = f"Soak {self.run_id} {k}"
        start = datetime.now(UTC).date() + timedelta(days=5)
        rows = [
            Row(f"Brand {i % 5}", f"First{i}", f"Last{k}", f"imp{k}-{i}-{self.run_id}@soak.test", STATES[i % 10], TITLES[i % 6],
                STATES[(i + 3) % 10], f"{500 + (i % 40) * 25}", "flatfee", start, start + timedelta(days=10 + i % 60),
                campaign=campaign)
            for i in range(IMPORT_ROWS)
        ]  # fmt: skip
        imp: dict[str, Any] = {"campaign": campaign, "rows": len(rows), "t_upload": due, "emails_left": len(rows), "po": False}
        for row in rows:
            self.import_emails[row.email] = imp
        r = await self.call(
            "dashboard_import_upload",
            due,
            self.dash,
            self.dash_sem,
            "POST",
            "/imports",
            expect=(303,),
            files={"file": (f"soak-{k}.csv", csv_bytes(rows), "text/csv")},
        )
        location = r.headers.get("location", "") if r is not None else ""
        found = re.search(r"/imports/(ib_[A-Za-z0-9]+)", location)
        if not found:
            if r is not None:
                self.rec.add("dashboard_import_upload", due, False, "no import id", location)
            for row in rows:
                self.import_emails.pop(row.email, None)
            return
        imp["id"] = found.group(1)
        self.imports.append(imp)
        # until committed (contractor's status, polled as a probe every 0.25 s)
        while True:
            await asyncio.sleep(0.25)
            try:
                status = (await self.internal.get(f"/v1/imports/{imp['id']}")).json()
            except Exception:
                continue
            if status.get("status") in ("completed", "failed"):
                imp["t_done"] = time.monotonic()
                ok = status["status"] == "completed" and status.get("rows_imported") == len(rows)
                self.rec.add(
                    "e2e_import_upload_to_committed", due, ok, "" if ok else f"import {status.get('status')}", str(status)[:300]
                )
                return
            if time.monotonic() - due > 600:
                self.rec.add("e2e_import_upload_to_committed", due, False, "timeout")
                return

    async def dashboard_po_campaign(self, due: float) -> None:
        now = time.monotonic()
        ready = [i for i in self.imports if not i["po"] and i.get("t_done") and now - i["t_done"] >= 30]
        if not ready:
            return
        imp = ready[0]
        imp["po"] = True
        k = self.next_n()
        contact = f"ap{k}-{self.run_id}@soak.test"
        form = {"whole_campaign": imp["campaign"], "po_number": f"PO-SOAK-{k}", "po_contact_email": contact}
        self.await_invoice[contact] = due
        r = await self.call(
            "dashboard_po_campaign", due, self.dash, self.dash_sem, "POST", "/po/missing", expect=(303,), data=form
        )
        if r is None:
            self.await_invoice.pop(contact, None)

    async def dashboard_po_selected(self, due: float) -> None:
        now = time.monotonic()
        ids = [aid for t, aid in self.api_assignments_without_po if now - t >= 30][:50]
        if not ids:
            return
        chosen = set(ids)
        self.api_assignments_without_po = [(t, a) for t, a in self.api_assignments_without_po if a not in chosen]
        k = self.next_n()
        contact = f"ap{k}-{self.run_id}@soak.test"
        form = {"assignment_ids": ids, "po_number": f"PO-SOAK-{k}", "po_contact_email": contact}
        self.await_invoice[contact] = due
        r = await self.call(
            "dashboard_po_selected", due, self.dash, self.dash_sem, "POST", "/po/missing", expect=(303,), data=form
        )
        if r is None:
            self.await_invoice.pop(contact, None)

    async def opt_in(self, to: str, link: str) -> None:
        due = time.monotonic()
        page = await self.call("opt_in_open_page", due, self.public, self.public_sem, "GET", link)
        if page is None:
            return
        values = form_values(page.text)
        form = {k: v for k, v in values.items() if not k.startswith("q_")}
        for q in set(re.findall(r'name="(q_[a-z0-9_]+)"', page.text)):
            form[q] = "no" if q in ("q_claims_last_3_years", "q_coverage_declined_last_3_years") else "yes"
        form.update(consent="yes", signed_name=f"{values.get('first_name', '')} {values.get('last_name', '')}".strip())
        t = time.monotonic()
        self.await_certificate[to] = t
        r = await self.call("opt_in_submit", t, self.public, self.public_sem, "POST", link, data=form)
        if r is None:
            self.await_certificate.pop(to, None)
            return
        state = page_state(r.text)
        if state != "done":
            self.await_certificate.pop(to, None)
            self.rec.add("opt_in_submit_outcome", t, False, f"state {state}", r.text[:200])
        self.opt_ins_submitted += 1

    # -- the schedule -----------------------------------------------------------------------

    async def ticker(self, rate: float, action: Any, t_start: float, t_end: float) -> None:
        if rate <= 0:
            return
        i = 0
        while True:
            due = t_start + i / rate
            if due >= t_end or self.stopping:
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.rec.started(due)
            self.spawn(action(due))
            i += 1

    async def opt_in_worker(self) -> None:
        while True:
            to, link = await self.links.get()
            self.spawn(self.opt_in(to, link))

    # -- monitoring -------------------------------------------------------------------------

    async def lag_sampler(self) -> None:
        import asyncpg

        dbs = {s: url.rsplit("/", 1)[1].split("?")[0] for s, url in self.system.database_urls.items()}
        base = admin_dsn().rsplit("/", 1)[0]
        conns = {s: await asyncpg.connect(f"{base}/{db}") for s, db in dbs.items()}
        nc = await nats.connect(self.system.nats_url)
        js = nc.jetstream()
        try:
            while True:
                sample: dict[str, Any] = {
                    "t": round(time.monotonic() - self.rec.t0, 1),
                    "jetstream": {},
                    "outbox": {},
                    "outbox_oldest_s": {},
                }
                try:
                    for stream in await js.streams_info():
                        name = stream.config.name or ""
                        for c in await js.consumers_info(name):
                            sample["jetstream"][f"{name}/{c.name}"] = (c.num_pending or 0) + (c.num_ack_pending or 0)
                    for s, conn in conns.items():
                        row = await conn.fetchrow(
                            "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age"
                            " FROM outbox WHERE sent_at IS NULL"
                        )
                        sample["outbox"][s] = row["n"]
                        sample["outbox_oldest_s"][s] = round(float(row["age"] or 0.0), 1)
                    sample["notification_deliveries_queued"] = await conns["notification"].fetchval(
                        "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending')"
                    )
                    sample["contractor_imports_unfinished"] = await conns["contractor"].fetchval(
                        "SELECT count(*) FROM import_batches WHERE status IN ('pending', 'running')"
                    )
                    sample["pg_backend_pids"] = [
                        r["pid"]
                        for r in await conns["contractor"].fetch(
                            "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", list(dbs.values())
                        )
                    ]
                except Exception as e:
                    sample["error"] = repr(e)
                self.lag_samples.append(sample)
                self.last_lags = sample
                await asyncio.sleep(10.0)
        finally:
            await nc.close()
            for conn in conns.values():
                await conn.close()

    def queues_empty(self) -> bool:
        s = getattr(self, "last_lags", None)
        if not s or "error" in s:
            return False
        return (
            not any(s["jetstream"].values())
            and not any(s["outbox"].values())
            and not s["notification_deliveries_queued"]
            and not s["contractor_imports_unfinished"]
        )

    def our_pids(self) -> dict[str, int]:
        pids = {name: svc.proc.pid for name, svc in self.system.services.items() if svc.proc is not None}
        if self.nats_proc is not None and self.nats_proc.proc is not None:
            pids["nats"] = self.nats_proc.proc.pid
        pids["bench_and_smtp_sink"] = os.getpid()
        return pids

    async def minute_sampler(self) -> None:
        minute = 0
        prev_cpu = {name: proc_cpu_s(pid) or 0.0 for name, pid in self.our_pids().items()}
        prev_all = all_processes_cpu()
        prev_busy = machine_busy()
        prev_t = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, self.rec.t0 + (minute + 1) * 60 - time.monotonic()))
            minute += 1
            await self.sample_minute(minute, prev_cpu, prev_all, prev_busy, prev_t)
            prev_cpu = {name: proc_cpu_s(pid) or 0.0 for name, pid in self.our_pids().items()}
            prev_all = all_processes_cpu()
            prev_busy = machine_busy()
            prev_t = time.monotonic()

    async def sample_minute(
        self,
        minute: int | str,
        prev_cpu: dict[str, float],
        prev_all: dict[int, tuple[str, float]],
        prev_busy: tuple[float, float],
        prev_t: float,
    ) -> dict[str, Any]:
        pids = self.our_pids()
        elapsed = time.monotonic() - prev_t
        rss = {name: round(proc_rss_mb(pid) or 0.0, 1) for name, pid in pids.items()}
        cpu_pct = {
            name: round(((proc_cpu_s(pid) or 0.0) - prev_cpu[name]) / elapsed * 100, 1)
            for name, pid in pids.items()
            if name in prev_cpu
        }
        lags = getattr(self, "last_lags", {})
        pg_pids = lags.get("pg_backend_pids", [])
        pg_rss = [proc_rss_mb(p, "RssAnon") for p in pg_pids]
        rss["postgresql_backends_private_sum"] = round(sum(x for x in pg_rss if x), 1)
        rss["postgresql_backends_private_max"] = round(max((x for x in pg_rss if x), default=0.0), 1)
        rss["postgresql_backends_count"] = len(pg_pids)
        now_all = all_processes_cpu()
        ours = set(pids.values()) | set(pg_pids)
        used = []
        for pid, (cmd, cpu) in now_all.items():
            delta = cpu - prev_all.get(pid, (cmd, 0.0))[1]
            if prev_all and delta > 0.5:
                used.append((delta, pid, cmd))
        used.sort(reverse=True)
        pg_cpu = sum(now_all[pid][1] - prev_all[pid][1] for pid in pg_pids if pid in now_all and pid in prev_all)
        if prev_all:
            cpu_pct["postgresql_backends"] = round(pg_cpu / elapsed * 100, 1)
        busy, total = machine_busy()
        window = [s for s in self.lag_samples if s["t"] > prev_t - self.rec.t0 and "error" not in s]
        since, until = (minute - 1) * 60 if isinstance(minute, int) else 0, (minute * 60 if isinstance(minute, int) else None)
        record: dict[str, Any] = {
            "minute": minute,
            "t_s": round(time.monotonic() - self.rec.t0, 1),
            "operations": self.rec.summary(until=until, since=since) if isinstance(minute, int) else {},
            "generator_start_lag_max_ms": round(self.rec.start_lag_ms.get(minute - 1, 0.0), 1)
            if isinstance(minute, int)
            else None,
            "rss_mb": rss,
            "cpu_pct": cpu_pct,
            "queues_max": {
                "jetstream_pending_total": max((sum(s["jetstream"].values()) for s in window), default=0),
                "jetstream_worst": max(
                    ((k, v) for s in window for k, v in s["jetstream"].items()), key=lambda kv: kv[1], default=("", 0)
                ),
                "outbox_unsent_total": max((sum(s["outbox"].values()) for s in window), default=0),
                "outbox_oldest_s": max((max(s["outbox_oldest_s"].values(), default=0) for s in window), default=0),
                "notification_deliveries_queued": max((s.get("notification_deliveries_queued", 0) for s in window), default=0),
                "contractor_imports_unfinished": max((s.get("contractor_imports_unfinished", 0) for s in window), default=0),
            },
            "machine": {
                "loadavg": [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]],
                "busy_pct_of_all_cpus": round((busy - prev_busy[0]) / max(1.0, total - prev_busy[1]) * 100, 1),
                "cpu_reference_us": await cpu_reference_us(),
                "busiest_other_processes": [
                    {"cpu_pct": round(d / elapsed * 100, 1), "cmd": cmd} for d, pid, cmd in used if pid not in ours
                ][:5],
            },
        }
        self.minute_records.append(record)
        ops = record["operations"]
        line = "  ".join(f"{op}={v.get('p99', '-')}" for op, v in ops.items())
        print(
            f"soak: minute {minute}: busy {record['machine']['busy_pct_of_all_cpus']}% "
            f"ref {record['machine']['cpu_reference_us']} us "
            f"errors {sum(v['errors'] for v in ops.values())} rss {rss} queues {record['queues_max']}\n    p99 ms: {line}",
            file=sys.stderr,
            flush=True,
        )
        return record

    # -- the run ----------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        started_at = machine()
        async with system_and_company(self.sink, own_nats=True) as (system, _sink, company, nats_proc):
            self.nats_proc = nats_proc
            await self.setup(system, company)
            self.rec = Record(time.monotonic())
            t0 = self.rec.t0
            t_end = t0 + self.minutes * 60
            monitors = [asyncio.ensure_future(self.lag_sampler()), asyncio.ensure_future(self.minute_sampler())]
            workers = [asyncio.ensure_future(self.opt_in_worker())]
            actions = {
                "api_get_contractor": lambda due: self.api_get("api_get_contractor", due, self.contractors, "/contractors/{}"),
                "api_get_assignment": lambda due: self.api_get("api_get_assignment", due, self.assignments, "/assignments/{}"),
                "api_list_contractors": lambda due: self.call(
                    "api_list_contractors", due, self.api, self.api_sem, "GET", "/contractors", params={"limit": 20}
                ),
                "api_list_policies": lambda due: self.call(
                    "api_list_policies", due, self.api, self.api_sem, "GET", "/policies", params={"limit": 10}
                ),
                "api_list_invoices": lambda due: self.call(
                    "api_list_invoices", due, self.api, self.api_sem, "GET", "/invoices", params={"limit": 10}
                ),
                "api_create_contractor_and_assignment": self.create_contractor_and_assignment,
                "api_update_contractor": self.update_contractor,
                "api_create_entity_and_job": self.create_entity_and_job,
                "dashboard_import": self.dashboard_import,
                "dashboard_po_campaign": self.dashboard_po_campaign,
                "dashboard_po_selected": self.dashboard_po_selected,
            }
            print(f"soak: {self.minutes} min at scale {self.args.scale}: {self.rates}", file=sys.stderr, flush=True)
            # staggered starts, so that the slow ones do not all fall on the same second
            await asyncio.gather(
                *(
                    self.ticker(self.rates[op], act, t0 + random.random() / max(self.rates[op], 1.0), t_end)
                    for op, act in actions.items()
                )
            )
            # the load stops: what is in flight finishes, then the queues drain
            t_load_end = time.monotonic()
            self.stopping = True
            pending = list(self.tasks)
            if pending:
                await asyncio.wait(pending, timeout=120)
            t_drain0 = time.monotonic()
            drained_s = None
            while time.monotonic() - t_drain0 < 600:
                await asyncio.sleep(10.5)
                if self.queues_empty():
                    drained_s = round(time.monotonic() - t_drain0, 1)
                    break
            # the last emails (the invoice of a PO group waits for its quiet period)
            await asyncio.sleep(15)
            final = await self.sample_minute("after_drain", {}, {}, machine_busy(), time.monotonic() - 1)
            for task in [*monitors, *workers]:
                task.cancel()
            await asyncio.gather(*monitors, *workers, return_exceptions=True)
            for c in (self.api, self.dash, self.public, self.internal):
                await c.aclose()
            counts = dict(self.sink.counts)
            dead = await asyncio.to_thread(system.dead_letters)
            # the services log at WARNING: whatever they said, the last lines of it
            self.log_tails = {name: svc.tail(25).splitlines() for name, svc in system.services.items()}
        return self.result(started_at, t_load_end - t0, drained_s, final, counts, dead)

    def result(
        self,
        started_at: dict[str, Any],
        load_s: float,
        drained_s: float | None,
        final: dict[str, Any],
        counts: dict[str, int],
        dead: dict[str, Any],
    ) -> dict[str, Any]:
        warmup = self.args.warmup if self.args.warmup is not None else min(5, max(1, int(self.minutes // 3)))
        per_minute = [m for m in self.minute_records if isinstance(m["minute"], int)]
        growth: dict[str, Any] = {}
        if len(per_minute) > warmup:
            base = per_minute[warmup - 1]["rss_mb"]
            after = per_minute[warmup - 1 :]
            for name in base:
                series = [m["rss_mb"].get(name, 0.0) for m in after]
                xs = list(range(len(series)))
                slope = statistics.linear_regression(xs, series).slope if len(series) > 1 and len(set(series)) > 1 else 0.0
                growth[name] = {
                    "after_warmup_mb": base[name],
                    "last_mb": series[-1],
                    "max_mb": max(series),
                    "growth_pct": round((series[-1] / base[name] - 1) * 100, 1) if base[name] else None,
                    "max_growth_pct": round((max(series) / base[name] - 1) * 100, 1) if base[name] else None,
                    "slope_mb_per_min": round(slope, 2),
                }
        missing = {
            "invitations (API assignments)": len(self.await_invitation),
            "invitations (imports)": len(self.import_emails),
            "certificates": len(self.await_certificate),
            "invoices": len(self.await_invoice),
        }
        ops = self.rec.summary()
        dead_letters = {s: len(v) if isinstance(v, list) else v for s, v in dead.items()}
        return {
            "config": {
                "minutes": self.minutes,
                "scale": self.args.scale,
                "rates_per_s": {k: round(v, 4) for k, v in self.rates.items()},
                "import_rows": IMPORT_ROWS,
                "warmup_minutes": warmup,
                "load_client": f"httpx {httpx.__version__}, asyncio + uvloop, open-loop schedule, "
                f"{IN_FLIGHT} in flight per client at most",
            },
            "code": git_state(),
            "machine_at_start": started_at,
            "load_s": round(load_s, 1),
            "operations": ops,
            "errors_total": sum(v["errors"] for v in ops.values()),
            "errors": {op: dict(e) for op, e in self.rec.errors.items()},
            "error_samples": self.rec.error_samples,
            "request_time_ms_without_client_wait": {op: stats(v) for op, v in sorted(self.rec.service_ms.items())},
            "missing_after_drain": missing,
            "dead_letters": dead_letters,
            "emails_accepted_by_smtp": counts,
            "opt_ins_submitted": self.opt_ins_submitted,
            "imports": len(self.imports),
            "contractors_created_by_api": len(self.contractors),
            "queues_drained_after_load_s": drained_s,
            "rss_growth_after_warmup": growth,
            "queues_overall_max": {
                k: max((m["queues_max"][k] for m in per_minute), default=0)
                for k in ("jetstream_pending_total", "outbox_unsent_total", "outbox_oldest_s", "notification_deliveries_queued")
            },
            "minutes": self.minute_records,
            "after_drain": final,
            "latency_max_every_10s": self.rec.timeline(),
            "queue_samples_every_10s": [slim(q) for q in self.lag_samples],
            "service_log_tails": getattr(self, "log_tails", {}),
        }


def slim(sample: dict[str, Any]) -> dict[str, Any]:
    """A queue sample as kept in the result: the consumers and outboxes with something waiting."""
    out = {k: v for k, v in sample.items() if k != "pg_backend_pids"}
    for key in ("jetstream", "outbox", "outbox_oldest_s"):
        if key in out:
            out[key] = {k: v for k, v in out[key].items() if v}
    return out


def print_summary(result: dict[str, Any]) -> None:
    r = result
    print(
        f"\nsoak: {r['config']['minutes']} min at scale {r['config']['scale']}, errors {r['errors_total']}, "
        f"missing {r['missing_after_drain']}"
    )
    print(f"{'operation':45} {'count':>7} {'err':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  request p99")
    own = r["request_time_ms_without_client_wait"]
    for op, v in r["operations"].items():
        cells = " ".join(f"{v.get(p, '-'):>8}" for p in ("p50", "p95", "p99", "max"))
        print(f"{op:45} {v['count']:>7} {v['errors']:>4} {cells}  {own.get(op, {}).get('p99', '')}")
    print("RSS after warm-up -> last (MB), growth %:")
    for name, g in r["rss_growth_after_warmup"].items():
        print(
            f"  {name:28} {g['after_warmup_mb']:>7} -> {g['last_mb']:>7}  {g['growth_pct']}%  "
            f"(max {g['max_growth_pct']}%, {g['slope_mb_per_min']} MB/min)"
        )
    print(f"queues max: {r['queues_overall_max']}; drained {r['queues_drained_after_load_s']} s after the load")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    parser.add_argument("--scale", type=float, default=float(os.environ.get("SOAK_SCALE", 1)), help="multiplies every rate")
    parser.add_argument("--warmup", type=int, default=None, help="minutes before the RSS baseline (default min(5, minutes/3))")
    parser.add_argument("--out", default=str(HERE / "results" / "soak.json"))
    args = parser.parse_args()

    async def go() -> dict[str, Any]:
        return await Soak(args).run()

    result = {"benchmark": "soak", "machine": machine(), "results": uvloop.run(go())}
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result["results"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
