"""Dashboard rough edges a new user met (issue 15), each checked on the rendered page against fake
services: the upload notice leaves once the import has finished, dates never break inside, and an
answered invitation offers no "Resend invitation"."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from gateway_fakes import AN_2, CN_1, IB_1, FakeServices, csrf_of, login, make_company

pytestmark = pytest.mark.integration


@pytest.fixture
async def acme(gateway: Any) -> str:
    company_id = await make_company(gateway, "Acme Talent", "ada@acme.test")
    assert (await login(gateway.client, "ada@acme.test")).status_code == 303
    return company_id


def _completed(s: Any) -> dict[str, Any]:
    return {"id": IB_1, "status": "completed", "rows_total": 2, "rows_done": 2, "rows_failed": 0, "rows_imported": 2}


async def test_the_upload_notice_is_gone_once_the_import_has_finished(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    html = (await gateway.client.get("/imports")).text
    fake_services.on("contractor", "GET", f"/v1/imports/{IB_1}", _completed)
    r = await gateway.client.post(
        "/imports", data={"_csrf": csrf_of(html)}, files={"file": ("people.csv", b"a,b\n1,2\n", "text/csv")}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{IB_1}"
    page = (await gateway.client.get(r.headers["location"])).text
    assert 'data-finished="true"' in page and "Completed" in page
    assert "importing now" not in page


async def test_the_upload_notice_lives_in_the_progress_panel_while_importing(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    # the panel is what the page swaps in as the import moves on: a notice outside it would stay
    html = (await gateway.client.get("/imports")).text
    r = await gateway.client.post(
        "/imports", data={"_csrf": csrf_of(html)}, files={"file": ("people.csv", b"a,b\n1,2\n", "text/csv")}
    )
    page = (await gateway.client.get(r.headers["location"])).text
    panel = page.split('id="import-progress"', 1)[1]
    assert 'data-finished="false"' in page and "importing now" in panel


async def test_dates_in_the_assignments_table_do_not_break(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    html = (await gateway.client.get(f"/contractors/{CN_1}")).text
    row = html.split(f'data-assignment-id="{AN_2}"')[1].split("</tr>")[0]
    assert re.search(r'<span class="date">2030-02-01</span>\s*→\s*<span class="date">2030-02-28</span>', row), row
    css = (await gateway.client.get("/static/ten99.css")).text
    assert re.search(r"\.date\s*\{[^}]*white-space:\s*nowrap", css)


async def test_an_answered_invitation_offers_no_resend(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    fake_services.on(
        "enrollment",
        "GET",
        "/v1/invitations/current",
        lambda s: {
            "invitation_id": "inv_1",
            "status": "answered",
            "answered_at": "2030-01-02T00:00:00Z",
            "sent_at": "2030-01-01T00:00:00Z",
            "reminders_sent": 0,
        },
    )
    html = (await gateway.client.get(f"/contractors/{CN_1}")).text
    assert 'data-status="answered"' in html
    assert 'data-testid="resend-invitation"' not in html
    assert 'data-testid="invitation-answered"' in html


async def test_the_import_page_says_imported_unchanged_and_failed(gateway: Any, fake_services: FakeServices, acme: str) -> None:
    # a re-upload adds nothing: it said "6 imported"
    fake_services.on(
        "contractor",
        "GET",
        f"/v1/imports/{IB_1}",
        lambda s: {"id": IB_1, "status": "completed", "rows_total": 6, "rows_done": 6, "rows_failed": 0,
                   "rows_imported": 0, "rows_unchanged": 6},
    )  # fmt: skip
    html = (await gateway.client.get(f"/imports/{IB_1}")).text
    assert 'data-testid="rows-imported">0<' in html and 'data-testid="rows-unchanged">6<' in html
    assert 'data-testid="rows-failed">0<' in html


async def test_the_template_names_the_unit_of_the_wage(gateway: Any, acme: str) -> None:
    template = (await gateway.client.get("/imports/template.csv")).text
    header, example = template.splitlines()[:2]
    assert '"Wage (dollars, 2 decimals)"' in header.split(",Wage type")[0] or "Wage (dollars" in header
    assert ",2500.00," in example


def _paused(s: Any) -> dict[str, Any]:
    return {
        "id": IB_1,
        "status": "needs_confirmation",
        "rows_total": 3,
        "rows_done": 0,
        "rows_failed": 0,
        "rows_imported": 0,
        "rows_unchanged": 0,
        "rows_warned": 1,
        "warnings_decision": None,
        "errors": [],
        "warnings": [{"line": 3, "column": "Wage", "reason": "an hourly rate of $4,500.00 is above $1,000", "value": "4500.00"}],
    }


async def test_implausible_pay_is_shown_for_the_user_to_import_or_drop(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    fake_services.on("contractor", "GET", f"/v1/imports/{IB_1}", _paused)
    fake_services.on("contractor", "POST", f"/v1/imports/{IB_1}/confirm", lambda s: {**_paused(s), "status": "pending"})
    html = (await gateway.client.get(f"/imports/{IB_1}")).text
    assert 'data-status="needs_confirmation"' in html and "hx-trigger" not in html  # waits for the user, not the clock
    warning = html.split('data-testid="import-warning"')[1].split("</tr>")[0]
    assert 'data-line="3"' in warning and "$4,500.00" in warning
    assert 'data-testid="confirm-import"' in html and 'data-testid="confirm-drop"' in html
    r = await gateway.client.post(f"/imports/{IB_1}/confirm", data={"_csrf": csrf_of(html), "decision": "drop"})
    assert r.status_code == 303 and r.headers["location"] == f"/imports/{IB_1}"
    sent = fake_services.calls("contractor", "POST", f"/v1/imports/{IB_1}/confirm")
    assert [json.loads(c.body) for c in sent] == [{"decision": "drop"}]
    r = await gateway.client.post(f"/imports/{IB_1}/confirm", data={"_csrf": csrf_of(html), "decision": "whatever"})
    assert r.status_code == 303 and len(fake_services.calls("contractor", "POST", f"/v1/imports/{IB_1}/confirm")) == 1


def _assignments_in(*states: str) -> Any:
    def answer(s: Any) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": f"an_{state.lower()}00000000000000000001",
                    "job": {"id": "jb_1", "name": "Photographer", "work_state": state, "entity": {"id": "en_1", "name": "Nike"}},
                    "effective_date": "2030-02-01",
                    "end_date": "2030-02-28",
                    "coverage_types": ["general", "workers-comp"],
                    "coverage_status": "not_bound",
                    "status": "pending",
                }
                for state in states
            ],
            "has_more": False,
            "url": "/v1/contractors/x/assignments",
        }

    return answer


async def test_before_opt_in_a_wa_assignment_lists_only_the_coverage_the_form_offers(
    gateway: Any, fake_services: FakeServices, acme: str
) -> None:
    # Washington is a monopolistic state: only the state fund sells workers' comp there, so the
    # opt-in form does not offer it, and the profile must not promise it either
    fake_services.on("contractor", "GET", f"/v1/contractors/{CN_1}/assignments", _assignments_in("WA", "CA"))
    fake_services.on("policy", "GET", "/v1/coverages", lambda s: {"object": "list", "data": []})
    html = (await gateway.client.get(f"/contractors/{CN_1}")).text
    wa = html.split('data-assignment-id="an_wa00000000000000000001"')[1].split("</tr>")[0]
    ca = html.split('data-assignment-id="an_ca00000000000000000001"')[1].split("</tr>")[0]
    assert "general" in wa and "workers-comp" not in wa, wa
    assert "general, workers-comp" in ca
