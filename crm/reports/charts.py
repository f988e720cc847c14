"""Charts drawn as SVG on the server: no script, no style attribute, no asset from elsewhere.

Only SVG presentation attributes (fill, stroke, font-size, ...) are used, which the page's
Content-Security-Policy allows. Every chart carries a <title> and an aria-label; the table
behind it sits next to it on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

PALETTE = (
    "#0d6efd",
    "#fd7e14",
    "#198754",
    "#6f42c1",
    "#dc3545",
    "#20c997",
    "#6c757d",
    "#d63384",
    "#0dcaf0",
    "#ffc107",
)
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown next to the bar


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="report-chart">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every text part is escaped


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def hbars(title: str, bars: Sequence[Bar], *, width: int = 640, label_width: int = 190) -> Markup:
    """Horizontal bars, one per row, with the value written after each bar."""
    row = 22
    height = max(row * len(bars) + 10, 40)
    top = _nice_max(max((b.value for b in bars), default=0))
    span = width - label_width - 90
    body = []
    for i, bar in enumerate(bars):
        y = 5 + i * row
        length = 0 if top == 0 else max(0.0, bar.value) / top * span
        color = PALETTE[i % len(PALETTE)] if len(bars) <= 8 else PALETTE[0]
        body.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" {FONT} '
            f'fill="#212529">{escape(_clip(bar.label, 16))}</text>'
            f'<rect x="{label_width}" y="{y + 3}" width="{_num(length)}" height="{row - 6}" '
            f'fill="{color}" rx="2"><title>{escape(bar.label)}: {escape(bar.text)}</title></rect>'
            f'<text x="{_num(label_width + length + 5)}" y="{y + 15}" {FONT} '
            f'fill="#495057">{escape(bar.text)}</text>'
        )
    if not bars:
        body.append(f'<text x="10" y="25" {FONT} fill="#6c757d">—</text>')
    return _svg(width, height, title, body)


def funnel(title: str, bars: Sequence[Bar], *, width: int = 640) -> Markup:
    """A centred funnel: each stage a bar as wide as its share of the widest stage."""
    row = 30
    height = row * len(bars) + 10
    top = max((b.value for b in bars), default=0) or 1
    label_width, text_width = 150, 130
    span = width - label_width - text_width
    centre = label_width + span / 2
    body = []
    for i, bar in enumerate(bars):
        y = 5 + i * row
        length = max(2.0, bar.value / top * span)
        body.append(
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" {FONT} '
            f'fill="#212529">{escape(_clip(bar.label, 20))}</text>'
            f'<rect x="{_num(centre - length / 2)}" y="{y + 2}" width="{_num(length)}" '
            f'height="{row - 4}" fill="{PALETTE[i % len(PALETTE)]}" rx="3">'
            f"<title>{escape(bar.label)}: {escape(bar.text)}</title></rect>"
            f'<text x="{_num(centre + length / 2 + 6)}" y="{y + 19}" {FONT} '
            f'fill="#495057">{escape(bar.text)}</text>'
        )
    return _svg(width, height, title, body)


def months_vs_target(
    title: str,
    monthly: Sequence[int],
    target: int | None,
    labels: Sequence[str],
    legend: tuple[str, str, str],
    *,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """Monthly bars, the cumulative line, and the target's even pace as a dashed line."""
    left, bottom, top_pad = 40, 30, 24
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    cumulative, running = [], 0
    for value in monthly:
        running += value
        cumulative.append(running)
    peak = _nice_max(max([*cumulative, target or 0, 1]))
    step = plot_w / 12

    def y(value: float) -> float:
        return top_pad + plot_h - value / peak * plot_h

    body = [
        f'<line x1="{left}" y1="{_num(y(0))}" x2="{width - 10}" y2="{_num(y(0))}" '
        f'stroke="#adb5bd"/>',
        f'<text x="{left - 4}" y="{_num(y(peak) + 4)}" text-anchor="end" {FONT} '
        f'fill="#6c757d">{_num(peak)}</text>',
        f'<text x="{left - 4}" y="{_num(y(0) + 4)}" text-anchor="end" {FONT} '
        f'fill="#6c757d">0</text>',
    ]
    for i, value in enumerate(monthly):
        x = left + i * step
        body.append(
            f'<rect x="{_num(x + step * 0.2)}" y="{_num(y(value))}" width="{_num(step * 0.6)}" '
            f'height="{_num(y(0) - y(value))}" fill="{PALETTE[0]}">'
            f"<title>{escape(labels[i])}: {value}</title></rect>"
            f'<text x="{_num(x + step / 2)}" y="{height - 10}" text-anchor="middle" {FONT} '
            f'fill="#495057">{escape(labels[i])}</text>'
        )
    points = " ".join(
        f"{_num(left + (i + 0.5) * step)},{_num(y(v))}" for i, v in enumerate(cumulative)
    )
    body.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[1]}" stroke-width="2"/>')
    if target:
        pace = " ".join(
            f"{_num(left + (i + 0.5) * step)},{_num(y(target * (i + 1) / 12))}" for i in range(12)
        )
        body.append(
            f'<polyline points="{pace}" fill="none" stroke="{PALETTE[2]}" stroke-width="2" '
            f'stroke-dasharray="6 4"/>'
        )
    for i, (text, color) in enumerate(zip(legend, PALETTE[:3], strict=True)):
        if i == 2 and not target:
            continue
        x = left + i * 160
        body.append(
            f'<rect x="{x}" y="4" width="12" height="12" fill="{color}"/>'
            f'<text x="{x + 16}" y="14" {FONT} fill="#212529">{escape(text)}</text>'
        )
    return _svg(width, height, title, body)


@dataclass(frozen=True)
class Spread:
    label: str
    minimum: float
    p25: float
    median: float
    p75: float
    maximum: float


def spreads(title: str, items: Sequence[Spread], *, width: int = 640) -> Markup:
    """Box plots on one axis: whiskers min..max, box p25..p75, a tick at the median."""
    row, label_width = 26, 150
    height = row * len(items) + 30
    peak = _nice_max(max((s.maximum for s in items), default=1))
    span = width - label_width - 20

    def x(value: float) -> float:
        return label_width + value / peak * span

    body = []
    for i, s in enumerate(items):
        y = 5 + i * row
        mid = y + row / 2
        body.append(
            f'<text x="{label_width - 6}" y="{_num(mid + 4)}" text-anchor="end" {FONT} '
            f'fill="#212529">{escape(_clip(s.label, 12))}</text>'
            f'<line x1="{_num(x(s.minimum))}" y1="{_num(mid)}" x2="{_num(x(s.maximum))}" '
            f'y2="{_num(mid)}" stroke="#6c757d"/>'
            f'<rect x="{_num(x(s.p25))}" y="{y + 5}" width="{_num(max(1, x(s.p75) - x(s.p25)))}" '
            f'height="{row - 10}" fill="{PALETTE[5]}" stroke="#198754">'
            f"<title>{escape(s.label)}: {_num(s.median)}</title></rect>"
            f'<line x1="{_num(x(s.median))}" y1="{y + 3}" x2="{_num(x(s.median))}" '
            f'y2="{y + row - 3}" stroke="#212529" stroke-width="2"/>'
        )
    axis_y = 5 + len(items) * row + 15
    for tick in (0, peak / 2, peak):
        body.append(
            f'<text x="{_num(x(tick))}" y="{axis_y}" text-anchor="middle" {FONT} '
            f'fill="#6c757d">{_num(tick)}</text>'
        )
    return _svg(width, height, title, body)


def lines(
    title: str,
    series: Sequence[tuple[str, Sequence[int]]],
    labels: Sequence[str],
    *,
    width: int = 640,
    height: int = 240,
) -> Markup:
    """One line per series over the same x labels, with a legend underneath."""
    left, top_pad = 40, 10
    legend_rows = (len(series) + 2) // 3
    bottom = 24 + legend_rows * 18
    plot_w, plot_h = width - left - 20, height - top_pad - bottom
    peak = _nice_max(max([v for _, values in series for v in values] + [1]))
    step = plot_w / max(1, len(labels) - 1)

    def y(value: float) -> float:
        return top_pad + plot_h - value / peak * plot_h

    body = [
        f'<line x1="{left}" y1="{_num(y(0))}" x2="{width - 20}" y2="{_num(y(0))}" '
        f'stroke="#adb5bd"/>',
        f'<text x="{left - 4}" y="{_num(y(peak) + 4)}" text-anchor="end" {FONT} '
        f'fill="#6c757d">{_num(peak)}</text>',
    ]
    for i, text in enumerate(labels):
        body.append(
            f'<text x="{_num(left + i * step)}" y="{_num(y(0) + 16)}" text-anchor="middle" '
            f'{FONT} fill="#495057">{escape(text)}</text>'
        )
    for n, (name, values) in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{_num(left + i * step)},{_num(y(v))}" for i, v in enumerate(values))
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2">'
            f"<title>{escape(name)}</title></polyline>"
        )
        lx = left + (n % 3) * 200
        ly = y(0) + 30 + (n // 3) * 18
        body.append(
            f'<rect x="{lx}" y="{_num(ly - 10)}" width="12" height="12" fill="{color}"/>'
            f'<text x="{lx + 16}" y="{_num(ly)}" {FONT} fill="#212529">'
            f"{escape(_clip(name, 14))}</text>"
        )
    return _svg(width, height, title, body)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def yi(amount: Decimal) -> float:
    """万元 to 亿元 as a float for drawing."""
    return float(amount) / 10000
