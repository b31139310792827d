"""Tenant isolation: company B, with its own valid API key and dashboard login, against every id and
every list of company A. Nothing of A's is shown, changed or downloadable, and A's data is intact
afterwards."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from .conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(600)]

#: the public API's operations on one id: (method, path template, body)
ON_ONE = [
    ("GET", "/entities/{entities}", None),
    ("PUT", "/entities/{entities}", {"name": "taken over"}),
    ("DELETE", "/entities/{entities}", None),
    ("GET", "/contractors/{contractors}", None),
    ("PUT", "/contractors/{contractors}", {"first_name": "Mallory"}),
    ("DELETE", "/contractors/{contractors}", None),
    ("GET", "/contractors/{contractors}/policies", None),
    ("GET", "/jobs/{jobs}", None),
    ("PUT", "/jobs/{jobs}", {"name": "taken over"}),
    ("DELETE", "/jobs/{jobs}", None),
    ("GET", "/assignments/{assignments}", None),
    ("PUT", "/assignments/{assignments}", {"po_number": "PO-MALLORY"}),
    ("DELETE", "/assignments/{assignments}", None),
    ("POST", "/assignments/{api_assignment}/cancel", {"reason": "mallory"}),
    ("POST", "/assignments/{assignments}/extend", {"end_date": "2099-01-01"}),
    ("GET", "/quotes/{quotes}", None),
    ("PUT", "/quotes/{quotes}", {"contractor": "{api_contractor}"}),
    ("GET", "/apply/sessions/{apply/sessions}", None),
    ("PUT", "/apply/sessions/{apply/sessions}", {"success_url": "https://mallory.test"}),
    ("POST", "/apply/sessions/{apply/sessions}/expire", {}),
    ("GET", "/policies/{policies}", None),
    ("GET", "/invoices/{invoices}", None),
    ("POST", "/invoices/{invoices}/void", {}),
    ("POST", "/assignments/cancel", {"job_id": "{jobs}"}),
    ("POST", "/quotes", {"contractor": "{api_contractor}", "job": "{jobs}"}),
    ("POST", "/assignments", {"contractor": "{api_contractor}", "job": "{jobs}"}),
    ("POST", "/jobs", {"entity": "{entities}", "category_code": "jc_model", "name": "x"}),
    ("POST", "/apply/sessions", {"quote": "{quotes}"}),
]

#: what company A's rows say: a refusal may echo the id it was asked for, never these
A_DATA = ["Ada", "Lovelace", "Grace", "Hopper", "A's venue", "Stagehand", "PO-A1", "ada@a.test", "grace@a.test"]

#: fields holding signed links, signed anew (with the time) on every read
SIGNED_FRESH_PER_READ = {"certificates"}

LISTS = ["entities", "contractors", "jobs", "assignments", "quotes", "apply/sessions", "policies", "invoices"]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{([a-z_/]+)\}", lambda m: ids[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _snapshot(stack: Stack) -> dict[str, Any]:
    """A's resources as A sees them."""
    with stack.api(stack.a) as api:
        return {
            name: api.get(f"/{name}/{stack.ids[key]}").json()
            for name, key in [
                ("entities", "entities"),
                ("contractors", "contractors"),
                ("jobs", "jobs"),
                ("assignments", "assignments"),
                ("assignments", "api_assignment"),
                ("quotes", "quotes"),
                ("apply/sessions", "apply/sessions"),
                ("policies", "policies"),
                ("invoices", "invoices"),
            ]
        }


def test_company_b_reaches_none_of_company_a_s_ids(stack: Stack) -> None:
    before = _snapshot(stack)
    leaks = []
    with stack.api(stack.b) as api:
        for method, template, body in ON_ONE:
            path = _fill(template, stack.ids)
            r = api.request(method, path, json=_fill(body, stack.ids) if body is not None else None)
            text = r.text
            if r.status_code < 400 and method == "GET" and template.endswith("/policies"):
                # a list for B's own contractor filter: it must be empty
                if r.json().get("data"):
                    leaks.append(f"{method} {path}: {text[:200]}")
                continue
            if not 400 <= r.status_code < 500 or any(secret in text for secret in A_DATA):
                leaks.append(f"{method} {path}: {r.status_code} {text[:200]}")
            elif "error_code" not in r.json():
                leaks.append(f"{method} {path}: {r.status_code} without error_code")
    assert not leaks, "company B reached company A's data:\n" + "\n".join(leaks)
    after = _snapshot(stack)
    changed = {
        (name, key): (before[name].get(key), after[name].get(key))
        for name in before
        for key in set(before[name]) | set(after[name])
        if before[name].get(key) != after[name].get(key) and key not in SIGNED_FRESH_PER_READ
    }
    assert not changed, f"company A's data changed: {changed}"


def test_company_b_s_lists_and_filters_hold_none_of_company_a_s_ids(stack: Stack) -> None:
    with stack.api(stack.b) as api:
        for name in LISTS:
            r = api.get(f"/{name}", params={"limit": 100})
            assert r.status_code == 200, (name, r.text)
            found = {row["id"] for row in r.json()["data"]}
            assert not found & set(stack.ids.values()), (name, found)
        for name, params in [
            ("policies", {"contractor": stack.ids["contractors"]}),
            ("policies", {"quote": stack.ids["quotes"]}),
            ("assignments", {"contractor": stack.ids["contractors"]}),
            ("assignments", {"job": stack.ids["jobs"]}),
            ("jobs", {"entity": stack.ids["entities"]}),
            ("contractors", {"email": "ada@a.test"}),
            ("invoices", {"contractor": stack.ids["contractors"]}),
        ]:
            r = api.get(f"/{name}", params=params)
            assert r.status_code in (200, 400, 404), (name, params, r.status_code, r.text[:200])
            if r.status_code == 200:
                assert r.json()["data"] == [], (name, params, r.text[:300])


def test_company_b_s_dashboard_shows_and_serves_nothing_of_company_a_s(stack: Stack) -> None:
    ids = stack.ids
    pages = [
        f"/contractors/{ids['contractors']}",
        f"/invoices/{ids['invoices']}",
        f"/invoices/{ids['invoices']}/pdf",
        f"/certificates/{ids['certificates']}/download",
        f"/imports/{ids['imports']}",
        f"/imports/{ids['imports']}/errors.csv",
    ]
    with stack.dashboard(stack.a) as mine:
        for page in pages:
            assert mine.get(page).status_code == 200, f"company A cannot open its own {page}"
        csrf_a = re.search(r'name="_csrf" value="([^"]+)"', mine.get("/contractors").text)
        assert csrf_a
    with stack.dashboard(stack.b) as theirs:
        for page in pages:
            r = theirs.get(page)
            assert r.status_code == 404, (page, r.status_code, r.text[:200])
            assert "Ada" not in r.text and "Lovelace" not in r.text
        for page in ("/contractors", "/invoices", "/imports", "/po/missing"):
            r = theirs.get(page)
            assert r.status_code == 200, page
            leaked = [v for k, v in ids.items() if k != "opt_in_link" and v in r.text]
            assert not leaked and "Lovelace" not in r.text, (page, leaked)
        csrf = re.search(r'name="_csrf" value="([^"]+)"', theirs.get("/contractors").text)
        assert csrf
        headers = {"X-CSRF-Token": csrf.group(1)}
        for action, data in [
            (f"/assignments/{ids['api_assignment']}/cancel", {}),
            (f"/assignments/{ids['assignments']}/extend", {"end_date": "2099-01-01"}),
            (f"/contractors/{ids['contractors']}/invitation/resend", {}),
            (f"/invoices/{ids['invoices']}/mark-paid", {}),
        ]:
            r = theirs.post(action, data=data, headers=headers)
            assert r.status_code in (303, 400, 404), (action, r.status_code)
    with stack.api(stack.a) as api:
        invoice = api.get(f"/invoices/{ids['invoices']}").json()
        assert invoice["status"] != "paid", "company B marked company A's invoice paid"
        assignment = api.get(f"/assignments/{ids['api_assignment']}").json()
        assert assignment["status"] != "cancelled", "company B cancelled company A's assignment"


def test_download_links_are_not_enumerable(stack: Stack) -> None:
    """A certificate's public link only works with its signature; guessing names gives nothing."""
    for name in (f"{stack.ids['certificates']}.pdf", "coi_000000000000000000000.pdf", "..%2f..%2fetc%2fpasswd"):
        r = httpx.get(f"{stack.gateway}/certificates/{name}", timeout=30)
        assert r.status_code in (403, 404), (name, r.status_code)
        assert not r.content.startswith(b"%PDF")
