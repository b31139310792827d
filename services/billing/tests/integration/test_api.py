"""The billing API: settings, invoice lifecycle, errors, pagination and tenant isolation."""

from __future__ import annotations

import pytest
from billing.domain.settings import FIELD_RULES
from billing_testkit import Driver
from ten99_contracts.billing_v1 import BillingSettingsUpdatedV1, InvoicePaidV1, InvoiceVoidedV1

pytestmark = pytest.mark.integration

CO = "co_acme"
OTHER = "co_other"


async def test_settings_default_validate_change_and_emit_once(driver: Driver) -> None:
    await driver.company(CO, owner_email="owner@acme.test")
    await driver.wait_applied()
    settings = (await driver.api("GET", "/v1/settings", CO)).json()
    assert settings["billing_email"] == "owner@acme.test" and settings["billing_email_is_default"] is True
    assert (settings["premium_payer"], settings["platform_fee_bps"]) == ("company", 0)

    bad = [
        {"billing_email": "nope"},
        {"platform_fee_bps": 10_001},
        {"platform_fee_bps": -5},
        {"platform_fee_bps": 1.5},
        {"premium_payer": "platform"},
        {"billing_email": "ok@acme.test", "premium_payer": "nobody"},  # one bad field: nothing changes
    ]
    for body in bad:
        r = await driver.api("PUT", "/v1/settings", CO, body, expect=400)
        assert r.json()["error_code"] == "invalid_input"
        assert set(r.json()["message"]) <= {"billing_email", "platform_fee_bps", "premium_payer"}
        assert all(message == FIELD_RULES[field] for field, message in r.json()["message"].items())  # billing's words
    r = await driver.svc.client.put("/v1/settings", headers={"x-tenant-id": CO}, content=b"{not json")
    assert (r.status_code, r.json()["error_code"]) == (400, "invalid_input")
    assert (await driver.api("GET", "/v1/settings", CO)).json() == settings
    assert await driver.published(BillingSettingsUpdatedV1.SUBJECT) == []

    body = {"billing_email": "billing@acme.test", "premium_payer": "contractor", "platform_fee_bps": 150}
    changed = (await driver.api("PUT", "/v1/settings", CO, body)).json()
    assert changed["billing_email"] == "billing@acme.test" and changed["billing_email_is_default"] is False
    assert (changed["premium_payer"], changed["platform_fee_bps"], changed["platform_fee_percent"]) == ("contractor", 150, "1.50")
    await driver.api("PUT", "/v1/settings", CO, body)  # the same again: no change, no message
    await driver.api("PUT", "/v1/settings", CO, {"billing_email": None})  # back to the owner's email
    assert (await driver.api("GET", "/v1/settings", CO)).json()["billing_email"] == "owner@acme.test"

    updates = await driver.published(BillingSettingsUpdatedV1.SUBJECT)
    assert [(u.data.billing_email, u.data.premium_payer, u.data.platform_fee_bps, u.aggregate_version) for u in updates] == [
        ("billing@acme.test", "contractor", 150, 1),
        ("owner@acme.test", "contractor", 150, 2),
    ]
    assert all(u.tenant_id == CO for u in updates)

    # another company sees its own defaults, untouched
    other = (await driver.api("GET", "/v1/settings", OTHER)).json()
    assert (other["billing_email"], other["premium_payer"], other["platform_fee_bps"]) == (None, "company", 0)
    r = await driver.api("GET", "/v1/settings", None, expect=400)
    assert r.json()["error_code"] == "no_tenant_found"


async def test_mark_paid_void_and_their_errors(driver: Driver) -> None:
    await driver.company(CO)
    await driver.billable(CO, "an_p", po="PO-PAY")
    await driver.billable(CO, "an_v", po="PO-VOID")
    invoices = await driver.wait_invoices(CO, 2)
    by_po = {i["purchase_order_number"]: i["id"] for i in invoices}
    pay, void = by_po["PO-PAY"], by_po["PO-VOID"]

    paid = (await driver.api("POST", f"/v1/invoices/{pay}/mark-paid", CO)).json()
    assert paid["status"] == "paid" and paid["amount_paid"] == 1_625 and paid["paid_at"] and paid["amount_due"] == 0
    r = await driver.api("POST", f"/v1/invoices/{pay}/mark-paid", CO, expect=400)
    assert r.json()["error_code"] == "invoice_already_paid"
    r = await driver.api("POST", f"/v1/invoices/{pay}/void", CO, {"reason": "oops"}, expect=400)
    assert r.json()["error_code"] == "invoice_already_paid"

    for body in (None, {}, {"reason": "  "}, {"reason": 5}):
        r = await driver.api("POST", f"/v1/invoices/{void}/void", CO, body, expect=400)
        assert r.json()["error_code"] == "invalid_input"
        if body is not None:
            assert r.json()["message"] == {"reason": "say why the invoice is void (1-500 characters)"}
    r = await driver.api("POST", f"/v1/invoices/{void}/void", CO, {"reason": "x" * 501}, expect=400)
    assert r.json()["message"] == {"reason": "at most 500 characters"}
    voided = (await driver.api("POST", f"/v1/invoices/{void}/void", CO, {"reason": "issued in error"})).json()
    assert voided["status"] == "void" and voided["void_reason"] == "issued in error" and voided["amount_due"] == 0
    r = await driver.api("POST", f"/v1/invoices/{void}/mark-paid", CO, expect=400)
    assert r.json()["error_code"] == "invoice_void"
    r = await driver.api("POST", f"/v1/invoices/{void}/void", CO, {"reason": "again"}, expect=400)
    assert r.json()["error_code"] == "invoice_void"

    assert [i["id"] for i in await driver.invoices(CO, status="paid")] == [pay]
    assert [i["id"] for i in await driver.invoices(CO, status="void")] == [void]
    assert await driver.invoices(CO, status="open") == []
    r = await driver.api("GET", "/v1/invoices?status=overdue", CO, expect=400)
    assert r.json()["error_code"] == "invalid_input"
    r = await driver.api("POST", "/v1/invoices/in_doesnotexist0000000000/mark-paid", CO, expect=404)
    assert r.json()["error_code"] == "invalid_invoice_id"

    [paid_msg] = await driver.published(InvoicePaidV1.SUBJECT)
    assert (paid_msg.data.invoice_id, paid_msg.data.amount_cents, paid_msg.aggregate_version) == (pay, 1_625, 2)
    [void_msg] = await driver.published(InvoiceVoidedV1.SUBJECT)
    assert (void_msg.data.invoice_id, void_msg.data.reason) == (void, "issued in error")

    # voiding ends billing for the assignments on that invoice: nothing is re-invoiced
    await driver.issue_now()
    assert len(await driver.invoices(CO)) == 2


async def test_one_company_cannot_see_or_change_another_companys_invoices(driver: Driver) -> None:
    await driver.company(CO)
    await driver.company(OTHER, owner_email="owner@other.test")
    await driver.billable(CO, "an_mine", po="PO-1")
    await driver.billable(OTHER, "an_theirs", po="PO-1")  # the same PO number in another company
    [mine] = await driver.wait_invoices(CO, 1)
    [theirs] = await driver.wait_invoices(OTHER, 1)
    assert mine["id"] != theirs["id"]
    assert mine["number"] == theirs["number"] == "INV-2026-11-0001"  # numbered per company
    assert theirs["cc_emails"] == ["owner@other.test"]
    assert [line["assignment"] for line in (await driver.invoice(OTHER, theirs["id"]))["lines"]] == ["an_theirs"]

    for method, path, body in (
        ("GET", f"/v1/invoices/{mine['id']}", None),
        ("GET", f"/v1/invoices/{mine['id']}/pdf", None),
        ("POST", f"/v1/invoices/{mine['id']}/mark-paid", None),
        ("POST", f"/v1/invoices/{mine['id']}/void", {"reason": "not mine"}),
    ):
        r = await driver.api(method, path, OTHER, body, expect=404)
        assert r.json()["error_code"] == "invalid_invoice_id"
    assert (await driver.invoice(CO, mine["id"]))["status"] == "open"
    assert [i["id"] for i in await driver.invoices(OTHER)] == [theirs["id"]]
    r = await driver.api("GET", f"/v1/invoices?starting_after={mine['id']}", OTHER, expect=400)
    assert r.json()["error_code"] == "invalid_input"
    r = await driver.api("GET", "/v1/invoices", None, expect=400)
    assert r.json()["error_code"] == "no_tenant_found"
    r = await driver.svc.client.get("/v1/invoices", headers={"x-tenant-id": CO, "x-ten99-internal-token": "wrong"})
    assert r.status_code == 401


async def test_invoice_lists_page_newest_first(driver: Driver) -> None:
    await driver.company(CO)
    for n in range(5):
        await driver.billable(CO, f"an_pg{n}", po=f"PO-{n}")
    await driver.wait_invoices(CO, 5)
    await driver.issue_now()
    everything = await driver.invoices(CO)
    numbers = [i["number"] for i in everything]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 5

    first = (await driver.api("GET", "/v1/invoices?limit=2", CO)).json()
    assert first["object"] == "list" and first["url"] == "/v1/invoices" and first["has_more"] is True
    assert [i["id"] for i in first["data"]] == [i["id"] for i in everything[:2]]
    second = (await driver.api("GET", f"/v1/invoices?limit=2&starting_after={first['data'][-1]['id']}", CO)).json()
    assert [i["id"] for i in second["data"]] == [i["id"] for i in everything[2:4]] and second["has_more"] is True
    back = (await driver.api("GET", f"/v1/invoices?limit=2&ending_before={second['data'][0]['id']}", CO)).json()
    assert [i["id"] for i in back["data"]] == [i["id"] for i in everything[:2]] and back["has_more"] is False
    assert [i["purchase_order_number"] for i in await driver.invoices(CO, po_number="PO-3")] == ["PO-3"]
    for query in ("limit=0", "limit=101", "limit=abc"):
        r = await driver.api("GET", f"/v1/invoices?{query}", CO, expect=400)
        assert r.json()["error_code"] == "invalid_input"
