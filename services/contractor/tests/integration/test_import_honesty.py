"""What an import reports, honestly (issue 15): rows imported (they added or changed something),
unchanged (already there) and failed; implausible pay (a Wage column in cents read as dollars)
paused for the user to confirm or drop; an address in capitals stored and shown in its one form."""

from __future__ import annotations

from typing import Any

import pytest
from contractor_testkit import csv_bytes, csv_row, finished_import, upload
from ten99_testing import wait_until
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration


async def settled(svc: RunningService, import_id: str) -> dict[str, Any]:
    """The import once it stopped moving: finished, or waiting for the user's confirmation."""

    async def stopped() -> dict[str, Any] | None:
        body: dict[str, Any] = (await svc.client.get(f"/v1/imports/{import_id}")).json()
        return body if body["status"] in ("completed", "failed", "needs_confirmation") else None

    return await wait_until(stopped, timeout=30, what=f"import {import_id} settled")


def counts(view: dict[str, Any]) -> tuple[int, int, int]:
    return view["rows_imported"], view["rows_unchanged"], view["rows_failed"]


async def test_uploading_the_same_file_again_reports_every_row_unchanged(svc: RunningService) -> None:
    rows = [csv_row(i) for i in range(1, 7)]
    first = await finished_import(svc, (await upload(svc, csv_bytes(rows))).json()["id"])
    assert counts(first) == (6, 0, 0) and first["assignments_created"] == 6
    again = await finished_import(svc, (await upload(svc, csv_bytes(rows))).json()["id"])
    assert counts(again) == (0, 6, 0), again  # it said "6 imported" and added nothing
    # one changed row, one new row, the rest as they were, one bad row
    changed = [*rows[:5], csv_row(6, Phone="212-555-0199"), csv_row(7), csv_row(8, Email="nope")]
    third = await finished_import(svc, (await upload(svc, csv_bytes(changed))).json()["id"])
    assert counts(third) == (2, 5, 1), third
    listed = (await svc.client.get("/v1/imports")).json()["data"]
    assert [counts(i) for i in listed[:3]] == [(2, 5, 1), (0, 6, 0), (6, 0, 0)]


async def test_a_row_repeated_in_one_file_is_imported_once_and_then_unchanged(svc: RunningService) -> None:
    done = await finished_import(svc, (await upload(svc, csv_bytes([csv_row(1), csv_row(2), csv_row(1)]))).json()["id"])
    assert counts(done) == (2, 1, 0) and done["assignments_created"] == 2


async def test_implausible_pay_waits_for_the_user_to_drop_it(svc: RunningService) -> None:
    c = svc.client
    rows = [
        csv_row(1),
        csv_row(2, Wage="4500", **{"Wage Type": "hourly"}),  # line 3: $4,500 an hour, cents read as dollars
        csv_row(3, Wage="250000000", **{"Wage Type": "flatfee"}),  # line 4: a $250,000,000 flat fee... capped
        csv_row(4, Wage="1000", **{"Wage Type": "hourly"}),  # line 5: $1,000 an hour is plausible
        csv_row(5, Wage="1500000", **{"Wage Type": "flatfee"}),  # line 6: $1.5M flat fee
    ]
    accepted = (await upload(svc, csv_bytes(rows))).json()
    paused = await settled(svc, accepted["id"])
    assert paused["status"] == "needs_confirmation", paused
    # line 4 is over the $10,000,000 maximum: an error, not a warning
    assert [(w["line"], w["column"]) for w in paused["warnings"]] == [(3, "Wage"), (6, "Wage")]
    assert "$4,500.00" in paused["warnings"][0]["reason"] and "$1,000" in paused["warnings"][0]["reason"]
    assert "cents" in paused["warnings"][0]["reason"]
    assert paused["rows_warned"] == 2 and paused["rows_imported"] == 0
    # nothing is imported until the user decides
    assert (await c.get("/v1/contractors")).json()["data"] == []

    bad = await c.post(f"/v1/imports/{accepted['id']}/confirm", json={"decision": "maybe"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "invalid_input"
    r = await c.post(f"/v1/imports/{accepted['id']}/confirm", json={"decision": "drop"})
    assert r.status_code == 200, r.text
    done = await finished_import(svc, accepted["id"])
    assert done["status"] == "completed" and done["warnings_decision"] == "drop"
    assert (done["rows_imported"], done["rows_dropped"], done["rows_failed"]) == (2, 2, 1), done
    emails = sorted(p["email"] for p in (await c.get("/v1/contractors")).json()["data"])
    assert emails == ["person1@example.com", "person4@example.com"]
    # a decided import takes no second decision
    again = await c.post(f"/v1/imports/{accepted['id']}/confirm", json={"decision": "import"})
    assert again.status_code == 409 and again.json()["error_code"] == "invalid_state"
    # the error report holds the errors, not the warnings
    report = (await c.get(f"/v1/imports/{accepted['id']}/errors.csv")).text
    assert report.splitlines()[1].startswith("4,") and len(report.strip().splitlines()) == 2


async def test_implausible_pay_the_user_confirms_is_imported_as_written(svc: RunningService) -> None:
    c = svc.client
    rows = [csv_row(1), csv_row(2, Wage="4500", **{"Wage Type": "hourly"})]
    accepted = (await upload(svc, csv_bytes(rows))).json()
    assert (await settled(svc, accepted["id"]))["status"] == "needs_confirmation"
    assert (await c.post(f"/v1/imports/{accepted['id']}/confirm", json={"decision": "import"})).status_code == 200
    done = await finished_import(svc, accepted["id"])
    assert (done["status"], done["rows_imported"], done["rows_dropped"], done["warnings_decision"]) == (
        "completed",
        2,
        0,
        "import",
    )
    wages = sorted(j["wage"] for j in (await c.get("/v1/jobs")).json()["data"])
    assert wages == [250_000, 450_000]


async def test_the_new_template_header_names_the_unit_and_the_old_one_still_works(svc: RunningService) -> None:
    from contractor_testkit import CSV_HEADER

    header = [("Wage (dollars, 2 decimals)" if h == "Wage" else h) for h in CSV_HEADER]
    row = {("Wage (dollars, 2 decimals)" if k == "Wage" else k): v for k, v in csv_row(1, Wage="2500.00").items()}
    done = await finished_import(svc, (await upload(svc, csv_bytes([row], header=header))).json()["id"])
    assert (done["rows_imported"], done["ignored_columns"]) == (1, [])
    assert [j["wage"] for j in (await svc.client.get("/v1/jobs")).json()["data"]] == [250_000]


async def test_an_email_in_capitals_is_stored_and_shown_in_its_one_form(svc: RunningService) -> None:
    done = await finished_import(svc, (await upload(svc, csv_bytes([csv_row(1, Email="ADA.LOVELACE@EXAMPLE.COM")]))).json()["id"])
    assert done["rows_imported"] == 1
    [person] = (await svc.client.get("/v1/contractors")).json()["data"]
    assert person["email"] == "ada.lovelace@example.com"
    roster = (await svc.client.get("/v1/roster")).json()
    assert "ADA" not in str(roster) and "ada.lovelace@example.com" in str(roster)
