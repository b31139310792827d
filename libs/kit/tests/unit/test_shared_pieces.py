"""The kit's shared pieces that services build on: the polling worker and its backoff, email
parsing, PDF text, and the error schema in every OpenAPI document."""

from __future__ import annotations

import asyncio
import random
import string
from datetime import UTC, date, datetime
from typing import Any

import pytest
from email_validator import validate_email
from fpdf import FPDF
from litestar import Litestar, get
from litestar.params import FromPath, FromQuery
from ten99_testing.waiting import wait_until
from ten99kit import emails
from ten99kit.clock import epoch
from ten99kit.emails import InvalidEmail, is_email, parse_email
from ten99kit.http import document_errors
from ten99kit.pdftext import fit, printable, text_width, wrap
from ten99kit.workers import Backoff, PollingWorker, wait_first

# -- the worker ------------------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next() == 0.5
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)


async def test_wait_first_returns_on_an_event_or_the_timeout() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)
    assert await wait_first(None, event, timeout=30) is True
    assert await wait_first(asyncio.Event(), timeout=0) is False


async def test_a_worker_runs_at_once_while_there_is_more_then_waits_for_a_wake_and_stops() -> None:
    work = [3]  # three steps have work, then the queue is empty
    calls: list[float | None] = []

    async def step() -> float | None:
        if work[0] > 0:
            work[0] -= 1
            calls.append(0.0)
            return 0.0
        calls.append(None)
        return None

    worker = PollingWorker("test", step, idle_s=3600)  # it would idle an hour: only a wake moves it
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_until(lambda: calls == [0.0, 0.0, 0.0, None], what="the three steps with work and one idle step")
    work[0] = 1
    worker.wake()
    await wait_until(lambda: calls[-2:] == [0.0, None], what="a woken step, then idle again")
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert worker.runs == len(calls) and worker.failures == 0


async def test_a_failing_step_is_retried_after_a_backoff_and_the_backoff_resets() -> None:
    outcomes: list[str] = []

    async def step() -> float | None:
        if len(outcomes) < 2:
            outcomes.append("fail")
            raise RuntimeError("database away")
        outcomes.append("ok")
        return None

    worker = PollingWorker("test", step, idle_s=3600, backoff=Backoff(0.001, 0.002))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await wait_until(lambda: outcomes == ["fail", "fail", "ok"], what="two failures, then a success")
    assert worker.failures == 2 and worker.backoff.next() == 0.001  # reset by the success
    stop.set()
    await asyncio.wait_for(task, timeout=30)


# -- emails ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Lopez@Example.COM ", "ana.lopez@example.com"),
        ("demo@ten99.test", "demo@ten99.test"),
        ("josé@bücher.de", "josé@bücher.de"),
    ],
)
def test_addresses_are_kept_in_one_form(given: str, stored: str) -> None:
    assert parse_email(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "",
        "ana",
        "ana@",
        "@example.com",
        "ana lopez@example.com",
        "ana@example",
        "a@b@c.com",
        "x@host.local",
        "x@localhost",
        "x@foo.invalid",
        f"{'a' * 250}@example.com",
    ],
)
def test_addresses_that_cannot_receive_mail_are_refused_with_a_reason(given: str) -> None:
    with pytest.raises(InvalidEmail) as refused:
        parse_email(given)
    assert str(refused.value)
    assert not is_email(given)


# -- PDF text --------------------------------------------------------------------------------------


def test_printable_folds_what_the_core_fonts_cannot_show() -> None:
    assert printable("Łukasz Dvořák") == "Lukasz Dvorák"  # ř has no Latin-1 form, á has
    assert printable("Zoë Müller") == "Zoë Müller"  # Latin-1 kept
    assert printable("東京 Ltd") == "?? Ltd"
    assert printable(None) == ""
    assert printable("€5", "cp1252") == "€5"


def test_wrap_and_fit_measure_in_the_document_font() -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    assert text_width(pdf, "Hello world") == pytest.approx(pdf.get_string_width("Hello world"))

    def measure(t: str) -> float:
        return text_width(pdf, t)

    text = "the quick brown fox jumps over the lazy dog " * 5
    lines = wrap(text, 60, measure)
    assert len(lines) > 1 and all(measure(line) <= 60 for line in lines)
    assert " ".join(lines) == text.strip()
    cut = fit(text, 40, measure)
    assert cut.endswith("...") and measure(cut) <= 40 and text.startswith(cut[:-3])
    assert fit("short", 40, measure) == "short"


# -- the error schema ------------------------------------------------------------------------------


def test_every_operation_documents_the_error_body() -> None:
    @get("/things/{thing_id:str}")
    async def thing(thing_id: FromPath[str], limit: FromQuery[int] = 10) -> dict[str, Any]:
        return {}

    app = Litestar([thing])
    document_errors(app.openapi_schema)
    schema = app.openapi_schema.to_schema()
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"error_code", "message"}
    responses = schema["paths"]["/things/{thing_id}"]["get"]["responses"]
    error = {"$ref": "#/components/schemas/Error"}
    assert responses["default"]["content"]["application/json"]["schema"] == error
    assert responses["400"]["content"]["application/json"]["schema"] == error  # not Litestar's own body


def test_the_plain_address_shortcut_agrees_with_email_validator() -> None:
    """``parse_email`` skips the full parse for plain ASCII addresses (an import's hot path): every
    address it lets through that way must be one email-validator accepts, unchanged but for case."""
    rng = random.Random(12)
    local_chars = string.ascii_letters + string.digits + "._+-"
    domain_chars = string.ascii_letters + string.digits + "-"
    tlds = ["com", "Com", "org", "test", "TEST", "local", "localhost", "invalid", "arpa", "co", "c", "io", "example"]
    samples = [
        "Ada@Example.com", "a..b@example.com", ".a@example.com", "a.@example.com", "a@-x.com", "a@x-.com",
        "a@ab--cd.com", "a@xn--e1afmkfd.com", "a@b.local", "a@host.localhost", "x" * 65 + "@example.com",
    ]  # fmt: skip
    for _ in range(5000):
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(0, 70)))
        labels = ["".join(rng.choice(domain_chars) for _ in range(rng.randint(0, 8))) for _ in range(rng.randint(1, 3))]
        samples.append(f"{local}@{'.'.join([*labels, rng.choice(tlds)])}")
    shortcut = 0
    for address in samples:
        if not emails._PLAIN.fullmatch(address.lower()):
            continue
        shortcut += 1
        full = validate_email(address, check_deliverability=False, test_environment=True).normalized.lower()
        assert full == address.lower() == parse_email(address), address
    assert shortcut > 1000
    for refused in ("a..b@example.com", "a@ab--cd.com", "a@b.local", "a@host.localhost"):
        assert not is_email(refused)


def test_epoch_is_unix_seconds_and_a_day_its_midnight_utc() -> None:
    assert epoch(date(2030, 3, 1)) == 1898553600
    assert epoch(datetime(2030, 3, 1, 12, tzinfo=UTC)) == 1898553600 + 12 * 3600
    assert epoch(None) is None


def test_outgoing_clients_share_one_verifying_tls_context() -> None:
    """Loaded once per process (each load took ~50 ms), and it verifies as httpx's default does."""
    import ssl

    from ten99kit.tls import client_tls

    context = client_tls()
    assert context is client_tls()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.get_ca_certs() or context.cert_store_stats()["x509_ca"] > 0
