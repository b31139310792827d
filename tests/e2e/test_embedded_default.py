"""The embedded default as a whole: ``make run``'s launcher (scripts/run_local.py) on free ports and
a temporary data folder, on SQLite with its own nats-server (from the wheel) and the SMTP catcher,
as a developer uses it: it seeds the demo company and prints a login and an API key; the dashboard
answers; a CSV upload invites the contractor, the invitation shows in the Mailbox, the opt-in link
from it works and the certificate follows; Ctrl-C stops every process it started and frees every
port; a second start on the same data folder keeps the company and its credentials.

It needs neither PostgreSQL nor a NATS of the machine (TEST_DATABASE_URL and TEST_NATS_URL are kept
from the launcher), so it runs wherever ``make run`` does."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import httpx
import pytest
from ten99_testing.ports import free_port
from ten99_testing.system import SERVICES
from ten99_testing.waiting import wait_until_sync

from .flow import Row, csv_bytes, opt_in_form, page_state, submit_opt_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "run_local.py"
#: starting includes migrating six SQLite databases and seeding: slow on a busy 2-core machine
START_TIMEOUT_S = 150.0
#: the launcher gives each service 20 s after SIGTERM, then NATS 10 s
STOP_TIMEOUT_S = 60.0
#: what the environment may set for tests, or a developer for one service, that the launcher must not see
FOREIGN_ENV = ("TEST_", "TEN99_", *(f"{s.upper()}_" for s in SERVICES))


# -- the launcher as a process ------------------------------------------------------------------


@dataclass
class Launched:
    proc: subprocess.Popen[str]
    data: Path
    ports: dict[str, int]
    stderr_path: Path
    lines: list[str] = field(default_factory=list)
    dashboard: str = ""
    email: str = ""
    password: str = ""
    api_key: str = ""

    def output(self) -> str:
        return "".join(self.lines) + "\n-- stderr --\n" + self.stderr_path.read_text(errors="replace")

    def parse(self) -> bool:
        """The dashboard URL, login and API key from the banner, once printed."""
        text = "".join(self.lines)
        dashboard = re.search(r"^\s*Dashboard\s+(http://\S+?)/?$", text, re.M)
        login = re.search(r"^\s*Login\s+(\S+@\S+)\s+/\s+(\S+)\s*$", text, re.M)
        key = re.search(r"^\s*API key\s+(\S+)\s*$", text, re.M)
        if not (dashboard and login and key):
            return False
        self.dashboard, (self.email, self.password), self.api_key = dashboard.group(1), login.groups(), key.group(1)
        return True


def _pump(stream: IO[str], into: list[str]) -> None:
    for line in stream:
        into.append(line)


def launch(data: Path, stderr_path: Path) -> Launched:
    """Start the launcher as a terminal starts a command: in a process group of its own, which a
    Ctrl-C signals as a whole."""
    ports = {name: free_port() for name in (*SERVICES, "nats", "smtp")}
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(FOREIGN_ENV)}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    stderr = stderr_path.open("a")
    proc = subprocess.Popen(
        [sys.executable, str(LAUNCHER), f"--data-dir={data}", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )
    stderr.close()
    assert proc.stdout is not None
    launched = Launched(proc, data, ports, stderr_path)
    threading.Thread(target=_pump, args=(proc.stdout, launched.lines), daemon=True).start()
    return launched


def wait_ready(launched: Launched) -> None:
    """Until the launcher printed its banner (dashboard, login, API key)."""

    def banner() -> bool:
        if launched.proc.poll() is not None:
            raise AssertionError(f"the launcher exited with {launched.proc.returncode} before it was ready")
        return launched.parse()

    wait_until_sync(banner, timeout=START_TIMEOUT_S, interval=0.2, what="the launcher's banner (dashboard, login, API key)")


def interrupt(launched: Launched) -> int:
    """Ctrl-C, as a terminal sends it (SIGINT to the launcher's process group); its exit status."""
    try:
        os.killpg(launched.proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    try:
        return launched.proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the launcher did not exit {STOP_TIMEOUT_S:g} s after SIGINT:\n{launched.output()}") from None


# -- processes and ports --------------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    #: the start time in clock ticks since boot: a pid reused later is another process
    started: int
    cmdline: str


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # gone meanwhile, or another user's
        return b""


def processes_of(data: Path) -> set[Proc]:
    """Every process whose command line or environment names the data folder: the launcher (its
    --data-dir), the nats-server (its store) and the services (their database URLs)."""
    marker = str(data).encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        cmdline = _read(entry / "cmdline")
        if marker not in cmdline and marker not in _read(entry / "environ"):
            continue
        stat = _read(entry / "stat").decode(errors="replace")
        if not stat or stat.rsplit(")", 1)[-1].split()[0] == "Z":  # a zombie holds no port and no file
            continue
        started = int(stat.rsplit(")", 1)[-1].split()[19])
        found.add(Proc(int(entry.name), started, cmdline.replace(b"\0", b" ").decode(errors="replace").strip()))
    return found


def still_running(procs: set[Proc]) -> list[Proc]:
    left = []
    for p in procs:
        stat = _read(Path(f"/proc/{p.pid}/stat")).decode(errors="replace")
        if stat:
            fields = stat.rsplit(")", 1)[-1].split()
            if fields[0] != "Z" and int(fields[19]) == p.started:
                left.append(p)
    return left


def port_is_free(port: int) -> bool:
    """Nothing answers on it, and a new server can listen on it (as servers do, with SO_REUSEADDR:
    the connections the test made may linger in TIME_WAIT)."""
    with socket.socket() as s:
        s.settimeout(1.0)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def expected_processes(launched: Launched) -> set[Proc]:
    """The launcher, its nats-server and every service, found by the data folder."""

    def complete() -> set[Proc]:
        procs = processes_of(launched.data)
        text = " | ".join(p.cmdline for p in procs)
        return procs if all(f"-m {s} " in text for s in SERVICES) and "nats-server" in text else set()

    procs = wait_until_sync(complete, timeout=10, what="the launcher's processes in /proc")
    assert launched.proc.pid in {p.pid for p in procs}
    return procs


def assert_stopped_cleanly(launched: Launched, procs: set[Proc]) -> None:
    status = interrupt(launched)
    assert status == 0, launched.output()
    left = still_running(procs) + [p for p in processes_of(launched.data) if p not in procs]
    assert not left, f"processes left after Ctrl-C: {left}"
    busy = {name: port for name, port in launched.ports.items() if not port_is_free(port)}
    assert not busy, f"ports still in use after Ctrl-C: {busy}"


@contextmanager
def running_launcher(data: Path, stderr_path: Path) -> Iterator[Launched]:
    """The launcher, and whatever happens in the test, nothing of it left afterwards."""
    launched: Launched | None = None
    try:
        launched = launch(data, stderr_path)
        wait_ready(launched)
        yield launched
    except BaseException:
        if launched is not None:
            print(launched.output())
        for log in sorted((data / "logs").glob("*.log")):
            print(f"== {log.name} ==\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
        raise
    finally:
        if launched is not None and launched.proc.poll() is None:
            try:
                interrupt(launched)
            except AssertionError:
                launched.proc.kill()
                launched.proc.wait()
        for p in processes_of(data):  # after a failure: whatever it left
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- the dashboard ----------------------------------------------------------------------------------

_CSRF = re.compile(r'name="_csrf"\s+value="([^"]+)"')
_MAIL = re.compile(r'data-mail-id="([^"]+)".*?data-testid="mail-subject">([^<]*)</a>', re.S)
_BODY = re.compile(r'data-testid="mail-body-text">(.*?)</pre>', re.S)
_LINK = re.compile(r"https?://[^\s\"'<>]+/opt-in/[A-Za-z0-9_\-]+")


def csrf(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, f"no CSRF field on {page.url}: {page.text[:1000]}"
    return html.unescape(found.group(1))


def log_in(base: str, email: str, password: str) -> httpx.Client:
    """A dashboard session, as a browser gets it: the login form's cookie and field, then POST."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login")
    assert form.status_code == 200, form.text
    answer = client.post("/login", data={"_csrf": csrf(form), "email": email, "password": password, "next": ""})
    assert answer.status_code == 303, f"login refused ({answer.status_code}): {answer.text[:1000]}"
    assert answer.headers["location"].endswith("/contractors")
    return client


def mailbox(dashboard: httpx.Client) -> list[tuple[str, str]]:
    """(mail id, subject) of every message on the Mailbox page."""
    page = dashboard.get("/mailbox")
    assert page.status_code == 200, page.text[:1000]
    return [(mail_id, html.unescape(subject)) for mail_id, subject in _MAIL.findall(page.text)]


def wait_mail(dashboard: httpx.Client, subject: str, timeout: float = 60) -> str:
    """The id of the first message whose subject contains ``subject``, once it is in the Mailbox."""

    def found() -> str:
        return next((mail_id for mail_id, s in mailbox(dashboard) if subject in s), "")

    return wait_until_sync(found, timeout=timeout, interval=0.25, what=f"a mail about {subject!r} in the Mailbox")


def mail_text(dashboard: httpx.Client, mail_id: str) -> str:
    page = dashboard.get(f"/mailbox/{mail_id}")
    assert page.status_code == 200, page.text[:1000]
    body = _BODY.search(page.text)
    assert body, page.text[:2000]
    return html.unescape(body.group(1))


def api(launched: Launched) -> httpx.Client:
    return httpx.Client(
        base_url=f"{launched.dashboard}/api/v1", headers={"Authorization": f"Bearer {launched.api_key}"}, timeout=30
    )


class Steps:
    """Prints how long each step took (shown when the test fails, or with -s)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()

    def __call__(self, what: str) -> None:
        now = time.monotonic()
        print(f"{now - self.start:6.1f} s (+{now - self.last:5.1f} s) {what}", flush=True)
        self.last = now


# -- the test -----------------------------------------------------------------------------------------


def test_make_run_seeds_serves_mails_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "var"
    step = Steps()
    today = datetime.now(UTC).date()
    start = today + timedelta(days=3)
    ada = Row(
        "Nike",
        "Ada",
        "Lovelace",
        "ada@example.com",
        "CA",
        "Photographer",
        "CA",
        "1200",
        "flatfee",
        start,
        start + timedelta(days=9),
    )

    # -- the first run: the demo company is created, its login and API key printed ---------------------
    with running_launcher(data, tmp_path / "first.stderr") as first:
        procs = expected_processes(first)
        step("first start: seeded and ready")
        assert first.email == "demo@ten99.test" and first.api_key
        assert (data / "contractor.db").exists() and (data / "nats").is_dir()  # SQLite and NATS's store in the data folder

        with closing(log_in(first.dashboard, first.email, first.password)) as dashboard, api(first) as public:
            contractors = dashboard.get("/contractors")
            assert contractors.status_code == 200
            assert 'data-testid="company-name">Demo Company<' in contractors.text
            for path in ("/imports", "/invoices", "/po/missing", "/settings", "/mailbox"):
                assert dashboard.get(path).status_code == 200, path
            r = public.get("/contractors")
            assert r.status_code == 200, r.text

            # a CSV through the dashboard's upload form: one contractor, one assignment
            imports = dashboard.get("/imports")
            upload = dashboard.post(
                "/imports",
                data={"_csrf": csrf(imports)},
                files={"file": ("contractors.csv", csv_bytes([ada]), "text/csv")},
            )
            assert upload.status_code == 303 and "/imports/" in upload.headers["location"], upload.text[:1000]

            # the invitation in the Mailbox, with the opt-in link
            step("dashboard and API answer; CSV uploaded")
            invitation = mail_text(dashboard, wait_mail(dashboard, "invites you to get insured"))
            link = _LINK.search(invitation)
            assert link, invitation
            assert link.group(0).startswith(first.dashboard)

            # the contractor opts in through it; the certificate follows
            step("the invitation is in the Mailbox")
            answered = submit_opt_in(link.group(0), opt_in_form(link.group(0)))
            assert answered.status_code == 200 and page_state(answered.text) == "done", answered.text[:2000]
            certificate_id = wait_mail(dashboard, "Certificate of Insurance")
            step("opted in; the certificate is in the Mailbox")
            certificate = dashboard.get(f"/mailbox/{certificate_id}")
            assert re.search(rf'data-testid="mail-to">[^<]*{re.escape(ada.email)}', certificate.text), certificate.text[:2000]
            pdf = dashboard.get(f"/mailbox/{certificate_id}/attachments/0")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

            listed = public.get("/contractors").json()
            assert "ada@example.com" in str(listed), listed

        # -- Ctrl-C: every process gone, every port free -------------------------------------------------
        assert_stopped_cleanly(first, procs)
        step("first run stopped: no process left, every port free")

    # -- the second run on the same data folder: the same company, login and API key -----------------
    with running_launcher(data, tmp_path / "second.stderr") as second:
        procs = expected_processes(second)
        step("second start: ready")
        assert (second.email, second.password, second.api_key) == (first.email, first.password, first.api_key)
        with closing(log_in(second.dashboard, second.email, second.password)) as dashboard, api(second) as public:
            assert "Ada Lovelace" in dashboard.get("/contractors").text
            assert any("Certificate of Insurance" in s for _, s in mailbox(dashboard))
            r = public.get("/contractors")
            assert r.status_code == 200 and "ada@example.com" in r.text, r.text
        step("second run: same login and key, the data kept")
        assert_stopped_cleanly(second, procs)
        step("second run stopped: no process left, every port free")
