"""Settings: billing (billing email, who pays the premium, platform fee as a percentage, stored as
basis points), API keys (created and shown once, listed, revoked), integration signing secrets
(a hint and dates; a new secret is shown once, in the answer to its rotation), and the company's
dashboard users."""

from __future__ import annotations

import asyncio
from decimal import Decimal, InvalidOperation
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from ..adapters.services import ServiceError, ServiceUnavailable
from ..api.ids import is_id
from ..application.accounts import add_user, list_users
from ..application.api_keys import create_api_key, list_api_keys, revoke_api_key
from ..domain.accounts import AccountError, normalize_email
from .common import gateway_of, page, redirect, user_of

__all__ = ["add_member", "create_key", "revoke_key", "rotate_secret", "save_billing", "settings_page"]

PROVIDERS = ("worksuite", "creatoriq")
PAYERS = (("company", "The company (agency remit)"), ("contractor", "The contractor"))


async def _optional(coro: Any) -> tuple[Any, str | None]:
    try:
        return await coro, None
    except ServiceError as e:
        return None, (None if e.status_code == 404 else e.text)
    except ServiceUnavailable as e:
        return None, f"The {e.service} service {e.reason}."


async def _render(request: Request[Any, Any, Any], *, status_code: int = 200, **extra: Any) -> Template:
    gateway, user = gateway_of(request), user_of(request)
    tenant = user.company_id
    calls = [gateway.services.billing.get("/v1/settings", tenant=tenant)]
    calls += [gateway.services.contractor.get(f"/v1/integrations/{p}/secret", tenant=tenant) for p in PROVIDERS]
    results = await asyncio.gather(*(_optional(c) for c in calls))
    (billing, billing_error), *secret_results = results
    secrets = {
        provider: _secret_state(answer, error) for provider, (answer, error) in zip(PROVIDERS, secret_results, strict=True)
    }
    keys = await list_api_keys(gateway.db, tenant)
    members = await list_users(gateway.db, tenant)
    billing_values = extra.pop("billing_values", None) or {
        "billing_email": (billing or {}).get("billing_email") or "",
        "premium_payer": (billing or {}).get("premium_payer") or "company",
        "platform_fee_pct": _pct((billing or {}).get("platform_fee_bps")),
    }
    return page(
        request,
        "settings.html",
        status_code=status_code,
        billing=billing,
        billing_error=billing_error,
        billing_values=billing_values,
        billing_errors=extra.pop("billing_errors", {}),
        secrets=secrets,
        keys=keys,
        members=members,
        new_key=extra.pop("new_key", None),
        new_secret=extra.pop("new_secret", None),
        member_errors=extra.pop("member_errors", {}),
        member_values=extra.pop("member_values", {}),
        public_url=gateway.settings.http.public_url.rstrip("/"),
        **extra,
    )


def _secret_state(answer: Any, error: str | None) -> dict[str, Any]:
    """What Settings shows of a signing secret: whether one is set, since when, its hint. The
    contractor service never gives the secret itself but in the answer to a rotation."""
    known = answer if isinstance(answer, dict) else {}
    return {
        "configured": bool(known.get("configured")),
        "hint": known.get("hint"),
        "created_at": known.get("created_at"),
        "rotated_at": known.get("rotated_at"),
        "error": error,
    }


def _pct(bps: Any) -> str:
    if bps is None:
        return ""
    text = f"{int(bps) / 100:.2f}".rstrip("0").rstrip(".")
    return text


def _bps(text: str) -> int:
    try:
        value = Decimal(text.strip().rstrip("%").strip() or "0")
    except InvalidOperation:
        raise ValueError("Enter the fee as a number, for example 2.5") from None
    if value < 0 or value > 100:
        raise ValueError("The fee is a percentage between 0 and 100")
    bps = value * 100
    if bps != bps.to_integral_value():
        raise ValueError("Use at most two decimals (the fee is kept in basis points)")
    return int(bps)


@get("/settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any]) -> Template:
    response = await _render(request)
    return response


@post("/settings/billing", include_in_schema=False)
async def save_billing(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    values = {
        "billing_email": str(form.get("billing_email") or "").strip(),
        "premium_payer": str(form.get("premium_payer") or ""),
        "platform_fee_pct": str(form.get("platform_fee_pct") or "").strip(),
    }
    errors: dict[str, str] = {}
    body: dict[str, Any] = {}
    try:
        body["billing_email"] = normalize_email(values["billing_email"])
    except AccountError as e:
        errors["billing_email"] = e.message
    if values["premium_payer"] not in ("company", "contractor"):
        errors["premium_payer"] = "Choose who pays the premium"
    else:
        body["premium_payer"] = values["premium_payer"]
    try:
        body["platform_fee_bps"] = _bps(values["platform_fee_pct"])
    except ValueError as e:
        errors["platform_fee_pct"] = str(e)
    if not errors:
        try:
            await gateway.services.billing.put("/v1/settings", tenant=user.company_id, json=body)
        except ServiceError as e:
            errors = {("platform_fee_pct" if k == "platform_fee_bps" else k): v for k, v in e.field_errors.items()} or {
                "form": e.text
            }
        else:
            return redirect("/settings", notice="Billing settings saved.")
    return await _render(request, status_code=400, billing_values=values, billing_errors=errors)


@post("/settings/api-keys", include_in_schema=False)
async def create_key(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    form = await request.form()
    try:
        new = await create_api_key(
            gateway.db,
            company_id=user.company_id,
            name=str(form.get("name") or ""),
            created_by=user.email,
            prefix=gateway.settings.api_key_prefix,
        )
    except AccountError as e:
        return redirect("/settings#api-keys", error=e.message)
    response = await _render(request, new_key=new)
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/settings/api-keys/{key_id:str}/revoke", include_in_schema=False)
async def revoke_key(request: Request[Any, Any, Any], key_id: FromPath[str]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    if not is_id(key_id, "ak"):
        return redirect("/settings#api-keys", error="No such active API key.")
    if await revoke_api_key(gateway.db, company_id=user.company_id, key_id=key_id):
        return redirect("/settings#api-keys", notice="The API key was revoked: requests with it are refused from now on.")
    return redirect("/settings#api-keys", error="No such active API key.")


@post("/settings/integrations/{provider:str}/rotate", include_in_schema=False)
async def rotate_secret(request: Request[Any, Any, Any], provider: FromPath[str]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    if provider not in PROVIDERS:
        return redirect("/settings#integrations", error="Unknown integration.")
    try:
        answer = await gateway.services.contractor.post(f"/v1/integrations/{provider}/secret", tenant=user.company_id, json={})
    except ServiceError as e:
        return redirect("/settings#integrations", error=f"The secret was not changed: {e.text}")
    secret = answer.get("secret") if isinstance(answer, dict) else None
    if not secret:
        return redirect("/settings#integrations", error="The new secret could not be shown: rotate it again to see it.")
    # shown in this answer only (like a new API key): the contractor service never gives it again
    response = await _render(request, new_secret={"provider": provider, "secret": str(secret)})
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/settings/users", include_in_schema=False)
async def add_member(request: Request[Any, Any, Any]) -> Response[Any]:
    gateway, user = gateway_of(request), user_of(request)
    if user.role != "owner":
        return redirect("/settings#team", error="Only the company's owner can add users.")
    form = await request.form()
    values = {"email": str(form.get("email") or ""), "role": str(form.get("role") or "member")}
    try:
        await add_user(
            gateway.db,
            gateway.passwords,
            company_id=user.company_id,
            email=values["email"],
            password=str(form.get("password") or ""),
            role=values["role"],
        )
    except AccountError as e:
        return await _render(request, status_code=400, member_errors={e.field or "form": e.message}, member_values=values)
    return redirect("/settings#team", notice=f"{values['email']} can now log in.")
