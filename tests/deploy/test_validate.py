"""deploy/validate.py (`make validate`) rejects what it is there to reject: a manifest outside the
Kubernetes schema, a manifest the policy scanner fails, a compose file outside the compose
specification, a NATS config the server refuses. Its tools are the tool venv's (`make validate`
creates .venv-tools; CI runs it before the tests)."""

from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import ROOT, validate

pytestmark = pytest.mark.skipif(
    not (ROOT / ".venv-tools" / "bin" / "checkov").exists() and not os.environ.get("CI"),
    reason="no .venv-tools: run `make validate` once",
)


@cache
def billing_api() -> str:
    """One rendered Deployment of the production overlay and the NetworkPolicies (scanning a few
    documents is quick)."""
    docs = [d for d in yaml.safe_load_all(validate().render("overlays/production")) if d]
    picked = [
        d for d in docs if d["kind"] == "NetworkPolicy" or (d["kind"], d["metadata"]["name"]) == ("Deployment", "billing-api")
    ]
    return yaml.safe_dump_all(picked, sort_keys=False)


def test_kubernetes_validate_rejects_an_unknown_field() -> None:
    v = validate()
    assert v.kubernetes_validate("billing-api", billing_api()) == []
    broken = billing_api().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  replicaz: 3", 1)
    problems = v.kubernetes_validate("billing-api", broken)
    assert problems and all("replicaz" in p for p in problems)


def test_checkov_rejects_a_writable_root_filesystem() -> None:
    """One scan (the unbroken manifests pass in `make validate`): the broken container is the only
    finding."""
    broken = billing_api().replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", 1)
    problems = validate().checkov("production", broken)
    checks = [p for p in problems if "Check:" in p]
    assert checks and all("CKV_K8S_22" in p for p in checks), problems


def test_the_compose_schema_rejects_an_unknown_key(tmp_path: Path) -> None:
    v = validate()
    assert v.compose() == []
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("  stop_grace_period: 30s", "  stop_grace: 30s", 1))
    out = subprocess.run(
        [v.tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(broken)], capture_output=True, text=True
    )
    assert out.returncode != 0 and "stop_grace" in out.stdout


def test_nats_server_rejects_a_config_it_cannot_load() -> None:
    v = validate()
    good = "jetstream {\n  sync_interval: always\n}\n"
    assert v.nats_problems(good, {}, False) == []
    assert v.nats_problems(good.replace("always", "2m"), {}, False)
    assert v.nats_problems(good + "listen: [\n", {}, False)
