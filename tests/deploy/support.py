"""Helpers of the deploy tests: a small kustomize that resolves the overlays by reading the files
(resources, components, generators, the JSON patches and delete patches the overlays use, images),
the services' settings, the validators of deploy/validate.py, and ``violations``: the policy the
rendered manifests and configs must keep (test_policies.py breaks each rule on purpose)."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

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


def _module(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def generate() -> ModuleType:
    """deploy/k8s/generate.py as a module."""
    return _module("ten99_deploy_generate", K8S / "generate.py")


def validate() -> ModuleType:
    """deploy/validate.py as a module (rendering, nats-server -t)."""
    return _module("ten99_deploy_validate", ROOT / "deploy" / "validate.py")


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
        if isinstance(node, list) and last == "-":
            assert op["op"] == "add", f"{op['op']} of {op['path']}"
            node.append(copy.deepcopy(op["value"]))
            continue
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
            for c in all_containers(r):
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


def all_containers(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The init containers and the containers of a workload."""
    pod = _pod(r)
    return [*pod.get("initContainers", []), *pod["containers"]] if pod else []


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


# --- the policy: what every rendered overlay, NATS config and compose file must keep ---------------

#: never routed by the production Ingress: for the cluster only (Prometheus, kubelet, operators)
PRIVATE_PATHS = ("/metrics", "/schema", "/_ops", "/livez", "/readyz")
#: every alert the issue asks for (components/observability/prometheusrule.yaml)
ALERTS = (
    "Ten99ConsumerLag",
    "Ten99OutboxBacklog",
    "Ten99DeadLetters",
    "Ten99HttpErrorRate",
    "Ten99CertificateLatency",
)
_SECRETISH = re.compile(r"password|passwd|token|secret|api[-_]?key|private[-_]?key", re.I)
#: a literal credential in a config text (a `$VAR` reference is fine)
_LITERAL_CREDENTIAL = re.compile(r"\b(?:password|token)(?::\s*|\s*=\s*)(?!\$)[\"']?[^\s,}\"'$]+", re.I)


@dataclass
class State:
    """What the policy looks at: the overlays as rendered, the NATS configs, docker-compose.yml."""

    builds: dict[str, Build]
    nats_files: dict[str, str]
    compose: dict[str, Any]


def current_state() -> State:
    return State(
        builds={o: copy.deepcopy(kustomize(f"overlays/{o}")) for o in OVERLAYS},
        nats_files={n: (ROOT / "deploy" / "nats" / n).read_text() for n in ("nats-dev.conf", "nats-server.conf")},
        compose=load((ROOT / "docker-compose.yml").read_text()),
    )


def nats_configs(state: State) -> dict[str, tuple[str, bool]]:
    """name -> (text, is a production node: TLS, users); from the rendered ConfigMaps and files."""
    out: dict[str, tuple[str, bool]] = {f"deploy/nats/{n}": (t, n == "nats-server.conf") for n, t in state.nats_files.items()}
    for o, build in state.builds.items():
        for r in build.resources:
            if r["kind"] == "ConfigMap" and r["metadata"]["name"] == "dev-nats":
                out[f"{o}: ConfigMap dev-nats"] = (r["data"]["nats.conf"], False)
        if "nats-config" in build.config_maps:
            out[f"{o}: ConfigMap nats-config"] = (build.config_maps["nats-config"]["nats.conf"], True)
    return out


def _workload_problems(where: str, r: dict[str, Any]) -> list[str]:
    pod = _pod(r)
    assert pod is not None
    out = []
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser", 0) == 0:
        out.append(f"{where}: the pod may run as root")
    if pod.get("automountServiceAccountToken") is not False:
        out.append(f"{where}: mounts a service account token")
    for c in all_containers(r):
        name = f"{where}/{c['name']}"
        image = c["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if "@sha256:" not in image and tag in ("", "latest"):
            out.append(f"{name}: image {image} has no release tag")
        resources = c.get("resources", {})
        for part in ("requests", "limits"):
            if not {"cpu", "memory"} <= resources.get(part, {}).keys():
                out.append(f"{name}: no cpu and memory {part}")
        sc = c.get("securityContext", {})
        if sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False or sc.get("privileged"):
            out.append(f"{name}: runs as root or privileged")
        if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{name}: privilege escalation or a writable root filesystem")
        if sc.get("capabilities", {}).get("drop") != ["ALL"]:
            out.append(f"{name}: capabilities not dropped")
    for c in pod["containers"]:
        for probe in ("readinessProbe", "livenessProbe"):
            if probe not in c:
                out.append(f"{where}/{c['name']}: no {probe}")
    return out


def _ten99_problems(where: str, r: dict[str, Any]) -> list[str]:
    """A ten99 Deployment: probes with their meaning, the migrate initContainer."""
    pod = _pod(r)
    assert pod is not None
    svc = r["metadata"]["labels"]["app.kubernetes.io/name"]
    (c,) = pod["containers"]
    out = []
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        out.append(f"{where}: readiness is not /readyz")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/livez":
        out.append(f"{where}: liveness is not /livez")
    init = pod.get("initContainers", [])
    if not init or init[0]["command"] != ["python", "-m", svc, "migrate"]:
        out.append(f"{where}: no migrate initContainer")
    elif (init[0]["image"], init[0]["env"]) != (c["image"], c["env"]):
        out.append(f"{where}: the migrate initContainer differs from the process in image or env")
    return out


def _network_policy_problems(o: str, build: Build) -> list[str]:
    """Each NetworkPolicy port is a port the pods it selects listen on (a wrong one blocks them)."""
    out = []
    pods = [r for r in build.resources if _pod(r) is not None]
    for np in (r for r in build.resources if r["kind"] == "NetworkPolicy"):
        match = np["spec"]["podSelector"].get("matchLabels", {})
        selected = [r for r in pods if match.items() <= _pod_labels(r).items()]
        listening = {
            p.get(k) for r in selected for c in _containers(r) for p in c.get("ports", []) for k in ("containerPort", "name")
        }
        for rule in np["spec"].get("ingress", []):
            for port in rule.get("ports", []):
                if port["port"] not in listening:
                    out.append(f"{o}: NetworkPolicy {np['metadata']['name']}: port {port['port']} is no port of its pods")
    return out


def _pod_labels(r: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = r["spec"]["template"]["metadata"]["labels"]
    return labels


def _ingress_problems(o: str, build: Build) -> list[str]:
    out = []
    for ing in (r for r in build.resources if r["kind"] == "Ingress"):
        name = f"{o}: Ingress {ing['metadata']['name']}"
        hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
        for rule in ing["spec"]["rules"]:
            if rule.get("host") not in hosts:
                out.append(f"{name}: {rule.get('host')} is served without TLS")
            for p in rule["http"]["paths"]:
                for private in PRIVATE_PATHS:
                    exposed = private == p["path"] or (
                        p["pathType"] != "Exact" and (private + "/").startswith(p["path"].rstrip("/") + "/")
                    )
                    if exposed:
                        out.append(f"{name}: path {p['path']} ({p['pathType']}) exposes {private}")
    return out


def _config_map_problems(o: str, build: Build) -> list[str]:
    out = []
    maps = dict(build.config_maps) | {
        r["metadata"]["name"]: r.get("data", {}) for r in build.resources if r["kind"] == "ConfigMap"
    }
    for name, data in maps.items():
        for key, value in data.items():
            if _SECRETISH.search(key) or _LITERAL_CREDENTIAL.search(value):
                out.append(f"{o}: ConfigMap {name}: {key} holds a secret (use a Secret)")
    return out


def _nats_problems(state: State) -> list[str]:
    out = []
    for name, (text, production) in nats_configs(state).items():
        if not re.search(r"^\s*sync_interval:\s*always\s*$", text, re.M):
            out.append(f"{name}: JetStream without sync_interval: always")
        if production:
            if not re.search(r"^tls \{", text, re.M) or not re.search(r"^  tls \{[^}]*verify: true", text, re.M):
                out.append(f"{name}: no client TLS or no verified route TLS")
            users = set(re.findall(r"\{ user: (\w+), password: \$NATS_PASSWORD_\w+, permissions", text))
            if users != set(SERVICES):
                out.append(f"{name}: service users {sorted(users)}")
            if re.search(r'"(>|\$JS\.API\.>|\$JS\.>|ten99\.>)"', text):
                out.append(f"{name}: a user may publish to everything")
    return out


def _production_problems(build: Build) -> list[str]:
    out = []
    if build.config_maps["ten99-config"].get("nats-replicas") != "3":
        out.append("production: stream replicas (nats-replicas) are not 3")
    found = [r for r in build.resources if r["kind"] == "StatefulSet" and r["metadata"]["name"] == "nats"]
    if len(found) != 1:
        return [*out, "production: no NATS cluster"]
    sts = found[0]
    if sts["spec"]["replicas"] != 3:
        out.append(f"production: NATS has {sts['spec']['replicas']} nodes, not 3")
    anti = _pod(sts).get("affinity", {}).get("podAntiAffinity", {})  # type: ignore[union-attr]
    if not anti.get("requiredDuringSchedulingIgnoredDuringExecution"):
        out.append("production: NATS nodes may share a host")
    if not any(r["kind"] == "PodDisruptionBudget" and r["metadata"]["name"] == "nats" for r in build.resources):
        out.append("production: no PodDisruptionBudget for NATS")
    kinds = {r["kind"]: r for r in build.resources}
    rules = {a["alert"] for g in kinds.get("PrometheusRule", {}).get("spec", {}).get("groups", []) for a in g["rules"]}
    out += [f"production: no alert {a}" for a in ALERTS if a not in rules]
    endpoints = kinds.get("PodMonitor", {}).get("spec", {}).get("podMetricsEndpoints", [])
    if [(e.get("port"), e.get("path")) for e in endpoints] != [("http", "/metrics")]:
        out.append("production: the PodMonitor does not scrape /metrics on the port named http")
    return out


def _compose_problems(compose: dict[str, Any]) -> list[str]:
    out = []
    services = compose["services"]
    test = " ".join(services["postgres"]["healthcheck"]["test"])
    if not re.search(r"pg_isready.*-h\s+127\.0\.0\.1", test):
        out.append("compose: the PostgreSQL healthcheck is not over TCP (healthy during initialisation)")
    for svc in SERVICES:
        migrator = services[f"{svc}-migrate"]
        if not str(migrator.get("restart", "")).startswith("on-failure"):
            out.append(f"compose: {svc}-migrate does not restart on failure")
        if migrator["depends_on"].get("postgres") != {"condition": "service_healthy"}:
            out.append(f"compose: {svc}-migrate does not wait for a healthy PostgreSQL")
        if services[svc]["depends_on"].get(f"{svc}-migrate") != {"condition": "service_completed_successfully"}:
            out.append(f"compose: {svc} does not wait for its migration")
    return out


def violations(state: State) -> list[str]:
    """Every rule the deployment keeps, as a list of what breaks one (empty: all kept)."""
    out = []
    for o, build in state.builds.items():
        for r in build.resources:
            if _pod(r) is None:
                continue
            where = f"{o}: {r['kind']} {r['metadata']['name']}"
            out += _workload_problems(where, r)
            if r["kind"] == "Deployment" and r["metadata"]["labels"].get("app.kubernetes.io/part-of") == "ten99":
                out += _ten99_problems(where, r)
        out += _network_policy_problems(o, build)
        out += _ingress_problems(o, build)
        out += _config_map_problems(o, build)
    out += _nats_problems(state)
    out += _production_problems(state.builds["production"])
    out += _compose_problems(state.compose)
    return out
