"""CSV exports of contractors and of assignments with coverage: every row of the company (read in
keyset pages, more than one here), no other company's, tax ids masked, and cells a spreadsheet
would run as formulas neutralised with a leading apostrophe."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from contractor.application.exports import neutralise
from contractor_testkit import ADDRESS, OTHER_TENANT, TENANT, make_assignment, make_contractor, make_entity, make_job
from ten99_contracts.policy_v1 import CoverageBoundV1
from ten99_testing import wait_until
from ten99_testing.service import RunningService
from test_po_and_roster import _terms

pytestmark = pytest.mark.integration


def rows_of(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Ada = fine", "Ada = fine"),
        ("", ""),
        (None, ""),
    ],
)
def test_neutralise(value: Any, cell: str) -> None:
    assert neutralise(value) == cell


async def test_exports_are_the_company_s_rows_masked_and_neutralised(svc: RunningService, stream: Any) -> None:
    c = svc.client
    job = await make_job(svc, (await make_entity(svc, name="=Nike"))["id"], name="@Photographer")
    evil = await make_contractor(
        svc, email="evil@example.com", first_name="=cmd|'/c calc'!A1", last_name="+Lovelace", tax_identification="123-45-6789"
    )
    a_evil = await make_assignment(svc, evil["id"], job["id"], po_number="-PO-1", campaign="=1+1")
    many = [await make_contractor(svc, email=f"p{i}@example.com", first_name=f"P{i:03d}") for i in range(120)]
    for p in many[:105]:
        await make_assignment(svc, p["id"], job["id"])
    await stream.publish(CoverageBoundV1(terms=_terms(evil["id"], a_evil["id"])))

    other = dict(c.headers)
    other["x-tenant-id"] = OTHER_TENANT
    e = (await c.post("/v1/entities", headers=other, json={"name": "Adidas"})).json()
    theirs = (
        await c.post(
            "/v1/contractors",
            headers=other,
            json={
                "first_name": "Other",
                "last_name": "Co",
                "email": "secret@other.test",
                "phone": "+14155550109",
                "address": ADDRESS,
            },
        )
    ).json()
    assert "id" in theirs and "id" in e

    async def bound() -> bool:
        r = (await c.get(f"/v1/assignments/{a_evil['id']}")).json()
        return bool(r["coverage_status"] != "not_bound")

    await wait_until(bound)

    got = await c.get("/v1/exports/contractors.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert 'filename="contractors.csv"' in got.headers["content-disposition"]
    people = rows_of(got.content)
    assert len(people) == 121 and len({p["Contractor ID"] for p in people}) == 121  # every page, no repeats
    assert "secret@other.test" not in got.text and theirs["id"] not in got.text
    row = next(p for p in people if p["Contractor ID"] == evil["id"])
    assert row["First Name"] == "'=cmd|'/c calc'!A1" and row["Last Name"] == "'+Lovelace"
    assert row["Tax ID (masked)"] == "***-**-6789" and "123-45-6789" not in got.text
    assert row["Status"] == "covered" and row["City"] == "San Francisco"

    got = await c.get("/v1/exports/assignments.csv")
    assert got.status_code == 200
    lines = rows_of(got.content)
    assert len(lines) == 106
    row = next(r for r in lines if r["Assignment ID"] == a_evil["id"])
    assert (row["Ultimate Client Name"], row["Job Title"], row["PO Number"], row["Campaign"]) == (
        "'=Nike",
        "'@Photographer",
        "'-PO-1",
        "'=1+1",
    )
    assert row["Coverage Status"] == "scheduled" and row["Policy ID"] == "pl_1" and row["Contractor Status"] == "covered"
    assert row["Start Date"] == "2026-11-10" and row["Coverage Types"].startswith("general")
    assert all(r["Coverage Status"] == "not_bound" for r in lines if r["Assignment ID"] != a_evil["id"])

    # the other company's export holds only its own contractor
    theirs_csv = rows_of((await c.get("/v1/exports/contractors.csv", headers=other)).content)
    assert [p["Email"] for p in theirs_csv] == ["secret@other.test"]
    assert rows_of((await c.get("/v1/exports/assignments.csv", headers=other)).content) == []
    assert TENANT not in str(theirs_csv)
