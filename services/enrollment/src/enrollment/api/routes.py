"""The enrollment service's HTTP API (called by the gateway, behind the internal token).

Tenant-scoped routes take ``X-Tenant-Id``. The opt-in routes do not: the token in the path names
the invitation, and through it the tenant. 1099Policy resources (quotes, sessions) come in its
shape (epoch seconds, ``object``, list envelopes); dashboard views use ISO times.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from ten99kit import ApiError, Database
from ten99kit.pagination import DEFAULT_LIMIT, ListEnvelope, PageRequest

from ..application import invitations, opt_in, quotes, sessions
from ..application.declines import DeclineSubmission
from ..application.invitations import InvitationView
from ..application.links import OptInLinks
from ..application.opt_in import OptInAnswer, OptInPage
from ..application.opt_in_form import ClientInfo, OptInSubmission
from ..application.quotes import Quote, QuoteChange, QuoteRequest
from ..application.sessions import ApplicationSession, SessionChange, SessionRequest
from ..domain import rates
from ..domain.states import MONOPOLISTIC_WC_STATES
from .portal import PortalController

__all__ = ["ROUTES"]


def page_request(
    limit: FromQuery[int] = DEFAULT_LIMIT,
    starting_after: FromQuery[str | None] = None,
    ending_before: FromQuery[str | None] = None,
) -> PageRequest:
    """A list's page parameters (1099Policy's), checked."""
    return PageRequest(limit, starting_after, ending_before)


_PAGED = {"page": Provide(page_request, sync_to_thread=False)}


class ReissueRequest(msgspec.Struct, kw_only=True):
    contractor: str


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
    ) -> InvitationView:
        """The contractor's latest invitation and its link, for the profile page."""
        return await invitations.current_invitation(db, links, tenant_id, contractor)

    @post("/reissue", status_code=201)
    async def reissue(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        data: JSONBody[ReissueRequest],
    ) -> InvitationView:
        """Revoke the open link and email a new one."""
        return await invitations.reissue_invitation(db, links, tenant_id, data.contractor)


class OptInController(Controller):
    """The form behind a link. Public through the gateway; no tenant header."""

    path = "/v1/opt-in"
    tags = ["opt-in"]

    @get("/{token:str}")
    async def show(self, db: NamedDependency[Database], token: FromPath[str]) -> OptInPage:
        return await opt_in.view_opt_in(db, token)

    @post("/{token:str}", status_code=200)
    async def submit(
        self,
        db: NamedDependency[Database],
        request: Request[Any, Any, Any],
        token: FromPath[str],
        data: JSONBody[OptInSubmission],
    ) -> OptInAnswer:
        forwarded = request.headers.get("x-forwarded-for", "")
        client = ClientInfo(
            ip_address=data.ip_address or (forwarded.split(",")[0].strip() or None),
            user_agent=data.user_agent or request.headers.get("x-forwarded-user-agent"),
        )
        return await opt_in.submit_opt_in(db, token, data, client)

    @post("/{token:str}/decline", status_code=200)
    async def decline(self, db: NamedDependency[Database], token: FromPath[str], data: JSONBody[DeclineSubmission]) -> OptInPage:
        """Decline coverage (reason and optional note); declining again changes nothing."""
        return await opt_in.decline_opt_in(db, token, data)


class QuoteController(Controller):
    path = "/v1/quotes"
    tags = ["quotes"]

    @get("/", dependencies=_PAGED)
    async def list_quotes(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        page: NamedDependency[PageRequest],
        contractor: FromQuery[str | None] = None,
        job: FromQuery[str | None] = None,
    ) -> ListEnvelope[Quote]:
        return await quotes.list_quotes(db, tenant_id, page, contractor=contractor, job=job)

    @post("/", status_code=200)
    async def create_quote(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        data: JSONBody[QuoteRequest],
    ) -> Quote:
        """A quote for a job and a contractor (see `application.quotes`). A contractor or job this
        service has not heard of yet is ``invalid_*_id`` at once; the gateway tells a caller whose id
        is still on its way (docs/public-api.md, "Right after a create")."""
        return await quotes.create_quote(db, tenant_id, data)

    @get("/{quote_id:str}")
    async def get_quote(self, db: NamedDependency[Database], tenant_id: NamedDependency[str], quote_id: FromPath[str]) -> Quote:
        return await quotes.get_quote(db, tenant_id, quote_id)

    @put("/{quote_id:str}")
    async def update_quote(
        self,
        db: NamedDependency[Database],
        tenant_id: NamedDependency[str],
        quote_id: FromPath[str],
        data: JSONBody[QuoteChange],
    ) -> Quote:
        return await quotes.update_quote(db, tenant_id, quote_id, data)


class SessionController(Controller):
    path = "/v1/apply/sessions"
    tags = ["application sessions"]

    @get("/", dependencies=_PAGED)
    async def list_sessions(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        page: NamedDependency[PageRequest],
        contractor: FromQuery[str | None] = None,
    ) -> ListEnvelope[ApplicationSession]:
        return await sessions.list_sessions(db, links, tenant_id, page, contractor=contractor)

    @post("/", status_code=200)
    async def create_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        data: JSONBody[SessionRequest],
    ) -> ApplicationSession:
        return await sessions.create_session(db, links, tenant_id, data)

    @get("/{session_id:str}")
    async def get_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
    ) -> ApplicationSession:
        return await sessions.get_session(db, links, tenant_id, session_id)

    @put("/{session_id:str}")
    async def update_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
        data: JSONBody[SessionChange],
    ) -> ApplicationSession:
        return await sessions.update_session(db, links, tenant_id, session_id, data)

    @post("/{session_id:str}/expire", status_code=200)
    async def expire_session(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        tenant_id: NamedDependency[str],
        session_id: FromPath[str],
    ) -> ApplicationSession:
        return await sessions.expire_session(db, links, tenant_id, session_id)


class BaseRate(msgspec.Struct, kw_only=True):
    category_code: str
    coverage_type: str
    base_rate: int


class RateTable(msgspec.Struct, kw_only=True):
    """The seeded rate table as a list (never more than one page), with what it is computed from."""

    object: Literal["list"] = "list"
    url: str = "/v1/rates"
    has_more: bool = False
    version: str
    unit: str
    formula: str
    monopolistic_wc_states: list[str]
    base_rates: list[BaseRate]
    #: coverage type -> state -> factor in percent (100 where a state is not listed)
    state_factors: dict[str, dict[str, int]]
    data: list[rates.RateRow]


@get("/v1/rates", tags=["rates"])
async def rate_table(
    category_code: FromQuery[str | None] = None,
    state_code: Annotated[str | None, QueryParameter(name="state")] = None,
    coverage_type: FromQuery[str | None] = None,
) -> RateTable:
    """The seeded rate table, resolved per (category, state, coverage type) offered, with the
    base rates and state factors it is computed from (see `domain.rates`)."""
    if category_code and category_code not in rates.CATEGORY_CODES:
        raise ApiError(f"Unknown category code {category_code!r}", error_code="invalid_job_category_code", status_code=400)
    if coverage_type and coverage_type not in rates.COVERAGE_TYPES:
        raise ApiError({"coverage_type": "general or workers-comp"}, error_code="invalid_input", status_code=400)
    return RateTable(
        version=rates.RATE_TABLE_VERSION,
        unit="cents per $100 of pay",
        formula="net_rate = (base_rate * state_factor_percent + 50) // 100; general by home state, "
        "workers-comp by work state; an assignment's net_rate = gl_net_rate + wc_net_rate",
        monopolistic_wc_states=sorted(MONOPOLISTIC_WC_STATES),
        base_rates=[
            BaseRate(category_code=code, coverage_type=ct, base_rate=rate)
            for code, by_type in sorted(rates.BASE_RATES.items())
            for ct, rate in by_type.items()
        ],
        state_factors=rates.STATE_FACTORS,
        data=rates.rate_rows(category_code, state_code.upper() if state_code else None, coverage_type),
    )


ROUTES: list[Any] = [InvitationController, OptInController, PortalController, QuoteController, SessionController, rate_table]
