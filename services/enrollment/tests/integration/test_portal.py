"""The contractor portal's sign-in links (issue 15): known or not, an email gets the same answer;
a link is stored hashed, works once, for 15 minutes of the service's clock; requests are limited
per email and per client. A used link opens a portal session (12 hours, stored hashed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import nats
import pytest
from enrollment.adapters.db import portal_links
from enrollment.application.portal import ANSWER, PORTAL_TENANT
from enrollment.domain.tokens import hash_token
from enrollment_support import NOW, OTHER_TENANT, TENANT, apply, assignment, company, contractor, envelope, job
from sqlalchemy import select
from ten99_contracts import decode_envelope
from ten99_contracts.enrollment_v1 import PortalLinkRequestedV1
from ten99_testing import wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def _links(svc: RunningService) -> list[Any]:
    async with svc.db.session() as s:
        return list((await s.execute(select(portal_links).order_by(portal_links.c.created_at, portal_links.c.id))).all())


async def _sent_url(nats_url: str, link_id: str) -> str | None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_ENROLLMENT")
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            m = await js.get_msg("TEN99_ENROLLMENT", seq)
            if m.subject == PortalLinkRequestedV1.SUBJECT:
                env = decode_envelope(m.data, m.subject)
                if env.data.link_id == link_id:
                    assert env.tenant_id == PORTAL_TENANT  # no company's mailbox shows it
                    return str(env.data.sign_in_url)
        return None
    finally:
        await nc.close()


async def _known_contractor(svc: RunningService) -> None:
    ada = contractor(1)
    await apply(svc.db, company(), envelope(assignment(1, ada, job(1))))
    # the same person works for a second company
    await apply(svc.db, company(OTHER_TENANT, "Beta Media"), envelope(assignment(2, contractor(1), job(2)), tenant=OTHER_TENANT))


async def _ask(svc: RunningService, email: str, client: str = "203.0.113.7") -> Any:
    return await svc.client.post("/v1/portal/links", json={"email": email, "client": client})


async def test_a_known_email_gets_a_single_use_link_stored_hashed(svc: RunningService, jetstream_url: str) -> None:
    await _known_contractor(svc)
    r = await _ask(svc, "  C1@Example.com ")
    assert r.status_code == 202, r.text
    assert r.json() == {"message": ANSWER}
    [row] = await _links(svc)
    url = await wait_until(lambda: _sent_url(jetstream_url, row.id))
    token = url.rsplit("/portal/sign-in/", 1)[1]
    assert url == f"http://gw.test/portal/sign-in/{token}"
    assert len(token) >= 43  # 256 random bits, base64url
    assert row.token_hash == hash_token(token) and token not in str(tuple(row))
    assert row.email == "c1@example.com" and row.expires_at == NOW + timedelta(minutes=15)

    r = await svc.client.post("/v1/portal/sessions", json={"token": token})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == "c1@example.com"
    assert {(c["tenant_id"], c["contractor_id"], c["company_name"]) for c in body["companies"]} == {
        (TENANT, contractor(1).contractor_id, "Acme Creators"),
        (OTHER_TENANT, contractor(1).contractor_id, "Beta Media"),
    }
    session_token = body["session_token"]
    assert len(session_token) >= 43 and session_token not in str(tuple((await _links(svc))[0]))
    me = await svc.client.get("/v1/portal/sessions/current", headers={"x-portal-session": session_token})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "c1@example.com" and len(me.json()["companies"]) == 2
    assert "session_token" not in me.json()
    svc.clock.freeze(NOW + timedelta(hours=12))
    ended = await svc.client.get("/v1/portal/sessions/current", headers={"x-portal-session": session_token})
    assert ended.status_code == 401 and ended.json()["error_code"] == "portal_session_invalid"
    # signing out ends a session at once
    svc.clock.freeze(NOW)
    assert (await _ask(svc, "c1@example.com")).status_code == 202
    [row] = [r for r in await _links(svc) if r.used_at is None]
    url = await wait_until(lambda: _sent_url(jetstream_url, row.id))
    opened = (await svc.client.post("/v1/portal/sessions", json={"token": url.rsplit("/", 1)[1]})).json()["session_token"]
    signed_in = {"x-portal-session": opened}
    assert (await svc.client.get("/v1/portal/sessions/current", headers=signed_in)).status_code == 200
    assert (await svc.client.post("/v1/portal/sessions/current/end", headers=signed_in)).json() == {"ended": True}
    ended = await svc.client.get("/v1/portal/sessions/current", headers=signed_in)
    assert ended.status_code == 401 and ended.json()["error_code"] == "portal_session_invalid"
    forged = await svc.client.get("/v1/portal/sessions/current", headers={"x-portal-session": "y" * 43})
    assert forged.status_code == 401
    again = await svc.client.post("/v1/portal/sessions", json={"token": token})
    assert again.status_code == 410 and again.json()["error_code"] == "portal_link_invalid"
    bogus = await svc.client.post("/v1/portal/sessions", json={"token": "x" * 43})
    assert bogus.status_code == 410


async def test_an_unknown_email_gets_the_same_answer_and_no_link(svc: RunningService) -> None:
    await _known_contractor(svc)
    known, unknown = await _ask(svc, "c1@example.com"), await _ask(svc, "nobody@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {"message": ANSWER})
    rows = {r.email: r for r in await _links(svc)}
    assert rows["nobody@example.com"].token_hash is None and rows["c1@example.com"].token_hash is not None
    async with svc.db.session() as s:
        from enrollment.adapters.db import outbox

        subjects = [r.subject for r in (await s.execute(select(outbox.c.subject, outbox.c.payload))).all()]
    assert subjects.count(PortalLinkRequestedV1.SUBJECT) == 1
    for junk in ("not-an-email", "a\x00b@example.com", "x" * 400 + "@example.com"):
        bad = await _ask(svc, junk)
        assert bad.status_code == 400 and bad.json()["error_code"] in ("invalid_email", "invalid_input")


async def test_a_link_expires_after_15_minutes_of_the_service_clock(svc: RunningService, jetstream_url: str) -> None:
    await _known_contractor(svc)
    await _ask(svc, "c1@example.com")
    await _ask(svc, "c1@example.com")
    first, second = await _links(svc)
    first_url = await wait_until(lambda: _sent_url(jetstream_url, first.id))
    second_url = await wait_until(lambda: _sent_url(jetstream_url, second.id))
    svc.clock.freeze(NOW + timedelta(minutes=14, seconds=59))
    r = await svc.client.post("/v1/portal/sessions", json={"token": first_url.rsplit("/", 1)[1]})
    assert r.status_code == 200, r.text
    svc.clock.freeze(NOW + timedelta(minutes=15))
    r = await svc.client.post("/v1/portal/sessions", json={"token": second_url.rsplit("/", 1)[1]})
    assert r.status_code == 410, r.text


async def test_requests_are_limited_per_email_and_per_client_the_same_for_unknown_emails(svc: RunningService) -> None:
    await _known_contractor(svc)
    for email in ("c1@example.com", "nobody@example.com"):
        for i in range(3):
            assert (await _ask(svc, email, client=f"198.51.100.{i}")).status_code == 202
        r = await _ask(svc, email, client="198.51.100.9")
        assert r.status_code == 429 and r.json()["error_code"] == "rate_limited"
    count = len(await _links(svc))
    # one client asking for many addresses
    answers = [(await _ask(svc, f"x{i}@example.com", client="192.0.2.1")).status_code for i in range(11)]
    assert answers == [202] * 10 + [429]
    assert len(await _links(svc)) == count + 10
    # a window later, the address may ask again
    svc.clock.freeze(NOW + timedelta(minutes=15, seconds=1))
    assert (await _ask(svc, "c1@example.com")).status_code == 202
