"""Usage invoices (1099Policy's ``POST /invoices``): premium from reported gross pay at the net rate
of the contractor's coverage for the job, each error, idempotent create, filters, void, re-pricing,
tenant isolation; the enterprise invoices beside them untouched."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from billing_testkit import END, START, Driver
from ten99_contracts import Address, EntitySnapshot, QuotedCoverage
from ten99_contracts.contractor_v1 import ContractorRegisteredV1, JobDeletedV1, JobUpsertedV1
from ten99_contracts.enrollment_v1 import ApplicationCompletedV1, Consent
from ten99kit.clock import epoch

pytestmark = pytest.mark.integration

CO = "co_usage"
OTHER = "co_other"
ADA = "an_ada"  # the driver's assignment: contractor cn_ada, job jb_ada
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
#: a pay cycle inside ada's coverage (START..END)
CYCLE = {"paycycle_startdate": epoch(START), "paycycle_enddate": epoch(date(2026, 11, 29)) + 86_399}


def job_upserted(job_id: str, po: str | None) -> JobUpsertedV1:
    return JobUpsertedV1(
        job_id=job_id,
        name="Photographer",
        description="Photos",
        entity=EntitySnapshot(entity_id="en_nike", name="Nike"),
        category_code="jc_photographer",
        wage_cents=5000,
        wage_type="hourly",
        purchase_order_number=po,
        custom_metadata={"purchase_order_number": po} if po else {},
    )


def quote_completion(contractor_id: str, job_id: str, quote_id: str, net_rate: int) -> ApplicationCompletedV1:
    return ApplicationCompletedV1(
        session_id="ias_01JQUOTEONLY0000000000000",
        contractor_id=contractor_id,
        first_name="Quinn",
        last_name="Quote",
        email="quinn@example.com",
        address=Address(line1="1 Main St", locality="Oakland", region="CA", postalcode="94607"),
        consent=Consent(signed_name="Quinn Quote", signed_at=NOW, text_version="v1"),
        assignments=[],
        quote=QuotedCoverage(
            quote_id=quote_id,
            job_id=job_id,
            category_code="jc_photographer",
            coverage_types=["general", "workers-comp"],
            home_state="CA",
            work_state="CA",
            effective_date=START,
            end_date=END,
            net_rate=net_rate,
            gl_net_rate=23,
            wc_net_rate=net_rate - 23,
        ),
    )


async def _world(driver: Driver) -> None:
    """ada: covered on jb_ada at 173 (an assignment), the job's PO is PO-77; bob: registered,
    covered nowhere; quinn: a quote of jb_quinn bound without an assignment at 82."""
    await driver.company(CO)
    await driver.billable(CO, ADA, None, net_rate=173)
    await driver.billable(CO, "an_half", None, net_rate=50)
    await driver.publish(job_upserted("jb_ada", "PO-77"), CO, aggregate_id="jb_ada", version=1)
    await driver.publish(job_upserted("jb_ada", "PO-OLD"), CO, aggregate_id="jb_ada", version=0)  # older: ignored
    await driver.publish(ContractorRegisteredV1(contractor_id="cn_bob", first_name="Bob", last_name="B", email="b@x.test"), CO)
    await driver.publish(quote_completion("cn_quinn", "jb_quinn", "qt_quinn", 82), CO)
    await driver.wait_applied()
    driver.svc.clock.set(NOW)


async def _create(driver: Driver, tenant: str | None, body: dict[str, Any], expect: int = 201, **headers: str) -> Any:
    response = await driver.svc.client.post(
        "/v1/invoices", json=body, headers={**({"x-tenant-id": tenant} if tenant else {}), **headers}
    )
    assert response.status_code == expect, response.text
    return response.json()


def body(contractor: str = "cn_ada", job: str = "jb_ada", gross_pay: int = 250_000, **extra: Any) -> dict[str, Any]:
    return {"contractor": contractor, "job": job, "gross_pay": gross_pay, **CYCLE, **extra}


async def test_usage_invoice_premium_rounding_po_and_every_refusal(driver: Driver) -> None:
    await _world(driver)
    invoice = await _create(driver, CO, body())
    assert (invoice["object"], invoice["kind"], invoice["status"]) == ("invoice", "usage", "open")
    assert invoice["id"].startswith("in_")
    assert (invoice["gross_pay"], invoice["net_rate"], invoice["premium_due"]) == (250_000, 173, 4325)
    assert (invoice["contractor"], invoice["job"]) == ("cn_ada", "jb_ada")
    assert (invoice["paycycle_startdate"], invoice["paycycle_enddate"]) == (
        CYCLE["paycycle_startdate"],
        CYCLE["paycycle_enddate"],
    )
    assert invoice["purchase_order_number"] == "PO-77"  # the job's default (the older upsert was ignored)
    assert await driver.invoice(CO, invoice["id"]) == invoice

    def cycle(day: int) -> dict[str, int]:
        return {"paycycle_startdate": epoch(date(2026, 11, day)), "paycycle_enddate": epoch(date(2026, 11, day)) + 3600}

    explicit = await _create(driver, CO, {**body(), **cycle(24), "purchase_order_number": "PO-9"})
    cleared = await _create(driver, CO, {**body(), **cycle(25), "purchase_order_number": ""})
    assert (explicit["purchase_order_number"], cleared["purchase_order_number"]) == ("PO-9", None)
    rounded = await _create(driver, CO, {**body(gross_pay=12_345), **cycle(26)})
    assert rounded["premium_due"] == 214  # 12,345 x 173 / 10,000 = 213.57
    minimum = await _create(driver, CO, {**body(gross_pay=100), **cycle(27)})
    assert minimum["premium_due"] == 100  # 1.73 cents: the 100-cent minimum
    half = await _create(driver, CO, body("cn_half", "jb_half", gross_pay=1_000_100))
    assert (half["net_rate"], half["premium_due"]) == (50, 5001)  # 5000.5: half up
    quoted = await _create(driver, CO, body("cn_quinn", "jb_quinn"))
    assert (quoted["net_rate"], quoted["premium_due"]) == (82, 2050)  # the quote bound as priced

    refusals = [
        (body(gross_pay=99), "invalid_input"),
        (body(gross_pay=100_000_001), "invalid_input"),
        (body(gross_pay="12"), "invalid_input"),
        (body("cn_nobody"), "invalid_contractor_id"),
        (body(job="jb_nothing"), "invalid_job_id"),
        (body("cn_bob"), "no_active_policy"),  # known, but covered on no job
        (body("cn_ada", "jb_quinn"), "no_active_policy"),  # a job ada is not covered on
        ({**body(), **cycle(2)}, "no_active_policy"),  # before ada's coverage starts
        ({**body(), "paycycle_startdate": epoch(NOW) + 86_400}, "invalid_paycycle_startdate"),
        ({**body(), "paycycle_startdate": -5}, "invalid_paycycle_startdate"),
        ({**body(), "paycycle_enddate": CYCLE["paycycle_startdate"] - 1}, "invalid_paycycle_enddate"),
        ({**body(), "paycycle_enddate": CYCLE["paycycle_startdate"] + 400 * 86_400}, "invalid_paycycle_enddate"),
        (body(gross_pay=1), "invalid_input"),
        (body(), "invoice_exists"),  # the same contractor, job and cycle
    ]
    for wrong, code in refusals:
        answer = await _create(driver, CO, wrong, expect=400)
        assert answer["error_code"] == code, (wrong, answer)
        assert answer["message"]
    assert len(await driver.invoices(CO, kind="usage")) == 7  # the refusals created nothing

    # a deleted job takes no more invoices
    await driver.publish(JobDeletedV1(job_id="jb_quinn"), CO, aggregate_id="jb_quinn", version=5)
    await driver.wait_applied()
    assert (await _create(driver, CO, {**body("cn_quinn", "jb_quinn"), **cycle(24)}, expect=400))[
        "error_code"
    ] == "invalid_job_id"


async def test_usage_invoices_keyed_listed_voided_repriced_and_kept_per_company(driver: Driver) -> None:
    await _world(driver)
    key = {"x-ten99-idempotency-key": "retry-1"}
    first = await _create(driver, CO, body(), **key)
    again = await _create(driver, CO, body(), **key)  # a retry of the same request: the same invoice
    assert again == first
    half = await _create(driver, CO, body("cn_half", "jb_half"))

    # lists: usage invoices by kind, contractor, job, status; the enterprise list is as it was
    assert [i["id"] for i in await driver.invoices(CO, kind="usage")] == [half["id"], first["id"]]
    assert [i["id"] for i in await driver.invoices(CO, contractor="cn_ada")] == [first["id"]]
    assert [i["id"] for i in await driver.invoices(CO, job="jb_half", status="open")] == [half["id"]]
    assert await driver.invoices(CO) == []  # no enterprise invoice (no PO on the assignments)
    for params in ({"kind": "usage", "status": "unpaid"}, {"kind": "mine"}, {"kind": "enterprise", "contractor": "cn_ada"}):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        assert (await driver.api("GET", f"/v1/invoices?{query}", CO, expect=400)).json()["error_code"] == "invalid_input"

    # re-priced in place while open; the PO kept unless given
    repriced = (await driver.api("PUT", f"/v1/invoices/{first['id']}", CO, {"gross_pay": 500_000})).json()
    assert (repriced["id"], repriced["premium_due"], repriced["purchase_order_number"]) == (first["id"], 8650, "PO-77")
    bad = await driver.api("PUT", f"/v1/invoices/{first['id']}", CO, {"gross_pay": 50}, expect=400)
    assert bad.json()["error_code"] == "invalid_input"

    # paid: no edit, no void
    paid = (await driver.api("POST", f"/v1/invoices/{first['id']}/mark-paid", CO)).json()
    assert paid["status"] == "paid" and paid["paid_at"] >= epoch(NOW)
    for method, path, payload in (
        ("PUT", "", {"gross_pay": 300_000}),
        ("POST", "/void", {"reason": "mistake"}),
        ("POST", "/mark-paid", None),
        ("DELETE", "", None),
    ):
        refused = await driver.api(method, f"/v1/invoices/{first['id']}{path}", CO, payload, expect=400)
        assert refused.json()["error_code"] == "invoice_already_paid", (method, path)

    # void: then refused to change; the cycle may be invoiced anew
    voided = (await driver.api("POST", f"/v1/invoices/{half['id']}/void", CO, {"reason": "wrong hours"})).json()
    assert (voided["status"], voided["void_reason"]) == ("void", "wrong hours")
    assert (await driver.api("POST", f"/v1/invoices/{half['id']}/void", CO, {"reason": "x"}, expect=400)).json()[
        "error_code"
    ] == "invoice_void"
    assert [i["id"] for i in await driver.invoices(CO, kind="usage", status="void")] == [half["id"]]
    replacement = await _create(driver, CO, body("cn_half", "jb_half", gross_pay=200_000))
    deleted = (await driver.api("DELETE", f"/v1/invoices/{replacement['id']}", CO)).json()
    assert deleted == {"id": replacement["id"], "object": "invoice", "deleted": True}
    assert (await driver.invoice(CO, replacement["id"]))["status"] == "void"

    # another company sees none of it and cannot invoice our contractor
    assert (await driver.api("GET", f"/v1/invoices/{first['id']}", OTHER, expect=404)).json()["error_code"] == (
        "invalid_invoice_id"
    )
    assert await driver.invoices(OTHER, kind="usage") == []
    assert await driver.invoices(OTHER, contractor="cn_ada") == []
    assert (await _create(driver, OTHER, body(), expect=400))["error_code"] == "invalid_contractor_id"
    await driver.api("POST", f"/v1/invoices/{half['id']}/void", OTHER, {"reason": "x"}, expect=404)
    await driver.api("PUT", f"/v1/invoices/{half['id']}", OTHER, {"gross_pay": 300_000}, expect=404)
    # the same key in another company is another request
    assert (await _create(driver, OTHER, body(), expect=400, **key))["error_code"] == "invalid_contractor_id"


async def test_both_kinds_in_one_list_newest_first(driver: Driver) -> None:
    await _world(driver)
    await driver.billable(CO, "an_po", "PO-1")
    await driver.issue_now()
    [enterprise] = await driver.wait_invoices(CO, 1)
    first = await _create(driver, CO, body())
    second = await _create(driver, CO, body("cn_half", "jb_half"))

    both = await driver.invoices(CO, kind="all")
    assert [(i["id"], i["kind"]) for i in both] == [
        (second["id"], "usage"),
        (first["id"], "usage"),
        (enterprise["id"], "enterprise"),
    ]
    assert both[2] == enterprise and both[0] == second  # each in its own shape
    page = (await driver.api("GET", "/v1/invoices?kind=all&limit=2", CO)).json()
    assert page["has_more"] is True and [i["id"] for i in page["data"]] == [second["id"], first["id"]]
    rest = (await driver.api("GET", f"/v1/invoices?kind=all&limit=2&starting_after={first['id']}", CO)).json()
    assert rest["has_more"] is False and [i["id"] for i in rest["data"]] == [enterprise["id"]]
    await driver.api("POST", f"/v1/invoices/{first['id']}/void", CO, {"reason": "wrong"})
    assert [i["id"] for i in await driver.invoices(CO, kind="all", status="void")] == [first["id"]]
    assert await driver.invoices(OTHER, kind="all") == []
    # a contractor filter lists usage invoices: `all` (the public API's default) is them, `enterprise` is refused
    by_contractor = (await driver.api("GET", "/v1/invoices?kind=all&contractor=cn_ada", CO)).json()["data"]
    assert by_contractor and all(i["kind"] == "usage" and i["contractor"] == "cn_ada" for i in by_contractor)
    r = await driver.api("GET", "/v1/invoices?kind=enterprise&contractor=cn_ada", CO, expect=400)
    assert r.json()["error_code"] == "invalid_input"
