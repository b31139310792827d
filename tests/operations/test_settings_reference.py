"""The settings reference (docs/operations/settings.md) is what ``scripts/settings_reference.py``
builds from the settings classes now: every variable a service accepts, described, with secrets
marked. A setting added, removed or changed without regenerating the document fails here
(``.venv/bin/python scripts/settings_reference.py`` regenerates it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_reference", ROOT / "scripts" / "settings_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["settings_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_what_the_settings_classes_say(reference: ModuleType) -> None:
    committed = (ROOT / "docs" / "operations" / "settings.md").read_text(encoding="utf-8")
    assert committed == reference.build(), (
        "docs/operations/settings.md is stale: run .venv/bin/python scripts/settings_reference.py"
    )


def test_every_setting_has_a_description(reference: ModuleType) -> None:
    assert reference.undescribed() == []


def _leaves(model: type[BaseModel], prefix: str) -> set[str]:
    """The variables that set a leaf value, by the kit's own account of the accepted names
    (`setting_env_names` is what refuses an unknown variable at start-up)."""
    from ten99kit.settings import setting_env_names

    names, _ = setting_env_names(model, prefix)
    groups = {n for n in names if any(other.startswith(f"{n}__") for other in names)}
    return names - groups


@pytest.mark.parametrize("service", ["gateway", "contractor", "enrollment", "policy", "billing", "notification"])
def test_every_variable_a_service_accepts_is_in_the_reference(reference: ModuleType, service: str) -> None:
    cls = reference.service_settings(service)
    prefix = str(cls.model_config["env_prefix"])
    documented = {s.variable for s in reference.own_settings(service)}
    documented |= {s.variable.replace("<PREFIX>", prefix) for s in reference.kit_settings()}
    assert _leaves(cls, prefix) == documented
    assert len(documented) > 30


def test_a_setting_named_like_a_secret_is_typed_secret(reference: ModuleType) -> None:
    """A secret in a plain ``str`` would print in a settings repr or a validation error; every name
    with token/key/password/secret in it is a ``SecretStr`` (or a list of them) unless it is one of
    the script's explained exceptions."""
    plain = []
    for setting in reference.all_settings():
        name = setting.source.split(".")[-1]
        words = name.split("_")
        if (
            any(w in reference.SECRET_WORDS for w in words)
            and name not in reference.NOT_SECRET
            and "SecretStr" not in setting.type
        ):
            plain.append(setting.source)
    assert plain == []
    marked = {s.variable: s.secret for s in reference.all_settings()}
    assert marked["CONTRACTOR_TAX_ID_KEYS"] and marked["NOTIFICATION_SMTP__PASSWORD"] and marked["<PREFIX>INTERNAL_TOKEN"]
    assert not marked["GATEWAY_API_KEY_PREFIX"] and not marked["<PREFIX>DB__POOL_SIZE"]


def test_no_secret_value_is_written_into_the_reference(reference: ModuleType) -> None:
    from contractor.settings import DEV_TAX_ID_KEY
    from enrollment.settings import DEV_TOKEN_SECRET
    from policy.settings import DEV_LINK_SECRET

    text = reference.build()
    for value in (DEV_TAX_ID_KEY, DEV_TOKEN_SECRET, DEV_LINK_SECRET):
        assert value not in text
