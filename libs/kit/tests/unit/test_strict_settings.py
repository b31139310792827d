"""Settings refuse what would otherwise run quietly on a default: an environment variable with the
service's prefix that names no setting, and, outside development, an empty token or a secret that
still holds its development-only default. The gateway's session cookie is Secure unless in development."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from demo import DemoSettings, definition
from pydantic import ValidationError
from ten99_testing.system import SERVICES, System
from ten99kit.cli import main
from ten99kit.runtime import Runtime
from ten99kit.settings import SettingsRefused

TOKENS = {"internal_token": "internal-secret", "operator_token": "operator-secret"}


def settings_type(service: str) -> Any:
    module = importlib.import_module(f"{service}.settings")
    (cls,) = [v for v in vars(module).values() if isinstance(v, type) and getattr(v, "service_name", None) == service]
    return cls


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No variable of the demo's or a service's prefix from the machine running the tests."""
    import os

    prefixes = ("DEMO_", *(f"{s.upper()}_" for s in SERVICES))
    for name in list(os.environ):
        if name.upper().startswith(prefixes):
            monkeypatch.delenv(name)
    return monkeypatch


# --- unknown variables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [("DEMO_DB_URL", "DEMO_DB__URL"), ("DEMO_DB__URLL", "DEMO_DB__URL"), ("demo_operator_tokn", "DEMO_OPERATOR_TOKEN")],
)
def test_an_unknown_variable_with_the_prefix_is_refused_by_name(
    clean_environment: pytest.MonkeyPatch, variable: str, suggestion: str
) -> None:
    clean_environment.setenv(variable, "postgresql+asyncpg://x:hunter2@h/db")
    with pytest.raises(ValidationError) as e:
        DemoSettings()
    message = str(e.value)
    assert variable in message and f"did you mean {suggestion}?" in message
    assert "hunter2" not in message  # settings errors never echo values (database URLs carry passwords)


def test_a_service_refuses_a_typo_in_its_database_variable(clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("CONTRACTOR_DB_URL", "postgresql+asyncpg://x@h/contractor")
    with pytest.raises(ValidationError, match=r"CONTRACTOR_DB_URL \(did you mean CONTRACTOR_DB__URL\?\)"):
        settings_type("contractor")()


def test_known_variables_nested_groups_and_other_prefixes_are_accepted(clean_environment: pytest.MonkeyPatch) -> None:
    for name, value in {
        "DEMO_DB__URL": "postgresql+asyncpg://x@h/db",
        "demo_nats__max_deliver": "9",  # the names are case-insensitive, as pydantic-settings reads them
        "DEMO_NATS": '{"replicas": 3}',  # a whole group as JSON
        "DEMO_DEVELOPMENT": "true",
        "TEN99_NATS_PORT": "14222",  # the kit's default prefix belongs to tools (scripts/run_local.py)
        "DEMOS_OTHER": "x",
    }.items():
        clean_environment.setenv(name, value)
    settings = DemoSettings()
    assert settings.nats.max_deliver == 9 and settings.development is True


def test_the_environment_the_tools_give_each_service_is_accepted(clean_environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every variable ten99_testing.System (e2e tests, `make run`) sets is a setting of its service."""
    system = System(
        nats_url="nats://127.0.0.1:1",
        database_urls={s: f"sqlite+aiosqlite:///{tmp_path}/{s}.db" for s in SERVICES},
        smtp_host="127.0.0.1",
        smtp_port=1025,
        workdir=tmp_path / "system",
        catcher=True,
        extra_env={"TEN99_SMTP_PORT": "1025"},
    )
    for service in SERVICES:
        for name, value in system.services[service].env.items():
            if name.startswith(f"{service.upper()}_"):
                clean_environment.setenv(name, value)
        settings = settings_type(service)()
        settings.refuse_unsafe_defaults()  # development: the System runs the development default
        assert settings.development is True and settings.operator_token.get_secret_value() == system.operator_token


# --- development secrets and empty tokens ---------------------------------------------------------


def test_outside_development_empty_tokens_are_refused_by_variable_name() -> None:
    with pytest.raises(SettingsRefused) as e:
        DemoSettings().refuse_unsafe_defaults()
    assert "DEMO_INTERNAL_TOKEN is empty" in str(e.value) and "DEMO_OPERATOR_TOKEN is empty" in str(e.value)
    with pytest.raises(SettingsRefused, match="DEMO_OPERATOR_TOKEN is empty"):
        DemoSettings(internal_token="internal-secret").refuse_unsafe_defaults()
    with pytest.raises(SettingsRefused, match="DEMO_OPERATOR_TOKEN equals DEMO_INTERNAL_TOKEN"):
        DemoSettings(internal_token="same", operator_token="same").refuse_unsafe_defaults()
    DemoSettings(**TOKENS).refuse_unsafe_defaults()
    DemoSettings(development=True).refuse_unsafe_defaults()


@pytest.mark.parametrize(
    ("service", "variables"),
    [
        ("contractor", ["CONTRACTOR_TAX_ID_KEYS", "CONTRACTOR_INTEGRATION_SECRET_KEYS"]),
        ("enrollment", ["ENROLLMENT_TOKEN_SECRET"]),
        ("policy", ["POLICY_LINK_SECRET"]),
    ],
)
def test_outside_development_a_development_secret_is_refused_by_variable_name(
    clean_environment: pytest.MonkeyPatch, service: str, variables: list[str]
) -> None:
    cls = settings_type(service)
    with pytest.raises(SettingsRefused) as e:
        cls(**TOKENS).refuse_unsafe_defaults()
    assert all(f"{v} holds the development-only default" in str(e.value) for v in variables), str(e.value)
    # in development the defaults are accepted, and so are the service's own secrets outside it
    cls(development=True).refuse_unsafe_defaults()
    cls(
        **TOKENS, **{v.removeprefix(f"{service.upper()}_").lower(): _own_secret(cls, v) for v in variables}
    ).refuse_unsafe_defaults()


def _own_secret(cls: Any, variable: str) -> Any:
    """A production value of the setting behind ``variable``: a list for the key-rotation lists."""
    field = cls.model_fields[variable.split("_", 1)[1].lower()]
    return ["a-long-random-production-key"] if "list" in str(field.annotation) else "a-long-random-production-secret"


def test_a_development_secret_among_rotated_keys_is_refused(clean_environment: pytest.MonkeyPatch) -> None:
    contractor = importlib.import_module("contractor.settings")
    settings = contractor.ContractorSettings(
        **TOKENS, tax_id_keys=["new-key", contractor.DEV_TAX_ID_KEY], integration_secret_keys=["own-key"]
    )
    with pytest.raises(SettingsRefused, match="CONTRACTOR_TAX_ID_KEYS"):
        settings.refuse_unsafe_defaults()


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_refuses_empty_tokens_outside_development(clean_environment: pytest.MonkeyPatch, service: str) -> None:
    p = service.upper()
    with pytest.raises(SettingsRefused, match=f"{p}_INTERNAL_TOKEN is empty.*{p}_OPERATOR_TOKEN is empty"):
        settings_type(service)().refuse_unsafe_defaults()


def test_a_runtime_refuses_to_start_outside_development() -> None:
    with pytest.raises(SettingsRefused, match="DEMO_OPERATOR_TOKEN"):
        Runtime(definition, DemoSettings(internal_token="internal-secret"))


def test_the_command_line_stops_with_the_reason(
    clean_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_environment.setenv("DEMO_INTERNAL_TOKEN", "internal-secret")
    assert main(definition, ["api"]) == 2
    assert "DEMO_OPERATOR_TOKEN is empty" in capsys.readouterr().err
    clean_environment.setenv("DEMO_DB__URLL", "x")
    assert main(definition, ["migrate"]) == 2
    assert "DEMO_DB__URLL (did you mean DEMO_DB__URL?)" in capsys.readouterr().err


# --- the session cookie ------------------------------------------------------------------------------


def test_the_session_cookie_is_secure_unless_in_development(clean_environment: pytest.MonkeyPatch) -> None:
    gateway = settings_type("gateway")
    assert gateway().session_cookie_secure is True
    assert gateway().session.cookie_secure is True  # the effective value, for whoever reads the field
    assert gateway(development=True).session_cookie_secure is False
    assert gateway(session={"cookie_secure": False}).session_cookie_secure is False  # plain HTTP, on purpose
    assert gateway(development=True, session={"cookie_secure": True}).session_cookie_secure is True
    clean_environment.setenv("GATEWAY_DEVELOPMENT", "true")
    assert gateway().session.cookie_secure is False
    clean_environment.setenv("GATEWAY_SESSION__COOKIE_SECURE", "true")
    assert gateway().session_cookie_secure is True
