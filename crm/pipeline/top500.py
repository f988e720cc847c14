"""Top-500 lists: read a year's list from a spreadsheet and propose company matches.

A list file is an xlsx workbook (first sheet) or a csv file with a header row naming
the columns rank, name, name_en and aliases, in English or Chinese (排名, 名称 /
企业名称 / 公司名称, 英文名称, 别名 / 简称). The header may sit below a title row.
Other columns are ignored. Nothing here touches the database: the caller shows the
parsed rows, the row errors and the proposed matches, and stores what is confirmed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import re
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from os import PathLike
from pathlib import Path
from typing import Any, Literal, NamedTuple

from crm.pipeline.names import normalize_company_name

__all__ = [
    "CompanyNames",
    "Match",
    "MatchReason",
    "NotASpreadsheetError",
    "RowError",
    "Top500Entry",
    "Top500Parse",
    "parse_top500",
    "propose_matches",
]

#: At most this many data rows are read; a Top-500 list has about 500.
MAX_ROWS = 10_000
#: The header row must be within this many rows from the top.
HEADER_SEARCH_ROWS = 10

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, or an encrypted workbook

Field = Literal["rank", "name", "name_en", "aliases"]
_HEADERS: dict[str, Field] = {
    "rank": "rank",
    "ranking": "rank",
    "排名": "rank",
    "名次": "rank",
    "name": "name",
    "名称": "name",
    "企业名称": "name",
    "公司名称": "name",
    "中文名称": "name",
    "企业": "name",
    "公司": "name",
    "nameen": "name_en",
    "englishname": "name_en",
    "英文名称": "name_en",
    "英文名": "name_en",
    "英文": "name_en",
    "aliases": "aliases",
    "alias": "aliases",
    "别名": "aliases",
    "简称": "aliases",
    "企业简称": "aliases",
    "公司简称": "aliases",
    "其他名称": "aliases",
    "曾用名": "aliases",
}
_ALIAS_SEPARATORS = re.compile(r"[|;、；｜]")


class NotASpreadsheetError(ValueError):
    """The file is not an xlsx workbook or a readable csv file; the message says why."""


class RowError(NamedTuple):
    """One problem in one cell: spreadsheet row number (1-based), column header as
    written in the file, the cell's value as text, and what is wrong."""

    row: int
    column: str
    value: str
    message: str


@dataclass(frozen=True)
class Top500Entry:
    """One company on a list. ``row`` is its row number in the file."""

    row: int
    rank: int | None
    name: str
    name_en: str | None = None
    aliases: tuple[str, ...] = ()

    def names(self) -> Iterator[tuple[str, str]]:
        """Yield (field, text) for the name, each alias and the English name."""
        yield "name", self.name
        for alias in self.aliases:
            yield "alias", alias
        if self.name_en:
            yield "name_en", self.name_en


@dataclass
class Top500Parse:
    """The rows that can be imported, and the rows that cannot with their errors."""

    entries: list[Top500Entry] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_top500(
    source: bytes | str | PathLike[str], filename: str | None = None, *, max_rows: int = MAX_ROWS
) -> Top500Parse:
    """Parse a Top-500 list file into entries and row errors.

    ``source`` is the file's content (bytes) or a path; ``filename`` (the uploaded
    name) only improves messages. The format is decided by content, not by name: a zip
    container is read as xlsx, anything else as csv text (UTF-8 with or without BOM,
    UTF-16 with BOM, else GB18030).

    Raises :class:`NotASpreadsheetError` with a message for a person when the file is
    not a spreadsheet (legacy or encrypted workbook, corrupt xlsx, binary data, text in
    an unknown encoding), when no header row with a name column is found in the first
    rows, or when it has more than ``max_rows`` data rows.

    Row problems do not raise: a row with an empty name, a rank that is not a positive
    integer, or a name whose normalised form repeats an earlier row's is left out of
    ``entries`` and reported in ``errors``. Entirely empty rows are skipped silently.
    Aliases are split on ``|``, ``;`` and ``、``; the name itself and repeated aliases
    are dropped from them.
    """
    if isinstance(source, bytes):
        data = source
        label = filename or "the file"
    else:
        data = Path(source).read_bytes()
        label = filename or Path(source).name
    with contextlib.closing(_read_rows(data, label)) as rows:
        return _parse_rows(rows, label, max_rows)


def _read_rows(data: bytes, label: str) -> Generator[tuple[int, list[str]], None, None]:
    if not data.strip():
        raise NotASpreadsheetError(f"{label} is empty")
    if data.startswith(_OLE_MAGIC):
        raise NotASpreadsheetError(
            f"{label} is an old-format .xls workbook or a password-protected workbook; "
            "save it as an unprotected .xlsx or as .csv and upload that"
        )
    if data.startswith(_ZIP_MAGIC):
        return _xlsx_rows(data, label)
    return _csv_rows(data, label)


def _xlsx_rows(data: bytes, label: str) -> Generator[tuple[int, list[str]], None, None]:
    # Imported here: openpyxl is slow to import and only needed for uploads.
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # Workbooks written by other programs often lack styles openpyxl expects.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\..*)?")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # an untrusted upload can fail in many ways inside openpyxl
        raise NotASpreadsheetError(
            f"{label} is a zip file but not a readable .xlsx workbook ({type(exc).__name__})"
        ) from exc
    return _sheet_rows(workbook, label)


def _sheet_rows(workbook: Any, label: str) -> Generator[tuple[int, list[str]], None, None]:
    try:
        if not workbook.worksheets:
            raise NotASpreadsheetError(f"{label} has no worksheet")
        values = workbook.worksheets[0].iter_rows(values_only=True)
        for number in itertools.count(1):
            try:
                row = next(values)
            except StopIteration:
                return
            except Exception as exc:  # corrupt sheet XML surfaces only while reading
                raise NotASpreadsheetError(
                    f"{label} has a worksheet that cannot be read ({type(exc).__name__})"
                ) from exc
            yield number, [_cell_text(value) for value in row]
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decode(data: bytes, label: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: Sequence[str] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text):
            break
        return text
    raise NotASpreadsheetError(
        f"{label} is neither an .xlsx workbook nor a csv text file in UTF-8 or GB18030"
    )


def _csv_rows(data: bytes, label: str) -> Generator[tuple[int, list[str]], None, None]:
    text = _decode(data, label)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        # Numbered by record, as a spreadsheet program shows them (a quoted cell may
        # span several lines of the file).
        rows = [(number, [cell.strip() for cell in row]) for number, row in enumerate(reader, 1)]
    except csv.Error as exc:
        raise NotASpreadsheetError(f"{label} is not a readable csv file: {exc}") from exc
    yield from rows


def _header_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _find_header(
    rows: Iterator[tuple[int, list[str]]], label: str
) -> tuple[dict[Field, tuple[int, str]], Iterator[tuple[int, list[str]]]]:
    for number, cells in rows:
        columns: dict[Field, tuple[int, str]] = {}
        for index, cell in enumerate(cells):
            fld = _HEADERS.get(_header_key(cell))
            if fld and fld not in columns:
                columns[fld] = (index, cell)
        if "name" in columns:
            return columns, rows
        if number >= HEADER_SEARCH_ROWS:
            break
    raise NotASpreadsheetError(
        f"{label} has no header row with a name column (名称, 企业名称, 公司名称 or name) "
        f"in its first {HEADER_SEARCH_ROWS} rows"
    )


def _parse_rank(text: str) -> int | None:
    folded = unicodedata.normalize("NFKC", text).strip()
    try:
        number = Decimal(folded)
    except InvalidOperation:
        return None
    if not number.is_finite() or number != number.to_integral_value() or number < 1:
        return None
    return int(number)


def _split_aliases(text: str, name: str) -> tuple[str, ...]:
    seen = {normalize_company_name(name)}
    aliases: list[str] = []
    for part in _ALIAS_SEPARATORS.split(text):
        alias = part.strip()
        key = normalize_company_name(alias)
        if key and key not in seen:
            seen.add(key)
            aliases.append(alias)
    return tuple(aliases)


def _parse_rows(rows: Iterator[tuple[int, list[str]]], label: str, max_rows: int) -> Top500Parse:
    columns, rows = _find_header(rows, label)
    result = Top500Parse()
    first_row_of: dict[str, int] = {}
    count = 0

    def cell(cells: list[str], fld: Field) -> str:
        if fld not in columns:
            return ""
        index = columns[fld][0]
        return cells[index] if index < len(cells) else ""

    for number, cells in rows:
        if not any(cells):
            continue
        count += 1
        if count > max_rows:
            raise NotASpreadsheetError(f"{label} has more than {max_rows} rows")
        name = cell(cells, "name")
        rank_text = cell(cells, "rank")
        row_errors: list[RowError] = []
        key = normalize_company_name(name) if name else ""
        if not key:
            row_errors.append(RowError(number, columns["name"][1], name, "name is missing"))
        elif key in first_row_of:
            row_errors.append(
                RowError(
                    number,
                    columns["name"][1],
                    name,
                    f"same company as row {first_row_of[key]} (both read as {key!r})",
                )
            )
        rank: int | None = None
        if "rank" in columns:
            rank = _parse_rank(rank_text)
            if rank is None:
                message = "rank is missing" if not rank_text else "rank is not a positive integer"
                row_errors.append(RowError(number, columns["rank"][1], rank_text, message))
        if row_errors:
            result.errors.extend(row_errors)
            continue
        first_row_of[key] = number
        result.entries.append(
            Top500Entry(
                row=number,
                rank=rank,
                name=name,
                name_en=cell(cells, "name_en") or None,
                aliases=_split_aliases(cell(cells, "aliases"), name),
            )
        )
    return result


# --- matching -------------------------------------------------------------------------

#: A company as the matcher needs it: (id, name, aliases, English name).
CompanyNames = tuple[int, str, Iterable[str] | None, str | None]


class MatchReason(NamedTuple):
    """Which of the company's names met which of the entry's names, and their common key."""

    company_field: str  # "name", "alias" or "name_en"
    company_text: str
    entry_field: str  # "name", "alias" or "name_en"
    entry_text: str
    key: str

    def describe(self) -> str:
        """A sentence for the confirmation screen."""
        return (
            f"company {self.company_field} {self.company_text!r} matches list "
            f"{self.entry_field} {self.entry_text!r} (both read as {self.key!r})"
        )


@dataclass(frozen=True)
class Match:
    """A proposed match of one company to one list entry, with every reason found."""

    company_id: int
    entry: Top500Entry
    reasons: tuple[MatchReason, ...]


def _company_names(company: CompanyNames) -> Iterator[tuple[str, str]]:
    _, name, aliases, name_en = company
    if name:
        yield "name", name
    for alias in aliases or ():
        if alias:
            yield "alias", alias
    if name_en:
        yield "name_en", name_en


def propose_matches(
    companies: Iterable[CompanyNames], entries: Iterable[Top500Entry]
) -> list[Match]:
    """Propose which companies are which list entries, by normalised names.

    Any of a company's names (name, each alias, English name) matches any of an
    entry's names when :func:`~crm.pipeline.names.normalize_company_name` gives both
    the same non-empty key; so a Chinese name can meet an English alias when they are
    written the same. Each (company, entry) pair is proposed once, with all the reasons
    found. A company may be proposed for several entries and an entry for several
    companies; a person decides.

    Runs in time linear in the number of names plus the number of proposals: each
    name is normalised once and looked up in a dict; ``companies`` and ``entries`` are
    each iterated once. Order: entries in the given order, then companies in the given
    order.
    """
    index: dict[str, list[tuple[int, int, str, str]]] = defaultdict(list)
    for position, company in enumerate(companies):
        for company_field, text in _company_names(company):
            key = normalize_company_name(text)
            if key:
                index[key].append((position, company[0], company_field, text))

    matches: list[Match] = []
    for entry in entries:
        found: dict[int, tuple[int, list[MatchReason]]] = {}
        for entry_field, text in entry.names():
            key = normalize_company_name(text)
            for position, company_id, company_field, company_text in index.get(key, ()):
                reasons = found.setdefault(company_id, (position, []))[1]
                reason = MatchReason(company_field, company_text, entry_field, text, key)
                if reason not in reasons:
                    reasons.append(reason)
        for company_id, (_, reasons) in sorted(found.items(), key=lambda item: item[1][0]):
            matches.append(Match(company_id, entry, tuple(reasons)))
    return matches
