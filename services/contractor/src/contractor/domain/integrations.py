"""Integration webhooks: the signature scheme and the two payload shapes we accept.

Signature (Stripe-style; 1099Policy documents none, see the reference §4): the caller sends
``X-Ten99-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`` (several
``v1=`` are allowed), computed with the company's signing secret for that provider. A signature
older or newer than the tolerance (5 minutes) is refused, so a captured call cannot be replayed
later.

Payloads. Each describes one person accepted for one piece of work; we map it to a contractor
(matched by email), a job (one per external work id) and an assignment (one per external id),
and keep the external ids in ``custom_metadata``. Only "accepted" deliveries are taken; others
are acknowledged and ignored. A repeated or updated delivery updates what it created.

Worksuite (a worker accepted on a task; money in dollars)::

    {"event": "task.worker_accepted", "id": "evt_...",
     "data": {"status": "accepted",
              "worker": {"id": "wrk_8841", "first_name": "Ada", "last_name": "Lovelace",
                         "email": "ada@example.com", "phone": "+1 415 555 0100",
                         "company_name": "Analytical Engines LLC",
                         "address": {"line1": "2211 Mission St", "line2": null, "city": "San Francisco",
                                     "state": "CA", "postal_code": "94110", "country": "US"}},
              "task": {"id": "tsk_5521", "title": "Photographer", "description": "Product shoot ...",
                       "category_code": "jc_photographer",            (optional: else from the title)
                       "client": {"name": "Nike"}, "work_state": "CA", ("remote" allowed)
                       "rate": {"amount": "2500.00", "type": "fixed"},  (fixed|hourly|unit|blended)
                       "start_date": "2026-11-10", "end_date": "2026-12-09",
                       "purchase_order": {"number": "PO-1", "contact_email": "ap@nike.com"},  (optional)
                       "project": {"name": "Spring 2027"}}}}             (optional: the campaign)

    external id: "<task.id>:<worker.id>"; contractor custom_metadata {"worksuite_id": worker.id};
    job custom_metadata {"worksuite_task_id": task.id}.

CreatorIQ (a creator moved to "Accepted" in a campaign; CustomField3 = PO #, CustomField4 = PO
contact email, as in 1099Policy's CreatorIQ guide)::

    {"EventType": "CreatorStatusChanged", "Status": "Accepted",
     "CampaignId": 4412, "CampaignName": "Spring 2027", "CampaignDescription": "Two short videos ...",
     "BrandName": "Nike", "StartDate": "2026-11-10", "EndDate": "2026-12-09",
     "Creator": {"CreatorId": 998877, "FirstName": "Ada", "LastName": "Lovelace",
                 "Email": "ada@example.com", "Phone": "+14155550100",
                 "Address": {"Street1": "2211 Mission St", "Street2": null, "City": "San Francisco",
                             "State": "CA", "Zip": "94110", "Country": "US"}},
     "PaymentAmount": 2500.00, "PaymentType": "flatfee", "WorkState": "CA",
     "CategoryCode": "jc_creator",                                   (optional: default jc_creator)
     "CustomField3": "PO-2027-001", "CustomField4": "ap@agency.com"}

    external id: "<CampaignId>:<CreatorId>"; contractor custom_metadata {"creatoriq_id": CreatorId};
    job custom_metadata {"creatoriq_campaign_id": CampaignId}.

Like CreatorIQ's own sync, a delivery without the creator's email, address (home state), pay or
work state fails (400 ``invalid_input`` naming what is missing). Missing dates default to
1099Policy's (start tomorrow, 30 days); a start already past is moved to today, because coverage
cannot be retroactive and refusing would only make the platform retry forever.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ten99kit import ApiError

from . import values as v
from .catalogue import category, match_category
from .rules import default_dates, end_date_problem

__all__ = ["PROVIDERS", "IntakeEvent", "is_accepted", "parse_payload", "sign", "verify_signature"]

PROVIDERS = ("worksuite", "creatoriq")
SIGNATURE_HEADER = "x-ten99-signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value a caller sends (used by tests and documentation)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(header: str | None, secret: str, body: bytes, now: int | Sequence[int], tolerance_s: int) -> None:
    """Raise 401 ``invalid_webhook_signature`` unless ``header`` signs ``body`` with ``secret`` at a
    time within ``tolerance_s`` of ``now`` (or of any of several "now"s)."""
    bad = ApiError("Missing or invalid webhook signature", error_code="invalid_webhook_signature", status_code=401)
    if not header:
        raise bad
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value.strip())
    if timestamp is None or not candidates:
        raise bad
    nows = [now] if isinstance(now, int) else list(now)
    if all(abs(n - timestamp) > tolerance_s for n in nows):
        raise ApiError(
            "Webhook signature timestamp is outside the tolerance", error_code="invalid_webhook_signature", status_code=401
        )
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise bad


@dataclass(frozen=True)
class IntakeEvent:
    """One accepted engagement from an integration, validated."""

    provider: str
    external_id: str
    accepted: bool
    contractor_external_id: str
    job_external_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: dict[str, Any]
    company_name: str | None
    entity_name: str
    job_name: str
    description: str
    category_code: str
    wage_cents: int
    wage_type: str
    work_state: str | None
    effective_date: date
    end_date: date
    po_number: str | None
    po_contact_email: str | None
    campaign: str | None

    @property
    def contractor_metadata(self) -> dict[str, str]:
        return {f"{self.provider}_id": self.contractor_external_id}

    @property
    def job_metadata(self) -> dict[str, str]:
        key = "worksuite_task_id" if self.provider == "worksuite" else "creatoriq_campaign_id"
        return {key: self.job_external_id}


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def take(self, name: str, fn: Callable[[Any], Any], value: Any) -> Any:
        try:
            return fn(value)
        except v.Invalid as e:
            self.items.append(f"{name}: {e}")
            return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ext_id(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    s = str(value).strip()
    return s[:100] or None


def _dollars(value: Any) -> int:
    if value is None or value == "":
        raise v.Invalid("pay amount is required")
    cents = v.parse_money_cents(value if isinstance(value, str) else str(value), what="pay amount")
    if cents < v.WAGE_MIN_CENTS or cents > v.WAGE_MAX_CENTS:
        raise v.Invalid("pay amount must be between $1 and $10,000,000")
    return cents


def _work_state(value: Any) -> str | None:
    s = v.text(value, max_length=40, what="work state")
    assert s is not None
    return None if s.lower() == "remote" else v.parse_state(s, what="work state")


def _opt_email(value: Any) -> str | None:
    return v.optional_email(value, what="PO contact email") if isinstance(value, str) else None


def _opt_date(value: Any) -> date | None:
    return None if value in (None, "") else v.parse_date(value)


def _finish(problems: _Problems, today: date, fields: dict[str, Any]) -> IntakeEvent:
    eff, end = fields.pop("effective_date"), fields.pop("end_date")
    if not problems.items:
        if eff is not None and eff < today:
            eff = today
        eff, end = default_dates(today, eff, end)
        problem = end_date_problem(eff, end)
        if problem:
            raise ApiError(problem, error_code="end_date_invalid")
    if problems.items:
        raise ApiError("The payload cannot be synced: " + "; ".join(problems.items), error_code="invalid_input")
    return IntakeEvent(effective_date=eff, end_date=end, **fields)


def _worksuite(body: dict[str, Any], today: date) -> IntakeEvent:
    data = _obj(body.get("data"))
    worker, task = _obj(data.get("worker")), _obj(data.get("task"))
    addr, rate = _obj(worker.get("address")), _obj(task.get("rate"))
    po, project, client = _obj(task.get("purchase_order")), _obj(task.get("project")), _obj(task.get("client"))
    problems = _Problems()
    worker_id, task_id = _ext_id(worker.get("id")), _ext_id(task.get("id"))
    if not worker_id:
        problems.items.append("data.worker.id is required")
    if not task_id:
        problems.items.append("data.task.id is required")
    title = problems.take("data.task.title", lambda x: v.text(x, what="title"), task.get("title"))
    code_text = task.get("category_code") or title or ""
    code = match_category(code_text) if code_text else None
    if title and code is None:
        problems.items.append(f"data.task: {code_text!r} matches no approved job category (send category_code)")
    fields = dict(
        provider="worksuite",
        external_id=f"{task_id}:{worker_id}",
        accepted=str(data.get("status") or body.get("status") or "").strip().lower() == "accepted",
        contractor_external_id=worker_id or "",
        job_external_id=task_id or "",
        first_name=problems.take(
            "data.worker.first_name", lambda x: v.text(x, max_length=100, what="first name"), worker.get("first_name")
        ),
        last_name=problems.take(
            "data.worker.last_name", lambda x: v.text(x, max_length=100, what="last name"), worker.get("last_name")
        ),
        email=problems.take("data.worker.email", v.parse_email, worker.get("email")),
        phone=problems.take("data.worker.phone", lambda x: v.text(x, max_length=40, required=False), worker.get("phone")),
        address=problems.take(
            "data.worker.address",
            v.parse_address,
            {
                "line1": addr.get("line1"),
                "line2": addr.get("line2"),
                "locality": addr.get("city"),
                "region": addr.get("state"),
                "postalcode": addr.get("postal_code"),
                "country": addr.get("country"),
            },
        ),
        company_name=problems.take("data.worker.company_name", lambda x: v.text(x, required=False), worker.get("company_name")),
        entity_name=problems.take("data.task.client.name", lambda x: v.text(x, what="client name"), client.get("name")),
        job_name=title or "",
        description=problems.take(
            "data.task.description", lambda x: v.text(x, max_length=2000, what="description"), task.get("description") or title
        ),
        category_code=code or "",
        wage_cents=problems.take("data.task.rate.amount", _dollars, rate.get("amount")),
        wage_type=problems.take("data.task.rate.type", v.parse_wage_type, rate.get("type") or "fixed"),
        work_state=problems.take("data.task.work_state", _work_state, task.get("work_state")),
        effective_date=problems.take("data.task.start_date", _opt_date, task.get("start_date")),
        end_date=problems.take("data.task.end_date", _opt_date, task.get("end_date")),
        po_number=problems.take(
            "data.task.purchase_order.number", lambda x: v.text(x, max_length=100, required=False), po.get("number")
        ),
        po_contact_email=problems.take("data.task.purchase_order.contact_email", _opt_email, po.get("contact_email")),
        campaign=problems.take("data.task.project.name", lambda x: v.text(x, required=False), project.get("name")),
    )
    return _finish(problems, today, fields)


def _creatoriq(body: dict[str, Any], today: date) -> IntakeEvent:
    creator = _obj(body.get("Creator"))
    addr = _obj(creator.get("Address"))
    problems = _Problems()
    creator_id, campaign_id = _ext_id(creator.get("CreatorId")), _ext_id(body.get("CampaignId"))
    if not creator_id:
        problems.items.append("Creator.CreatorId is required")
    if not campaign_id:
        problems.items.append("CampaignId is required")
    code = match_category(str(body.get("CategoryCode") or "jc_creator"))
    if code is None:
        problems.items.append(f"CategoryCode: {body.get('CategoryCode')!r} is not an approved job category")
    campaign_name = problems.take("CampaignName", lambda x: v.text(x, required=False), body.get("CampaignName"))
    cat = category(code or "jc_creator")
    assert cat is not None
    description = body.get("CampaignDescription") or (
        f"{cat.name} for the {campaign_name} campaign" if campaign_name else cat.description
    )
    fields = dict(
        provider="creatoriq",
        external_id=f"{campaign_id}:{creator_id}",
        accepted=str(body.get("Status") or "").strip().lower() == "accepted",
        contractor_external_id=creator_id or "",
        job_external_id=campaign_id or "",
        first_name=problems.take(
            "Creator.FirstName", lambda x: v.text(x, max_length=100, what="first name"), creator.get("FirstName")
        ),
        last_name=problems.take(
            "Creator.LastName", lambda x: v.text(x, max_length=100, what="last name"), creator.get("LastName")
        ),
        email=problems.take("Creator.Email", v.parse_email, creator.get("Email")),
        phone=problems.take("Creator.Phone", lambda x: v.text(x, max_length=40, required=False), creator.get("Phone")),
        address=problems.take(
            "Creator.Address",
            v.parse_address,
            {
                "line1": addr.get("Street1"),
                "line2": addr.get("Street2"),
                "locality": addr.get("City"),
                "region": addr.get("State"),
                "postalcode": addr.get("Zip"),
                "country": addr.get("Country"),
            },
        ),
        company_name=None,
        entity_name=problems.take("BrandName", lambda x: v.text(x, what="brand name"), body.get("BrandName")),
        job_name=campaign_name or cat.name,
        description=problems.take("CampaignDescription", lambda x: v.text(x, max_length=2000, what="description"), description),
        category_code=code or "",
        wage_cents=problems.take("PaymentAmount", _dollars, body.get("PaymentAmount")),
        wage_type=problems.take("PaymentType", v.parse_wage_type, body.get("PaymentType") or "flatfee"),
        work_state=problems.take("WorkState", _work_state, body.get("WorkState")),
        effective_date=problems.take("StartDate", _opt_date, body.get("StartDate")),
        end_date=problems.take("EndDate", _opt_date, body.get("EndDate")),
        po_number=problems.take("CustomField3", lambda x: v.text(x, max_length=100, required=False), body.get("CustomField3")),
        po_contact_email=problems.take("CustomField4", _opt_email, body.get("CustomField4")),
        campaign=campaign_name,
    )
    return _finish(problems, today, fields)


def is_accepted(provider: str, body: Any) -> bool:
    """Whether a delivery reports an acceptance (anything else is acknowledged and ignored)."""
    if not isinstance(body, dict):
        return False
    status = _obj(body.get("data")).get("status") or body.get("status") if provider == "worksuite" else body.get("Status")
    return str(status or "").strip().lower() == "accepted"


def parse_payload(provider: str, body: Any, today: date) -> IntakeEvent:
    if not isinstance(body, dict):
        raise ApiError("The webhook body must be a JSON object", error_code="invalid_input")
    if provider == "worksuite":
        return _worksuite(body, today)
    if provider == "creatoriq":
        return _creatoriq(body, today)
    raise ApiError(f"Unknown integration {provider!r} (worksuite or creatoriq)", error_code="resource_not_found", status_code=404)
