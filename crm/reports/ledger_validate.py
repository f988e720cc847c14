"""Check the rows of an uploaded ledger: parse each mapped cell, apply the row rules.

Rules (documented for users in docs/ledger-import.md):

* required: 项目名称 and 投资方名称 in every row, and a column mapped to each;
* each typed cell must parse (amount, date, yes/no, stage, whole number, area);
* the credit code must pass ``uscc_check``; the chain must be a known name or code;
* the 亿元/万元 rule: a bare amount (no unit in the cell) under 1 万元 in 投资总额 or
  固定资产投资 is an error (probably 亿元), any bare amount over 10,000,000 万元
  (1000亿元) is an error (probably yuan); a unit written in the cell ("0.5亿",
  "1200亿") is taken as the user's confirmation. A 万元 column of at least 5 bare
  amounts whose median is under 10 万元 looks like a 亿元 column: an error when the
  header states no unit, a warning when it says 万元;
* stage dates follow the pipeline 签约 ≤ 落地 ≤ 开工 ≤ 投产 (error); a date for a stage
  beyond the row's stated stage is a warning;
* a project appears once (by 项目编号, else by company and project name);
* 合计/小计 rows are skipped with a warning.
"""

from __future__ import annotations

import difflib
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from crm.enums import MAIN_STAGES, Stage
from crm.reports.ledger_headers import (
    FIELDS,
    FIELDS_BY_KEY,
    LedgerField,
    area_factor,
    header_unit,
    money_factor,
    normalise_header,
)
from crm.reports.ledger_read import Table, TableRow
from crm.reports.ledger_values import (
    USD_UNITS,
    normalise_text,
    parse_area,
    parse_bool,
    parse_date,
    parse_int,
    parse_money_detail,
    parse_stage,
    parse_text,
    parse_top500,
)

__all__ = ["Issue", "ValidRow", "ValidationReport", "validate_rows"]

#: A bare amount under 1 万元 (10,000 yuan) in these fields was probably typed in 亿元.
SMALL_AMOUNT_FIELDS = frozenset({"planned_investment", "fixed_asset_investment"})
#: A bare amount above this many 万元 (1000亿元, 10^11 yuan) was probably typed in yuan.
MAX_PLAUSIBLE_WAN = Decimal(10_000_000)
#: A 万元 column whose median bare amount is below this looks like a 亿元 column.
COLUMN_MEDIAN_FLOOR_WAN = Decimal(10)
_DATE_ORDER = ("signed_on", "landed_on", "started_on", "operating_on")
_STAGE_OF_DATE = dict(
    zip(_DATE_ORDER, (Stage.SIGNED, Stage.LANDED, Stage.STARTED, Stage.OPERATING), strict=True)
)
_WAN_IN_HEADER = re.compile(r"\s*(?:[(（【]\s*万元\s*[)）】]|/万元$)")
_TOTAL_MARKERS = frozenset({"合计", "总计", "小计", "共计", "total", "subtotal"})


@dataclass(frozen=True)
class Issue:
    """One problem: where (file row number, column header), the raw value and what is wrong.

    ``row`` is 0 and ``column`` may be empty for problems with the file as a whole.
    ``code`` is stable for translation and tests; ``message`` is English.
    """

    row: int
    column: str
    value: object
    message: str
    code: str
    severity: Literal["error", "warning"] = "error"
    field: str | None = None
    column_index: int | None = None


@dataclass(frozen=True)
class ValidRow:
    """A row without errors: its file row number and its parsed values by field key."""

    row: int
    values: dict[str, object]


@dataclass
class ValidationReport:
    """Everything :func:`validate_rows` found. Import only when :attr:`ok`."""

    rows_total: int
    valid_rows: list[ValidRow] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    skipped_rows: list[int] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """Issues that block the import."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues shown to the user that do not block the import."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks the import (warnings allowed)."""
        return not self.errors

    def issues_by_row(self) -> dict[int, list[Issue]]:
        """Issues grouped by file row number (0 for the file as a whole)."""
        grouped: dict[int, list[Issue]] = {}
        for issue in self.issues:
            grouped.setdefault(issue.row, []).append(issue)
        return grouped


def _chain_lookup(known_chains: Mapping[str, str]) -> dict[str, str]:
    """Normalised name or code -> code, with 产业链 suffixes and bracketed notes dropped."""
    lookup: dict[str, str] = {}
    ambiguous: set[str] = set()
    for name, code in known_chains.items():
        for variant in _chain_variants(name):
            if lookup.get(variant, code) != code:
                ambiguous.add(variant)
            lookup.setdefault(variant, code)
    for variant in ambiguous:
        del lookup[variant]
    for name, code in known_chains.items():  # exact names always win
        lookup[normalise_text(name)] = code
    return lookup


def _chain_variants(name: str) -> set[str]:
    text = normalise_header(name)
    variants = {text}
    bare = text.split("(")[0]
    for candidate in (text, bare):
        variants.add(candidate)
        for suffix in ("产业链", "链", "产业"):
            if candidate.endswith(suffix) and len(candidate) > len(suffix) + 1:
                variants.add(candidate[: -len(suffix)])
    return {v for v in variants if v}


class _RowChecker:
    """Parses and checks rows against one mapping; collects issues as it goes."""

    def __init__(
        self,
        table: Table,
        mapping: Mapping[int, str],
        known_chains: Mapping[str, str],
        uscc_check: Callable[[str], str | None],
        report: ValidationReport,
    ) -> None:
        self.table = table
        self.mapping = mapping
        self.chains = _chain_lookup(known_chains)
        self.chain_names = sorted({k for k in known_chains if not k.isascii()})
        self.uscc_check = uscc_check
        self.report = report
        self.factors = {
            i: money_factor(table.headers[i])
            if FIELDS_BY_KEY[k].kind == "money"
            else area_factor(table.headers[i])
            for i, k in mapping.items()
        }
        self.index_of = {key: index for index, key in mapping.items()}
        self.bare_amounts: dict[int, list[Decimal]] = {}
        self.seen_names: dict[tuple[str, str], int] = {}
        self.seen_ids: dict[str, int] = {}

    def issue(
        self,
        row: int,
        index: int | None,
        value: object,
        message: str,
        code: str,
        severity: Literal["error", "warning"] = "error",
    ) -> None:
        key = self.mapping.get(index) if index is not None else None
        column = self.table.headers[index] if index is not None else ""
        self.report.issues.append(Issue(row, column, value, message, code, severity, key, index))

    def parse(self, row: TableRow, index: int, spec: LedgerField) -> tuple[object, str | None, str]:
        """(parsed value, error, error code) of one mapped cell."""
        raw = row.values[index]
        kind = spec.kind
        if kind == "text":
            value, error = parse_text(raw, spec.max_length)
            return value, error, "too_long"
        if kind == "uscc":
            value, error = parse_text(raw, 40)
            if value is None or error:
                return value, error, "bad_uscc"
            code = normalise_text(str(value)).upper()  # half-width, no spaces
            problem = self.uscc_check(code)
            return code, (f"credit code {problem}" if problem else None), "bad_uscc"
        if kind == "chain":
            value, error = parse_text(raw, 200)
            if value is None or error:
                return value, error, "unknown_chain"
            found = self.chains.get(normalise_text(str(value))) or self.chains.get(
                next(iter(_chain_variants(str(value)) & self.chains.keys()), "")
            )
            if found:
                return found, None, ""
            close = difflib.get_close_matches(str(value), self.chain_names, n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]}?)" if close else ""
            return None, f"{value!r} is not a known industrial chain{hint}", "unknown_chain"
        if kind == "money":
            amount, error, explicit = parse_money_detail(raw, self.factors[index])
            if error:
                return None, error, "not_a_number"
            if amount is not None and not explicit:
                problem = self.unit_problem(spec.key, index, amount)
                if problem:
                    return amount, problem[0], problem[1]
            return amount, None, ""
        if kind == "area":
            value, error = parse_area(raw, self.factors[index])
            return value, error, "not_a_number"
        if kind == "int":
            value, error = parse_int(raw)
            return value, error, "not_a_number"
        if kind == "date":
            value, error = parse_date(raw)
            return value, error, "bad_date"
        if kind == "bool":
            value, error = parse_bool(raw)
            return value, error, "bad_bool"
        if kind == "top500":
            value, error = parse_top500(raw)
            return value, error, "bad_bool"
        value, error = parse_stage(raw)
        return value, error, "bad_stage"

    def unit_problem(self, key: str, index: int, amount: Decimal) -> tuple[str, str] | None:
        """The 亿元/万元 rule for a bare amount (the cell named no unit), in 万元."""
        factor = self.factors[index]
        if factor == 1:
            self.bare_amounts.setdefault(index, []).append(amount)
        if factor == 1 and key in SMALL_AMOUNT_FIELDS and 0 < amount < 1:
            return (
                f"{amount.normalize():f} 万元 is under 10,000 yuan: probably 亿元. Write the "
                "unit in the cell (0.5亿 or 0.5万元) or head the column …(亿元)",
                "unit_looks_yi",
            )
        if amount > MAX_PLAUSIBLE_WAN:
            return (
                f"{amount.normalize():f} 万元 is over 1000亿元: probably entered in yuan. "
                "Write the unit in the cell (1200亿) if the amount is right",
                "unit_looks_yuan",
            )
        return None

    def check_row(self, row: TableRow) -> None:
        """Parse one row; record its issues, and keep it as a valid row if it has no error."""
        values: dict[str, object] = {}
        bad: set[int] = set()
        for index, key in self.mapping.items():
            value, error, code = self.parse(row, index, FIELDS_BY_KEY[key])
            if error:
                bad.add(index)
                self.issue(row.number, index, row.values[index], error, code)
            else:
                values[key] = value
        for key in ("project_name", "company_name"):
            index = self.index_of.get(key)
            if index is not None and index not in bad and values.get(key) is None:
                bad.add(index)
                self.issue(row.number, index, None, "required value is missing", "required")
        bad |= self.check_dates(row, values)
        bad |= self.check_duplicates(row, values)
        if not bad:
            full = {key: values.get(key) for key in self.mapping.values()}
            self.report.valid_rows.append(ValidRow(row.number, full))

    def check_dates(self, row: TableRow, values: dict[str, object]) -> set[int]:
        """Stage dates must follow the pipeline; dates beyond the stated stage are warned."""
        bad: set[int] = set()
        latest: tuple[str, date] | None = None
        for key in _DATE_ORDER:
            when = values.get(key)
            if not isinstance(when, date):
                continue
            if latest is not None and when < latest[1]:
                index = self.index_of[key]
                earlier = self.table.headers[self.index_of[latest[0]]]
                self.issue(
                    row.number,
                    index,
                    row.values[index],
                    f"{when} is before {earlier} {latest[1]}: stages go 签约 → 落地 → 开工 → 投产",
                    "date_order",
                )
                bad.add(index)
            else:
                latest = (key, when)
        stage = values.get("stage")
        if isinstance(stage, Stage) and stage in MAIN_STAGES:
            reached = MAIN_STAGES.index(stage)
            for key in _DATE_ORDER:
                if values.get(key) is None or MAIN_STAGES.index(_STAGE_OF_DATE[key]) <= reached:
                    continue
                index = self.index_of[key]
                self.issue(
                    row.number,
                    index,
                    row.values[index],
                    f"a date is set for a later stage than the row's stage ({stage.value})",
                    "stage_date_mismatch",
                    "warning",
                )
        return bad

    def check_duplicates(self, row: TableRow, values: dict[str, object]) -> set[int]:
        """A project may appear once: by project ID, else by company and project name."""
        external_id = values.get("external_id")
        if external_id:
            first = self.seen_ids.setdefault(str(external_id), row.number)
            if first != row.number:
                index = self.index_of["external_id"]
                message = f"same project ID as row {first}"
                self.issue(row.number, index, external_id, message, "duplicate")
                return {index}
            return set()
        name, company = values.get("project_name"), values.get("company_name")
        if name and company:
            key = (normalise_text(str(company)), normalise_text(str(name)))
            first = self.seen_names.setdefault(key, row.number)
            if first != row.number:
                index = self.index_of["project_name"]
                message = f"same company and project name as row {first}"
                self.issue(row.number, index, name, message, "duplicate")
                return {index}
        return set()

    def check_columns(self) -> None:
        """Whole-column rule: a 万元 column of mostly tiny amounts is really in 亿元."""
        for index, amounts in self.bare_amounts.items():
            key = self.mapping[index]
            if key not in SMALL_AMOUNT_FIELDS or len(amounts) < 5:
                continue
            if statistics.median(amounts) >= COLUMN_MEDIAN_FLOOR_WAN:
                continue
            header = self.table.headers[index]
            stated = header_unit(header) == "万元"
            self.issue(
                0,
                index,
                None,
                f"most amounts in {header} are below 10 万元, so the column looks like 亿元: "
                f"if so, rename the header to {_WAN_IN_HEADER.sub('', header).strip()}(亿元)",
                "column_looks_yi",
                "warning" if stated else "error",
            )


def _is_total_row(row: TableRow) -> bool:
    """True when one of the row's first three filled cells says 合计, 小计, total ..."""
    filled = (v for v in row.values if v is not None and v != "")
    for value, _ in zip(filled, range(3), strict=False):
        if isinstance(value, str) and normalise_text(value) in _TOTAL_MARKERS:
            return True
    return False


def _check_mapping(
    table: Table, mapping: Mapping[int, str | None], report: ValidationReport
) -> dict[int, str]:
    """The usable part of ``mapping``; file-level issues for everything wrong with it."""
    usable: dict[int, str] = {}
    used: dict[str, int] = {}
    for index, key in sorted(mapping.items()):
        if key is None:
            continue
        if not 0 <= index < len(table.headers):
            report.issues.append(
                Issue(0, "", index, f"column {index + 1} does not exist", "bad_mapping")
            )
            continue
        header = table.headers[index]
        if key not in FIELDS_BY_KEY:
            report.issues.append(
                Issue(0, header, key, f"unknown field {key!r}", "bad_mapping", column_index=index)
            )
            continue
        if key in used:
            other = table.headers[used[key]]
            report.issues.append(
                Issue(
                    0,
                    header,
                    key,
                    f"{FIELDS_BY_KEY[key].label} is mapped to both {other} and {header}",
                    "bad_mapping",
                    field=key,
                    column_index=index,
                )
            )
            continue
        if FIELDS_BY_KEY[key].kind == "money" and header_unit(header) in USD_UNITS:
            report.issues.append(
                Issue(
                    0,
                    header,
                    key,
                    f"{header} is in US dollars; amounts are imported in 万元",
                    "bad_mapping",
                    field=key,
                    column_index=index,
                )
            )
            continue
        used[key] = index
        usable[index] = key
    for spec in FIELDS:
        if spec.required and spec.key not in used:
            report.issues.append(
                Issue(
                    0,
                    "",
                    None,
                    f"no column is mapped to {spec.label} ({spec.label_en}), which is required",
                    "required_column",
                    field=spec.key,
                )
            )
    return usable


def validate_rows(
    table: Table,
    mapping: Mapping[int, str | None],
    known_chains: Mapping[str, str],
    uscc_check: Callable[[str], str | None],
) -> ValidationReport:
    """Parse and check every row of ``table`` under ``mapping`` (column index -> field).

    ``known_chains`` maps chain names and codes to codes; ``uscc_check`` returns what is
    wrong with a credit code, or ``None``. Returns every issue found: file-level ones
    (row 0: bad mapping, missing required column, a 万元 column that looks like 亿元)
    and per cell. Rows with no error become :class:`ValidRow` (every mapped field
    present, ``None`` when empty). Total rows (合计/小计) are skipped with a warning.
    Nothing here raises on bad data.
    """
    report = ValidationReport(rows_total=len(table.rows))
    usable = _check_mapping(table, mapping, report)
    checker = _RowChecker(table, usable, known_chains, uscc_check, report)
    for row in table.rows:
        if _is_total_row(row):
            report.skipped_rows.append(row.number)
            checker.issue(row.number, None, None, "total row skipped", "total_row", "warning")
            continue
        checker.check_row(row)
    checker.check_columns()
    if any(i.row == 0 and i.severity == "error" for i in report.issues):
        report.valid_rows.clear()  # a broken mapping or column makes every row suspect
    return report
