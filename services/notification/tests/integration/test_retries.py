"""Failures: a temporary SMTP refusal is retried on the clock's backoff and the email goes out
once; the last attempt marks it failed and announces ``EmailFailedV1``; a 5xx refusal fails at
once; an SMTP server that is down is waited for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import notification_messages as msgs
import pytest
from aiosmtpd.controller import Controller
from notification.adapters.rendering import EmailRenderer
from notification.adapters.smtp import SmtpPool
from notification.application.composing import EmailComposer
from notification.application.reactions import CompanyDirectory, Reactions
from notification.application.sending import DeliverySender
from notification_harness import delivery_rows, emails, notification, publish, published, sender_idle, wait_until
from ten99_testing import SmtpSink, free_port
from ten99kit import SettableClock

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def _row_where(svc: Any, check: Any) -> Any:
    rows = await delivery_rows(svc)
    return rows[0] if rows and check(rows[0]) else None


async def test_a_temporary_refusal_is_retried_with_backoff_on_the_clock_and_delivered_once(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    clock = SettableClock(T0)
    smtp_sink.reject_next = 2
    async with notification(
        database_url, jetstream_url, smtp_sink, clock=clock, delivery={"backoff_base_s": 60, "poll_interval_s": 0.05}
    ) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
        row = await wait_until(lambda: _row_where(svc, lambda r: r["attempts"] == 1 and r["status"] == "queued"))
        assert row["next_attempt_at"] == T0 + timedelta(seconds=60)
        assert row["last_error"].startswith("451")
        await sender_idle(svc)  # not due: nothing happens while the clock stands still
        [row] = await delivery_rows(svc)
        assert row["attempts"] == 1 and smtp_sink.messages == []

        clock.advance(timedelta(seconds=60))
        row = await wait_until(lambda: _row_where(svc, lambda r: r["attempts"] == 2 and r["status"] == "queued"))
        assert row["next_attempt_at"] == T0 + timedelta(seconds=60 + 120)  # doubled

        clock.advance(timedelta(seconds=120))
        [message] = await emails(smtp_sink, 1)
        row = await wait_until(lambda: _row_where(svc, lambda r: r["status"] == "sent"))
        assert row["attempts"] == 3 and row["sent_at"] == T0 + timedelta(seconds=180) and row["last_error"] is None
        assert message["Message-ID"] == row["message_id"]

        listed = (await svc.client.get("/v1/deliveries", headers={"x-tenant-id": "co_acme"})).json()["data"]
        assert [(d["status"], d["attempts"]) for d in listed] == [("sent", 3)]
        await sender_idle(svc)
        assert len(smtp_sink.messages) == 1


async def test_after_the_last_attempt_the_email_is_failed_and_announced(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    smtp_sink.reject_next = 1000
    async with notification(database_url, jetstream_url, smtp_sink, delivery={"max_attempts": 3, "backoff_base_s": 0.02}) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.certificate(1)))
        row = await wait_until(lambda: _row_where(svc, lambda r: r["status"] == "failed"))
        assert row["attempts"] == 3 and row["last_error"].startswith("451")
        [failed] = await wait_until(lambda: published(jetstream_url, "ten99.notification.email_failed.v1"))
        assert failed["tenant_id"] == "co_acme" and failed["aggregate_id"] == row["id"]
        assert failed["data"]["attempts"] == 3 and failed["data"]["template"] == "certificate"
        assert failed["data"]["related_id"] == "coi_0000000000000000000001" and failed["data"]["to"] == [
            "contractor1@example.com"
        ]
        await sender_idle(svc)
        [row] = await delivery_rows(svc)
        assert row["attempts"] == 3 and smtp_sink.messages == []
        assert await published(jetstream_url, "ten99.notification.email_delivered.v1") == []


class _Refusing:
    """Refuses recipients named nobody@ with a permanent 550; accepts the rest."""

    def __init__(self) -> None:
        self.accepted: list[list[str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted.append(list(envelope.rcpt_tos))
        return "250 OK"


async def test_a_permanent_refusal_fails_at_once_and_a_partial_one_is_noted(database_url: str, jetstream_url: str) -> None:
    handler = _Refusing()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with notification(database_url, jetstream_url, None, smtp={"host": "127.0.0.1", "port": port}) as svc:
            cert = msgs.certificate(1)
            await publish(jetstream_url, msgs.envelope(msgspec.structs.replace(cert, contractor_email="nobody@example.com")))
            await publish(jetstream_url, msgs.envelope(msgspec.structs.replace(msgs.invoice(1), to_email="nobody@nike.test")))
            rows = await wait_until(lambda: _all_done(svc, 2))
            by_template = {r["template"]: r for r in rows}
            cert_row = by_template["certificate"]
            assert (cert_row["status"], cert_row["attempts"]) == ("failed", 1)
            assert "550" in cert_row["last_error"]
            inv_row = by_template["invoice"]
            assert inv_row["status"] == "sent" and "nobody@nike.test: 550" in inv_row["last_error"]
            assert handler.accepted == [["billing@acme.test"]]
            [failed] = await wait_until(lambda: published(jetstream_url, "ten99.notification.email_failed.v1"))
            assert failed["data"]["attempts"] == 1
    finally:
        controller.stop()


async def _all_done(svc: Any, n: int) -> Any:
    rows = await delivery_rows(svc)
    return rows if len(rows) == n and all(r["status"] in ("sent", "failed") for r in rows) else None


async def test_an_smtp_server_that_is_down_is_waited_for(database_url: str, jetstream_url: str) -> None:
    sink = SmtpSink()  # not started yet: connections are refused
    async with notification(database_url, jetstream_url, sink, delivery={"backoff_base_s": 0.1, "backoff_max_s": 0.2}) as svc:
        await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
        row = await wait_until(lambda: _row_where(svc, lambda r: r["attempts"] >= 1 and r["status"] == "queued"))
        assert "Connect" in row["last_error"] or "refused" in row["last_error"].lower()
        sink.start()
        try:
            await emails(sink, 1)
            await wait_until(lambda: _row_where(svc, lambda r: r["status"] == "sent"))
        finally:
            sink.stop()


async def test_several_senders_share_the_work_and_send_each_email_once(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    """Three senders (as three worker processes would run) on one PostgreSQL database: claims use
    FOR UPDATE SKIP LOCKED, so each email goes out once and the work is shared."""
    n = 300
    async with notification(
        database_url, jetstream_url, smtp_sink, consume=False, relay=False, delivery={"batch_size": 20}
    ) as svc:
        settings = svc.runtime.settings
        composer = EmailComposer(EmailRenderer(), dashboard_url="http://dash", missing_po_path="/po/missing")
        reactions = Reactions(composer, CompanyDirectory(), from_address="no-reply@ten99.local", wake_sender=lambda: None)
        async with svc.db.uow() as uow:
            for i in range(n):
                await reactions.on_invitation_issued(uow, msgs.envelope(msgs.invitation(i)))
            await uow.commit()

        pools = [SmtpPool(settings.smtp, host=smtp_sink.host, port=smtp_sink.port, size=2) for _ in range(3)]
        counts = [0, 0, 0]

        def counting(i: int) -> Any:
            async def send(sender: str, recipients: Any, raw: bytes) -> Any:
                counts[i] += 1
                return await pools[i].send(sender, recipients, raw)

            return send

        senders = [DeliverySender(svc.db, counting(i), smtp=settings.smtp, delivery=settings.delivery) for i in range(3)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop)) for s in senders]
        try:
            await emails(smtp_sink, n, timeout=30)
            await wait_until(lambda: _all_done(svc, n), timeout=30)
        finally:
            stop.set()
            await asyncio.gather(*tasks)  # the senders have stopped: nothing more can go out
            for p in pools:
                await p.close()
        assert len(smtp_sink.messages) == n and len({m["Message-ID"] for m in smtp_sink.messages}) == n
        rows = await delivery_rows(svc)
        assert len(rows) == n and {r["status"] for r in rows} == {"sent"} and {r["attempts"] for r in rows} == {1}
        assert sum(counts) == n and all(c > 0 for c in counts), counts


class _Keeping:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.content)
        return "250 OK"


class _Idling(_Keeping):
    """Keeps what it is sent and the sessions it was sent on, so that the test can close one as the
    server's idle timeout does (``SMTP._timeout_cb``). A real timer short enough to wait for would also
    cut a transaction whose client paused for it on a loaded machine: a failed attempt, by chance."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append(server)
        return await super().handle_DATA(server, session, envelope)


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failed_attempt(
    database_url: str, jetstream_url: str
) -> None:
    handler = _Idling()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with notification(
            database_url, jetstream_url, None, smtp={"host": "127.0.0.1", "port": port, "pool_size": 1}
        ) as svc:
            await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
            await wait_until(lambda: _all_done(svc, 1), what="the first email sent (its connection idle in the pool)")
            [idle] = handler.sessions
            controller.loop.call_soon_threadsafe(idle.transport.close)  # what the server's idle timeout does
            pool = svc.runtime.parts.dependencies["sender"].transport.__self__
            await wait_until(lambda: _closed_by_the_server(pool), what="the server to close the pooled connection")
            await publish(jetstream_url, msgs.envelope(msgs.invitation(2)))
            await wait_until(lambda: _count_received(handler, 2))
            rows = await wait_until(lambda: _all_done(svc, 2))
            assert [(r["status"], r["attempts"], r["last_error"]) for r in rows] == [("sent", 1, None), ("sent", 1, None)]
            assert handler.sessions[1] is not idle  # sent on a new connection
    finally:
        controller.stop()


def _closed_by_the_server(pool: Any) -> bool:
    """The pool still holds its connection, which the server has closed meanwhile."""
    return bool(pool._open) and not any(client.is_connected for client in pool._open)


async def _count_received(handler: _Keeping, n: int) -> bool:
    return len(handler.received) >= n


# the test's server asks for AUTH on a loopback connection without TLS, on purpose (aiosmtpd warns)
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_smtp_credentials_from_settings_are_used_and_a_missing_login_is_retried(
    database_url: str, jetstream_url: str
) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    handler = _Keeping()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
    controller.start()
    try:
        smtp: dict[str, Any] = {"host": "127.0.0.1", "port": port}
        async with notification(database_url, jetstream_url, None, smtp=smtp, delivery={"backoff_base_s": 60}) as svc:
            await publish(jetstream_url, msgs.envelope(msgs.invitation(1)))
            row = await wait_until(lambda: _row_where(svc, lambda r: r["attempts"] == 1 and r["status"] == "queued"))
            assert row["last_error"].startswith("530")  # our configuration is wrong, not the email: retried
        smtp.update(username="ten99", password="s3cret")
        async with notification(database_url, jetstream_url, None, smtp=smtp, delivery={"backoff_base_s": 60}) as svc:
            svc.clock.advance(timedelta(seconds=61))
            await wait_until(lambda: _count_received(handler, 1))
            await wait_until(lambda: _row_where(svc, lambda r: r["status"] == "sent" and r["attempts"] == 2))
    finally:
        controller.stop()
