"""Dashboard pages against fake services: what they show, what they send (always the logged-in
user's company as tenant, and the internal token), and how service errors look."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from gateway_fakes import (
    AN_1,
    AN_2,
    CN_1,
    COI_1,
    IB_1,
    IN_1,
    ML_1,
    PDF,
    FakeServices,
    Seen,
    csrf_of,
    ident,
    login,
    make_company,
    new_client,
)
from litestar import Response
from ten99_testing.service import INTERNAL_TOKEN

pytestmark = pytest.mark.integration

CN_404 = ident("cn", "404")


@pytest.fixture
async def acme(gateway: Any) -> str:
    company_id = await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    return company_id


def assert_sent_as(fake: FakeServices, company_id: str) -> None:
    assert fake.seen, "no service was called"
    for s in fake.seen:
        assert s.headers["x-tenant-id"] == company_id, (s.service, s.path)
        assert s.headers["x-ten99-internal-token"] == INTERNAL_TOKEN
        assert s.headers.get("x-correlation-id")


async def test_contractors_page_shows_the_roster_and_the_missing_po_box(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    r = await gateway.client.get("/contractors?q=ada&status=invited", headers={"X-Tenant-Id": "co_somebody_else"})
    assert r.status_code == 200
    html = r.text
    assert f"Ada of {acme}" in html
    assert re.search(r'data-testid="missing-po-count">1<', html)
    assert 'data-testid="missing-po-link"' in html
    assert 'data-testid="status" data-status="invited"' in html
    roster = fake_services.calls("contractor", "GET", "/v1/roster")[0]
    assert "q=ada" in roster.query and "status=invited" in roster.query and "limit=51" in roster.query
    assert_sent_as(fake_services, acme)
    # the correlation id travels to the service and back to the browser
    assert roster.headers["x-correlation-id"] == r.headers["request-id"]
    assert "script-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "SAMEORIGIN"


async def test_profile_shows_assignments_coverage_certificate_and_opt_in_link(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    r = await gateway.client.get(f"/contractors/{CN_1}")
    assert r.status_code == 200
    html = r.text
    assert 'data-testid="tax-id">***-**-6789<' in html
    assert 'data-testid="opt-in-url" style="flex:1"' in html or 'value="http://127.0.0.1:8000/opt-in/tok_abcdefghijkl"' in html
    assert 'data-testid="copy-opt-in-url"' in html and 'data-testid="resend-invitation"' in html
    row = html.split(f'data-assignment-id="{AN_1}"')[1].split("</tr>")[0]
    assert "Photographer" in row and "Nike" in row and 'data-status="active"' in row
    assert "2030-01-01" in row  # epoch seconds shown as a date
    assert f'href="/certificates/{COI_1}/download"' in row
    assert 'data-testid="cancel-assignment"' in row  # starts in the future
    assert {(c.service, c.path) for c in fake_services.seen} == {
        ("contractor", f"/v1/contractors/{CN_1}"),
        ("contractor", f"/v1/contractors/{CN_1}/assignments"),
        ("policy", "/v1/coverages"),
        ("enrollment", "/v1/invitations/current"),
    }
    assert_sent_as(fake_services, acme)

    pdf = await gateway.client.get(f"/certificates/{COI_1}/download")
    assert pdf.status_code == 200 and pdf.content == PDF and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    assert_sent_as(fake_services, acme)


async def test_profile_still_renders_when_a_secondary_service_is_down(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    fake_services.on(
        "policy", "GET", "/v1/coverages", lambda s: Response({"error_code": "general_error", "message": "boom"}, status_code=500)
    )
    r = await gateway.client.get(f"/contractors/{CN_1}")
    assert r.status_code == 200 and 'data-testid="coverage-error"' in r.text


async def test_profile_actions_send_the_right_requests(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get(f"/contractors/{CN_1}")).text
    token = csrf_of(html)
    r = await gateway.client.post(f"/contractors/{CN_1}/invitation/resend", data={"_csrf": token})
    assert r.status_code == 303
    assert json.loads(fake_services.calls("enrollment", "POST", "/v1/invitations/reissue")[0].body) == {"contractor": CN_1}
    page = await gateway.client.get(r.headers["location"])
    assert 'data-testid="flash-notice"' in page.text

    r = await gateway.client.post(
        f"/assignments/{AN_1}/extend", data={"_csrf": token, "contractor": CN_1, "end_date": "2030-03-01"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/contractors/{CN_1}"
    fake_services.on(
        "contractor",
        "POST",
        f"/v1/assignments/{AN_1}/cancel",
        lambda s: Response({"error_code": "bad_request", "message": "The assignment has started"}, status_code=400),
    )
    r = await gateway.client.post(
        f"/assignments/{AN_1}/cancel", data={"_csrf": token, "contractor": CN_1, "reason": "client_request"}
    )
    page = await gateway.client.get(r.headers["location"])
    assert "The assignment has started" in page.text and 'data-testid="flash-error"' in page.text
    extend = fake_services.calls("contractor", "POST", f"/v1/assignments/{AN_1}/extend")[0]
    assert json.loads(extend.body) == {"end_date": 1898553600}  # 2030-03-01 as epoch seconds
    assert_sent_as(fake_services, acme)


async def test_bulk_import_upload_progress_and_errors(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get("/imports")).text
    assert 'data-testid="import-form"' in html and "people.csv" in html
    template = await gateway.client.get("/imports/template.csv")
    assert template.status_code == 200 and template.text.startswith("End client,First name,Last name,Email")
    csv = b"end_client,first_name\nNike,Ada\n"
    r = await gateway.client.post(
        "/imports",
        data={"_csrf": csrf_of(html), "all_or_nothing": "true"},
        files={"file": ("people.csv", csv, "text/csv")},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{IB_1}"
    upload = fake_services.calls("contractor", "POST", "/v1/imports")[0]
    assert csv in upload.body and b'name="all_or_nothing"\r\n\r\ntrue' in upload.body and b"ada@acme.test" in upload.body

    page = await gateway.client.get(f"/imports/{IB_1}")
    assert 'data-testid="rows-done">1<' in page.text and 'data-testid="rows-failed">1<' in page.text
    assert 'hx-trigger="every 1s"' in page.text and 'data-line="3"' in page.text
    fragment = await gateway.client.get(f"/imports/{IB_1}", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith("<section") and "<html" not in fragment.text

    fake_services.on(
        "contractor",
        "GET",
        f"/v1/imports/{IB_1}",
        lambda s: {"id": IB_1, "status": "completed", "rows_total": 3, "rows_done": 2, "rows_failed": 1, "errors": []},
    )
    done = await gateway.client.get(f"/imports/{IB_1}", headers={"HX-Request": "true"})
    assert 'data-finished="true"' in done.text and "hx-trigger" not in done.text
    report = await gateway.client.get(f"/imports/{IB_1}/errors.csv")
    assert report.status_code == 200 and report.text.startswith("line,column,reason")
    assert_sent_as(fake_services, acme)


async def test_setting_one_po_on_many_assignments(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get("/po/missing")).text
    assert re.search(r'data-testid="missing-po-count">3<', html)
    assert 'data-testid="po-select-all"' in html and 'data-campaign="Spring"' in html
    token = csrf_of(html)
    bad = await gateway.client.post(
        "/po/missing", data={"_csrf": token, "assignment_ids": [AN_1], "po_number": "", "po_contact_email": "x"}
    )
    assert bad.status_code == 400 and "Enter the PO number" in bad.text and "valid email" in bad.text
    nothing = await gateway.client.post(
        "/po/missing", data={"_csrf": token, "po_number": "PO-1", "po_contact_email": "po@acme.test"}
    )
    assert nothing.status_code == 400 and 'data-testid="po-select-error"' in nothing.text
    assert not fake_services.calls("contractor", "POST")
    r = await gateway.client.post(
        "/po/missing",
        data={"_csrf": token, "assignment_ids": [AN_1, AN_2], "po_number": "PO-42", "po_contact_email": "PO@Acme.test"},
    )
    assert r.status_code == 303
    sent = json.loads(fake_services.calls("contractor", "POST", "/v1/po/bulk-set")[0].body)
    assert sent == {
        "assignment_ids": [AN_1, AN_2],
        "po_number": "PO-42",
        "po_contact_email": "po@acme.test",
        "set_by": "ada@acme.test",
    }
    after = await gateway.client.get(r.headers["location"])
    assert re.search(r'data-testid="missing-po-count">1<', after.text)
    assert "PO-42 set on 2 assignment(s)" in after.text and "PO PO-42" not in after.text
    # a whole campaign, across pages: the contractor service picks the assignments
    r = await gateway.client.post(
        "/po/missing", data={"_csrf": token, "whole_campaign": "Fall", "po_number": "PO-43", "po_contact_email": "po@acme.test"}
    )
    assert r.status_code == 303
    sent = json.loads(fake_services.calls("contractor", "POST", "/v1/po/bulk-set")[1].body)
    assert sent == {"campaign": "Fall", "po_number": "PO-43", "po_contact_email": "po@acme.test", "set_by": "ada@acme.test"}
    assert_sent_as(fake_services, acme)


async def test_invoices_list_detail_pdf_and_mark_paid(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get("/invoices")).text
    assert "INV-0001" in html and "$1,234.56" in html and 'data-status="open"' in html
    detail = await gateway.client.get(f"/invoices/{IN_1}")
    assert "Ada Lovelace – Model" in detail.text and "$1,200.00" in detail.text and 'data-testid="mark-paid"' in detail.text
    pdf = await gateway.client.get(f"/invoices/{IN_1}/pdf")
    assert pdf.content == PDF
    r = await gateway.client.post(f"/invoices/{IN_1}/mark-paid", data={"_csrf": csrf_of(detail.text)})
    assert r.status_code == 303 and fake_services.calls("billing", "POST", f"/v1/invoices/{IN_1}/mark-paid")
    assert_sent_as(fake_services, acme)


async def test_settings_billing_as_percentage_keys_and_secrets(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get("/settings")).text
    assert 'value="2.5"' in html and "billing@acme.test" in html
    # a signing secret shows as a hint and dates, never in clear
    assert 'data-testid="integration-secret-hint-creatoriq">whsec_…Ab3d<' in html and "2030-01-01 09:30 UTC" in html
    assert 'data-testid="integration-secret-none-worksuite"' in html and 'data-testid="integration-secret-creatoriq"' not in html
    token = csrf_of(html)
    bad = await gateway.client.post(
        "/settings/billing",
        data={"_csrf": token, "billing_email": "b@acme.test", "premium_payer": "company", "platform_fee_pct": "1.234"},
    )
    assert bad.status_code == 400 and "two decimals" in bad.text
    assert not fake_services.calls("billing", "PUT")
    ok = await gateway.client.post(
        "/settings/billing",
        data={"_csrf": token, "billing_email": "B@acme.test", "premium_payer": "contractor", "platform_fee_pct": "1.75"},
    )
    assert ok.status_code == 303
    assert json.loads(fake_services.calls("billing", "PUT", "/v1/settings")[0].body) == {
        "billing_email": "b@acme.test",
        "premium_payer": "contractor",
        "platform_fee_bps": 175,
    }
    # a rotation shows the new secret once, in its own answer, not stored by the browser
    r = await gateway.client.post("/settings/integrations/creatoriq/rotate", data={"_csrf": token})
    assert r.status_code == 200 and fake_services.calls("contractor", "POST", "/v1/integrations/creatoriq/secret")
    assert r.headers["cache-control"] == "no-store" and 'data-testid="new-integration-secret-box"' in r.text
    assert f'value="whsec_new_{acme}Ab3d" style="flex:1" data-testid="integration-secret-creatoriq"' in r.text
    again = (await gateway.client.get("/settings")).text
    assert f"whsec_new_{acme}" not in again and 'data-testid="new-integration-secret-box"' not in again
    assert_sent_as(fake_services, acme)


async def test_service_failures_become_error_pages_without_details(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    fake_services.on(
        "contractor",
        "GET",
        "/v1/roster",
        lambda s: Response({"error_code": "general_error", "message": "Traceback (most recent call last)"}, status_code=500),
    )
    r = await gateway.client.get("/contractors")
    assert r.status_code == 502 and 'data-testid="error-page"' in r.text and "contractor service" in r.text
    assert "Traceback" not in r.text
    fake_services.on(
        "contractor",
        "GET",
        f"/v1/contractors/{CN_404}",
        lambda s: Response({"error_code": "invalid_contractor_id", "message": "No such contractor"}, status_code=404),
    )
    r = await gateway.client.get(f"/contractors/{CN_404}")
    assert r.status_code == 404 and "No such contractor" in r.text


async def test_an_unreachable_service_is_an_error_page(gateway: Any, acme: str) -> None:
    gateway.runtime.gateway.services.billing.base_url  # noqa: B018
    from gateway.adapters.services import ServiceClient

    gateway.runtime.gateway.services.billing = ServiceClient("billing", "http://127.0.0.1:9", "t", 2.0)
    r = await gateway.client.get("/invoices")
    assert r.status_code == 502 and "billing service cannot be reached" in r.text


async def test_mailbox_lists_shows_sandboxed_html_and_attachments(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get("/mailbox")).text
    assert "Your opt-in link" in html
    # the Attachments column names the PDF and links to it (issue 15: it was empty)
    row = html.split('data-testid="mail-row"')[1].split("</tr>")[0]
    assert f'href="/mailbox/{ML_1}/attachments/0"' in row and "certificate.pdf" in row
    mail = await gateway.client.get(f"/mailbox/{ML_1}")
    assert 'sandbox=""' in mail.text and "Hello Ada" in mail.text and "<script>" not in mail.text
    body = await gateway.client.get(f"/mailbox/{ML_1}/html")
    assert body.headers["content-security-policy"].startswith("sandbox")
    attachment = await gateway.client.get(f"/mailbox/{ML_1}/attachments/0")
    assert attachment.content == PDF and "certificate.pdf" in attachment.headers["content-disposition"]
    fake_services.on("notification", "DELETE", "/v1/mailbox", lambda s: {"deleted": 1})
    r = await gateway.client.post("/mailbox/clear", data={"_csrf": csrf_of(html)})
    assert r.status_code == 303 and fake_services.calls("notification", "DELETE", "/v1/mailbox")
    # every mailbox call carries the company: the notification service answers only its own mail
    assert_sent_as(fake_services, acme)
    gateway.runtime.gateway.settings.dev_mailbox = False
    assert (await gateway.client.get("/mailbox")).status_code == 404


async def test_two_companies_never_see_each_other(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    other = await make_company(gateway, "Other Co", "bob@other.test")
    bob = new_client(gateway)
    await login(bob, "bob@other.test")
    theirs = await bob.get("/contractors")
    mine = await gateway.client.get("/contractors")
    assert f"Ada of {other}" in theirs.text and acme not in theirs.text
    assert f"Ada of {acme}" in mine.text and other not in mine.text
    by_tenant: dict[str, set[str]] = {}
    for s in fake_services.seen:
        by_tenant.setdefault(s.headers["x-tenant-id"], set()).add(s.path)
    assert set(by_tenant) == {acme, other}

    # B's API key cannot be revoked by A, and A's key list does not show it
    bob_settings = await bob.get("/settings")
    created = await bob.post("/settings/api-keys", data={"_csrf": csrf_of(bob_settings.text), "name": "bob key"})
    bob_key_id = re.search(r'data-testid="api-key-row" data-key-id="([^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    mine = await gateway.client.get("/settings")
    assert bob_key_id not in mine.text and "bob key" not in mine.text
    r = await gateway.client.post(f"/settings/api-keys/{bob_key_id}/revoke", data={"_csrf": csrf_of(mine.text)})
    assert "No such active API key" in (await gateway.client.get(r.headers["location"])).text
    assert 'data-status="active"' in (await bob.get("/settings")).text
    await bob.aclose()


def _unused(_: Seen) -> None:  # keeps the Seen import for type readers
    return None
