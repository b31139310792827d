"""The public API, ``/api/v1/...``, compatible with 1099Policy's (so its SDKs work pointed here).

- Routing is an allow-list: `OPERATIONS` names every (method, path) the API offers, the service
  that owns it and the service path it becomes; each is one Litestar route. An id in a path must be
  the resource's prefixed id (``en_...``, ``cn_...``: `ids.py`), and the service path is built from
  the checked ids only, never from the caller's path. What is not on the list reaches no service:
  - a path that is not on the list (unknown resource or sub-path, dot segments, an encoded ``/`` or
    ``\\``, ``;``, control characters, anything but letters, digits, ``_`` and ``/``): 404
    ``resource_not_found``;
  - a malformed id: 404 with the resource's code (``invalid_contractor_id``, ...), as an unknown id;
  - a path on the list with a method it does not offer: 405 ``bad_request`` with ``Allow``.
- Query strings: a list passes on only the parameters it knows (pagination and its filters; others
  are dropped, as the services would ignore them anyway); other operations pass on none. A query
  that is not ASCII, not UTF-8 once decoded, or holds a control character or NUL is a 400
  ``invalid_input``. The SDK's JSON-object form (``?{"email": ...}``) is understood (`query_pairs`).
- Auth: ``Authorization: Bearer <api key>``, or HTTP Basic with the key as user name. The key
  decides the company: the tenant sent to the services is always the key's, never the caller's.
  Checked after the path (a path not on the list is a 404 without a database lookup).
- Answers are the services' (status and body); list envelopes get their ``url`` rewritten to
  ``/api/v1/...``. A call that cannot be made or answered is a 503 ``general_error``, never a 500.
- Idempotency: a POST with ``Ten99Policy-Idempotent-Key`` (or ``Idempotency-Key``) replays its
  first response for 24 h; the same key with a different request is refused (409
  ``idempotency_key_reused``); a retry while the first is running gets 409 ``request_in_progress``.
  The key is passed on to the service (``X-Ten99-Idempotency-Key``, hashed with the request),
  because the gateway's own record of the response is written after the service's commit: a
  gateway that dies or loses its database in between, or a service that commits and then fails to
  answer, would otherwise leave a retry to do the thing twice. The creates of entities, jobs,
  contractors, assignments and usage invoices are deduplicated by the key at the service, in the transaction that
  creates (`ten99kit.request_keys`); cancel and extend are harmless to repeat. For those
  (`Operation.replayable`) a retry never waits for the first (the service answers both alike), and
  a 5xx or an unanswered call is not remembered (the retry asks the service again).
- A create that names an id its service has not heard of yet (a quote's contractor or job, a usage
  invoice's coverage) is checked with the id's owner: a retryable 409 ``resource_not_ready`` while it
  is on its way (`arrivals.py`), never remembered for an idempotency key.
- ``GET /api/v1/openapi.json`` is the API's OpenAPI 3.1 document (no key needed: `reference.py`).
- Every response has a ``request-id`` header (the correlation id, also sent to the services).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, unquote_to_bytes

import msgspec
from litestar import HttpMethod, MediaType, Request, Response, Router, route
from litestar.handlers import HTTPRouteHandler
from ten99kit.http import COMPRESSION_MINIMUM, NO_COMPRESSION, gzipped
from ten99kit.logging import get_logger
from ten99kit.request_keys import IDEMPOTENCY_KEY_HEADER

from ..adapters.services import Forwarded, ServiceError, ServiceUnavailable
from ..application.answers import Kept
from ..application.api_keys import identify_api_key
from ..application.idempotency import abandon, claim, record_response, request_fingerprint
from ..web.actors import act_as_api_key
from ..web.common import gateway_of
from .arrivals import NOT_READY, NOT_READY_HEADERS, in_transit
from .ids import is_id
from .reference import openapi_document

__all__ = ["OPERATIONS", "Operation", "api_key_of", "public_api_router", "query_pairs"]

log = get_logger(__name__)

GET, POST, PUT, DELETE = HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.DELETE
IDEMPOTENCY_HEADERS = ("ten99policy-idempotent-key", "idempotency-key")
PAGE = ("limit", "starting_after", "ending_before")


@dataclass(frozen=True)
class IdKind:
    prefix: str
    error_code: str
    noun: str
    #: what the id must look like (`re.fullmatch`): by default ``<prefix>_`` and 20 to 40 letters or digits
    pattern: str = ""

    @property
    def regex(self) -> str:
        return self.pattern or rf"{self.prefix}_[0-9A-Za-z]{{20,40}}"

    def matches(self, value: str) -> bool:
        return re.fullmatch(self.regex, value) is not None if self.pattern else is_id(value, self.prefix)


#: the path parameters of `OPERATIONS`, and what each must look like
ID_PARAMS = {
    "entity_id": IdKind("en", "invalid_entity_id", "entity"),
    "contractor_id": IdKind("cn", "invalid_contractor_id", "contractor"),
    "job_id": IdKind("jb", "invalid_job_id", "job"),
    "quote_id": IdKind("qt", "invalid_quote_id", "quote"),
    "session_id": IdKind("ias", "invalid_session_id", "application session"),
    "policy_id": IdKind("pl", "invalid_policy_id", "policy"),
    "assignment_id": IdKind("an", "invalid_assignment_id", "assignment"),
    "invoice_id": IdKind("in", "invalid_invoice_id", "invoice"),
    # the seeded catalogue's codes are words (``jc_photographer``), as 1099Policy's
    "code_id": IdKind("jc", "invalid_job_category_code", "category code", r"jc_[0-9A-Za-z_]{1,60}"),
    "event_id": IdKind("ev", "invalid_event_id", "event"),
    "endpoint_id": IdKind("whe", "invalid_webhook_endpoint_id", "webhook endpoint"),
    "upload_id": IdKind("ci", "invalid_certificate_id", "uploaded certificate"),
}


@dataclass(frozen=True)
class Operation:
    """One call of the public API: ``method /api/v1<path>`` becomes ``method <upstream>`` on ``service``."""

    name: str
    method: HttpMethod
    #: under /api/v1, in Litestar's syntax; every parameter is one of `ID_PARAMS`
    path: str
    service: str
    #: the query parameters passed on; any other is dropped
    query: tuple[str, ...] = ()
    #: the service's path, filled in with the checked ids; by default ``/v1<path>``
    upstream: str = ""
    #: the contractor's policies: the contractor id goes to the service as this query parameter
    id_as_query: tuple[str, str] | None = None
    #: 1099Policy's ``/assignments/cancel|extend`` name the job (``job_id`` in the body), not the assignment
    by_job: bool = False
    #: the service deduplicates this POST by the idempotency key in its own transaction, so the
    #: call may be forwarded again whatever became of an earlier one with the key
    replayable: bool = False
    #: query parameters sent to the service when the caller gives none of that name
    default_query: tuple[tuple[str, str], ...] = ()
    #: a refusal of an id the service has not heard of yet is checked with its owner: a 409
    #: ``resource_not_ready`` if the owner has it (`arrivals`)
    in_transit: bool = False
    #: its answer holds a secret shown once (a webhook endpoint's): the answer kept for an idempotency
    #: key's replays has it removed, so that no secret lies in the gateway's database
    shows_secret: bool = False
    #: an operation the SDK offers that the service always refuses, saying how ten99 does it:
    #: (status, error code, when) for the OpenAPI document (the service answers them)
    refuses: tuple[tuple[int, str, str], ...] = ()
    #: a retrieve whose 200 answer the gateway keeps under this id (`application.answers`)
    cached: str = ""
    #: a change of the resource of this id: its kept answer is dropped before the change is answered
    drops: str = ""

    def upstream_path(self, ids: dict[str, str]) -> str:
        template = self.upstream or "/v1" + re.sub(r"\{(\w+):str\}", r"{\1}", self.path)
        return template.format(**ids)


def _crud(
    resource: str,
    service: str,
    param: str,
    filters: tuple[str, ...],
    *,
    remove: bool = False,
    replayable: bool = False,
    in_transit: tuple[str, ...] = (),
    shows_secret: bool = False,
    cached: bool = False,
) -> list[Operation]:
    """List, create, retrieve and update ``resource`` (``apply/sessions``), and delete when offered;
    ``cached``: the retrieve's answers are kept, and dropped by this process's update and delete."""
    name, one = resource.replace("/", "_"), f"/{resource}/{{{param}:str}}"
    kept = param if cached else ""
    return [
        Operation(f"list_{name}", GET, f"/{resource}", service, (*PAGE, *filters)),
        Operation(
            f"create_{name}",
            POST,
            f"/{resource}",
            service,
            replayable=replayable,
            in_transit="create" in in_transit,
            shows_secret=shows_secret,
        ),
        Operation(f"retrieve_{name}", GET, one, service, cached=kept),
        Operation(f"update_{name}", PUT, one, service, drops=kept),
        *([Operation(f"delete_{name}", DELETE, one, service, drops=kept)] if remove else []),
    ]


#: a policy's update and delete: its terms are its quote's, and it ends by itself
_POLICY_KEPT = (
    (400, "bad_request", "a policy of the company's: it is not changed or deleted (what to do instead)"),
    (404, "invalid_policy_id", "no policy of the company's has this id"),
)

#: everything the public API offers: the services' /v1 operations on 1099Policy's resources
OPERATIONS: tuple[Operation, ...] = (
    *_crud("entities", "contractor", "entity_id", (), remove=True, replayable=True),
    *_crud("contractors", "contractor", "contractor_id", ("email",), remove=True, replayable=True, cached=True),
    Operation(
        "list_contractor_policies",
        GET,
        "/contractors/{contractor_id:str}/policies",
        "policy",
        PAGE,
        upstream="/v1/policies",
        id_as_query=("contractor_id", "contractor"),
    ),
    Operation("list_contractor_assignments", GET, "/contractors/{contractor_id:str}/assignments", "contractor"),
    Operation("list_category_codes", GET, "/category_codes", "contractor"),
    Operation("retrieve_category_code", GET, "/category_codes/{code_id:str}", "contractor"),
    *_crud("jobs", "contractor", "job_id", ("entity",), remove=True, replayable=True),
    *_crud("assignments", "contractor", "assignment_id", ("contractor", "job"), remove=True, replayable=True),
    # cancelling a cancelled assignment, or extending to the end it has, changes nothing: replayable
    Operation("cancel_assignment", POST, "/assignments/{assignment_id:str}/cancel", "contractor", replayable=True),
    Operation("extend_assignment", POST, "/assignments/{assignment_id:str}/extend", "contractor", replayable=True),
    Operation(
        "cancel_assignment_of_job",
        POST,
        "/assignments/cancel",
        "contractor",
        upstream="/v1/assignments/{assignment_id}/cancel",
        by_job=True,
        replayable=True,
    ),
    Operation(
        "extend_assignment_of_job",
        POST,
        "/assignments/extend",
        "contractor",
        upstream="/v1/assignments/{assignment_id}/extend",
        by_job=True,
        replayable=True,
    ),
    *_crud("quotes", "enrollment", "quote_id", ("contractor", "job"), in_transit=("create",)),
    *_crud("apply/sessions", "enrollment", "session_id", ("contractor",)),
    Operation("expire_apply_session", POST, "/apply/sessions/{session_id:str}/expire", "enrollment"),
    Operation("list_policies", GET, "/policies", "policy", (*PAGE, "quote", "contractor", "status")),
    Operation("retrieve_policy", GET, "/policies/{policy_id:str}", "policy"),
    # the SDK's create, update and delete answer 1099Policy errors saying how ten99 does each
    # (docs/public-api.md, "Policies")
    Operation(
        "create_policies",
        POST,
        "/policies",
        "policy",
        refuses=((403, "custom_applications_disabled", "always: a policy is bound by the application session"),),
    ),
    Operation("update_policies", PUT, "/policies/{policy_id:str}", "policy", refuses=_POLICY_KEPT),
    Operation("delete_policies", DELETE, "/policies/{policy_id:str}", "policy", refuses=_POLICY_KEPT),
    # an API client sees both kinds (the usage invoices it reports and ten99's own per-PO invoices)
    # unless it asks for one (`kind=usage|enterprise`)
    Operation(
        "list_invoices",
        GET,
        "/invoices",
        "billing",
        (*PAGE, "kind", "status", "po_number", "contractor", "job"),
        default_query=(("kind", "all"),),
    ),
    # a usage invoice: billing records the key with the invoice in the create's transaction
    Operation("create_invoice", POST, "/invoices", "billing", replayable=True, in_transit=True),
    Operation("retrieve_invoice", GET, "/invoices/{invoice_id:str}", "billing"),
    # a usage invoice while unpaid: a new gross pay or pay cycle re-prices it; delete voids it
    Operation("update_invoice", PUT, "/invoices/{invoice_id:str}", "billing"),
    Operation("delete_invoice", DELETE, "/invoices/{invoice_id:str}", "billing"),
    Operation("invoice_pdf", GET, "/invoices/{invoice_id:str}/pdf", "billing"),
    Operation("void_invoice", POST, "/invoices/{invoice_id:str}/void", "billing"),
    Operation("mark_invoice_paid", POST, "/invoices/{invoice_id:str}/mark-paid", "billing"),
    Operation("list_events", GET, "/events", "notification", (*PAGE, "type", "created_gte", "created_lte")),
    Operation("retrieve_event", GET, "/events/{event_id:str}", "notification"),
    # a contractor's own certificate of insurance: a multipart upload (``certificate``, ``contractor``,
    # ``assignment``?) reviewed at once by policy (docs/uploaded-certificates.md)
    Operation(
        "list_files_certificates", GET, "/files/certificates", "policy", (*PAGE, "contractor", "status"), upstream="/v1/uploads"
    ),
    Operation("create_files_certificates", POST, "/files/certificates", "policy", upstream="/v1/uploads"),
    Operation(
        "retrieve_files_certificates", GET, "/files/certificates/{upload_id:str}", "policy", upstream="/v1/uploads/{upload_id}"
    ),
    *_crud("webhook_endpoints", "notification", "endpoint_id", (), remove=True, shows_secret=True),
    # a new secret shown once; the old one signs beside it for 24 h (docs/public-api.md, "Webhooks")
    Operation(
        "rotate_webhook_endpoint_secret",
        POST,
        "/webhook_endpoints/{endpoint_id:str}/rotate_secret",
        "notification",
        upstream="/v1/webhook_endpoints/{endpoint_id}/secret",
        shows_secret=True,
    ),
)

#: an API path holds resource names, ids and slashes only: nothing to decode, resolve or split
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_/-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MAX_QUERY_VALUE = 1000
#: a content type worth passing on (the services read JSON; anything odd becomes that)
_CONTENT_TYPE = re.compile(r"[\x20-\x7e]{1,200}")


class Refused(Exception):
    """The request is refused at the gateway: nothing was forwarded."""

    def __init__(self, status_code: int, error_code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        self.headers = headers

    def response(self) -> Response[Any]:
        return _error(self.status_code, self.error_code, self.message, self.headers)


@dataclass(frozen=True)
class Answer:
    """What goes back to the caller (the service's answer, or the gateway's refusal)."""

    status_code: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    #: the gateway's answer that nothing happened yet (not remembered for an idempotency key)
    not_ready: bool = False


def _error(status_code: int, error_code: str, message: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        {"error_code": error_code, "message": message}, status_code=status_code, media_type=MediaType.JSON, headers=headers
    )


def _error_answer(status_code: int, error_code: str, message: str) -> Answer:
    return Answer(status_code, MediaType.JSON, msgspec.json.encode({"error_code": error_code, "message": message}))


def api_key_of(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """The query's parameters. 1099Policy's Python SDK sends a GET's parameters as a JSON object in
    the query string (``?{"email": "a@b.c"}``); both that and the usual form are understood."""
    text = unquote_plus(raw_query or "")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            pairs: list[tuple[str, str]] = []
            for key, value in data.items():
                for item in value if isinstance(value, list) else [value]:
                    if item is None:
                        continue
                    pairs.append((str(key), json.dumps(item) if isinstance(item, bool | dict) else str(item)))
            return pairs
    return parse_qsl(raw_query or "", keep_blank_values=False)


# ------------------------------------------------------------------ checks before anything is forwarded


def _check_path(request: Request[Any, Any, Any]) -> None:
    """The path as sent and as decoded: only letters, digits, ``_``, ``-`` and ``/``."""
    raw = request.scope.get("raw_path") or b""
    decoded = request.scope.get("path") or ""
    if not _PLAIN_PATH.fullmatch(decoded) or (raw and not _PLAIN_PATH.fullmatch(raw.decode("latin-1"))):
        raise Refused(404, "resource_not_found", "No such resource: the path is not one of the API's")


def _checked_ids(request: Request[Any, Any, Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for name, value in request.path_params.items():
        kind = ID_PARAMS[name]
        if not kind.matches(value):
            shape = "letters, digits or _" if kind.pattern else "20 to 40 letters or digits"
            raise Refused(404, kind.error_code, f"No such {kind.noun}: its id looks like {kind.prefix}_ and {shape}")
        ids[name] = value
    return ids


def _checked_query(request: Request[Any, Any, Any], allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    """The query parameters to pass on; `Refused` (400) if any is not clean text."""
    raw = request.scope.get("query_string") or b""
    if not raw:
        return []
    try:
        text = raw.decode("ascii")
        unquote_to_bytes(text.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "invalid_input", "The query string is not valid UTF-8 text") from None
    pairs = query_pairs(text)
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise Refused(400, "invalid_input", "The query string holds control characters")
        if len(name) > 100 or len(value) > _MAX_QUERY_VALUE:
            raise Refused(400, "invalid_input", f"A query parameter is longer than {_MAX_QUERY_VALUE} characters")
    return [(name, value) for name, value in pairs if name in allowed]


async def _tenant_of(request: Request[Any, Any, Any]) -> str:
    key = api_key_of(request)
    found = await identify_api_key(gateway_of(request).db, key) if key else None
    if found is None:
        raise Refused(
            401,
            "invalid_api_key",
            "Missing or invalid API key: send Authorization: Bearer <key>",
            headers={"WWW-Authenticate": 'Bearer realm="ten99"'},
        )
    tenant, key_id = found
    act_as_api_key(key_id)
    return tenant


# ------------------------------------------------------------------ forwarding


def _rewrite_list_url(body: bytes, content_type: str) -> bytes:
    if "json" not in content_type or not body.startswith(b"{") or b'"list"' not in body:
        return body  # not a list envelope: passed on as the service wrote it, never decoded
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if (
        isinstance(data, dict)
        and data.get("object") == "list"
        and isinstance(data.get("url"), str)
        and data["url"].startswith("/v1/")
    ):
        data["url"] = "/api" + data["url"]
        return msgspec.json.encode(data)
    return body


@dataclass(frozen=True)
class Call:
    """A checked request, ready to forward."""

    op: Operation
    tenant: str
    ids: dict[str, str]
    params: list[tuple[str, str]]
    body: bytes
    content_type: str
    #: a keyed POST's idempotency key as the service gets it (hashed with the request)
    idem_key: str | None = None


async def _forward(request: Request[Any, Any, Any], call: Call) -> Answer:
    """Pass the call to the owning service. `ServiceError` / `ServiceUnavailable` if a lookup before
    it was refused or failed; a call that cannot be made at all is a 503, never a 500."""
    op, ids, params = call.op, dict(call.ids), list(call.params)
    client = gateway_of(request).services.by_name(op.service)
    if op.by_job:
        resolved = await _assignment_by_job(request, call.tenant, call.body)
        if isinstance(resolved, Answer):
            return resolved
        ids["assignment_id"] = resolved
    if op.id_as_query is not None:
        param, query_name = op.id_as_query
        params.append((query_name, ids[param]))
    target = op.upstream_path(ids)
    headers = {"Content-Type": call.content_type} if call.body else {}
    if call.idem_key:
        headers[IDEMPOTENCY_KEY_HEADER] = call.idem_key
    upstream = await client.forward(
        op.method.value, target, tenant=call.tenant, params=params, content=call.body or None, headers=headers
    )
    content_type = upstream.headers.get("content-type", MediaType.JSON)
    if op.in_transit and upstream.status_code in (400, 404):
        pending = await _not_ready(request, call, upstream)
        if pending is not None:
            return pending
    passed = {"Content-Disposition": upstream.headers["content-disposition"]} if "content-disposition" in upstream.headers else {}
    return Answer(upstream.status_code, content_type, _rewrite_list_url(upstream.content, content_type), passed)


async def _not_ready(request: Request[Any, Any, Any], call: Call, upstream: Forwarded) -> Answer | None:
    """A retryable 409 if the service refused an id it has not heard of yet (`arrivals`)."""
    try:
        error_code = json.loads(upstream.content).get("error_code")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error_code, str):
        return None
    waiting = await in_transit(gateway_of(request).services, call.tenant, error_code, call.body)
    if waiting is None:
        return None
    body = msgspec.json.encode({"error_code": NOT_READY, "message": waiting})
    return Answer(409, MediaType.JSON, body, dict(NOT_READY_HEADERS), not_ready=True)


async def _assignment_by_job(request: Request[Any, Any, Any], tenant: str, body: bytes) -> str | Answer:
    """The job's live assignment (1099Policy's cancel and extend are keyed by job_id)."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return _error_answer(400, "invalid_input", "The body is not valid JSON")
    job_id = (data.get("job_id") or data.get("job")) if isinstance(data, dict) else None
    if not job_id or not isinstance(job_id, str):
        return _error_answer(400, "invalid_job_id", "job_id is required")
    if not is_id(job_id, "jb"):
        return _error_answer(404, "invalid_job_id", "No such job: its id looks like jb_ and 20 to 40 letters or digits")
    listing = await gateway_of(request).services.contractor.get(
        "/v1/assignments", tenant=tenant, params={"job": job_id, "limit": 100}
    )
    rows = listing.get("data", []) if isinstance(listing, dict) else []
    rows = [r for r in rows if isinstance(r, dict)]
    live = [r for r in rows if str(r.get("status") or "") not in ("cancelled", "deleted")] or rows
    if not live:
        return _error_answer(404, "invalid_assignment_id", f"No assignment for job {job_id}")
    assignment_id = live[0].get("id")
    if not is_id(assignment_id, "an"):
        raise ServiceUnavailable("contractor", "answered an assignment without a valid id")
    return str(assignment_id)


async def _forward_answer(request: Request[Any, Any, Any], call: Call) -> tuple[Answer, bool]:
    """The answer, and whether a service may have acted on the call (else an idempotency key is freed)."""
    answers = gateway_of(request).answers
    ticket = answers.ticket()
    try:
        answer = await _forward(request, call)
    except ServiceUnavailable as e:
        return _error_answer(503, "general_error", f"The {e.service} service {e.reason}; retry later"), False
    except ServiceError as e:  # a lookup before the call refused it: nothing happened
        answer = Answer(e.status_code, MediaType.JSON, msgspec.json.encode({"error_code": e.error_code, "message": e.message}))
        return answer, False
    finally:
        if call.op.drops:  # whatever the answer: the change may have been made
            answers.drop(call.tenant, call.ids[call.op.drops])
    if call.op.cached and answer.status_code == 200 and not answer.headers:
        answers.put(call.tenant, call.ids[call.op.cached], Kept.of(answer.content_type, answer.body), ticket)
    return answer, not answer.not_ready


# ------------------------------------------------------------------ the route handlers


async def _serve(request: Request[Any, Any, Any], op: Operation) -> Response[Any]:
    try:
        _check_path(request)
        ids = _checked_ids(request)
        tenant = await _tenant_of(request)
        params = _checked_query(request, op.query)
        given = {name for name, _ in params}
        params += [(name, value) for name, value in op.default_query if name not in given]
    except Refused as refused:
        return refused.response()
    if op.cached:
        kept = gateway_of(request).answers.get(tenant, ids[op.cached])
        if kept is not None:
            return _gzipped_here(request, Answer(200, kept.content_type, kept.body), kept.packed)
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json")
    call = Call(op, tenant, ids, params, body, content_type if _CONTENT_TYPE.fullmatch(content_type) else "application/json")
    idem_key = (
        next((request.headers[h] for h in IDEMPOTENCY_HEADERS if request.headers.get(h)), None) if op.method == POST else None
    )
    if idem_key is None:
        if op.cached:  # a miss: one call to the service for the misses of this answer under way
            answer, _ = await gateway_of(request).answers.shared(tenant, ids[op.cached], lambda: _forward_answer(request, call))
            return _gzipped_here(request, answer)
        answer, _ = await _forward_answer(request, call)
        return Response(answer.body, status_code=answer.status_code, media_type=answer.content_type, headers=answer.headers)
    return await _serve_once(request, call, idem_key.strip())


def _gzipped_here(request: Request[Any, Any, Any], answer: Answer, packed: bytes | None = None) -> Response[Any]:
    """An answer of a route the compression middleware skips (`NO_COMPRESSION`, the cached
    retrieve): one over the middleware's minimum is gzipped here for a client that accepts gzip (as
    the middleware decides it), from ``packed`` when the answer was kept (compressed once)."""
    if len(answer.body) >= COMPRESSION_MINIMUM and "gzip" in request.headers.get("accept-encoding", ""):
        headers = {**answer.headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        body = packed or gzipped(answer.body)
        return Response(body, status_code=answer.status_code, media_type=answer.content_type, headers=headers)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.content_type, headers=answer.headers)


async def _serve_once(request: Request[Any, Any, Any], call: Call, idem_key: str) -> Response[Any]:
    """A POST with an idempotency key: the first response, replayed to retries for the key's lifetime."""
    gateway = gateway_of(request)
    echo = {"Ten99Policy-Idempotent-Key": idem_key}
    if not idem_key or len(idem_key) > 255 or _CONTROL.search(idem_key):
        return _error(400, "invalid_input", "The idempotency key must have 1 to 255 printable characters")
    path = "/" + "/".join(s for s in request.url.path.removeprefix("/api/v1").split("/") if s)
    fingerprint = request_fingerprint(call.op.method.value, path, request.url.query or "", call.body)
    # what the service is told: this key with this very request (a key reused for another request
    # long after, once the gateway forgot it, is another key there)
    call = replace(call, idem_key=hashlib.sha256(f"{fingerprint}:{idem_key}".encode()).hexdigest())
    got = await claim(
        gateway.db,
        tenant_id=call.tenant,
        key=idem_key,
        fingerprint=fingerprint,
        method=call.op.method.value,
        path=f"/api/v1{path}",
        ttl=timedelta(seconds=gateway.settings.idempotency_ttl_s),
    )
    if got.outcome == "mismatch":
        return _error(
            409,
            "idempotency_key_reused",
            "This idempotency key was already used with a different request",
            headers={**echo, "ten99policy-should-retry": "false"},
        )
    if got.outcome == "in_progress" and not call.op.replayable:
        return _error(
            409,
            "request_in_progress",
            "A request with this idempotency key is still being processed; retry shortly",
            headers=echo,
        )
    if got.outcome == "replay":
        return Response(
            got.body or b"",
            status_code=got.status_code or 200,
            media_type=got.content_type or MediaType.JSON,
            headers={**echo, "Idempotent-Replayed": "true"},
        )
    try:
        answer, acted = await _forward_answer(request, call)
    except BaseException:
        await _settle(abandon(gateway.db, tenant_id=call.tenant, key=idem_key), idem_key)
        raise
    if acted and not (call.op.replayable and answer.status_code >= 500):
        settled = record_response(
            gateway.db,
            tenant_id=call.tenant,
            key=idem_key,
            status_code=answer.status_code,
            content_type=answer.content_type,
            body=_without_secret(answer.body) if call.op.shows_secret else answer.body,
        )
    else:
        settled = abandon(gateway.db, tenant_id=call.tenant, key=idem_key)
    await _settle(settled, idem_key)
    return Response(
        answer.body, status_code=answer.status_code, media_type=answer.content_type, headers={**answer.headers, **echo}
    )


def _without_secret(body: bytes) -> bytes:
    """The answer as kept for replays: its ``secret`` removed (shown once, never stored here; a
    client that lost the first answer rotates the secret)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and "secret" in data:
        data["secret"] = None
        return msgspec.json.encode(data)
    return body


async def _settle(recording: Any, idem_key: str) -> None:
    """Record (or free) the key's response. If that fails (the gateway's database is gone for a
    moment) the service's answer still goes to the client: the key stays claimed with no response,
    which a replayable create's retry goes past, and which is taken over after a while otherwise."""
    try:
        await recording
    except Exception as e:
        log.warning("idempotency.record_failed", key_length=len(idem_key), error=repr(e))


def _route(op: Operation) -> HTTPRouteHandler:
    async def handle(request: Request[Any, Any, Any]) -> Response[Any]:
        return await _serve(request, op)

    handle.__doc__ = f"{op.method.value} /api/v1{op.path} -> {op.service}"
    # a cached retrieve answers one object, nearly always under the 2 KB compression minimum: no gzip
    # set-up per request (a large custom_metadata passes it: `_gzipped_here` gzips it)
    opt = {NO_COMPRESSION: True} if op.cached else {}
    return route(op.path, http_method=[op.method], name=f"public_api.{op.name}", status_code=200, opt=opt)(handle)


@route("/{rest:path}", http_method=[GET, POST, PUT, DELETE, HttpMethod.PATCH], name="public_api.unknown")
async def unknown_resource(request: Request[Any, Any, Any]) -> Response[Any]:
    """Whatever is not one of the API's resources: a 404, forwarded nowhere."""
    return _error(404, "resource_not_found", "No such resource: the path is not one of the API's")


def public_api_router() -> Router:
    for op in OPERATIONS:  # every path parameter has a known id shape, or it could not be checked
        assert set(re.findall(r"\{(\w+):str\}", op.path)) <= set(ID_PARAMS), op
    handlers: list[Any] = [_route(op) for op in OPERATIONS]
    return Router(path="/api/v1", route_handlers=[openapi_document, *handlers, unknown_resource], include_in_schema=False)
