"""Writes the per-service manifests of ``deploy/k8s`` from the table below.

Six services, each with an ``api``, a ``worker`` and a ``relay`` Deployment (each migrating first), differ
only in name, port and a few settings. Writing 24 workloads by hand invites drift (a missing probe,
a typo in an env name), so they are generated from one table and committed as plain YAML, which
kustomize then uses like any other file. Edit this file, not the output, then run

    .venv/bin/python deploy/k8s/generate.py           # rewrite the generated files
    .venv/bin/python deploy/k8s/generate.py --check   # exit 1 if they are out of date (tests/deploy does this)

Generated: ``base/<service>.yaml`` (Deployments with their migrate initContainer, Service, PodDisruptionBudget),
``overlays/production/hpa.yaml``, ``components/nats-cluster/nats.conf`` (the production NATS node
with one user per service, its permissions derived from contracts/ and the services'
subscriptions), and copies kustomize needs in its folders (it may not read files outside them):
``components/dev-infra/postgres-init.sh`` (compose's init script) and
``components/observability/grafana-dashboard.json`` (``deploy/observability``'s).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent

#: the processes of a service (ten99kit.runtime.MODES minus ``all``); each pod migrates first (initContainer)
MODES = ("api", "worker", "relay")
IMAGE = "ten99"  # overlays set the registry and tag with kustomize's `images:`
CONFIG = "ten99-config"  # ConfigMap of shared, non-secret settings (base/kustomization.yaml)
SHARED_SECRET = "ten99-shared"  # noqa: S105 (a Secret's name) internal-token, operator-token, nats-url: the same for every service
UID = 10001  # the image's user (Dockerfile)
TMP = "/tmp"  # noqa: S108 (an emptyDir: the only writable path of the read-only image)


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass(frozen=True)
class Config:
    key: str


@dataclass(frozen=True)
class Secret:
    key: str
    #: the Secret's name; None: the service's own Secret, ``ten99-<service>``
    name: str | None = None
    #: a missing key leaves the setting at its default instead of stopping the pod
    optional: bool = False


Source = Literal | Config | Secret


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    #: service-specific settings, without the env prefix
    env: dict[str, Source] = field(default_factory=dict)
    #: gateway: 10 replicas at most under load; the others 6
    max_replicas: int = 6


PORTS = {"gateway": 8000, "contractor": 8001, "enrollment": 8002, "policy": 8003, "billing": 8004, "notification": 8005}

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "contractor",
        PORTS["contractor"],
        {
            # JSON lists; the first key encrypts, all decrypt (rotate by prepending)
            "TAX_ID_KEYS": Secret("tax-id-keys"),
            "INTEGRATION_SECRET_KEYS": Secret("integration-secret-keys"),
        },
    ),
    ServiceSpec(
        "enrollment",
        PORTS["enrollment"],
        {
            "OPT_IN_BASE_URL": Config("public-base-url"),
            "TOKEN_SECRET": Secret("token-secret"),
        },
    ),
    ServiceSpec(
        "policy",
        PORTS["policy"],
        {
            "PUBLIC_BASE_URL": Config("public-base-url"),
            # signs the certificate download links in emails
            "LINK_SECRET": Secret("link-secret"),
        },
    ),
    ServiceSpec("billing", PORTS["billing"]),
    ServiceSpec(
        "notification",
        PORTS["notification"],
        {
            "DASHBOARD_URL": Config("public-base-url"),
            "SMTP__HOST": Config("smtp-host"),
            "SMTP__PORT": Config("smtp-port"),
            "SMTP__STARTTLS": Config("smtp-starttls"),
            "SMTP__USE_TLS": Config("smtp-use-tls"),
            "SMTP__FROM_ADDRESS": Config("smtp-from-address"),
            "SMTP__FROM_NAME": Config("smtp-from-name"),
            "SMTP__USERNAME": Secret("smtp-username", optional=True),
            "SMTP__PASSWORD": Secret("smtp-password", optional=True),
            "WEBHOOK_SECRET_KEYS": Secret("webhook-secret-keys"),
            # the development catcher (components/mail-catcher turns it on)
            "SMTP__CATCHER": Config("smtp-catcher"),
            "SMTP__CATCHER_PORT": Literal("1025"),
        },
    ),
    ServiceSpec(
        "gateway",
        PORTS["gateway"],
        {
            **{f"SERVICES__{s.upper()}_URL": Literal(f"http://{s}:{p}") for s, p in PORTS.items() if s != "gateway"},
            "HTTP__PUBLIC_URL": Config("public-base-url"),
            # the Ingress controller's pods: their X-Forwarded-For names the client (rate limits)
            "HTTP__FORWARDED_ALLOW_IPS": Config("trusted-proxies"),
            "SESSION__COOKIE_SECURE": Config("session-cookie-secure"),
            "DEV_MAILBOX": Config("dev-mailbox"),
        },
        max_replicas=10,
    ),
)


@dataclass(frozen=True)
class ModeSpec:
    replicas: int
    requests: dict[str, str]
    limits: dict[str, str]
    #: database connections per process: pool size and overflow
    pool: tuple[int, int]
    grace_s: int


MODE_SPECS = {
    "api": ModeSpec(2, {"cpu": "100m", "memory": "160Mi"}, {"cpu": "1", "memory": "300Mi"}, (10, 0), 30),
    # consumers finish and commit the batch in hand before exiting (AckWait is 30 s)
    "worker": ModeSpec(2, {"cpu": "100m", "memory": "160Mi"}, {"cpu": "1", "memory": "300Mi"}, (10, 0), 60),
    # two relays: one publishes (PostgreSQL advisory lock), the other stands by
    "relay": ModeSpec(2, {"cpu": "20m", "memory": "128Mi"}, {"cpu": "500m", "memory": "300Mi"}, (3, 0), 30),
}
MIGRATE_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "300Mi"}}


# --- building blocks ------------------------------------------------------------------------


def labels(svc: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": svc, "app.kubernetes.io/component": component, "app.kubernetes.io/part-of": "ten99"}


def selector(svc: str, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": svc, "app.kubernetes.io/component": component}


def env_var(name: str, source: Source, svc: str) -> dict[str, Any]:
    if isinstance(source, Literal):
        return {"name": name, "value": source.value}
    if isinstance(source, Config):
        return {"name": name, "valueFrom": {"configMapKeyRef": {"name": CONFIG, "key": source.key}}}
    ref: dict[str, Any] = {"name": source.name or f"ten99-{svc}", "key": source.key}
    if source.optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def service_env(spec: ServiceSpec, mode: str) -> list[dict[str, Any]]:
    """Every setting of one process of one service, with the service's env prefix (the migrate
    initContainer of a pod gets the same as the pod's process)."""
    pool, overflow = MODE_SPECS[mode].pool
    common: dict[str, Source] = {
        "DB__URL": Secret("db-url"),
        # migrations run in each pod's initContainer (`migrate`, under an advisory lock), never
        # from a serving process
        "DB__AUTO_MIGRATE": Literal("false"),
        "DATA_DIR": Literal(f"{TMP}/ten99"),  # nothing should land there on PostgreSQL; /tmp is the only writable path
    }
    common |= {
        "LOG__LEVEL": Config("log-level"),
        "DB__POOL_SIZE": Literal(str(pool)),
        "DB__MAX_OVERFLOW": Literal(str(overflow)),
        # each service's own NATS user (components/nats-cluster: permissions for its own subjects)
        "NATS__URL": Secret("nats-url"),
        "NATS__REPLICAS": Config("nats-replicas"),
        "INTERNAL_TOKEN": Secret("internal-token", SHARED_SECRET),
        # /_ops and /schema; never the internal token (the gateway holds that one). No
        # <SVC>_DEVELOPMENT anywhere: a process refuses to start on an empty or development secret
        "OPERATOR_TOKEN": Secret("operator-token", SHARED_SECRET),
        # during a rotation only (docs/operations/secret-rotation.md): the other token accepted
        "INTERNAL_TOKEN_PREVIOUS": Secret("internal-token-previous", SHARED_SECRET, optional=True),
        "OPERATOR_TOKEN_PREVIOUS": Secret("operator-token-previous", SHARED_SECRET, optional=True),
        "HTTP__HOST": Literal("0.0.0.0"),
        "HTTP__PORT": Literal(str(spec.port)),
        **spec.env,
    }
    prefix = spec.name.upper() + "_"
    return [env_var(prefix + name, source, spec.name) for name, source in common.items()]


def pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def tmp_volume() -> dict[str, Any]:
    # CSV uploads are spooled here (20 MB at most); Python's tempfile and HOME point here too
    return {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}


def probe(path: str, period: int, failures: int, timeout: int = 3) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def pod_spec(spec: ServiceSpec, mode: str) -> dict[str, Any]:
    m = MODE_SPECS[mode]
    container: dict[str, Any] = {
        "name": spec.name,
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", spec.name, mode],
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": service_env(spec, mode),
        "resources": {"requests": dict(m.requests), "limits": dict(m.limits)},
        # every mode serves /livez, /readyz and /metrics on the service's port
        # (the process connects to NATS and provisions its stream before it serves: allow 2 minutes)
        "startupProbe": probe("/livez", period=2, failures=60),
        "livenessProbe": probe("/livez", period=10, failures=3),
        "readinessProbe": probe("/readyz", period=5, failures=3),
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": TMP}],
    }
    if mode == "api":
        # let the Service and the Ingress stop sending requests before the server stops
        container["lifecycle"] = {"preStop": {"exec": {"command": ["sleep", "5"]}}}
    pod: dict[str, Any] = {
        # the schema first: `migrate` upgrades to head under a PostgreSQL advisory lock, so the
        # pods of a rollout (api, worker, relay, old and new) take turns and all but the first
        # find nothing to do; a failed migration keeps the pod from starting (Init:Error), and
        # the old pods keep serving
        "initContainers": [migrate_container(spec, mode)],
        "serviceAccountName": "ten99",
        "automountServiceAccountToken": False,
        # no <SERVICE>_PORT=tcp://... variables: they would land in the services' env prefixes
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": m.grace_s,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [tmp_volume()],
    }
    if mode == "api":
        pod["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(spec.name, mode)},
            }
        ]
    return pod


def deployment(spec: ServiceSpec, mode: str) -> dict[str, Any]:
    m = MODE_SPECS[mode]
    strategy: dict[str, Any] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    if mode == "relay":
        # old and new relays may overlap: the advisory lock lets one publish at a time
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{spec.name}-{mode}", "labels": labels(spec.name, mode)},
        "spec": {
            "replicas": m.replicas,
            "revisionHistoryLimit": 5,
            "strategy": strategy,
            "selector": {"matchLabels": selector(spec.name, mode)},
            "template": {
                "metadata": {
                    "labels": labels(spec.name, mode),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(spec.port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec(spec, mode),
            },
        },
    }


def service(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "labels": labels(spec.name, "api")},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec.name, "api"),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pdb(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": f"{spec.name}-api", "labels": labels(spec.name, "api")},
        # maxUnavailable (not minAvailable): a single-replica dev install can still drain a node
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(spec.name, "api")}},
    }


def migrate_container(spec: ServiceSpec, mode: str) -> dict[str, Any]:
    """The initContainer of every pod: the same image, env and ServiceAccount as the process."""
    return {
        "name": "migrate",
        "image": IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-m", spec.name, "migrate"],
        "env": service_env(spec, mode),
        "resources": {k: dict(v) for k, v in MIGRATE_RESOURCES.items()},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": TMP}],
    }


def hpa(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"{spec.name}-api", "labels": labels(spec.name, "api")},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{spec.name}-api"},
            "minReplicas": 2,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
            ],
            # scale down slowly: request bursts (CSV imports, invoice runs) come in waves
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


# --- NATS: the production cluster's configuration and per-service users (components/nats-cluster) ----

NATS_CONF_HEAD = """\
# One node of ten99's three-node JetStream cluster (components/nats-cluster: StatefulSet `nats`,
# headless Service `nats-headless`, client Service `nats`). Values in $NAME come from the
# environment of the nats-server container (nats.yaml): the pod name and the users' passwords
# (Secret `nats-users`). Check a rendered copy with `nats-server -t -c nats.conf` (tests/deploy does).
server_name: $POD_NAME
listen: 0.0.0.0:4222
# the preStop hook signals lame duck mode through it
pid_file: /var/run/nats/nats.pid
http_port: 8222
# messages carry whole certificates and invoices (PDF, base64): keep the default 1 MB
max_payload: 1MB
# a node leaving (rollout, drain) hands its clients over gradually
lame_duck_duration: 30s

# clients (the services) connect with tls://; the certificate is cert-manager's (tls.yaml)
tls {
  cert_file: /etc/nats/tls/tls.crt
  key_file: /etc/nats/tls/tls.key
  ca_file: /etc/nats/tls/ca.crt
  timeout: 2
}

jetstream {
  store_dir: /data/jetstream
  # fsync every write before acknowledging it: a publish the relay saw acknowledged survives a
  # power loss of the node (ARCHITECTURE.md section 5)
  sync_interval: always
  max_memory_store: 256MB
  max_file_store: 20GB
}

cluster {
  name: ten99
  listen: 0.0.0.0:6222
  # routes between the nodes: mutual TLS with the same certificate (server and client auth)
  tls {
    cert_file: /etc/nats/tls/tls.crt
    key_file: /etc/nats/tls/tls.key
    ca_file: /etc/nats/tls/ca.crt
    verify: true
    timeout: 2
  }
  routes: [
    nats-route://nats-0.nats-headless:6222
    nats-route://nats-1.nats-headless:6222
    nats-route://nats-2.nats-headless:6222
  ]
}
"""


def _service_runtimes() -> dict[str, Any]:
    """Each service's runtime, built from its bootstrap on a throwaway SQLite database (nothing
    connects): what it subscribes to and follows is read from it."""
    import importlib
    import os
    import tempfile

    from ten99kit.runtime import Runtime

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for spec in SERVICES:
            definition = importlib.import_module(f"{spec.name}.bootstrap").definition
            os.environ[f"{spec.name.upper()}_DEVELOPMENT"] = "true"
            try:
                settings = definition.settings_type(db={"url": f"sqlite+aiosqlite:///{tmp}/{spec.name}.db"})
                out[spec.name] = Runtime(definition, settings)
            finally:
                del os.environ[f"{spec.name.upper()}_DEVELOPMENT"]
    return out


def service_subscriptions() -> dict[str, list[tuple[str, str]]]:
    """The (subject, subscription name) pairs of each service (`ten99kit.Subscription`), from the
    services themselves."""
    return {name: sorted({(s.subject, s.name) for s in rt.parts.subscriptions}) for name, rt in _service_runtimes().items()}


def service_followed() -> dict[str, list[str]]:
    """The subjects each service's serving processes follow (`ten99kit.follow.Follower`: plain
    subscriptions, every process hearing every message; the gateway's cached answers)."""
    return {name: sorted({s for f in rt.parts.followers for s in f.subjects}) for name, rt in _service_runtimes().items()}


def nats_permissions(svc: str, consumed: list[tuple[str, str]], followed: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """What one service's NATS user may do, derived from contracts/ and its subscriptions:
    - publish its own events: ``ten99.<svc>.>`` (the subjects of its stream ``TEN99_<SVC>``;
      a service publishes only its own context's messages, ARCHITECTURE.md section 3);
    - stream info, create and update of the six ten99 streams (every process provisions and
      reconciles all of them at start-up, ``ten99kit.bus.ensure_streams``); no delete, no purge;
    - listing the streams and their consumers (read-only: ``scripts/ops_jetstream.py consumers``,
      run in the service's pod with its settings);
    - for each subject it consumes, only its own durable consumers (``<svc>__<subject>``, and
      ``<svc>__<name>__<subject>`` for a named second reaction) on the
      producer's stream: create (nats-py names the filter in the subject), info, fetch, ack, and
      delete (``ops_jetstream.py reset-consumers`` after a database restore);
    - subscribe: replies (``_INBOX.>``: JetStream API answers, fetched messages), and the subjects
      its serving processes follow (plain subscriptions, no consumer on the server)."""
    from ten99_contracts import STREAMS, stream_for_subject
    from ten99kit.inbox import durable_name

    publish = [f"ten99.{svc}.>", "$JS.API.STREAM.LIST"]
    for spec in STREAMS.values():
        publish += [f"$JS.API.STREAM.{op}.{spec.name}" for op in ("INFO", "CREATE", "UPDATE")]
        publish.append(f"$JS.API.CONSUMER.LIST.{spec.name}")
    for subject, name in consumed:
        stream, durable = stream_for_subject(subject).name, durable_name(svc, subject, name)
        publish += [
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.{subject}",
            f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.API.CONSUMER.DELETE.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ]
    return {"publish": {"allow": publish}, "subscribe": {"allow": ["_INBOX.>", *followed]}}


def nats_user_env(svc: str) -> str:
    return f"NATS_PASSWORD_{svc.upper()}"


def nats_accounts(subscriptions: dict[str, list[tuple[str, str]]], followed: dict[str, list[str]] | None = None) -> str:
    """The ``accounts`` block: TEN99 (JetStream, one user per service) and SYS (monitoring)."""
    lines = [
        "# GENERATED users (deploy/k8s/generate.py: nats_permissions): one per service, allowed only",
        "# its own subjects, the ten99 streams' info/create/update and its own durable consumers.",
        "system_account: SYS",
        "accounts {",
        "  SYS {",
        "    users: [",
        "      { user: system, password: $NATS_PASSWORD_SYSTEM }",
        "    ]",
        "  }",
        "  TEN99 {",
        "    jetstream: enabled",
        "    users: [",
    ]
    for spec in SERVICES:
        perms = nats_permissions(spec.name, subscriptions[spec.name], (followed or {}).get(spec.name, []))
        lines.append(f"      {{ user: {spec.name}, password: ${nats_user_env(spec.name)}, permissions: {{")
        for direction in ("publish", "subscribe"):
            lines.append(f"        {direction}: {{ allow: [")
            lines += [f'          "{s}"' for s in perms[direction]["allow"]]
            lines.append("        ] }")
        lines.append("      } }")
    lines += ["    ]", "  }", "}", ""]
    return "\n".join(lines)


def nats_conf() -> str:
    return NATS_CONF_HEAD + "\n" + nats_accounts(service_subscriptions(), service_followed())


# --- output ------------------------------------------------------------------------------------

HEADER = "# GENERATED by deploy/k8s/generate.py from its SERVICES table: edit that, then run it.\n"


def dump(docs: list[dict[str, Any]], title: str) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when there: the same text, faster
    body = "---\n".join(yaml.dump(d, Dumper=dumper, sort_keys=False, default_flow_style=False, width=120) for d in docs)
    return f"{HEADER}# {title}\n{body}"


def render() -> dict[Path, str]:
    """Every generated file, by path, with its content."""
    out: dict[Path, str] = {}
    for spec in SERVICES:
        docs = [deployment(spec, m) for m in MODES] + [service(spec), pdb(spec)]
        out[HERE / "base" / f"{spec.name}.yaml"] = dump(
            docs, f"{spec.name}: api, worker and relay Deployments (each migrating first), the API's Service and PDB"
        )
    out[HERE / "overlays" / "production" / "hpa.yaml"] = dump(
        [hpa(s) for s in SERVICES], "production: a HorizontalPodAutoscaler per api Deployment (CPU)"
    )
    conf = "# GENERATED by deploy/k8s/generate.py: edit that, then run it.\n" + nats_conf()
    out[HERE / "components" / "nats-cluster" / "nats.conf"] = conf
    # the same node configuration for an install without kustomize (the official Helm chart, VMs)
    out[HERE.parent / "nats" / "nats-server.conf"] = conf
    out[HERE / "components" / "observability" / "grafana-dashboard.json"] = (
        HERE.parent / "observability" / "grafana-dashboard.json"
    ).read_text()
    out[HERE / "components" / "dev-infra" / "postgres-init.sh"] = (HERE.parent / "compose" / "postgres-init.sh").read_text()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path.relative_to(HERE.parent)}", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
