"""The contractor service's internal HTTP API (the gateway calls it; see docs/service-guide.md).

1099Policy resources (entities, contractors, category codes, jobs, assignments) come in its shape
and list envelope; the dashboard views (imports, roster, missing PO, integrations) are free-form
JSON with ISO dates. Every route is tenant-scoped by ``X-Tenant-Id`` and guarded by the internal
token (the kit does both).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody, RawBody
from sqlalchemy import and_, select
from ten99kit import ApiError
from ten99kit.request_keys import request_key_of

from ..adapters.db import assignments, contractors, entities, jobs
from ..adapters.queries import get_row, page
from ..application import assignments as assignment_cases
from ..application import directory, imports, integrations, po, roster
from ..application.context import Context
from ..domain import values as v
from ..domain.catalogue import CATALOGUE
from ..domain.rules import coverage_status
from .schemas import (
    AssignmentIn,
    BulkPoIn,
    CancelIn,
    ContractorIn,
    EntityIn,
    ExtendIn,
    JobIn,
    assignment_view,
    contractor_view,
    entity_view,
    job_view,
    provided,
)

__all__ = ["ROUTES"]

Ctx = NamedDependency[Context]
Tenant = NamedDependency[str]


def _list(url: str, data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


class EntityController(Controller):
    path = "/v1/entities"
    tags = ["entities"]

    @get("/")
    async def list_entities(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        async with ctx.db.session() as s:
            rows, more = await page(
                s,
                entities,
                [entities.c.tenant_id == tenant_id],
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                invalid_cursor_code="invalid_entity_id",
            )
        return _list("/v1/entities", [entity_view(r) for r in rows], more)

    @post("/", status_code=200)
    async def create_entity(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[EntityIn]
    ) -> dict[str, Any]:
        key = request_key_of(request.headers)
        return entity_view(await directory.create_entity(ctx, tenant_id, provided(data), request_key=key))

    @get("/{entity_id:str}")
    async def get_entity(self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str]) -> dict[str, Any]:
        async with ctx.db.session() as s:
            return entity_view(await get_row(s, entities, tenant_id, entity_id, "entity"))

    @put("/{entity_id:str}")
    async def update_entity(
        self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str], data: JSONBody[EntityIn]
    ) -> dict[str, Any]:
        return entity_view(await directory.update_entity(ctx, tenant_id, entity_id, provided(data)))

    @delete("/{entity_id:str}", status_code=200)
    async def delete_entity(self, ctx: Ctx, tenant_id: Tenant, entity_id: FromPath[str]) -> dict[str, Any]:
        return await directory.delete_entity(ctx, tenant_id, entity_id)


class ContractorController(Controller):
    path = "/v1/contractors"
    tags = ["contractors"]

    @get("/")
    async def list_contractors(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
        email: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        where = [contractors.c.tenant_id == tenant_id]
        if email:
            where.append(contractors.c.email_key == v.email_key(email))
        async with ctx.db.session() as s:
            rows, more = await page(
                s,
                contractors,
                where,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                invalid_cursor_code="invalid_contractor_id",
            )
        return _list("/v1/contractors", [contractor_view(r) for r in rows], more)

    @post("/", status_code=200)
    async def create_contractor(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[ContractorIn]
    ) -> dict[str, Any]:
        key = request_key_of(request.headers)
        return contractor_view(await directory.create_contractor(ctx, tenant_id, provided(data), request_key=key))

    @get("/{contractor_id:str}")
    async def get_contractor(self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str]) -> dict[str, Any]:
        async with ctx.db.session() as s:
            return contractor_view(await get_row(s, contractors, tenant_id, contractor_id, "contractor"))

    @put("/{contractor_id:str}")
    async def update_contractor(
        self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str], data: JSONBody[ContractorIn]
    ) -> dict[str, Any]:
        return contractor_view(await directory.update_contractor(ctx, tenant_id, contractor_id, provided(data)))

    @get("/{contractor_id:str}/assignments")
    async def contractor_assignments(self, ctx: Ctx, tenant_id: Tenant, contractor_id: FromPath[str]) -> dict[str, Any]:
        """The profile page's assignments: dates, job, end client, PO and status (ISO dates)."""
        a, j, e = assignments.c, jobs.c, entities.c
        today = ctx.today()
        async with ctx.db.session() as s:
            await get_row(s, contractors, tenant_id, contractor_id, "contractor")
            rows = (
                await s.execute(
                    select(
                        assignments,
                        j.name.label("job_name"),
                        j.category_code,
                        j.wage,
                        j.wage_type,
                        j.work_state,
                        e.id.label("entity_id"),
                        e.name.label("entity_name"),
                    )
                    .join(jobs, and_(j.id == a.job_id))
                    .join(entities, e.id == j.entity_id)
                    .where(a.tenant_id == tenant_id, a.contractor_id == contractor_id, a.deleted_at.is_(None))
                    .order_by(a.effective_date.desc(), a.pk.desc())
                )
            ).mappings()
            data = [
                {
                    "id": r["id"],
                    "object": "assignment",
                    "job": {
                        "id": r["job_id"],
                        "name": r["job_name"],
                        "category_code": r["category_code"],
                        "wage": r["wage"],
                        "wage_type": r["wage_type"],
                        "work_state": r["work_state"],
                    },
                    "entity": {"id": r["entity_id"], "name": r["entity_name"]},
                    "effective_date": r["effective_date"].isoformat(),
                    "end_date": r["end_date"].isoformat(),
                    "coverage_types": list(r["coverage_types"]),
                    "status": r["status"],
                    "coverage_status": coverage_status(
                        cancelled=r["status"] == "cancelled",
                        bound=r["coverage_bound_at"] is not None,
                        effective=r["effective_date"],
                        end=r["end_date"],
                        today=today,
                    ),
                    "po_number": r["po_number"],
                    "po_contact_email": r["po_contact_email"],
                    "campaign": r["campaign"],
                    "cancel_reason": r["cancel_reason"],
                    "source": r["source"],
                    "import_batch_id": r["import_batch_id"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows
            ]
        return _list(f"/v1/contractors/{contractor_id}/assignments", data, False)


@get("/v1/category_codes", tags=["jobs"])
async def list_category_codes() -> dict[str, Any]:
    data = [
        {"id": c.code, "object": "job_category", "code": c.code, "name": c.name, "description": c.description} for c in CATALOGUE
    ]
    return _list("/v1/category_codes", data, False)


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]

    @get("/")
    async def list_jobs(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
        entity: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        where = [jobs.c.tenant_id == tenant_id]
        if entity:
            where.append(jobs.c.entity_id == entity)
        async with ctx.db.session() as s:
            rows, more = await page(
                s,
                jobs,
                where,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                invalid_cursor_code="invalid_job_id",
            )
        return _list("/v1/jobs", [job_view(r) for r in rows], more)

    @post("/", status_code=200)
    async def create_job(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[JobIn]
    ) -> dict[str, Any]:
        key = request_key_of(request.headers)
        return job_view(await directory.create_job(ctx, tenant_id, provided(data), request_key=key))

    @get("/{job_id:str}")
    async def get_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str]) -> dict[str, Any]:
        async with ctx.db.session() as s:
            return job_view(await get_row(s, jobs, tenant_id, job_id, "job"))

    @put("/{job_id:str}")
    async def update_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str], data: JSONBody[JobIn]) -> dict[str, Any]:
        return job_view(await directory.update_job(ctx, tenant_id, job_id, provided(data)))

    @delete("/{job_id:str}", status_code=200)
    async def delete_job(self, ctx: Ctx, tenant_id: Tenant, job_id: FromPath[str]) -> dict[str, Any]:
        return await directory.delete_job(ctx, tenant_id, job_id)


class AssignmentController(Controller):
    path = "/v1/assignments"
    tags = ["assignments"]

    @get("/")
    async def list_assignments(
        self,
        ctx: Ctx,
        tenant_id: Tenant,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
        contractor: FromQuery[str | None] = None,
        job: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        where = [assignments.c.tenant_id == tenant_id, assignments.c.deleted_at.is_(None)]
        if contractor:
            where.append(assignments.c.contractor_id == contractor)
        if job:
            where.append(assignments.c.job_id == job)
        async with ctx.db.session() as s:
            rows, more = await page(
                s,
                assignments,
                where,
                limit=limit,
                starting_after=starting_after,
                ending_before=ending_before,
                invalid_cursor_code="invalid_assignment_id",
            )
        today = ctx.today()
        return _list("/v1/assignments", [assignment_view(r, today) for r in rows], more)

    @post("/", status_code=200)
    async def create_assignment(
        self, request: Request[Any, Any, Any], ctx: Ctx, tenant_id: Tenant, data: JSONBody[AssignmentIn]
    ) -> dict[str, Any]:
        key = request_key_of(request.headers)
        row = await assignment_cases.create_assignment(ctx, tenant_id, provided(data), request_key=key)
        return assignment_view(row, ctx.today())

    @get("/{assignment_id:str}")
    async def get_assignment(self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str]) -> dict[str, Any]:
        async with ctx.db.session() as s:
            row = await get_row(s, assignments, tenant_id, assignment_id, "assignment")
        if row["deleted_at"] is not None:
            raise ApiError(f"No assignment with id {assignment_id!r}", error_code="resource_not_found", status_code=404)
        return assignment_view(row, ctx.today())

    @put("/{assignment_id:str}")
    async def update_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[AssignmentIn]
    ) -> dict[str, Any]:
        row = await assignment_cases.update_assignment(ctx, tenant_id, assignment_id, provided(data))
        return assignment_view(row, ctx.today())

    @delete("/{assignment_id:str}", status_code=200)
    async def delete_assignment(self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str]) -> dict[str, Any]:
        return await assignment_cases.delete_assignment(ctx, tenant_id, assignment_id)

    @post("/{assignment_id:str}/cancel", status_code=200)
    async def cancel_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[CancelIn | None] = None
    ) -> dict[str, Any]:
        row = await assignment_cases.cancel_assignment(ctx, tenant_id, assignment_id, data.reason if data else None)
        return assignment_view(row, ctx.today())

    @post("/{assignment_id:str}/extend", status_code=200)
    async def extend_assignment(
        self, ctx: Ctx, tenant_id: Tenant, assignment_id: FromPath[str], data: JSONBody[ExtendIn]
    ) -> dict[str, Any]:
        row = await assignment_cases.extend_assignment(ctx, tenant_id, assignment_id, data.end_date, send_email=data.send_email)
        return assignment_view(row, ctx.today())


_TRUE = {"1", "true", "yes", "on"}


class ImportController(Controller):
    path = "/v1/imports"
    tags = ["imports"]

    @post("/", status_code=202)
    async def upload(self, ctx: Ctx, tenant_id: Tenant, data: MultipartBody[dict[str, Any]]) -> dict[str, Any]:
        """Multipart: ``file`` (the CSV), ``all_or_nothing`` (true/false), ``uploaded_by``."""
        file = data.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError("Send the CSV as the multipart field 'file'", error_code="invalid_input")
        content = await file.read()
        batch = await imports.upload_import(
            ctx,
            tenant_id,
            filename=file.filename or "upload.csv",
            content=content,
            all_or_nothing=str(data.get("all_or_nothing", "")).strip().lower() in _TRUE,
            uploaded_by=str(data["uploaded_by"]) if data.get("uploaded_by") else None,
        )
        return imports.import_view(batch)

    @get("/")
    async def list_imports(
        self, ctx: Ctx, tenant_id: Tenant, limit: FromQuery[int] = 20, offset: FromQuery[int] = 0
    ) -> dict[str, Any]:
        return await imports.list_imports(ctx, tenant_id, limit=limit, offset=offset)

    @get("/{import_id:str}")
    async def read_import(
        self, ctx: Ctx, tenant_id: Tenant, import_id: FromPath[str], errors_limit: FromQuery[int] = 100
    ) -> dict[str, Any]:
        return await imports.read_import(ctx, tenant_id, import_id, errors_limit=max(0, min(errors_limit, 10_000)))

    @get("/{import_id:str}/errors.csv")
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
) -> dict[str, Any]:
    return await roster.read_roster(ctx, tenant_id, q=q, status=status, limit=limit, offset=offset)


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
    ) -> dict[str, Any]:
        return await po.missing_po(ctx, tenant_id, limit=limit, offset=offset, campaign=campaign)

    @post("/bulk-set", status_code=200)
    async def bulk_set(self, ctx: Ctx, tenant_id: Tenant, data: JSONBody[BulkPoIn]) -> dict[str, Any]:
        return await po.bulk_set_po(ctx, tenant_id, provided(data))


class IntegrationController(Controller):
    path = "/v1/integrations"
    tags = ["integrations"]

    @get("/{provider:str}/secret")
    async def read_secret(self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str]) -> dict[str, Any]:
        """Whether a signing secret is set, when, and a hint (its last four characters); never the secret."""
        return await integrations.read_secret(ctx, tenant_id, provider)

    @post("/{provider:str}/secret", status_code=200)
    async def rotate_secret(self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str]) -> dict[str, Any]:
        """A new signing secret (the first, or a replacement), in ``secret``: shown this once only."""
        return await integrations.rotate_secret(ctx, tenant_id, provider)

    @post("/{provider:str}/webhook", status_code=200)
    async def webhook(
        self, ctx: Ctx, tenant_id: Tenant, provider: FromPath[str], request: Request[Any, Any, Any], body: RawBody
    ) -> dict[str, Any]:
        """The raw body is what was signed: the gateway forwards it untouched with the signature header."""
        return await integrations.receive_webhook(ctx, tenant_id, provider, bytes(body), request.headers.get("x-ten99-signature"))


ROUTES: list[Any] = [
    EntityController,
    ContractorController,
    list_category_codes,
    JobController,
    AssignmentController,
    ImportController,
    read_roster,
    PoController,
    IntegrationController,
]
