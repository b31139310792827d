"""What every dashboard page shares: the gateway's objects, login and CSRF checks, template
rendering with flash messages, and HTML error pages (never a stack trace)."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template import TemplateConfig
from ten99kit import Database, get_logger

from ..adapters.passwords import Passwords
from ..adapters.services import ServiceError, Services, ServiceUnavailable
from ..application.accounts import CurrentUser, resolve_session
from ..application.answers import AnswerCache
from ..settings import GatewaySettings
from .actors import act_as_user

__all__ = [
    "CsrfRejected",
    "Gateway",
    "LoginRequired",
    "authenticate",
    "client_ip",
    "dashboard_exception_handlers",
    "gateway_of",
    "page",
    "redirect",
    "template_config",
    "user_of",
]

log = get_logger(__name__)

TEMPLATES = Path(__file__).parent.parent / "templates"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FLASH_COOKIE = "ten99_flash"


@dataclass
class Gateway:
    """The gateway's own objects, shared by all its routes (kept in ``app.state.gateway``)."""

    settings: GatewaySettings
    db: Database
    passwords: Passwords
    services: Services
    #: the public API's cached answers (`application.answers`)
    answers: AnswerCache


class LoginRequired(Exception):
    pass


class CsrfRejected(Exception):
    pass


def gateway_of(request: Request[Any, Any, Any]) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def user_of(request: Request[Any, Any, Any]) -> CurrentUser:
    user: CurrentUser = request.state.user
    return user


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


async def authenticate(request: Request[Any, Any, Any]) -> None:
    """Before every dashboard request: a live session, and on a POST its CSRF token."""
    gateway = gateway_of(request)
    token = request.cookies.get(gateway.settings.session.cookie_name)
    user = await resolve_session(gateway.db, gateway.settings.session, token)
    if user is None:
        raise LoginRequired()
    request.state.user = user
    act_as_user(user.user_id)
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token")
        if not given:
            form = await request.form()
            value = form.get("_csrf")
            given = value if isinstance(value, str) else None
        if not given or not hmac.compare_digest(given.encode(), user.csrf_token.encode()):
            raise CsrfRejected()


# ---------------------------------------------------------------- rendering


def _money(cents: Any) -> str:
    if cents is None or cents == "":
        return "—"
    try:
        value = int(cents)
    except (TypeError, ValueError):
        return str(cents)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"


def _as_date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).date()
    text = str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _date(value: Any) -> str:
    d = _as_date(value)
    return d.isoformat() if d else ("—" if value in (None, "") else str(value))


def _datetime(value: Any) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _pct_from_bps(bps: Any) -> str:
    try:
        value = int(bps)
    except (TypeError, ValueError):
        return ""
    text = f"{value / 100:.2f}".rstrip("0").rstrip(".")
    return text


def _label(value: Any) -> str:
    return str(value or "").replace("_", " ").replace("-", " ").strip().capitalize() or "—"


def _query(base: dict[str, Any], **changes: Any) -> str:
    merged = {**base, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True),
        lstrip_blocks=True,
        auto_reload=False,  # packaged templates: no stat() of the file on every page
    )
    env.filters.update(money=_money, date=_date, datetime=_datetime, pct=_pct_from_bps, label=_label, urlquote=quote)
    env.globals.update(query=_query)
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = _environment()
    return TemplateConfig(engine=JinjaTemplateEngine.from_environment(env))


def _flash_of(request: Request[Any, Any, Any]) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return {"kind": str(data["kind"]), "text": str(data["text"])[:500]}
    except (ValueError, KeyError, TypeError):
        return None


def page(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """Render a dashboard or public page; shows (and clears) a pending flash message."""
    gateway = gateway_of(request)
    user = getattr(request.state, "user", None)
    flash = _flash_of(request)
    cookies = [Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/", httponly=True, samesite="lax")] if flash else None
    ctx = {
        "user": user,
        "csrf": user.csrf_token if user else "",
        "flash": flash,
        "dev_mailbox": gateway.settings.dev_mailbox,
        "path": request.url.path,
        "htmx": request.headers.get("hx-request") == "true",
        **context,
    }
    return Template(template, context=ctx, status_code=status_code, cookies=cookies, media_type=MediaType.HTML)


def redirect(url: str, *, notice: str | None = None, error: str | None = None) -> Redirect:
    """Redirect after a POST, carrying a one-time message for the next page."""
    cookies = []
    if notice or error:
        value = json.dumps({"kind": "error" if error else "notice", "text": error or notice})
        cookies.append(Cookie(key=FLASH_COOKIE, value=value, path="/", httponly=True, samesite="lax", max_age=120))
    return Redirect(url, status_code=303, cookies=cookies)


def safe_next(value: str | None) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/contractors"
    return value


# ---------------------------------------------------------------- errors as pages


def _error_page(request: Request[Any, Any, Any], status_code: int, title: str, message: str) -> Response[Any]:
    return page(request, "error.html", status_code=status_code, title=title, message=message)


def _login_required(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    target = "/login?" + urlencode({"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")})
    if request.headers.get("hx-request") == "true":
        return Response("", status_code=200, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)  # type: ignore[return-value]


def _csrf_rejected(request: Request[Any, Any, Any], _: CsrfRejected) -> Response[Any]:
    return _error_page(
        request,
        403,
        "This form has expired",
        "The page you sent the form from was out of date. Go back, reload the page and try again.",
    )


def _service_unavailable(request: Request[Any, Any, Any], exc: ServiceUnavailable) -> Response[Any]:
    return _error_page(
        request,
        502,
        "Something went wrong on our side",
        f"The {exc.service} service {exc.reason}. Nothing was changed by this page; please try again in a moment.",
    )


def _service_error(request: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    title = "Not found" if exc.status_code == 404 else "That did not work"
    return _error_page(request, exc.status_code if exc.status_code < 500 else 400, title, exc.text)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    titles = {404: "Not found", 405: "Not allowed", 413: "The file is too large", 400: "That did not work"}
    message = exc.detail if exc.status_code < 500 else "Please try again in a moment."
    return _error_page(request, exc.status_code, titles.get(exc.status_code, "That did not work"), str(message))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("dashboard.unhandled", path=request.url.path, error=repr(exc))
    return _error_page(request, 500, "Something went wrong on our side", "Please try again in a moment. The error was logged.")


dashboard_exception_handlers: dict[Any, Any] = {
    LoginRequired: _login_required,
    CsrfRejected: _csrf_rejected,
    ServiceUnavailable: _service_unavailable,
    ServiceError: _service_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
