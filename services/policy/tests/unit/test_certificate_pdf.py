"""The Certificate of Insurance: what it says, how fast it is drawn, and its links."""

from __future__ import annotations

import io
import re

import msgspec
import pypdf
import pytest
from policy.adapters.links import BadLink, CertificateLinks
from policy.adapters.pdf import DISCLAIMER, ENCODING, render_certificate
from policy.domain.certificate import SAMPLE_CERTIFICATE, dollars, new_certificate_number, new_policy_number
from ten99kit.pdftext import printable, text_width

DOC = SAMPLE_CERTIFICATE


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_certificate_names_everything_a_holder_checks() -> None:
    text = text_of(render_certificate(DOC))
    for expected in (
        "CERTIFICATE OF INSURANCE",
        "Certificate No. COI-2026-9F3HW6TR",
        "Issued 2026-11-02",
        "Policy No. T99-2026-7KQ4M2XD",
        "Ada Lovelace",
        "Analytical Engines LLC",
        "2211 Mission St",
        "San Francisco, CA 94110",
        "Nike",
        "c/o Acme Talent Agency",
        "Commercial General Liability",
        "Workers' Compensation",
        "2026-11-10",
        "2026-12-09",
        "$1,000,000",
        "$2,000,000",
        "Content creator",
        "an_6Tg1Nh7Pk3Rm9Vs2Xu5Wq8",
        "ten99 Program Carrier (A+ rated)",
    ):
        assert expected in text, expected
    assert squash(DISCLAIMER) in squash(text)
    assert "SUPERSEDED" not in text and "VOID" not in text


def test_general_liability_only_and_a_stamp() -> None:
    doc = msgspec.structs.replace(
        DOC, coverage_types=["general"], stamp="SUPERSEDED on 2026-11-05 by certificate COI-2026-AAAAAAAA", company_name=None
    )
    text = text_of(render_certificate(doc))
    assert "Workers' Compensation" not in text and "Commercial General Liability" in text
    assert "SUPERSEDED on 2026-11-05 by certificate COI-2026-AAAAAAAA" in text
    assert "c/o" not in text


def test_names_outside_the_pdf_fonts_are_transliterated_not_lost() -> None:
    assert printable("Łukasz Dvořák", ENCODING) == "Lukasz Dvorák"
    assert printable("Zoë O’Brien", ENCODING) == "Zoë O’Brien"
    assert printable("李", ENCODING) == "?"
    doc = msgspec.structs.replace(DOC, insured_name="Łukasz Dvořák", holder_name="Škoda")
    text = text_of(render_certificate(doc))
    assert "Lukasz Dvorák" in text and "Škoda" in text  # Š is in Windows-1252


def test_money_and_numbers() -> None:
    assert dollars(100_000_000) == "$1,000,000"
    assert dollars(123_45) == "$123.45"
    assert dollars(0) == "$0"
    assert re.fullmatch(r"T99-2026-[0-9A-HJKMNP-TV-Z]{8}", new_policy_number(2026))
    assert re.fullmatch(r"COI-2026-[0-9A-HJKMNP-TV-Z]{8}", new_certificate_number(2026))
    assert len({new_certificate_number(2026) for _ in range(1000)}) == 1000


def test_download_links_are_signed_for_one_certificate_of_one_tenant() -> None:
    links = CertificateLinks("secret", "https://ten99.example/", max_age_s=3600)
    url = links.url("co_1", "coi_abc")
    assert url.startswith("https://ten99.example/certificates/coi_abc.pdf?token=")
    token = url.split("token=")[1]
    assert links.verify(token, "coi_abc") == "co_1"
    with pytest.raises(BadLink) as e:
        links.verify(token, "coi_other")
    assert e.value.reason == "invalid"
    with pytest.raises(BadLink):
        links.verify(token[:-2] + "xx", "coi_abc")
    with pytest.raises(BadLink):
        CertificateLinks("another", "https://x", 3600).verify(token, "coi_abc")
    expired = CertificateLinks("secret", "https://ten99.example", max_age_s=-1)
    with pytest.raises(BadLink) as e:
        expired.verify(token, "coi_abc")
    assert e.value.reason == "expired"


def test_the_warm_up_draws_a_real_certificate() -> None:
    from policy.adapters import pdf

    pdf._warm_up()  # raises if the sample document does not render


def test_text_widths_match_fpdf2s_own_measure() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"
    pdf.add_page()
    for style in ("", "B"):
        for size in (7, 9, 11):
            pdf.set_font("helvetica", style, size)
            for text in ("Certificate holder", DISCLAIMER, "Zoë Çà et là — 100 €", ""):
                text = printable(text, ENCODING)
                assert text_width(pdf, text) == pytest.approx(pdf.get_string_width(text), abs=1e-9)
