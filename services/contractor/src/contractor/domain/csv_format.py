"""The bulk-import CSV format: reading the file, matching headers forgivingly, turning each row
into a validated `ImportRow` or a list of `RowError` (line, column, reason), and writing CSVs
safely (formula-like cells neutralised). Pure: no database, no clock (``today`` is passed in).

Columns (any order; headers match regardless of case, spaces and punctuation, with the synonyms
in `COLUMNS`, and "(optional)"/"*" decorations ignored):

==========================  ========  ==================================================================
column                      required  accepted headers (examples)
==========================  ========  ==================================================================
end client                  yes       Ultimate Client Name, End Client, Client, Entity, Brand
first name / last name      yes       First Name, Contractor First Name, Given Name / Last Name, Surname
middle name                 no        Middle Name
email                       yes       Email, Email Address, Contractor Email
phone                       yes       Phone, Phone Number, Mobile
address line 1 / line 2     yes / no  Address, Address Line 1, Street / Address Line 2, Apt, Suite
city, state, postal code    yes       City, State, Home State, Zip, Zip Code, Postal Code
company name                no        Company Name, Business Name
job title / category code   one       Job Title, Title, Role / Category Code, Job Category
brief job description       yes       Brief Job Description, Job Description, Description
work state                  yes       Work State, State Where Work Is Performed ("Remote" allowed)
wage, wage type             yes       Wage (dollars, 2 decimals), Wage, Pay, Rate ($2,500.00) / Wage Type, Pay Type
                                      (flatfee, hourly, unit, blended)
start date, end date        yes       Start, Start Date, Effective Date / End, End Date
PO number, PO contact       no        PO Number, PO #, Purchase Order / PO Contact Email, PO Contact
campaign                    no        Campaign, Campaign Name
tax id                      no        Tax ID, SSN, EIN, TIN (encrypted at rest, never echoed back)
==========================  ========  ==================================================================

Values: dates as YYYY-MM-DD or MM/DD/YYYY (US order); money in dollars (``$2,500.00`` is 250000
cents); states as two-letter codes or names. Pay too high to be meant (`rules.implausible_wage`:
an hourly rate above $1,000, a flat fee above $1,000,000, as a Wage column in cents would give) is a
row warning (`row_warnings`): the import waits for the user to import such rows as written or drop
them. Line numbers are the file's physical lines (the header
is line 1), so a quoted cell spanning lines does not shift them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ten99kit.spreadsheet import csv_text, neutralise

from . import values as v
from .catalogue import category, match_category
from .rules import end_date_problem, implausible_wage

__all__ = [
    "COLUMNS",
    "CsvFileError",
    "HeaderMap",
    "ImportRow",
    "ParsedFile",
    "RowError",
    "decode_csv",
    "job_natural_key",
    "match_headers",
    "neutralise",
    "parse_file",
    "parse_row",
    "read_table",
    "row_warnings",
    "write_csv",
]


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    required: bool
    aliases: tuple[str, ...]


COLUMNS: tuple[Column, ...] = (
    Column("entity_name", "End client", True, (
        "ultimate client name", "ultimate client", "end client", "end client name", "client", "client name",
        "entity", "entity name", "brand", "brand name", "customer", "customer name", "certificate holder",
    )),
    Column("first_name", "First name", True, ("first name", "first", "given name", "fname", "firstname")),
    Column("middle_name", "Middle name", False, ("middle name", "middle", "middle initial")),
    Column("last_name", "Last name", True, ("last name", "last", "surname", "family name", "lname", "lastname")),
    Column("email", "Email", True, ("email", "email address", "e mail", "mail")),
    Column("phone", "Phone", True, (
        "phone", "phone number", "mobile", "mobile phone", "cell", "cell phone", "telephone", "tel",
    )),
    Column("line1", "Address line 1", True, (
        "address", "address line 1", "address 1", "line 1", "street", "street address", "mailing address",
        "mailing address line 1", "home address",
    )),
    Column("line2", "Address line 2", False, (
        "address line 2", "address 2", "line 2", "apt", "apartment", "suite", "unit", "mailing address line 2",
    )),
    Column("locality", "City", True, ("city", "town", "locality", "mailing city")),
    Column("region", "State", True, (
        "state", "home state", "region", "province", "mailing state", "state province", "state code",
    )),
    Column("postalcode", "Postal code", True, (
        "zip", "zip code", "zipcode", "postal code", "postcode", "mailing zip", "mailing postal code", "zip postal code",
    )),
    Column("company_name", "Company name", False, ("company name", "company", "business name", "business")),
    Column("job_title", "Job title", False, ("job title", "title", "role", "position", "job", "job name")),
    Column("category_code", "Category code", False, (
        "category code", "job category code", "job category", "category", "job code",
    )),
    Column("description", "Brief job description", True, (
        "brief job description", "job description", "description", "brief description", "job desc",
        "scope of work", "duties",
    )),
    Column("work_state", "Work state", True, (
        "work state", "state where work is performed", "state of work", "work location state", "work location",
        "state work performed", "job state",
    )),
    # the template's header names the unit ("Wage (dollars, 2 decimals)"); the bare "Wage" still works
    Column("wage", "Wage", True, ("wage", "pay", "pay amount", "payment amount", "rate", "wage amount",
                                  "compensation", "fee", "amount", "pay rate", "wage dollars 2 decimals",
                                  "wage dollars", "wage in dollars", "wage usd", "pay dollars", "pay usd")),
    Column("wage_type", "Wage type", True, ("wage type", "pay type", "rate type", "wage basis", "pay basis",
                                            "compensation type")),
    Column("effective_date", "Start date", True, (
        "start date", "start", "effective date", "coverage start", "coverage start date", "begin date", "from",
        "assignment start", "assignment start date",
    )),
    Column("end_date", "End date", True, (
        "end date", "end", "coverage end", "coverage end date", "to", "finish date", "assignment end",
        "assignment end date", "expiration date",
    )),
    Column("po_number", "PO number", False, (
        "po number", "po", "po #", "po no", "po num", "purchase order", "purchase order number",
    )),
    Column("po_contact_email", "PO contact email", False, (
        "po contact email", "po contact", "po email", "purchase order contact", "purchase order contact email",
    )),
    Column("campaign", "Campaign", False, ("campaign", "campaign name", "project", "project name")),
    Column("tax_identification", "Tax ID", False, (
        "tax id", "tax identification", "tax identification number", "ssn", "ein", "tin", "ssn ein",
    )),
)  # fmt: skip

_PREFIXES = ("contractor", "worker", "creator", "freelancer", "talent")


def _key(header: str) -> str:
    h = header.replace("\ufeff", "").casefold().replace("#", " number ")
    h = re.sub(r"\((optional|required|if any|opt)\)|\*", " ", h)
    h = re.sub(r"[^0-9a-z]+", "", h)
    return re.sub(r"(optional|required)$", "", h)


_ALIASES: dict[str, str] = {}
for _col in COLUMNS:
    for _alias in (_col.field, _col.label, *_col.aliases):
        _ALIASES.setdefault(_key(_alias), _col.field)
_BY_FIELD = {c.field: c for c in COLUMNS}


def _field_for(header: str) -> str | None:
    k = _key(header)
    if k in _ALIASES:
        return _ALIASES[k]
    for prefix in _PREFIXES:  # "Contractor Email", "Creator First Name"
        if k.startswith(prefix) and k[len(prefix) :] in _ALIASES:
            return _ALIASES[k[len(prefix) :]]
    return None


class CsvFileError(Exception):
    """The file as a whole cannot be imported (refused at upload with a 4xx)."""

    def __init__(self, message: str, error_code: str = "invalid_input") -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


@dataclass(frozen=True)
class HeaderMap:
    headers: list[str]
    #: field -> column index
    index: dict[str, int]
    ignored: list[str]

    def label(self, field_name: str) -> str:
        i = self.index.get(field_name)
        return self.headers[i] if i is not None else _BY_FIELD[field_name].label


def match_headers(headers: Sequence[str]) -> HeaderMap:
    index: dict[str, int] = {}
    ignored: list[str] = []
    clashes: list[str] = []
    for i, raw in enumerate(headers):
        name = raw.replace("\ufeff", "").strip()
        if not name:
            continue
        f = _field_for(name)
        if f is None:
            ignored.append(name)
        elif f in index:
            clashes.append(f"{headers[index[f]].strip()!r} and {name!r} both look like {_BY_FIELD[f].label}")
        else:
            index[f] = i
    missing = [c.label for c in COLUMNS if c.required and c.field not in index]
    if "job_title" not in index and "category_code" not in index:
        missing.append("Job title (or Category code)")
    problems = []
    if missing:
        problems.append("missing column(s): " + ", ".join(missing))
    if clashes:
        problems.append("; ".join(clashes))
    if problems:
        found = ", ".join(h.strip() for h in headers if h.strip()) or "none"
        raise CsvFileError(f"The header row does not fit the import format: {'; '.join(problems)}. Columns found: {found}.")
    return HeaderMap(headers=[h.replace("\ufeff", "").strip() for h in headers], index=index, ignored=ignored)


def decode_csv(content: bytes) -> str:
    """UTF-8 with or without a byte-order mark (UTF-16 with a BOM too)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return content.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = content[: e.start].count(b"\n") + 1
        raise CsvFileError(
            f"The file is not UTF-8 text (first bad byte on line {line}). Save it as 'CSV UTF-8' and upload it again.",
            error_code="invalid_file_type",
        ) from None


def _dialect(first_line: str) -> str:
    if "," not in first_line:
        for delimiter in (";", "\t"):
            if delimiter in first_line:
                return delimiter
    return ","


def read_table(content: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows with their physical line numbers; blank rows are skipped."""
    nul = content.find("\x00")
    if nul >= 0:  # no cell can hold one (PostgreSQL refuses NUL in text); usually a binary file
        line = content.count("\n", 0, nul) + 1
        raise CsvFileError(
            f"The file contains a NUL character (line {line}), so it is not a text CSV file. "
            "Export it from your spreadsheet as 'CSV UTF-8' and upload it again.",
            error_code="invalid_file_type",
        )
    first_line = content.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=_dialect(first_line), strict=False)
    try:
        headers = next(reader)
    except StopIteration:
        raise CsvFileError("The file is empty.") from None
    except csv.Error as e:
        raise CsvFileError(f"The header row cannot be read: {e}") from None
    rows: list[tuple[int, list[str]]] = []
    line = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as e:
        raise CsvFileError(f"Line {line} cannot be read: {e}") from None
    return headers, rows


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    reason: str
    value: str = ""


@dataclass
class ImportRow:
    line: int
    entity_name: str
    first_name: str
    middle_name: str | None
    last_name: str
    email: str
    phone: str
    address: dict[str, Any]
    company_name: str | None
    tax_identification: str | None
    category_code: str
    job_name: str
    description: str
    work_state: str | None
    wage_cents: int
    wage_type: str
    effective_date: date
    end_date: date
    po_number: str | None
    po_contact_email: str | None
    campaign: str | None
    email_key: str = field(init=False)
    entity_key: str = field(init=False)
    job_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.email_key = v.email_key(self.email)
        self.entity_key = v.name_key(self.entity_name)
        self.job_key = job_natural_key(
            self.entity_key,
            self.category_code,
            self.job_name,
            self.description,
            self.wage_cents,
            self.wage_type,
            self.work_state,
        )


def job_natural_key(
    entity_key: str, category_code: str, name: str, description: str, wage_cents: int, wage_type: str, work_state: str | None
) -> str:
    """Two rows describe the same job when all of these agree (names compared loosely)."""
    parts = [
        entity_key,
        category_code,
        v.name_key(name),
        v.name_key(description),
        str(wage_cents),
        wage_type,
        work_state or "remote",
    ]
    return "csv:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _work_state(value: Any) -> str | None:
    s = v.text(value, max_length=40, what="work state")
    assert s is not None
    if v.name_key(s) in ("remote", "remote work", "anywhere", "n a", "na"):
        return None
    return v.parse_state(s, what="work state")


def _phone(value: Any) -> str:
    s = v.text(value, max_length=40, what="phone")
    assert s is not None
    digits = re.sub(r"\D", "", s)
    if not 7 <= len(digits) <= 15:
        raise v.Invalid(f"{s!r} is not a phone number")
    return s


def _wage(value: Any) -> int:
    cents = v.parse_money_cents(value)
    if cents < v.WAGE_MIN_CENTS:
        raise v.Invalid("wage must be at least $1.00")
    if cents > v.WAGE_MAX_CENTS:
        raise v.Invalid("wage is above the $10,000,000 maximum")
    return cents


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "entity_name": lambda x: v.text(x, what="end client"),
    "first_name": lambda x: v.text(x, max_length=100, what="first name"),
    "middle_name": lambda x: v.text(x, max_length=100, required=False, what="middle name"),
    "last_name": lambda x: v.text(x, max_length=100, what="last name"),
    "email": v.parse_email,
    "phone": _phone,
    "line1": lambda x: v.text(x, what="address line 1"),
    "line2": lambda x: v.text(x, required=False, what="address line 2"),
    "locality": lambda x: v.text(x, max_length=100, what="city"),
    "region": v.parse_state,
    "postalcode": v.parse_postal_code,
    "company_name": lambda x: v.text(x, required=False, what="company name"),
    "job_title": lambda x: v.text(x, required=False, what="job title"),
    "category_code": lambda x: v.text(x, max_length=60, required=False, what="category code"),
    "description": lambda x: v.text(x, max_length=2000, what="job description"),
    "work_state": _work_state,
    "wage": _wage,
    "wage_type": v.parse_wage_type,
    "effective_date": lambda x: v.parse_date(x, what="start date"),
    "end_date": lambda x: v.parse_date(x, what="end date"),
    "po_number": lambda x: v.text(x, max_length=100, required=False, what="PO number"),
    "po_contact_email": lambda x: v.optional_email(x, what="PO contact email"),
    "campaign": lambda x: v.text(x, required=False, what="campaign"),
    "tax_identification": v.parse_tax_id,
}


_OPTIONAL = ("line2", "middle_name", "company_name", "po_number", "po_contact_email", "campaign", "tax_identification")


@dataclass
class _RowCheck:
    """One row being checked: its cells as the headers map them, the values parsed so far and
    the problems found."""

    line: int
    cells: Sequence[str]
    headers: HeaderMap
    got: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def cell(self, name: str) -> str:
        i = self.headers.index.get(name)
        return self.cells[i] if i is not None and i < len(self.cells) else ""

    def problem(self, name: str, reason: str, value: str = "") -> None:
        self.errors.append(RowError(self.line, self.headers.label(name), reason, value))


def parse_row(line: int, cells: Sequence[str], headers: HeaderMap, today: date) -> ImportRow | list[RowError]:
    """One data row: a validated `ImportRow`, or every problem it has (each with its column)."""
    row = _RowCheck(line, cells, headers)
    _parse_cells(row)
    code = _category_code(row)
    _check_dates(row, today)
    if row.errors:
        return row.errors
    assert code is not None
    return _import_row(row, code)


def _parse_cells(row: _RowCheck) -> None:
    cells, got, width = row.cells, row.got, len(row.cells)
    for name, i in row.headers.index.items():
        raw = cells[i] if i < width else ""
        try:
            got[name] = _PARSERS[name](raw)
        except v.Invalid as e:
            row.problem(name, str(e), "" if name == "tax_identification" else raw.strip()[:200])
    for name in _OPTIONAL:
        got.setdefault(name, None)


def _category_code(row: _RowCheck) -> str | None:
    """The job's category: an explicit code, else what the job title stands for."""
    title, given_code = row.got.get("job_title"), row.got.get("category_code")
    title_column = "job_title" if "job_title" in row.headers.index else "category_code"
    code = None
    if given_code:
        code = match_category(given_code)
        if code is None:
            row.problem("category_code", "not a known job category code", given_code)
    elif title:
        code = match_category(title)
        if code is None:
            row.problem(title_column, "job title matches no approved job category", title)
    elif not errors_for(row.errors, row.headers.label(title_column)):
        row.problem(title_column, "job title or category code is required")
    return code


def _check_dates(row: _RowCheck, today: date) -> None:
    eff, end = row.got.get("effective_date"), row.got.get("end_date")
    if isinstance(eff, date) and eff < today:
        row.problem("effective_date", f"start date is in the past (today is {today.isoformat()})", row.cell("effective_date"))
    if isinstance(eff, date) and isinstance(end, date):
        problem = end_date_problem(eff, end)
        if problem:
            row.problem("end_date", problem, row.cell("end_date"))


def _import_row(row: _RowCheck, code: str) -> ImportRow:
    got = row.got
    cat = category(code)
    assert cat is not None
    return ImportRow(
        line=row.line,
        entity_name=got["entity_name"],
        first_name=got["first_name"],
        middle_name=got["middle_name"],
        last_name=got["last_name"],
        email=got["email"],
        phone=got["phone"],
        address={
            "line1": got["line1"],
            "line2": got["line2"],
            "locality": got["locality"],
            "region": got["region"],
            "postalcode": got["postalcode"],
            "country": "US",
        },
        company_name=got["company_name"],
        tax_identification=got["tax_identification"],
        category_code=code,
        job_name=got.get("job_title") or cat.name,
        description=got["description"],
        work_state=got["work_state"],
        wage_cents=got["wage"],
        wage_type=got["wage_type"],
        effective_date=got["effective_date"],
        end_date=got["end_date"],
        po_number=got["po_number"],
        po_contact_email=got["po_contact_email"],
        campaign=got["campaign"],
    )


def row_warnings(row: ImportRow, headers: HeaderMap) -> list[RowError]:
    """What looks like a mistake in a valid row (implausible pay): imported only once confirmed."""
    reason = implausible_wage(row.wage_cents, row.wage_type)
    if reason is None:
        return []
    whole, part = divmod(row.wage_cents, 100)
    return [RowError(row.line, headers.label("wage"), reason, f"{whole}.{part:02d}")]


def errors_for(errors: list[RowError], column: str) -> bool:
    return any(e.column == column for e in errors)


@dataclass
class ParsedFile:
    headers: HeaderMap
    rows: list[tuple[int, list[str]]]


def parse_file(content: bytes, *, max_rows: int) -> ParsedFile:
    """Decode, read and check the header row; raises `CsvFileError` for a file refused as a whole."""
    table = decode_csv(content)
    raw_headers, rows = read_table(table)
    headers = match_headers(raw_headers)
    if not rows:
        raise CsvFileError("The file has a header row but no data rows.")
    if len(rows) > max_rows:
        raise CsvFileError(
            f"The file has {len(rows):,} rows; an import takes at most {max_rows:,}. Split it into smaller files.",
            error_code="invalid_file_size",
        )
    return ParsedFile(headers=headers, rows=rows)


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Every CSV the service writes goes through here, so every cell is neutralised (the kit's
    `ten99kit.spreadsheet`)."""
    return csv_text(itertools.chain([header], rows))
