# ruff: noqa: ASYNC110, ASYNC220, E501
"""Measure the notification service's sending speed (a quick measurement, not a test).

Runs ``python -m notification all`` as a real process on a fresh PostgreSQL database and a private
nats-server, with an aiosmtpd server (in this process) as the SMTP server, then:

1. publishes 10,000 ``InvitationIssuedV1`` envelopes to JetStream at once (as enrollment would
   after a 10,000-row upload) and times until the SMTP server has accepted all 10,000 emails;
   samples the service's RSS meanwhile (peak = VmHWM);
2. publishes ``CertificateIssuedV1`` (with a PDF) at 50/s and times each from publish to
   acceptance by the SMTP server (the notification part of the opt-in -> certificate latency).

    .venv/bin/python services/notification/tools/measure_sending.py [--count 10000] [--pool 4]

Needs PostgreSQL on 127.0.0.1:5432 (or TEST_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import nats
from aiosmtpd.controller import Controller
from fpdf import FPDF
from ten99_contracts import Envelope, encode_envelope
from ten99_contracts.enrollment_v1 import InvitationIssuedV1
from ten99_contracts.gateway_v1 import CompanyCreatedV1
from ten99_contracts.policy_v1 import CertificateIssuedV1
from ten99_testing import NatsServerProcess, free_port

ROOT = Path(__file__).resolve().parents[3]
TENANT = "co_bench"
_CERT = re.compile(rb"COI-BENCH-(\d+)")


class CountingSink:
    """Accepts everything; notes when each message arrived (and which certificate it carries)."""

    def __init__(self) -> None:
        self.count = 0
        self.first_at: float | None = None
        self.last_at = 0.0
        self.certificates: dict[int, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        with self.lock:
            self.count += 1
            self.first_at = self.first_at or now
            self.last_at = now
            m = _CERT.search(envelope.content[:2000])
            if m:
                self.certificates[int(m.group(1))] = now
        return "250 OK"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def pdf_bytes() -> bytes:
    doc = FPDF()
    doc.add_page()
    doc.set_font("helvetica", size=12)
    doc.cell(text="Certificate of Insurance (benchmark)")
    return bytes(doc.output())


def envelope(message: Any) -> bytes:
    env = Envelope(
        id=str(uuid.uuid4()),
        subject=message.SUBJECT,
        occurred_at=datetime.now(UTC),
        tenant_id=TENANT,
        aggregate_id="bench",
        data=message,
    )
    return encode_envelope(env)


async def publish_all(nats_url: str, payloads: list[tuple[str, bytes]]) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for i in range(0, len(payloads), 1000):
        futures = [await js.publish_async(subject, data) for subject, data in payloads[i : i + 1000]]
        await asyncio.gather(*futures)
    await nc.close()


@dataclass(frozen=True)
class BenchDatabase:
    """A fresh database for one run, created next to ``admin`` and dropped afterwards."""

    admin: str  # asyncpg DSN of the server's admin database
    name: str

    @property
    def dsn(self) -> str:
        return self.admin.rsplit("/", 1)[0] + "/" + self.name

    @classmethod
    async def create(cls, admin_url: str) -> BenchDatabase:
        database = cls(admin_url.replace("postgresql+asyncpg://", "postgresql://"), f"bench_notification_{uuid.uuid4().hex[:8]}")
        conn = await asyncpg.connect(database.admin)
        await conn.execute(f'CREATE DATABASE "{database.name}"')
        await conn.close()
        return database

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await conn.close()


@dataclass
class Service:
    """``python -m notification all`` as a process, logging to its work folder."""

    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    workdir: Path
    http_port: int

    @classmethod
    def start(cls, args: argparse.Namespace, db_url: str, nats_url: str, smtp_port: int, workdir: Path) -> Service:
        http_port = free_port()
        env = {
            **os.environ,
            "NOTIFICATION_DB__URL": db_url,
            "NOTIFICATION_NATS__URL": nats_url,
            "NOTIFICATION_HTTP__PORT": str(http_port),
            "NOTIFICATION_SMTP__HOST": "127.0.0.1",
            "NOTIFICATION_SMTP__PORT": str(smtp_port),
            "NOTIFICATION_SMTP__POOL_SIZE": str(args.pool),
            "NOTIFICATION_LOG__LEVEL": "WARNING",
            # a service that is not a development one refuses to start without them
            "NOTIFICATION_INTERNAL_TOKEN": secrets.token_urlsafe(32),
            "NOTIFICATION_OPERATOR_TOKEN": secrets.token_urlsafe(32),
        }
        log = open(workdir / "notification.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "notification", "all"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        return cls(proc, log, workdir, http_port)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"service did not start; log in {self.workdir}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@dataclass
class InvitationRun:
    """What the burst of invitations measured (seconds from the first publish; RSS in kB)."""

    published_s: float
    first_s: float
    total_s: float
    cpu_used_s: float
    idle_rss: int
    peak_sampled: int
    peak_hwm: int


def invitation(n: int) -> InvitationIssuedV1:
    return InvitationIssuedV1(
        invitation_id=f"inv_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        email=f"contractor{n}@example.com",
        first_name="Ada",
        last_name=f"Lovelace {n}",
        opt_in_url=f"http://127.0.0.1:8000/opt-in/{uuid.uuid4().hex}{uuid.uuid4().hex}",
        expires_at=datetime(2026, 12, 31, tzinfo=UTC),
        assignment_ids=[f"an_{n:022d}"],
    )


def certificate(n: int, pdf: bytes) -> CertificateIssuedV1:
    return CertificateIssuedV1(
        certificate_id=f"coi_{n:022d}",
        certificate_number=f"COI-BENCH-{n}",
        coverage_id=f"cv_{n:022d}",
        assignment_id=f"an_{n:022d}",
        contractor_id=f"cn_{n:022d}",
        policy_id="pl_bench",
        policy_number="T99-BENCH",
        contractor_email=f"contractor{n}@example.com",
        contractor_name="Ada Lovelace",
        holder_name="Nike",
        coverage_types=["general"],
        effective_date=date(2026, 11, 10),
        end_date=date(2026, 12, 9),
        issued_at=datetime.now(UTC),
        download_url=f"http://127.0.0.1:8000/certificates/coi_{n}.pdf?token=x",
        filename=f"coi-{n}.pdf",
        pdf=pdf,
    )


async def measure_invitations(args: argparse.Namespace, service: Service, nats_url: str, sink: CountingSink) -> InvitationRun:
    """Publish ``--count`` invitations at once; time until SMTP accepted them all, sampling RSS."""
    pid = service.proc.pid
    idle_rss = rss_kb(pid)
    company = CompanyCreatedV1(company_id=TENANT, name="Bench Company", owner_email="ops@bench.test")
    await publish_all(nats_url, [(company.SUBJECT, envelope(company))])
    await asyncio.sleep(0.5)
    payloads = [(InvitationIssuedV1.SUBJECT, envelope(invitation(n))) for n in range(args.count)]
    spy = None
    if args.profile:
        profile = str(service.workdir / "profile.txt")
        spy = subprocess.Popen([args.profile, "record", "-p", str(pid), "-f", "raw", "-o", profile, "-r", "200"])
        await asyncio.sleep(1)
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    await publish_all(nats_url, payloads)
    published_s = time.perf_counter() - t0
    peak_sampled = idle_rss
    while sink.count < args.count:
        peak_sampled = max(peak_sampled, rss_kb(pid))
        if time.perf_counter() - t0 > 300:
            raise SystemExit(f"only {sink.count} of {args.count} emails after 300 s")
        await asyncio.sleep(0.05)
    peak_hwm = rss_kb(pid, "VmHWM")
    await asyncio.sleep(1.0)  # let the relay publish the EmailDeliveredV1 messages too
    cpu_used = cpu_seconds(pid) - cpu0
    if spy is not None:
        spy.send_signal(2)
        spy.wait()
        print(f"profile: {service.workdir / 'profile.txt'}")
    return InvitationRun(
        published_s=published_s,
        first_s=(sink.first_at or t0) - t0,
        total_s=sink.last_at - t0,
        cpu_used_s=cpu_used,
        idle_rss=idle_rss,
        peak_sampled=peak_sampled,
        peak_hwm=peak_hwm,
    )


async def measure_certificates(count: int, nats_url: str, sink: CountingSink) -> list[float]:
    """Publish ``count`` certificates at 50 per second, one by one: each one's milliseconds from
    publish to acceptance by SMTP, sorted."""
    pdf = pdf_bytes()
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    sent_at: dict[int, float] = {}
    for n in range(count):
        message = certificate(n, pdf)
        data = envelope(message)
        sent_at[n] = time.perf_counter()
        await js.publish(message.SUBJECT, data)
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + 30
    while len(sink.certificates) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await nc.close()
    return sorted((sink.certificates[n] - sent_at[n]) * 1000 for n in sink.certificates)


async def delivery_summary(database: BenchDatabase) -> tuple[dict[str, int], Any]:
    """Deliveries by status, and the spans in which the invitations were recorded and sent."""
    conn = await asyncpg.connect(database.dsn)
    by_status = dict(await conn.fetch("SELECT status, count(*) FROM deliveries GROUP BY status"))
    spans = await conn.fetchrow(
        "SELECT extract(epoch FROM max(created_at) - min(created_at)) AS recorded,"
        " extract(epoch FROM max(sent_at) - min(created_at)) AS sent FROM deliveries WHERE template = 'invitation'"
    )
    await conn.close()
    return by_status, spans


def report(args: argparse.Namespace, run: InvitationRun, by_status: dict[str, int], spans: Any, latencies: list[float]) -> None:
    count = args.count
    print(f"invitations: {count} emails accepted by SMTP in {run.total_s:.2f} s from the first publish")
    print(f"  = {count / run.total_s:.0f} emails/s end to end (JetStream -> inbox -> delivery log -> SMTP)")
    print(f"  publishing to JetStream took {run.published_s:.2f} s; first email after {run.first_s:.2f} s")
    print(f"  SMTP pool size {args.pool}; deliveries by status: {by_status}")
    print(
        f"  service CPU: {run.cpu_used_s:.1f} s = {run.cpu_used_s / count * 1000:.2f} ms per email"
        f" (one core's worth: {count / run.cpu_used_s:.0f} emails/s)"
    )
    print(
        f"  all recorded (consumer) within {spans['recorded']:.2f} s; all sent within {spans['sent']:.2f} s of the first record"
    )
    print(
        f"memory: idle {run.idle_rss / 1024:.0f} MB, peak sampled {run.peak_sampled / 1024:.0f} MB, VmHWM {run.peak_hwm / 1024:.0f} MB"
    )
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"certificates at 50/s: {len(latencies)} of {args.certificates}; publish -> SMTP accepted p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--pool", type=int, default=8)
    parser.add_argument("--certificates", type=int, default=200)
    parser.add_argument("--profile", help="py-spy binary: record the service during the invitations (collapsed stacks)")
    return parser.parse_args()


async def main() -> int:
    args = parse_args()
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    database = await BenchDatabase.create(admin)
    sink = CountingSink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    workdir = Path(tempfile.mkdtemp(prefix="ten99-notify-bench-"))
    nats_server = NatsServerProcess(workdir / "nats").start()
    db_url = admin.rsplit("/", 1)[0] + "/" + database.name
    service = Service.start(args, db_url, nats_server.url, smtp_port, workdir)
    try:
        service.wait_ready()
        run = await measure_invitations(args, service, nats_server.url, sink)
        latencies = await measure_certificates(args.certificates, nats_server.url, sink)
        by_status, spans = await delivery_summary(database)
        report(args, run, by_status, spans, latencies)
        return 0
    finally:
        service.stop()
        nats_server.stop()
        controller.stop()
        await database.drop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
