"""Fakes and helpers for the gateway's integration tests: the gateway running in-process on a real
PostgreSQL (and NATS, for the outbox), and fakes of the five services: one small Litestar app,
served by uvicorn on a free port, answering under ``/<service>/v1/...`` with per-tenant data and
recording every request's headers (so tests can assert the tenant and token the gateway sent)."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from gateway.application.accounts import create_company
from litestar import HttpMethod, Litestar, MediaType, Request, Response, route
from litestar.params import FromPath
from ten99_testing.hostile import RawAnswer
from ten99_testing.service import INTERNAL_TOKEN

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PASSWORD = "correct horse battery"


def ident(prefix: str, name: str) -> str:
    """A well-formed id for the fakes' data (``ident("cn", "1")`` is ``cn_0000000000000000000001``):
    the gateway refuses anything else in a path."""
    return f"{prefix}_{name:0>22}"


CN_1, CN_2 = ident("cn", "1"), ident("cn", "2")
AN_1, AN_2, AN_3, AN_9 = ident("an", "1"), ident("an", "2"), ident("an", "3"), ident("an", "9")
JB_9 = ident("jb", "9")
COI_1 = ident("coi", "1")
IB_1 = ident("ib", "1")
IN_1 = ident("in", "1")
ML_1 = ident("ml", "1")


@dataclass
class Seen:
    service: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


Handler = Callable[[Seen], Any]


@dataclass
class FakeServices:
    """The five services, faked. ``on(service, method, path_regex)`` overrides an answer."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    overrides: list[tuple[str, str, re.Pattern[str], Handler]] = field(default_factory=list)
    po_missing: dict[str, list[str]] = field(default_factory=dict)

    def on(self, service: str, method: str, path: str, handler: Handler) -> None:
        self.overrides.insert(0, (service, method.upper(), re.compile(f"^{path}$"), handler))

    def calls(self, service: str | None = None, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (service is None or s.service == service)
            and (method is None or s.method == method)
            and (path is None or re.fullmatch(path, s.path))
        ]

    def base_urls(self) -> dict[str, str]:
        return {f"{name}_url": f"{self.url}/{name}" for name in ("contractor", "enrollment", "policy", "billing", "notification")}

    # ------------------------------------------------------------ default answers

    @staticmethod
    def integration_secret(provider: str, tenant: str, *, rotate: bool) -> dict[str, Any]:
        """contractor's shape: metadata and a hint; the secret only in the answer to a rotation."""
        if provider == "worksuite" and not rotate:
            return {"provider": provider, "configured": False, "hint": None, "created_at": None, "rotated_at": None}
        view = {
            "provider": provider,
            "configured": True,
            "hint": "whsec_…Ab3d",
            "created_at": "2030-01-01T09:30:00+00:00",
            "rotated_at": "2030-01-02T10:00:00+00:00" if rotate else None,
        }
        return {**view, "secret": f"whsec_new_{tenant}Ab3d"} if rotate else view

    @staticmethod
    def contractor(contractor_id: str, tenant: str) -> dict[str, Any]:
        return {
            "id": contractor_id,
            "object": "contractor",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "phone": "+1 555 0100",
            "address": {"line1": "1 Main St", "locality": "Austin", "region": "TX", "postalcode": "73301"},
            "tax_identification": "***-**-6789",
            "tenant_seen": tenant,
        }

    @staticmethod
    def invoice(*, with_lines: bool) -> dict[str, Any]:
        invoice: dict[str, Any] = {
            "id": IN_1,
            "object": "invoice",
            "number": "INV-0001",
            "status": "open",
            "purchase_order_number": "PO-7",
            "to_email": "po@acme.test",
            "cc_emails": ["billing@acme.test"],
            "issued_at": 1893456000,
            "due_date": 1896048000,
            "past_due": False,
            "total": 123456,
            "credited": 0,
            "amount_due": 123456,
        }
        if with_lines:
            invoice["lines"] = [
                {
                    "object": "invoice_line",
                    "assignment": AN_2,
                    "contractor_name": "Ada Lovelace",
                    "description": "Ada Lovelace – Model",
                    "paycycle_startdate": 1893456000,
                    "paycycle_enddate": 1896048000,
                    "gross_pay": 10000000,
                    "net_rate": 120,
                    "premium_due": 120000,
                    "platform_fee": 3456,
                    "amount": 123456,
                    "credited": False,
                }
            ]
        return invoice

    def answer(self, s: Seen) -> Any:
        for service, method, pattern, handler in self.overrides:
            if service == s.service and method == s.method and pattern.match(s.path):
                return handler(s)
        tenant = s.headers.get("x-tenant-id", "")
        key = (s.service, s.method, s.path)
        if key == ("contractor", "GET", "/v1/roster"):
            rows = [
                {
                    "contractor_id": CN_1,
                    "name": f"Ada of {tenant}",
                    "email": "ada@example.com",
                    "status": "invited",
                    "assignments": 2,
                    "assignments_missing_po": 1,
                },
                {
                    "contractor_id": CN_2,
                    "name": f"Bob of {tenant}",
                    "email": "bob@example.com",
                    "status": "covered",
                    "assignments": 1,
                    "assignments_missing_po": 0,
                },
            ]
            return {
                "rows": rows,
                "summary": {
                    "contractors": 2,
                    "assignments_missing_po": len(self.po_missing.get(tenant, [AN_1])),
                    "by_status": {"invited": 1, "covered": 1},
                },
            }
        if s.service == "contractor" and s.method == "GET" and re.fullmatch(r"/v1/contractors/cn_[^/]+", s.path):
            return self.contractor(s.path.rsplit("/", 1)[1], tenant)
        ids = dict(parse_qsl(s.query)).get("ids") if key == ("contractor", "GET", "/v1/contractors") else None
        if ids is not None:
            # the batch read by id (the Uploads page's names): every id asked is one of the company's
            found = [self.contractor(cid, tenant) for cid in ids.split(",")]
            return {"object": "list", "data": found, "has_more": False, "url": "/v1/contractors"}
        if s.service == "contractor" and s.method == "GET" and re.fullmatch(r"/v1/contractors/[^/]+/assignments", s.path):
            return {
                "object": "list",
                "data": [
                    {
                        "id": AN_1,
                        "job": {"id": "jb_1", "name": "Photographer", "entity": {"id": "en_1", "name": "Nike"}},
                        "effective_date": 1893456000,
                        "end_date": 1896134400,
                        "po_number": None,
                        "status": "active",
                    },
                    {
                        "id": AN_2,
                        "job": {"id": "jb_2", "name": "Model"},
                        "entity": {"id": "en_2", "name": "Acme"},
                        "effective_date": "2030-02-01",
                        "end_date": "2030-02-28",
                        "po_number": "PO-7",
                        "status": "active",
                    },
                ],
                "has_more": False,
                "url": "/v1/contractors/x/assignments",
            }
        if key == ("policy", "GET", "/v1/coverages"):
            return {
                "object": "list",
                "data": [
                    {
                        "coverage_id": "cv_1",
                        "assignment_id": AN_1,
                        "status": "active",
                        "effective_date": "2030-01-01",
                        "end_date": "2030-01-31",
                        "coverage_types": ["general", "workers-comp"],
                        "certificate": {"certificate_id": COI_1, "number": "C-0001", "issued_at": "2030-01-01T00:00:00Z"},
                    }
                ],
            }
        if s.service == "policy" and s.method == "GET" and re.fullmatch(r"/v1/certificates/[^/]+/pdf", s.path):
            return Response(PDF, media_type="application/pdf")
        if s.service == "policy" and s.method == "GET" and s.path.startswith("/v1/public/certificates/"):
            if "token=good" not in s.query:
                return Response({"error_code": "link_expired", "message": "expired"}, status_code=410)
            return Response(PDF, media_type="application/pdf")
        if key == ("enrollment", "GET", "/v1/invitations/current"):
            return {
                "invitation_id": "inv_1",
                "status": "pending",
                "opt_in_url": "http://127.0.0.1:8000/opt-in/tok_abcdefghijkl",
                "expires_at": "2030-02-01T00:00:00Z",
                "sent_at": "2030-01-01T00:00:00Z",
                "reminders_sent": 0,
            }
        if key == ("enrollment", "POST", "/v1/invitations/reissue"):
            return {"invitation_id": "inv_2", "status": "pending", "opt_in_url": "http://127.0.0.1:8000/opt-in/tok_new"}
        if s.service == "enrollment" and s.path.startswith("/v1/opt-in/"):
            token = s.path.rsplit("/", 1)[1]
            state = {"tok_expired_123": "expired", "tok_answered_123": "answered", "tok_revoked_123": "revoked"}.get(
                token, "open"
            )
            if token == "tok_unknown_123":
                return Response({"error_code": "resource_not_found", "message": "no such link"}, status_code=404)
            if s.method == "GET":
                return {
                    "state": state,
                    "company_name": "Acme Talent",
                    "prefill": {
                        "first_name": "Ada",
                        "last_name": "Lovelace",
                        "email": "ada@example.com",
                        "phone": "+1 555 0100",
                        "address": {
                            "line1": "1 Main St",
                            "line2": None,
                            "locality": "Austin",
                            "region": "TX",
                            "postalcode": "73301",
                        },
                        "assignments": [
                            {
                                "job": "Photographer",
                                "entity": "Nike",
                                "effective_date": "2030-01-01",
                                "end_date": "2030-01-31",
                                "work_state": "TX",
                            }
                        ],
                    },
                    "questions": [
                        {
                            "id": "claims_last_3_years",
                            "text": "Have you had an insurance claim in the last 3 years?",
                            "type": "boolean",
                        }
                    ],
                    "consent_text": "I agree to be insured.",
                }
            if state != "open":  # as enrollment: a closed link answers a POST with its state, writing nothing
                return {"state": state, "company_name": "Acme Talent", "prefill": None, "questions": []}
            return {
                "state": "completed",
                "session_id": "ias_01TEST",
                "quotes": [
                    {
                        "job": "Photographer",
                        "entity": "Nike",
                        "coverage_types": ["general"],
                        "effective_date": "2030-01-01",
                        "end_date": "2030-01-31",
                    }
                ],
            }
        if key == ("contractor", "POST", "/v1/imports"):
            return Response({"id": IB_1, "status": "queued"}, status_code=202)
        if key == ("contractor", "GET", "/v1/imports"):
            return {
                "object": "list",
                "data": [
                    {
                        "id": IB_1,
                        "filename": "people.csv",
                        "status": "completed",
                        "rows_total": 3,
                        "rows_done": 2,
                        "rows_failed": 1,
                    }
                ],
            }
        if key == ("contractor", "GET", f"/v1/imports/{IB_1}"):
            return {
                "id": IB_1,
                "filename": "people.csv",
                "status": "running",
                "rows_total": 3,
                "rows_done": 1,
                "rows_failed": 1,
                "errors": [{"line": 3, "column": "email", "reason": "not an email address"}],
            }
        if key == ("contractor", "GET", f"/v1/imports/{IB_1}/errors.csv"):
            return Response(b"line,column,reason\r\n3,email,not an email address\r\n", media_type="text/csv")
        if key == ("contractor", "GET", "/v1/po/missing"):
            ids = self.po_missing.setdefault(tenant, [AN_1, AN_2, AN_3])
            return {
                "count": len(ids),
                "assignments": [
                    {
                        "assignment_id": i,
                        "contractor_id": CN_1,
                        "contractor_name": "Ada Lovelace",
                        "contractor_email": "ada@example.com",
                        "job_name": "Photographer",
                        "entity_name": "Nike",
                        "campaign": "Spring" if i != AN_3 else "Fall",
                        "effective_date": "2030-01-01",
                        "end_date": "2030-01-31",
                    }
                    for i in ids
                ],
            }
        if key == ("contractor", "POST", "/v1/po/bulk-set"):
            body = json.loads(s.body)
            ids = self.po_missing.setdefault(tenant, [AN_1, AN_2, AN_3])
            chosen = body.get("assignment_ids") or ([AN_3] if body.get("campaign") == "Fall" else [])
            self.po_missing[tenant] = [i for i in ids if i not in chosen]
            return {"updated": len(ids) - len(self.po_missing[tenant])}
        if key == ("billing", "GET", "/v1/settings"):
            return {"billing_email": "billing@acme.test", "premium_payer": "company", "platform_fee_bps": 250}
        if key == ("billing", "PUT", "/v1/settings"):
            return json.loads(s.body)
        if key == ("billing", "GET", "/v1/invoices"):
            # billing's shape: epoch seconds, money in cents under 1099Policy-like names
            return {"object": "list", "data": [self.invoice(with_lines=False)], "has_more": False, "url": "/v1/invoices"}
        if key == ("billing", "GET", f"/v1/invoices/{IN_1}"):
            return self.invoice(with_lines=True)
        if key == ("billing", "GET", f"/v1/invoices/{IN_1}/pdf"):
            return Response(PDF, media_type="application/pdf")
        if key == ("billing", "POST", f"/v1/invoices/{IN_1}/mark-paid"):
            return {"id": IN_1, "status": "paid"}
        if s.service == "contractor" and re.fullmatch(r"/v1/integrations/[a-z]+/secret", s.path):
            return self.integration_secret(s.path.split("/")[3], tenant, rotate=s.method == "POST")
        if s.service == "contractor" and re.fullmatch(r"/v1/integrations/[a-z]+/webhook", s.path):
            return Response({"received": True, "tenant": tenant}, status_code=202)
        if key == ("notification", "GET", "/v1/mailbox"):
            return {
                "messages": [
                    {
                        "id": ML_1,
                        "to": ["ada@example.com"],
                        "subject": "Your opt-in link",
                        "received_at": "2030-01-01T00:00:00Z",
                        # as notification lists them (issue 15: the list now names attachments)
                        "attachments": [
                            {"index": 0, "filename": "certificate.pdf", "content_type": "application/pdf", "size": len(PDF)}
                        ],
                    }
                ]
            }
        if key == ("notification", "GET", f"/v1/mailbox/{ML_1}"):
            return {
                "id": ML_1,
                "from": "no-reply@ten99.test",
                "to": ["ada@example.com"],
                "subject": "Your opt-in link",
                "text": "Hello Ada",
                "html": "<p>Hello <b>Ada</b><script>alert(1)</script></p>",
                "attachments": [{"n": 0, "filename": "certificate.pdf", "content_type": "application/pdf", "size": len(PDF)}],
            }
        if key == ("notification", "GET", f"/v1/mailbox/{ML_1}/attachments/0"):
            return Response(
                PDF, media_type="application/pdf", headers={"Content-Disposition": 'attachment; filename="certificate.pdf"'}
            )
        # public-API resources: echo what was asked, in 1099Policy's shape
        if s.service == "contractor" and s.path.startswith("/v1/entities"):
            if s.method == "POST":
                body = json.loads(s.body or b"{}")
                if not body.get("name"):
                    return Response({"error_code": "invalid_input", "message": {"name": "required"}}, status_code=400)
                return Response(
                    {
                        "id": f"en_{len(self.calls('contractor', 'POST'))}",
                        "object": "entity",
                        "name": body["name"],
                        "tenant": tenant,
                    },
                    status_code=201,
                )
            return {
                "object": "list",
                "data": [{"id": "en_1", "object": "entity", "name": f"Nike for {tenant}"}],
                "has_more": False,
                "url": "/v1/entities",
            }
        if key == ("contractor", "GET", "/v1/assignments"):
            return {
                "object": "list",
                "data": [{"id": AN_9, "object": "assignment", "job": JB_9, "status": "scheduled"}],
                "has_more": False,
                "url": "/v1/assignments",
            }
        if s.service == "contractor" and re.fullmatch(r"/v1/assignments/an_[^/]+/(cancel|extend)", s.path):
            return {
                "id": s.path.split("/")[3],
                "object": "assignment",
                "status": "cancelled" if s.path.endswith("cancel") else "scheduled",
            }
        if key == ("policy", "GET", "/v1/policies"):
            return {"object": "list", "data": [], "has_more": False, "url": "/v1/policies"}
        return Response({"error_code": "resource_not_found", "message": f"fake has no {s.method} {s.path}"}, status_code=404)


def fake_app(fake: FakeServices) -> Litestar:
    @route(
        "/{service:str}/{path:path}",
        http_method=[HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE],
        status_code=200,
    )
    async def handle(request: Request[Any, Any, Any], service: FromPath[str], path: FromPath[str]) -> Response[Any]:
        seen = Seen(
            service,
            request.method,
            path,
            request.url.query or "",
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        fake.seen.append(seen)
        if seen.headers.get("x-ten99-internal-token") != INTERNAL_TOKEN:
            return Response({"error_code": "invalid_api_key", "message": "internal token"}, status_code=401)
        result = fake.answer(seen)
        if inspect.isawaitable(result):  # a handler that answers later (`on(..., lambda s: coroutine)`)
            result = await result
        if isinstance(result, Response):
            return result
        return Response(result, media_type=MediaType.JSON)

    return Litestar(route_handlers=[handle], debug=False, logging_config=None)


# ------------------------------------------------------------ helpers for the tests

_HIDDEN_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _HIDDEN_CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def make_company(svc: Any, name: str, email: str) -> str:
    company, _ = await create_company(svc.db, svc.runtime.gateway.passwords, name=name, email=email, password=PASSWORD)
    return company.id


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "_csrf": csrf_of(page.text), "next": "/contractors"}
    )


def new_client(svc: Any) -> httpx.AsyncClient:
    """Another browser (its own cookies) against the same gateway."""
    return httpx.AsyncClient(transport=svc.client._transport, base_url="http://testserver")


async def raw_request(
    svc: Any, method: str, target: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> RawAnswer:
    """Send ``method target`` to the gateway's app as a server would hand it over, byte for byte:
    HTTP clients resolve ``..`` and re-encode paths, an attacker's request is not normalised.
    ``path`` is the percent-decoded target and ``raw_path`` the target as sent, as uvicorn does."""
    app = svc.client._transport.app
    raw_path, _, query = target.encode("latin-1").partition(b"?")
    text = raw_path.decode("latin-1")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(text) if "%" in text else text,
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-length", str(len(body)).encode()),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent_body = False
    status, response_headers, chunks = 0, {}, []

    async def receive() -> dict[str, Any]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])})
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return RawAnswer(status, response_headers, b"".join(chunks))
