"""The deployment's policy (tests/deploy/support.py: ``violations``) holds for the files as they
are, and rejects each deliberate breakage in MUTATIONS: every one of them is a mistake an edit
could make (the issue's list of breakages the earlier tests missed, and more). A mutation applies
to the rendered overlays, the NATS configs or docker-compose.yml, never to the files themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.support import SERVICES, State, current_state, violations

Mutation = Callable[[State], None]


def _deployment(state: State, name: str, overlay: str = "production") -> dict[str, Any]:
    (d,) = [r for r in state.builds[overlay].resources if r["kind"] == "Deployment" and r["metadata"]["name"] == name]
    return d


def _resource(state: State, kind: str, name: str, overlay: str = "production") -> dict[str, Any]:
    (r,) = [r for r in state.builds[overlay].resources if r["kind"] == kind and r["metadata"]["name"] == name]
    return r


def _pod(state: State, name: str, overlay: str = "production") -> dict[str, Any]:
    spec: dict[str, Any] = _deployment(state, name, overlay)["spec"]["template"]["spec"]
    return spec


def _container(state: State, name: str, overlay: str = "production") -> dict[str, Any]:
    container: dict[str, Any] = _pod(state, name, overlay)["containers"][0]
    return container


def _dev_nats_sync(state: State) -> None:
    cm = _resource(state, "ConfigMap", "dev-nats", "dev")
    cm["data"]["nats.conf"] = cm["data"]["nats.conf"].replace("sync_interval: always", "sync_interval: 2m")


def _cluster_nats_conf(state: State, old: str, new: str) -> None:
    conf = state.builds["production"].config_maps["nats-config"]
    assert old in conf["nats.conf"]
    conf["nats.conf"] = conf["nats.conf"].replace(old, new, 1)


def _network_policy_port(state: State) -> None:
    np = _resource(state, "NetworkPolicy", "contractor-api-from-gateway")
    np["spec"]["ingress"][0]["ports"][0]["port"] = 8011


def _ingress(state: State) -> dict[str, Any]:
    return _resource(state, "Ingress", "gateway")


def _ingress_path(state: State, path: str, path_type: str) -> None:
    paths = _ingress(state)["spec"]["rules"][0]["http"]["paths"]
    paths.append({**paths[-1], "path": path, "pathType": path_type})


def _remove_alert(state: State, alert: str) -> None:
    rule = _resource(state, "PrometheusRule", "ten99")
    for group in rule["spec"]["groups"]:
        group["rules"] = [r for r in group["rules"] if r.get("alert") != alert]


def _compose_service(state: State, name: str) -> dict[str, Any]:
    service: dict[str, Any] = state.compose["services"][name]
    return service


def _widen_user(state: State) -> None:
    conf = state.builds["production"].config_maps["nats-config"]["nats.conf"]
    conf = re.sub(r'"ten99\.contractor\.>"', '"$JS.API.>"', conf, count=1)
    state.builds["production"].config_maps["nats-config"]["nats.conf"] = conf


MUTATIONS: dict[str, Mutation] = {
    # the issue's breakages
    "sync_interval 2m in dev-infra NATS": _dev_nats_sync,
    "sync_interval 2m in the production cluster": lambda s: _cluster_nats_conf(s, "sync_interval: always", "sync_interval: 2m"),
    "sync_interval 2m in compose's NATS": lambda s: s.nats_files.__setitem__(
        "nats-dev.conf", s.nats_files["nats-dev.conf"].replace("sync_interval: always", "sync_interval: 2m")
    ),
    "a NetworkPolicy port changed": _network_policy_port,
    "an Ingress without TLS": lambda s: _ingress(s)["spec"].pop("tls"),
    "an Ingress exposing /metrics": lambda s: _ingress_path(s, "/metrics", "Prefix"),
    "an Ingress routing every path (Prefix /)": lambda s: _ingress_path(s, "/", "Prefix"),
    "an Ingress exposing /_ops": lambda s: _ingress_path(s, "/_ops", "Exact"),
    "an Ingress exposing /schema": lambda s: _ingress_path(s, "/schema", "Prefix"),
    "a Deployment without resources": lambda s: _container(s, "billing-worker").pop("resources"),
    "a container running as root": lambda s: _container(s, "policy-api")["securityContext"].update(
        runAsUser=0, runAsNonRoot=False
    ),
    "a pod running as root": lambda s: _pod(s, "gateway-relay")["securityContext"].update(runAsUser=0, runAsNonRoot=False),
    "a missing readiness probe": lambda s: _container(s, "contractor-api").pop("readinessProbe"),
    "readiness on /livez": lambda s: _container(s, "enrollment-api")["readinessProbe"]["httpGet"].update(path="/livez"),
    "a missing liveness probe on NATS": lambda s: _resource(s, "StatefulSet", "nats")["spec"]["template"]["spec"]["containers"][
        0
    ].pop("livenessProbe"),
    "an image with :latest": lambda s: _container(s, "notification-worker").update(image="registry.example.com/ten99:latest"),
    "an image without a tag (dev)": lambda s: _container(s, "billing-api", "dev").update(image="ten99"),
    "a Secret value in a ConfigMap": lambda s: (
        s.builds["production"].config_maps["ten99-config"].update({"smtp-password": "hunter2"})
    ),
    "a literal password in the NATS config": lambda s: _cluster_nats_conf(
        s, "password: $NATS_PASSWORD_BILLING", "password: hunter2"
    ),
    "a migration initContainer missing": lambda s: _pod(s, "policy-relay").pop("initContainers"),
    "a migration initContainer with other env": lambda s: _pod(s, "billing-api")["initContainers"][0]["env"].pop(),
    "NATS cluster replicas 1": lambda s: _resource(s, "StatefulSet", "nats")["spec"].update(replicas=1),
    "stream replicas not 3 in production": lambda s: (
        s.builds["production"].config_maps["ten99-config"].update({"nats-replicas": "1"})
    ),
    # more: NATS cluster, users, TLS, observability, hardening, compose
    "NATS nodes without anti-affinity": lambda s: _resource(s, "StatefulSet", "nats")["spec"]["template"]["spec"].pop("affinity"),
    "NATS without client TLS": lambda s: _cluster_nats_conf(s, "tls {\n  cert_file", "#tls {\n  cert_file"),
    "NATS routes without verified TLS": lambda s: _cluster_nats_conf(s, "    verify: true\n", ""),
    "a service user allowed the whole JetStream API": _widen_user,
    "a service user missing": lambda s: _cluster_nats_conf(s, "{ user: notification,", "{ user: notifications,"),
    "no consumer lag alert": lambda s: _remove_alert(s, "Ten99ConsumerLag"),
    "no outbox backlog alert": lambda s: _remove_alert(s, "Ten99OutboxBacklog"),
    "the PodMonitor on another port": lambda s: _resource(s, "PodMonitor", "ten99")["spec"]["podMetricsEndpoints"][0].update(
        port="metrics"
    ),
    "a service account token mounted": lambda s: _pod(s, "gateway-api").update(automountServiceAccountToken=True),
    "a writable root filesystem": lambda s: _container(s, "contractor-worker")["securityContext"].update(
        readOnlyRootFilesystem=False
    ),
    "compose: pg_isready without -h": lambda s: _compose_service(s, "postgres")["healthcheck"].update(
        test=["CMD-SHELL", "pg_isready -U postgres -d postgres"]
    ),
    "compose: a migrator that never restarts": lambda s: _compose_service(s, "billing-migrate").update(restart="no"),
    "compose: a service not waiting for its migration": lambda s: _compose_service(s, "policy")["depends_on"].update(
        {"policy-migrate": {"condition": "service_started"}}
    ),
}


def test_the_deployment_keeps_its_policy() -> None:
    assert violations(current_state()) == []


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_breakage_is_rejected(name: str) -> None:
    state = current_state()
    MUTATIONS[name](state)
    assert violations(state), f"the policy accepts: {name}"


def test_the_mutation_list_covers_the_issue() -> None:
    """At least the issue's twelve breakages and twenty in all; each service is a user of NATS."""
    assert len(MUTATIONS) >= 20
    assert {"sync_interval 2m in dev-infra NATS", "a NetworkPolicy port changed", "an Ingress without TLS"} <= MUTATIONS.keys()
    assert len(SERVICES) == 6
