"""The enrollment service's HTTP API (called by the gateway, behind the internal token).

Tenant-scoped routes take ``X-Tenant-Id``. The opt-in routes do not: the token in the path names
the invitation, and through it the tenant. 1099Policy resources (quotes, sessions) come in its
shape (epoch seconds, ``object``, list envelopes); dashboard views use ISO times.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from ten99kit import ApiError, Database

from ..application import invitations, opt_in, quotes, sessions
from ..application.links import OptInLinks
from ..domain import rates
from ..domain.states import MONOPOLISTIC_WC_STATES

__all__ = ["ROUTES"]


class ReissueRequest(msgspec.Struct, kw_only=True):
    contractor: FromQuery[str]


class InvitationController(Controller):
    path = "/v1/invitations"
    tags = ["invitations"]

    @get("/current")
    async def current(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str],
    ) -> dict[str, Any]:
        """The contractor's latest invitation and its link, for the profile page."""
        return await invitations.current_invitation(db, links, tenant_id, contractor)

    @post("/reissue", status_code=201)
    async def reissue(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        data: JSONBody[ReissueRequest],
    ) -> dict[str, Any]:
        """Revoke the open link and email a new one."""
        return await invitations.reissue_invitation(db, links, tenant_id, data.contractor)


class OptInController(Controller):
    """The form behind a link. Public through the gateway; no tenant header."""

    path = "/v1/opt-in"
    tags = ["opt-in"]

    @get("/{token:str}")
    async def show(self, db: NamedDependency[Database], token: FromPath[str]) -> dict[str, Any]:
        return await opt_in.view_opt_in(db, token)

    @post("/{token:str}", status_code=200)
    async def submit(
        self,
        db: NamedDependency[Database],
        request: Request[Any, Any, Any],
        token: FromPath[str],
        data: JSONBody[opt_in.OptInSubmission],
    ) -> dict[str, Any]:
        forwarded = request.headers.get("x-forwarded-for", "")
        client = opt_in.ClientInfo(
            ip_address=data.ip_address or (forwarded.split(",")[0].strip() or None),
            user_agent=data.user_agent or request.headers.get("x-forwarded-user-agent"),
        )
        return await opt_in.submit_opt_in(db, token, data, client)


class QuoteController(Controller):
    path = "/v1/quotes"
    tags = ["quotes"]

    @get("/")
    async def list_quotes(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        job: FromQuery[str | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        return await quotes.list_quotes(
            db, tenant_id, contractor=contractor, job=job, limit=limit, starting_after=starting_after, ending_before=ending_before
        )

    @post("/", status_code=200)
    async def create_quote(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], data: JSONBody[quotes.QuoteRequest]
    ) -> dict[str, Any]:
        return await quotes.create_quote(db, tenant_id, data)

    @get("/{quote_id:str}")
    async def get_quote(
        self, db: NamedDependency[Database], tenant_id: NamedDependency[str], quote_id: FromPath[str]
    ) -> dict[str, Any]:
        return await quotes.get_quote(db, tenant_id, quote_id)

    @put("/{quote_id:str}")
    async def update_quote(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        quote_id: FromPath[str],
        data: JSONBody[quotes.QuoteChange],
    ) -> dict[str, Any]:
        return await quotes.update_quote(db, tenant_id, quote_id, data)


class SessionController(Controller):
    path = "/v1/apply/sessions"
    tags = ["application sessions"]

    @get("/")
    async def list_sessions(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        contractor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 10,
        starting_after: FromQuery[str | None] = None,
        ending_before: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        return await sessions.list_sessions(
            db, links, tenant_id, contractor=contractor, limit=limit, starting_after=starting_after, ending_before=ending_before
        )

    @post("/", status_code=200)
    async def create_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        data: JSONBody[sessions.SessionRequest],
    ) -> dict[str, Any]:
        return await sessions.create_session(db, links, tenant_id, data)

    @get("/{session_id:str}")
    async def get_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
    ) -> dict[str, Any]:
        return await sessions.get_session(db, links, tenant_id, session_id)

    @put("/{session_id:str}")
    async def update_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
        data: JSONBody[sessions.SessionChange],
    ) -> dict[str, Any]:
        return await sessions.update_session(db, links, tenant_id, session_id, data)

    @post("/{session_id:str}/expire", status_code=200)
    async def expire_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
    ) -> dict[str, Any]:
        return await sessions.expire_session(db, links, tenant_id, session_id)


@get("/v1/rates", tags=["rates"])
async def rate_table(
    category_code: FromQuery[str | None] = None,
    state_code: Annotated[str | None, QueryParameter(name="state")] = None,
    coverage_type: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The seeded rate table, resolved per (category, state, coverage type) offered, with the
    base rates and state factors it is computed from (see `domain.rates`)."""
    if category_code and category_code not in rates.CATEGORY_CODES:
        raise ApiError(f"Unknown category code {category_code!r}", error_code="invalid_job_category_code", status_code=400)
    if coverage_type and coverage_type not in rates.COVERAGE_TYPES:
        raise ApiError({"coverage_type": "general or workers-comp"}, error_code="invalid_input", status_code=400)
    rows = rates.rate_rows(category_code, state_code.upper() if state_code else None, coverage_type)
    return {
        "object": "list",
        "url": "/v1/rates",
        "has_more": False,
        "version": rates.RATE_TABLE_VERSION,
        "unit": "cents per $100 of pay",
        "formula": "net_rate = (base_rate * state_factor_percent + 50) // 100; general by home state, "
        "workers-comp by work state; an assignment's net_rate = gl_net_rate + wc_net_rate",
        "monopolistic_wc_states": sorted(MONOPOLISTIC_WC_STATES),
        "base_rates": [
            {"category_code": code, "coverage_type": ct, "base_rate": rate}
            for code, by_type in sorted(rates.BASE_RATES.items())
            for ct, rate in by_type.items()
        ],
        "state_factors": rates.STATE_FACTORS,
        "data": [
            {"category_code": r.category_code, "state": r.state, "coverage_type": r.coverage_type, "net_rate": r.net_rate}
            for r in rows
        ],
    }


ROUTES: list[Any] = [InvitationController, OptInController, QuoteController, SessionController, rate_table]
