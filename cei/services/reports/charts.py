"""Charts for the PDF as plain SVG text, drawn on the server (no JavaScript, nothing fetched).

Readable in black and white: actual energy is a solid dark bar or a solid line, the baseline a
white outlined bar or a dashed line. Titles and legends are HTML beside the chart (the
template's ``chart-caption``): every SVG ``<text>`` costs WeasyPrint a Pango layout, about a
fifth of a portfolio page's chart time. Missing values are left out (no bar, a break in the
line), never drawn as zero.
"""

from __future__ import annotations

import math
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 440, 180
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 44, 8, 10, 22
INK = "#1a1a1a"
ACTUAL_FILL = "#4d4d4d"
GRID = "#c8c8c8"
FONT = 'font-family="DejaVu Sans, sans-serif" font-size="10"'


def nice_ticks(top, count=5):
    """Return round axis ticks from 0 covering ``top`` (at least ``[0, 1]``)."""
    if not top or top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _number(value):
    """Format an axis label: no decimals from 10 up, else up to two."""
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(ticks):
    """Return the SVG of the y grid and its labels, and the y scale function."""
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    top = ticks[-1]

    def y(value):
        return MARGIN_TOP + plot_h * (1 - value / top)

    parts = []
    for tick in ticks:
        ty = y(tick)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{ty:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{ty:.1f}" '
            f'stroke="{GRID}" stroke-width="0.6"/>'
        )
        parts.append(
            f'<text x="{MARGIN_LEFT - 6}" y="{ty + 3.5:.1f}" {FONT} text-anchor="end" '
            f'fill="{INK}">{_number(tick)}</text>'
        )
    parts.append(
        f'<line x1="{MARGIN_LEFT}" y1="{y(0):.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y(0):.1f}" '
        f'stroke="{INK}" stroke-width="1"/>'
    )
    return parts, y


def _svg(parts, label):
    body = "".join(parts)
    # Every part is built here from numbers, dates and escaped constant labels: no user text.
    return Markup(  # nosec B704
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">{body}</svg>'
    )


def daily_chart(days):
    """Return the SVG of daily kWh: actual (solid) beside baseline (outlined) per day."""
    values = [v for day in days for v in (day.kwh, day.baseline_kwh) if v is not None]
    ticks = nice_ticks(max(values, default=0.0))
    parts, y = _frame(ticks)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_w / max(len(days), 1)
    bar = min(slot * 0.32, 34)
    base = y(0)
    for i, day in enumerate(days):
        centre = MARGIN_LEFT + slot * (i + 0.5)
        if day.kwh is not None:
            top = y(day.kwh)
            parts.append(
                f'<rect x="{centre - bar:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{base - top:.1f}" fill="{ACTUAL_FILL}"/>'
            )
        if day.baseline_kwh is not None:
            top = y(day.baseline_kwh)
            parts.append(
                f'<rect x="{centre + 0.5:.1f}" y="{top:.1f}" width="{bar - 1:.1f}" '
                f'height="{base - top:.1f}" fill="#fff" stroke="{INK}" stroke-width="1"/>'
            )
        parts.append(
            f'<text x="{centre:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" {FONT} '
            f'text-anchor="middle" fill="{INK}">{day.day:%a} {day.day.day}</text>'
        )
        if day.kwh is None:
            parts.append(
                f'<text x="{centre:.1f}" y="{base - 6:.1f}" {FONT} text-anchor="middle" '
                f'fill="{INK}">no data</text>'
            )
    return _svg(parts, "Daily energy, actual and baseline, kWh")


def _polyline(points, style):
    """Return polylines through ``points`` [(x, y or None)], broken where y is None."""
    runs, run = [], []
    for x, y in points:
        if y is None:
            if run:
                runs.append(run)
            run = []
        else:
            run.append((x, y))
    if run:
        runs.append(run)
    out = []
    for run in runs:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
        if len(run) == 1:
            x, y = run[0]
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{INK}"/>')
        else:
            out.append(f'<polyline points="{coords}" fill="none" {style}/>')
    return out


def profile_chart(profile):
    """Return the SVG of the average kWh per local hour of the day, actual and baseline."""
    values = [v for hour in profile for v in (hour.kwh, hour.baseline_kwh) if v is not None]
    ticks = nice_ticks(max(values, default=0.0))
    parts, y = _frame(ticks)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    step = plot_w / 24

    def x(hour):
        return MARGIN_LEFT + step * (hour + 0.5)

    for hour in range(0, 24, 6):
        parts.append(
            f'<text x="{x(hour):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" {FONT} '
            f'text-anchor="middle" fill="{INK}">{hour:02d}:00</text>'
        )
    parts += _polyline(
        [(x(h.hour), None if h.baseline_kwh is None else y(h.baseline_kwh)) for h in profile],
        f'stroke="{INK}" stroke-width="1.4" stroke-dasharray="4 2.5"',
    )
    parts += _polyline(
        [(x(h.hour), None if h.kwh is None else y(h.kwh)) for h in profile],
        f'stroke="{INK}" stroke-width="2"',
    )
    return _svg(parts, "Average kWh per hour of the day, actual and baseline")
