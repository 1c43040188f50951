"""`fpcheck sweep --csv` against upstream text made to break a spreadsheet: a CR or LF anywhere in a
cell starts neither a row nor a formula."""

from __future__ import annotations

import csv
import io

import pytest

from bot.sweep_cli import CSV_COLUMNS, cell, csv_row, to_csv
from checks.model import Status, Verdict
from checks.sweep.run import Lost, PaymentOut, ReferralOut, SweepResult


@pytest.mark.parametrize("text, guarded", [
    ("=1+1", "'=1+1"),
    ("Ana\n=HYPERLINK(\"http://x\")", "Ana\n'=HYPERLINK(\"http://x\")"),
    ("Ana\r\n+1", "Ana\r\n'+1"),
    ("Ana\r-2", "Ana\r'-2"),
    ("Ana\n@SUM(A1)", "Ana\n'@SUM(A1)"),
    ("Ana\n\tx", "Ana\n'\tx"),
    ("Ana\n\r=1", "Ana\n'\r'=1"),
    ("\n=1", "'\n'=1"),
    ("jane@example.com", "jane@example.com"),
    ("a - b\nc", "a - b\nc"),
])  # fmt: skip
def test_every_line_start_in_a_cell_is_guarded(text: str, guarded: str) -> None:
    assert cell(text) == guarded


def test_a_cell_with_a_line_break_is_quoted_and_stays_one_row() -> None:
    promoter = "Ana\r=cmd|' /C calc'!A0\nnext\r\n@x"
    lost = Lost(query="jane@example.com",
                payment=PaymentOut(id="in_1", amount=2900, currency="usd", paid_at="2026-11-20T13:55:52Z"),
                referral=ReferralOut(id=1, state="signup", promoter=promoter),
                verdict=Verdict(status=Status.FAIL, check="lead.uid", summary='said "x", then\rmore'))
    text = to_csv(SweepResult(window={}, scanned={}, lost=[lost], by_cause={}))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 2
    row = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert row["promoter"] == "Ana\r'=cmd|' /C calc'!A0\nnext\r\n'@x"
    assert row["summary"] == 'said "x", then\rmore'
    # no line of the file outside a quoted cell starts with what a spreadsheet runs
    assert '"Ana\r\'=cmd' in text and text.endswith("\n") and text.count("\n") == 4


def test_rows_are_written_as_csv_writer_writes_them() -> None:
    cells = ["a", "x,y", 'q"q', "", "n\nl", "plain"]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    assert csv_row(cells) == buf.getvalue()
    assert csv_row(["a\rb"]) == '"a\rb"\n'  # where csv.writer would leave the CR bare
