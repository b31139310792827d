"""The embedded default (``make run``) keeps this service on SQLite: the same import, roster,
PO and webhook paths work there (portable SQL, no PostgreSQL-only statements)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from contractor.bootstrap import definition
from contractor.domain.integrations import sign
from contractor_testkit import TENANT, csv_bytes, csv_row, finished_import, upload
from ten99_contracts.enrollment_v1 import InvitationIssuedV1
from ten99_testing import wait_until
from ten99_testing.service import running_service
from ten99kit.clock import SettableClock

pytestmark = pytest.mark.integration


async def test_the_main_paths_on_sqlite(sqlite_url: str, jetstream_url: str, clock: SettableClock, stream: Any) -> None:
    async with running_service(
        definition,
        database_url=sqlite_url,
        nats_url=jetstream_url,
        clock=clock,
        imports={"poll_interval_s": 0.1, "chunk_rows": 4},
    ) as svc:
        c = svc.client
        c.headers["x-tenant-id"] = TENANT
        rows = [csv_row(i) for i in range(9)] + [csv_row(1, Email="PERSON1@example.com", **{"Job Title": "Model"})]
        rows[3] = csv_row(3, Wage="free")
        done = await finished_import(svc, (await upload(svc, csv_bytes(rows))).json()["id"])
        assert (done["status"], done["rows_imported"], done["rows_failed"]) == ("completed", 9, 1)
        assert (done["contractors_created"], done["assignments_created"]) == (8, 9)
        again = await finished_import(svc, (await upload(svc, csv_bytes(rows))).json()["id"])
        assert (again["contractors_created"], again["assignments_created"]) == (0, 0)

        missing = (await c.get("/v1/po/missing", params={"limit": 3})).json()
        assert missing["count"] == 9
        r = await c.post("/v1/po/bulk-set", json={"campaign": "Spring 2027", "po_number": "PO-1"})
        assert r.json()["updated"] == 9 and (await c.get("/v1/po/missing")).json()["count"] == 0

        person = (await c.get("/v1/contractors", params={"email": "person1@example.com"})).json()["data"][0]
        await stream.publish(
            InvitationIssuedV1(
                invitation_id="inv_1",
                contractor_id=person["id"],
                email=person["email"],
                first_name="F",
                last_name="L",
                opt_in_url="http://x/opt-in/t",
                expires_at=clock.now(),
                assignment_ids=[],
            )
        )

        async def invited() -> bool:
            roster = (await c.get("/v1/roster", params={"status": "invited"})).json()
            return [r["contractor_id"] for r in roster["data"]] == [person["id"]]

        await wait_until(invited)
        roster = (await c.get("/v1/roster")).json()
        assert roster["summary"]["contractors"] == 8 and roster["summary"]["by_status"]["invited"] == 1
        assert next(r for r in roster["data"] if r["contractor_id"] == person["id"])["assignments"] == 2

        secret = (await c.post("/v1/integrations/creatoriq/secret")).json()["secret"]
        body = json.dumps(
            {
                "Status": "Accepted",
                "CampaignId": 1,
                "BrandName": "Nike",
                "Creator": {
                    "CreatorId": 7,
                    "FirstName": "A",
                    "LastName": "B",
                    "Email": "person2@example.com",
                    "Address": {"Street1": "1 Main", "City": "Austin", "State": "TX", "Zip": "73301"},
                },
                "PaymentAmount": "1000",
                "WorkState": "TX",
            }
        ).encode()
        headers = {"x-ten99-signature": sign(secret, int(clock.now().timestamp()), body)}
        r = await c.post("/v1/integrations/creatoriq/webhook", content=body, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "created"
        assert (await c.post("/v1/integrations/creatoriq/webhook", content=body, headers=headers)).json()["status"] == "unchanged"
