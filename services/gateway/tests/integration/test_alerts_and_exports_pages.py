"""The Contractors page's coverage-gap banner and filter, and the dashboard's CSV exports, against
faked services: what the gateway asks (as the signed-in company only), what it shows, and the
invoices CSV it writes from billing's keyset pages with formula cells neutralised."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qs

import pytest
from gateway.web.exports import neutralise
from gateway_fakes import AN_1, CN_1, FakeServices, Seen, ident, login, make_company
from litestar import Response
from ten99_testing.service import INTERNAL_TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture
async def acme(gateway: Any) -> str:
    company_id = await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    return company_id


def gaps_answer(s: Seen) -> dict[str, Any]:
    limit = int(parse_qs(s.query).get("limit", ["50"])[0])
    gap = {
        "assignment_id": AN_1,
        "contractor_id": CN_1,
        "contractor_name": "Ada Lovelace",
        "contractor_email": "ada@example.com",
        "job_id": ident("jb", "1"),
        "job_name": "Photographer",
        "effective_date": "2026-11-04",
        "end_date": "2026-11-30",
        "status": "invited",
    }
    return {"day": "2026-11-02", "within_days": 3, "count": 2, "limit": limit, "offset": 0, "gaps": [gap][:limit]}


async def test_banner_counts_the_gaps_and_the_filter_lists_them(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    fake_services.on("contractor", "GET", "/v1/coverage_gaps", gaps_answer)
    html = (await gateway.client.get("/contractors")).text
    assert 'data-testid="coverage-gap-banner"' in html
    assert re.search(r'data-testid="coverage-gap-count">2</span> assignments start within 3 days without coverage', html)
    assert 'href="/contractors?gaps=1"' in html and 'data-testid="roster-row"' in html
    banner_call = fake_services.calls("contractor", "GET", "/v1/coverage_gaps")[-1]
    assert "limit=0" in banner_call.query and banner_call.headers["x-tenant-id"] == acme

    html = (await gateway.client.get("/contractors?gaps=1")).text
    assert 'data-testid="coverage-gap-row"' in html and "Ada Lovelace" in html and "Photographer" in html
    assert 'data-testid="roster-row"' not in html
    assert re.search(r'name="gaps" value="1" checked', html)
    assert "limit=51" in fake_services.calls("contractor", "GET", "/v1/coverage_gaps")[-1].query
    assert all(s.headers["x-tenant-id"] == acme for s in fake_services.seen)


async def test_no_banner_without_gaps_or_when_the_count_cannot_be_read(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    r = await gateway.client.get("/contractors")  # the fake has no /v1/coverage_gaps: 404
    assert r.status_code == 200 and 'data-testid="roster-row"' in r.text and "coverage-gap-banner" not in r.text
    fake_services.on("contractor", "GET", "/v1/coverage_gaps", lambda s: {"count": 0, "within_days": 3, "gaps": []})
    r = await gateway.client.get("/contractors")
    assert r.status_code == 200 and "coverage-gap-banner" not in r.text


async def test_contractor_exports_are_relayed_as_downloads(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    body = "\ufeffContractor ID,First Name\r\ncn_1,'=cmd\r\n".encode()
    for kind in ("contractors", "assignments"):
        fake_services.on("contractor", "GET", f"/v1/exports/{kind}.csv", lambda s: Response(body, media_type="text/csv"))
    html = (await gateway.client.get("/contractors")).text
    assert 'href="/contractors/export.csv"' in html and 'href="/contractors/assignments.csv"' in html
    for path, name in (("/contractors/export.csv", "contractors.csv"), ("/contractors/assignments.csv", "assignments.csv")):
        r = await gateway.client.get(path)
        assert r.status_code == 200 and r.content == body, path
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert r.headers["content-type"].startswith("text/csv")
    calls = fake_services.calls("contractor", "GET")
    assert {c.path for c in calls} >= {"/v1/exports/contractors.csv", "/v1/exports/assignments.csv"}
    assert all(c.headers["x-tenant-id"] == acme and c.headers["x-ten99-internal-token"] == INTERNAL_TOKEN for c in calls)


def invoice(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident("in", str(n)),
        "number": f"INV-2026-11-{n:04d}",
        "status": "open",
        "purchase_order_number": f"PO-{n}",
        "period": "2026-11",
        "to_email": "ap@nike.test",
        "cc_emails": ["billing@acme.test"],
        "currency": "usd",
        "issued_at": 1_794_268_800,  # 2026-11-10
        "due_date": 1_796_860_800,
        "past_due": False,
        "line_count": 2,
        "gross_pay": 500_000,
        "premium_due": 3_250,
        "platform_fee": 2_125,
        "total": 5_375,
        "credited": 0,
        "amount_due": 5_375,
        "paid_at": None,
        "void_reason": None,
        **extra,
    }


async def test_invoices_export_reads_every_page_and_neutralises_formulas(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    everything = [invoice(n) for n in range(1, 151)]
    everything[120] = invoice(121, purchase_order_number='=HYPERLINK("http://evil")', void_reason="@SUM(A1)")

    def pages(s: Seen) -> dict[str, Any]:
        q = parse_qs(s.query)
        limit = int(q["limit"][0])
        start = 0
        if "starting_after" in q:
            start = next(i for i, inv in enumerate(everything) if inv["id"] == q["starting_after"][0]) + 1
        data = everything[start : start + limit]
        return {"object": "list", "url": "/v1/invoices", "has_more": start + limit < len(everything), "data": data}

    fake_services.on("billing", "GET", "/v1/invoices", pages)
    html = (await gateway.client.get("/invoices?status=open")).text
    assert 'href="/invoices/export.csv?status=open"' in html
    r = await gateway.client.get("/invoices/export.csv?status=open")
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="invoices.csv"'
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["Invoice ID"] for row in rows] == [inv["id"] for inv in everything]
    first = rows[0]
    assert (first["Number"], first["Issued"], first["Total"], first["Premium"], first["Cc"]) == (
        "INV-2026-11-0001", "2026-11-10", "53.75", "32.50", "billing@acme.test"
    )  # fmt: skip
    assert rows[120]["PO Number"] == '\'=HYPERLINK("http://evil")' and rows[120]["Void Reason"] == "'@SUM(A1)"
    calls = fake_services.calls("billing", "GET", "/v1/invoices")[-2:]
    assert ["starting_after" in c.query for c in calls] == [False, True]
    assert all("status=open" in c.query and "limit=100" in c.query and c.headers["x-tenant-id"] == acme for c in calls)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@A1", "\t1", "\r1"])
def test_formula_cells_get_an_apostrophe(value: str) -> None:
    assert neutralise(value) == "'" + value
    assert neutralise("a" + value) == "a" + value
    assert neutralise(None) == ""
