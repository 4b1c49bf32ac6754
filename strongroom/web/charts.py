"""Server-side SVG charts: no JavaScript, no style attributes (the CSP allows only 'self' styles).

Every chart is an `<svg role="img">` labelled by its own <title> and <desc>, scales to its container
(viewBox, width 100%), prints each value as text beside its mark (meaning never by colour alone), and
escapes every label: format names and package names come from deposits and may be hostile. Risk levels
get a pattern and a printed name as well as a colour. Output is deterministic: the same data gives the
same bytes, so tests and the static report can compare it. Each chart comes with the rows of the table
shown beside it, so the numbers are readable without the picture.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from strongroom.reports.dashboard import AuditCoverage, Dashboard, FormatSlice, MonthGrowth, RetentionMonth, RiskSlice

# GOV.UK palette, each dark enough for 4.5:1 against white (text) and 3:1 for shapes.
TEXT = "#0b0c0c"
MUTED = "#505a5f"
BAR = "#1d70b8"
AXIS = "#505a5f"
WIDTH = 640
FONT = "Arial, sans-serif"


@dataclass(frozen=True)
class Mark:
    """One bar, column or segment: its label, its value, and the words printed on it."""

    label: str
    value: float
    text: str  # the value as people read it ("1.2 MB", "42")
    kind: str = ""  # a risk level for segmented bars: picks the pattern


@dataclass(frozen=True)
class Chart:
    """A chart and the table that carries the same numbers."""

    id: str
    title: str
    description: str
    svg: Markup
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[int, ...] = field(default=())  # columns to right-align


# Risk levels: colour AND pattern AND the printed name.
RISK_STYLE: dict[str, tuple[str, str]] = {
    "high": ("#942514", "stripes"),
    "unknown": ("#505a5f", "dots"),
    "medium": ("#594d00", "hatch"),
    "low": ("#00703c", "solid"),
}


def _e(text: str) -> str:
    return escape(text, quote=True)


def _slug(chart_id: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]", "-", chart_id.lower()).strip("-")
    return cleaned or "chart"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _num(value: float) -> str:
    """Coordinates with at most one decimal, so output is stable across platforms."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _open(chart_id: str, title: str, description: str, height: float, width: float = WIDTH) -> list[str]:
    sid = _slug(chart_id)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="strongroom-chart__svg" id="{sid}" viewBox="0 0 {_num(width)} '
        f'{_num(height)}" width="100%" preserveAspectRatio="xMinYMin meet" role="img" '
        f'aria-labelledby="{sid}-title {sid}-desc" focusable="false" font-family="{FONT}">',
        f'<title id="{sid}-title">{_e(title)}</title>',
        f'<desc id="{sid}-desc">{_e(description)}</desc>',
    ]


def _empty(chart_id: str, title: str, description: str, message: str) -> Markup:
    parts = _open(chart_id, title, description, 60)
    parts.append(f'<text x="8" y="36" font-size="16" fill="{TEXT}">{_e(message)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(chart_id: str, title: str, description: str, bars: Sequence[Mark], empty: str) -> Markup:
    """Horizontal bars, one per label, the value printed after each bar."""
    if not bars or all(b.value <= 0 for b in bars):
        return _empty(chart_id, title, description, empty)
    label_w, value_w, row_h, top = 210.0, 110.0, 28.0, 8.0
    area = WIDTH - label_w - value_w
    peak = max(b.value for b in bars)
    height = top * 2 + row_h * len(bars)
    parts = _open(chart_id, title, description, height)
    parts.append(f'<line x1="{_num(label_w)}" y1="{_num(top)}" x2="{_num(label_w)}" '
                 f'y2="{_num(height - top)}" stroke="{AXIS}" stroke-width="1"/>')  # fmt: skip
    for index, bar in enumerate(bars):
        y = top + index * row_h
        length = max(area * bar.value / peak, 1.0 if bar.value > 0 else 0.0)
        parts.append("<g>")
        parts.append(f"<title>{_e(bar.label)}: {_e(bar.text)}</title>")
        parts.append(f'<text x="{_num(label_w - 6)}" y="{_num(y + 18)}" font-size="13" fill="{TEXT}" '
                     f'text-anchor="end">{_e(_short(bar.label, 30))}</text>')  # fmt: skip
        fill, pattern = RISK_STYLE.get(bar.kind, (BAR, "solid"))
        paint = f"url(#{_slug(chart_id)}-{pattern})" if pattern != "solid" else fill
        parts.append(f'<rect x="{_num(label_w)}" y="{_num(y + 5)}" width="{_num(length)}" height="{_num(row_h - 10)}" '
                     f'fill="{paint}" stroke="{fill}" stroke-width="1"/>')  # fmt: skip
        parts.append(f'<text x="{_num(label_w + length + 6)}" y="{_num(y + 18)}" font-size="13" '
                     f'fill="{TEXT}">{_e(bar.text)}</text>')  # fmt: skip
        parts.append("</g>")
    if any(b.kind for b in bars):
        parts.insert(3, _patterns(chart_id))
    parts.append("</svg>")
    return Markup("".join(parts))


def _patterns(chart_id: str) -> str:
    sid = _slug(chart_id)
    defs = ["<defs>"]
    for _level, (colour, pattern) in sorted(RISK_STYLE.items()):
        if pattern == "stripes":
            inner = (f'<rect width="8" height="8" fill="{colour}"/>'
                     '<path d="M0,8 L8,0" stroke="#ffffff" stroke-width="2"/>')  # fmt: skip
        elif pattern == "dots":
            inner = f'<rect width="8" height="8" fill="{colour}"/><circle cx="4" cy="4" r="1.5" fill="#ffffff"/>'
        elif pattern == "hatch":
            inner = (
                f'<rect width="8" height="8" fill="{colour}"/><path d="M0,4 L8,4" stroke="#ffffff" stroke-width="1.5"/>'
            )
        else:
            continue
        defs.append(
            f'<pattern id="{sid}-{pattern}" width="8" height="8" patternUnits="userSpaceOnUse">{inner}</pattern>'
        )
    defs.append("</defs>")
    return "".join(defs)


def segmented_bar(chart_id: str, title: str, description: str, segments: Sequence[Mark], empty: str) -> Markup:
    """One bar split into segments (risk levels), with a key that names and counts each one."""
    total = sum(s.value for s in segments if s.value > 0)
    if total <= 0:
        return _empty(chart_id, title, description, empty)
    sid = _slug(chart_id)
    bar_y, bar_h, key_top, key_row = 8.0, 40.0, 64.0, 26.0
    shown = [s for s in segments if s.value > 0]
    height = key_top + key_row * len(segments) + 4
    parts = _open(chart_id, title, description, height)
    parts.append(_patterns(chart_id))
    x = 0.0
    for segment in shown:
        w = WIDTH * segment.value / total
        colour, pattern = RISK_STYLE.get(segment.kind, (BAR, "solid"))
        paint = f"url(#{sid}-{pattern})" if pattern != "solid" else colour
        parts.append(f'<rect x="{_num(x)}" y="{_num(bar_y)}" width="{_num(w)}" height="{_num(bar_h)}" fill="{paint}" '
                     f'stroke="#ffffff" stroke-width="1"><title>{_e(segment.label)}: {_e(segment.text)}</title>'
                     "</rect>")  # fmt: skip
        x += w
    for index, segment in enumerate(segments):
        y = key_top + index * key_row
        colour, pattern = RISK_STYLE.get(segment.kind, (BAR, "solid"))
        paint = f"url(#{sid}-{pattern})" if pattern != "solid" else colour
        share = f"{100 * segment.value / total:.0f}%"
        parts.append(f'<rect x="0" y="{_num(y)}" width="18" height="18" fill="{paint}" stroke="{colour}" '
                     f'stroke-width="1"/>')  # fmt: skip
        parts.append(
            f'<text x="26" y="{_num(y + 14)}" font-size="13" fill="{TEXT}">{_e(segment.label)}: '
            f"{_e(segment.text)} ({share})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(chart_id: str, title: str, description: str, columns: Sequence[Mark], empty: str) -> Markup:
    """Vertical columns left to right (months, age buckets), the value printed above each one."""
    if not columns or all(c.value <= 0 for c in columns):
        return _empty(chart_id, title, description, empty)
    top, plot_h, label_h, left = 24.0, 180.0, 64.0, 8.0
    slot = max(24.0, min(96.0, (WIDTH - 2 * left) / len(columns)))
    width = max(float(WIDTH), left * 2 + slot * len(columns))
    height = top + plot_h + label_h
    peak = max(c.value for c in columns)
    rotate = slot < 60 or any(len(c.label) > 10 for c in columns)
    base = top + plot_h
    parts = _open(chart_id, title, description, height, width)
    parts.append(f'<line x1="{_num(left)}" y1="{_num(base)}" x2="{_num(width - left)}" y2="{_num(base)}" '
                 f'stroke="{AXIS}" stroke-width="1"/>')  # fmt: skip
    for index, column in enumerate(columns):
        x = left + index * slot
        h = plot_h * column.value / peak if column.value > 0 else 0.0
        h = max(h, 1.0) if column.value > 0 else 0.0
        centre = x + slot / 2
        parts.append("<g>")
        parts.append(f"<title>{_e(column.label)}: {_e(column.text)}</title>")
        parts.append(f'<rect x="{_num(x + slot * 0.15)}" y="{_num(base - h)}" width="{_num(slot * 0.7)}" '
                     f'height="{_num(h)}" fill="{BAR}"/>')  # fmt: skip
        size = 11 if slot < 40 else 13
        parts.append(f'<text x="{_num(centre)}" y="{_num(base - h - 4)}" font-size="{size}" fill="{TEXT}" '
                     f'text-anchor="middle">{_e(column.text)}</text>')  # fmt: skip
        label = _e(_short(column.label, 14))
        if rotate:
            ly = base + 12
            parts.append(f'<text x="{_num(centre)}" y="{_num(ly)}" font-size="11" fill="{TEXT}" text-anchor="end" '
                         f'transform="rotate(-45 {_num(centre)} {_num(ly)})">{label}</text>')  # fmt: skip
        else:
            parts.append(f'<text x="{_num(centre)}" y="{_num(base + 18)}" font-size="13" fill="{TEXT}" '
                         f'text-anchor="middle">{label}</text>')  # fmt: skip
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def human_bytes(size: int) -> str:
    """Bytes for people, in powers of 1000 as the CLI prints them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} PB"  # pragma: no cover - the loop returns at TB


# --- the dashboard's charts, shared by the pages and `strongroom report --html` ---------------------------

TOP_FORMATS = 15  # bars drawn; the table lists every format


Draw = Callable[[str, str, str, Sequence[Mark], str], Markup]


def _chart(draw: Draw, chart_id: str, title: str, description: str, marks: Sequence[Mark], empty: str,
           head: tuple[str, ...], rows: tuple[tuple[str, ...], ...], numeric: tuple[int, ...]) -> Chart:  # fmt: skip
    svg = draw(chart_id, title, description, marks, empty)
    return Chart(chart_id, title, description, svg, head, rows, numeric)


def format_charts(formats: Sequence[FormatSlice]) -> tuple[Chart, Chart]:
    """Files and bytes per format, largest first, each bar patterned by its risk level."""
    head = ("Format", "PUID", "Risk", "Files", "Bytes")
    rows = tuple((f.name, f.puid or "none", f.risk.value, str(f.files), human_bytes(f.bytes)) for f in formats)
    many = len(formats) > TOP_FORMATS
    note = f" The {TOP_FORMATS} largest are drawn; the table lists all {len(formats)}." if many else ""
    by_files = sorted(formats, key=lambda f: (-f.files, -f.bytes, f.name))[:TOP_FORMATS]
    by_bytes = sorted(formats, key=lambda f: (-f.bytes, -f.files, f.name))[:TOP_FORMATS]
    return (
        _chart(bar_chart, "chart-format-files", "Original files per format",
               "Number of original files of each format, with its risk level." + note,
               [Mark(f"{f.name} ({f.risk.value})", f.files, str(f.files), f.risk.value) for f in by_files],
               "No packages yet", head, rows, (3, 4)),
        _chart(bar_chart, "chart-format-bytes", "Bytes per format", "Size of the original files of each format." + note,
               [Mark(f"{f.name} ({f.risk.value})", f.bytes, human_bytes(f.bytes), f.risk.value) for f in by_bytes],
               "No packages yet", head, rows, (3, 4)),
    )  # fmt: skip


def risk_chart(risks: Sequence[RiskSlice]) -> Chart:
    total = sum(r.files for r in risks)
    rows = tuple((r.risk.value, str(r.formats), str(r.files), human_bytes(r.bytes)) for r in risks)
    return _chart(
        segmented_bar, "chart-risk", "Original files by format risk",
        f"{total} original files split by the risk level of their format: high, unknown, medium and low.",
        [Mark(f"{r.risk.value} risk", r.files, f"{r.files} file{'' if r.files == 1 else 's'}", r.risk.value)
         for r in risks],
        "No packages yet", ("Risk", "Formats", "Files", "Bytes"), rows, (1, 2, 3),
    )  # fmt: skip


def growth_charts(growth: Sequence[MonthGrowth]) -> tuple[Chart, Chart]:
    """Cumulative packages and bytes at the end of each month."""
    recent = list(growth)[-36:]
    head = ("Month", "New packages", "New files", "New bytes", "Packages in all", "Files in all", "Bytes in all")
    rows = tuple((g.month, str(g.packages), str(g.files), human_bytes(g.bytes), str(g.total_packages),
                  str(g.total_files), human_bytes(g.total_bytes)) for g in growth)  # fmt: skip
    note = " The last 36 months are drawn; the table lists every month." if len(growth) > 36 else ""
    numeric = (1, 2, 3, 4, 5, 6)
    return (
        _chart(column_chart, "chart-growth-packages", "Packages held, by month",
               "Packages in the archive at the end of each month." + note,
               [Mark(g.month, g.total_packages, str(g.total_packages)) for g in recent], "No packages yet", head, rows,
               numeric),
        _chart(column_chart, "chart-growth-bytes", "Bytes held, by month",
               "Bytes stored at the end of each month, every version counted." + note,
               [Mark(g.month, g.total_bytes, human_bytes(g.total_bytes)) for g in recent], "No packages yet", head,
               rows, numeric),
    )  # fmt: skip


def audit_chart(audit: AuditCoverage) -> Chart:
    return _chart(
        column_chart, "chart-audit-age", "Time since each package's last fixity check",
        f"{audit.packages} packages by how long ago their least recently checked copy was checked; "
        "never means a copy has not been checked yet.",
        [Mark(label, count, str(count)) for label, count in audit.ages], "No packages yet",
        ("Last checked", "Packages"), tuple((label, str(count)) for label, count in audit.ages), (1,),
    )  # fmt: skip


def retention_chart(retention: Sequence[RetentionMonth]) -> Chart:
    return _chart(
        column_chart, "chart-retention", "Packages due for disposal or review",
        "Packages whose retention period has ended (due now) and those due in each of the next 24 months.",
        [Mark(r.month, r.packages, str(r.packages)) for r in retention], "Nothing is due in the next 24 months",
        ("Month", "Packages"), tuple((r.month, str(r.packages)) for r in retention), (1,),
    )  # fmt: skip


def dashboard_charts(dashboard: Dashboard) -> dict[str, Chart]:
    files, size = format_charts(dashboard.formats)
    packages, stored = growth_charts(dashboard.growth)
    return {"format_files": files, "format_bytes": size, "risk": risk_chart(dashboard.risks),
            "growth_packages": packages, "growth_bytes": stored, "audit": audit_chart(dashboard.audit),
            "retention": retention_chart(dashboard.retention)}  # fmt: skip
