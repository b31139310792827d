"""The audit log pages (docs/audit-ledger.md) and the actor the gateway names on every call: the
signed-in user, the API key; never what a client claims in ``X-Ten99-Actor``."""

from __future__ import annotations

from typing import Any

from gateway.application.accounts import find_user_by_email
from gateway.application.api_keys import create_api_key
from gateway_fakes import CN_1, FakeServices, Seen, login, make_company
from litestar import Response

ENTRY: dict[str, Any] = {
    "seq": 7,
    "occurred_at": "2030-01-02T10:00:00+00:00",
    "recorded_at": "2030-01-02T10:00:01+00:00",
    "entity_kind": "assignment",
    "entity_id": "an_0000000000000000000001",
    "contractor_id": CN_1,
    "action": "po_number_set",
    "subject": "ten99.contractor.po_number_set.v1",
    "before": {"po_number": "PO-1"},
    "after": {"po_number": '=HYPERLINK("x")'},
    "correlation_id": "c1",
    "envelope_id": "e1",
    "prev_hash": "0" * 64,
    "hash": "1" * 64,
}


def ledger_answer(actor: str, *, has_more: bool = False) -> Any:
    def answer(_: Seen) -> Any:
        return {"object": "list", "url": "/v1/ledger", "has_more": has_more, "data": [{**ENTRY, "actor": actor}]}

    return answer


async def signed_in(gateway: Any, email: str = "ada@acme.test") -> tuple[str, str]:
    company = await make_company(gateway, "Acme", email)
    assert (await login(gateway.client, email)).status_code == 303
    user = await find_user_by_email(gateway.db, email)
    assert user is not None
    return company, f"user:{user['id']}"


async def test_the_audit_log_lists_filters_and_names_the_user(gateway: Any, fake_services: FakeServices) -> None:
    company, actor = await signed_in(gateway)
    fake_services.on("notification", "GET", "/v1/ledger", ledger_answer(actor, has_more=True))
    # a browser claiming to be someone else is not believed: the gateway names the signed-in user
    params = {"entity_kind": "assignment", "actor": "user", "since": "2030-01-01"}
    r = await gateway.client.get("/audit-log", params=params, headers={"x-ten99-actor": "operator"})
    assert r.status_code == 200, r.text
    assert 'data-testid="audit-entry"' in r.text and "ada@acme.test" in r.text and "PO-1" in r.text
    assert 'href="/audit-log?entity_kind=assignment&amp;actor=user&amp;since=2030-01-01&amp;starting_after=7"' in r.text
    [call] = fake_services.calls("notification", "GET", "/v1/ledger")
    assert call.headers["x-tenant-id"] == company and call.headers["x-ten99-actor"] == actor
    assert "entity_kind=assignment" in call.query and "actor=user" in call.query and "since=2030-01-01" in call.query
    assert 'href="/audit-log"' in (await gateway.client.get("/contractors")).text  # the nav link


async def test_the_export_relays_notifications_csv_with_the_filters(gateway: Any, fake_services: FakeServices) -> None:
    company, _ = await signed_in(gateway)
    csv_body = "seq,occurred_at\r\n7,2030-01-02\r\n"
    fake_services.on("notification", "GET", "/v1/ledger.csv", lambda _: Response(csv_body, media_type="text/csv; charset=utf-8"))
    r = await gateway.client.get("/audit-log/export.csv", params={"contractor": CN_1, "junk": "x"})
    assert r.status_code == 200 and r.text == csv_body and "attachment" in r.headers["content-disposition"]
    [call] = fake_services.calls("notification", "GET", "/v1/ledger.csv")
    assert call.query == f"contractor={CN_1}" and call.headers["x-tenant-id"] == company


async def test_the_profile_loads_the_contractors_timeline(gateway: Any, fake_services: FakeServices) -> None:
    _, actor = await signed_in(gateway)
    fake_services.on("notification", "GET", "/v1/ledger", ledger_answer(actor))
    r = await gateway.client.get(f"/contractors/{CN_1}/timeline")
    assert r.status_code == 200 and 'data-testid="audit-entry"' in r.text and "<html" not in r.text
    [call] = fake_services.calls("notification", "GET", "/v1/ledger")
    assert f"contractor={CN_1}" in call.query
    assert (await gateway.client.get("/contractors/not-an-id/timeline")).status_code == 404


async def test_a_public_api_call_names_its_api_key(gateway: Any, fake_services: FakeServices) -> None:
    company = await make_company(gateway, "Acme", "ada@acme.test")
    key = await create_api_key(gateway.db, company_id=company, name="sync", created_by=None, prefix="t9sk_test_")
    headers = {"Authorization": f"Bearer {key.key}", "x-ten99-actor": "user:us_0000000000000000000001"}
    r = await gateway.client.get("/api/v1/entities", headers=headers)
    assert r.status_code == 200, r.text
    [call] = fake_services.calls("contractor", "GET", "/v1/entities")
    assert call.headers["x-ten99-actor"] == f"api_key:{key.id}"
