"""Companies, users, sessions, lockout, CSRF and the create-company command, on PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import timedelta
from typing import Any

import msgspec
import nats
import pytest
from gateway.adapters.db import api_keys, companies, sessions, users
from gateway.application.accounts import LoginFailed, log_in
from gateway.application.api_keys import authenticate_api_key
from gateway.bootstrap import definition
from gateway.domain.accounts import AccountError
from gateway_fakes import PASSWORD, csrf_of, login, make_company, new_client
from sqlalchemy import func, select
from ten99_contracts.gateway_v1 import ApiKeyCreatedV1, CompanyCreatedV1, UserAddedV1
from ten99kit.migrations import schema_drift, upgrade

pytestmark = pytest.mark.integration


async def count(svc: Any, table: Any, *where: Any) -> int:
    async with svc.db.session() as s:
        return (await s.execute(select(func.count()).select_from(table).where(*where))).scalar_one()


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, definition.migrations, database_url)
    assert await schema_drift(database_url, definition.metadata) == []


async def published_companies(nats_url: str) -> list[dict[str, Any]]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_GATEWAY")
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("TEN99_GATEWAY", seq)
            out.append(msgspec.json.decode(msg.data))
        return out
    finally:
        await nc.close()


async def test_create_company_command_is_idempotent_and_announces_the_company(
    gateway: Any, jetstream_url: str, capsys: Any
) -> None:
    command = definition.commands["create-company"]
    args = argparse.Namespace(name="Acme Talent", email="Owner@Acme.test", password=PASSWORD, api_key=True, json=False)
    assert await command.run(gateway.runtime, args) == 0
    first = capsys.readouterr().out
    assert "owner@acme.test" in first and "api key:   t9sk_test_" in first
    key = first.split("api key:   ")[1].split()[0]

    # again, with the same email (even another name and password): nothing about the company changes
    again = argparse.Namespace(name="Other name", email="owner@acme.test", password="another password", api_key=False, json=True)
    assert await command.run(gateway.runtime, again) == 0
    second = msgspec.json.decode(capsys.readouterr().out)
    assert second["created"] is False and second["company_name"] == "Acme Talent" and "password" not in second
    assert await count(gateway, companies) == 1 and await count(gateway, users) == 1

    company_id = second["company_id"]
    assert await authenticate_api_key(gateway.db, key) == company_id
    async with gateway.db.session() as s:
        hashes = (await s.execute(select(api_keys.c.key_hash, api_keys.c.display))).all()
    assert len(hashes) == 1 and key not in hashes[0] and hashes[0].display.startswith("t9sk_test_")

    # the company was announced once, through the outbox
    await gateway.settle()
    messages = await published_companies(jetstream_url)
    # with its owner and the API key the command made (for the audit ledger), no secret in them
    assert [m["subject"] for m in messages] == [CompanyCreatedV1.SUBJECT, UserAddedV1.SUBJECT, ApiKeyCreatedV1.SUBJECT]
    assert {m["tenant_id"] for m in messages} == {company_id}
    assert messages[0]["data"] == {"company_id": company_id, "name": "Acme Talent", "owner_email": "owner@acme.test"}
    assert messages[1]["data"]["email"] == "owner@acme.test" and messages[1]["data"]["role"] == "owner"
    assert key not in str(messages) and "password" not in str(messages)

    # the owner can log in with the first password, not the second
    assert (await login(gateway.client, "owner@acme.test", "another password")).status_code == 401
    assert (await login(gateway.client, "owner@acme.test")).status_code == 303


async def test_bad_command_input_is_refused_and_creates_nothing(gateway: Any, capsys: Any) -> None:
    command = definition.commands["create-company"]
    args = argparse.Namespace(name="Acme", email="not-an-email", password=PASSWORD, api_key=False, json=False)
    assert await command.run(gateway.runtime, args) == 2
    assert "valid email" in capsys.readouterr().out
    assert await count(gateway, companies) == 0


async def test_login_session_logout_and_expiry(gateway: Any) -> None:
    await make_company(gateway, "Acme", "ada@acme.test")
    client = gateway.client
    r = await client.get("/contractors")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")

    wrong = await login(client, "ada@acme.test", "wrong password!")
    assert wrong.status_code == 401 and 'data-testid="login-error"' in wrong.text and "Wrong email or password" in wrong.text
    unknown = await login(client, "nobody@acme.test")
    assert unknown.status_code == 401 and "Wrong email or password" in unknown.text

    ok = await login(client, "ADA@acme.test")
    assert ok.status_code == 303 and ok.headers["location"] == "/contractors"
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("ten99_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax") and "Secure" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    async with gateway.db.session() as s:
        stored = (await s.execute(select(sessions.c.token_hash))).scalars().all()
    assert len(stored) == 1 and stored[0] != token  # only the hash is kept

    page = await client.get("/contractors")
    assert page.status_code == 200 and 'data-testid="company-name">Acme<' in page.text

    # idle too long: the session ends
    gateway.clock.advance(timedelta(hours=9))
    r = await client.get("/contractors")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert await count(gateway, sessions) == 0

    # log in again, then log out: the session is gone server-side
    assert (await login(client, "ada@acme.test")).status_code == 303
    page = await client.get("/contractors")
    out = await client.post("/logout", data={"_csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert await count(gateway, sessions) == 0
    client.cookies.set("ten99_session", token)  # an old cookie is worthless
    assert (await client.get("/contractors")).status_code == 303


async def test_sessions_end_at_their_absolute_expiry_even_when_used(gateway: Any) -> None:
    await make_company(gateway, "Acme", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    for _ in range(7 * 4):  # used every 6 hours for a week
        gateway.clock.advance(timedelta(hours=6))
        r = await gateway.client.get("/contractors")
        if r.status_code != 200:
            break
    assert r.status_code == 303
    async with gateway.db.session() as s:
        assert (await s.execute(select(func.count()).select_from(sessions))).scalar_one() == 0


def login_answer(r: Any) -> tuple[int, str]:
    """What a failed login tells the caller: its status and the message on the page."""
    found = re.search(r'data-testid="login-error"[^>]*>([^<]*)<', r.text)
    return r.status_code, found.group(1) if found else ""


async def test_repeated_failures_lock_the_account_for_a_while(gateway: Any) -> None:
    await make_company(gateway, "Acme", "ada@acme.test")
    client = gateway.client
    first = await login(client, "ada@acme.test", "wrong password!")
    assert first.status_code == 401 and "Wrong email or password" in first.text
    for _ in range(4):  # the fifth locks the account, with the same answer as the others
        assert login_answer(await login(client, "ada@acme.test", "wrong password!")) == login_answer(first)
    async with gateway.db.session() as s:
        assert (await s.execute(select(users.c.locked_until))).scalar_one() is not None
    # even the right password is refused while locked, and the answer does not say why
    assert login_answer(await login(client, "ada@acme.test")) == login_answer(first)
    gateway.clock.advance(timedelta(minutes=16))
    assert (await login(client, "ada@acme.test")).status_code == 303
    async with gateway.db.session() as s:
        row = (await s.execute(select(users.c.failed_logins, users.c.locked_until))).one()
    assert row.failed_logins == 0 and row.locked_until is None


async def test_unknown_and_known_emails_get_the_same_answer_and_work_lockout_included(gateway: Any) -> None:
    """No account enumeration: the status, the message and the password-hash work are the same for
    an unknown email, a malformed one, a wrong password and a locked account."""
    await make_company(gateway, "Acme", "ada@acme.test")
    passwords = gateway.runtime.gateway.passwords
    verified: list[str | None] = []
    real_verify = passwords.verify

    async def counting_verify(password_hash: str | None, password: str) -> bool:
        verified.append(password_hash)
        return await real_verify(password_hash, password)

    passwords.verify = counting_verify
    answers: dict[str, list[tuple[int, str]]] = {"ada@acme.test": [], "nobody@acme.test": [], "not an email": []}
    for _ in range(8):  # past the lockout threshold (5)
        for email, seen in answers.items():
            before = len(verified)
            seen.append(login_answer(await login(gateway.client, email, "wrong password!")))
            assert len(verified) == before + 1, email  # one password hash verification each, locked or not
    assert answers["ada@acme.test"] == answers["nobody@acme.test"] == answers["not an email"]
    assert {status for status, _ in answers["ada@acme.test"]} == {401}
    assert "Wrong email or password" in answers["ada@acme.test"][0][1]
    async with gateway.db.session() as s:  # the known account did get locked meanwhile
        assert (await s.execute(select(users.c.locked_until))).scalar_one() is not None
        # failures against an unknown email create nothing
        assert (await s.execute(select(func.count()).select_from(users))).scalar_one() == 1


async def test_emails_with_control_characters_are_refused_not_a_500(gateway: Any) -> None:
    await make_company(gateway, "Acme", "ada@acme.test")
    gw = gateway.runtime.gateway
    for email in ("ada\x00@acme.test", "ada@acme.test\x00", "\x17ada@acme.test"):
        with pytest.raises(LoginFailed):
            await log_in(gateway.db, gw.passwords, gw.settings.login, gw.settings.session, email=email, password=PASSWORD)
        # (the kit's HTTP app may refuse control characters in a form with a 400 before the page runs)
        assert (await login(gateway.client, email)).status_code in (400, 401)
    with pytest.raises(AccountError):
        await make_company(gateway, "Evil", "eve\x00@acme.test")


async def test_posts_without_the_right_csrf_token_are_refused(gateway: Any) -> None:
    await make_company(gateway, "Acme", "ada@acme.test")
    client = gateway.client
    # login form: its double-submit token is required
    r = await client.post("/login", data={"email": "ada@acme.test", "password": PASSWORD})
    assert r.status_code == 403 and "ten99_session" not in r.headers.get("set-cookie", "")
    assert (await login(client, "ada@acme.test")).status_code == 303

    before = await count(gateway, api_keys)
    r = await client.post("/settings/api-keys", data={"name": "no token"})
    assert r.status_code == 403 and 'data-testid="error-page"' in r.text
    r = await client.post("/settings/api-keys", data={"name": "wrong", "_csrf": "x" * 43})
    assert r.status_code == 403
    r = await client.post("/settings/api-keys", data={"name": "forged"}, headers={"X-CSRF-Token": "nope"})
    assert r.status_code == 403
    assert await count(gateway, api_keys) == before

    # another user's token does not work for this session either
    other = new_client(gateway)
    await make_company(gateway, "Other", "bob@other.test")
    await login(other, "bob@other.test")
    bobs = csrf_of((await other.get("/settings")).text)
    assert (await client.post("/settings/api-keys", data={"name": "x", "_csrf": bobs})).status_code == 403

    mine = csrf_of((await client.get("/settings")).text)
    r = await client.post("/settings/api-keys", data={"name": "ok", "_csrf": mine})
    assert r.status_code == 200 and 'data-testid="new-api-key"' in r.text
    r = await client.post("/settings/api-keys", data={"name": "via htmx header"}, headers={"X-CSRF-Token": mine})
    assert r.status_code == 200
    assert await count(gateway, api_keys) == before + 2
    await other.aclose()
