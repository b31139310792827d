"""Bulk import: upload a CSV (optionally all or nothing), watch its progress live, read the errors
by line and column, download the error report; recent imports; a CSV template to start from.
An import with implausible pay waits (``needs_confirmation``) for the user to import those rows as
written or drop them (the contractor service's ``POST /v1/imports/{id}/confirm``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Template

from ..adapters.services import ServiceError
from ..api.ids import is_id, require_id
from .common import gateway_of, page, redirect, user_of
from .downloads import relay_download
from .shapes import items

__all__ = ["confirm_import", "csv_template", "import_errors_csv", "import_status", "imports_page", "upload_import"]

#: the columns the contractor service reads, by their labels there (headers are matched forgivingly);
#: the Wage header names its unit, so that nobody fills it with cents
TEMPLATE_HEADERS = [
    "End client",
    "First name",
    "Last name",
    "Email",
    "Phone",
    "Address line 1",
    "Address line 2",
    "City",
    "State",
    "Postal code",
    "Company name",
    "Job title",
    "Category code",
    "Brief job description",
    "Work state",
    "Wage (dollars, 2 decimals)",
    "Wage type",
    "Start date",
    "End date",
    "PO number",
    "PO contact email",
    "Campaign",
]
TEMPLATE_EXAMPLE = [
    "Nike",
    "Ada",
    "Lovelace",
    "ada@example.com",
    "+1 415 555 0100",
    "1 Market St",
    "",
    "San Francisco",
    "CA",
    "94105",
    "",
    "Photographer",
    "jc_photographer",
    "Product photography for the spring campaign.",
    "CA",
    "2500.00",
    "flatfee",
    "2030-03-01",
    "2030-03-31",
    "",
    "",
    "Spring launch",
]
FINISHED = {"completed", "failed"}
#: waiting for the user's word on warned rows: not finished, and nothing to poll for
WAITING = "needs_confirmation"
DECISIONS = {
    "import": "The rows with unusual pay are being imported as written.",
    "drop": "The rows with unusual pay are left out.",
}


def _is_finished(job: dict[str, Any]) -> bool:
    status = str(job.get("status") or "").lower()
    if status in FINISHED:
        return True
    if status in {"pending", "running", WAITING}:
        return False
    total = job.get("rows_total")
    return bool(total) and int(job.get("rows_done") or 0) >= int(str(total))


@get("/imports", include_in_schema=False)
async def imports_page(request: Request[Any, Any, Any]) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    answer = await gateway.services.contractor.get("/v1/imports", tenant=user.company_id, params={"limit": 20})
    return page(request, "imports/index.html", imports=items(answer, "imports"), finished=_is_finished)


@post("/imports", include_in_schema=False)
async def upload_import(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return redirect("/imports", error="Choose a CSV file to upload.")
    content = await upload.read()
    if not content:
        return redirect("/imports", error="The file is empty.")
    if len(content) > gateway.settings.max_upload_bytes:
        return redirect("/imports", error=f"The file is larger than {gateway.settings.max_upload_bytes // (1024 * 1024)} MB.")
    all_or_nothing = str(form.get("all_or_nothing") or "").lower() in ("1", "true", "on", "yes")
    try:
        answer = await gateway.services.contractor.post(
            "/v1/imports",
            tenant=user.company_id,
            files={"file": (upload.filename, content, upload.content_type or "text/csv")},
            data={"all_or_nothing": "true" if all_or_nothing else "false", "uploaded_by": user.email},
            timeout=gateway.services.upload_timeout_s,
        )
    except ServiceError as e:
        return redirect("/imports", error=f"The file was not accepted: {e.text}")
    import_id = answer.get("id") or answer.get("import_id")
    if not is_id(import_id, "ib"):
        return redirect("/imports", notice="Upload received: importing now.")
    return redirect(f"/imports/{import_id}", notice="Upload received: importing now.")


@get("/imports/template.csv", include_in_schema=False)
async def csv_template() -> Response[bytes]:
    body = (",".join(TEMPLATE_HEADERS) + "\r\n" + ",".join(_csv_cell(v) for v in TEMPLATE_EXAMPLE) + "\r\n").encode()
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ten99-import-template.csv"'},
    )


def _csv_cell(value: str) -> str:
    return f'"{value}"' if any(ch in value for ch in ',"\n') else value


@get("/imports/{import_id:str}", include_in_schema=False)
async def import_status(request: Request[Any, Any, Any], import_id: FromPath[str]) -> Template:
    import_id = require_id(import_id, "ib", "import")
    gateway, user = gateway_of(request), user_of(request)
    job = await gateway.services.contractor.get(f"/v1/imports/{import_id}", tenant=user.company_id)
    context = {
        "job": job,
        "errors": items(job, "errors")[:500],
        "warnings": items(job, "warnings")[:500],
        "finished": _is_finished(job),
        "waiting": str(job.get("status") or "") == WAITING,
        "import_id": import_id,
    }
    if request.headers.get("hx-request") == "true":
        return page(request, "imports/_progress.html", **context)
    return page(request, "imports/status.html", **context)


@post("/imports/{import_id:str}/confirm", include_in_schema=False)
async def confirm_import(request: Request[Any, Any, Any], import_id: FromPath[str]) -> Response[Any]:
    """The user's word on rows with implausible pay: ``import`` them as written or ``drop`` them."""
    import_id = require_id(import_id, "ib", "import")
    gateway, user = gateway_of(request), user_of(request)
    decision = str((await request.form()).get("decision") or "")
    if decision not in DECISIONS:
        return redirect(f"/imports/{import_id}", error="Choose to import the rows as written or to drop them.")
    try:
        await gateway.services.contractor.post(
            f"/v1/imports/{import_id}/confirm", tenant=user.company_id, json={"decision": decision}
        )
    except ServiceError as e:
        return redirect(f"/imports/{import_id}", error=f"The decision was not taken: {e.text}")
    return redirect(f"/imports/{import_id}", notice=DECISIONS[decision])


@get("/imports/{import_id:str}/errors.csv", include_in_schema=False)
async def import_errors_csv(request: Request[Any, Any, Any], import_id: FromPath[str]) -> Response[Any]:
    import_id = require_id(import_id, "ib", "import")
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.contractor,
        f"/v1/imports/{import_id}/errors.csv",
        tenant=user.company_id,
        filename=f"import-{import_id}-errors.csv",
    )
