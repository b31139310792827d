"""The production NATS users (components/nats-cluster/nats.conf, generated) against a real
nats-server 2.15 with client TLS: each service, connecting as the kit does (a ``tls://`` URL, the
CA trusted through SSL_CERT_FILE), provisions the six streams, creates its durable consumers,
publishes its own events and fetches and acknowledges what it consumes; what is not its own
(another context's subjects, another service's consumer, deleting a stream) is refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nats
import pytest
import pytest_asyncio
from ten99_contracts import STREAMS, stream_for_subject
from ten99_testing.ports import free_port
from ten99_testing.waiting import wait_until
from ten99kit.bus import Bus, ensure_streams
from ten99kit.follow import Follower
from ten99kit.inbox import InboxConsumer, Subscription
from ten99kit.settings import NatsSettings

from tests.deploy.support import ROOT, SERVICES, generate, kustomize, validate


def _single_node(conf: str, folder: Path, port: int) -> str:
    """The cluster node's config as one node on a free port: the cluster block removed (one node
    has no routes), the container's paths moved into ``folder``; users, TLS and JetStream as is."""
    conf = re.sub(r"^cluster \{.*?^\}\n", "", conf, flags=re.M | re.S)
    conf = conf.replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{port}").replace("http_port: 8222\n", "")
    conf = conf.replace("/etc/nats/tls/", f"{folder}/").replace("/var/run/nats/", f"{folder}/")
    return conf.replace("store_dir: /data/jetstream", f"store_dir: {folder}/js")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A nats-server on the generated config; yields its tls:// address and the users' passwords."""
    v = validate()
    conf = kustomize("overlays/production").config_maps["nats-config"]["nats.conf"]
    with tempfile.TemporaryDirectory() as tmp:
        folder, port = Path(tmp), free_port()
        v.throwaway_tls(folder)
        (folder / "nats.conf").write_text(_single_node(conf, folder, port))
        env = v.nats_env()
        log = (folder / "nats.log").open("w")  # the server's own account of what it refused
        proc = subprocess.Popen(
            [str(v.nats_server()), "-c", str(folder / "nats.conf")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        previous = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(folder / "ca.crt")  # as the pods get it (the component's patch)
        try:
            yield f"localhost:{port}", env
        finally:
            if previous is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = previous
            proc.terminate()
            proc.wait(timeout=10)
            log.close()


async def _bus(address: str, svc: str, env: dict[str, str], api_timeout_s: float = 60.0) -> Bus:
    # a loaded machine may take more than the kit's 5 s for a consumer create on a server that
    # syncs every write (sync_interval: always): the test waits on the answer, not on the clock
    url = f"tls://{svc}:{env['NATS_PASSWORD_' + svc.upper()]}@{address}"
    bus = Bus(NatsSettings(url=url, api_timeout_s=api_timeout_s), name=f"test-{svc}")

    async def connected() -> bool:
        await bus.connect(retry_first=False)
        return True

    await wait_until(connected, timeout=10, what="nats-server accepting a connection", retry_on=(Exception,))
    return bus


async def _refused(address: str, svc: str, env: dict[str, str], subject: str, *, subscribe: bool = False) -> str:
    """Publish (or subscribe) as ``svc`` to ``subject``; returns the server's permissions error."""
    refused: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def error(e: Exception) -> None:
        if "permissions violation" in str(e).lower() and not refused.done():
            refused.set_result(str(e))

    nc = await nats.connect(f"tls://{svc}:{env['NATS_PASSWORD_' + svc.upper()]}@{address}", error_cb=error)
    try:
        if subscribe:
            await nc.subscribe(subject)
        else:
            await nc.publish(subject, b"{}")
        await nc.flush()
        return await asyncio.wait_for(refused, timeout=10)
    finally:
        await nc.close()


async def _ops_jetstream(action: str, svc: str, address: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """scripts/ops_jetstream.py as an operator runs it in the service's pod (its NATS URL, the CA)."""
    url = f"tls://{svc}:{env['NATS_PASSWORD_' + svc.upper()]}@{address}"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "scripts" / "ops_jetstream.py"),
        action,
        svc,
        env={**os.environ, f"{svc.upper()}_NATS__URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


async def _ignore(*_: Any) -> None:
    return None


@pytest.mark.timeout(120)
async def test_each_service_user_may_do_its_own_work_and_nothing_else(server: tuple[str, dict[str, str]]) -> None:
    address, env = server
    consumed = generate().service_subscriptions()
    buses = {svc: await _bus(address, svc, env) for svc in SERVICES}
    try:
        for svc in SERVICES:  # every process provisions and reconciles all six streams
            await ensure_streams(buses[svc].js, replicas=1)
        # each consumer of each service: created (as the kit's InboxConsumer does) and readable
        subs: dict[tuple[str, str, str], Any] = {}
        for svc in SERVICES:
            settings = NatsSettings()
            subscriptions = [Subscription(s, _ignore, name=name) for s, name in consumed[svc]]
            inbox = InboxConsumer(SimpleNamespace(service=svc), buses[svc], settings, subscriptions, None, None)  # type: ignore[arg-type]
            for sub in subscriptions:
                subs[(svc, sub.subject, sub.name)] = await inbox._subscribe(sub)
                info = await buses[svc].js.consumer_info(stream_for_subject(sub.subject).name, inbox.durable(sub))
                assert info.config.filter_subject == sub.subject
        # the producer publishes its event; every consumer of it fetches and acknowledges it
        for (svc, subject, name), sub in subs.items():
            producer = subject.split(".")[1]
            msg_id = f"{svc}-{name}-{subject}"
            ack = await buses[producer].js.publish(subject, b"{}", headers={"Nats-Msg-Id": msg_id})
            assert ack.stream == STREAMS[producer].name
            (msg,) = await sub.fetch(1, timeout=60)
            await msg.ack_sync()
        await _follow_each_followed_subject(buses)
    finally:
        for bus in buses.values():
            await bus.close()
    # the operator's script, in a service's pod with its settings: its consumers listed, then reset
    for action in ("consumers", "reset-consumers"):
        out = await _ops_jetstream(action, "contractor", address, env)
        assert sorted(line["stream"] for line in out) == sorted(stream_for_subject(s).name for s, _ in consumed["contractor"])
    # what is not theirs is refused
    assert "ten99.billing.invoice_issued.v1" in await _refused(address, "contractor", env, "ten99.billing.invoice_issued.v1")
    other = "$JS.API.CONSUMER.INFO.TEN99_CONTRACTOR.billing__ten99_contractor_job_upserted_v1"
    assert "billing__" in await _refused(address, "policy", env, other)
    assert "delete" in await _refused(address, "gateway", env, "$JS.API.STREAM.DELETE.TEN99_GATEWAY")
    assert "purge" in await _refused(address, "notification", env, "$JS.API.STREAM.PURGE.TEN99_BILLING")
    # following is plain subscribing, to the followed subjects only
    not_followed = "ten99.contractor.assignment_created.v1"
    assert not_followed in await _refused(address, "gateway", env, not_followed, subscribe=True)


async def _follow_each_followed_subject(buses: dict[str, Bus]) -> None:
    """Each subject a service follows (the gateway's cached answers: `Follower`) is heard by it,
    as its producer publishes it into JetStream."""
    followed = generate().service_followed()
    assert followed["gateway"], "the gateway follows the contractor service's changes"
    for svc, subjects in followed.items():
        if subjects:
            await _follow(buses, svc, subjects)
    # a subject the user may not subscribe to: refused by the server, and the follower never live
    stop = asyncio.Event()
    follower = Follower(buses["gateway"], ["ten99.contractor.assignment_created.v1"], lambda *_: None, lambda: None)
    task = asyncio.create_task(follower.run(stop))
    try:
        await wait_until(lambda: follower.refused, what="the server refusing the subscription")
        assert not follower.live
    finally:
        stop.set()
        await task


async def _follow(buses: dict[str, Bus], svc: str, subjects: list[str]) -> None:
    heard: list[str] = []
    stop = asyncio.Event()
    follower = Follower(buses[svc], subjects, lambda subject, _data: heard.append(subject), lambda: None)
    task = asyncio.create_task(follower.run(stop))
    try:
        await wait_until(lambda: follower.live, what=f"{svc} following {subjects}")
        for subject in subjects:
            await buses[subject.split(".")[1]].js.publish(subject, b"{}")
        await wait_until(lambda: sorted(heard) == sorted(subjects), what=f"{svc} hearing {subjects}")
    finally:
        stop.set()
        await task


def _cluster_node(conf: str, folder: Path, node: int, clients: list[int], routes: list[int]) -> str:
    """The cluster node's config as node ``node`` of three on this machine: the same TLS (mutual on
    the routes), users and JetStream; the routes point at the other nodes' local ports."""
    conf = conf.replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{clients[node]}").replace("http_port: 8222\n", "")
    conf = conf.replace("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{routes[node]}")
    for i, port in enumerate(routes):
        conf = conf.replace(f"nats-route://nats-{i}.nats-headless:6222", f"nats-route://localhost:{port}")
    conf = conf.replace("/etc/nats/tls/", f"{folder}/").replace("/var/run/nats/nats.pid", f"{folder}/nats-{node}.pid")
    return conf.replace("store_dir: /data/jetstream", f"store_dir: {folder}/js-{node}")


@pytest.mark.timeout(180)
async def test_three_nodes_form_a_cluster_over_tls_routes_and_hold_r3_streams() -> None:
    v = validate()
    conf = kustomize("overlays/production").config_maps["nats-config"]["nats.conf"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        v.throwaway_tls(folder)
        clients, routes = [free_port() for _ in range(3)], [free_port() for _ in range(3)]
        procs = []
        for node in range(3):
            (folder / f"nats-{node}.conf").write_text(_cluster_node(conf, folder, node, clients, routes))
            env = {**v.nats_env(), "POD_NAME": f"nats-{node}"}
            procs.append(
                subprocess.Popen(
                    [str(v.nats_server()), "-c", str(folder / f"nats-{node}.conf")],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,  # the nodes log every route and client they see
                )
            )
        previous = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = str(folder / "ca.crt")
        try:
            env = v.nats_env()
            # short API requests: one sent before the meta leader is elected gets no answer, and is sent again
            bus = await _bus(f"localhost:{clients[0]}", "contractor", env, api_timeout_s=5.0)
            try:
                # JetStream answers once the three nodes elected a meta leader over their routes
                async def provisioned() -> bool:
                    await ensure_streams(bus.js, replicas=3)
                    return True

                await wait_until(provisioned, timeout=120, what="the cluster's JetStream", retry_on=(Exception,))
                info = await bus.js.stream_info("TEN99_CONTRACTOR")
                assert info.config.num_replicas == 3
                assert info.cluster is not None and len(info.cluster.replicas or []) == 2
                ack = await bus.js.publish("ten99.contractor.contractor_registered.v1", b"{}")
                assert ack.stream == "TEN99_CONTRACTOR"
            finally:
                await bus.close()
            # another node serves the same stream to another service's user
            other = await _bus(f"localhost:{clients[2]}", "enrollment", env)
            try:
                info = await other.js.stream_info("TEN99_CONTRACTOR")
                assert info.state.messages == 1
            finally:
                await other.close()
        finally:
            if previous is None:
                del os.environ["SSL_CERT_FILE"]
            else:
                os.environ["SSL_CERT_FILE"] = previous
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=10)
