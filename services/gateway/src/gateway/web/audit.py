"""The audit log (docs/audit-ledger.md): the company's ledger from notification, filtered, newest
first, in keyset pages; its CSV export; and a contractor's timeline for the profile page. Actors
are shown by the user's email or the API key's name where the gateway knows them."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Template

from ..api.ids import require_id
from ..application.accounts import list_users
from ..application.api_keys import list_api_keys
from .common import gateway_of, page, user_of
from .downloads import relay_download
from .shapes import next_cursor

__all__ = ["audit_log", "audit_log_export", "contractor_timeline"]

#: the ledger's filters, passed to notification (which checks them); the kinds the page offers
FILTERS = ("entity_kind", "entity_id", "contractor", "actor", "action", "since", "until")
ENTITY_KINDS = [
    ("", "Everything"),
    ("contractor", "Contractors"),
    ("assignment", "Assignments"),
    ("coverage", "Coverage"),
    ("policy", "Policies"),
    ("certificate", "Certificates"),
    ("uploaded_certificate", "Uploaded certificates"),
    ("invoice", "Invoices"),
    ("billing_settings", "Billing settings"),
    ("user", "Users"),
    ("api_key", "API keys"),
    ("webhook_endpoint", "Webhook endpoints"),
    ("integration_secret", "Integration secrets"),
    ("facility_link", "Facility links"),
    ("import", "Imports"),
    ("company", "Company"),
]
ACTOR_KINDS = [
    ("", "Anyone"),
    ("user", "Dashboard users"),
    ("api_key", "API keys"),
    ("contractor", "Contractors"),
    ("operator", "Operator"),
    ("system", "System"),
]
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


def _filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The filters of the query string: known names only, printable, at most 80 characters."""
    return {name: _PRINTABLE.sub("", request.query_params.get(name, ""))[:80].strip() for name in FILTERS}


async def _actor_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    gateway, company = gateway_of(request), user_of(request).company_id
    names = {f"user:{u['id']}": str(u["email"]) for u in await list_users(gateway.db, company)}
    names.update({f"api_key:{k['id']}": f"API key “{k['name']}”" for k in await list_api_keys(gateway.db, company)})
    return {**names, "operator": "Operator", "system": "System"}


def _entries(answer: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    rows = answer.get("data", []) if isinstance(answer, dict) else []
    out = []
    for row in rows:
        actor = row.get("actor")
        changed = sorted(set(row.get("before", {})) | set(row.get("after", {})))
        fields = [(name, row.get("before", {}).get(name), row.get("after", {}).get(name)) for name in changed]
        out.append({**row, "actor_name": names.get(actor, actor or "Unknown"), "fields": fields})
    return out


@get("/audit-log", include_in_schema=False)
async def audit_log(request: Request[Any, Any, Any]) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    filters = _filters(request)
    after = request.query_params.get("starting_after", "")
    params = {**filters, "limit": 50, "starting_after": after if after.isdigit() else ""}
    answer = await gateway.services.notification.get("/v1/ledger", tenant=user.company_id, params=params)
    entries = _entries(answer, await _actor_names(request))
    return page(
        request,
        "audit/list.html",
        entries=entries,
        filters=filters,
        entity_kinds=ENTITY_KINDS,
        actor_kinds=ACTOR_KINDS,
        next_cursor=next_cursor(answer, entries, "seq"),
    )


@get("/audit-log/export.csv", include_in_schema=False)
async def audit_log_export(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.notification,
        "/v1/ledger.csv",
        tenant=user.company_id,
        params={k: v for k, v in _filters(request).items() if v},
        filename="audit-log.csv",
    )


@get("/contractors/{contractor_id:str}/timeline", include_in_schema=False)
async def contractor_timeline(request: Request[Any, Any, Any], contractor_id: FromPath[str]) -> Template:
    """The profile's timeline (loaded into the page by htmx): the contractor's last 20 entries."""
    contractor_id = require_id(contractor_id, "cn", "contractor")
    gateway, user = gateway_of(request), user_of(request)
    answer = await gateway.services.notification.get(
        "/v1/ledger", tenant=user.company_id, params={"contractor": contractor_id, "limit": 20}
    )
    entries = _entries(answer, await _actor_names(request))
    return page(request, "audit/_timeline.html", entries=entries, contractor_id=contractor_id)
