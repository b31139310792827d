"""Login and logout of dashboard users.

The login form is protected against cross-site posting by a double-submit token (a random cookie
echoed in a hidden field); once logged in, every dashboard POST carries the session's own CSRF
token (`common.authenticate`). The session cookie is HttpOnly, SameSite=Lax, and Secure when
``GATEWAY_SESSION__COOKIE_SECURE`` is set.

A failed login is a 401 with one message whatever failed (unknown email, wrong password, locked
account): see `application.accounts.log_in`.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from ten99kit import get_logger

from ..application.accounts import LoginFailed, log_in, log_out, resolve_session
from .common import client_ip, gateway_of, page, safe_next

__all__ = ["login_form", "login_submit", "logout", "root"]

LOGIN_CSRF_COOKIE = "ten99_login_csrf"

log = get_logger(__name__)


def _login_page(
    request: Request[Any, Any, Any], *, error: str | None = None, email: str = "", next_url: str = "", status_code: int = 200
) -> Template:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", status_code=status_code, error=error, email=email, next=safe_next(next_url), login_csrf=token
    )
    response.cookies.append(
        Cookie(key=LOGIN_CSRF_COOKIE, value=token, path="/login", httponly=True, samesite="strict", max_age=3600)
    )
    return response


@get("/", include_in_schema=False)
async def root(request: Request[Any, Any, Any]) -> Redirect:
    return Redirect("/contractors", status_code=303)


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any], next: FromQuery[str] = "") -> Response[Any]:
    gateway = gateway_of(request)
    token = request.cookies.get(gateway.settings.session.cookie_name)
    if token and await resolve_session(gateway.db, gateway.settings.session, token) is not None:
        return Redirect(safe_next(next), status_code=303)
    return _login_page(request, next_url=next)


@post("/login", include_in_schema=False)
async def login_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway = gateway_of(request)
    form = await request.form()
    email = str(form.get("email") or "")
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get("_csrf") or "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return _login_page(
            request, error="The login form had expired: please log in again.", email=email, next_url=next_url, status_code=403
        )
    try:
        new = await log_in(
            gateway.db,
            gateway.passwords,
            gateway.settings.login,
            gateway.settings.session,
            email=email,
            password=password,
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except LoginFailed as e:
        if e.locked:
            log.info("login.locked", ip=client_ip(request))
        # one status and one message for every failure: a 429 for a lockout would tell that the account exists
        return _login_page(request, error=e.message, email=email, next_url=next_url, status_code=401)
    s = gateway.settings.session
    return Redirect(
        next_url,
        status_code=303,
        cookies=[
            Cookie(
                key=s.cookie_name,
                value=new.token,
                path="/",
                httponly=True,
                secure=gateway.settings.session_cookie_secure,
                samesite="lax",
                max_age=s.absolute_timeout_s,
            ),
            Cookie(key=LOGIN_CSRF_COOKIE, value="", path="/login", max_age=0),
        ],
    )


@post("/logout", include_in_schema=False)
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    """Ends the session (needs the session's CSRF token, checked by the dashboard router)."""
    gateway = gateway_of(request)
    await log_out(gateway.db, request.cookies.get(gateway.settings.session.cookie_name))
    s = gateway.settings.session
    return Redirect(
        "/login",
        status_code=303,
        cookies=[
            Cookie(
                key=s.cookie_name,
                value="",
                path="/",
                max_age=0,
                httponly=True,
                secure=gateway.settings.session_cookie_secure,
                samesite="lax",
            )
        ],
    )
