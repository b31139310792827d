"""The contractor service's internal HTTP API (the gateway calls it; see docs/service-guide.md).

1099Policy resources (entities, contractors, category codes, jobs, assignments) come in its shape
and list envelope; the dashboard views (imports, roster, missing PO, integrations) are free-form
JSON with ISO dates. Every route is tenant-scoped by ``X-Tenant-Id`` and guarded by the internal
token (the kit does both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, RawBody
from litestar.response import Stream
from sqlalchemy import Table
from ten99kit import ApiError, InvalidInput, is_id
from ten99kit.db import Row
from ten99kit.pagination import DEFAULT_LIMIT, ListEnvelope, Page, PageRequest
from ten99kit.request_keys import request_key_of

from ..adapters.db import assignments, contractors, entities, jobs
from ..adapters.queries import get_row, not_found, page
from ..application import alerts, directory, exports, facility, imports, integrations, po, roster
from ..application import assignments as assignment_cases
from ..application.context import Context
from ..domain import values as v
from ..domain.catalogue import CATALOGUE, category
from .schemas import (
    AssignmentIn,
    AssignmentView,
    BulkPoIn,
    CancelIn,
    CategoryCodeView,
    ContractorIn,
    ContractorView,
    DeletedView,
    EntityIn,
    EntityView,
    ExtendIn,
    JobIn,
    JobView,
    ProfileAssignmentView,
    assignment_view,
    category_code_view,
    contractor_view,
    entity_view,
    job_view,
    profile_assignment_view,
)

__all__ = ["ROUTES"]

Ctx = NamedDependency[Context]
Tenant = NamedDependency[str]


async def _page_request(
    limit: FromQuery[int] = DEFAULT_LIMIT,
    starting_after: FromQuery[str | None] = None,
    ending_before: FromQuery[str | None] = None,
) -> PageRequest:
    """1099Policy's list parameters, checked (a bad one is ``invalid_input`` naming it)."""
    return PageRequest(limit, starting_after, ending_before)


#: every 1099Policy list takes ``limit``, ``starting_after`` and ``ending_before``
PAGED = {"paging": Provide(_page_request)}
Paging = NamedDependency[PageRequest]


async def _page(ctx: Context, table: Table, where: list[Any], paging: PageRequest, invalid_cursor_code: str) -> Page:
    async with ctx.db.reads() as s:
        return await page(s, table, where, paging, invalid_cursor_code=invalid_cursor_code)


async def _read(ctx: Context, table: Table, tenant_id: str, id_: str, what: str) -> Row:
    async with ctx.db.reads() as s:
        return await get_row(s, table, tenant_id, id_, what)


class EntityController(Controller):
    path = "/v1/entities"
    tags = ["entities"]
    dependencies = PAGED

    @get("/")
    async def list_entities(self, ctx: Ctx, tenant_id: Tenant, paging: Paging) -> ListEnvelope[EntityView]:
        found = await _page(ctx, entities, [entities.c.tenant_id == tenant_id], paging, "invalid_entity_id")
        return ListEnvelope(url="/v1/entities", has_more=found.has_more, data=[entity_view(r) for r in found.rows])

    @post("/", status_code=200)
    async def create_entity(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[EntityIn]
    ) -> EntityView:
        key = request_key_of(request.headers)
        return entity_view(await directory.create_entity(ctx, tenant_id, data, request_key=key))

    @get("/{entity_id:str}")
    async def get_entity(self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str]) -> EntityView:
        return entity_view(await _read(ctx, entities, tenant_id, entity_id, "entity"))

    @put("/{entity_id:str}")
    async def update_entity(self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str], data: JSONBody[EntityIn]) -> EntityView:
        return entity_view(await directory.update_entity(ctx, tenant_id, entity_id, data))

    @delete("/{entity_id:str}", status_code=200)
    async def delete_entity(self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str]) -> DeletedView:
        await directory.delete_entity(ctx, tenant_id, entity_id)
        return DeletedView(id=entity_id, object="entity")

    @get("/{entity_id:str}/facility")
    async def entity_facility(
        self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str], within_days: FromQuery[int] = facility.DEFAULT_WITHIN_DAYS
    ) -> facility.FacilityRoster:
        """The facility view's roster: the entity's live assignments running today or starting
        within ``within_days`` (0-60, default 14) UTC days, with names and dates only."""
        return await facility.facility_roster(ctx, tenant_id, entity_id, within_days=within_days)


#: the most contractors one ``ids=`` read names (the dashboard asks for a page of 50 names at a time)
MAX_IDS = 100


def _contractor_ids(ids: str) -> list[str]:
    """The comma-separated ``ids`` filter, checked: `InvalidInput` naming ``ids`` for more than
    `MAX_IDS` or any part that is not a contractor id (an empty one included)."""
    given = ids.split(",")
    if len(given) > MAX_IDS:
        raise InvalidInput({"ids": f"at most {MAX_IDS} contractor ids"})
    for id_ in given:
        if not is_id(id_, "cn"):
            raise InvalidInput({"ids": f"{id_[:40]!r} is not a contractor id (cn_ and 20 to 40 letters or digits)"})
    return list(dict.fromkeys(given))


class ContractorController(Controller):
    path = "/v1/contractors"
    tags = ["contractors"]
    dependencies = PAGED

    @get("/")
    async def list_contractors(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        paging: Paging,
        email: FromQuery[str | None] = None,
        ids: FromQuery[str | None] = None,
    ) -> ListEnvelope[ContractorView]:
        # ``ids`` is internal (the dashboard's batch read of names): the public API does not pass it on
        where = [contractors.c.tenant_id == tenant_id]
        if email:
            where.append(contractors.c.email_key == v.email_key(email))
        if ids is not None:
            where.append(contractors.c.id.in_(_contractor_ids(ids)))
        found = await _page(ctx, contractors, where, paging, "invalid_contractor_id")
        return ListEnvelope(url="/v1/contractors", has_more=found.has_more, data=[contractor_view(r) for r in found.rows])

    @post("/", status_code=200)
    async def create_contractor(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[ContractorIn]
    ) -> ContractorView:
        key = request_key_of(request.headers)
        return contractor_view(await directory.create_contractor(ctx, tenant_id, data, request_key=key))

    @get("/{contractor_id:str}")
    async def get_contractor(self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str]) -> ContractorView:
        return contractor_view(await _read(ctx, contractors, tenant_id, contractor_id, "contractor"))

    @put("/{contractor_id:str}")
    async def update_contractor(
        self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str], data: JSONBody[ContractorIn]
    ) -> ContractorView:
        return contractor_view(await directory.update_contractor(ctx, tenant_id, contractor_id, data))

    @delete("/{contractor_id:str}", status_code=200)
    async def delete_contractor(self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str]) -> DeletedView:
        """Only a contractor without assignments (live or past) can be deleted: else ``400 invalid_input``."""
        await directory.delete_contractor(ctx, tenant_id, contractor_id)
        return DeletedView(id=contractor_id, object="contractor")

    @get("/{contractor_id:str}/assignments")
    async def contractor_assignments(
        self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str]
    ) -> ListEnvelope[ProfileAssignmentView]:
        """The profile page's assignments: dates, job, end client, PO and status (ISO dates)."""
        rows = await assignment_cases.profile_assignments(ctx, tenant_id, contractor_id)
        today = ctx.today()
        data = [profile_assignment_view(r, today) for r in rows]
        return ListEnvelope(url=f"/v1/contractors/{contractor_id}/assignments", has_more=False, data=data)


@get("/v1/category_codes", tags=["jobs"])
async def list_category_codes() -> ListEnvelope[CategoryCodeView]:
    return ListEnvelope(url="/v1/category_codes", has_more=False, data=[category_code_view(c) for c in CATALOGUE])


@get("/v1/category_codes/{code_id:str}", tags=["jobs"])
async def get_category_code(code_id: FromPath[str]) -> CategoryCodeView:
    """One approved job category (the catalogue is the same for every company)."""
    found = category(code_id)
    if found is None:
        raise ApiError(f"No job category code {code_id!r}", error_code="invalid_job_category_code", status_code=404)
    return category_code_view(found)


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]
    dependencies = PAGED

    @get("/")
    async def list_jobs(
        self, ctx: Ctx, tenant_id: Tenant, paging: Paging, entity: FromQuery[str | None] = None
    ) -> ListEnvelope[JobView]:
        where = [jobs.c.tenant_id == tenant_id]
        if entity:
            where.append(jobs.c.entity_id == entity)
        found = await _page(ctx, jobs, where, paging, "invalid_job_id")
        return ListEnvelope(url="/v1/jobs", has_more=found.has_more, data=[job_view(r) for r in found.rows])

    @post("/", status_code=200)
    async def create_job(self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[JobIn]) -> JobView:
        key = request_key_of(request.headers)
        return job_view(await directory.create_job(ctx, tenant_id, data, request_key=key))

    @get("/{job_id:str}")
    async def get_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str]) -> JobView:
        return job_view(await _read(ctx, jobs, tenant_id, job_id, "job"))

    @put("/{job_id:str}")
    async def update_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str], data: JSONBody[JobIn]) -> JobView:
        return job_view(await directory.update_job(ctx, tenant_id, job_id, data))

    @delete("/{job_id:str}", status_code=200)
    async def delete_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str]) -> DeletedView:
        await directory.delete_job(ctx, tenant_id, job_id)
        return DeletedView(id=job_id, object="job")


class AssignmentController(Controller):
    path = "/v1/assignments"
    tags = ["assignments"]
    dependencies = PAGED

    @get("/")
    async def list_assignments(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        paging: Paging,
        contractor: FromQuery[str | None] = None,
        job: FromQuery[str | None] = None,
    ) -> ListEnvelope[AssignmentView]:
        where = [assignments.c.tenant_id == tenant_id, assignments.c.deleted_at.is_(None)]
        if contractor:
            where.append(assignments.c.contractor_id == contractor)
        if job:
            where.append(assignments.c.job_id == job)
        found = await _page(ctx, assignments, where, paging, "invalid_assignment_id")
        today = ctx.today()
        return ListEnvelope(url="/v1/assignments", has_more=found.has_more, data=[assignment_view(r, today) for r in found.rows])

    @post("/", status_code=200)
    async def create_assignment(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[AssignmentIn]
    ) -> AssignmentView:
        key = request_key_of(request.headers)
        row = await assignment_cases.create_assignment(ctx, tenant_id, data, request_key=key)
        return assignment_view(row, ctx.today())

    @get("/{assignment_id:str}")
    async def get_assignment(self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str]) -> AssignmentView:
        row = await _read(ctx, assignments, tenant_id, assignment_id, "assignment")
        if row["deleted_at"] is not None:
            raise not_found("assignment", assignment_id)
        return assignment_view(row, ctx.today())

    @put("/{assignment_id:str}")
    async def update_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[AssignmentIn]
    ) -> AssignmentView:
        row = await assignment_cases.update_assignment(ctx, tenant_id, assignment_id, data)
        return assignment_view(row, ctx.today())

    @delete("/{assignment_id:str}", status_code=200)
    async def delete_assignment(self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str]) -> DeletedView:
        deleted_at = await assignment_cases.delete_assignment(ctx, tenant_id, assignment_id)
        return DeletedView(id=assignment_id, object="assignment", deleted_at=int(deleted_at.timestamp()))

    @post("/{assignment_id:str}/cancel", status_code=200)
    async def cancel_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[CancelIn | None] = None
    ) -> AssignmentView:
        row = await assignment_cases.cancel_assignment(ctx, tenant_id, assignment_id, data.reason if data else None)
        return assignment_view(row, ctx.today())

    @post("/{assignment_id:str}/extend", status_code=200)
    async def extend_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[ExtendIn]
    ) -> AssignmentView:
        row = await assignment_cases.extend_assignment(ctx, tenant_id, assignment_id, data.end_date, send_email=data.send_email)
        return assignment_view(row, ctx.today())


_TRUE = {"1", "true", "yes", "on"}


@dataclass
class ImportUpload:
    """The multipart form of an upload: the CSV in ``file``; ``all_or_nothing`` true/false."""

    file: UploadFile | None = None
    all_or_nothing: str | None = None
    uploaded_by: str | None = None


@dataclass
class ImportConfirmation:
    """``decision``: ``import`` (the warned rows as written) or ``drop`` (leave them out)."""

    decision: str = ""


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]

    @post("/", status_code=202)
    async def upload(self, ctx: Ctx, tenant_id: Tenant, data: MultipartBody[ImportUpload]) -> imports.ImportView:
        if not isinstance(data.file, UploadFile):
            raise ApiError("Send the CSV as the multipart field 'file'", error_code="invalid_input")
        content = await data.file.read()
        return await imports.upload_import(
            ctx,
            tenant_id,
            filename=data.file.filename or "upload.csv",
            content=content,
            all_or_nothing=(data.all_or_nothing or "").strip().lower() in _TRUE,
            uploaded_by=data.uploaded_by or None,
        )

    @get("/")
    async def list_imports(
        self, ctx: Ctx, tenant_id: Tenant, limit: FromQuery[int] = 20, offset: FromQuery[int] = 0
    ) -> imports.ImportList:
        return await imports.list_imports(ctx, tenant_id, limit=limit, offset=offset)

    @get("/{import_id:str}")
    async def read_import(
        self, ctx: Ctx, tenant_id: Tenant, import_id: FromPath[str], errors_limit: FromQuery[int] = 100
    ) -> imports.ImportView:
        return await imports.read_import(ctx, tenant_id, import_id, errors_limit=max(0, min(errors_limit, 10_000)))

    @post("/{import_id:str}/confirm", status_code=200)
    async def confirm(
        self, ctx: Ctx, tenant_id: Tenant, import_id: FromPath[str], data: JSONBody[ImportConfirmation]
    ) -> imports.ImportView:
        """The user's word on an import waiting in ``needs_confirmation`` (rows with implausible
        pay): ``import`` them as written or ``drop`` them; the import then goes on."""
        return await imports.confirm_import(ctx, tenant_id, import_id, data.decision)

    @get("/{import_id:str}/errors.csv", media_type="text/csv; charset=utf-8")
    async def error_report(self, ctx: Ctx, tenant_id: Tenant, import_id: FromPath[str]) -> Response[str]:
        filename, body = await imports.error_report(ctx, tenant_id, import_id)
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


@get("/v1/roster", tags=["roster"])
async def read_roster(
    ctx: Ctx,
    tenant_id: Tenant,
    q: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
    offset: FromQuery[int] = 0,
) -> roster.RosterPage:
    return await roster.read_roster(ctx, tenant_id, q=q, status=status, limit=limit, offset=offset)


@get("/v1/coverage_gaps", tags=["roster"])
async def read_coverage_gaps(
    ctx: Ctx, tenant_id: Tenant, limit: FromQuery[int] = 50, offset: FromQuery[int] = 0
) -> alerts.CoverageGapPage:
    """Today's coverage gaps (UTC): assignments starting within 3 days whose contractor has not
    opted in, soonest first; ``limit=0`` answers only the count."""
    return await alerts.read_gaps(ctx, tenant_id, limit=limit, offset=offset)


def _csv_download(body: Any, filename: str) -> Stream:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"}
    return Stream(body, media_type="text/csv; charset=utf-8", headers=headers)


#: documents the streamed CSV body as text
_CSV_RESPONSE = {200: ResponseSpec(data_container=str, media_type="text/csv; charset=utf-8", description="CSV, streamed")}


@get("/v1/exports/contractors.csv", tags=["exports"], media_type="text/csv; charset=utf-8", responses=_CSV_RESPONSE)
async def export_contractors(ctx: Ctx, tenant_id: Tenant) -> Stream:
    """The company's contractors as CSV, streamed (tax ids masked, formula cells neutralised)."""
    return _csv_download(exports.contractors_csv(ctx, tenant_id), "contractors.csv")


@get("/v1/exports/assignments.csv", tags=["exports"], media_type="text/csv; charset=utf-8", responses=_CSV_RESPONSE)
async def export_assignments(ctx: Ctx, tenant_id: Tenant) -> Stream:
    """The company's assignments with their coverage as CSV, streamed."""
    return _csv_download(exports.assignments_csv(ctx, tenant_id), "assignments.csv")


class PoController(Controller):
    path = "/v1/po"
    tags = ["po"]

    @get("/missing")
    async def missing(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        limit: FromQuery[int] = 100,
        offset: FromQuery[int] = 0,
        campaign: FromQuery[str | None] = None,
    ) -> po.MissingPoPage:
        return await po.missing_po(ctx, tenant_id, limit=limit, offset=offset, campaign=campaign)

    @post("/bulk-set", status_code=200)
    async def bulk_set(self, ctx: Ctx, tenant_id: Tenant, data: JSONBody[BulkPoIn]) -> po.BulkPoResult:
        return await po.bulk_set_po(ctx, tenant_id, data)


class IntegrationController(Controller):
    path = "/v1/integrations"
    tags = ["integrations"]

    @get("/{provider:str}/secret")
    async def read_secret(self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str]) -> integrations.IntegrationSecretView:
        """Whether a signing secret is set, when, and a hint (its last four characters); never the secret."""
        return await integrations.read_secret(ctx, tenant_id, provider)

    @post("/{provider:str}/secret", status_code=200)
    async def rotate_secret(self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str]) -> integrations.IntegrationSecretView:
        """A new signing secret (the first, or a replacement), in ``secret``: shown this once only."""
        return await integrations.rotate_secret(ctx, tenant_id, provider)

    @post("/{provider:str}/webhook", status_code=200)
    async def webhook(
        self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str], request: Request[Any, Any, Any], body: RawBody
    ) -> integrations.WebhookAnswer:
        """The raw body is what was signed: the gateway forwards it untouched with the signature header."""
        return await integrations.receive_webhook(ctx, tenant_id, provider, bytes(body), request.headers.get("x-ten99-signature"))


ROUTES: list[Any] = [
    EntityController,
    ContractorController,
    list_category_codes,
    get_category_code,
    JobController,
    AssignmentController,
    ImportController,
    read_roster,
    read_coverage_gaps,
    export_contractors,
    export_assignments,
    PoController,
    IntegrationController,
]
