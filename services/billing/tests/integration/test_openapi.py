"""The billing API documents what it takes and answers: every operation has a 2xx response whose
body has a schema, request bodies name their Struct, and errors are the kit's ``{error_code, message}``."""

from __future__ import annotations

import pytest
from billing_testkit import Driver
from ten99_testing.openapi import assert_documented

pytestmark = pytest.mark.integration


async def test_every_operation_documents_its_bodies_and_the_error_schema(driver: Driver) -> None:
    r = await driver.svc.ops.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    schema = r.json()
    operations = assert_documented(schema)
    assert set(operations) == {
        "GET /v1/settings",
        "PUT /v1/settings",
        "GET /v1/invoices",
        "POST /v1/invoices",
        "GET /v1/invoices/{invoice_id}",
        "PUT /v1/invoices/{invoice_id}",
        "DELETE /v1/invoices/{invoice_id}",
        "GET /v1/invoices/{invoice_id}/pdf",
        "POST /v1/invoices/{invoice_id}/mark-paid",
        "POST /v1/invoices/{invoice_id}/void",
    }
    for name in ("PUT /v1/settings", "POST /v1/invoices/{invoice_id}/void", "POST /v1/invoices", "PUT /v1/invoices/{invoice_id}"):
        assert "$ref" in operations[name]["requestBody"]["content"]["application/json"]["schema"], name

    components = schema["components"]["schemas"]
    invoice = components["InvoiceDetailOut"]["properties"]
    assert {"id", "object", "number", "status", "amount_due", "pdf_url", "lines", "credits"} <= set(invoice)
    usage = components["UsageInvoiceOut"]["properties"]
    assert {"id", "object", "kind", "contractor", "job", "gross_pay", "paycycle_startdate", "paycycle_enddate"} <= set(usage)
    assert {"net_rate", "premium_due", "purchase_order_number", "status"} <= set(usage)
    assert {"contractor", "job", "gross_pay"} <= set(components["UsageInvoiceIn"]["required"])
    assert {"billing_email", "premium_payer", "platform_fee_bps"} <= set(components["BillingSettingsOut"]["properties"])
    fee = components["SettingsUpdate"]["properties"]["platform_fee_bps"]
    assert fee["maximum"] == 10_000  # the bound is in the schema (Litestar leaves out a minimum of 0)
    lists = [body for key, body in components.items() if key.startswith("ListEnvelope")]
    assert lists and all({"url", "has_more", "data", "object"} <= set(body["properties"]) for body in lists)
