"""Public pages (no login): the opt-in form, the signed certificate link, integration webhooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_fakes import COI_1, PDF, FakeServices, make_company
from litestar import Response

pytestmark = pytest.mark.integration

FORM = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+1 555 0100",
    "date_of_birth": "1990-12-10",
    "address_line1": "1 Main St",
    "address_line2": "",
    "address_locality": "Austin",
    "address_region": "TX",
    "address_postalcode": "73301",
    "q_claims_last_3_years": "no",
    "consent": "yes",
    "signed_name": "Ada Lovelace",
}


async def test_opening_the_link_shows_the_prefilled_form_and_changes_nothing(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.get("/opt-in/tok_open_12345")
    assert r.status_code == 200
    html = r.text
    assert 'id="opt-in-form"' in html and 'value="Lovelace"' in html and 'value="Austin"' in html
    assert "Acme Talent" in html and "Photographer" in html and "claims_last_3_years" in html
    assert "I agree to be insured." in html
    assert [(s.method, s.path) for s in fake_services.seen] == [("GET", "/v1/opt-in/tok_open_12345")]
    assert "x-tenant-id" not in fake_services.seen[0].headers  # public: no tenant


async def test_submitting_forwards_the_answers_with_ip_and_user_agent(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.post("/opt-in/tok_open_12345", data=FORM, headers={"User-Agent": "TestBrowser/1.0"})
    assert r.status_code == 200
    assert 'data-testid="opt-in-state" data-state="done"' in r.text and "ias_01TEST" in r.text
    sent = fake_services.calls("enrollment", "POST", "/v1/opt-in/tok_open_12345")[0]
    body = json.loads(sent.body)
    assert body["address"] == {
        "line1": "1 Main St",
        "line2": None,
        "locality": "Austin",
        "region": "TX",
        "postalcode": "73301",
        "country": "US",
    }
    assert body["answers"] == {"claims_last_3_years": False}
    assert body["consent"] == {"agreed": True, "signed_name": "Ada Lovelace"} and body["date_of_birth"] == "1990-12-10"
    assert "email" not in body  # the company's, not editable on the form
    assert body["user_agent"] == "TestBrowser/1.0" and body["ip_address"] == "127.0.0.1"
    assert sent.headers["x-forwarded-user-agent"] == "TestBrowser/1.0" and sent.headers["x-forwarded-for"] == "127.0.0.1"


async def test_a_repeated_submission_shows_the_already_answered_page(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/opt-in/.*",
        lambda s: {"state": "answered", "message": "You have already answered", "session_id": "ias_1"},
    )
    r = await gateway.client.post("/opt-in/tok_open_12345", data=FORM)
    assert r.status_code == 200 and 'data-state="answered"' in r.text


async def test_missing_answers_re_render_the_form_with_messages_and_input(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.post("/opt-in/tok_open_12345", data={**FORM, "consent": "", "signed_name": "", "first_name": "Adah"})
    assert r.status_code == 400
    assert 'data-testid="error-consent"' in r.text and 'data-testid="error-signed_name"' in r.text and 'value="Adah"' in r.text
    assert not fake_services.calls("enrollment", "POST")


async def test_service_validation_errors_land_on_the_fields(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/opt-in/.*",
        lambda s: Response(
            {
                "error_code": "invalid_input",
                "message": {"address.region": "Not a US state", "consent.signed_name": "Must be your name"},
            },
            status_code=400,
        ),
    )
    r = await gateway.client.post("/opt-in/tok_open_12345", data={**FORM, "address_region": "ZZ"})
    assert r.status_code == 400 and 'data-testid="error-address_region">Not a US state' in r.text and 'value="ZZ"' in r.text
    assert 'data-testid="error-signed_name">Must be your name' in r.text


@pytest.mark.parametrize(
    ("token", "state", "status"),
    [
        ("tok_expired_123", "expired", 410),
        ("tok_revoked_123", "revoked", 410),
        ("tok_answered_123", "answered", 200),
        ("tok_unknown_123", "invalid", 404),
    ],
)
async def test_used_expired_and_unknown_links_get_a_friendly_page(
    gateway: Any, fake_services: FakeServices, token: str, state: str, status: int
) -> None:
    r = await gateway.client.get(f"/opt-in/{token}")
    assert r.status_code == status
    assert f'data-testid="opt-in-state" data-state="{state}"' in r.text and "<form" not in r.text
    r = await gateway.client.post(f"/opt-in/{token}", data=FORM)
    assert f'data-state="{state}"' in r.text and "<form" not in r.text


async def test_enrollment_down_shows_a_try_again_page(gateway: Any, fake_services: FakeServices) -> None:
    fake_services.on(
        "enrollment", "GET", "/v1/opt-in/.*", lambda s: Response({"error_code": "general_error", "message": "x"}, status_code=500)
    )
    r = await gateway.client.get("/opt-in/tok_open_12345")
    assert r.status_code == 503 and 'data-state="unavailable"' in r.text


async def test_signed_certificate_link_streams_the_pdf(gateway: Any, fake_services: FakeServices) -> None:
    r = await gateway.client.get(f"/certificates/{COI_1}.pdf?token=good")
    assert r.status_code == 200 and r.content == PDF and r.headers["content-type"] == "application/pdf"
    sent = fake_services.calls("policy", "GET")[0]
    assert sent.path == f"/v1/public/certificates/{COI_1}.pdf" and sent.query == "token=good"
    assert "x-tenant-id" not in sent.headers
    expired = await gateway.client.get(f"/certificates/{COI_1}.pdf?token=old")
    assert expired.status_code == 410 and "expired" in expired.text.lower()
    assert (await gateway.client.get(f"/certificates/{COI_1}.pdf")).status_code == 404


async def test_integration_webhooks_are_forwarded_raw_with_the_company_as_tenant(
    gateway: Any, fake_services: FakeServices
) -> None:
    company = await make_company(gateway, "Acme", "ada@acme.test")
    raw = b'{"event":"creator.accepted","creator":{"id":"c-1","email":"ada@example.com"}}'
    signature = "t=1700000000,v1=abc123"
    r = await gateway.client.post(
        f"/integrations/creatoriq/{company}",
        content=raw,
        headers={"X-Ten99-Signature": signature, "Content-Type": "application/json", "X-Tenant-Id": "co_evil"},
    )
    assert r.status_code == 202 and r.json() == {"received": True, "tenant": company}
    sent = fake_services.calls("contractor", "POST", "/v1/integrations/creatoriq/webhook")[0]
    assert sent.body == raw and sent.headers["x-ten99-signature"] == signature and sent.headers["x-tenant-id"] == company

    fake_services.on(
        "contractor",
        "POST",
        "/v1/integrations/.*/webhook",
        lambda s: Response({"error_code": "invalid_webhook_signature", "message": "bad signature"}, status_code=401),
    )
    r = await gateway.client.post(f"/integrations/creatoriq/{company}", content=raw)
    assert r.status_code == 401 and r.json()["error_code"] == "invalid_webhook_signature"
    assert (await gateway.client.post("/integrations/creatoriq/co_nobody", content=raw)).status_code == 404
    assert (await gateway.client.post(f"/integrations/upwork/{company}", content=raw)).status_code == 404
    assert len(fake_services.calls("contractor", "POST")) == 2


async def test_unknown_pages_get_a_404_page_and_other_routes_still_answer(gateway: Any) -> None:
    r = await gateway.client.get("/no/such/page")
    assert r.status_code == 404 and 'data-state="not_found"' in r.text
    assert (await gateway.client.get("/livez")).json() == {"status": "ok"}
    assert (await gateway.client.get("/static/ten99.css")).status_code == 200
    assert (await gateway.client.get("/static/vendor/htmx-2.0.11.min.js")).status_code == 200
    assert (await gateway.client.get("/api/v1/entities")).json()["error_code"] == "invalid_api_key"
    assert (await gateway.client.get("/metrics")).status_code == 200
    assert (await gateway.client.get("/schema/openapi.json")).status_code == 401  # for operators only
    assert (await gateway.ops.get("/schema/openapi.json")).status_code == 200
    assert (await gateway.client.get("/contractors")).status_code == 303


async def test_a_session_s_urls_send_the_contractor_on_after_the_form(gateway: Any, fake_services: FakeServices) -> None:
    """An application session opened through the API names success_url and cancel_url: the form's
    answer sends the contractor there (303), and a link that can no longer be answered goes to
    enrollment's redirect_url; anything but an absolute http(s) URL is not followed."""
    ok, cancel = "https://platform.test/done?x=1", "https://platform.test/cancelled"
    completed = {"state": "completed", "session_id": "ias_01TEST", "message": "ok", "quotes": [], "success_url": ok}
    fake_services.on("enrollment", "POST", "/v1/opt-in/tok_done_12345", lambda s: {**completed, "redirect_url": ok})
    r = await gateway.client.post("/opt-in/tok_done_12345", data=FORM)
    assert r.status_code == 303 and r.headers["location"] == ok

    ineligible = {"state": "ineligible", "session_id": "ias_01TEST", "message": "no", "reasons": [], "cancel_url": cancel}
    fake_services.on("enrollment", "POST", "/v1/opt-in/tok_inel_12345", lambda s: ineligible)
    r = await gateway.client.post("/opt-in/tok_inel_12345", data=FORM)
    assert r.status_code == 303 and r.headers["location"] == cancel

    closed = {"state": "expired", "company_name": "Acme Talent", "prefill": None, "questions": [], "redirect_url": cancel}
    fake_services.on("enrollment", "GET", "/v1/opt-in/tok_gone_12345", lambda s: closed)
    r = await gateway.client.get("/opt-in/tok_gone_12345")
    assert r.status_code == 303 and r.headers["location"] == cancel

    # no URL, or one that is not a plain absolute http(s) URL: the page as before
    for url in (None, "javascript:alert(1)", "//evil.test/x", "https://a.test/\r\nSet-Cookie: x=1", "https://a.test/ x"):
        fake_services.on("enrollment", "POST", "/v1/opt-in/tok_odd_12345", lambda s, url=url: {**completed, "success_url": url})
        r = await gateway.client.post("/opt-in/tok_odd_12345", data=FORM)
        assert r.status_code == 200 and "location" not in r.headers, url


DECLINED = {
    "state": "declined",
    "company_name": "Acme Talent",
    "declined_at": "2030-01-05T10:00:00+00:00",
    "decline_reason": "has_own_insurance",
    "decline_note": "My own policy.",
    "can_change": True,
    "changeable_until": "2030-02-01",
    "prefill": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "assignments": []},
    "questions": [],
}


async def test_declining_forwards_the_reason_and_shows_the_declined_page(gateway: Any, fake_services: FakeServices) -> None:
    sent: list[Any] = []

    def decline(s: Any) -> Any:
        sent.append(json.loads(s.body))
        return DECLINED

    fake_services.on("enrollment", "POST", "/v1/opt-in/tok_open_12345/decline", decline)
    page = await gateway.client.get("/opt-in/tok_open_12345")
    assert 'data-testid="decline-form"' in page.text and 'action="/opt-in/tok_open_12345/decline"' in page.text
    # no reason: the form again, nothing forwarded
    r = await gateway.client.post("/opt-in/tok_open_12345/decline", data={"note": "x"})
    assert r.status_code == 400 and 'data-testid="error-reason"' in r.text and sent == []
    r = await gateway.client.post("/opt-in/tok_open_12345/decline", data={"reason": "other", "note": "n" * 501})
    assert r.status_code == 400 and 'data-testid="error-note"' in r.text and sent == []
    r = await gateway.client.post("/opt-in/tok_open_12345/decline", data={"reason": "has_own_insurance", "note": " Mine. "})
    assert r.status_code == 200 and sent == [{"reason": "has_own_insurance", "note": "Mine."}]
    assert 'data-state="declined"' in r.text and "You declined on" in r.text and "I have my own insurance" in r.text
    assert 'data-testid="opt-in-after-all"' in r.text


async def test_a_declined_link_reopens_the_form_only_on_request_and_only_before_the_end(
    gateway: Any, fake_services: FakeServices
) -> None:
    state = dict(DECLINED)
    fake_services.on("enrollment", "GET", "/v1/opt-in/tok_declined_1", lambda s: state)
    shown = await gateway.client.get("/opt-in/tok_declined_1")
    assert 'data-state="declined"' in shown.text and 'data-testid="opt-in-form"' not in shown.text
    reopened = await gateway.client.get("/opt-in/tok_declined_1?reconsider=1")
    assert 'data-testid="opt-in-form"' in reopened.text and 'data-testid="reconsidering"' in reopened.text
    assert 'data-testid="decline-form"' not in reopened.text
    state.update(can_change=False, prefill=None)
    plain = await gateway.client.get("/opt-in/tok_declined_1")
    assert plain.status_code == 200 and 'data-testid="cannot-change"' in plain.text
    ended = await gateway.client.get("/opt-in/tok_declined_1?reconsider=1")
    assert ended.status_code == 409 and 'data-testid="cannot-change"' in ended.text
    assert 'data-testid="opt-in-form"' not in ended.text and 'data-testid="opt-in-after-all"' not in ended.text


async def test_a_decline_after_the_assignment_ended_is_a_409_page(gateway: Any, fake_services: FakeServices) -> None:
    message = "Your assignment ended on 2030-01-31: your answer can no longer be changed."
    fake_services.on(
        "enrollment",
        "POST",
        "/v1/opt-in/tok_open_12345/decline",
        lambda s: Response({"error_code": "assignment_ended", "message": message}, status_code=409),
    )
    r = await gateway.client.post("/opt-in/tok_open_12345/decline", data={"reason": "other"})
    assert r.status_code == 409 and 'data-state="ended"' in r.text and message in r.text
