"""The contractor portal's pages (issue 15): no dashboard login; the same page for any email; the
link is used by a POST only (a GET changes nothing); the portal cookie is the portal's own; the
home page shows, per company, the contractor's assignments, coverage and certificates, and a
certificate downloads only when it is one of theirs; the contractor corrects their details and
declines coverage there; work their own certificate covers says Own insurance."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from gateway_fakes import AN_1, AN_2, CN_1, COI_1, PDF, FakeServices, csrf_of, ident
from litestar import Response

pytestmark = pytest.mark.integration

TOKEN = "T" * 43
SESSION = "S" * 43
TENANT = ident("co", "1")


def _session(fake: FakeServices) -> None:
    def current(s: Any) -> Any:
        if s.headers.get("x-portal-session") != SESSION:
            return Response({"error_code": "portal_session_invalid", "message": "ended"}, status_code=401)
        companies = [{"tenant_id": TENANT, "company_name": "Acme Talent", "contractor_id": CN_1, "first_name": "Ada"}]
        return {"email": "ada@example.com", "expires_at": "2030-01-01T12:00:00Z", "companies": companies}

    fake.on("enrollment", "GET", "/v1/portal/sessions/current", current)


async def test_the_sign_in_page_needs_no_login_and_answers_alike_for_any_email(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.get("/portal")
    assert r.status_code == 200 and 'data-testid="portal-form"' in r.text
    fake_services.on("enrollment", "POST", "/v1/portal/links", lambda s: Response({"message": "ok"}, status_code=202))
    answers = [await gateway.client.post("/portal", data={"email": e}) for e in ("ada@example.com", "nobody@example.com")]
    assert [a.status_code for a in answers] == [200, 200] and answers[0].text == answers[1].text
    assert "If we know this address, we sent a sign-in link" in answers[0].text
    sent = [json.loads(s.body) for s in fake_services.calls("enrollment", "POST", "/v1/portal/links")]
    assert sent == [{"email": "ada@example.com", "client": "127.0.0.1"}, {"email": "nobody@example.com", "client": "127.0.0.1"}]
    assert all("x-tenant-id" not in s.headers for s in fake_services.calls("enrollment"))


async def test_too_many_requests_are_a_429_with_the_reason(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/portal/links",
        lambda s: Response({"error_code": "rate_limited", "message": "Too many sign-in links were asked."}, status_code=429),
    )
    r = await gateway.client.post("/portal", data={"email": "ada@example.com"})
    assert r.status_code == 429 and "Too many sign-in links" in r.text and 'value="ada@example.com"' in r.text


async def test_opening_the_link_changes_nothing_and_the_button_signs_in_with_the_portal_cookie(
    gateway: Any, fake_services: FakeServices
) -> None:
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/portal/sessions",
        lambda s: {"email": "ada@example.com", "session_token": SESSION, "companies": [], "expires_at": "2030-01-01T12:00:00Z"},
    )
    r = await gateway.client.get(f"/portal/sign-in/{TOKEN}")
    assert r.status_code == 200 and 'data-testid="portal-sign-in-button"' in r.text
    assert fake_services.calls("enrollment") == []
    r = await gateway.client.post(f"/portal/sign-in/{TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/home"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"ten99_portal={SESSION};")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/portal" in lowered and "max-age=43200" in lowered
    assert json.loads(fake_services.calls("enrollment", "POST", "/v1/portal/sessions")[0].body) == {"token": TOKEN}
    assert (await gateway.client.get("/portal/sign-in/short", follow_redirects=False)).status_code == 404


async def test_a_used_or_expired_link_gets_a_410_page(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/portal/sessions",
        lambda s: Response({"error_code": "portal_link_invalid", "message": "used"}, status_code=410),
    )
    r = await gateway.client.post(f"/portal/sign-in/{TOKEN}", follow_redirects=False)
    assert r.status_code == 410 and "no longer be used" in r.text and "set-cookie" not in r.headers


async def test_home_shows_assignments_coverage_and_certificates_per_company(gateway: Any, fake_services: FakeServices) -> None:
    _session(fake_services)
    assert (await gateway.client.get("/portal/home", follow_redirects=False)).headers["location"] == "/portal"
    r = await gateway.client.get("/portal/home", headers={"cookie": f"ten99_portal={SESSION}"})
    assert r.status_code == 200, r.text
    assert "Acme Talent" in r.text and "Photographer" in r.text and 'data-status="active"' in r.text
    assert f'href="/portal/certificates/{TENANT}/{COI_1}"' in r.text
    tenants = {s.headers.get("x-tenant-id") for s in fake_services.calls("contractor") + fake_services.calls("policy")}
    assert tenants == {TENANT}
    assert fake_services.calls("contractor", "GET", f"/v1/contractors/{CN_1}/assignments")
    assert f'data-assignment-id="{AN_1}"' in r.text
    # a session the service no longer knows: back to the sign-in page
    ended = await gateway.client.get("/portal/home", headers={"cookie": "ten99_portal=" + "X" * 43}, follow_redirects=False)
    assert ended.status_code == 303 and ended.headers["location"] == "/portal"
    # the sign-in page sends a signed-in browser home, and shows the form to one whose session ended
    signed_in = await gateway.client.get("/portal", headers={"cookie": f"ten99_portal={SESSION}"}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/portal/home"
    stale = await gateway.client.get("/portal", headers={"cookie": "ten99_portal=" + "X" * 43}, follow_redirects=False)
    assert stale.status_code == 200 and 'data-testid="portal-form"' in stale.text


async def test_a_certificate_downloads_only_when_it_is_the_contractors(gateway: Any, fake_services: FakeServices) -> None:
    _session(fake_services)
    cookie = {"cookie": f"ten99_portal={SESSION}"}
    r = await gateway.client.get(f"/portal/certificates/{TENANT}/{COI_1}", headers=cookie)
    assert r.status_code == 200 and r.content == PDF
    other = await gateway.client.get(f"/portal/certificates/{TENANT}/{ident('coi', '2')}", headers=cookie)
    assert other.status_code == 404
    elsewhere = await gateway.client.get(f"/portal/certificates/{ident('co', '2')}/{COI_1}", headers=cookie)
    assert elsewhere.status_code == 404
    assert (await gateway.client.get(f"/portal/certificates/{TENANT}/{COI_1}", follow_redirects=False)).status_code == 303


async def test_signing_out_ends_the_session_and_drops_the_cookie(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on("enrollment", "POST", "/v1/portal/sessions/current/end", lambda s: {"ended": True})
    r = await gateway.client.post("/portal/sign-out", headers={"cookie": f"ten99_portal={SESSION}"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal"
    assert r.headers["set-cookie"].startswith('ten99_portal="";') or "max-age=0" in r.headers["set-cookie"].lower()
    [ended] = fake_services.calls("enrollment", "POST", "/v1/portal/sessions/current/end")
    assert ended.headers["x-portal-session"] == SESSION


def _details_form(fields: dict[str, str], csrf: str) -> dict[str, str]:
    form = {
        "first_name": "Ada",
        "last_name": "King",
        "phone": "+1 512 555 0100",
        "address_line1": "9 New Rd",
        "address_line2": "",
        "address_locality": "Austin",
        "address_region": "TX",
        "address_postalcode": "78701",
        "address_country": "US",
        "_csrf": csrf,
    }
    return form | fields


async def test_the_contractor_corrects_their_details_at_one_company(gateway: Any, fake_services: FakeServices) -> None:
    _session(fake_services)
    cookie = {"cookie": f"ten99_portal={SESSION}"}
    home = await gateway.client.get("/portal/home", headers=cookie)
    assert 'data-testid="portal-details-form"' in home.text and f'action="/portal/companies/{TENANT}/details"' in home.text
    # pre-filled from the contractor service, with that company as tenant; never the tax id
    assert 'value="Lovelace"' in home.text and 'value="1 Main St"' in home.text and "6789" not in home.text
    csrf = csrf_of(home.text)
    path = f"/portal/companies/{TENANT}/details"

    def answer(s: Any) -> Any:
        sent = json.loads(s.body)
        if sent["address"]["region"] == "ZZ":
            problems = {"address.region": "Choose a U.S. state (two letters, e.g. CA)."}
            return Response({"error_code": "invalid_input", "message": problems}, status_code=400)
        return {"correction_id": ident("dc", "1"), "changed": True, **sent, "corrected_at": "2030-01-01T12:00:00Z"}

    fake_services.on("enrollment", "POST", f"/v1/portal/companies/{TENANT}/details", answer)
    # no CSRF token, another's, no session, another company: refused before enrollment hears of it
    assert (await gateway.client.post(path, data=_details_form({}, ""), headers=cookie)).status_code == 403
    assert (await gateway.client.post(path, data=_details_form({}, "f" * 64), headers=cookie)).status_code == 403
    signed_out = await gateway.client.post(path, data=_details_form({}, csrf), follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/portal"
    elsewhere = f"/portal/companies/{ident('co', '2')}/details"
    assert (await gateway.client.post(elsewhere, data=_details_form({}, csrf), headers=cookie)).status_code == 404
    assert fake_services.calls("enrollment", "POST") == []

    bad = await gateway.client.post(path, data=_details_form({"address_region": "ZZ"}, csrf), headers=cookie)
    assert bad.status_code == 400 and 'data-testid="portal-details-error-address_region"' in bad.text
    assert 'value="ZZ"' in bad.text and 'value="King"' in bad.text

    ok = await gateway.client.post(path, data=_details_form({}, csrf), headers=cookie)
    assert ok.status_code == 200, ok.text
    assert 'data-testid="portal-details-notice"' in ok.text and "now has your corrected details" in ok.text
    assert 'value="King"' in ok.text and 'value="78701"' in ok.text
    [_, sent] = fake_services.calls("enrollment", "POST", f"/v1/portal/companies/{TENANT}/details")
    assert sent.headers["x-portal-session"] == SESSION and "x-tenant-id" not in sent.headers
    assert json.loads(sent.body) == {
        "first_name": "Ada",
        "last_name": "King",
        "phone": "+1 512 555 0100",
        "address": {
            "line1": "9 New Rd",
            "line2": None,
            "locality": "Austin",
            "region": "TX",
            "postalcode": "78701",
            "country": "US",
        },
    }


async def test_the_contractor_uploads_their_own_certificate_for_one_company(gateway: Any, fake_services: FakeServices) -> None:
    _session(fake_services)
    cookie = {"cookie": f"ten99_portal={SESSION}"}
    home = await gateway.client.get("/portal/home", headers=cookie)
    assert f'action="/portal/companies/{TENANT}/certificate"' in home.text
    csrf, path = csrf_of(home.text), f"/portal/companies/{TENANT}/certificate"
    pdf = {"certificate": ("coi.pdf", PDF, "application/pdf")}

    def review(s: Any) -> Any:
        if b"unreadable" in s.body:
            return Response({"error_code": "invalid_file", "message": "That file is not a PDF."}, status_code=400)
        return {"id": ident("ci", "1"), "object": "certificate", "contractor": CN_1, "status": "flagged"}

    fake_services.on("policy", "POST", "/v1/uploads", review)
    # no CSRF token, no session, another company: refused before policy hears of it
    assert (await gateway.client.post(path, data={"_csrf": ""}, files=pdf, headers=cookie)).status_code == 403
    signed_out = await gateway.client.post(path, data={"_csrf": csrf}, files=pdf, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/portal"
    elsewhere = f"/portal/companies/{ident('co', '2')}/certificate"
    assert (await gateway.client.post(elsewhere, data={"_csrf": csrf}, files=pdf, headers=cookie)).status_code == 404
    assert fake_services.calls("policy", "POST") == []

    ok = await gateway.client.post(path, data={"_csrf": csrf}, files=pdf, headers=cookie)
    assert ok.status_code == 200 and 'data-testid="portal-certificate-notice"' in ok.text and "needs a check" in ok.text
    [sent] = fake_services.calls("policy", "POST", "/v1/uploads")
    assert sent.headers["x-tenant-id"] == TENANT and sent.headers["x-ten99-actor"] == f"contractor:{CN_1}"
    assert PDF in sent.body and CN_1.encode() in sent.body
    bad = {"certificate": ("coi.pdf", b"unreadable", "application/pdf")}
    refused = await gateway.client.post(path, data={"_csrf": csrf}, files=bad, headers=cookie)
    assert refused.status_code == 400 and "That file is not a PDF." in refused.text


def _answers(fake: FakeServices, state: dict[str, Any]) -> None:
    """Enrollment's coverage answer at TENANT and its decline, over ``state`` (the answer as it stands)."""
    fake.on("enrollment", "GET", f"/v1/portal/companies/{TENANT}/coverage-answer", lambda s: state)

    def decline(s: Any) -> Any:
        sent = json.loads(s.body)
        if sent["reason"] not in ("has_own_insurance", "does_not_want", "other"):
            problems = {"reason": "Choose one of: has_own_insurance, does_not_want, other"}
            return Response({"error_code": "invalid_input", "message": problems}, status_code=400)
        changed = state["status"] != "declined"
        state.update(
            status="declined",
            can_decline=False,
            declined_at=state.get("declined_at") or "2030-01-02T10:00:00Z",
            decline_reason=state.get("decline_reason") or sent["reason"],
            decline_note=state.get("decline_note") or sent["note"],
            can_change=True,
            changeable_until="2030-01-31",
        )
        return {**state, "changed": changed}

    fake.on("enrollment", "POST", f"/v1/portal/companies/{TENANT}/decline", decline)


async def test_the_contractor_declines_coverage_at_one_company_and_can_opt_in_after_all(
    gateway: Any, fake_services: FakeServices
) -> None:
    _session(fake_services)
    link = "http://gw.test/opt-in/" + "L" * 43
    _answers(fake_services, {"status": "pending", "can_decline": True, "opt_in_url": link})
    cookie = {"cookie": f"ten99_portal={SESSION}"}
    home = await gateway.client.get("/portal/home", headers=cookie)
    assert 'data-testid="portal-decline-form"' in home.text and f'action="/portal/companies/{TENANT}/decline"' in home.text
    assert f'href="{link}"' in home.text and 'value="has_own_insurance"' in home.text
    [asked] = fake_services.calls("enrollment", "GET", f"/v1/portal/companies/{TENANT}/coverage-answer")
    assert asked.headers["x-portal-session"] == SESSION and "x-tenant-id" not in asked.headers
    csrf, path = csrf_of(home.text), f"/portal/companies/{TENANT}/decline"
    body = {"reason": "has_own_insurance", "note": " Insured through my union. ", "_csrf": csrf}

    # no CSRF token, another's, no session, another company: refused before enrollment hears of it
    assert (await gateway.client.post(path, data={**body, "_csrf": ""}, headers=cookie)).status_code == 403
    assert (await gateway.client.post(path, data={**body, "_csrf": "f" * 64}, headers=cookie)).status_code == 403
    signed_out = await gateway.client.post(path, data=body, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/portal"
    elsewhere = f"/portal/companies/{ident('co', '2')}/decline"
    assert (await gateway.client.post(elsewhere, data=body, headers=cookie)).status_code == 404
    assert fake_services.calls("enrollment", "POST") == []

    bad = await gateway.client.post(path, data={**body, "reason": "nope"}, headers=cookie)
    assert bad.status_code == 400 and 'data-testid="portal-decline-error-reason"' in bad.text
    assert "Insured through my union." in bad.text and 'data-testid="portal-declined"' not in bad.text

    ok = await gateway.client.post(path, data=body, headers=cookie)
    assert ok.status_code == 200, ok.text
    assert 'data-testid="portal-decline-notice"' in ok.text and "no reminders follow" in ok.text
    assert 'data-testid="portal-declined"' in ok.text and "I have my own insurance" in ok.text
    assert "Insured through my union." in ok.text and 'data-testid="portal-decline-form"' not in ok.text
    assert f'href="{link}?reconsider=1"' in ok.text and 'data-testid="portal-opt-in-after-all"' in ok.text
    sent = fake_services.calls("enrollment", "POST", path.replace("/portal/", "/v1/portal/"))[-1]
    assert sent.headers["x-portal-session"] == SESSION and "x-tenant-id" not in sent.headers
    assert json.loads(sent.body) == {"reason": "has_own_insurance", "note": "Insured through my union."}
    again = await gateway.client.post(path, data=body, headers=cookie)
    assert again.status_code == 200 and "already declined" in again.text


async def test_a_decline_that_can_no_longer_change_offers_no_link(gateway: Any, fake_services: FakeServices) -> None:
    _session(fake_services)
    ended = {"status": "declined", "can_decline": False, "declined_at": "2030-01-02T10:00:00Z", "decline_reason": "other"}
    _answers(fake_services, {**ended, "can_change": False, "opt_in_url": None})
    home = await gateway.client.get("/portal/home", headers={"cookie": f"ten99_portal={SESSION}"})
    assert 'data-testid="portal-cannot-change"' in home.text and "Other reason" in home.text
    assert 'data-testid="portal-opt-in-after-all"' not in home.text and 'data-testid="portal-decline-form"' not in home.text


async def test_work_covered_by_the_contractors_own_certificate_says_own_insurance(
    gateway: Any, fake_services: FakeServices
) -> None:
    _session(fake_services)
    own = {"id": AN_2, "job": {"id": "jb_2", "name": "Model"}, "effective_date": "2030-02-01", "end_date": "2030-02-28"}
    not_yet = {
        "id": ident("an", "3"),
        "job": {"id": "jb_3", "name": "Editor"},
        "effective_date": "2030-03-01",
        "end_date": "2030-03-28",
    }
    listed = [{**own, "status": "active", "own_insurance_upload_id": ident("ci", "1")}, {**not_yet, "status": "active"}]
    fake_services.on(
        "contractor",
        "GET",
        f"/v1/contractors/{CN_1}/assignments",
        lambda s: {"object": "list", "data": listed, "has_more": False, "url": "/v1/contractors/x/assignments"},
    )
    home = await gateway.client.get("/portal/home", headers={"cookie": f"ten99_portal={SESSION}"})
    assert home.status_code == 200, home.text
    statuses = dict(re.findall(r'data-assignment-id="([^"]+)".*?data-status="([^"]+)"', home.text, re.S))
    assert statuses == {AN_2: "own_insurance", ident("an", "3"): "none"}
    assert "Own insurance" in home.text and "Not covered yet" in home.text
