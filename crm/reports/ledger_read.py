"""Read an uploaded ledger (xlsx or csv) into a table of raw cells, or refuse it clearly.

:func:`read_table` looks at the bytes, not the file name, to decide what a file is: an
xlsx is a zip holding ``xl/workbook.xml``; an OLE2 container (``D0 CF 11 E0 ...``) is
either a password-protected xlsx (it holds an ``EncryptedPackage`` stream) or a legacy
.xls; CSV is accepted only for ``.csv``/``.tsv``/``.txt`` names and must decode as
UTF-8 (with or without BOM), UTF-16 with BOM, or GB18030. The first visible sheet is
read in openpyxl's read-only mode, streaming, and reading stops as soon as the row
limit is passed.

The header row is the first row, among the first 10 non-empty ones, with at least two
recognised headers (see :mod:`crm.reports.ledger_headers`); failing that, the first
with at least two text cells, so the user can still map columns by hand. A second
header row directly below is merged into the first when it only holds text under
merged parent headers (实际到位资金(万元) over 当月 | 累计).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from crm.reports.ledger_headers import guess_field

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

__all__ = ["LedgerFileError", "Table", "TableRow", "read_table"]

HEADER_SEARCH_ROWS = 10
DEFAULT_MAX_COLUMNS = 200
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".xlsb")
_DAMAGED = "The workbook is damaged and cannot be read."
Row = tuple[int, tuple[object, ...]]


class LedgerFileError(ValueError):
    """The upload cannot be read as a ledger. ``str(error)`` is a message for the user.

    ``code`` is stable for the app and its tests: ``too_large``, ``empty``,
    ``not_spreadsheet``, ``xls``, ``encrypted``, ``unsupported_format``, ``too_many_rows``,
    ``no_header``, ``undecodable``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableRow:
    """One non-empty data row: its row number in the file and its cells (padded)."""

    number: int
    values: tuple[object, ...]


@dataclass
class Table:
    """The cells of an uploaded ledger, as found: nothing parsed or validated yet.

    ``headers`` has one text per column (``列F`` style names for columns without a
    header); ``header_rows`` are the file's row numbers that made up the header;
    ``header_recognised`` says whether at least two headers were recognised.
    """

    filename: str
    file_type: str
    sheet_name: str | None
    headers: list[str]
    header_rows: tuple[int, ...]
    rows: list[TableRow] = field(default_factory=list)
    header_recognised: bool = True


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _header_text(value: object) -> str:
    if _is_empty(value):
        return ""
    return " ".join(str(value).split())


def read_table(
    data: bytes,
    filename: str,
    max_bytes: int,
    max_rows: int,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_unpacked_bytes: int | None = None,
) -> Table:
    """Read the first sheet of an xlsx (or a csv) ledger into a :class:`Table`.

    Refuses with :class:`LedgerFileError` a file larger than ``max_bytes``, an empty
    file or one without data rows, anything that is not an xlsx or csv (legacy .xls,
    password-protected, .xlsb, .ods, web pages saved as .xls, other binaries), more than
    ``max_rows`` data rows, and an xlsx whose parts unpack to more than
    ``max_unpacked_bytes`` (default: 50 times ``max_bytes``, a zip-bomb guard). Columns
    beyond ``max_columns`` are ignored. Empty rows are skipped; row numbers are the
    file's (the spreadsheet row, or the CSV record counting the header's lines).
    """
    if len(data) > max_bytes:
        raise LedgerFileError(
            "too_large",
            f"The file is {_megabytes(len(data))}; the limit is {_megabytes(max_bytes)}.",
        )
    if not data.strip():
        raise LedgerFileError("empty", "The file is empty.")
    suffix = os.path.splitext(filename.lower())[1]
    if data.startswith(OLE2_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise LedgerFileError(
                "encrypted",
                "The file is password-protected: remove the password in Excel "
                "(File > Info > Protect Workbook) and upload it again.",
            )
        raise LedgerFileError(
            "xls", "The old .xls format is not supported: open it in Excel and save as .xlsx."
        )
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        limit = max_unpacked_bytes if max_unpacked_bytes is not None else 50 * max_bytes
        workbook = _open_xlsx(data, limit)
        try:
            sheet = _first_sheet(workbook)
            rows = _sheet_rows(sheet, max_columns)
            return _build_table(rows, filename, "xlsx", sheet.title, max_rows)
        finally:
            workbook.close()  # also when reading stopped early
    if suffix in _CSV_SUFFIXES:
        rows = _csv_rows(_decode(data), max_columns)
        return _build_table(rows, filename, "csv", None, max_rows)
    raise LedgerFileError("not_spreadsheet", _not_spreadsheet_message(data, suffix))


def _not_spreadsheet_message(data: bytes, suffix: str) -> str:
    head = data[:2048].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or (
        head.startswith(b"<?xml") and b"urn:schemas-microsoft-com:office" in head
    ):
        return (
            "This is a web page or XML file saved with an Excel name, not a workbook: "
            "open it in Excel and save as .xlsx."
        )
    if suffix in _EXCEL_SUFFIXES:
        return f"The file is named {suffix} but is not an Excel workbook (it may be damaged)."
    return "The file is not a spreadsheet: upload an .xlsx workbook or a .csv file."


def _open_xlsx(data: bytes, max_unpacked: int) -> Workbook:
    """The workbook in read-only mode, after checking the zip is a sane xlsx."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        unpacked = sum(info.file_size for info in archive.infolist())
        is_ods = "mimetype" in names and b"spreadsheet" in archive.read("mimetype")[:200]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise LedgerFileError(
            "not_spreadsheet", "The file is a damaged zip archive, not a readable workbook."
        ) from exc
    if "xl/workbook.xml" not in names:
        if "xl/workbook.bin" in names:
            message = "Binary .xlsb workbooks are not supported: save as .xlsx."
        elif is_ods:
            message = "OpenDocument (.ods) files are not supported: save as .xlsx."
        else:
            raise LedgerFileError("not_spreadsheet", "The file is a zip archive, not a workbook.")
        raise LedgerFileError("unsupported_format", message)
    if unpacked > max_unpacked:
        raise LedgerFileError(
            "too_large",
            f"The workbook unpacks to {_megabytes(unpacked)}; the limit is "
            f"{_megabytes(max_unpacked)}.",
        )
    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it drops (data validation, default styles):
            # irrelevant for reading values, and warnings must not reach the user.
            warnings.simplefilter("ignore")
            return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for malformed parts
        raise LedgerFileError("not_spreadsheet", _DAMAGED) from exc


def _first_sheet(workbook: Workbook) -> ReadOnlyWorksheet:
    sheets = workbook.worksheets
    if not sheets:
        raise LedgerFileError("empty", "The workbook has no worksheet.")
    visible = [ws for ws in sheets if ws.sheet_state == "visible"]
    return (visible or sheets)[0]


def _sheet_rows(sheet: ReadOnlyWorksheet, max_columns: int) -> Iterator[Row]:
    sheet.reset_dimensions()  # some writers record a wrong used range
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, cells in enumerate(sheet.iter_rows(values_only=True), 1):
                yield number, tuple(cells[:max_columns])
    except Exception as exc:  # a malformed sheet part fails only when it is parsed
        raise LedgerFileError("not_spreadsheet", _DAMAGED) from exc


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break
        return text
    raise LedgerFileError(
        "undecodable",
        "The file is not readable text: save the CSV as UTF-8 (or GB18030), or upload .xlsx.",
    )


def _sniff_delimiter(text: str) -> str:
    """Comma or tab: the one that splits the first lines into the most even columns."""
    sample = [line for line in text.splitlines()[:20] if line.strip()]
    best, best_score = ",", (0, 0)
    for delimiter in (",", "\t"):
        counts = [len(fields) for fields in csv.reader(sample, delimiter=delimiter)]
        widest = max(counts, default=1)
        score = (sum(1 for c in counts if c == widest and c > 1), widest)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _csv_rows(text: str, max_columns: int) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        for number, cells in enumerate(reader, 1):
            yield number, tuple(cells[:max_columns])
    except csv.Error as exc:
        raise LedgerFileError("not_spreadsheet", f"The CSV file is malformed: {exc}.") from exc


def _recognised(cells: Iterable[object]) -> int:
    return sum(1 for c in cells if isinstance(c, str) and guess_field(c) is not None)


def _texts(cells: Iterable[object]) -> int:
    return sum(1 for c in cells if isinstance(c, str) and c.strip())


def _is_sub_header(top: tuple[object, ...], below: tuple[object, ...]) -> bool:
    """True when ``below`` names the parts of merged headers in ``top`` (当月 | 累计).

    Every text in ``below`` must sit inside a merged span of ``top``: under a blank
    header cell with a header to its left, or under a header whose right neighbour is
    blank. A data row has values under ordinary headers, so it never qualifies.
    """
    filled = [i for i, value in enumerate(below) if not _is_empty(value)]
    if len(filled) < 2 or any(not isinstance(below[i], str) for i in filled):
        return False

    def blank(i: int) -> bool:
        return i >= len(top) or _is_empty(top[i])

    def in_span(i: int) -> bool:
        if blank(i):
            return any(not _is_empty(v) for v in top[:i])
        return blank(i + 1) and i + 1 < max(len(top), len(below))

    return all(in_span(i) for i in filled) and _recognised(below) < 2


def _merge_headers(top: tuple[object, ...], below: tuple[object, ...]) -> list[str]:
    width = max(len(top), len(below))
    merged, parent = [], ""
    for i in range(width):
        own = _header_text(top[i]) if i < len(top) else ""
        sub = _header_text(below[i]) if i < len(below) else ""
        if own:
            parent = own
        merged.append(parent + sub if sub else own)
    return merged


def _build_table(
    rows: Iterator[Row], filename: str, file_type: str, sheet_name: str | None, max_rows: int
) -> Table:
    candidates: list[tuple[int, tuple[object, ...]]] = []
    header_at = fallback_at = None
    for number, cells in rows:
        if all(_is_empty(c) for c in cells):
            continue
        candidates.append((number, cells))
        if _recognised(cells) >= 2:
            header_at = len(candidates) - 1
            break
        if fallback_at is None and _texts(cells) >= 2:
            fallback_at = len(candidates) - 1
        if len(candidates) >= HEADER_SEARCH_ROWS:
            break
    if not candidates:
        raise LedgerFileError("empty", "The file holds no data.")
    recognised = header_at is not None
    chosen = header_at if header_at is not None else fallback_at
    if chosen is None:
        raise LedgerFileError(
            "no_header",
            "No header row was found in the first rows: the sheet needs a row of column "
            "names such as 项目名称, 投资方名称, 投资总额(万元).",
        )
    header_number, top = candidates[chosen]
    pending = iter(candidates[chosen + 1 :])
    data_rows: list[TableRow] = []
    header_rows: tuple[int, ...] = (header_number,)
    headers = [_header_text(c) for c in top]

    def body() -> Iterator[tuple[int, tuple[object, ...]]]:
        yield from pending
        yield from rows

    first = True
    for number, cells in body():
        if all(_is_empty(c) for c in cells):
            continue
        if first and number == header_number + 1 and _is_sub_header(top, cells):
            headers = _merge_headers(top, cells)
            header_rows = (header_number, number)
            first = False
            continue
        first = False
        if len(data_rows) >= max_rows:
            raise LedgerFileError(
                "too_many_rows", f"The file holds more than {max_rows:,} rows; split it."
            )
        data_rows.append(TableRow(number, tuple(cells)))
    if not data_rows:
        raise LedgerFileError("empty", "The file has a header row but no data rows below it.")
    width = max(
        [i + 1 for i, h in enumerate(headers) if h]
        + [i + 1 for r in data_rows for i, v in enumerate(r.values) if not _is_empty(v)]
    )
    headers = (headers + [""] * width)[:width]
    headers = [h or f"(列{get_column_letter(i + 1)})" for i, h in enumerate(headers)]
    padded = [
        TableRow(r.number, (r.values + (None,) * width)[:width]) if len(r.values) != width else r
        for r in data_rows
    ]
    return Table(filename, file_type, sheet_name, headers, header_rows, padded, recognised)
