"""Assignment date rules, the job-category catalogue, webhook signatures and payload mapping, and
the email shortcut."""

from __future__ import annotations

from datetime import date

import pytest
from contractor.domain import rules
from contractor.domain.catalogue import CATALOGUE, match_category
from contractor.domain.integrations import parse_payload, sign, verify_signature
from ten99kit import ApiError

TODAY = date(2026, 11, 2)


def code_of(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except ApiError as e:
        return e.error_code
    return "ok"


def test_new_assignment_dates() -> None:
    assert code_of(lambda: rules.check_new_dates(TODAY, TODAY, TODAY)) == "ok"  # today, one day
    assert code_of(lambda: rules.check_new_dates(date(2026, 11, 1), date(2026, 12, 1), TODAY)) == "effective_date_invalid"
    assert code_of(lambda: rules.check_new_dates(date(2026, 11, 10), date(2026, 11, 9), TODAY)) == "end_date_invalid"
    assert code_of(lambda: rules.check_new_dates(date(2026, 11, 10), date(2027, 11, 10), TODAY)) == "ok"
    assert code_of(lambda: rules.check_new_dates(date(2026, 11, 10), date(2027, 11, 11), TODAY)) == "end_date_invalid"
    assert rules.latest_end(date(2028, 2, 29)) == date(2029, 2, 28)
    assert rules.default_dates(TODAY, None, None) == (date(2026, 11, 3), date(2026, 12, 3))


def test_cancel_and_extend_rules() -> None:
    assert code_of(lambda: rules.check_cancellable(date(2026, 11, 3), TODAY)) == "ok"
    assert code_of(lambda: rules.check_cancellable(TODAY, TODAY)) == "invalid_input"  # started today
    eff, end = date(2026, 11, 10), date(2026, 12, 9)
    assert code_of(lambda: rules.check_extension(eff, end, date(2027, 1, 1), TODAY)) == "ok"
    assert code_of(lambda: rules.check_extension(eff, end, end, TODAY)) == "ok"  # same end: a no-op
    assert code_of(lambda: rules.check_extension(eff, end, date(2026, 12, 1), TODAY)) == "end_date_invalid"
    assert code_of(lambda: rules.check_extension(eff, end, date(2027, 11, 11), TODAY)) == "end_date_invalid"
    assert code_of(lambda: rules.check_extension(eff, end, date(2027, 1, 1), date(2026, 12, 10))) == "invalid_input"


def test_coverage_status_by_the_clock() -> None:
    eff, end = date(2026, 11, 10), date(2026, 12, 9)

    def status(today: date, **kw: bool) -> str:
        return rules.coverage_status(
            cancelled=kw.get("cancelled", False), bound=kw.get("bound", True), effective=eff, end=end, today=today
        )

    assert status(TODAY, bound=False) == "not_bound"
    assert [status(d) for d in (date(2026, 11, 9), eff, end, date(2026, 12, 10))] == ["scheduled", "active", "active", "expired"]
    assert status(TODAY, cancelled=True) == "cancelled"
    assert rules.coverage_types_for([]) == ["general", "workers-comp"] and rules.coverage_types_for(["general"]) == ["general"]


def test_the_catalogue_is_exactly_the_shared_one_and_titles_match_it() -> None:
    assert [c.code for c in CATALOGUE] == [
        "jc_creator", "jc_photographer", "jc_videographer", "jc_model", "jc_brand_ambassador", "jc_event_staff",
        "jc_field_technician", "jc_delivery_driver", "jc_software_developer", "jc_designer", "jc_writer",
        "jc_consultant", "jc_merchandiser", "jc_tutor",
    ]  # fmt: skip
    assert match_category("jc_tutor") == "jc_tutor"
    assert match_category("Influencer") == "jc_creator"
    assert match_category("content creator / influencer") == "jc_creator"
    assert match_category("  model ") == "jc_model"
    assert match_category("Writer / editor") == "jc_writer"
    assert match_category("Astronaut") is None and match_category("") is None


def test_signatures() -> None:
    body = b'{"a": 1}'
    header = sign("whsec_x", 1_000_000, body)
    verify_signature(header, "whsec_x", body, 1_000_100, 300)
    verify_signature(header, "whsec_x", body, (5, 1_000_100), 300)  # any of several "now"s
    verify_signature(f"t=1000000,v1=deadbeef,{header.split(',')[1]}", "whsec_x", body, 1_000_000, 300)
    for bad_header, bad_body, secret, now in [
        (None, body, "whsec_x", 1_000_000),
        ("t=1000000", body, "whsec_x", 1_000_000),
        (header, body + b" ", "whsec_x", 1_000_000),
        (header, body, "whsec_y", 1_000_000),
        (header, body, "whsec_x", 1_000_301),
        (header.replace("t=1000000", "t=1000001"), body, "whsec_x", 1_000_000),
    ]:
        with pytest.raises(ApiError) as e:
            verify_signature(bad_header, secret, bad_body, now, 300)
        assert (e.value.status_code, e.value.error_code) == (401, "invalid_webhook_signature")


def test_creatoriq_payload_mapping() -> None:
    payload = {
        "Status": "Accepted",
        "CampaignId": 9,
        "CampaignName": "Spring",
        "BrandName": "Nike",
        "StartDate": "2026-10-01",  # already past: coverage starts today instead
        "Creator": {
            "CreatorId": 7,
            "FirstName": "Ada",
            "LastName": "L",
            "Email": "ada@example.com",
            "Address": {"Street1": "1 Main", "City": "SF", "State": "California", "Zip": "94110"},
        },
        "PaymentAmount": 1234.5,
        "WorkState": "WA",
        "CustomField3": "PO-7",
        "CustomField4": "ap@agency.com",
    }
    event = parse_payload("creatoriq", payload, TODAY)
    assert (event.external_id, event.contractor_metadata, event.job_metadata) == (
        "9:7",
        {"creatoriq_id": "7"},
        {"creatoriq_campaign_id": "9"},
    )
    assert (event.effective_date, event.end_date) == (TODAY, date(2026, 12, 2))
    assert (event.wage_cents, event.wage_type, event.work_state, event.category_code) == (123_450, "flatfee", "WA", "jc_creator")
    assert (event.po_number, event.po_contact_email, event.campaign) == ("PO-7", "ap@agency.com", "Spring")
    assert event.address["region"] == "CA" and event.description == "Content creator / influencer for the Spring campaign"
    with pytest.raises(ApiError) as e:
        parse_payload("creatoriq", {**payload, "PaymentAmount": None, "Creator": {"CreatorId": 7}}, TODAY)
    assert "PaymentAmount" in str(e.value.message) and "Creator.Email" in str(e.value.message)
