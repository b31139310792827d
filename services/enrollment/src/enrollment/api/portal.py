"""The contractor portal's sign-in API (public through the gateway's /portal pages; no tenant
header: a link names an email, and through it the contractor's companies)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody
from ten99kit import Database

from ..application import corrections, portal, portal_declines
from ..application.declines import DeclineSubmission
from ..application.links import OptInLinks
from ..application.opt_in_form import DetailsInput

__all__ = ["PortalController"]

#: the ``X-Portal-Session`` header: the portal session's token
SessionHeader = Annotated[str, HeaderParameter(name="x-portal-session")]


class PortalSessionRequest(msgspec.Struct, kw_only=True):
    token: str


class SignedOut(msgspec.Struct, kw_only=True):
    ended: bool


class PortalController(Controller):
    path = "/v1/portal"
    tags = ["portal"]

    @post("/links", status_code=202)
    async def request_link(
        self, db: NamedDependency[Database], links: NamedDependency[OptInLinks], data: JSONBody[portal.LinkRequest]
    ) -> portal.LinkAnswer:
        """Email a sign-in link if the address is known; the same answer either way."""
        return await portal.request_link(db, links, data)

    @post("/sessions", status_code=200)
    async def open_session(self, db: NamedDependency[Database], data: JSONBody[PortalSessionRequest]) -> portal.OpenedSession:
        """Consume a sign-in link (single use, 15 minutes): a portal session for its email, with the
        email's contractor ids per company."""
        return await portal.open_session(db, data.token)

    @get("/sessions/current")
    async def current_session(self, db: NamedDependency[Database], session_token: SessionHeader) -> portal.PortalSession:
        """The open portal session the ``X-Portal-Session`` header names (401 once ended)."""
        return await portal.read_session(db, session_token)

    @post("/sessions/current/end", status_code=200)
    async def end_session(self, db: NamedDependency[Database], session_token: SessionHeader) -> SignedOut:
        """Sign out: the session the ``X-Portal-Session`` header names ends now."""
        await portal.end_session(db, session_token)
        return SignedOut(ended=True)

    @post("/companies/{company_id:str}/details", status_code=200)
    async def correct_details(
        self,
        db: NamedDependency[Database],
        session_token: SessionHeader,
        company_id: FromPath[str],
        data: JSONBody[DetailsInput],
    ) -> corrections.CorrectedDetails:
        """The session's contractor corrects their name, phone or mailing address at one company
        (404 if the session's email is not a contractor of it; 400 ``invalid_input`` naming each
        field's problem). The company's records follow (ContractorDetailsCorrectedV1); the same
        details again change nothing."""
        return await corrections.correct_details(db, session_token, company_id, data)

    @get("/companies/{company_id:str}/coverage-answer")
    async def coverage_answer(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        session_token: SessionHeader,
        company_id: FromPath[str],
    ) -> portal_declines.PortalCoverageAnswer:
        """The session's contractor's answer to the company's invitation: open (may decline; the
        opt-in page), declined (when, why; the opt-in page while the assignment has not ended) or
        closed (404 if the session's email is not a contractor of the company)."""
        return await portal_declines.coverage_answer(db, links, session_token, company_id)

    @post("/companies/{company_id:str}/decline", status_code=200)
    async def decline(
        self,
        db: NamedDependency[Database],
        links: NamedDependency[OptInLinks],
        session_token: SessionHeader,
        company_id: FromPath[str],
        data: JSONBody[DeclineSubmission],
    ) -> portal_declines.PortalCoverageAnswer:
        """The session's contractor declines coverage at one company, as on the opt-in page (reason
        has_own_insurance | does_not_want | other, a note of at most 500 characters; 400
        ``invalid_input`` otherwise). ApplicationDeclinedV1 once; declining again changes nothing;
        409 ``assignment_ended`` after the assignment's end, ``nothing_to_decline`` with no open link."""
        return await portal_declines.decline_from_portal(db, links, session_token, company_id, data)
