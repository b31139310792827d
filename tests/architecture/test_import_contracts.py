"""The architecture's import rules (pyproject's ``[tool.importlinter]``) hold, and they can fail:
a service that imports another breaks them (checked with a probe module, removed afterwards)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports() -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_the_tree_keeps_every_contract() -> None:
    out = _lint_imports()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout and "KEPT" in out.stdout


def test_a_service_importing_another_breaks_the_contract() -> None:
    probe = ROOT / "services" / "billing" / "src" / "billing" / f"_probe_{uuid.uuid4().hex[:8]}.py"
    probe.write_text('"""A probe: billing must not import policy."""\n\nimport policy.domain  # noqa: F401\n')
    try:
        out = _lint_imports()
    finally:
        probe.unlink()
    assert out.returncode != 0
    assert "No service imports another BROKEN" in out.stdout, out.stdout
    assert f"billing.{probe.stem} -> policy" in out.stdout, out.stdout


def test_application_code_reaching_an_smtp_client_breaks_the_contract() -> None:
    probe = ROOT / "services" / "notification" / "src" / "notification" / "application" / f"_probe_{uuid.uuid4().hex[:8]}.py"
    probe.write_text('"""A probe: application code must not send mail itself."""\n\nimport aiosmtplib  # noqa: F401\n')
    try:
        out = _lint_imports()
    finally:
        probe.unlink()
    assert out.returncode != 0 and "BROKEN" in out.stdout, out.stdout
    assert "aiosmtplib" in out.stdout
