"""Helpers for the contractor service's integration tests (imported by the test modules)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats
from ten99_contracts import Envelope, Message
from ten99_testing import wait_until
from ten99_testing.service import RunningService

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TENANT = "co_AAAAAAAAAAAAAAAAAAAAAA"
OTHER_TENANT = "co_BBBBBBBBBBBBBBBBBBBBBB"


class Stream:
    """Reads what the contractor service published, and publishes other contexts' messages."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def messages(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything in the contractor service's stream, in order (read by sequence: no fetch
        that could time out on a busy machine and return part of it)."""
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info("TEN99_CONTRACTOR")
            except nats.js.errors.NotFoundError:
                return []
            out: list[tuple[str, dict[str, Any]]] = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
                m = await js.get_msg("TEN99_CONTRACTOR", seq)
                out.append((str(m.subject), msgspec.json.decode(m.data)))
            return out
        finally:
            await nc.close()

    async def publish(
        self, message: Message, *, tenant_id: str = TENANT, occurred_at: datetime = NOW, aggregate_id: str = "x"
    ) -> str:
        envelope = Envelope(
            id=str(uuid.uuid4()),
            subject=message.SUBJECT,
            occurred_at=occurred_at,
            tenant_id=tenant_id,
            aggregate_id=aggregate_id,
            data=message,
        )
        nc = await nats.connect(self.url)
        try:
            await nc.jetstream().publish(message.SUBJECT, msgspec.json.encode(envelope), headers={"Nats-Msg-Id": envelope.id})
        finally:
            await nc.close()
        return envelope.id


def subjects(messages: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [s.removeprefix("ten99.contractor.").removesuffix(".v1") for s, _ in messages]


ADDRESS = {"line1": "2211 Mission St", "locality": "San Francisco", "region": "CA", "postalcode": "94110"}


async def make_entity(svc: RunningService, name: str = "Nike", **extra: Any) -> dict[str, Any]:
    r = await svc.client.post("/v1/entities", json={"name": name, **extra})
    assert r.status_code == 200, r.text
    return r.json()


async def make_contractor(svc: RunningService, email: str = "ada@example.com", **extra: Any) -> dict[str, Any]:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": email, "phone": "+14155550100", "address": ADDRESS, **extra}
    r = await svc.client.post("/v1/contractors", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def make_job(svc: RunningService, entity_id: str, **extra: Any) -> dict[str, Any]:
    body = {
        "entity": entity_id,
        "category_code": "jc_photographer",
        "name": "Photographer",
        "description": "Shoots the spring lookbook",
        "wage": 250_000,
        "wage_type": "flatfee",
        "work_state": "CA",
        **extra,
    }
    r = await svc.client.post("/v1/jobs", json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def make_assignment(svc: RunningService, contractor_id: str, job_id: str, **extra: Any) -> dict[str, Any]:
    body = {"contractor": contractor_id, "job": job_id, "effective_date": "2026-11-10", "end_date": "2026-12-09", **extra}
    r = await svc.client.post("/v1/assignments", json=body)
    assert r.status_code == 200, r.text
    return r.json()


CSV_HEADER = [
    "Ultimate Client Name", "First Name", "Last Name", "Email", "Phone", "Address Line 1", "Address Line 2",
    "City", "State", "Zip", "Company Name", "Job Title", "Brief Job Description", "Work State", "Wage",
    "Wage Type", "Start Date", "End Date", "PO Number", "PO Contact Email", "Campaign",
]  # fmt: skip


def csv_row(i: int, **changes: str) -> dict[str, str]:
    row = {
        "Ultimate Client Name": "Nike",
        "First Name": f"First{i}",
        "Last Name": f"Last{i}",
        "Email": f"person{i}@example.com",
        "Phone": "415-555-0100",
        "Address Line 1": f"{i} Mission St, Unit {i}",
        "Address Line 2": "",
        "City": "San Francisco",
        "State": "CA",
        "Zip": "94110",
        "Company Name": "",
        "Job Title": "Content creator",
        "Brief Job Description": "Two sponsored short videos, one story",
        "Work State": "CA",
        "Wage": "$2,500.00",
        "Wage Type": "flatfee",
        "Start Date": "11/10/2026",
        "End Date": "12/09/2026",
        "PO Number": "",
        "PO Contact Email": "",
        "Campaign": "Spring 2027",
    }
    row.update(changes)
    return row


def csv_bytes(rows: list[dict[str, str]], header: list[str] | None = None, bom: bool = False) -> bytes:
    import csv
    import io

    header = header or CSV_HEADER
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    data = out.getvalue().encode()
    return (b"\xef\xbb\xbf" + data) if bom else data


async def upload(svc: RunningService, content: bytes, *, all_or_nothing: bool = False, filename: str = "people.csv") -> Any:
    return await svc.client.post(
        "/v1/imports",
        files={"file": (filename, content, "text/csv")},
        data={"all_or_nothing": "true" if all_or_nothing else "false", "uploaded_by": "ops@example.com"},
    )


async def finished_import(svc: RunningService, import_id: str, timeout: float = 30.0) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await svc.client.get(f"/v1/imports/{import_id}", params={"errors_limit": 1000})).json()
        return body if body["status"] in ("completed", "failed") else None

    return await wait_until(done, timeout=timeout, what=f"import {import_id} finished")
