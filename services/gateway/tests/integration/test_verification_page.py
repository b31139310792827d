"""The public verification page ``/verify/<id>`` (no login), against a faked policy service: the
id's shape checked before anything is forwarded, the same 404 for unknown and malformed ids, the
live status and only the public fields shown (as HTML, or JSON on ``Accept: application/json``)."""

from __future__ import annotations

from typing import Any

import pytest
from gateway_fakes import FakeServices, Seen
from litestar import Response

pytestmark = pytest.mark.integration

VID = "vrf_" + "Ab3_-" * 5 + "Xy"  # 27 characters after the prefix
NEWER = "vrf_" + "Zz9" * 9


def view(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "verification_id": VID,
        "status": status,
        "status_on": "2030-01-15",
        "certificate_number": "COI-2030-9F3HW6TR",
        "issued_on": "2030-01-02",
        "insured_name": "Ada Lovelace",
        "holder_name": "Nike",
        "coverage_types": ["general"],
        "coverages": ["Commercial General Liability"],
        "effective_date": "2030-01-10",
        "end_date": "2030-02-09",
        "superseded_by": NEWER if status == "superseded" else None,
        **extra,
    }


def policy_answers(fake_services: FakeServices, answer: Any) -> None:
    fake_services.on("policy", "GET", "/v1/verifications/.*", lambda s: answer(s) if callable(answer) else answer)


@pytest.mark.parametrize(
    ("status", "label", "words"),
    [
        ("scheduled", "Scheduled", "starts on 2030-01-10"),
        ("active", "Active", "runs through 2030-02-09"),
        ("expired", "Expired", "ended on 2030-02-09"),
        ("cancelled", "Cancelled", "no longer proof of insurance"),
        ("superseded", "Superseded", "A newer certificate replaced this one"),
    ],
)
async def test_the_page_shows_the_live_status_and_the_public_fields(
    gateway: Any, fake_services: FakeServices, status: str, label: str, words: str
) -> None:
    # an answer that carried more than the page shows (it should not; the page drops it anyway)
    policy_answers(fake_services, view(status, insured_address="2211 Mission St", tax_id="123-45-6789", email="ada@x.test"))
    r = await gateway.client.get(f"/verify/{VID}")
    assert r.status_code == 200, r.text
    html = r.text
    assert f'data-status="{status}"' in html and f">{label}</span>" in html and words in html
    for shown in ("Ada Lovelace", "Nike", "Commercial General Liability", "2030-01-10", "2030-02-09", "COI-2030-9F3HW6TR"):
        assert shown in html
    for hidden in ("2211 Mission St", "123-45-6789", "ada@x.test"):
        assert hidden not in html
    assert (f'href="/verify/{NEWER}"' in html) is (status == "superseded")
    assert r.headers["cache-control"] == "no-store"
    [sent] = fake_services.calls("policy", "GET")
    assert sent.path == f"/v1/verifications/{VID}" and "x-tenant-id" not in sent.headers


async def test_json_on_request_with_the_same_fields_only(gateway: Any, fake_services: FakeServices) -> None:
    policy_answers(fake_services, view("active", premium=12345))
    r = await gateway.client.get(f"/verify/{VID}", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.json() == view("active")


async def test_unknown_and_malformed_ids_get_the_same_404_and_malformed_ones_are_not_forwarded(
    gateway: Any, fake_services: FakeServices
) -> None:
    policy_answers(fake_services, Response({"error_code": "resource_not_found", "message": "x"}, status_code=404))
    unknown = await gateway.client.get(f"/verify/{VID}")
    assert unknown.status_code == 404 and 'data-state="not_found"' in unknown.text
    assert len(fake_services.calls("policy")) == 1
    for bad in (VID[:-1], VID + "A", "coi_" + "1" * 22, "vrf_..%2Ex", "a" * 300):
        r = await gateway.client.get(f"/verify/{bad}")
        assert r.status_code == 404, bad
        assert r.text == unknown.text, bad  # the same page, whatever was wrong
    for elsewhere in (f"/verify/{VID}/more", "/verify/vrf_..%2F..%2Fx", "/verify/"):  # not a page at all: a 404 too
        assert (await gateway.client.get(elsewhere)).status_code == 404
    assert len(fake_services.calls("policy")) == 1  # none of them reached the service
    as_json = await gateway.client.get(f"/verify/{VID[:-1]}", headers={"Accept": "application/json"})
    assert (as_json.status_code, as_json.json()["error_code"]) == (404, "resource_not_found")


async def test_a_failing_policy_service_gets_a_try_again_page(gateway: Any, fake_services: FakeServices) -> None:
    def broken(_: Seen) -> Response[Any]:
        return Response({"error_code": "general_error", "message": "x"}, status_code=500)

    policy_answers(fake_services, broken)
    r = await gateway.client.get(f"/verify/{VID}")
    assert r.status_code == 503 and 'data-state="unavailable"' in r.text
