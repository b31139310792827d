"""The dashboard's own-insurance pages against fake services: the profile's upload form sends the
PDF to policy's /v1/uploads for the company's contractor, the list shows each upload's failed
checks, a flagged one is approved or denied by the logged-in user, and the file is relayed."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from gateway_fakes import CN_1, CN_2, PDF, FakeServices, csrf_of, ident, login, make_company
from litestar import Response

pytestmark = pytest.mark.integration

CI_1 = ident("ci", "1")


def _upload(status: str) -> dict[str, Any]:
    failed = [{"rule": "certificate_holder", "passed": False, "hard": False, "message": "Holder 'Reebok' is not 'Nike'"}]
    return {
        "id": CI_1,
        "object": "certificate",
        "contractor": CN_1,
        "assignment": None,
        "assignments": [],
        "status": status,
        "created": 1893456000,
        "updated": 1893456000,
        "filename": "coi.pdf",
        "size": len(PDF),
        "sha256": "ab" * 32,
        "pdf_url": None,
        "review_results": {"id": "ca_1", "status": status, "created": 1893456000, "summary": {}, "audit_results": failed},
    }


async def test_upload_list_decide_and_download(gateway: Any, fake_services: FakeServices) -> None:
    company = await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    fake_services.on("policy", "POST", "/v1/uploads", lambda s: _upload("flagged"))
    listed = {"object": "list", "data": [_upload("flagged")], "has_more": False}
    fake_services.on("policy", "GET", "/v1/uploads", lambda s: listed)
    fake_services.on("policy", "POST", f"/v1/uploads/{CI_1}/decision", lambda s: _upload("approved"))
    fake_services.on("policy", "GET", f"/v1/uploads/{CI_1}/pdf", lambda s: Response(PDF, media_type="application/pdf"))

    profile = (await gateway.client.get(f"/contractors/{CN_1}")).text
    assert 'data-testid="own-insurance-form"' in profile
    token = csrf_of(profile)
    r = await gateway.client.post(
        f"/contractors/{CN_1}/certificates", data={"_csrf": token}, files={"certificate": ("coi.pdf", PDF, "application/pdf")}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/contractors/{CN_1}/certificates"
    [sent] = fake_services.calls("policy", "POST", "/v1/uploads")
    assert sent.headers["x-tenant-id"] == company and PDF in sent.body and CN_1.encode() in sent.body
    assert sent.headers["x-ten99-actor"].startswith("user:")  # the dashboard user who uploaded it

    listing = (await gateway.client.get(r.headers["location"])).text
    assert "was flagged" in listing and 'data-rule="certificate_holder"' in listing and 'data-testid="upload-approve"' in listing
    r = await gateway.client.post(
        f"/uploads/{CI_1}/decision", data={"_csrf": csrf_of(listing), "contractor": CN_1, "decision": "approve"}
    )
    assert r.status_code == 303
    [decided] = fake_services.calls("policy", "POST", f"/v1/uploads/{CI_1}/decision")
    assert json.loads(decided.body) == {"decision": "approve", "decided_by": "ada@acme.test"}
    r = await gateway.client.post(f"/uploads/{CI_1}/decision", data={"_csrf": csrf_of(listing), "decision": "maybe"})
    assert r.status_code == 303 and len(fake_services.calls("policy", "POST", f"/v1/uploads/{CI_1}/decision")) == 1

    download = await gateway.client.get(f"/uploads/{CI_1}/download")
    assert download.status_code == 200 and download.content == PDF
    assert (await gateway.client.get("/uploads/ci_../download")).status_code == 404


async def test_a_contractor_uploads_their_certificate_from_the_opt_in_form(gateway: Any, fake_services: FakeServices) -> None:
    token, company = "tok_abcdefghijkl", ident("co", "7")
    prefill = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "address": {}, "assignments": []}
    link = {"state": "open", "company_name": "Acme Talent", "prefill": prefill, "questions": [], "consent_text": "I agree."}
    fake_services.on("enrollment", "GET", f"/v1/opt-in/{token}", lambda s: {**link, "company_id": company, "contractor_id": CN_1})
    fake_services.on("policy", "POST", "/v1/uploads", lambda s: _upload("approved"))
    form = (await gateway.client.get(f"/opt-in/{token}")).text
    assert 'data-testid="own-certificate-form"' in form
    r = await gateway.client.post(f"/opt-in/{token}/certificate", files={"certificate": ("coi.pdf", PDF, "application/pdf")})
    assert r.status_code == 303 and r.headers["location"] == f"/opt-in/{token}"
    [sent] = fake_services.calls("policy", "POST", "/v1/uploads")
    assert sent.headers["x-tenant-id"] == company and PDF in sent.body and CN_1.encode() in sent.body
    assert sent.headers["x-ten99-actor"] == f"contractor:{CN_1}"
    assert "certificate was approved" in (await gateway.client.get(r.headers["location"])).text
    r = await gateway.client.post("/opt-in/bad token/certificate", files={"certificate": ("coi.pdf", PDF, "application/pdf")})
    assert r.status_code == 404 and len(fake_services.calls("policy", "POST", "/v1/uploads")) == 1


async def test_the_company_sees_every_contractors_flagged_uploads_and_decides_there(
    gateway: Any, fake_services: FakeServices
) -> None:
    await make_company(gateway, "Acme Talent", "bo@acme.test")
    assert (await login(gateway.client, "bo@acme.test")).status_code == 303
    asked: list[dict[str, str]] = []

    def listing(s: Any) -> Any:
        asked.append(dict(parse_qsl(s.query)))
        uploads = [_upload("flagged"), {**_upload("flagged"), "id": ident("ci", "2"), "contractor": CN_2}]
        return {"object": "list", "url": "/v1/files/certificates", "has_more": False, "data": uploads}

    fake_services.on("policy", "GET", "/v1/uploads", listing)
    fake_services.on("policy", "POST", f"/v1/uploads/{CI_1}/decision", lambda s: _upload("approved"))
    r = await gateway.client.get("/uploads")
    assert r.status_code == 200 and 'data-testid="nav-uploads"' in r.text
    assert asked[-1]["status"] == "flagged" and asked[-1]["limit"] == "50"
    assert "Ada Lovelace" in r.text and 'data-rule="certificate_holder"' in r.text
    # the names in one read of the company's contractors by id, not one request per contractor
    [names] = fake_services.calls("contractor", "GET", "/v1/contractors.*")
    assert dict(parse_qsl(names.query)) == {"ids": f"{CN_1},{CN_2}", "limit": "2"}
    # a contractor that cannot be read (gone, or the service down) shows its id
    only_ada = {"object": "list", "url": "/v1/contractors", "has_more": False, "data": [{"id": CN_1, "first_name": "Ada"}]}
    fake_services.on("contractor", "GET", "/v1/contractors", lambda s: only_ada)
    shown = (await gateway.client.get("/uploads")).text
    assert ">Ada</a>" in shown and f">{CN_2}</a>" in shown
    down = Response({"error_code": "general_error", "message": "down"}, status_code=503)
    fake_services.on("contractor", "GET", "/v1/contractors", lambda s: down)
    shown = (await gateway.client.get("/uploads")).text
    assert f">{CN_1}</a>" in shown and f">{CN_2}</a>" in shown
    await gateway.client.get("/uploads", params={"status": "all"})
    await gateway.client.get("/uploads", params={"status": "nonsense", "starting_after": "ci_../x"})
    assert "status" not in asked[-2] and asked[-1] == {"status": "flagged", "limit": "50"}
    decided = await gateway.client.post(
        f"/uploads/{CI_1}/decision", data={"_csrf": csrf_of(r.text), "contractor": CN_1, "back": "uploads", "decision": "approve"}
    )
    assert decided.status_code == 303 and decided.headers["location"] == "/uploads"
    [sent] = fake_services.calls("policy", "POST", f"/v1/uploads/{CI_1}/decision")
    assert json.loads(sent.body) == {"decision": "approve", "decided_by": "bo@acme.test"}
