"""The CSV import rules (issue 3): header matching, encodings, quoting, values, row errors with
line and column, limits, and formula neutralisation in the CSVs we write."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from contractor.domain import values as v
from contractor.domain.csv_format import (
    CsvFileError,
    ImportRow,
    RowError,
    match_headers,
    neutralise,
    parse_file,
    parse_row,
    write_csv,
)

TODAY = date(2026, 11, 2)

HEADER = (
    "Ultimate Client Name,First Name,Last Name,Email,Phone,Address Line 1,Address Line 2,City,State,Zip,"
    "Company Name (optional),Job Title,Brief Job Description,Work State,Wage,Wage Type,Start Date,End Date,"
    "PO Number,PO Contact Email,Campaign"
)
GOOD = (
    'Nike,Ada,Lovelace,ada@example.com,415-555-0100,"2211 Mission St, Unit 4",,San Francisco,CA,94110,'
    '"Engines, LLC",Photographer,"Shoots the spring lookbook, two days",CA,"$2,500.00",Flat fee,11/10/2026,2026-12-09,'
    "PO-1,ap@nike.com,Spring 2027"
)


def parse(text: str, today: date = TODAY) -> list[ImportRow | list[RowError]]:
    parsed = parse_file(text.encode(), max_rows=1000)
    return [parse_row(line, cells, parsed.headers, today) for line, cells in parsed.rows]


def only_row(text: str) -> ImportRow:
    (row,) = parse(text)
    assert isinstance(row, ImportRow), row
    return row


def only_errors(text: str) -> list[RowError]:
    (row,) = parse(text)
    assert isinstance(row, list), row
    return row


def test_a_good_row_with_quoted_commas_is_read_in_full() -> None:
    row = only_row(f"{HEADER}\n{GOOD}\n")
    assert row.entity_name == "Nike"
    assert row.address == {
        "line1": "2211 Mission St, Unit 4",
        "line2": None,
        "locality": "San Francisco",
        "region": "CA",
        "postalcode": "94110",
        "country": "US",
    }
    assert row.company_name == "Engines, LLC"
    assert row.description == "Shoots the spring lookbook, two days"
    assert (row.category_code, row.job_name) == ("jc_photographer", "Photographer")
    assert (row.wage_cents, row.wage_type) == (250_000, "flatfee")
    assert (row.effective_date, row.end_date) == (date(2026, 11, 10), date(2026, 12, 9))
    assert (row.po_number, row.po_contact_email, row.campaign) == ("PO-1", "ap@nike.com", "Spring 2027")
    assert row.email_key == "ada@example.com"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_or_without_bom(bom: bytes) -> None:
    text = f"{HEADER}\n{GOOD.replace('Ada', 'Adélaïde')}\n"
    parsed = parse_file(bom + text.encode("utf-8"), max_rows=10)
    assert parsed.headers.index["entity_name"] == 0  # the BOM does not stick to the first header
    row = parse_row(*parsed.rows[0], parsed.headers, TODAY)
    assert isinstance(row, ImportRow) and row.first_name == "Adélaïde"


def test_utf16_with_bom_and_crlf_line_ends_are_read() -> None:
    text = f"{HEADER}\r\n{GOOD}\r\n"
    parsed = parse_file(text.encode("utf-16"), max_rows=10)
    assert len(parsed.rows) == 1


def test_a_file_that_is_not_utf8_is_refused_with_the_line() -> None:
    content = f"{HEADER}\n{GOOD}\n".encode() + "Nike,Zoë\n".encode("latin-1")
    with pytest.raises(CsvFileError) as e:
        parse_file(content, max_rows=10)
    assert e.value.error_code == "invalid_file_type" and "line 3" in e.value.message


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Ultimate Client Name", "entity_name"),
        ("client", "entity_name"),
        ("END CLIENT", "entity_name"),
        ("Contractor Email", "email"),
        ("E-mail Address", "email"),
        ("zip", "postalcode"),
        ("Postal Code", "postalcode"),
        ("ZIP Code", "postalcode"),
        ("Job Title", "job_title"),
        ("job_category_code", "category_code"),
        ("Start", "effective_date"),
        ("Effective Date", "effective_date"),
        ("  start-date  ", "effective_date"),
        ("End", "end_date"),
        ("PO #", "po_number"),
        ("Purchase Order Number", "po_number"),
        ("PO Contact", "po_contact_email"),
        ("State where work is performed", "work_state"),
        ("Company Name (optional)", "company_name"),
        ("Campaign*", "campaign"),
        ("Creator First Name", "first_name"),
    ],
)
def test_headers_match_forgivingly(header: str, field: str) -> None:
    base = HEADER.split(",")
    # put the header under test in place of the column that means the same
    standard = {
        "entity_name": 0,
        "first_name": 1,
        "email": 3,
        "postalcode": 9,
        "job_title": 11,
        "work_state": 13,
        "effective_date": 16,
        "end_date": 17,
        "po_number": 18,
        "po_contact_email": 19,
        "campaign": 20,
        "company_name": 10,
    }
    headers = list(base)
    if field in standard:
        headers[standard[field]] = header
    else:
        headers.append(header)
    mapped = match_headers(headers)
    assert headers[mapped.index[field]] == header


def test_missing_columns_are_named_and_unknown_columns_ignored() -> None:
    headers = [*HEADER.replace("Email,", "").replace("Wage Type,", "").split(","), "Shoe size"]
    with pytest.raises(CsvFileError) as e:
        match_headers(headers)
    assert "Email" in e.value.message and "Wage type" in e.value.message
    ok = match_headers([*HEADER.split(","), "Shoe size"])
    assert ok.ignored == ["Shoe size"]


def test_two_columns_meaning_the_same_are_refused() -> None:
    with pytest.raises(CsvFileError) as e:
        match_headers([*HEADER.split(","), "E-mail"])
    assert "Email" in e.value.message and "E-mail" in e.value.message


def test_empty_file_header_only_and_too_many_rows() -> None:
    with pytest.raises(CsvFileError):
        parse_file(b"", max_rows=10)
    with pytest.raises(CsvFileError) as e:
        parse_file(f"{HEADER}\n".encode(), max_rows=10)
    assert "no data rows" in e.value.message
    with pytest.raises(CsvFileError) as e:
        parse_file(f"{HEADER}\n{GOOD}\n{GOOD}\n{GOOD}\n".encode(), max_rows=2)
    assert e.value.error_code == "invalid_file_size" and "at most 2" in e.value.message


@pytest.mark.parametrize(
    ("text", "cents"),
    [("$2,500.00", 250_000), ("2500", 250_000), ("2,500", 250_000), ("2500.5", 250_050), ("USD 99.99", 9_999),
     ("$ 1,234,567.89", 123_456_789), (".50", 50)],
)  # fmt: skip
def test_money_becomes_cents(text: str, cents: int) -> None:
    assert v.parse_money_cents(text) == cents


@pytest.mark.parametrize("text", ["-5", "2.555", "abc", "2,50", "$", "1.2.3", "(100)"])
def test_bad_money_is_refused(text: str) -> None:
    with pytest.raises(v.Invalid):
        v.parse_money_cents(text)


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2026-11-10", date(2026, 11, 10)),
        ("11/10/2026", date(2026, 11, 10)),
        ("1/5/2027", date(2027, 1, 5)),
        ("01-05-27", date(2027, 1, 5)),
        ("2026/11/10", date(2026, 11, 10)),
        ("2026-11-10T23:30:00Z", date(2026, 11, 10)),
        ("2026-11-10T20:30:00-05:00", date(2026, 11, 11)),
        (1794268800, date(2026, 11, 10)),
    ],
)
def test_dates_in_iso_us_and_epoch_forms(text: object, day: date) -> None:
    assert v.parse_date(text) == day


@pytest.mark.parametrize("text", ["13/01/2027", "2026-02-30", "next week", "10.11.2026"])
def test_bad_dates_are_refused(text: str) -> None:
    with pytest.raises(v.Invalid):
        v.parse_date(text)


def test_states_postal_codes_and_wage_types_are_normalised() -> None:
    assert v.parse_state("ca") == "CA" and v.parse_state("New York") == "NY"
    assert v.parse_postal_code("2134") == "02134" and v.parse_postal_code("94110-1234") == "94110-1234"
    assert [v.parse_wage_type(x) for x in ("Flat fee", "HOURLY", "per unit", "blended")] == [
        "flatfee",
        "hourly",
        "unit",
        "blended",
    ]
    with pytest.raises(v.Invalid):
        v.parse_state("XX")


def _row_with(**changes: str) -> str:
    headers = HEADER.split(",")
    cells = next(csv.reader([GOOD]))
    for label, value in changes.items():
        cells[headers.index(label)] = value
    out = io.StringIO()
    csv.writer(out).writerow(cells)
    return out.getvalue().strip()


@pytest.mark.parametrize(
    ("label", "value", "reason"),
    [
        ("Email", "not-an-email", "not a valid email address"),
        ("Email", "", "email is required"),
        ("Ultimate Client Name", " ", "end client is required"),
        ("State", "Narnia", "not a US state"),
        ("Zip", "ABCDE", "not a US ZIP code"),
        ("Work State", "ZZ", "not a US state"),
        ("Wage", "lots", "not an amount"),
        ("Wage", "0.50", "at least $1.00"),
        ("Wage Type", "weekly", "not a wage type"),
        ("Start Date", "31/12/2026", "not a date"),
        ("Start Date", "10/01/2026", "in the past"),
        ("End Date", "11/01/2026", "before the start date"),
        ("End Date", "2027-11-11", "more than one year"),
        ("Job Title", "Astronaut", "matches no approved job category"),
        ("Job Title", "", "job title or category code is required"),
        ("PO Contact Email", "ap-at-nike", "not a valid email address"),
        ("Phone", "12", "not a phone number"),
    ],
)
def test_each_bad_value_is_reported_with_line_and_column(label: str, value: str, reason: str) -> None:
    text = f"{HEADER}\n{GOOD}\n{_row_with(**{label: value})}\n"
    rows = parse(text)
    assert isinstance(rows[0], ImportRow)
    errors = rows[1]
    assert isinstance(errors, list)
    assert [(e.line, e.column) for e in errors] == [(3, label)]
    assert reason in errors[0].reason


def test_a_row_with_several_problems_reports_each_and_line_numbers_follow_the_file() -> None:
    bad = _row_with(Email="nope", Wage="free")
    # a quoted description spanning two physical lines shifts the next row's line number
    multi = _row_with(**{"Brief Job Description": "two\nlines"})
    text = f"{HEADER}\n{multi}\n\n{bad}\n"
    rows = parse(text)
    assert isinstance(rows[0], ImportRow) and rows[0].description == "two\nlines"
    errors = rows[1]
    assert isinstance(errors, list)
    assert {(e.line, e.column) for e in errors} == {(5, "Email"), (5, "Wage")}


def test_category_code_column_and_remote_work() -> None:
    text = (
        HEADER.replace("Job Title", "Category Code")
        + "\n"
        + GOOD.replace("Photographer", "jc_creator").replace(',CA,"$', ',Remote,"$')
    )
    row = only_row(text)
    assert row.category_code == "jc_creator" and row.job_name == "Content creator / influencer"
    assert row.work_state is None


def test_same_job_in_two_rows_has_one_natural_key() -> None:
    a = only_row(f"{HEADER}\n{GOOD}\n")
    b = only_row(
        f"{HEADER}\n{_row_with(Email='grace@example.com', **{'Brief Job Description': 'shoots the SPRING lookbook; two days'})}\n"
    )
    assert a.job_key == b.job_key
    c = only_row(f"{HEADER}\n{_row_with(Wage='2600')}\n")
    assert c.job_key != a.job_key


@pytest.mark.parametrize("cell", ["=SUM(A1:A2)", "+1", "-2", "@cmd", "\tx", "\rx"])
def test_formula_like_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    out = write_csv([cell], [[cell, "plain", 5]])
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["'" + cell] and rows[1] == ["'" + cell, "plain", "5"]


def test_tax_id_is_validated_and_never_echoed_in_errors() -> None:
    headers = HEADER + ",SSN"
    rows = parse(f"{headers}\n{GOOD},123-45-678\n")
    errors = rows[0]
    assert isinstance(errors, list) and errors[0].column == "SSN" and errors[0].value == ""
    ok = parse(f"{headers}\n{GOOD},123456789\n")[0]
    assert isinstance(ok, ImportRow) and ok.tax_identification == "123-45-6789"
