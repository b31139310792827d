"""Live certificates, without I/O: the verification id, the status a day gives, and the
verification URL printed on the certificate with a QR code that decodes to it."""

from __future__ import annotations

import base64
import io
import re
from datetime import date, timedelta

import msgspec
import pypdf
import pytest
import zxingcpp
from policy.adapters.links import CertificateLinks
from policy.adapters.pdf import render_certificate
from policy.domain.certificate import SAMPLE_CERTIFICATE
from policy.domain.verification import is_verification_id, live_status, new_verification_id

START, END = date(2026, 11, 10), date(2026, 12, 9)


def status_on(today: date, *, certificate: str = "current", coverage: str = "scheduled", policy: str = "active") -> str:
    return live_status(
        certificate_status=certificate,
        coverage_status=coverage,
        policy_status=policy,
        effective_date=START,
        end_date=END,
        today=today,
    )


def test_the_dates_decide_between_scheduled_active_and_expired_inclusive() -> None:
    assert status_on(START - timedelta(days=1)) == "scheduled"
    assert status_on(START) == "active"  # the first day is covered
    assert status_on(END) == "active"  # and the last
    assert status_on(END + timedelta(days=1)) == "expired"
    # the dates, not a stored status the clock-driven job has not moved yet
    assert status_on(START, coverage="scheduled") == "active"
    assert status_on(END + timedelta(days=1), coverage="active") == "expired"


@pytest.mark.parametrize(
    ("certificate", "coverage", "policy"),
    [("void", "cancelled", "active"), ("current", "cancelled", "active"), ("current", "active", "cancelled")],
)
def test_a_cancelled_coverage_or_policy_is_cancelled_whatever_the_dates(certificate: str, coverage: str, policy: str) -> None:
    for day in (START - timedelta(days=3), START, END + timedelta(days=3)):
        assert status_on(day, certificate=certificate, coverage=coverage, policy=policy) == "cancelled"


def test_a_superseded_certificate_says_so_before_anything_else() -> None:
    assert status_on(START, certificate="superseded") == "superseded"
    assert status_on(START, certificate="superseded", coverage="cancelled", policy="cancelled") == "superseded"


def test_verification_ids_are_unguessable_and_of_one_shape() -> None:
    ids = {new_verification_id() for _ in range(2000)}
    assert len(ids) == 2000
    for value in ids:
        assert is_verification_id(value)
        random_part = value.removeprefix("vrf_")
        assert len(random_part) == 27 and re.fullmatch(r"[A-Za-z0-9_-]+", random_part)
        assert len(base64.urlsafe_b64decode(random_part + "=")) == 20  # 160 random bits
    # a near miss is not an id: the gateway and the service refuse it before any lookup
    sample = next(iter(ids))
    near_misses = (sample[:-1], sample + "A", sample.replace("vrf_", "vrx_"), sample[:10] + "/" + sample[11:], sample + "\n")
    for bad in (*near_misses, "", None, 7):
        assert not is_verification_id(bad)


def test_the_verification_url_is_the_public_base_url_and_the_id() -> None:
    links = CertificateLinks("secret", "https://cover.example.com/", 3600)
    vid = new_verification_id()
    assert links.verification_url(vid) == f"https://cover.example.com/verify/{vid}"


def qr_codes_of(pdf: bytes) -> list[str]:
    """Every QR code drawn as an image on the certificate's page, decoded."""
    [page] = pypdf.PdfReader(io.BytesIO(pdf)).pages
    found = []
    for image in page.images:
        found += [code.text for code in zxingcpp.read_barcodes(image.image) if code.format == zxingcpp.BarcodeFormat.QRCode]
    return found


@pytest.mark.parametrize(
    "base", ["https://ten99.example", "http://127.0.0.1:8000", "https://insurance.a-very-long-company-name.example.com"]
)
def test_the_certificate_prints_its_verification_url_and_a_qr_code_that_decodes_to_it(base: str) -> None:
    url = CertificateLinks("secret", base, 3600).verification_url(new_verification_id())
    doc = msgspec.structs.replace(SAMPLE_CERTIFICATE, verification_url=url)
    pdf = render_certificate(doc)
    [page] = pypdf.PdfReader(io.BytesIO(pdf)).pages
    assert url in page.extract_text()
    assert qr_codes_of(pdf) == [url]
    # both are links to the page
    uris = [annot.get_object()["/A"]["/URI"] for annot in page.get("/Annots", [])]
    assert uris == [url, url]


def test_a_restamped_certificate_keeps_its_verification_url() -> None:
    stamped = msgspec.structs.replace(SAMPLE_CERTIFICATE, stamp="SUPERSEDED on 2026-11-02 by certificate COI-2026-AAAA")
    assert qr_codes_of(render_certificate(stamped)) == [SAMPLE_CERTIFICATE.verification_url]


def test_a_certificate_from_before_verification_prints_no_url_and_no_code() -> None:
    old = msgspec.structs.replace(SAMPLE_CERTIFICATE, verification_url=None)
    pdf = render_certificate(old)
    assert qr_codes_of(pdf) == []
    assert "/verify/" not in pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
