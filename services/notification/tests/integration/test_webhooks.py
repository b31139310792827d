"""Webhook endpoints and signed deliveries, against real HTTP receivers on loopback ports: CRUD
with the secret shown once and encrypted at rest, signatures verified with ``standardwebhooks``,
retries on the service clock, disabling after days of failures (with the email), fairness
between companies, the address guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import notification_messages as msgs
import pytest
from notification.adapters.db import webhook_endpoints
from notification.adapters.webhook_http import WebhookPoster
from notification_harness import emails, notification, publish, wait_until
from prometheus_client import REGISTRY
from sqlalchemy import select
from standardwebhooks import Webhook
from ten99_testing import SmtpSink, free_port, quiescent
from ten99kit.crypto import FieldCipher, derive_key
from webhook_receiver import dead_endpoint, receiver

pytestmark = pytest.mark.integration

A = {"x-tenant-id": "co_a"}
B = {"x-tenant-id": "co_b"}


async def create(svc: Any, headers: dict[str, str], url: str, **body: Any) -> dict[str, Any]:
    r = await svc.client.post("/v1/webhook_endpoints", json={"url": url, **body}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def attempts(svc: Any, headers: dict[str, str], endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    r = await svc.client.get(f"/v1/webhook_endpoints/{endpoint_id}/deliveries", params={"limit": 100, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def deliverer(svc: Any) -> Any:
    return svc.runtime.parts.dependencies["deliverer"]


async def test_endpoints_crud_with_the_secret_shown_once_and_encrypted_at_rest(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink, webhook_secret_keys=["test webhook key"]) as svc:
        c = svc.client
        made = await create(svc, A, "https://hooks.example.com/ten99", description="ops", events=["policy.active"])
        assert made["id"].startswith("whe_") and made["object"] == "webhook_endpoint" and made["status"] == "enabled"
        assert made["events"] == ["policy.active"] and made["description"] == "ops" and isinstance(made["created"], int)
        secret = made["secret"]
        assert secret.startswith("whsec_")
        Webhook(secret)  # a valid Standard Webhooks secret

        shown = (await c.get(f"/v1/webhook_endpoints/{made['id']}", headers=A)).json()
        assert "secret" not in shown and shown["url"] == "https://hooks.example.com/ten99"
        listed = (await c.get("/v1/webhook_endpoints", headers=A)).json()
        assert listed["object"] == "list" and [e["id"] for e in listed["data"]] == [made["id"]]
        assert "secret" not in listed["data"][0]

        async with svc.db.session() as s:
            stored = (await s.execute(select(webhook_endpoints.c.secret_encrypted))).scalar_one()
        assert secret not in stored and secret[6:] not in stored
        assert FieldCipher([derive_key("test webhook key", "notification-webhook-secret")]).decrypt(stored) == secret

        # all events: omitted, "*" or ["*"]
        assert (await create(svc, A, "https://a.example.com/x"))["events"] == ["*"]
        assert (await create(svc, A, "https://a.example.com/y", events="*"))["events"] == ["*"]

        r = await c.put(f"/v1/webhook_endpoints/{made['id']}", json={"events": ["policy.*"]}, headers=A)
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
        r = await c.put(
            f"/v1/webhook_endpoints/{made['id']}",
            json={"events": ["assignment.active", "category_code.added"], "status": "disabled", "description": None},
            headers=A,
        )
        assert r.status_code == 200, r.text
        changed = r.json()
        assert changed["events"] == ["assignment.active", "category_code.added"] and changed["status"] == "disabled"
        assert changed["description"] is None and changed["disabled_reason"] == "disabled by the company"
        assert changed["url"] == made["url"]

        rotated = (await c.post(f"/v1/webhook_endpoints/{made['id']}/secret", headers=A)).json()
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != secret

        # another company sees none of it
        for method, path in [
            ("GET", f"/v1/webhook_endpoints/{made['id']}"),
            ("PUT", f"/v1/webhook_endpoints/{made['id']}"),
            ("DELETE", f"/v1/webhook_endpoints/{made['id']}"),
            ("POST", f"/v1/webhook_endpoints/{made['id']}/secret"),
            ("GET", f"/v1/webhook_endpoints/{made['id']}/deliveries"),
        ]:
            r = await c.request(method, path, headers=B, json={} if method == "PUT" else None)
            assert r.status_code == 404 and r.json()["error_code"] == "invalid_webhook_endpoint_id", (method, path)
        assert (await c.get("/v1/webhook_endpoints", headers=B)).json()["data"] == []

        r = await c.delete(f"/v1/webhook_endpoints/{made['id']}", headers=A)
        assert r.status_code == 200 and r.json() == {"id": made["id"], "object": "webhook_endpoint", "deleted": True}
        r = await c.get(f"/v1/webhook_endpoints/{made['id']}", headers=A)
        assert r.status_code == 404 and r.json()["error_code"] == "invalid_webhook_endpoint_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, "url"),
        ({"url": "https://hooks.example.com/" + "x" * 2100}, "url"),
        ({"url": "https:///nohost"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://hooks.example.com/x", "events": ["policy.active", "no.such"]}, "events"),
        ({"url": "http://hooks.example.com/x"}, "url"),  # http only in development
    ],
)
async def test_bad_endpoints_are_refused_and_change_nothing(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink, body: dict[str, Any], field: str
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink, webhooks={"allow_http": False}) as svc:
        r = await svc.client.post("/v1/webhook_endpoints", json=body, headers=A)
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_input", r.text
        assert field in r.json()["message"]
        assert (await svc.client.get("/v1/webhook_endpoints", headers=A)).json()["data"] == []


async def test_an_event_is_delivered_signed_to_each_endpoint_that_hears_it_and_can_be_resent(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink) as svc, receiver() as hook, receiver() as other:
        endpoint = await create(svc, A, hook.url(), events=["contractor.created", "policy.active"])
        deaf = await create(svc, A, other.url(), events=["invoice.paid"])
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: len(hook.requests) == 1, what="the delivery")

        [got] = hook.requests
        assert got.path == "/hooks" and got.headers["content-type"] == "application/json"
        payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
        assert payload["type"] == "contractor.created" and payload["object"] == "event"
        assert payload["data"]["object"]["id"] == "cn_0000000000000000000001"
        assert got.headers["webhook-id"] == payload["id"]
        event = (await svc.client.get(f"/v1/events/{payload['id']}", headers=A)).json()
        assert event == payload  # the same JSON as the events API

        [attempt] = await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda found: len(found) == 1)
        assert attempt["succeeded"] is True and attempt["status_code"] == 200 and attempt["number"] == 1
        assert attempt["event"] == payload["id"] and attempt["event_type"] == "contractor.created"
        assert attempt["response_excerpt"] == '{"ok": true}' and attempt["latency_ms"] >= 0
        assert attempt["delivery_status"] == "succeeded" and attempt["next_attempt_at"] is None

        r = await svc.client.post(f"/v1/webhook_deliveries/{attempt['delivery']}/resend", headers=A)
        assert r.status_code == 202, r.text
        assert r.json()["id"] == attempt["delivery"] and r.json()["status"] == "pending"
        await wait_until(lambda: len(hook.requests) == 2, what="the resent delivery")
        assert hook.requests[1].headers["webhook-id"] == payload["id"]  # the receiver's idempotency key
        found = await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda f: len(f) == 2)
        assert [a["number"] for a in found] == [2, 1]  # newest first
        r = await svc.client.post(f"/v1/webhook_deliveries/{attempt['delivery']}/resend", headers=B)
        assert r.status_code == 404
        assert other.requests == [] and await attempts(svc, A, deaf["id"]) == []


#: the deliverer polls only when woken: a test that moves the clock runs the due attempts itself
#: (`drain`), so no background claim races with it
QUIET = {"poll_interval_s": 3600}


async def test_failed_deliveries_are_retried_with_backoff_on_the_clock(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    counted = _webhook_metrics()
    async with notification(database_url, jetstream_url, smtp_sink, webhooks=QUIET) as svc, receiver(status=500) as hook:
        t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
        svc.clock.freeze(t0)
        endpoint = await create(svc, A, hook.url())
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda f: len(f) == 1)

        for waited, number in [(5, 2), (30, 3), (120, 4), (600, 5)]:
            [last, *_] = await attempts(svc, A, endpoint["id"])
            assert last["succeeded"] is False and last["status_code"] == 500 and last["error"] == "HTTP 500"
            assert last["next_attempt_at"] == int(svc.clock.now().timestamp()) + waited
            svc.clock.advance(timedelta(seconds=waited - 1))
            await deliverer(svc).drain()
            assert len(await attempts(svc, A, endpoint["id"])) == number - 1  # not due yet
            svc.clock.advance(timedelta(seconds=1))
            await deliverer(svc).drain()
            assert len(await attempts(svc, A, endpoint["id"])) == number

        hook.status = 204
        svc.clock.advance(timedelta(minutes=30))
        await deliverer(svc).drain()
        [last, *_] = await attempts(svc, A, endpoint["id"])
        assert last["succeeded"] is True and last["status_code"] == 204 and last["delivery_status"] == "succeeded"
        assert len(hook.requests) == 6
    # five failed attempts with a retry to come, one success, delivered 5 + 30 + 120 + 600 + 1800 s after the event
    assert _webhook_metrics() - counted == {"retrying": 5, "given_up": 0, "succeeded": 1, "delivered": 1, "seconds": 2555}


def _webhook_metrics() -> Counts:
    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return Counts(
        retrying=value("ten99_webhook_attempts_total", outcome="retrying"),
        given_up=value("ten99_webhook_attempts_total", outcome="given_up"),
        succeeded=value("ten99_webhook_attempts_total", outcome="succeeded"),
        delivered=value("ten99_webhook_delivery_seconds_count"),
        seconds=value("ten99_webhook_delivery_seconds_sum"),
    )


class Counts(dict[str, float]):
    """Metric values; ``a - b`` is what was counted in between."""

    def __init__(self, **values: float) -> None:
        super().__init__(values)

    def __sub__(self, earlier: Counts) -> dict[str, float]:
        return {k: round(v - earlier[k], 3) for k, v in self.items()}


async def test_deliveries_stop_after_3_days_and_an_endpoint_failing_5_days_is_disabled_and_the_company_told(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with notification(database_url, jetstream_url, smtp_sink, webhooks=QUIET) as svc, receiver(status=503) as hook:
        t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
        svc.clock.freeze(t0)
        await publish(jetstream_url, msgs.envelope(msgs.company("co_a", "Acme Talent"), tenant_id="co_a"))
        endpoint = await create(svc, A, hook.url())
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda f: len(f) == 1)

        # retried every few hours for 3 days, then given up
        for _ in range(100):
            svc.clock.advance(timedelta(hours=3))
            await deliverer(svc).drain()
            if svc.clock.now() > t0 + timedelta(days=3, hours=4):
                break
        tried = await attempts(svc, A, endpoint["id"])
        assert tried[0]["delivery_status"] == "failed" and tried[0]["next_attempt_at"] is None
        assert max(a["attempted_at"] for a in tried) <= int((t0 + timedelta(days=3)).timestamp())
        assert (await svc.client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=A)).json()["status"] == "enabled"

        # a later event fails too, five days after the first failure: disabled, and the company is told
        svc.clock.freeze(t0 + timedelta(days=5, seconds=10))
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(2), tenant_id="co_a"))
        await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda f: len(f) == len(tried) + 1)
        shown = (await svc.client.get(f"/v1/webhook_endpoints/{endpoint['id']}", headers=A)).json()
        assert shown["status"] == "disabled" and shown["disabled_reason"] == "every attempt failed for 5 days"
        [mail] = await emails(smtp_sink, 1, predicate=lambda m: "webhook" in str(m["Subject"]))
        assert mail["To"] == "ops@acme.test" and "disabled" in str(mail["Subject"])
        assert hook.url() in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # disabled: new events get no delivery, and resending is refused until it is enabled again
        count = len(hook.requests)
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(3), tenant_id="co_a"))
        await quiescent(svc)
        await deliverer(svc).drain()
        assert len(hook.requests) == count
        last = (await attempts(svc, A, endpoint["id"]))[0]
        r = await svc.client.post(f"/v1/webhook_deliveries/{last['delivery']}/resend", headers=A)
        assert r.status_code == 400 and r.json()["error_code"] == "invalid_input"
        hook.status = 200
        r = await svc.client.put(f"/v1/webhook_endpoints/{endpoint['id']}", json={"status": "enabled"}, headers=A)
        assert r.json()["status"] == "enabled" and r.json()["disabled_reason"] is None
        r = await svc.client.post(f"/v1/webhook_deliveries/{last['delivery']}/resend", headers=A)
        assert r.status_code == 202
        await wait_until(lambda: len(hook.requests) == count + 1, what="the resent delivery")


async def test_a_dead_endpoint_does_not_delay_another_companys_delivery(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    # A's attempts hang far longer than the wait for B's delivery, so B's arriving at all shows it did
    # not queue behind them; no duration is measured (on a loaded machine it measures the load)
    async with (
        notification(
            database_url, jetstream_url, smtp_sink, webhooks={"total_timeout_s": 300.0, "max_in_flight_per_endpoint": 2}
        ) as svc,
        dead_endpoint() as dead,
        receiver() as hook,
    ):
        dead_one = await create(svc, A, dead.url())
        await create(svc, B, hook.url())
        for n in range(1, 7):
            await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(n), tenant_id="co_a"))
        await wait_until(lambda: dead.connections, satisfies=lambda n: n >= 1, what="the dead endpoint reached")
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(9), tenant_id="co_b"))
        await wait_until(lambda: len(hook.requests) == 1, what="company B's delivery")  # within the 60 s lease of A's claims
        assert await attempts(svc, A, dead_one["id"]) == []  # every attempt to A's endpoint still under way
        assert dead.connections <= 2  # at most its own share under way


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:9/x",
        "http://localhost:9/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "https://192.168.1.10/x",
    ],
)
async def test_private_and_reserved_addresses_are_refused_before_any_connection(url: str) -> None:
    poster = WebhookPoster(allow_private=False, connect_timeout_s=1, total_timeout_s=2, excerpt_bytes=1024, max_connections=2)
    try:
        result = await poster.post(url, "whsec_" + "A" * 43, "ev_x", b"{}")
    finally:
        await poster.close()
    assert result.status_code is None and result.succeeded is False
    assert result.error is not None and "private or reserved" in result.error and "refused" in result.error


async def test_with_private_targets_off_a_loopback_endpoint_gets_nothing_and_the_attempt_says_why(
    database_url: str, jetstream_url: str, smtp_sink: SmtpSink
) -> None:
    async with (
        notification(database_url, jetstream_url, smtp_sink, webhooks={"allow_private_targets": False}) as svc,
        receiver() as hook,
    ):
        endpoint = await create(svc, A, hook.url())
        await publish(jetstream_url, msgs.envelope(msgs.contractor_registered(1), tenant_id="co_a"))
        [attempt] = await wait_until(lambda: attempts(svc, A, endpoint["id"]), satisfies=lambda f: len(f) == 1)
        assert attempt["succeeded"] is False and attempt["status_code"] is None
        assert "127.0.0.1" in attempt["error"] and "refused" in attempt["error"]
        assert hook.requests == [] and attempt["delivery_status"] == "pending"


def _self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for ``localhost`` (and its key), files in ``tmp_path``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


async def test_https_goes_to_the_checked_address_with_the_name_in_sni_host_and_the_certificate_check(
    tmp_path: Any,
) -> None:
    import asyncio
    import ssl

    from webhook_receiver import Receiver

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: seen_sni.append(name)  # type: ignore[assignment,misc]
    hook = Receiver()
    # on every address localhost has (127.0.0.1 and ::1 where there is one), whichever the poster picks
    port = free_port()
    server = await asyncio.start_server(hook.handle, "localhost", port, ssl=server_tls)
    trusting = ssl.create_default_context(cafile=cert)
    poster = WebhookPoster(
        allow_private=True, connect_timeout_s=2, total_timeout_s=5, excerpt_bytes=4, max_connections=2, verify=trusting
    )
    secret = "whsec_" + "A" * 43
    try:
        target = await poster.resolve(f"https://localhost:{port}/hooks?x=1")
        assert target.url in (f"https://127.0.0.1:{port}/hooks?x=1", f"https://[::1]:{port}/hooks?x=1")
        result = await poster.post(f"https://localhost:{port}/hooks?x=1", secret, "ev_1", b'{"a": 1}')
        assert result.succeeded and result.status_code == 200, result
        assert result.excerpt == '{"ok'  # only the first bytes are read
        [got] = hook.requests
        assert got.headers["host"] == f"localhost:{port}" and got.path == "/hooks?x=1"
        assert seen_sni == ["localhost"]
        Webhook(secret).verify(got.body, got.headers)
        # a certificate for another name is refused: the check is against the name, not the address
        other = await poster.post(f"https://127.0.0.1:{port}/hooks", secret, "ev_2", b"{}")
        assert not other.succeeded and other.status_code is None and other.error
    finally:
        await poster.close()
        server.close()
