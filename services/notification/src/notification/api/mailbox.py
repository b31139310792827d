"""``/v1/mailbox``: mail caught by the development SMTP catcher, for the dashboard's Mailbox page
(the list names each message's attachments, as reading one does).

Tenant-scoped like every other read (``X-Tenant-Id``): a company sees, reads and clears only the
mail it caused (its own deliveries, matched by Message-ID; see adapters/catcher.py), never another
company's opt-in links or certificates. Empty when the catcher is off. The HTML body is returned
as received; show it sandboxed (an ``<iframe sandbox srcdoc=...>``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Response, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from ten99kit import InvalidInput, NotFound

from ..adapters.catcher import MailboxReader, ParsedMail
from .schemas import AttachmentInfo, CaughtMail, CaughtMailDetail, CaughtMailList, MailboxCleared, MailEnvelope

__all__ = ["MailboxController"]


def _body(message: Any, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        return str(part.get_content())
    except Exception:
        return None


def _disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _attachments(mail: ParsedMail) -> list[AttachmentInfo]:
    return [
        AttachmentInfo(
            index=i,
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            size=len(part.get_payload(decode=True) or b""),
        )
        for i, part in enumerate(mail.attachments())
    ]


def _caught(row: dict[str, Any], attachments: list[AttachmentInfo]) -> CaughtMail:
    return CaughtMail(
        id=row["id"],
        received_at=row["received_at"].isoformat(),
        from_=row["from_header"],
        to=row["to_header"],
        cc=row["cc_header"],
        subject=row["subject"],
        size=row["size"],
        message_id=row["message_id"],
        attachments=attachments,
    )


def _read(mail: ParsedMail) -> CaughtMailDetail:
    row, message = mail.row, mail.message
    return CaughtMailDetail(
        **msgspec.structs.asdict(_caught(row, _attachments(mail))),
        envelope=MailEnvelope(mail_from=row["mail_from"], rcpt_to=row["rcpt_to"]),
        headers=[[name, str(value)] for name, value in message.items()],
        text=_body(message, "plain"),
        html=_body(message, "html"),
    )


class MailboxController(Controller):
    path = "/v1/mailbox"
    tags = ["mailbox"]

    @get("/")
    async def list_mail(
        self,
        mailbox: NamedDependency[MailboxReader],
        tenant_id: NamedDependency[str],
        limit: FromQuery[int] = 50,
        offset: FromQuery[int] = 0,
        to: FromQuery[str | None] = None,
    ) -> CaughtMailList:
        """The tenant's caught mail, newest first; ``to`` filters on the To and Cc headers (substring)."""
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be between 1 and 200")
        if offset < 0:
            raise InvalidInput("offset must not be negative")
        total, rows = await mailbox.list(tenant_id, limit=limit, offset=offset, to=to)
        return CaughtMailList(total=total, messages=[_caught(row, _attachments(ParsedMail.of(row))) for row in rows])

    @get("/{mail_id:str}")
    async def get_mail(
        self, mailbox: NamedDependency[MailboxReader], tenant_id: NamedDependency[str], mail_id: FromPath[str]
    ) -> CaughtMailDetail:
        mail = await mailbox.get(tenant_id, mail_id)
        if mail is None:
            raise NotFound(f"No such message: {mail_id}")
        return _read(mail)

    @get("/{mail_id:str}/attachments/{index:int}", media_type="application/octet-stream")
    async def get_attachment(
        self,
        mailbox: NamedDependency[MailboxReader],
        tenant_id: NamedDependency[str],
        mail_id: FromPath[str],
        index: FromPath[int],
    ) -> Response[bytes]:
        mail = await mailbox.get(tenant_id, mail_id)
        if mail is None:
            raise NotFound(f"No such message: {mail_id}")
        parts = mail.attachments()
        if not 0 <= index < len(parts):
            raise NotFound(f"Message {mail_id} has no attachment {index}")
        part = parts[index]
        return Response(
            part.get_payload(decode=True) or b"",
            media_type=part.get_content_type(),
            headers={"Content-Disposition": _disposition(part.get_filename() or f"attachment-{index}")},
        )

    @delete("/", status_code=200)
    async def clear_mail(self, mailbox: NamedDependency[MailboxReader], tenant_id: NamedDependency[str]) -> MailboxCleared:
        """Delete the tenant's caught mail (other companies' stays)."""
        return MailboxCleared(deleted=await mailbox.clear(tenant_id))
