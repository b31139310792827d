"""Facility links against fake services on a real PostgreSQL: a company makes a read-only link to
one of its entities, anyone with the link sees the entity's contractors with coverage status and
verification links and nothing private; revoked, expired, unknown and malformed links get the same
404 (a malformed one without a query); another company's entity cannot be linked."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import msgspec
import nats
import pytest
from gateway.adapters.db import facility_links
from gateway.application.facility_links import list_facility_links
from gateway_fakes import FakeServices, Seen, csrf_of, ident, login, make_company, new_client
from litestar import Response
from sqlalchemy import event, func, select
from ten99_contracts.gateway_v1 import FacilityLinkCreatedV1, FacilityLinkRevokedV1

pytestmark = pytest.mark.integration

EN_ACME, EN_OTHER = ident("en", "1"), ident("en", "2")
AN_1, AN_2, AN_3 = ident("an", "1"), ident("an", "2"), ident("an", "3")
VRF = "vrf_" + "Ab3_-" * 5 + "Xy"
#: what the contractor service might (wrongly) send along: the page must not show any of it
PRIVATE = {"email": "ada@private.test", "tax_id": "123-45-6789", "address": "2211 Mission St", "wage": "$2,500.00"}


def fake_world(fake: FakeServices, owners: dict[str, str]) -> None:
    """Entities owned per company; a roster of two (one covered) with private fields it should not carry."""

    def entity(s: Seen) -> Any:
        entity_id = s.path.split("/")[3]
        if owners.get(entity_id) != s.headers.get("x-tenant-id"):
            return Response({"error_code": "invalid_entity_id", "message": "no such entity"}, status_code=404)
        if s.path.endswith("/facility"):
            people = [
                (AN_1, "Ada Lovelace", "Stagehand", "2030-01-10", "2030-01-20"),
                (AN_2, "Bob Builder", "Usher", "2030-01-12", "2030-01-30"),
                (AN_3, "Cy Young", "Usher", "2030-01-12", "2030-01-30"),
            ]
            rows = [
                {"assignment_id": a, "contractor_name": n, "job_name": j, "effective_date": f, "end_date": t,
                 "own_insurance": a == AN_3, **PRIVATE}
                for a, n, j, f, t in people
            ]  # fmt: skip
            return {"entity_id": entity_id, "entity_name": "Madison Square Garden", "first_day": "2030-01-10",
                    "last_day": "2030-01-24", "assignments": rows, "truncated": False}  # fmt: skip
        return {"id": entity_id, "object": "entity", "name": "Madison Square Garden"}

    fake.on("contractor", "GET", r"/v1/entities/en_\w+(/facility)?", entity)
    fake.on(
        "contractor",
        "GET",
        "/v1/entities",
        lambda s: {"object": "list", "has_more": False, "url": "/v1/entities", "data": [
            {"id": e, "object": "entity", "name": "Madison Square Garden"} for e, o in owners.items()
            if o == s.headers.get("x-tenant-id")]},
    )  # fmt: skip
    fake.on(
        "policy",
        "GET",
        "/v1/verifications",
        lambda s: {"object": "list", "has_more": False, "url": "/v1/verifications", "data": [
            {"assignment_id": AN_1, "coverage_id": ident("cv", "1"), "status": "active", "status_on": "2030-01-12",
             "verification_id": VRF, "tax_id": PRIVATE["tax_id"]}]},
    )  # fmt: skip


@pytest.fixture
async def acme(gateway: Any, fake_services: FakeServices) -> dict[str, str]:
    acme_id = await make_company(gateway, "Acme Talent", "ada@acme.test")
    other_id = await make_company(gateway, "Other Co", "bob@other.test")
    fake_world(fake_services, {EN_ACME: acme_id, EN_OTHER: other_id})
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    return {"acme": acme_id, "other": other_id}


async def make_link(gateway: Any, entity_id: str, expires: str = "never") -> str:
    page = await gateway.client.get(f"/facilities/{entity_id}")
    assert page.status_code == 200, page.text
    r = await gateway.client.post(
        f"/facilities/{entity_id}/links", data={"_csrf": csrf_of(page.text), "expires_in_days": expires}
    )
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    [url] = re.findall(r'value="(http[^"]+/facility/fac_[A-Za-z0-9_-]{43})"', r.text)
    return url.split("/facility/")[1]


async def links_stored(gateway: Any) -> int:
    async with gateway.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(facility_links))).scalar_one())


async def test_a_link_shows_the_entitys_contractors_with_status_and_verification_links_and_nothing_private(
    gateway: Any, fake_services: FakeServices, acme: dict[str, str]
) -> None:
    listing = await gateway.client.get("/facilities")
    assert listing.status_code == 200 and f'href="/facilities/{EN_ACME}"' in listing.text
    assert EN_OTHER not in listing.text
    token = await make_link(gateway, EN_ACME)
    async with gateway.db.session() as s:
        stored = (await s.execute(select(facility_links))).mappings().one()
    assert stored["tenant_id"] == acme["acme"] and stored["entity_id"] == EN_ACME and stored["created_by"] == "ada@acme.test"
    assert token not in str(dict(stored)) and stored["id"].startswith("fl_")

    fake_services.seen.clear()
    async with new_client(gateway) as stranger:  # no session
        r = await stranger.get(f"/facility/{token}")
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and r.headers["x-robots-tag"] == "noindex"
    assert r.headers["referrer-policy"] == "no-referrer"
    html = r.text
    assert "Contractors at Madison Square Garden" in html and "Acme Talent" in html
    assert html.count('data-testid="facility-row"') == 3
    assert f'href="/verify/{VRF}"' in html and html.count('data-testid="facility-verify"') == 1
    assert 'data-status="active"' in html and 'data-status="not_covered"' in html
    # Cy's own approved certificate covers the work: "Own insurance", no certificate of ours to verify
    assert html.count('data-status="own_insurance"') == 1 and "Own insurance" in html
    for shown in ("Ada Lovelace", "Bob Builder", "Stagehand", "2030-01-10", "2030-01-30"):
        assert shown in html
    for value in (*PRIVATE.values(), "6789", "Mission", "private.test"):
        assert value not in html, value
    # both services were asked as the link's company, never anyone else
    assert {(s.service, s.headers["x-tenant-id"]) for s in fake_services.seen} == {
        ("contractor", acme["acme"]),
        ("policy", acme["acme"]),
    }
    [asked] = fake_services.calls("policy", "GET", "/v1/verifications")
    assert sorted(re.findall(r"assignment=(an_\w+)", asked.query)) == [AN_1, AN_2, AN_3]


async def test_revoked_expired_and_unknown_links_get_the_same_404(
    gateway: Any, fake_services: FakeServices, acme: dict[str, str]
) -> None:
    token, expiring = await make_link(gateway, EN_ACME), await make_link(gateway, EN_ACME, expires="7")
    async with new_client(gateway) as stranger:
        assert (await stranger.get(f"/facility/{token}")).status_code == 200
        assert (await stranger.get(f"/facility/{expiring}")).status_code == 200
        page = await gateway.client.get(f"/facilities/{EN_ACME}")
        link_ids = re.findall(r'data-link-id="(fl_\w+)"', page.text)
        assert len(link_ids) == 2
        # the link made first is listed last (newest first)
        r = await gateway.client.post(f"/facilities/{EN_ACME}/links/{link_ids[-1]}/revoke", data={"_csrf": csrf_of(page.text)})
        assert r.status_code == 303
        gateway.clock.set(gateway.clock.now() + timedelta(days=7, seconds=1))
        answers = [await stranger.get(f"/facility/{t}") for t in (token, expiring, "fac_" + "A" * 43)]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert len({a.text for a in answers}) == 1  # the same page, whatever the reason
    assert 'data-state="not_found"' in answers[0].text and answers[0].headers["cache-control"] == "no-store"
    # (the dashboard session has expired by now too: the list as the page reads it)
    states = [link["state"] for link in await list_facility_links(gateway.db, acme["acme"], EN_ACME)]
    assert sorted(states) == ["expired", "revoked"]


async def link_messages(nats_url: str) -> list[dict[str, Any]]:
    """The facility link messages in the gateway's stream, in order (read by sequence)."""
    wanted = {FacilityLinkCreatedV1.SUBJECT, FacilityLinkRevokedV1.SUBJECT}
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info("TEN99_GATEWAY")
        found = [await js.get_msg("TEN99_GATEWAY", seq) for seq in range(info.state.first_seq, info.state.last_seq + 1)]
        return [msgspec.json.decode(m.data) for m in found if m.subject in wanted]
    finally:
        await nc.close()


async def test_making_and_revoking_a_link_publish_once_for_the_audit_ledger_never_the_token(
    gateway: Any, fake_services: FakeServices, acme: dict[str, str], jetstream_url: str
) -> None:
    token = await make_link(gateway, EN_ACME, expires="7")
    page = await gateway.client.get(f"/facilities/{EN_ACME}")
    [link_id] = re.findall(r'data-link-id="(fl_\w+)"', page.text)
    for _ in range(2):  # the second revocation finds no live link: nothing more is published
        await gateway.client.post(f"/facilities/{EN_ACME}/links/{link_id}/revoke", data={"_csrf": csrf_of(page.text)})
    await gateway.settle()
    created, revoked = await link_messages(jetstream_url)
    assert (created["subject"], revoked["subject"]) == (FacilityLinkCreatedV1.SUBJECT, FacilityLinkRevokedV1.SUBJECT)
    assert {created["tenant_id"], revoked["tenant_id"]} == {acme["acme"]}
    assert created["actor"].startswith("user:us_") and revoked["actor"] == created["actor"]
    assert created["data"]["link_id"] == link_id and created["data"]["entity_id"] == EN_ACME
    assert created["data"]["expires_at"] and created["data"]["created_by"] == "ada@acme.test"
    assert revoked["data"] == {"link_id": link_id, "entity_id": EN_ACME, "revoked_at": revoked["data"]["revoked_at"]}
    assert token not in str([created, revoked]) and "token" not in str([created, revoked])


async def test_another_companys_entity_cannot_be_linked_nor_its_links_revoked(
    gateway: Any, fake_services: FakeServices, acme: dict[str, str]
) -> None:
    page = await gateway.client.get(f"/facilities/{EN_ACME}")
    r = await gateway.client.post(f"/facilities/{EN_OTHER}/links", data={"_csrf": csrf_of(page.text)})
    assert r.status_code == 404
    assert await links_stored(gateway) == 0
    assert (await gateway.client.get(f"/facilities/{EN_OTHER}")).status_code == 404

    async with new_client(gateway) as other:  # the other company links its own entity
        assert (await login(other, "bob@other.test")).status_code == 303
        own = await other.get(f"/facilities/{EN_OTHER}")
        made = await other.post(f"/facilities/{EN_OTHER}/links", data={"_csrf": csrf_of(own.text)})
        [token] = re.findall(r"/facility/(fac_[A-Za-z0-9_-]{43})", made.text)
        [link_id] = re.findall(r'data-link-id="(fl_\w+)"', made.text)
    # Acme cannot revoke it, whichever entity it names in the path
    for entity in (EN_ACME, EN_OTHER):
        r = await gateway.client.post(f"/facilities/{entity}/links/{link_id}/revoke", data={"_csrf": csrf_of(page.text)})
        assert r.status_code in (303, 404)
    async with new_client(gateway) as stranger:
        assert (await stranger.get(f"/facility/{token}")).status_code == 200


@contextmanager
def statements(gateway: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = gateway.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("nothing", 404),
        ("fac_short", 404),
        ("fac_" + "A" * 44, 404),
        ("FAC_" + "A" * 43, 404),
        ("fac_" + "A" * 42 + "%2F", 404),
        ("fac_" + "A" * 42 + ".", 404),
        ("fac_" + "A" * 42 + "%C3%A9", 404),
        ("%00", 400),  # the kit's input guard, before any route
    ],
)
async def test_malformed_tokens_get_the_404_without_a_query(
    gateway: Any, fake_services: FakeServices, token: str, status: int
) -> None:
    async with new_client(gateway) as stranger:
        with statements(gateway) as seen:
            r = await stranger.get(f"/facility/{token}")
    assert r.status_code == status, r.text
    if status == 404:
        assert 'data-testid="facility-problem" data-state="not_found"' in r.text
    assert not [s for s in seen if "facility_links" in s]
    assert not fake_services.seen
