"""The zone comparison as an Excel workbook, for the pitch to an investor.

Every text cell goes through `safe_text`: text is always written as text, never as a
formula, and text starting with `=`, `+`, `-` or `@` (or a tab or carriage return) is
prefixed with an apostrophe, so neither Excel nor a CSV export of the sheet evaluates it
(formula injection). Amounts are numbers in 万元 with a thousands-separator format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from io import BytesIO

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from crm.incentives.facts import FACTS, facts_to_json
from crm.incentives.services import ZoneEvaluation

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MONEY_FORMAT = "#,##0.00"
APPLICABLE = ("applies", "by_assessment", "qualitative")


def safe_text(value: object) -> str:
    """Text that a spreadsheet shows as written and never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def write_text(sheet: Worksheet, row: int, column: int, value: object) -> Cell:
    """Write user or policy text into a cell as a string (never a formula)."""
    cell = sheet.cell(row=row, column=column)
    cell.value = safe_text(value)
    cell.data_type = "s"
    return cell


def write_money(sheet: Worksheet, row: int, column: int, value: Decimal | None) -> Cell:
    cell = sheet.cell(row=row, column=column)
    if value is not None:
        cell.value = Decimal(value)
        cell.number_format = MONEY_FORMAT
    return cell


def _header(sheet: Worksheet, row: int, titles: Sequence[str], widths: Sequence[int]) -> None:
    for column, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
        cell = write_text(sheet, row, column, title)
        cell.font = Font(bold=True)
        sheet.column_dimensions[cell.column_letter].width = width
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1)
    sheet.auto_filter.ref = f"A{row}:{sheet.cell(row=row, column=len(titles)).column_letter}{row}"


def comparison_workbook(
    evaluations: Sequence[ZoneEvaluation],
    facts: Mapping[str, object],
    *,
    as_of: date,
    project_name: str | None,
    english: bool,
    status_labels: Mapping[str, str],
) -> bytes:
    """The workbook: zones ranked, each zone's applicable measures, and the facts used.

    Headers are in the user's language (call it within a request); `status_labels` names
    each status.
    """
    workbook = Workbook()
    ranking = workbook.active
    ranking.title = _("Comparison")
    title = _("Incentives compared as of %(day)s", day=as_of.isoformat())
    write_text(ranking, 1, 1, title).font = Font(bold=True, size=13)
    if project_name:
        write_text(ranking, 2, 1, _("Project"))
        write_text(ranking, 2, 2, project_name)
    statuses = list(status_labels)
    _header(
        ranking,
        3,
        [
            _("Rank"),
            _("Zone"),
            _("Zone code"),
            _("Estimated total (10k CNY)"),
            _("By-assessment caps (10k CNY)"),
            *[status_labels[s] for s in statuses],
        ],
        [8, 30, 22, 18, 20, *([14] * len(statuses))],
    )
    for index, item in enumerate(evaluations, start=1):
        row = index + 3
        ranking.cell(row=row, column=1, value=index)
        write_text(ranking, row, 2, item.zone.name_en if english else item.zone.name_zh)
        write_text(ranking, row, 3, item.zone.code)
        write_money(ranking, row, 4, item.evaluation.total_applies)
        write_money(ranking, row, 5, item.evaluation.total_by_assessment_cap)
        for offset, status in enumerate(statuses):
            ranking.cell(row=row, column=6 + offset, value=item.evaluation.counts.get(status, 0))

    measures = workbook.create_sheet(_("Applicable measures"))
    _header(
        measures,
        1,
        [
            _("Zone"),
            _("Policy"),
            _("Version"),
            _("Measure"),
            _("Status"),
            _("Amount (10k CNY)"),
            _("Cap (10k CNY)"),
            _("Explanation"),
            _("Threshold to confirm"),
        ],
        [26, 34, 9, 50, 14, 14, 14, 60, 14],
    )
    row = 2
    for item in evaluations:
        zone_name = item.zone.name_en if english else item.zone.name_zh
        for result in item.evaluation.results:
            if result.status.value not in APPLICABLE:
                continue
            write_text(measures, row, 1, zone_name)
            write_text(measures, row, 2, result.policy_id)
            measures.cell(row=row, column=3, value=result.policy_version)
            write_text(measures, row, 4, result.title_en if english else result.title_zh)
            write_text(measures, row, 5, status_labels[result.status.value])
            write_money(measures, row, 6, result.amount)
            write_money(measures, row, 7, result.cap)
            explanation = result.explanation if english else result.explanation_zh
            write_text(measures, row, 8, explanation).alignment = Alignment(wrap_text=True)
            write_text(measures, row, 9, _("yes") if result.threshold_unconfirmed else "")
            row += 1

    facts_sheet = workbook.create_sheet(_("Facts"))
    _header(facts_sheet, 1, [_("Fact"), _("Key"), _("Value")], [36, 34, 40])
    shown = facts_to_json(facts)
    for row, (key, value) in enumerate(sorted(shown.items()), start=2):
        fact = FACTS.get(key)
        label = (fact.label_en if english else fact.label_zh) if fact else key
        write_text(facts_sheet, row, 1, label)
        write_text(facts_sheet, row, 2, key)
        text = ", ".join(map(str, value)) if isinstance(value, list) else value
        write_text(facts_sheet, row, 3, text)

    output = BytesIO()
    workbook.save(output)
    return output.getvalue()
