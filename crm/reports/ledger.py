"""Validate an uploaded project ledger (台账) before anything is written, and report errors.

The import works in three steps, none of which touches the database:

1. :func:`read_table` reads the file (or refuses it with :class:`LedgerFileError`);
2. :func:`guess_mapping` proposes a field for each column (the app remembers the user's
   corrections under :func:`header_signature`);
3. :func:`validate_rows` parses every mapped cell and checks each row, returning a
   :class:`ValidationReport` with every problem (row, column, value, message) and the
   valid rows as dicts of parsed values; :func:`error_report_xlsx` writes it for the user.

The rules (units, the 亿元/万元 check, date order) are documented in docs/ledger-import.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from crm.reports.ledger_headers import FIELDS, guess_field, guess_mapping, header_signature
from crm.reports.ledger_read import LedgerFileError, Table, TableRow, read_table
from crm.reports.ledger_validate import Issue, ValidationReport, ValidRow, validate_rows
from crm.reports.xlsx import CellMark, Column, XlsxBook

__all__ = [
    "FIELDS",
    "Issue",
    "LedgerFileError",
    "Table",
    "TableRow",
    "ValidRow",
    "ValidationReport",
    "error_report_xlsx",
    "guess_field",
    "guess_mapping",
    "header_signature",
    "read_table",
    "validate_rows",
]

_REPORT_TEXT = {
    "zh": {
        "sheet": "台账",
        "issues": "错误清单",
        "row": "行号",
        "column": "列",
        "value": "值",
        "message": "问题",
        "severity": "级别",
        "errors": "错误",
        "error": "错误",
        "warning": "警告",
        "title": "{name}：{errors} 个错误，{warnings} 个警告",
    },
    "en": {
        "sheet": "Ledger",
        "issues": "Problems",
        "row": "Row",
        "column": "Column",
        "value": "Value",
        "message": "Problem",
        "severity": "Severity",
        "errors": "Errors",
        "error": "error",
        "warning": "warning",
        "title": "{name}: {errors} errors, {warnings} warnings",
    },
}


def error_report_xlsx(
    table: Table,
    report: ValidationReport,
    stream: IO[bytes],
    *,
    lang: str = "zh",
    message: Callable[[Issue], str] | None = None,
) -> None:
    """Write the validation result as an xlsx to ``stream``.

    Sheet 1 repeats the uploaded rows (with their file row numbers) with bad cells filled
    red (warnings yellow) and a last column listing the row's problems; sheet 2 lists
    every problem (row, column, value, message, severity). ``message`` renders an issue
    in the user's language (default: its English message).
    """
    text = _REPORT_TEXT.get(lang, _REPORT_TEXT["en"])
    render = message or (lambda issue: issue.message)
    by_row = report.issues_by_row()
    title = text["title"].format(
        name=table.filename, errors=len(report.errors), warnings=len(report.warnings)
    )
    with XlsxBook(stream, lang=lang) as book:
        columns = [Column("row", text["row"], "int", width=7)]
        columns += [Column(f"c{i}", header, "general") for i, header in enumerate(table.headers)]
        columns.append(Column("errors", text["errors"], width=60, wrap=True))
        ledger = book.sheet(text["sheet"], columns, title_row=title)
        for row in table.rows:
            issues = by_row.get(row.number, [])
            marks = {
                f"c{i.column_index}": CellMark(i.severity)
                for i in issues
                if i.column_index is not None
            }
            notes = "\n".join(f"{i.column}: {render(i)}" if i.column else render(i) for i in issues)
            ledger.append([row.number, *row.values, notes or None], marks=marks)
        problems = book.sheet(
            text["issues"],
            [
                Column("row", text["row"], "int", width=7),
                Column("column", text["column"], width=22),
                Column("value", text["value"], "general", width=22),
                Column("message", text["message"], width=70, wrap=True),
                Column("severity", text["severity"], width=8),
            ],
            title_row=title,
        )
        for issue in sorted(report.issues, key=lambda i: (i.row, i.column_index or 0)):
            problems.append(
                [issue.row or None, issue.column, issue.value, render(issue), text[issue.severity]]
            )
