"""Every resource and operation of the official ``ten99policy`` SDK against the real stack:
create, retrieve, list, update (``modify`` and ``save``) and delete where the SDK offers them,
pagination, errors as the SDK's exception classes, tenant isolation and idempotency."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import ten99policy
from standardwebhooks import Webhook
from ten99_testing import wait_until_sync
from ten99_testing.receiver import WebhookReceiver
from ten99policy import error

from ..e2e.flow import opt_in_form
from .conftest import SdkStack, as_company

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

#: a well-formed id of nothing, per prefix (22 base-62 characters, as `ten99kit.ids.new_id`)
NOBODY = "0" * 22


def _midnight(days_from_today: int) -> int:
    day = datetime.now(UTC).date() + timedelta(days=days_from_today)
    return int(datetime.combine(day, datetime.min.time(), UTC).timestamp())


def _job(entity_id: str, name: str = "Stagehand") -> Any:
    return ten99policy.Jobs.create(
        name=name,
        description="Sets up the stage",
        entity=entity_id,
        category_code="jc_model",
        wage=250000,
        wage_type="flatfee",
    )


def _contractor(email: str) -> Any:
    return ten99policy.Contractors.create(
        first_name="Grace",
        last_name="Hopper",
        email=email,
        address={"line1": "1 Main St", "locality": "Springfield", "region": "NY", "postalcode": "10001"},
    )


def _gone(retrieve: Callable[[], Any], kind: type[Exception]) -> None:
    with pytest.raises(kind):
        retrieve()


def test_entities_jobs_contractors_create_retrieve_list_update_delete(sdk: SdkStack) -> None:
    entity = ten99policy.Entities.create(name="CRUD venue")
    assert ten99policy.Entities.retrieve(entity.id).name == "CRUD venue"
    assert ten99policy.Entities.modify(entity.id, name="CRUD venue 2").name == "CRUD venue 2"
    fetched = ten99policy.Entities.retrieve(entity.id)
    fetched.name = "CRUD venue 3"
    fetched.save()  # the SDK's instance update: a PUT of the changed fields
    assert ten99policy.Entities.retrieve(entity.id).name == "CRUD venue 3"
    assert entity.id in [e.id for e in ten99policy.Entities.list(limit=100).data]

    job = _job(entity.id)
    assert ten99policy.Jobs.modify(job.id, name="Lighting").name == "Lighting"
    assert [j.id for j in ten99policy.Jobs.list(entity=entity.id).data] == [job.id]
    person = _contractor("crud@sdk-a.test")
    assert ten99policy.Contractors.modify(person.id, first_name="Ada").first_name == "Ada"
    assert [c.id for c in ten99policy.Contractors.list(email="crud@sdk-a.test").data] == [person.id]

    ten99policy.Jobs.delete(job.id)
    _gone(lambda: ten99policy.Jobs.retrieve(job.id), error.InvalidJobIdError)
    ten99policy.Contractors.delete(person.id)
    _gone(lambda: ten99policy.Contractors.retrieve(person.id), error.InvalidContractorIdError)
    ten99policy.Entities.retrieve(entity.id).delete()  # the instance variant
    _gone(lambda: ten99policy.Entities.retrieve(entity.id), error.InvalidEntityIdError)


def _cache_hits(sdk: SdkStack) -> float:
    with sdk.system.ops_client("gateway") as ops:
        text = ops.get("/metrics").text
    line = next((x for x in text.splitlines() if x.startswith('ten99_api_cache_lookups_total{outcome="hit"}')), None)
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def test_a_change_made_behind_the_gateway_reaches_the_retrieve_it_keeps(sdk: SdkStack) -> None:
    """The gateway keeps a contractor's answer (up to 60 s in these tiers: `whole_system`) and drops
    it when the contractor service announces a change: a change the gateway did not carry (another
    replica, a CSV import, the portal) shows once its message arrives, long before the answer expires."""
    person = _contractor("behind@sdk-a.test")
    hits = _cache_hits(sdk)
    assert ten99policy.Contractors.retrieve(person.id).last_name == "Hopper"
    assert ten99policy.Contractors.retrieve(person.id).last_name == "Hopper"
    assert _cache_hits(sdk) >= hits + 1  # the second retrieve was answered by the gateway alone
    with sdk.system.client("contractor", tenant_id=sdk.a.company_id) as contractor_service:
        changed = contractor_service.put(f"/v1/contractors/{person.id}", json={"last_name": "King"})
        assert changed.status_code == 200, changed.text
    wait_until_sync(
        lambda: ten99policy.Contractors.retrieve(person.id).last_name,
        satisfies=lambda name: name == "King",
        timeout=30,
        what="the retrieve showing the change made behind the gateway",
    )
    # and through the gateway: read after write at once
    assert ten99policy.Contractors.modify(person.id, last_name="Lovelace").last_name == "Lovelace"
    assert ten99policy.Contractors.retrieve(person.id).last_name == "Lovelace"


def test_job_categories_list_and_retrieve(sdk: SdkStack) -> None:
    page = ten99policy.JobCategories.list(limit=100)
    ids = [c.id for c in page.data]
    assert "jc_photographer" in ids and all(i.startswith("jc_") for i in ids)
    assert ten99policy.JobCategories.retrieve("jc_photographer").id == "jc_photographer"
    _gone(lambda: ten99policy.JobCategories.retrieve("jc_no_such_category"), error.Ten99PolicyError)


def test_assignments_quotes_sessions_update_and_delete(sdk: SdkStack) -> None:
    entity = ten99policy.Entities.create(name="Assignment venue")
    job = _job(entity.id, "Rigger")
    person = _contractor("rigger@sdk-a.test")
    begin = _midnight(5)
    work = ten99policy.Assignments.create(contractor=person.id, job=job.id, effective_date=begin, end_date=begin + 86400 * 4)
    assert [a.id for a in ten99policy.Assignments.list(job=job.id).data] == [work.id]
    moved = ten99policy.Assignments.modify(work.id, end_date=begin + 86400 * 6)
    assert moved.end_date == begin + 86400 * 6

    quote = ten99policy.Quotes.create(contractor=person.id, job=job.id)  # the SDK retries a 409 resource_not_ready
    general = ten99policy.Quotes.modify(quote.id, coverage_type=["general"])
    assert general.coverage_type == ["general"] and general.wc_net_rate == 0
    assert general.net_rate == general.gl_net_rate
    session = ten99policy.InsuranceApplicationSessions.create(quote=quote.id)
    changed = ten99policy.InsuranceApplicationSessions.modify(session.id, success_url="https://sdk.test/done")
    assert changed.success_url == "https://sdk.test/done"
    assert session.id in [s.id for s in ten99policy.InsuranceApplicationSessions.list(limit=100).data]
    ten99policy.Assignments.delete(work.id)
    gone = ten99policy.Assignments.list(job=job.id).data
    assert all(a.id != work.id or a.status == "cancelled" for a in gone)


def test_webhook_endpoints_create_update_delete(sdk: SdkStack) -> None:
    made = ten99policy.Webhooks.create(url="https://hooks.sdk.test/a", events=["invoice.paid"])
    assert made.secret.startswith("whsec_")
    off = ten99policy.Webhooks.modify(made.id, status="disabled", events=["invoice.paid", "invoice.voided"])
    assert off.status == "disabled" and sorted(off.events) == ["invoice.paid", "invoice.voided"]
    assert "secret" not in off
    assert made.id in [w.id for w in ten99policy.Webhooks.list(limit=100).data]
    ten99policy.Webhooks.delete(made.id)
    _gone(lambda: ten99policy.Webhooks.retrieve(made.id), error.InvalidWebhookEndpointIdError)


def test_policy_create_update_delete_answer_the_documented_errors_and_change_nothing(sdk: SdkStack) -> None:
    """The SDK's generated classes offer create, update and delete on policies. ten99 binds a policy
    when the contractor completes the hosted application (1099Policy's direct bind is its custom
    application mode: ``custom_applications_disabled``); an unknown policy is ``invalid_policy_id``.
    A real policy's update and delete are refused in `test_flow` (docs/public-api.md, "Policies")."""
    before = [p.id for p in ten99policy.Policies.list(limit=100).data]
    with pytest.raises(error.CustomApplicationsDisabledError) as raised:
        ten99policy.Policies.create(quote="qt_" + NOBODY)
    assert raised.value.http_status == 403 and "apply/sessions" in str(raised.value)
    for call in (
        lambda: ten99policy.Policies.modify("pl_" + NOBODY, status="cancelled"),
        lambda: ten99policy.Policies.delete("pl_" + NOBODY),
    ):
        with pytest.raises(error.InvalidPolicyIdError) as gone:
            call()
        assert gone.value.http_status == 404
    assert [p.id for p in ten99policy.Policies.list(limit=100).data] == before


def test_pagination_over_more_than_one_page(sdk: SdkStack) -> None:
    made = [ten99policy.Entities.create(name=f"Page venue {i}").id for i in range(12)]
    first = ten99policy.Entities.list(limit=5)
    assert len(first.data) == 5 and first.has_more is True and first.object == "list"
    seen = [e.id for e in first.data]
    page = first
    while page.has_more:
        page = ten99policy.Entities.list(limit=5, starting_after=page.data[-1].id)
        seen += [e.id for e in page.data]
    assert len(seen) == len(set(seen)) and set(made) <= set(seen)
    newest_first = [i for i in seen if i in made]
    assert newest_first == list(reversed(made))

    # backwards from the last page: ending_before (the SDK's previous_page)
    back = ten99policy.Entities.list(limit=5, ending_before=seen[-5])
    assert [e.id for e in back.data] == seen[-10:-5] and back.has_more is True

    # the SDK's own iteration (next_page follows has_more with starting_after)
    listing = ten99policy.Entities.list(limit=5)
    listing._retrieve_params = {"limit": 5}  # ListableAPIResource.list does not keep its params (SDK 1.1.12)
    assert [e.id for e in listing.auto_paging_iter()] == seen


def test_errors_are_the_sdk_exception_classes(sdk: SdkStack) -> None:
    unknown = {
        ten99policy.Contractors: ("cn", error.InvalidContractorIdError),
        ten99policy.Entities: ("en", error.InvalidEntityIdError),
        ten99policy.Jobs: ("jb", error.InvalidJobIdError),
        ten99policy.Quotes: ("qt", error.InvalidQuoteIdError),
        ten99policy.InsuranceApplicationSessions: ("ias", error.InvalidSessionIdError),
        ten99policy.Policies: ("pl", error.InvalidPolicyIdError),
        ten99policy.Assignments: ("an", error.InvalidAssignmentIdError),
        ten99policy.Invoices: ("in", error.InvalidInvoiceIdError),
        ten99policy.Events: ("ev", error.InvalidEventIdError),
        ten99policy.Webhooks: ("whe", error.InvalidWebhookEndpointIdError),
    }
    wrong = []
    for resource, (prefix, kind) in unknown.items():
        for bad in (f"{prefix}_{NOBODY}", "not-an-id"):
            try:
                resource.retrieve(bad)
                wrong.append((bad, "found"))
            except error.Ten99PolicyError as e:
                if type(e) is not kind or e.http_status != 404:
                    wrong.append((bad, type(e).__name__, e.http_status))
    assert wrong == []
    with pytest.raises(error.InvalidInputError) as raised:
        ten99policy.Contractors.create(first_name="No", last_name="Email", email="not-an-email")
    assert raised.value.http_status == 400
    with pytest.raises(error.InvalidInputError):
        ten99policy.Entities.list(limit=0)
    with pytest.raises(error.Ten99PolicyError) as raised:
        ten99policy.Entities.list(api_key="t9sk_live_not-a-key")
    assert raised.value.http_status == 401


def test_a_second_company_sees_none_of_the_first_companys_objects(sdk: SdkStack) -> None:
    entity = ten99policy.Entities.create(name="A's private venue")
    job = _job(entity.id, "A's job")
    person = _contractor("private@sdk-a.test")
    hook = ten99policy.Webhooks.create(url="https://hooks.sdk.test/private")
    mine = {entity.id, job.id, person.id, hook.id}
    with as_company(sdk.b):
        for resource in (
            ten99policy.Entities,
            ten99policy.Jobs,
            ten99policy.Contractors,
            ten99policy.Webhooks,
            ten99policy.Quotes,
            ten99policy.InsuranceApplicationSessions,
            ten99policy.Policies,
            ten99policy.Assignments,
            ten99policy.Invoices,
            ten99policy.Events,
        ):
            assert not mine & {o.id for o in resource.list(limit=100).data}, resource
        _gone(lambda: ten99policy.Entities.retrieve(entity.id), error.InvalidEntityIdError)
        _gone(lambda: ten99policy.Jobs.retrieve(job.id), error.InvalidJobIdError)
        _gone(lambda: ten99policy.Contractors.retrieve(person.id), error.InvalidContractorIdError)
        _gone(lambda: ten99policy.Webhooks.retrieve(hook.id), error.InvalidWebhookEndpointIdError)
        _gone(lambda: ten99policy.Entities.modify(entity.id, name="Mallory's"), error.InvalidEntityIdError)
        _gone(lambda: ten99policy.Contractors.delete(person.id), error.InvalidContractorIdError)
        _gone(lambda: ten99policy.Webhooks.delete(hook.id), error.InvalidWebhookEndpointIdError)
        assert ten99policy.Jobs.list(entity=entity.id).data == []
    assert ten99policy.Entities.retrieve(entity.id).name == "A's private venue"
    assert ten99policy.Contractors.retrieve(person.id).email == "private@sdk-a.test"
    assert ten99policy.Webhooks.retrieve(hook.id).status == "enabled"


def test_the_same_idempotency_key_replays_the_first_answer(sdk: SdkStack) -> None:
    """The SDK sends ``idempotency_key=`` as ``Ten99Policy-Idempotent-Key`` (and a fresh random
    ``Idempotency-Key`` on every POST/PUT, which must not defeat it)."""
    key = str(uuid.uuid4())
    first = ten99policy.Entities.create(name="Idempotent venue", idempotency_key=key)
    again = ten99policy.Entities.create(name="Idempotent venue", idempotency_key=key)
    assert again.id == first.id
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    named = [e for e in ten99policy.Entities.list(limit=100).data if e.name == "Idempotent venue"]
    assert [e.id for e in named] == [first.id]
    with pytest.raises(error.Ten99PolicyError) as raised:
        ten99policy.Entities.create(name="Another venue", idempotency_key=key)
    assert raised.value.http_status == 409
    assert not [e for e in ten99policy.Entities.list(limit=100).data if e.name == "Another venue"]
    # without a key, two creates are two objects
    two = {ten99policy.Entities.create(name="Twice venue").id for _ in range(2)}
    assert len(two) == 2


def test_an_ineligible_applicant_is_sent_to_the_cancel_url_and_gets_no_policy(sdk: SdkStack) -> None:
    entity = ten99policy.Entities.create(name="Ineligible venue")
    job = _job(entity.id, "Diver")
    person = _contractor("risky@sdk-a.test")

    quote = ten99policy.Quotes.create(contractor=person.id, job=job.id)  # the SDK retries a 409 resource_not_ready
    session = ten99policy.InsuranceApplicationSessions.create(
        quote=quote.id, success_url="https://sdk.test/ok", cancel_url="https://sdk.test/no"
    )
    answer = httpx.post(session.url, data=opt_in_form(session.url, eligible=False), timeout=30)
    assert answer.status_code == 303 and answer.headers["location"] == "https://sdk.test/no", answer.text[:300]
    assert ten99policy.InsuranceApplicationSessions.retrieve(session.id).status == "ineligible"
    assert ten99policy.Policies.list(quote=quote.id).data == []
    assert ten99policy.Policies.list(contractor=person.id).data == []


def test_a_rotated_webhook_secret_and_the_old_one_both_verify_for_a_day(sdk: SdkStack, receiver: WebhookReceiver) -> None:
    """``POST /webhook_endpoints/{id}/rotate_secret`` (the SDK has no method for it): a new secret
    shown once; deliveries carry both signatures for 24 h, so a receiver on either verifies."""
    made = ten99policy.Webhooks.create(url=receiver.url, events=["contractor.created"])
    r = httpx.post(
        f"{sdk.gateway}/api/v1/webhook_endpoints/{made.id}/rotate_secret",
        headers={"Authorization": f"Bearer {sdk.a.api_key}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made.secret
    assert rotated["previous_secret_expires"] > int(datetime.now(UTC).timestamp())
    assert "secret" not in ten99policy.Webhooks.retrieve(made.id)
    person = _contractor("rotated@sdk-a.test")

    def signed() -> tuple[Any, bytes] | None:
        for headers, body in list(receiver.received):
            if json.loads(body)["data"]["object"]["id"] == person.id:
                return headers, body
        return None

    headers, body = wait_until_sync(signed, timeout=60, what="the contractor.created delivery")
    for secret in (rotated["secret"], made.secret):
        assert Webhook(secret).verify(body, headers)["type"] == "contractor.created"
    with as_company(sdk.b), pytest.raises(error.InvalidWebhookEndpointIdError):  # nor can another company see it
        ten99policy.Webhooks.retrieve(made.id)
    r = httpx.post(
        f"{sdk.gateway}/api/v1/webhook_endpoints/{made.id}/rotate_secret",
        headers={"Authorization": f"Bearer {sdk.b.api_key}"},
        timeout=30,
    )
    assert (r.status_code, r.json()["error_code"]) == (404, "invalid_webhook_endpoint_id")
    ten99policy.Webhooks.delete(made.id)
