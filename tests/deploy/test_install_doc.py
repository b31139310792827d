"""docs/operations/install.md's commands, run as written by bash. There is no cluster here, so
``kubectl`` is a recorder on PATH (every call is written down, ``kubectl kustomize`` alone is
passed to the real one); the test then checks what the calls would do against the rendered
production overlay: the Secrets created are exactly the names and keys the manifests read, the
NATS URLs carry the passwords the NATS nodes are given, the applied folder renders, and every
object waited for or exec'd into exists, with commands the services have.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.deploy.support import ROOT, SERVICES, _containers, all_containers, by_kind, kustomize, workloads

DOC = ROOT / "docs" / "operations" / "install.md"
BLOCK = re.compile(r"^```sh install=(?P<id>[\w.-]+)\n(?P<body>.*?)^```", re.S | re.M)

RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["KUBECTL_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


@cache
def blocks() -> dict[str, str]:
    return {m["id"]: m["body"] for m in BLOCK.finditer(DOC.read_text())}


def run_block(block: str, tmp_path: Path) -> list[list[str]]:
    """The block in bash from the repository root, kubectl recorded; returns the calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    recorder = bin_dir / "kubectl"
    recorder.write_text(RECORDER.replace("#!/usr/bin/env python3", f"#!{sys.executable}"))
    recorder.chmod(0o755)
    log = tmp_path / "kubectl.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "KUBECTL_LOG": str(log),
        "DB_HOST": "db.internal",
        "DB_PASSWORD": "pw-from-step-2",
    }
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks()[block]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_every_block_is_run() -> None:
    assert set(blocks()) == {"secrets", "apply", "check"}


def _flag(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_the_secrets_are_those_the_manifests_read(tmp_path: Path) -> None:
    calls = run_block("secrets", tmp_path)
    assert calls[0] == ["create", "namespace", "ten99"]
    secrets: dict[str, dict[str, str]] = {}
    for call in calls[1:]:
        assert _flag(call, "-n") == "ten99", call
        if call[2:5] == ["create", "secret", "generic"]:
            literals = [a.split("=", 1)[1] for a in call if a.startswith("--from-literal=")]
            secrets[call[5]] = dict(lit.split("=", 1) for lit in literals)
        else:
            assert call[2:4] == ["patch", "secret"] and _flag(call, "--type") == "merge", call
            secrets[call[4]].update(json.loads(_flag(call, "-p"))["stringData"])
    build = kustomize("overlays/production")
    read: dict[str, set[str]] = {}
    optional: set[tuple[str, str]] = set()
    for r in [*workloads(build), *by_kind(build, "StatefulSet").values()]:
        for c in all_containers(r):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    read.setdefault(ref["name"], set()).add(ref["key"])
                    if ref.get("optional"):
                        optional.add((ref["name"], ref["key"]))
    created = {name: set(data) for name, data in secrets.items()}
    for name, keys in read.items():
        required = {k for k in keys if (name, k) not in optional}
        assert required <= created.get(name, set()) <= keys, name
    assert created.keys() == read.keys()
    # every value is set, the JSON lists parse, and each service's NATS URL has its user's password
    users = secrets["nats-users"]
    for svc in SERVICES:
        own = secrets[f"ten99-{svc}"]
        assert own["db-url"] == f"postgresql+asyncpg://{svc}:pw-from-step-2@db.internal:5432/{svc}"
        assert own["nats-url"] == f"tls://{svc}:{users[svc]}@nats:4222"
        for key, value in own.items():
            assert len(value) >= 10, (svc, key)
            if key.endswith("-keys"):
                (k,) = json.loads(value)
                assert len(k) >= 32
    assert len(set(users.values())) == len(users) == len(SERVICES) + 1
    shared = secrets["ten99-shared"]
    assert shared["internal-token"] != shared["operator-token"]


def test_one_apply_then_waits_on_what_exists(tmp_path: Path) -> None:
    calls = run_block("apply", tmp_path)
    assert calls[0] == ["apply", "-k", "deploy/k8s/overlays/production"]
    build = kustomize("overlays/production")
    for call in calls[1:]:
        assert _flag(call, "-n") == "ten99"
        verb, target = call[2], call[4]
        if verb == "wait":
            kind, name = call[4].split("/")
            assert kind == "certificate" and name in by_kind(build, "Certificate")
            continue
        assert verb == "rollout" and call[3] == "status"
        if "/" in target:
            kind, name = target.split("/")
            assert name in by_kind(build, {"statefulset": "StatefulSet", "deployment": "Deployment"}[kind])
        else:
            selector = _flag(call, "-l")
            key, value = selector.split("=")
            matched = [d for d in by_kind(build, target.capitalize()).values() if d["metadata"]["labels"].get(key) == value]
            assert len(matched) == len(SERVICES) * 3


def test_the_checks_run_commands_the_services_have(tmp_path: Path) -> None:
    calls = run_block("check", tmp_path)
    deployments = by_kind(kustomize("overlays/production"), "Deployment")
    for call in calls:
        assert call[:3] == ["-n", "ten99", "exec"], call
        deployment = next(a for a in call if a.startswith("deploy/")).removeprefix("deploy/")
        container = _flag(call, "-c")
        assert [c["name"] for c in _containers(deployments[deployment])] == [container]
        command = call[call.index("--") + 1 :]
        if command[:2] == ["python", "-"]:  # a script piped in: scripts/ops_jetstream.py's arguments
            assert command[2:] == ["consumers", "contractor"]
            assert "-i" in call
            continue
        assert command[:2] == ["python", "-m"] and command[3:] == ["migrate", "--check"], shlex.join(command)
        assert command[2] == deployment.removesuffix("-api") and importlib.util.find_spec(f"{command[2]}.__main__")
    # every service's command line is the kit's: one of them shows that `migrate --check` exists
    help_text = subprocess.run(
        [sys.executable, "-m", "billing", "migrate", "--help"], capture_output=True, text=True, timeout=120
    )
    assert "--check" in help_text.stdout


@pytest.mark.parametrize("overlay", ["production", "dev"])
def test_the_documented_overlays_render(overlay: str) -> None:
    assert f"kubectl apply -k deploy/k8s/overlays/{overlay}" in DOC.read_text()
    assert kustomize(f"overlays/{overlay}").resources
