"""The documented integration, end to end, through the official ``ten99policy`` SDK against the
real stack: entity -> job -> contractor -> quote -> application session -> the contractor completes
the hosted application -> an active policy -> an assignment covered by it -> a usage invoice from
reported pay -> events, and a webhook endpoint whose deliveries carry a Standard Webhooks signature
a real receiver verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import ten99policy
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from ten99_testing import wait_until_sync
from ten99_testing.receiver import WebhookReceiver

from ..e2e.flow import opt_in_form, round_half_up
from .conftest import SdkStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

SUCCESS_URL = "https://platform.sdk.test/applied"
CANCEL_URL = "https://platform.sdk.test/cancelled"

#: what the documented flow made, for the tests of the operations on its objects
FLOW: dict[str, Any] = {}


def _midnight(days_from_today: int) -> int:
    day = datetime.now(UTC).date() + timedelta(days=days_from_today)
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp())


def _make_job_and_contractor() -> tuple[Any, Any, Any]:
    entity = ten99policy.Entities.create(name="SDK Venue")
    assert entity.id.startswith("en_") and entity.name == "SDK Venue"
    job = ten99policy.Jobs.create(
        name="Photographer",
        description="Shoots the spring campaign",
        entity=entity.id,
        category_code="jc_photographer",
        wage=300000,
        wage_type="flatfee",
    )
    assert job.id.startswith("jb_") and job.entity == entity.id
    contractor = ten99policy.Contractors.create(
        first_name="Katherine",
        last_name="Johnson",
        email="katherine@sdk-a.test",
        address={"line1": "3 Orbit Rd", "locality": "Hampton", "region": "CA", "postalcode": "94110"},
    )
    assert contractor.id.startswith("cn_") and contractor.email == "katherine@sdk-a.test"
    return entity, job, contractor


def _quote(contractor: Any, job: Any) -> Any:
    """A quote for general liability and workers' comp, asked at once: while the job or contractor
    made a moment ago is still on its way to enrollment the gateway answers a retryable 409
    resource_not_ready, which the SDK retries (``max_network_retries``, docs/public-api.md)."""
    quote = ten99policy.Quotes.create(contractor=contractor.id, job=job.id, coverage_type=["general", "workers-comp"])
    assert quote.id.startswith("qt_") and quote.eligible is True
    assert sorted(quote.coverage_type) == ["general", "workers-comp"]
    assert quote.gl_net_rate > 0 and quote.wc_net_rate > 0
    assert quote.net_rate == quote.gl_net_rate + quote.wc_net_rate
    assert ten99policy.Quotes.retrieve(quote.id).net_rate == quote.net_rate
    assert [q.id for q in ten99policy.Quotes.list(contractor=contractor.id).data] == [quote.id]
    return quote


def _complete_application(session: Any) -> None:
    """The contractor opens the session's url (the hosted opt-in page, through the gateway),
    fills the form and submits it; the page sends them to the session's success_url."""
    form = opt_in_form(session.url)
    answer = httpx.post(session.url, data=form, timeout=30, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:500]
    assert answer.headers["location"] == SUCCESS_URL


def _active_policy(quote: Any) -> Any:
    def active() -> Any:
        found = ten99policy.Policies.list(quote=quote.id, status="active").data
        return found[0] if found else None

    policy = wait_until_sync(active, timeout=60, what="an active policy for the quote")
    assert policy.id.startswith("pl_") and policy.status == "active"
    assert ten99policy.Policies.retrieve(policy.id).id == policy.id
    # the SDK's update and delete: a 1099Policy error saying how, the policy unchanged
    for refused in (
        lambda: ten99policy.Policies.modify(policy.id, status="cancelled"),
        lambda: ten99policy.Policies.delete(policy.id),
    ):
        with pytest.raises(ten99policy.error.BadRequestError) as raised:
            refused()
        assert raised.value.http_status == 400
    assert ten99policy.Policies.retrieve(policy.id).status == "active"
    return policy


def _verified_delivery(receiver: WebhookReceiver, secret: str, event_type: str) -> dict[str, Any]:
    """The first delivery of ``event_type`` whose Standard Webhooks signature verifies."""

    def delivered() -> dict[str, Any] | None:
        for headers, body in list(receiver.received):
            payload = Webhook(secret).verify(body, headers)
            if payload.get("type") == event_type:
                return dict(payload)
        return None

    return wait_until_sync(delivered, timeout=60, what=f"a signed delivery of {event_type}")


def test_the_documented_flow_through_the_sdk(sdk: SdkStack, receiver: WebhookReceiver) -> None:
    endpoint = ten99policy.Webhooks.create(url=receiver.url, events=["policy.active", "application.complete"])
    assert endpoint.id.startswith("whe_") and endpoint.secret.startswith("whsec_")
    assert "secret" not in ten99policy.Webhooks.retrieve(endpoint.id)  # shown once

    _entity, job, contractor = _make_job_and_contractor()
    quote = _quote(contractor, job)
    session = ten99policy.InsuranceApplicationSessions.create(quote=quote.id, success_url=SUCCESS_URL, cancel_url=CANCEL_URL)
    assert session.id.startswith("ias_") and session.url.startswith(sdk.gateway + "/opt-in/")
    assert (session.success_url, session.cancel_url) == (SUCCESS_URL, CANCEL_URL)
    _complete_application(session)
    policy = _active_policy(quote)
    assert ten99policy.InsuranceApplicationSessions.retrieve(session.id).status == "complete"
    assert [p.id for p in ten99policy.ContractorPolicies.list(contractor.id).data] == [policy.id]

    begin = _midnight(3)
    assignment = ten99policy.Assignments.create(
        contractor=contractor.id, job=job.id, effective_date=begin, end_date=begin + 9 * 86400
    )
    assert assignment.id.startswith("an_")

    covered_assignment = wait_until_sync(
        lambda: ten99policy.Assignments.retrieve(assignment.id),
        satisfies=lambda found: bool(found.get("eligible") and found.eligible["result"] and found.get("policy")),
        timeout=60,
        what="the assignment eligible and covered",
    )
    assert covered_assignment.policy == policy.id or covered_assignment.policy["id"] == policy.id

    # the coverage is bound (the policy service says so): billing may hear of it a moment later, a
    # retryable 409 resource_not_ready until then, which the SDK retries
    invoice = ten99policy.Invoices.create(
        contractor=contractor.id,
        job=job.id,
        gross_pay=123456,
        paycycle_startdate=_midnight(0),
        paycycle_enddate=begin + 9 * 86400,
    )
    assert invoice.id.startswith("in_") and invoice.gross_pay == 123456
    assert invoice.premium_due == max(100, round_half_up(123456 * quote.net_rate, 10_000))
    assert ten99policy.Invoices.retrieve(invoice.id).premium_due == invoice.premium_due
    assert invoice.id in [i.id for i in ten99policy.Invoices.list(contractor=contractor.id).data]
    FLOW.update(invoice=invoice, quote=quote, contractor=contractor, job=job)

    # the tier's other tests make events of company A too: this flow's are about its own objects
    ours = {policy.id, session.id, contractor.id}

    def events_of(kind: str) -> list[Any]:
        found = ten99policy.Events.list(type=kind, limit=100).data
        return [e for e in found if e.type == kind and e.data.object.id in ours]

    for kind in ("policy.active", "application.complete", "contractor.created"):
        [event] = wait_until_sync(lambda kind=kind: events_of(kind), satisfies=bool, timeout=60, what=f"a {kind} event")
        assert event.id.startswith("ev_")
        again = ten99policy.Events.retrieve(event.id)
        assert again.type == kind and json.dumps(again.data.to_dict_recursive()) == json.dumps(event.data.to_dict_recursive())
    [active] = events_of("policy.active")
    assert active.data.object.id == policy.id

    delivered = _verified_delivery(receiver, endpoint.secret, "policy.active")
    assert delivered["id"] == active.id and delivered["data"]["object"]["id"] == policy.id
    _verified_delivery(receiver, endpoint.secret, "application.complete")
    # a body changed in transit does not verify
    headers, body = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body + b" ", headers)


def test_a_usage_invoice_is_repriced_and_deleted(sdk: SdkStack) -> None:
    """1099Policy's invoices are updated (a new gross pay re-prices) and deleted while unpaid; the
    SDK offers ``Invoices.modify`` and ``Invoices.delete``."""
    assert FLOW, "the documented flow made no invoice"
    invoice, quote = FLOW["invoice"], FLOW["quote"]
    repriced = ten99policy.Invoices.modify(invoice.id, gross_pay=200000)
    assert repriced.gross_pay == 200000
    assert repriced.premium_due == max(100, round_half_up(200000 * quote.net_rate, 10_000))
    deleted = ten99policy.Invoices.delete(repriced.id)
    assert deleted.deleted is True
    assert ten99policy.Invoices.retrieve(repriced.id).status == "void"
