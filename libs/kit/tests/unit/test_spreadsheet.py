"""CSV cells a spreadsheet never runs as a formula (the exports and the import error report)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from ten99kit.spreadsheet import csv_text, neutralise


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-2", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_a_formula_like_cell_gets_an_apostrophe(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert neutralise("a" + cell) == "a" + cell


def test_values_are_written_as_a_person_reads_them() -> None:
    assert neutralise(None) == ""
    assert neutralise(date(2026, 12, 7)) == "2026-12-07"
    assert neutralise(datetime(2026, 12, 7, 23, 59, tzinfo=UTC)) == "2026-12-07"
    assert neutralise(["general", "workers-comp"]) == "general, workers-comp"
    assert neutralise(-5) == "'-5"  # a negative number is text to a spreadsheet reading it back


def test_rows_are_crlf_csv_with_every_cell_neutralised() -> None:
    assert csv_text([["a", "=b"], ["c,d", None]]) == 'a,\'=b\r\n"c,d",\r\n'
