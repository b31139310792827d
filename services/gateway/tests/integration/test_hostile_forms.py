"""Hostile input to the gateway's pages (the kit's input guard): a NUL in a form field (the opt-in
form, the login, a dashboard form), a control character in a page's path or query, an oversized
upload: a 4xx with error_code and message, never a 500, and nothing forwarded to a service."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fakes import FakeServices, csrf_of, login, make_company
from ten99kit.inputs import MAX_BODY_BYTES

pytestmark = pytest.mark.integration

OPT_IN = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "+1 555 0100",
    "date_of_birth": "1990-12-10",
    "address_line1": "1 Main St",
    "address_locality": "Austin",
    "address_region": "TX",
    "address_postalcode": "73301",
    "q_claims_last_3_years": "no",
    "consent": "yes",
    "signed_name": "Ada Lovelace",
}


def refused(r: Any, status: int = 400) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] and body["message"], body
    return str(body["message"])


async def test_forms_with_nul_are_refused_before_any_service_is_called(gateway: Any, fake_services: FakeServices) -> None:
    c = gateway.client
    assert "'address_line1'" in refused(await c.post("/opt-in/tok_open_12345", data={**OPT_IN, "address_line1": "1 Main\x00"}))
    multipart = await c.post("/opt-in/tok_open_12345", data=OPT_IN, files={"signed_name": (None, b"Ada\x00")})
    assert "'signed_name'" in refused(multipart)
    # tabs and line breaks are ordinary text in a form
    ok = await c.post("/opt-in/tok_open_12345", data={**OPT_IN, "address_line1": "1 Main St\r\nRear\t"})
    assert ok.status_code == 200
    assert [s.method for s in fake_services.seen] == ["POST"]

    await make_company(gateway, "Acme", "ada@acme.test")
    page = await c.get("/login")
    assert refused(await c.post("/login", data={"email": "ada@acme.test\x00", "password": "x", "_csrf": csrf_of(page.text)}))
    assert (await login(c, "ada@acme.test")).status_code == 303
    html = (await c.get("/settings")).text
    billing = {"_csrf": csrf_of(html), "billing_email": "b\x00@acme.test", "premium_payer": "company", "platform_fee_pct": "1"}
    assert refused(await c.post("/settings/billing", data=billing))
    assert not fake_services.calls("billing", "PUT")


async def test_urls_with_control_characters_and_oversized_uploads_are_refused(gateway: Any, fake_services: FakeServices) -> None:
    c = gateway.client
    assert "U+0000" in refused(await c.get("/opt-in/tok%00"))
    assert "U+0017" in refused(await c.get("/contractors", params={"q": "\x17"}))
    assert "UTF-8" in refused(await c.get("/login?next=%ff"))
    await make_company(gateway, "Acme", "ada@acme.test")
    assert (await login(c, "ada@acme.test")).status_code == 303
    big = b"a,b\n" + b"x" * MAX_BODY_BYTES
    r = await c.post("/imports", files={"file": ("big.csv", big, "text/csv")}, data={"_csrf": "x"})
    assert f"{MAX_BODY_BYTES // 1048576} MiB" in refused(r, 413)
    assert not fake_services.calls("contractor", "POST")
