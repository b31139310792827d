"""The whole system as real processes: every service (``python -m <svc> all``) wired together.

Used by the end-to-end and browser tests, the benchmarks, and ``make run`` (scripts/run_local.py).
Each service gets its own database URL, HTTP port and log file; all share one NATS and one SMTP
server. Clocks are controllable so tests can move time (`set_clock`, `tick`). The services run as
the development default (``<SVC>_DEVELOPMENT=true``) with an operator token for the ``/_ops`` calls.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .ports import free_port

__all__ = ["SERVICES", "PortTaken", "ServiceProcess", "System"]

#: start order: the gateway last, so that its dependencies answer when it comes up
SERVICES = ("contractor", "enrollment", "policy", "billing", "notification", "gateway")
DEFAULT_PORTS = {"gateway": 8000, "contractor": 8001, "enrollment": 8002, "policy": 8003, "billing": 8004, "notification": 8005}


class PortTaken(RuntimeError):
    """A service exited because its HTTP port was bound by something else before it was."""


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: Any = None
    #: ``all`` (API, consumers and relay in one process), or ``api``, ``worker`` or ``relay`` alone
    mode: str = "all"
    #: more arguments after the mode (``--no-migrate``)
    args: tuple[str, ...] = ()
    #: where this start's output begins in the (appended) log
    _log_offset: int = field(default=0, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the process's life)
        self._log_offset = self._log.tell()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.name, self.mode, *self.args],
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                if "address already in use" in self._since_start():
                    raise PortTaken(f"{self.name}: port {self.port} was taken; log:\n{self.tail()}")
                raise RuntimeError(f"{self.name} exited; log:\n{self.tail()}")
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=1.0)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout}s ({last}); log:\n{self.tail()}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as in a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, *, crash: bool = False) -> None:
        self.kill() if crash else self.stop()
        self.start()
        self.wait_ready()

    def _since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class System:
    """Every service, configured to find each other."""

    nats_url: str
    database_urls: dict[str, str]
    smtp_host: str
    smtp_port: int
    workdir: Path
    internal_token: str = "e2e-internal-token"  # noqa: S105 (test and development only)
    #: opens /_ops (clock, tick, dead letters) and /schema; the internal token does not
    operator_token: str = "e2e-operator-token"  # noqa: S105 (test and development only)
    #: run as the development default: development secrets accepted, the session cookie not Secure
    development: bool = True
    ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    controllable_clock: bool = True
    catcher: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    #: ports the caller chose: never replaced when a start finds a port taken
    _chosen: frozenset[str] = field(default=frozenset(), init=False, repr=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._chosen = frozenset(self.ports)
        self._configure()

    def _configure(self) -> None:
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        gateway = f"http://127.0.0.1:{self.ports['gateway']}"
        for name in SERVICES:
            p = name.upper()
            env = {
                **os.environ,
                f"{p}_DB__URL": self.database_urls[name],
                f"{p}_NATS__URL": self.nats_url,
                f"{p}_HTTP__PORT": str(self.ports[name]),
                f"{p}_INTERNAL_TOKEN": self.internal_token,
                f"{p}_OPERATOR_TOKEN": self.operator_token,
                f"{p}_DEVELOPMENT": "true" if self.development else "false",
                f"{p}_DATA_DIR": str(self.workdir / "data"),
                f"{p}_CLOCK__CONTROLLABLE": "true" if self.controllable_clock else "false",
                "ENROLLMENT_OPT_IN_BASE_URL": gateway,
                "POLICY_PUBLIC_BASE_URL": gateway,
                "NOTIFICATION_DASHBOARD_URL": gateway,
                "NOTIFICATION_SMTP__HOST": self.smtp_host,
                "NOTIFICATION_SMTP__PORT": str(self.smtp_port),
                "NOTIFICATION_SMTP__CATCHER": "true" if self.catcher else "false",
                "NOTIFICATION_SMTP__CATCHER_PORT": str(self.smtp_port),
                "GATEWAY_DEV_MAILBOX": "true" if self.catcher else "false",
                **{f"GATEWAY_SERVICES__{s.upper()}_URL": f"http://127.0.0.1:{self.ports[s]}" for s in SERVICES if s != "gateway"},
                **self.extra_env,
            }
            self.services[name] = ServiceProcess(name, self.ports[name], env, self.workdir / f"{name}.log", self.cwd)

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].url

    def url(self, name: str) -> str:
        return self.services[name].url

    def start(self, timeout: float = 60.0, attempts: int = 3) -> System:
        """Start every service; wait up to ``timeout`` seconds for each to be ready.

        A free port can still be bound by another process between its pick and the service's
        bind; then every service stops and starts again on new ports (the ones the caller chose
        are kept), up to ``attempts`` times.
        """
        for attempt in range(1, attempts + 1):
            try:
                for s in self.services.values():
                    s.start()
                for s in self.services.values():
                    s.wait_ready(timeout=timeout)
                return self
            except PortTaken:
                self.stop()
                if attempt == attempts or all(n in self._chosen for n in SERVICES):
                    raise
                for name in SERVICES:
                    if name not in self._chosen:
                        del self.ports[name]
                self._configure()
        return self

    def stop(self) -> None:
        for s in reversed(list(self.services.values())):
            s.stop()

    def __enter__(self) -> System:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- talking to services as the gateway does -----------------------------------------

    def client(self, name: str, tenant_id: str | None = None, timeout: float = 30.0) -> httpx.Client:
        headers = {"x-ten99-internal-token": self.internal_token}
        if tenant_id:
            headers["x-tenant-id"] = tenant_id
        return httpx.Client(base_url=self.url(name), headers=headers, timeout=timeout)

    def ops_client(self, name: str, timeout: float = 30.0) -> httpx.Client:
        """As an operator calls a service: ``/_ops`` and ``/schema`` with the operator token."""
        return httpx.Client(base_url=self.url(name), headers={"x-ten99-operator-token": self.operator_token}, timeout=timeout)

    def set_clock(self, now: datetime) -> None:
        for name in SERVICES:
            with self.ops_client(name) as c:
                c.put("/_ops/clock", json={"now": now.isoformat()}).raise_for_status()

    def tick(self, *names: str) -> dict[str, Any]:
        """Run every clock-driven job now, in each service (all by default)."""
        out = {}
        for name in names or SERVICES:
            with self.ops_client(name) as c:
                out[name] = c.post("/_ops/tick").raise_for_status().json()
        return out

    def dead_letters(self) -> dict[str, list[Any]]:
        out = {}
        for name in SERVICES:
            with self.ops_client(name) as c:
                out[name] = c.get("/_ops/dead-letters").raise_for_status().json()
        return out

    def logs(self, lines: int = 40) -> str:
        return "\n\n".join(f"== {n} ==\n{s.tail(lines)}" for n, s in self.services.items())


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met after {timeout}s")
        time.sleep(interval)
