"""Login gives nothing away (unknown and known emails answered the same, in about the same time,
lockout included); cookies are Secure outside the local development default; a service refuses to
start on a misspelled setting or on development secrets."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT, Stack, log_in, login_form_token, production_secrets

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(600)]


def _answer(r: httpx.Response) -> tuple[int, str]:
    """What a login attempt tells the caller: the status and the page's error message."""
    import re

    found = re.search(r'data-testid="login-error"[^>]*>([^<]*)<', r.text) or re.search(r'class="error"[^>]*>([^<]*)<', r.text)
    return r.status_code, (found.group(1).strip() if found else r.text[:0])


def _add_user(stack: Stack, email: str) -> None:
    """A user of company B whose password the attacker does not know (each test its own: failed
    logins lock an address, and the other tests log in as B's owner)."""
    import re

    with stack.dashboard(stack.b) as owner:
        csrf = re.search(r'name="_csrf" value="([^"]+)"', owner.get("/settings").text)
        assert csrf
        r = owner.post("/settings/users", data={"email": email, "password": "a long secret pass phrase", "_csrf": csrf.group(1)})
        assert r.status_code in (200, 303), r.text[:300]


def test_unknown_and_known_emails_get_the_same_answer_lockout_included(stack: Stack) -> None:
    known, unknown = "victim@b-lockout.test", "nobody@b-lockout.test"
    _add_user(stack, known)
    answers: dict[str, list[tuple[int, str]]] = {known: [], unknown: []}
    for _ in range(12):  # past any lockout threshold
        for email in (known, unknown):
            with httpx.Client(base_url=stack.gateway, timeout=30) as client:
                answers[email].append(_answer(log_in(client, email, "wrong password")))
    assert answers[known] == answers[unknown], answers
    assert all(status in (401, 429) for status, _ in answers[known])


def test_an_unknown_email_costs_about_as_much_as_a_wrong_password(stack: Stack) -> None:
    """Not a timing budget: the unknown email must not skip the password hash (which dominates).
    The two are timed in turns, so that a burst of load on the shared machine slows both alike
    (five of one, then five of the other, let a burst during one half fake or hide an oracle)."""

    def attempt_ms(client: httpx.Client, email: str) -> float:
        token = login_form_token(client)
        started = time.perf_counter()
        client.post("/login", data={"email": email, "password": "wrong", "_csrf": token})
        return (time.perf_counter() - started) * 1000

    _add_user(stack, "timed@b-lockout.test")
    samples: dict[str, list[float]] = {"timed@b-lockout.test": [], "never-registered@b.test": []}
    with httpx.Client(base_url=stack.gateway, timeout=30) as client:
        for _ in range(7):
            for email, taken in samples.items():  # locked or not, the hash runs for the known one
                taken.append(attempt_ms(client, email))
    known, unknown = (statistics.median(taken) for taken in samples.values())
    assert unknown > 0.3 * known, f"unknown email {unknown:.1f} ms against known {known:.1f} ms: an enumeration oracle"


def test_the_session_cookie_is_secure_outside_the_development_default(stack: Stack, tmp_path) -> None:
    """A gateway started like production (no development flag) sets Secure, HttpOnly cookies."""
    gateway = stack.system.services["gateway"]
    env = {k: v for k, v in gateway.env.items() if not k.endswith("_DEVELOPMENT")}
    env.update(production_secrets("gateway"))
    from ten99_testing.ports import free_port

    port = free_port()
    env["GATEWAY_HTTP__PORT"] = str(port)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "api"],
        env=env,
        cwd=ROOT,
        stdout=open(tmp_path / "gateway.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        from ten99_testing.system import wait_until

        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "gateway.log").read_text()[-3000:])
            try:
                return httpx.get(f"{url}/livez", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, what="a production-mode gateway")
        with httpx.Client(base_url=url, timeout=30) as client:
            page = client.get("/login")
            cookies = page.headers.get_list("set-cookie")
            assert cookies and all("secure" in c.lower() for c in cookies), cookies
            # a Secure cookie is not sent back over plain HTTP by a client: send it as a browser on HTTPS would
            login_csrf = page.headers["set-cookie"].split(";")[0]
            token = login_csrf.split("=", 1)[1]
            r = client.post(
                "/login",
                data={"email": stack.b.email, "password": stack.b.password, "_csrf": token, "next": "/"},
                headers={"Cookie": login_csrf},
            )
            assert r.status_code == 303, r.text[:300]
            session = [c for c in r.headers.get_list("set-cookie") if c.startswith("ten99_session=")]
            assert session, r.headers
            assert "secure" in session[0].lower() and "httponly" in session[0].lower(), session
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _start(service: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m <service> api`` as an operator would start it; a refused start exits at once."""
    env = {**env, f"{service.upper()}_DATA_DIR": str(tmp_path), f"{service.upper()}_NATS__URL": "nats://127.0.0.1:1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", service, "api"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{service} started (and ran for a minute) instead of refusing") from e


def _clean_env() -> dict[str, str]:
    prefixes = ("CONTRACTOR_", "ENROLLMENT_", "POLICY_", "BILLING_", "NOTIFICATION_", "GATEWAY_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CONTRACTOR_DB_URL", "postgresql+asyncpg://nowhere/x"),
        ("CONTRACTOR_NATS__URLL", "nats://x"),
        ("CONTRACTOR_INTERNALTOKEN", "x"),
    ],
)
def test_a_misspelled_setting_stops_the_service_and_is_named(variable: str, value: str, tmp_path: Path) -> None:
    env = {**_clean_env(), "CONTRACTOR_DEVELOPMENT": "true", variable: value}
    out = _start("contractor", env, tmp_path)
    assert out.returncode != 0
    assert variable in out.stdout + out.stderr, out.stdout + out.stderr
    assert "nowhere" not in out.stdout + out.stderr, "the refusal printed a setting's value"


@pytest.mark.parametrize("service", ["contractor", "enrollment", "policy", "billing", "notification", "gateway"])
def test_development_secrets_stop_a_service_outside_the_development_default(service: str, tmp_path: Path) -> None:
    """Every secret set but one left at its development value (or empty): the service names it."""
    secrets = production_secrets(service)
    # with every secret set, the settings are accepted (so the refusals below are about the one left out)
    name = f"{service.capitalize()}Settings"
    accepted = subprocess.run(
        [sys.executable, "-c", f"from {service}.settings import {name}; {name}().refuse_unsafe_defaults()"],
        env={**_clean_env(), **secrets},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert accepted.returncode == 0, accepted.stderr
    for variable in secrets:
        env = {**_clean_env(), **secrets}
        del env[variable]
        out = _start(service, env, tmp_path)
        assert out.returncode != 0, f"{service} started without {variable}"
        assert variable in out.stdout + out.stderr, (variable, out.stdout + out.stderr)
