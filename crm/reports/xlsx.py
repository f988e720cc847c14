"""One helper for every xlsx the app writes: streamed, printable, and safe with user text.

Every workbook the product hands out (the weekly report, exports, the ledger-import error
report) is written through :class:`XlsxBook`, so what leaders expect of a sheet is decided
once: a title row, a bold wrapped header with a fill, a 序号 column when asked, frozen
header, autofilter, amounts as numbers with thousands separators and the unit in the
header, dates as real dates, sensible widths, A4 landscape fitted to the page width with
the header rows repeated on every page.

How rows are streamed
---------------------
openpyxl (in write-only mode) builds the package: styles, title and header rows, print
setup, print titles, autofilter, charts. Data rows are the bulk of the work, and
openpyxl's per-cell XML serialiser costs about 13 µs a cell (100,000 rows x 15 columns
took 28 s, lxml installed or not). So :meth:`SheetWriter.append` writes each data row's
XML straight to a temporary file, with style ids registered in the same workbook, and
:meth:`XlsxBook.save` splices those rows into the sheet's ``<sheetData>`` while copying
openpyxl's zip to the target. Memory stays flat whatever the number of rows.

User text is never a formula
----------------------------
Text starting with ``=``, ``+``, ``-`` or ``@`` can be run as a formula by a spreadsheet
(CSV/formula injection). Every string is written as an inline string cell
(``t="inlineStr"``, openpyxl reads it back with ``data_type 's'``) and never as a formula
(``<f>``) or error value, so Excel does not evaluate it on opening. Strings starting with
``= + - @``, tab or CR (or their full-width forms, which Chinese input methods produce),
and text that looks like an error code such as ``#N/A``, also get the style flag
``quotePrefix``: Excel sets that same flag when a user types a leading apostrophe, so the
text stays text even after someone edits the cell, and the value is stored exactly as the
user wrote it. We chose the flag over prefixing a ``'`` to the value because a literal
apostrophe would become part of the data (visible in the cell, in filters, in a
re-import). CSV has no cell types, so :func:`write_csv_safe` does prefix ``'``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, TextIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

__all__ = [
    "FORMULA_TRIGGERS", "NUMBER_FORMATS", "CellMark", "Column", "ColumnKind", "SheetSpec",
    "SheetWriter", "XlsxBook", "display_width", "is_formula_like", "wan_to_yi", "write_csv_safe",
]  # fmt: skip

ColumnKind = Literal[
    "text", "int", "number", "money_wan", "money_yi", "date", "datetime", "percent", "general"
]

#: Number format per column kind. The unit (万元/亿元) goes in the header, not in the
#: format, so the cell stays a plain number anyone can sum.
NUMBER_FORMATS: dict[str, str] = {
    "text": "General", "general": "General", "int": "#,##0", "number": "#,##0.00",
    "money_wan": "#,##0.00", "money_yi": "#,##0.00", "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm", "percent": "0.0%",
}  # fmt: skip
_UNIT_LABELS = {
    "zh": {"money_wan": "万元", "money_yi": "亿元"},
    "en": {"money_wan": "10k CNY", "money_yi": "100M CNY"},
}
_FOOTERS = {"zh": "第 &P 页，共 &N 页", "en": "Page &P of &N"}
_DEFAULT_WIDTHS = {
    "text": 18, "general": 14, "int": 10, "number": 14, "money_wan": 15, "money_yi": 13,
    "date": 12, "datetime": 17, "percent": 10,
}  # fmt: skip
_MAX_AUTO_WIDTH = 30
_EXCEL_MAX_ROWS = 1_048_576
_MIDNIGHT = time(0)
_EXCEL_MAX_CHARS = 32_767

#: First characters that make a spreadsheet treat typed text as a formula.
FORMULA_TRIGGERS = frozenset("=+-@\t\r＝＋－＠")

_NUMERIC_KINDS = frozenset({"int", "number", "money_wan", "money_yi", "percent"})
# Characters XML 1.0 cannot carry (controls other than tab/LF/CR, lone surrogates).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SHEET_TITLE_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))

_THIN = Side(style="thin", color="A6A6A6")
_MARK_FILLS = {
    "error": PatternFill("solid", fgColor="FFC7CE"),
    "warning": PatternFill("solid", fgColor="FFEB9C"),
}


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    ``kind``: ``text`` (always written as a string), ``int``, ``number``, ``money_wan`` /
    ``money_yi`` (numbers already in that unit; the unit is appended to the header, see
    :func:`wan_to_yi`), ``date``, ``datetime`` (aware datetimes are shown in the book's
    time zone), ``percent`` (a fraction: 0.25 shows as 25.0%), ``general`` (each value as
    it is: used to echo the cells of an uploaded file). Strings are written as text in
    every kind. ``width`` is in Excel character units (``None``: from kind and header);
    ``wrap`` wraps long text.
    """

    key: str
    header: str
    kind: ColumnKind = "text"
    width: float | None = None
    wrap: bool = False


@dataclass(frozen=True)
class SheetSpec:
    """A sheet: its tab title, columns, optional title row and optional 序号 column."""

    title: str
    columns: Sequence[Column]
    title_row: str | None = None
    serial_column: str | None = None


@dataclass(frozen=True)
class CellMark:
    """A highlighted cell: red fill for an error, yellow for a warning."""

    severity: Literal["error", "warning"] = "error"


def wan_to_yi(amount_wan: Decimal | int | float | None) -> Decimal | None:
    """Convert an amount in 万元 (how the app stores money) to 亿元 for a money_yi column."""
    if amount_wan is None:
        return None
    return Decimal(str(amount_wan)) / 10000


_REPEATS_MAX = 50_000  # cached cell texts per sheet (then the cache starts again)
_LEVEL = 1  # deflate level of the workbook's parts


def display_width(text: str) -> int:
    """Width of ``text`` in Excel character units: CJK and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def is_formula_like(text: str) -> bool:
    """True when a spreadsheet could read ``text`` as a formula or an error value."""
    return bool(text) and (text[0] in FORMULA_TRIGGERS or text in ERROR_CODES)


def _clean_text(text: str) -> str:
    """Drop characters XML cannot hold and cut to Excel's limit of 32,767 per cell."""
    if _XML_ILLEGAL.search(text):
        text = _XML_ILLEGAL.sub("", text)
    return text[:_EXCEL_MAX_CHARS]


def _as_text(value: object) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _number_xml(value: object) -> str | None:
    """The ``<v>`` text of a finite number; ``None`` for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and -(2**53) < value < 2**53:
        return str(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return repr(number) if math.isfinite(number) else None
    return None


def _inline_string(ref: str, text: str, style: int | None) -> str:
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")  # a raw CR would be read back as LF
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


class SheetWriter:
    """Appends rows to one streamed sheet. Get one from :meth:`XlsxBook.sheet`."""

    def __init__(self, book: XlsxBook, ws: WriteOnlyWorksheet, spec: SheetSpec) -> None:
        self._book = book
        self._ws = ws
        self.spec = spec
        self._offset = 1 if spec.serial_column is not None else 0
        self._index = {c.key: i for i, c in enumerate(spec.columns)}
        if len(self._index) != len(spec.columns):
            raise ValueError(f"duplicate column keys in sheet {spec.title!r}")
        self.header_row = 2 if spec.title_row else 1
        self.first_data_row = self.header_row + 1
        self.rows_written = 0
        self._letters = [get_column_letter(n) for n in range(1, self.column_count + 1)]
        # The XML after `<c r="A1"` of short texts and dates already written in a column:
        # a long sheet repeats its stages, chains, zones, owners and dates on every row.
        self._repeats: dict[tuple[int, object], str] = {}
        self._styles: dict[tuple[str, bool, bool, str | None], int] = {}
        self._rows = tempfile.TemporaryFile()  # noqa: SIM115 (closed by save/discard)
        self._write_top()

    @property
    def title(self) -> str:
        """The sheet's tab title as written (sanitised and unique)."""
        return str(self._ws.title)

    @property
    def last_row(self) -> int:
        """Number of the last row written (the header row while there is no data)."""
        return self.header_row + self.rows_written

    @property
    def column_count(self) -> int:
        """Columns on the sheet, the 序号 column included."""
        return len(self.spec.columns) + self._offset

    def column_number(self, key: str) -> int:
        """1-based sheet column of the column ``key`` (counting the 序号 column)."""
        return self._index[key] + 1 + self._offset

    def header_texts(self) -> list[str]:
        """The header cells' text, 序号 first when present, units appended."""
        texts = [self._book.header_text(c) for c in self.spec.columns]
        if self.spec.serial_column is not None:
            texts.insert(0, self.spec.serial_column)
        return texts

    def _write_top(self) -> None:
        """Widths, panes and print setup, then the title and header rows (via openpyxl)."""
        ws = self._ws
        headers = self.header_texts()
        widths = [max(7, display_width(h) + 2) for h in headers[: self._offset]]
        widths += [
            c.width or max(_DEFAULT_WIDTHS[c.kind], min(display_width(h) + 2, _MAX_AUTO_WIDTH))
            for c, h in zip(self.spec.columns, headers[self._offset :], strict=True)
        ]
        for letter, width in zip(self._letters, widths, strict=True):
            ws.column_dimensions[letter].width = width
        # Size the header row for its wrapped text, so every viewer shows it whole.
        pairs = zip(headers, widths, strict=True)
        lines = [math.ceil(display_width(h) / max(w - 1, 1)) for h, w in pairs]
        ws.row_dimensions[self.header_row].height = 15 * max(lines, default=1) + 4
        setup = ws.page_setup
        setup.orientation = "landscape"
        setup.paperSize = Worksheet.PAPERSIZE_A4
        setup.fitToWidth = 1
        setup.fitToHeight = 0  # as many pages tall as the rows need
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.horizontalCentered = True
        ws.print_options.gridLines = True
        ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.oddFooter.center.text = _FOOTERS.get(self._book.lang, _FOOTERS["en"])
        if headers:
            ws.freeze_panes = f"A{self.first_data_row}"
            ws.print_title_rows = f"1:{self.header_row}"
        if self.spec.title_row:
            title = self._text_cell(self.spec.title_row)
            title.font = Font(bold=True, size=14)
            ws.append([title])
        cells = []
        for text in headers:
            cell = self._text_cell(text)
            cell.font = Font(bold=True)
            cell.fill = PatternFill("solid", fgColor="DDEBF7")
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            cell.border = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
            cells.append(cell)
        if cells:
            ws.append(cells)

    def _text_cell(self, text: str) -> WriteOnlyCell:
        """A text cell for the title and header rows (they may echo uploaded text)."""
        text = _clean_text(text)
        cell = WriteOnlyCell(self._ws, text)
        cell.data_type = "s"
        cell.quotePrefix = is_formula_like(text)
        return cell

    def _style(self, number_format: str, wrap: bool, quote: bool, fill: str | None) -> int:
        """Id of a cell style registered in the workbook (cached per combination)."""
        key = (number_format, wrap, quote, fill)
        style = self._styles.get(key)
        if style is None:
            cell = WriteOnlyCell(self._ws)
            cell.number_format = number_format
            if wrap:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if quote:
                cell.quotePrefix = True
            if fill:
                cell.fill = _MARK_FILLS[fill]
            style = self._styles[key] = cell.style_id
        return style

    def append(
        self,
        values: Sequence[object] | Mapping[str, object],
        *,
        marks: Mapping[str, CellMark] | None = None,
    ) -> None:
        """Write one data row.

        ``values`` is a sequence in column order (without the 序号, which is numbered
        automatically) or a mapping from column key to value; missing keys and ``None``
        leave the cell empty. Strings are always text whatever the column kind (see the
        module docstring for formula-like text). ``marks`` fills cells by column key.
        """
        if self._book.closed:
            raise RuntimeError("the workbook has already been saved")
        columns = self.spec.columns
        if isinstance(values, Mapping):
            values = [values.get(c.key) for c in columns]
        elif len(values) > len(columns):
            raise ValueError(f"{len(values)} values for {len(columns)} columns in {self.title!r}")
        elif marks and len(values) < len(columns):
            values = [*values, *[None] * (len(columns) - len(values))]
        if self.last_row >= _EXCEL_MAX_ROWS:
            raise ValueError(f"sheet {self.title!r} is full (Excel's limit is {_EXCEL_MAX_ROWS})")
        self.rows_written += 1
        r = str(self.last_row)
        parts = [f'<row r="{r}">']
        if self._offset:
            parts.append(f'<c r="A{r}"><v>{self.rows_written}</v></c>')
        for i, value in enumerate(values):
            mark = marks.get(columns[i].key) if marks else None
            fill = mark.severity if mark else None
            if value is None:
                if fill:
                    style = self._style("General", False, False, fill)
                    parts.append(f'<c r="{self._letters[i + self._offset]}{r}" s="{style}"/>')
                continue
            parts.append(self._cell(i, value, self._letters[i + self._offset] + r, fill))
        parts.append("</row>")
        self._rows.write("".join(parts).encode())

    def _cell(self, i: int, value: object, ref: str, fill: str | None) -> str:
        """The XML of one data cell."""
        kind = type(value)
        if fill is None and ((kind is str and len(value) <= 64) or kind is date):  # type: ignore[arg-type]
            key = (i, value)
            tail = self._repeats.get(key)
            if tail is None:
                if len(self._repeats) >= _REPEATS_MAX:
                    self._repeats.clear()
                tail = self._repeats[key] = self._new_cell(i, value, "", None)[len('<c r=""') :]
            return f'<c r="{ref}"{tail}'
        return self._new_cell(i, value, ref, fill)

    def _new_cell(self, i: int, value: object, ref: str, fill: str | None) -> str:
        column = self.spec.columns[i]
        kind = column.kind
        if isinstance(value, str) or kind == "text":
            text = _clean_text(value if isinstance(value, str) else _as_text(value))
            quote = is_formula_like(text)
            if not (quote or column.wrap or fill):
                return _inline_string(ref, text, None)
            return _inline_string(ref, text, self._style("General", column.wrap, quote, fill))
        number = _number_xml(value)
        if number is not None:
            fmt = NUMBER_FORMATS[kind] if kind in _NUMERIC_KINDS else "General"
            return f'<c r="{ref}" s="{self._style(fmt, False, False, fill)}"><v>{number}</v></c>'
        if isinstance(value, date):
            if isinstance(value, datetime):
                value = self._book.local(value)
                if kind == "date" or (kind == "general" and value.time() == _MIDNIGHT):
                    value = value.date()
            elif kind == "datetime":
                value = datetime(value.year, value.month, value.day)
            fmt = NUMBER_FORMATS["datetime" if isinstance(value, datetime) else "date"]
            serial = _number_xml(to_excel(value))
            return f'<c r="{ref}" s="{self._style(fmt, False, False, fill)}"><v>{serial}</v></c>'
        if isinstance(value, bool) and kind == "general":
            s = f' s="{self._style("General", False, False, fill)}"' if fill else ""
            return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
        text = _clean_text(_as_text(value))
        style = self._style("General", column.wrap, is_formula_like(text), fill)
        return _inline_string(ref, text, style)

    def _finish(self) -> None:
        if self.column_count:
            last = self._letters[-1]
            self._ws.auto_filter.ref = f"A{self.header_row}:{last}{self.last_row}"
        self._rows.flush()


class XlsxBook:
    """A streamed xlsx workbook, saved when the ``with`` block ends without an error.

    ``target`` is a file path or a binary stream. A path is written to a temporary file
    next to it and renamed into place, so a failure never leaves a half-written file;
    an error inside the ``with`` block writes nothing. ``lang`` ("zh" or "en") picks unit
    labels and the page footer; ``tz`` is the zone aware datetimes are shown in (Excel
    has no time zones), Asia/Shanghai by default.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        lang: str = "zh",
        tz: tzinfo | None = None,
    ) -> None:
        self._target = target
        self.lang = lang
        self.tz = tz or ZoneInfo("Asia/Shanghai")
        self._wb = Workbook(write_only=True)
        self._wb.properties.creator = "crm"
        self._sheets: list[SheetWriter] = []
        self.closed = False

    def __enter__(self) -> XlsxBook:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.save()
        else:
            self.discard()

    def header_text(self, column: Column) -> str:
        """The header as written: amount columns get their unit appended unless present."""
        unit = _UNIT_LABELS.get(self.lang, _UNIT_LABELS["en"]).get(column.kind)
        if unit and unit not in column.header:
            return f"{column.header}({unit})"
        return column.header

    def local(self, value: datetime) -> datetime:
        """``value`` as a naive datetime in the book's time zone (naive values are kept)."""
        if value.tzinfo is None:
            return value
        return value.astimezone(self.tz).replace(tzinfo=None)

    def sheet(
        self,
        title: str,
        columns: Sequence[Column],
        *,
        title_row: str | None = None,
        serial_column: str | None = None,
    ) -> SheetWriter:
        """Add a sheet, write its title and header rows, and return its row writer."""
        return self.add_sheet(SheetSpec(title, columns, title_row, serial_column))

    def add_sheet(self, spec: SheetSpec) -> SheetWriter:
        """Add a sheet described by ``spec`` (see :meth:`sheet`)."""
        if self.closed:
            raise RuntimeError("the workbook has already been saved")
        ws = self._wb.create_sheet(self._unique_title(spec.title))
        writer = SheetWriter(self, ws, spec)
        self._sheets.append(writer)
        return writer

    def bar_chart(
        self,
        data: SheetWriter,
        *,
        category: str,
        values: Sequence[str],
        title: str,
        on: SheetWriter | None = None,
        anchor: str | None = None,
        horizontal: bool = False,
        stacked: bool = False,
        y_title: str | None = None,
        width_cm: float = 18,
        height_cm: float = 9,
    ) -> BarChart | None:
        """Add a bar chart over the data rows written so far on ``data``.

        ``category`` is the column key of the bar labels and ``values`` the keys of the
        series (their headers name the series). The chart goes on ``on`` (default: the
        data sheet) at ``anchor`` (default: two columns right of that sheet's columns,
        level with its first data row).
        Returns ``None`` and adds nothing when ``data`` has no rows yet.
        """
        if data.rows_written == 0:
            return None
        target = on or data
        chart = BarChart()
        chart.type = "bar" if horizontal else "col"
        chart.title = title
        chart.width, chart.height = width_cm, height_cm
        if stacked:
            chart.grouping, chart.overlap = "stacked", 100
        for key in values:
            col = data.column_number(key)
            ref = Reference(data._ws, col, data.header_row, col, data.last_row)
            chart.add_data(ref, titles_from_data=True)
        col = data.column_number(category)
        chart.set_categories(Reference(data._ws, col, data.first_data_row, col, data.last_row))
        if y_title:
            chart.y_axis.title = y_title
        # openpyxl 3.1 leaves the axes' "delete" flag unset, which Excel reads as hidden.
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        if len(values) == 1:
            chart.legend = None
        if anchor is None:
            anchor = f"{get_column_letter(target.column_count + 2)}{target.first_data_row}"
        target._ws.add_chart(chart, anchor)
        return chart

    def save(self) -> None:
        """Finish every sheet and write the file; the book cannot be used afterwards."""
        if self.closed:
            raise RuntimeError("the workbook has already been saved")
        if not self._sheets:
            raise ValueError("a workbook needs at least one sheet")
        self.closed = True
        try:
            for sheet in self._sheets:
                sheet._finish()
            skeleton = io.BytesIO()
            self._wb.save(skeleton)  # small: styles, header rows, charts, print setup
            target = self._target
            if isinstance(target, str | os.PathLike):
                path = Path(target)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                try:
                    with os.fdopen(fd, "wb") as out:
                        self._assemble(skeleton, out)
                    os.replace(tmp, path)
                except BaseException:
                    with suppress(OSError):
                        os.remove(tmp)
                    raise
            else:
                self._assemble(skeleton, target)
        finally:
            for sheet in self._sheets:
                sheet._rows.close()

    def _assemble(self, skeleton: IO[bytes], out: IO[bytes]) -> None:
        """Copy openpyxl's package to ``out``, splicing each sheet's streamed rows in."""
        rows = {sheet._ws.path.lstrip("/"): sheet._rows for sheet in self._sheets}
        with (
            zipfile.ZipFile(skeleton) as zin,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=_LEVEL) as zout,
        ):
            for info in zin.infolist():
                data = zin.read(info)
                stream = rows.get(info.filename)
                if stream is None or stream.tell() == 0:
                    zout.writestr(info, data)
                    continue
                xml = data.decode()
                if "</sheetData>" in xml:
                    head, tail = xml.split("</sheetData>", 1)
                    tail = "</sheetData>" + tail
                else:  # openpyxl wrote an empty <sheetData/>
                    head, tail = re.split(r"<sheetData\s*/>", xml, maxsplit=1)
                    head, tail = head + "<sheetData>", "</sheetData>" + tail
                head_bytes, tail_bytes = head.encode(), tail.encode()
                entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
                entry.compress_type = zipfile.ZIP_DEFLATED
                # (zlib's fastest level: a sheet of 100,000 rows deflates in a third of the
                # default's time for a file about a fifth larger)
                entry._compresslevel = _LEVEL  # type: ignore[attr-defined]
                entry.file_size = len(head_bytes) + stream.tell() + len(tail_bytes)
                with zout.open(entry, "w") as dst:
                    dst.write(head_bytes)
                    stream.seek(0)
                    shutil.copyfileobj(stream, dst, 1 << 20)
                    dst.write(tail_bytes)

    def discard(self) -> None:
        """Abandon the book: nothing is written and every temporary file is removed."""
        if self.closed:
            return
        self.closed = True
        for sheet in self._sheets:
            sheet._rows.close()
        if self._sheets:
            # Saving to memory is openpyxl's public way to close (and delete) the temporary
            # files of its streamed sheets; otherwise they stay until the process exits.
            with suppress(Exception):
                self._wb.save(io.BytesIO())

    def _unique_title(self, title: str) -> str:
        base = (title.translate(_SHEET_TITLE_FORBIDDEN).strip("'") or "Sheet")[:31]
        taken = {s.title.casefold() for s in self._sheets}
        candidate, n = base, 1
        while candidate.casefold() in taken:
            n += 1
            candidate = f"{base[: 31 - len(str(n)) - 3]} ({n})"
        return candidate


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if _number_xml(value) is not None:
        return f"{value:f}" if isinstance(value, Decimal) else str(value)
    if isinstance(value, float):
        return ""  # NaN or infinity
    text = value if isinstance(value, str) else _as_text(value)
    return "'" + text if is_formula_like(text) else text


def write_csv_safe(
    stream: TextIO,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """Write a CSV that spreadsheets will not run formulas from; returns the rows written.

    Text starting with ``= + - @``, tab or CR (or looking like ``#N/A``) gets a leading
    ``'``: CSV cannot say "this is text", and this is the defence spreadsheets honour.
    Numbers stay numbers, dates become ISO dates. Open ``stream`` with ``newline=""``
    and, for Excel users, ``encoding="utf-8-sig"`` so that Chinese text opens correctly.
    """
    writer = csv.writer(stream)
    writer.writerow([_csv_cell(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
        count += 1
    return count
