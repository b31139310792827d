"""The committed OpenAPI document of the public API (``services/gateway/src/gateway/api/
public-openapi.json``) is what ``scripts/public_openapi.py`` builds from the services' APIs now: a
change to a service's request or response Structs, or to the gateway's allow-list, fails here until
the document is rebuilt (``.venv/bin/python scripts/public_openapi.py``)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

from gateway.api.public_api import OPERATIONS

ROOT = Path(__file__).resolve().parents[2]


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("public_openapi", ROOT / "scripts" / "public_openapi.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["public_openapi"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_document_is_what_the_script_builds_and_names_every_operation() -> None:
    build = script()
    committed = json.loads(build.OUTPUT.read_text())
    built = build.document()
    assert committed == built, "public-openapi.json is stale: run .venv/bin/python scripts/public_openapi.py"
    for op in OPERATIONS:
        path = "/api/v1" + re.sub(r"\{(\w+):str\}", r"{\1}", op.path)
        assert committed["paths"][path][op.method.value.lower()]["operationId"] == op.name
    # every reference resolves, and no service's internal header is documented as a parameter
    text = json.dumps(committed)
    for name in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert name in committed["components"]["schemas"], name
    assert "X-Tenant-Id" not in text and "x-tenant-id" not in text.lower()
