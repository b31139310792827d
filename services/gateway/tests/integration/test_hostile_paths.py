"""Path parameters of the dashboard and the public pages: an id, token or integration name that is
not well formed is a 404 (a page, or JSON for the webhook), never a 500, and is never forwarded."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fakes import COI_1, ML_1, FakeServices, csrf_of, login, make_company, raw_request

pytestmark = pytest.mark.integration

#: a hostile stand-in for an id: (what it is, the path segment as sent)
BAD_SEGMENTS = [
    ("control character", "E%17"),
    ("NUL", "cn_%00"),
    ("newline after a good id", "cn_0000000000000000000001%0a"),
    ("dot segment", "%2e%2e"),
    ("encoded slash", "..%2f..%2f_ops"),
    ("encoded backslash", "..%5c_ops"),
    ("semicolon", "x;y=1"),
    ("overlong UTF-8", "%c0%ae%c0%ae"),
    ("too short", "cn_short"),
    ("another resource's id", "zz_0000000000000000000001"),
    ("SQL", "%27%20OR%201%3D1--"),
]

DASHBOARD_GETS = [
    "/contractors/{}",
    "/certificates/{}/download",
    "/imports/{}",
    "/imports/{}/errors.csv",
    "/invoices/{}",
    "/invoices/{}/pdf",
    "/mailbox/{}",
    "/mailbox/{}/html",
    "/mailbox/{}/attachments/0",
]
DASHBOARD_POSTS = [
    "/contractors/{}/invitation/resend",
    "/assignments/{}/cancel",
    "/assignments/{}/extend",
    "/invoices/{}/mark-paid",
]


@pytest.fixture
async def csrf(gateway: Any, fake_services: FakeServices) -> str:
    await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    token = csrf_of((await gateway.client.get("/settings")).text)
    fake_services.seen.clear()
    return token


def _cookies(gateway: Any) -> str:
    return "; ".join(f"{name}={value}" for name, value in gateway.client.cookies.items())


async def test_dashboard_ids_are_checked_before_any_service_is_called(
    gateway: Any, fake_services: FakeServices, csrf: str
) -> None:
    headers = {"Cookie": _cookies(gateway)}
    problems = []
    for template in DASHBOARD_GETS:
        for what, segment in BAD_SEGMENTS:
            r = await raw_request(gateway, "GET", template.format(segment), headers=headers)
            if not 400 <= r.status < 500:
                problems.append((template, what, r.status))
    for template in DASHBOARD_POSTS:
        for what, segment in BAD_SEGMENTS:
            body = f"_csrf={csrf}&contractor=cn_x&end_date=2030-03-01".encode()
            post_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf}
            r = await raw_request(gateway, "POST", template.format(segment), headers=post_headers, body=body)
            if not 400 <= r.status < 500:
                problems.append((template, what, r.status))
    assert problems == []
    assert fake_services.seen == [], [(s.service, s.method, s.path) for s in fake_services.seen]
    # a readable 404 page, not an error dump
    page = await gateway.client.get("/contractors/cn_short")
    assert page.status_code == 404 and 'data-testid="error-page"' in page.text
    # an attachment number out of range is not passed on either
    for n in ("-1", "1000", "99999999999999999999"):
        r = await gateway.client.get(f"/mailbox/{ML_1}/attachments/{n}")
        assert 400 <= r.status_code < 500, (n, r.status_code)
    assert fake_services.seen == []


async def test_settings_actions_check_their_path_parameters(gateway: Any, fake_services: FakeServices, csrf: str) -> None:
    for key_id in ("ak_short", "x;y", "%2e%2e"):
        r = await gateway.client.post(f"/settings/api-keys/{key_id}/revoke", data={"_csrf": csrf})
        assert r.status_code in (303, 404), (key_id, r.status_code)
    for provider in ("upwork", "CreatorIQ", "..%2fsecret"):
        r = await gateway.client.post(f"/settings/integrations/{provider}/rotate", data={"_csrf": csrf})
        assert r.status_code in (303, 404), (provider, r.status_code)
    assert fake_services.seen == []


async def test_public_page_tokens_and_ids_are_checked_before_anything_is_forwarded(
    gateway: Any, fake_services: FakeServices
) -> None:
    company = await make_company(gateway, "Acme", "ada@acme.test")
    cases = [
        ("GET", "/opt-in/tok.en.with.dots"),
        ("GET", "/opt-in/~~~~~~~~~~"),
        ("GET", "/opt-in/short"),
        ("GET", "/opt-in/abcdefghijkl%0a"),
        ("GET", "/opt-in/abcdefghijkl%00"),
        ("GET", "/opt-in/%2e%2e"),
        ("POST", "/opt-in/tok.en.with.dots"),
        ("POST", "/opt-in/abcdefghijkl%0a"),
        ("GET", "/certificates/cert_123.pdf?token=good"),
        ("GET", "/certificates/%2e%2e.pdf?token=good"),
        ("GET", f"/certificates/{COI_1}%0a.pdf?token=good"),
        ("GET", f"/certificates/{COI_1}.pdf?token=a%20b"),
        ("GET", f"/certificates/{COI_1}.pdf?token=a%00b"),
        ("GET", f"/certificates/{COI_1}.pdf?token=" + "a" * 3000),
        ("POST", "/integrations/creatoriq/co_short"),
        ("POST", "/integrations/creatoriq/co_%00"),
        ("POST", f"/integrations/creatoriq/{company}%0a"),
        ("POST", f"/integrations/upwork/{company}"),
        ("POST", f"/integrations/..%2fsecret/{company}"),
    ]
    for method, path in cases:
        r = await raw_request(gateway, method, path, headers={"Content-Type": "application/json"}, body=b"{}")
        assert 400 <= r.status < 500, (method, path, r.status, r.body[:200])
        if path.startswith("/integrations/"):
            assert r.is_error_shape, (path, r.body[:200])
    assert fake_services.seen == [], [(s.service, s.method, s.path) for s in fake_services.seen]
