"""Telling "not arrived yet" from "no such thing" (docs/public-api.md, "Right after a create").

A service learns of other services' objects from their messages, a moment after they were made.
A platform that creates a contractor and a job and asks for a quote at once (1099Policy's flow),
or reports pay right after a policy was bound, may ask before the message arrived: the service
then refuses (``invalid_contractor_id``, ``invalid_job_id``, ``no_active_policy``). When it does,
the gateway asks the service that owns the fact, for the caller's company only; if the owner has
it, the answer is a retryable ``409 resource_not_ready`` (``Retry-After: 1``,
``ten99policy-should-retry: true``: the SDK retries it with ``max_network_retries``), else the
refusal stands. Deterministic: the answer follows what the owner says, never a timer.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from ..adapters.services import ServiceClient, Services, ServiceUnavailable
from .ids import is_id

__all__ = ["NOT_READY", "NOT_READY_HEADERS", "in_transit"]

NOT_READY = "resource_not_ready"
NOT_READY_HEADERS = {"Retry-After": "1", "ten99policy-should-retry": "true"}


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _day(value: Any) -> date | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


async def _found(client: ServiceClient, path: str, tenant: str, params: dict[str, str] | None = None) -> Any:
    """The owner's answer (JSON) if it has the thing, else None (or if it cannot say now)."""
    try:
        response = await client.request("GET", path, tenant=tenant, params=params)
    except ServiceUnavailable:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


async def _coverage_on_its_way(services: Services, tenant: str, data: dict[str, Any]) -> bool:
    contractor, job = data.get("contractor"), data.get("job")
    first, last = _day(data.get("paycycle_startdate")), _day(data.get("paycycle_enddate"))
    if not (is_id(contractor, "cn") and is_id(job, "jb") and first and last and first <= last):
        return False
    params = {"contractor": str(contractor), "job": str(job), "first_day": first.isoformat(), "last_day": last.isoformat()}
    found = await _found(services.policy, "/v1/coverages/in_force", tenant, params)
    return isinstance(found, dict) and found.get("in_force") is True


async def in_transit(services: Services, tenant: str, error_code: str, body: bytes) -> str | None:
    """What is on its way, when the refusal ``error_code`` of the request ``body`` names a fact its
    owner has already; None: the refusal stands."""
    data = _object(body)
    contractor, job = data.get("contractor"), data.get("job")
    if error_code == "invalid_contractor_id" and is_id(contractor, "cn"):
        if await _found(services.contractor, f"/v1/contractors/{contractor}", tenant) is not None:
            return f"The contractor {contractor} was created a moment ago and is still on its way here; retry in a moment"
    elif error_code == "invalid_job_id" and is_id(job, "jb"):
        if await _found(services.contractor, f"/v1/jobs/{job}", tenant) is not None:
            return f"The job {job} was created or changed a moment ago and is still on its way here; retry in a moment"
    elif error_code == "no_active_policy" and await _coverage_on_its_way(services, tenant, data):
        return f"The coverage of {contractor} for {job} is bound and still on its way to billing; retry in a moment"
    return None
