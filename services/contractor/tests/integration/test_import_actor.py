"""An import's messages name who uploaded it (the actor the gateway sent with the upload), though
the worker applies the file later, outside that request (docs/audit-ledger.md)."""

from __future__ import annotations

from typing import Any

import pytest
from contractor_testkit import csv_bytes, csv_row, finished_import
from ten99_testing import quiescent
from ten99_testing.service import RunningService

pytestmark = pytest.mark.integration

UPLOADER = "user:us_0000000000000000000007"


async def test_the_messages_of_an_import_carry_its_uploader(svc: RunningService, stream: Any) -> None:
    r = await svc.client.post(
        "/v1/imports",
        files={"file": ("people.csv", csv_bytes([csv_row(1), csv_row(2)]), "text/csv")},
        data={"all_or_nothing": "false", "uploaded_by": "ops@example.com"},
        headers={"x-ten99-actor": UPLOADER},
    )
    assert r.status_code == 202, r.text
    assert (await finished_import(svc, r.json()["id"]))["rows_imported"] == 2
    await quiescent(svc)
    messages = await stream.messages()
    caused = [
        envelope
        for subject, envelope in messages
        if subject.split(".")[2] in ("contractor_registered", "assignment_created", "import_completed")
    ]
    assert len(caused) == 5 and {envelope["actor"] for envelope in caused} == {UPLOADER}

    # an upload without an actor (or with a malformed one) is nobody's: no actor, not the last uploader's
    r = await svc.client.post(
        "/v1/imports",
        files={"file": ("more.csv", csv_bytes([csv_row(3)]), "text/csv")},
        data={"all_or_nothing": "false"},
        headers={"x-ten99-actor": "user:us_1; DROP"},
    )
    assert (await finished_import(svc, r.json()["id"]))["rows_imported"] == 1
    await quiescent(svc)
    later = (await stream.messages())[len(messages) :]
    assert later and {envelope["actor"] for _, envelope in later} == {None}
