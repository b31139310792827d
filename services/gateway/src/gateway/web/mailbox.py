"""Mailbox (development only, ``GATEWAY_DEV_MAILBOX=true``): the mail the notification service's
SMTP catcher caught for the signed-in company (the notification service answers, and clears, only
the mail the session's tenant caused). HTML bodies are shown in a sandboxed iframe served with a
CSP that forbids scripts and remote content."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from ..api.ids import require_id
from .common import gateway_of, page, redirect, user_of
from .downloads import relay_download
from .shapes import items, pick

__all__ = ["clear_mailbox", "mail_attachment", "mail_html", "mail_message", "mailbox"]

_HTML_CSP = "sandbox; default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:"


def _enabled(request: Request[Any, Any, Any]) -> None:
    if not gateway_of(request).settings.dev_mailbox:
        raise NotFoundException("The mailbox is only available in development (GATEWAY_DEV_MAILBOX=true).")


def _mail_view(m: dict[str, Any]) -> dict[str, Any]:
    to = pick(m, "to", "recipients", "rcpt_tos")
    if isinstance(to, list):
        to = ", ".join(str(x) for x in to)
    return {
        "id": pick(m, "id", "message_id"),
        "from": pick(m, "from", "from_address", "sender", "mail_from"),
        "to": to,
        "cc": ", ".join(m["cc"]) if isinstance(m.get("cc"), list) else m.get("cc"),
        "subject": pick(m, "subject", default="(no subject)"),
        "received": pick(m, "received_at", "date", "created_at"),
        "text": pick(m, "text", "text_body", "body_text", "body"),
        "has_html": bool(pick(m, "html", "html_body", "body_html", "has_html")),
        "attachments": [
            {
                "n": pick(a, "n", "index", default=i),
                "filename": pick(a, "filename", "name", default=f"attachment-{i}"),
                "content_type": pick(a, "content_type", "mime_type", default=""),
                "size": pick(a, "size", "size_bytes"),
            }
            for i, a in enumerate(items(m, "attachments"))
        ],
    }


@get("/mailbox", include_in_schema=False)
async def mailbox(request: Request[Any, Any, Any], to: FromQuery[str] = "") -> Template:
    _enabled(request)
    gateway, user = gateway_of(request), user_of(request)
    # the company's own caught mail: notification filters by the tenant sent with every call
    answer = await gateway.services.notification.get(
        "/v1/mailbox", tenant=user.company_id, params={"to": to.strip(), "limit": 200}
    )
    return page(request, "mailbox/list.html", mails=[_mail_view(m) for m in items(answer, "messages", "mails")], to=to)


@post("/mailbox/clear", include_in_schema=False)
async def clear_mailbox(request: Request[Any, Any, Any]) -> Response[Any]:
    _enabled(request)
    gateway, user = gateway_of(request), user_of(request)
    answer = await gateway.services.notification.call("DELETE", "/v1/mailbox", tenant=user.company_id)
    deleted = answer.get("deleted", 0) if isinstance(answer, dict) else 0
    return redirect("/mailbox", notice=f"{deleted} message(s) deleted.")


@get("/mailbox/{mail_id:str}", include_in_schema=False)
async def mail_message(request: Request[Any, Any, Any], mail_id: FromPath[str]) -> Template:
    _enabled(request)
    mail_id = require_id(mail_id, "ml", "message")
    gateway, user = gateway_of(request), user_of(request)
    mail = await gateway.services.notification.get(f"/v1/mailbox/{mail_id}", tenant=user.company_id)
    return page(request, "mailbox/message.html", mail=_mail_view(mail))


@get("/mailbox/{mail_id:str}/html", include_in_schema=False)
async def mail_html(request: Request[Any, Any, Any], mail_id: FromPath[str]) -> Response[str]:
    _enabled(request)
    mail_id = require_id(mail_id, "ml", "message")
    gateway, user = gateway_of(request), user_of(request)
    mail = await gateway.services.notification.get(f"/v1/mailbox/{mail_id}", tenant=user.company_id)
    html = pick(mail, "html", "html_body", "body_html", default="")
    return Response(
        str(html),
        media_type=MediaType.HTML,
        headers={"Content-Security-Policy": _HTML_CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
    )


@get("/mailbox/{mail_id:str}/attachments/{n:int}", include_in_schema=False)
async def mail_attachment(request: Request[Any, Any, Any], mail_id: FromPath[str], n: FromPath[int]) -> Response[Any]:
    _enabled(request)
    mail_id = require_id(mail_id, "ml", "message")
    if not 0 <= n < 1000:
        raise NotFoundException("There is no attachment at this address.")
    gateway, user = gateway_of(request), user_of(request)
    return await relay_download(
        gateway.services.notification,
        f"/v1/mailbox/{mail_id}/attachments/{n}",
        tenant=user.company_id,
        filename=f"attachment-{n}",
        keep_service_filename=True,
    )
