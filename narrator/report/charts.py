"""Small inline SVG charts for the HTML report, computed from the report context.

Each function returns a complete ``<svg>`` element as a string: no scripts, no external references, a
``<title>``/``<desc>`` pair for screen readers and a ``<title>`` on every bar for hover text. Every text
value is escaped here, so the template can mark the result safe (``Markup``) without trusting it blindly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Sequence

from markupsafe import escape

if TYPE_CHECKING:
    from narrator.report.model import DayActivity

__all__ = ["AREA_COLOR", "BarRow", "activity_chart", "bar_chart"]

AREA_COLOR = "#3f6fb5"
ACTIVITY_COLOR = "#3f6fb5"
_MUTED = "#6b7280"
_GRID = "#e5e7eb"
_WIDTH = 760
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"'


def _e(value: object) -> str:
    return str(escape(str(value)))


def _n(value: float) -> str:
    """Compact SVG number (no trailing zeros)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _nice_step(maximum: int, ticks: int = 3) -> int:
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return max(1, int(mult * power))
    return int(10 * power)


def _text_width(text: str, size: float = 12.0) -> float:
    return len(text) * size * 0.62  # generous: DejaVu Sans, the usual fallback, is wide


def _truncate(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "\u2026"


@dataclass(frozen=True)
class BarRow:
    label: str
    value: int
    color: str = AREA_COLOR
    note: str = ""  # shown after the value, e.g. "23%"


def bar_chart(rows: Sequence[BarRow], *, title: str, desc: str, chart_id: str, unit: str = "commits") -> str:
    """Horizontal bars, one row per label, value printed at the end of each bar."""
    if not rows:
        return ""
    row_h, bar_h, pad = 28, 18, 6
    label_chars = 34
    labels = [_truncate(r.label, label_chars) for r in rows]
    label_w = min(300.0, max(_text_width(text, 13) for text in labels) + 14)
    value_w = 90.0
    plot_w = _WIDTH - label_w - value_w
    top = max(r.value for r in rows) or 1
    height = len(rows) * row_h + pad
    out = [
        f'<svg class="chart chart-bars" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {_WIDTH} {height}" width="100%" {_FONT} font-size="13">',
        f'<title id="{chart_id}-t">{_e(title)}</title><desc id="{chart_id}-d">{_e(desc)}</desc>',
    ]
    for i, (row, label) in enumerate(zip(rows, labels)):
        y = pad / 2 + i * row_h
        width = max(2.0, plot_w * row.value / top) if row.value else 0.0
        mid = y + row_h / 2
        value_text = f"{row.value:,}" + (f" \u00b7 {row.note}" if row.note else "")
        out.append(
            f'<g><title>{_e(row.label)}: {row.value:,} {_e(unit)}</title>'
            f'<text x="{_n(label_w - 10)}" y="{_n(mid)}" dy="0.35em" text-anchor="end" fill="#1f2937">'
            f'{_e(label)}</text>'
            f'<rect x="{_n(label_w)}" y="{_n(mid - bar_h / 2)}" width="{_n(width)}" height="{bar_h}" rx="3" '
            f'fill="{_e(row.color)}"/>'
            f'<text x="{_n(label_w + width + 8)}" y="{_n(mid)}" dy="0.35em" fill="{_MUTED}">{_e(value_text)}</text>'
            "</g>"
        )
    out.append("</svg>")
    return "".join(out)


def _short_day(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.day} {d.strftime('%b')}"


def activity_chart(
    activity: Sequence["DayActivity"],
    *,
    title: str,
    desc: str,
    chart_id: str,
    marks: Sequence[tuple[str, str]] = (),
    emphasise: int = 2,
) -> str:
    """Vertical bars per day (or per week for long periods), with release markers.

    ``activity`` is the report's list of ``DayActivity`` (day, label, commits); ``marks`` pairs a bucket's ``day``
    with a short label (a release name) drawn as a dashed line above that bar.
    """
    if not activity:
        return ""
    weekly = activity[0].label.startswith("week of")
    n = len(activity)
    height = 210
    left, right, top, bottom = 36.0, 12.0, 30.0, 34.0
    plot_w = _WIDTH - left - right
    plot_h = height - top - bottom
    peak = max(int(a.commits) for a in activity)
    step = _nice_step(max(peak, 1))
    y_max = max(step, math.ceil(max(peak, 1) / step) * step)
    slot = plot_w / n
    bar_w = max(1.5, min(28.0, slot * 0.72))
    base = top + plot_h
    out = [
        f'<svg class="chart chart-activity" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {_WIDTH} {height}" width="100%" {_FONT} font-size="12">',
        f'<title id="{chart_id}-t">{_e(title)}</title><desc id="{chart_id}-d">{_e(desc)}</desc>',
    ]
    # grid and y labels
    tick = 0
    while tick <= y_max:
        y = base - plot_h * tick / y_max
        out.append(f'<line x1="{_n(left)}" x2="{_n(_WIDTH - right)}" y1="{_n(y)}" y2="{_n(y)}" '
                   f'stroke="{_GRID}" stroke-width="1"/>')
        out.append(f'<text x="{_n(left - 6)}" y="{_n(y)}" dy="0.35em" text-anchor="end" fill="{_MUTED}">'
                   f'{tick:,}</text>')
        tick += step
    top_days = {a.day for a in sorted((a for a in activity if a.commits),
                                         key=lambda a: (-int(a.commits), a.day))[:emphasise]}
    index = {a.day: i for i, a in enumerate(activity)}
    # bars
    for i, a in enumerate(activity):
        count = int(a.commits)
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * count / y_max
        noun = "commit" if count == 1 else "commits"
        out.append(f'<rect x="{_n(x)}" y="{_n(base - h)}" width="{_n(bar_w)}" height="{_n(h)}" rx="1.5" '
                   f'fill="{ACTIVITY_COLOR}"><title>{_e(a.label)}: {count:,} {noun}</title></rect>')
        if a.day in top_days and count:
            out.append(f'<text x="{_n(x + bar_w / 2)}" y="{_n(base - h - 5)}" text-anchor="middle" '
                       f'fill="#1f2937" font-weight="600">{count:,}</text>')
    # release markers
    for day, label in marks:
        if day not in index:
            continue
        x = left + index[day] * slot + slot / 2
        out.append(f'<g class="mark"><title>{_e(label)}</title>'
                   f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(top - 10)}" y2="{_n(base)}" stroke="#b45309" '
                   f'stroke-width="1.2" stroke-dasharray="3 3"/>'
                   f'<text x="{_n(x + 4)}" y="{_n(top - 14)}" fill="#b45309" font-size="11">'
                   f'{_e(_truncate(label, 24))}</text></g>')
    # x labels: every day for short periods, Mondays for a few weeks, month starts for weekly buckets
    last_x = -1e9
    for i, a in enumerate(activity):
        d = date.fromisoformat(a.day)
        if weekly:
            prev = date.fromisoformat(activity[i - 1].day) if i else None
            show = i == 0 or (prev is not None and prev.month != d.month)
            text = d.strftime("%b") if not (i == 0 or d.month == 1) else f"{d.strftime('%b')} {d.year}"
        else:
            show = n <= 14 or d.weekday() == 0 or i == 0
            text = _short_day(a.day)
        x = left + i * slot + slot / 2
        if show and x - last_x >= _text_width(text, 11) + 6:
            out.append(f'<line x1="{_n(x)}" x2="{_n(x)}" y1="{_n(base)}" y2="{_n(base + 4)}" stroke="{_MUTED}"/>'
                       f'<text x="{_n(x)}" y="{_n(base + 18)}" text-anchor="middle" fill="{_MUTED}" '
                       f'font-size="11">{_e(text)}</text>')
            last_x = x
    out.append(f'<line x1="{_n(left)}" x2="{_n(_WIDTH - right)}" y1="{_n(base)}" y2="{_n(base)}" '
               f'stroke="#9ca3af" stroke-width="1"/>')
    out.append("</svg>")
    return "".join(out)
