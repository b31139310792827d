"""Composition root of the gateway service: the only place that knows concrete adapters.

Three kinds of routes, each with its own protection:
- the dashboard (HTML, behind a login session and a CSRF token on every POST),
- public pages (the opt-in form, signed certificate links, integration webhooks: no login),
- the public API ``/api/v1`` (API keys).
The gateway's routes are not behind the internal token (``internal_api=False``): it does its own auth.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from litestar import Router
from litestar.datastructures import ResponseHeader, State
from litestar.static_files import create_static_files_router
from ten99kit import Command, Runtime, ScheduledJob, ServiceDefinition, ServiceParts
from ten99kit.follow import Follower

from .adapters.db import metadata
from .adapters.passwords import Passwords
from .adapters.services import Services
from .api.public_api import public_api_router
from .application.accounts import create_company, purge_expired_sessions
from .application.answers import INVALIDATED_BY, AnswerCache
from .application.api_keys import create_api_key
from .application.idempotency import purge_expired_keys
from .domain.accounts import AccountError
from .settings import GatewaySettings
from .web import (
    api_docs,
    audit,
    auth,
    contractors,
    exports,
    facility,
    imports,
    invoices,
    mailbox,
    po,
    portal,
    public,
    settings_page,
    uploads,
    verify,
    webhooks,
)
from .web.actors import forget_client_actor
from .web.common import Gateway, authenticate, dashboard_exception_handlers, template_config
from .web.cookies import secure_cookies

__all__ = ["build", "definition"]

STATIC = Path(__file__).parent / "static"

#: for every HTML page: scripts only from /static, no framing by other sites, no MIME sniffing
PAGE_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'",
    ),
    ResponseHeader(name="X-Frame-Options", value="SAMEORIGIN"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]


#: the dashboard's pages and forms, behind a login (and a CSRF token on every POST)
DASHBOARD_ROUTES = [
    auth.logout,
    audit.audit_log,
    audit.audit_log_export,
    audit.contractor_timeline,
    contractors.roster,
    contractors.contractor_profile,
    contractors.resend_invitation,
    contractors.cancel_assignment,
    contractors.extend_assignment,
    contractors.download_certificate,
    uploads.company_uploads,
    uploads.contractor_uploads,
    uploads.upload_certificate,
    uploads.decide_upload,
    uploads.download_upload,
    exports.export_contractors,
    exports.export_assignments,
    exports.export_invoices,
    imports.imports_page,
    imports.upload_import,
    imports.csv_template,
    imports.import_status,
    imports.import_errors_csv,
    imports.confirm_import,
    po.missing_po,
    po.set_po,
    invoices.invoices_page,
    invoices.invoice_detail,
    invoices.invoice_pdf,
    invoices.mark_paid,
    settings_page.settings_page,
    settings_page.save_billing,
    settings_page.create_key,
    settings_page.revoke_key,
    settings_page.rotate_secret,
    settings_page.add_member,
    webhooks.webhooks_page,
    webhooks.create_webhook_endpoint,
    webhooks.webhook_endpoint_page,
    webhooks.set_webhook_endpoint_status,
    webhooks.delete_webhook_endpoint,
    webhooks.resend_webhook_delivery,
    mailbox.mailbox,
    mailbox.clear_mailbox,
    mailbox.mail_message,
    mailbox.mail_html,
    mailbox.mail_attachment,
    facility.facilities,
    facility.entity_facility,
    facility.create_link,
    facility.revoke_link,
]


def _answer_cache(runtime: Runtime, settings: GatewaySettings) -> tuple[AnswerCache, list[Follower]]:
    """The public API's cached answers, and the follower of the changes that drop them (none when
    the cache is off: then it is never live, and keeps nothing)."""
    answers = AnswerCache(settings.api_cache.max_age_s, settings.api_cache.size)
    if not settings.api_cache.enabled:
        return answers, []
    follower = Follower(runtime.bus, list(INVALIDATED_BY), answers.heard, answers.clear)
    answers.bind(lambda: follower.live)
    return answers, [follower]


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    assert isinstance(settings, GatewaySettings)
    cost = settings.password_hash
    hasher = PasswordHasher(time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism)
    answers, followers = _answer_cache(runtime, settings)
    gateway = Gateway(settings=settings, db=runtime.db, passwords=Passwords(hasher), services=Services(settings), answers=answers)
    # tests and the operator command reach the gateway objects here
    runtime.gateway = gateway  # type: ignore[attr-defined]

    dashboard = Router(
        path="/",
        route_handlers=DASHBOARD_ROUTES,
        before_request=authenticate,
        exception_handlers=dashboard_exception_handlers,
        response_headers=PAGE_HEADERS,
        include_in_schema=False,
    )
    public_pages = Router(
        path="/",
        route_handlers=[
            auth.root,
            auth.login_form,
            auth.login_submit,
            public.opt_in_form,
            public.opt_in_submit,
            public.opt_in_decline,
            public.opt_in_certificate,
            public.public_certificate,
            verify.verify_certificate,
            facility.public_facility,
            public.integration_webhook,
            portal.portal_form,
            portal.portal_request,
            portal.portal_sign_in_page,
            portal.portal_sign_in,
            portal.portal_home,
            portal.portal_certificate,
            portal.portal_correct_details,
            portal.portal_decline,
            portal.portal_upload_certificate,
            portal.portal_sign_out,
            api_docs.api_reference,
            public.not_found,
        ],
        exception_handlers=dashboard_exception_handlers,
        response_headers=PAGE_HEADERS,
        include_in_schema=False,
    )
    static = create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False)

    async def purge(now: datetime) -> int:
        return await purge_expired_sessions(runtime.db, settings.session, now) + await purge_expired_keys(runtime.db, now)

    return ServiceParts(
        route_handlers=[dashboard, public_pages, static, public_api_router()],
        jobs=[ScheduledJob("purge_expired_sessions_and_idempotency_keys", purge)],
        dependencies={"db": runtime.db},
        internal_api=False,
        template_config=template_config(),
        compress=True,
        middleware=[forget_client_actor, *([secure_cookies] if settings.session_cookie_secure else [])],
        app_options={"state": State({"gateway": gateway})},
        on_shutdown=[gateway.services.aclose],
        followers=followers,
    )


# ------------------------------------------------------------------ operator command


def _create_company_arguments(parser: Any) -> None:
    parser.add_argument("--name", required=True, help="the company's name")
    parser.add_argument("--email", required=True, help="the owner's login email")
    parser.add_argument("--password", required=True, help="the owner's password (at least 10 characters)")
    parser.add_argument("--api-key", action="store_true", help="also create an API key and print it (shown only now)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


async def _create_company(runtime: Runtime, args: argparse.Namespace) -> int:
    """``python -m gateway create-company``: idempotent by email (a second run changes nothing
    about the company or its user and exits 0); with ``--api-key`` a new key is created and printed
    each time, since keys are kept only as hashes and cannot be shown again."""
    gateway: Gateway = runtime.gateway  # type: ignore[attr-defined]
    try:
        company, created = await create_company(
            runtime.db, gateway.passwords, name=args.name, email=args.email, password=args.password
        )
    except AccountError as e:
        print(f"create-company: {e.message}")
        return 2
    login_url = f"{runtime.settings.http.public_url.rstrip('/')}/login"
    result: dict[str, Any] = {
        "company_id": company.id,
        "company_name": company.name,
        "created": created,
        "login_url": login_url,
        "email": args.email.strip().lower(),
    }
    if created:
        result["password"] = args.password
    if args.api_key:
        key = await create_api_key(
            runtime.db,
            company_id=company.id,
            name="created by create-company",
            created_by="operator",
            prefix=gateway.settings.api_key_prefix,
        )
        result["api_key"] = key.key
    if args.json:
        print(json.dumps(result))
    else:
        print(f"company:   {company.name} ({company.id}){'' if created else '  [already existed: unchanged]'}")
        print(f"dashboard: {login_url}")
        print(f"login:     {result['email']}" + (f" / {args.password}" if created else "  (password unchanged)"))
        if args.api_key:
            print(f"api key:   {result['api_key']}")
    return 0


definition = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    metadata=metadata,
    migrations=Path(__file__).parent / "migrations",
    build=build,
    commands={
        "create-company": Command(
            help="create a company and its owner (idempotent by email); --api-key prints a new API key",
            arguments=_create_company_arguments,
            run=_create_company,
        )
    },
)
