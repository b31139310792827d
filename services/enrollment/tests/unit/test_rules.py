"""Pure rules: tokens, rates, eligibility questions, dates, coverage per state, signatures, repeat coverage."""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter
from datetime import date, timedelta

import pytest
from enrollment.domain import rates
from enrollment.domain.eligibility import (
    QUESTIONS,
    NotCoverable,
    PricedCoverage,
    age_on,
    check_new_dates,
    evaluate_answers,
    one_year_after,
    phone_problem,
    price_assignment,
    signature_matches,
)
from enrollment.domain.repeat_coverage import ConfirmedTerms, matching_terms
from enrollment.domain.states import MONOPOLISTIC_WC_STATES, US_STATES
from enrollment.domain.tokens import NONCE_BITS, hash_token, issue_token, looks_like_token, recompute_token

TODAY = date(2030, 3, 1)

# -- tokens ------------------------------------------------------------------------------------


def test_a_token_is_256_bits_of_url_safe_text_from_a_128_bit_nonce() -> None:
    issued = issue_token("s3cret", "inv_A")
    assert len(issued.token) == 43 and looks_like_token(issued.token)
    assert len(base64.urlsafe_b64decode(issued.token + "=")) == 32
    assert len(bytes.fromhex(issued.nonce)) * 8 == NONCE_BITS == 128


def test_tokens_do_not_repeat_and_their_nonces_look_random() -> None:
    issued = [issue_token("s3cret", "inv_same") for _ in range(2000)]
    assert len({i.token for i in issued}) == 2000
    assert len({i.nonce for i in issued}) == 2000
    # every nonce bit is set about half the time (a broken generator would show a skew)
    ones = Counter()
    for i in issued:
        n = int(i.nonce, 16)
        for bit in range(128):
            ones[bit] += (n >> bit) & 1
    assert all(abs(ones[b] - 1000) < 5 * math.sqrt(500) for b in range(128))


def test_only_the_hash_is_kept_and_the_token_is_recomputable_only_with_the_secret() -> None:
    issued = issue_token("s3cret", "inv_A")
    assert issued.token_hash == hashlib.sha256(issued.token.encode()).hexdigest() == hash_token(issued.token)
    assert issued.token not in (issued.nonce, issued.token_hash)
    assert recompute_token("s3cret", "inv_A", issued.nonce, issued.token_hash) == issued.token
    assert recompute_token("rotated", "inv_A", issued.nonce, issued.token_hash) is None
    # the nonce is bound to its invitation: another id gives another token
    assert recompute_token("s3cret", "inv_B", issued.nonce, issued.token_hash) is None


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        issue_token("", "inv_A")


@pytest.mark.parametrize("value", ["", "short", "x" * 44, "a" * 42 + "!", "../../etc/passwd"])
def test_malformed_tokens_are_rejected_before_any_lookup(value: str) -> None:
    assert not looks_like_token(value)


# -- rates -------------------------------------------------------------------------------------


def test_every_catalogue_code_has_both_base_rates() -> None:
    expected = {
        "jc_creator", "jc_photographer", "jc_videographer", "jc_model", "jc_brand_ambassador", "jc_event_staff",
        "jc_field_technician", "jc_delivery_driver", "jc_software_developer", "jc_designer", "jc_writer",
        "jc_consultant", "jc_merchandiser", "jc_tutor",
    }  # fmt: skip
    assert expected == rates.CATEGORY_CODES
    assert all(set(by_type) == {"general", "workers-comp"} and min(by_type.values()) > 0 for by_type in rates.BASE_RATES.values())


def test_rate_lookup_applies_the_state_factor_rounding_half_up() -> None:
    assert rates.net_rate("jc_creator", "TX", "general") == 20  # factor 100
    assert rates.net_rate("jc_delivery_driver", "CA", "workers-comp") == 169  # 130 * 1.30
    assert rates.net_rate("jc_creator", "CA", "general") == 23  # 20 * 1.15
    assert rates.net_rate("jc_writer", "AZ", "workers-comp") == 15  # 18 * 0.85 = 15.3
    assert rates.net_rate("jc_model", "IN", "workers-comp") == 32  # 40 * 0.80
    assert rates.net_rate("jc_consultant", "NY", "general") == 18  # 15 * 1.20
    assert rates.net_rate("jc_tutor", "AR", "workers-comp") == 24  # 30 * 0.80


def test_no_workers_comp_rate_in_monopolistic_states_and_none_for_unknowns() -> None:
    for state in ("ND", "OH", "WA", "WY"):
        assert rates.net_rate("jc_creator", state, "workers-comp") is None
        assert rates.net_rate("jc_creator", state, "general") is not None
    assert rates.net_rate("jc_unknown", "CA", "general") is None
    assert rates.net_rate("jc_creator", "PR", "general") is None
    assert rates.net_rate("jc_creator", "CA", "professional") is None


def test_the_resolved_table_has_one_row_per_offered_combination() -> None:
    rows = rates.rate_rows()
    assert len(rows) == 14 * 51 * 2 - 14 * len(MONOPOLISTIC_WC_STATES)
    assert len({(r.category_code, r.state, r.coverage_type) for r in rows}) == len(rows)
    assert all(r.net_rate == rates.net_rate(r.category_code, r.state, r.coverage_type) for r in rows)
    assert [(r.state, r.coverage_type) for r in rates.rate_rows("jc_creator", "OH")] == [("OH", "general")]


# -- questions ---------------------------------------------------------------------------------

GOOD = {"is_adult": True, "works_in_us": True, "independent_contractor": True, "claims_last_3_years": False,
        "coverage_declined_last_3_years": False}  # fmt: skip


def test_the_right_answers_are_eligible() -> None:
    assert evaluate_answers(dict(GOOD)) == ({}, [])


@pytest.mark.parametrize(
    ("question", "answer", "reason"),
    [
        ("is_adult", False, "at least 18"),
        ("works_in_us", False, "United States"),
        ("independent_contractor", False, "independent contractors"),
        ("claims_last_3_years", True, "claims or losses in the last 3 years"),
        ("coverage_declined_last_3_years", True, "declined"),
    ],
)
def test_each_wrong_answer_gives_its_reason(question: str, answer: bool, reason: str) -> None:
    errors, reasons = evaluate_answers({**GOOD, question: answer})
    assert errors == {} and len(reasons) == 1 and reason in reasons[0]


def test_unanswered_and_unknown_questions_are_input_errors() -> None:
    errors, _ = evaluate_answers({"is_adult": True, "favourite_colour": True})
    assert set(errors) == {f"answers.{q.id}" for q in QUESTIONS if q.id != "is_adult"} | {"answers.favourite_colour"}


def test_age() -> None:
    assert age_on(date(2012, 3, 1), TODAY) == 18
    assert age_on(date(2012, 3, 2), TODAY) == 17


# -- dates -------------------------------------------------------------------------------------


def test_new_coverage_starts_today_or_later_and_lasts_at_most_a_year() -> None:
    assert check_new_dates(TODAY, TODAY, TODAY) is None  # a one-day assignment
    assert check_new_dates(TODAY, one_year_after(TODAY), TODAY) is None
    assert check_new_dates(TODAY - timedelta(days=1), TODAY, TODAY).error_code == "effective_date_invalid"  # type: ignore[union-attr]
    assert check_new_dates(TODAY + timedelta(days=5), TODAY + timedelta(days=4), TODAY).error_code == "end_date_invalid"  # type: ignore[union-attr]
    late = one_year_after(TODAY) + timedelta(days=1)
    assert check_new_dates(TODAY, late, TODAY).error_code == "end_date_invalid"  # type: ignore[union-attr]
    assert one_year_after(date(2028, 2, 29)) == date(2029, 2, 28)


def price(**kw: object) -> PricedCoverage | NotCoverable:
    args: dict[str, object] = {
        "category_code": "jc_creator",
        "requested_types": ["general", "workers-comp"],
        "job_work_state": "CA",
        "home_state": "TX",
        "effective_date": TODAY + timedelta(days=2),
        "end_date": TODAY + timedelta(days=30),
        "today": TODAY,
    }
    args.update(kw)
    return price_assignment(**args)  # type: ignore[arg-type]


def test_gl_is_rated_by_home_state_and_wc_by_work_state() -> None:
    p = price()
    assert isinstance(p, PricedCoverage)
    assert (p.home_state, p.work_state) == ("TX", "CA")
    assert p.gl_net_rate == rates.net_rate("jc_creator", "TX", "general") == 20
    assert p.wc_net_rate == rates.net_rate("jc_creator", "CA", "workers-comp") == 59
    assert p.net_rate == 79 and p.coverage_types == ["general", "workers-comp"] and p.notes == []


@pytest.mark.parametrize("state", sorted(MONOPOLISTIC_WC_STATES))
def test_workers_comp_is_dropped_where_the_work_state_is_monopolistic(state: str) -> None:
    p = price(job_work_state=state)
    assert isinstance(p, PricedCoverage)
    assert p.coverage_types == ["general"] and p.wc_net_rate == 0 and p.net_rate == p.gl_net_rate
    assert "Workers' compensation is not offered" in p.notes[0]
    # a contractor living there but working elsewhere keeps WC
    q = price(home_state=state, job_work_state="CA")
    assert isinstance(q, PricedCoverage) and q.coverage_types == ["general", "workers-comp"]


def test_remote_work_is_in_the_home_state_and_non_residents_use_the_work_state() -> None:
    p = price(job_work_state=None, home_state="OH")
    assert isinstance(p, PricedCoverage) and p.work_state == "OH" and p.coverage_types == ["general"]
    q = price(home_state=None, job_work_state="NY")
    assert isinstance(q, PricedCoverage) and (q.home_state, q.work_state) == ("NY", "NY")
    assert isinstance(price(home_state=None, job_work_state=None), NotCoverable)


def test_only_wc_in_a_monopolistic_state_cannot_be_covered() -> None:
    assert isinstance(price(requested_types=["workers-comp"], job_work_state="WA"), NotCoverable)


def test_unknown_categories_and_bad_spans_are_not_coverable() -> None:
    assert isinstance(price(category_code="jc_astronaut"), NotCoverable)
    assert isinstance(price(end_date=TODAY + timedelta(days=1)), NotCoverable)  # before the start
    assert isinstance(price(end_date=TODAY + timedelta(days=400)), NotCoverable)
    assert isinstance(price(effective_date=TODAY - timedelta(days=20), end_date=TODAY - timedelta(days=1)), NotCoverable)


def test_an_assignment_that_already_started_is_covered_from_today() -> None:
    p = price(effective_date=TODAY - timedelta(days=3))
    assert isinstance(p, PricedCoverage) and p.effective_date == TODAY and "retroactive" in p.notes[0]


def test_an_empty_request_means_both_types_and_unknown_types_are_noted() -> None:
    p = price(requested_types=[])
    assert isinstance(p, PricedCoverage) and p.coverage_types == ["general", "workers-comp"]
    q = price(requested_types=["general", "professional"])
    assert isinstance(q, PricedCoverage) and q.coverage_types == ["general"] and "professional" in q.notes[0]


# -- signature and phone -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signed", "ok"),
    [
        ("Ada Lovelace", True),
        ("  ada   LOVELACE ", True),
        ("Ada King Lovelace", True),  # a middle name
        ("Ada Lovelce", True),  # a typo
        ("Adá Lovelace.", True),  # accents and punctuation
        ("AdaLovelace", True),
        ("Lovelace", False),
        ("A. L.", False),
        ("Grace Hopper", False),
        ("", False),
    ],
)
def test_the_signature_must_reasonably_match_the_name(signed: str, ok: bool) -> None:
    assert signature_matches(signed, "Ada", "Lovelace") is ok


def test_multi_word_last_names() -> None:
    assert signature_matches("Maria de la Cruz", "Maria", "de la Cruz")
    assert not signature_matches("Maria Cruz Lopez", "Maria", "de la Cruz")


@pytest.mark.parametrize(
    ("phone", "ok"), [("+1 (415) 555-0100", True), ("4155550100", True), ("12345", False), ("call me", False)]
)
def test_phone_numbers(phone: str, ok: bool) -> None:
    assert (phone_problem(phone) is None) is ok


# -- repeat coverage ---------------------------------------------------------------------------


def terms(**kw: object) -> ConfirmedTerms:
    args: dict[str, object] = dict(
        session_id="ias_1", quote_id="qt_1", category_code="jc_creator", coverage_types=("general", "workers-comp"),
        home_state="TX", work_state="CA",
    )  # fmt: skip
    args.update(kw)
    return ConfirmedTerms(**args)  # type: ignore[arg-type]


def test_repeat_coverage_needs_same_types_category_and_the_relevant_states() -> None:
    candidate = price()
    assert isinstance(candidate, PricedCoverage)
    assert matching_terms("jc_creator", candidate, [terms()]) == terms()
    assert matching_terms("jc_model", candidate, [terms()]) is None  # category
    assert matching_terms("jc_creator", candidate, [terms(coverage_types=("general",))]) is None  # types
    assert matching_terms("jc_creator", candidate, [terms(home_state="NY")]) is None  # GL home state
    assert matching_terms("jc_creator", candidate, [terms(work_state="NV")]) is None  # WC work state
    # general only: the work state no longer matters, the home state does
    gl_only = price(requested_types=["general"], job_work_state="NV")
    assert isinstance(gl_only, PricedCoverage)
    assert matching_terms("jc_creator", gl_only, [terms(coverage_types=("general",), work_state="CA")]) is not None
    # the first match (newest) wins
    assert matching_terms("jc_creator", candidate, [terms(home_state="NY"), terms(session_id="ias_2")]).session_id == "ias_2"  # type: ignore[union-attr]


def test_states_list() -> None:
    assert len(US_STATES) == 51 and "DC" in US_STATES and set(US_STATES) >= MONOPOLISTIC_WC_STATES
