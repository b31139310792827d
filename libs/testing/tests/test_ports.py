"""Ports for the processes tests start: never one the kernel may give an outgoing connection, and
a whole system that still finds a port taken starts again on others."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from ten99_testing import NatsServerProcess, free_port
from ten99_testing.ports import _ephemeral_low
from ten99_testing.system import SERVICES, PortTaken, ServiceProcess, System


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    low = _ephemeral_low()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    if low is not None:
        assert all(10_000 <= p < low for p in ports)
    for p in ports[:20]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))


@pytest.fixture
def held() -> Iterator[socket.socket]:
    """A port something else listens on, as when another process took it after it was picked."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))
        s.listen()
        yield s


def _system(nats: NatsServerProcess, tmp_path: Path, **kw: object) -> System:
    return System(
        nats_url=nats.url,
        database_urls={s: f"sqlite+aiosqlite:///{tmp_path / s}.db" for s in SERVICES},
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        workdir=tmp_path / "system",
        **kw,  # type: ignore[arg-type]
    )


def test_a_system_whose_port_was_taken_starts_again_on_new_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every process stops and every service gets a new port (its neighbours' URLs follow); the
    processes here stand in for the services (the detection itself is the next test's)."""
    system = _system(NatsServerProcess(tmp_path / "unused"), tmp_path, ports={"notification": free_port()})
    first = dict(system.ports)
    started: list[dict[str, int]] = []
    stopped: list[str] = []

    def start(self: ServiceProcess) -> None:
        started.append({self.name: self.port})

    def wait_ready(self: ServiceProcess, timeout: float = 60.0) -> None:
        if self.name == "gateway" and len(started) <= len(SERVICES):
            raise PortTaken(f"gateway: port {self.port} was taken")

    monkeypatch.setattr(ServiceProcess, "start", start)
    monkeypatch.setattr(ServiceProcess, "wait_ready", wait_ready)
    monkeypatch.setattr(ServiceProcess, "stop", lambda self, timeout=20.0: stopped.append(self.name))
    system.start()
    assert len(started) == 2 * len(SERVICES) and sorted(stopped) == sorted(SERVICES)
    assert system.ports["notification"] == first["notification"]
    moved = [s for s in SERVICES if s != "notification"]
    assert all(system.ports[s] != first[s] for s in moved)
    assert system.services["gateway"].env["GATEWAY_SERVICES__CONTRACTOR_URL"] == system.url("contractor")
    assert system.services["enrollment"].env["ENROLLMENT_OPT_IN_BASE_URL"] == system.gateway_url
    assert system.url("contractor") == f"http://127.0.0.1:{system.ports['contractor']}"


def test_a_port_taken_three_times_or_chosen_by_the_caller_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def wait_ready(self: ServiceProcess, timeout: float = 60.0) -> None:
        raise PortTaken(f"{self.name}: port {self.port} was taken")

    monkeypatch.setattr(ServiceProcess, "start", lambda self: None)
    monkeypatch.setattr(ServiceProcess, "wait_ready", wait_ready)
    nats = NatsServerProcess(tmp_path / "unused")
    with pytest.raises(PortTaken):
        _system(nats, tmp_path).start()
    chosen = {s: free_port() for s in SERVICES}
    system = _system(nats, tmp_path, ports=dict(chosen))
    with pytest.raises(PortTaken):
        system.start(attempts=3)
    assert system.ports == chosen


def test_a_service_whose_port_is_bound_reports_the_port_taken(
    private_nats: NatsServerProcess, held: socket.socket, tmp_path: Path
) -> None:
    """A service that finds its port bound exits, and that is told apart from any other exit."""
    taken = held.getsockname()[1]
    system = _system(private_nats, tmp_path, ports={"contractor": taken})
    contractor = system.services["contractor"]
    try:
        with pytest.raises(PortTaken, match=f"contractor: port {taken} was taken"):
            contractor.start()
            contractor.wait_ready(timeout=60)
        contractor.stop()
        contractor.env = {**contractor.env, "CONTRACTOR_DB__URL": "nowhere://"}
        contractor.port = free_port()
        with pytest.raises(RuntimeError, match="contractor exited") as e:
            contractor.start()
            contractor.wait_ready(timeout=60)
        assert not isinstance(e.value, PortTaken)
    finally:
        system.stop()
