"""The PO reminder, three clock-days after an upload whose assignments still lack a PO."""

from __future__ import annotations

from datetime import timedelta

import pytest
from billing_testkit import T0, Driver
from ten99_contracts.billing_v1 import PoReminderDueV1
from ten99_contracts.contractor_v1 import AssignmentCancelledV1

pytestmark = pytest.mark.integration

CO = "co_acme"


async def test_the_po_reminder_is_sent_once_three_days_after_the_upload_and_only_when_pos_are_missing(driver: Driver) -> None:
    await driver.company(CO, owner_email="owner@acme.test")
    await driver.api("PUT", "/v1/settings", CO, {"billing_email": "billing@acme.test"})
    uploaded_at = T0
    # ib_late: two of three assignments still without a PO; ib_done: every PO set in time;
    # ib_gone: the only PO-less assignment was cancelled
    for aid, batch, po in (
        ("an_l1", "ib_late", None),
        ("an_l2", "ib_late", None),
        ("an_l3", "ib_late", "PO-9"),
        ("an_d1", "ib_done", None),
        ("an_g1", "ib_gone", None),
    ):
        await driver.publish(driver.assignment_created(aid, import_batch_id=batch, po_number=po), CO, aggregate_id=aid, version=1)
    for batch, uploader in (("ib_late", "ops@acme.test"), ("ib_done", "ops@acme.test"), ("ib_gone", None)):
        await driver.publish(
            driver.import_completed(batch, uploaded_by=uploader), CO, aggregate_id=batch, occurred_at=uploaded_at
        )
    await driver.publish(driver.po_set("an_d1", "PO-10"), CO, aggregate_id="an_d1", version=2)
    await driver.publish(
        AssignmentCancelledV1(assignment_id="an_g1", contractor_id="cn_g1", reason="client_request", cancelled_at=T0),
        CO,
        aggregate_id="an_g1",
        version=2,
    )
    await driver.wait_applied()

    scheduler = driver.svc.runtime.scheduler
    driver.svc.clock.set(uploaded_at + timedelta(days=3) - timedelta(minutes=1))
    assert (await scheduler.run_due())["po_reminders"] == 0
    assert await driver.published(PoReminderDueV1.SUBJECT) == []

    driver.svc.clock.set(uploaded_at + timedelta(days=3, minutes=1))
    assert (await scheduler.run_due())["po_reminders"] == 1
    driver.svc.clock.set(uploaded_at + timedelta(days=10))
    assert (await scheduler.run_due())["po_reminders"] == 0  # at most once per upload

    [reminder] = await driver.published(PoReminderDueV1.SUBJECT)
    data = reminder.data
    assert reminder.tenant_id == CO
    assert (data.import_batch_id, data.filename, data.uploaded_at) == ("ib_late", "ib_late.csv", uploaded_at)
    assert data.to_emails == ["ops@acme.test", "billing@acme.test"]
    assert sorted(a.assignment_id for a in data.assignments) == ["an_l1", "an_l2"] and data.missing_count == 2
    listed = {a.assignment_id: a for a in data.assignments}
    assert listed["an_l1"].contractor_email == "an_l1@example.com" and listed["an_l1"].job_name == "Photographer"


async def test_the_po_reminder_goes_to_the_owner_when_no_billing_email_is_set_and_the_uploader_is_the_same(
    driver: Driver,
) -> None:
    await driver.company(CO, owner_email="ops@acme.test")
    await driver.publish(driver.assignment_created("an_x", import_batch_id="ib_x"), CO, aggregate_id="an_x", version=1)
    await driver.publish(driver.import_completed("ib_x", uploaded_by="OPS@acme.test"), CO, aggregate_id="ib_x", occurred_at=T0)
    # the same upload reported twice (a repeated business event): still one reminder
    await driver.publish(driver.import_completed("ib_x", uploaded_by="OPS@acme.test"), CO, aggregate_id="ib_x", occurred_at=T0)
    await driver.wait_applied()
    driver.svc.clock.set(T0 + timedelta(days=4))
    await driver.svc.runtime.scheduler.run_due()
    await driver.svc.runtime.scheduler.run_due()
    [reminder] = await driver.published(PoReminderDueV1.SUBJECT)
    assert reminder.data.to_emails == ["OPS@acme.test"]  # uploader and owner are one address
