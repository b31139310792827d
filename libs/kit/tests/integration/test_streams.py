"""Stream provisioning reconciles an existing stream with its spec: a changed replica count,
retention age or subject list is applied at start-up, on a real single node and on a real
three-node JetStream cluster (nats-server 2.15 from the wheel)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.js.api import StorageType
from ten99_contracts import StreamSpec
from ten99_testing import wait_until
from ten99_testing.nats_server import nats_server_binary
from ten99_testing.ports import free_port, wait_for_port
from ten99kit.bus import ensure_streams, reconcile_stream, stream_config

pytestmark = pytest.mark.integration

SPEC = StreamSpec(name="TEN99_RECONCILE", subjects=["ten99.reconcile.>"], max_age_s=3600.0)


@pytest_asyncio.fixture
async def js(jetstream_url: str) -> AsyncIterator[Any]:
    nc = await nats.connect(jetstream_url)
    try:
        yield nc.jetstream(timeout=10)
    finally:
        await nc.close()


async def test_a_changed_max_age_and_subject_list_are_applied_and_an_operators_limit_is_kept(js: Any) -> None:
    await ensure_streams(js, specs=[SPEC])
    # an operator's own limit, set by hand on the running stream, is not the kit's to undo
    info = await js.stream_info(SPEC.name)
    await js.update_stream(dataclasses.replace(info.config, max_msgs=12345))
    await js.publish("ten99.reconcile.thing.v1", b"kept")

    changed = StreamSpec(name=SPEC.name, subjects=["ten99.reconcile.>", "ten99.extra.>"], max_age_s=7200.0)
    await ensure_streams(js, specs=[changed])

    config = (await js.stream_info(SPEC.name)).config
    assert config.max_age == 7200.0
    assert sorted(config.subjects) == ["ten99.extra.>", "ten99.reconcile.>"]
    assert config.max_msgs == 12345
    assert (await js.stream_info(SPEC.name)).state.messages == 1
    # and a second start finds nothing to change
    assert await reconcile_stream(js, config, stream_config(changed, 1)) == {}


async def test_a_storage_change_is_reported_not_applied(js: Any) -> None:
    await ensure_streams(js, specs=[SPEC])
    current = (await js.stream_info(SPEC.name)).config
    wanted = dataclasses.replace(stream_config(SPEC, 1), storage=StorageType.MEMORY)
    # storage is fixed at creation: nothing to update, the stream keeps its file storage
    assert await reconcile_stream(js, current, wanted) == {}
    assert (await js.stream_info(SPEC.name)).config.storage == StorageType.FILE


async def test_asking_a_single_node_for_three_replicas_fails_the_start_loudly(js: Any) -> None:
    await ensure_streams(js, specs=[SPEC])
    with pytest.raises(Exception, match=r"(?i)replicas"):
        await ensure_streams(js, replicas=3, specs=[SPEC])
    assert (await js.stream_info(SPEC.name)).config.num_replicas == 1


# -- a real three-node cluster ----------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[str]]:
    """Three nats-servers routed to each other (cluster ``c``), each with JetStream and its own
    store; yields their client URLs."""
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
    procs = []
    try:
        for i in range(3):
            store = tmp_path / f"n{i}"
            store.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        nats_server_binary(),
                        "-js",
                        "-a",
                        "127.0.0.1",
                        "-p",
                        str(client_ports[i]),
                        "-sd",
                        str(store),
                        "-n",
                        f"n{i}",
                        "--cluster_name",
                        "c",
                        "--cluster",
                        f"nats://127.0.0.1:{route_ports[i]}",
                        "--routes",
                        routes,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in client_ports:
            wait_for_port(port)
        yield [f"nats://127.0.0.1:{p}" for p in client_ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _meta_leader_elected(js: Any) -> bool:
    try:
        await js.account_info()
    except Exception:
        return False
    return True


async def _replicas_in_step(js: Any) -> tuple[int, int]:
    """(configured replicas, peers that are current besides the leader)."""
    info = await js.stream_info(SPEC.name)
    peers = (info.cluster.replicas if info.cluster else None) or []
    return info.config.num_replicas, sum(1 for p in peers if p.current and not p.offline)


async def test_an_r1_stream_becomes_r3_when_replicas_is_raised_on_a_cluster(cluster: list[str]) -> None:
    nc = await nats.connect(cluster)
    try:
        js = nc.jetstream(timeout=10)
        await wait_until(lambda: _meta_leader_elected(js), timeout=60, what="the cluster elected a JetStream meta leader")
        await ensure_streams(js, replicas=1, specs=[SPEC])
        for n in range(5):
            await js.publish(f"ten99.reconcile.thing.v{n}", b"x")
        assert await _replicas_in_step(js) == (1, 0)

        await ensure_streams(js, replicas=3, specs=[SPEC])

        # the update returns once accepted; the two new peers then catch up with the leader
        await wait_until(
            lambda: _replicas_in_step(js), satisfies=lambda r: r == (3, 2), timeout=60, what="three replicas in step"
        )
        info = await js.stream_info(SPEC.name)
        assert info.state.messages == 5
        # and lowering it again (an operator shrinking the cluster) is applied the same way
        await ensure_streams(js, replicas=1, specs=[SPEC])
        await wait_until(lambda: _replicas_in_step(js), satisfies=lambda r: r == (1, 0), what="back to one replica")
        assert (await js.stream_info(SPEC.name)).state.messages == 5
    finally:
        await nc.close()
