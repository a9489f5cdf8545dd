"""Charts drawn on the server as inline SVG: no script, no library, no font from elsewhere.

Each function takes numbers and returns Markup: an <svg role="img"> named by its <title> and
summed up by its <desc>, then the same numbers as a table (in a <details>) for anyone who
cannot see the picture. Python works out the shapes (rect, line and text only); a Jinja macro
(templates/desk/_charts.html) writes them, autoescaping every text (a campaign's name came from
a stranger's link). Colours are dark enough for 3:1 against white,
and neighbouring bar segments are parted by a white line, so no colour stands alone.
"""
from __future__ import annotations

from datetime import date
from functools import cache

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from capture.core.formatting import day_month, money, month_year, short_date
from capture.core.paths import TEMPLATES
from capture.reports.trends import OTHER, Trend

# Dark, colour-blind-friendly hues, each at least 4.5:1 on white; the last is for "others". No red:
# red reads as loss, and these colour leads and won revenue.
PALETTE = ("#1d5c3a", "#0b5cad", "#7a4a00", "#6b3fa0", "#00707a", "#3d4f7a", "#555555")
VISITORS = "#0b5cad"
INK, MUTED, GRID = "#1f2a24", "#4a5650", "#d5dbd6"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
CHARTS = "desk/_charts.html"  # the macros that write the SVG and its table
FUNNEL_STEPS = (("views", "Views"), ("leads", "Leads"), ("contacted", "Contacted"),
                ("consultations", "Consultation"), ("won", "Won"))
PER = {"day": "day", "week": "week", "month": "month"}
WIDTH = 720  # the viewBox; the picture scales to its box (width 100%), down to a phone's


@cache
def _macros():
    """The chart macros, in an environment of their own: a chart renders alike in a request and outside."""
    return Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True).get_template(CHARTS).module


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, size: int | None = None,
          weight: str = "") -> dict:
    return {"kind": "text", "x": x, "y": y, "text": text, "anchor": anchor, "fill": fill, "size": size,
            "weight": weight}


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: bool = False) -> dict:
    return {"kind": "rect", "x": x, "y": y, "w": w, "h": h, "fill": fill, "stroke": stroke}


def _line(x1: int, x2: int, y: float, stroke: str) -> dict:
    return {"kind": "line", "x1": x1, "x2": x2, "y": y, "stroke": stroke}


def _render(chart_id: str, width: int, height: int, title: str, desc: str, shapes: list[dict],
            caption: str, headings: list[str], rows: list[list[str]], foot: list[str] | None = None) -> Markup:
    """The SVG and its table through the autoescaped macro in templates/desk/_charts.html."""
    return _macros().chart({"id": chart_id, "width": width, "height": height, "font": FONT, "title": title,
                         "desc": desc, "shapes": shapes, "caption": caption, "headings": headings,
                         "rows": rows, "foot": foot})


def nice_ceiling(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bar_label(start: date, grain: str) -> str:
    """A bar on the axis: '3 Dec' for a day or a week (its Monday), 'Dec 2026' for a month."""
    return month_year(start) if grain == "month" else day_month(start)


def bar_name(start: date, grain: str) -> str:
    """A bar in words, for the description and the table: '3 Dec 2026', 'Week of 30 Nov 2026', 'Dec 2026'."""
    if grain == "month":
        return month_year(start)
    return f"Week of {short_date(start)}" if grain == "week" else short_date(start)


def bar_when(start: date, grain: str) -> str:
    """When a bar is, in a sentence: 'on 3 Dec 2026', 'in the week of 30 Nov 2026', 'in Dec 2026'."""
    if grain == "month":
        return f"in {month_year(start)}"
    return f"in the week of {short_date(start)}" if grain == "week" else f"on {short_date(start)}"


def _first(trend: Trend) -> str:
    """The first bar after "from": '2 Nov 2026', 'the week of 2 Nov 2026', 'Nov 2026'."""
    return bar_when(trend.bars[0], trend.grain).split(" ", 1)[1]


def _every(n: int, plot_w: float) -> int:
    """Label every how many bars so that labels (about 44 units wide) do not touch."""
    return max(1, -(-n * 48 // int(plot_w)))


def _axis(body: list, top: int, plot_h: float, left: int, highest: float, unit: int, shown) -> float:
    """Gridlines and their values on the left; returns the axis' top value."""
    step = nice_ceiling(highest / unit / 4) * unit
    ticks = max(1, -(-int(highest) // step))
    for k in range(ticks + 1):
        y = top + plot_h - plot_h * k / ticks
        body.append(_line(left, WIDTH - 12, y, GRID if k else MUTED))
        body.append(_text(left - 6, y + 4, shown(step * k), "end", MUTED, 12))
    return step * ticks


# --- leads or won revenue per bar, stacked by the report's grouping ----------------------

def over_time_chart(trend: Trend, series: str, by_label: str = "source", currency: str = "GBP",
                    chart_id: str = "over-time") -> Markup:
    """Stacked bars, one per day, week or month, a segment per key; `series` is "leads" or "revenue"."""
    is_money = series == "revenue"
    values = getattr(trend, series)
    totals = trend.totals(series)
    shown = (lambda v: money(v, currency) or money(0, currency)) if is_money else (lambda v: f"{v:,}")
    what = "Won revenue" if is_money else "Leads"
    per = PER[trend.grain]
    title = f"{what} per {per} by {by_label}"
    n, grand = len(trend.bars), sum(totals)
    if grand:
        by_key = sorted(((sum(values[k]), k) for k in trend.keys), key=lambda p: (-p[0], p[1]))
        best = max(range(n), key=lambda i: totals[i])
        desc = (f"{what} per {per}, {n} {per}{'s' if n != 1 else ''} from {_first(trend)}: "
                f"{shown(grand)} in all; by {by_label}: "
                + ", ".join(f"{k} {shown(v)}" for v, k in by_key if v)
                + f". Most {bar_when(trend.bars[best], trend.grain)} ({shown(totals[best])}).")
    else:
        desc = f"No {what.lower()} in the {n} {per}{'s' if n != 1 else ''} charted."
    height, left, top, bottom = 300, 76 if is_money else 44, 16, 70
    plot_w, plot_h = WIDTH - left - 12, height - top - bottom
    body: list = []
    axis_top = _axis(body, top, plot_h, left, max(totals or [0]), 100 if is_money else 1,
                     (lambda v: money(v, currency)) if is_money else (lambda v: f"{v:,}"))
    slot = plot_w / max(n, 1)
    bar = min(slot * 0.7, 48)
    every = _every(n, plot_w)
    for i, start in enumerate(trend.bars):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        for j, key in enumerate(trend.keys):
            if values[key][i]:
                h = plot_h * values[key][i] / axis_top
                y -= h
                body.append(_rect(x, y, bar, h, _colour(j, key), stroke=True))
        if totals[i] and n <= 13:
            body.append(_text(x + bar / 2, y - 4, shown(totals[i]), "middle", INK, 12))
        if i % every == 0:
            body.append(_text(x + bar / 2, top + plot_h + 16, bar_label(start, trend.grain), "middle", MUTED, 12))
    _legend(body, [(key, _colour(j, key)) for j, key in enumerate(trend.keys)], left, height - 26)
    rows = [[bar_name(start, trend.grain), *(shown(values[k][i]) for k in trend.keys), shown(totals[i])]
            for i, start in enumerate(trend.bars)]
    foot = [f"All {per}s", *(shown(sum(values[k])) for k in trend.keys), shown(grand)]
    return _render(chart_id, WIDTH, height, title, desc, body, title,
                   [per.capitalize(), *trend.keys, "All"], rows, foot)


def _legend(body: list, entries: list[tuple[str, str]], left: int, y: float) -> None:
    """A swatch and a name per series, under the axis (names cut when very long)."""
    x = left
    for j, (name, colour) in enumerate(entries):
        label = name if len(name) <= 24 else name[:23] + "…"
        body.append(_rect(x, y - 10, 12, 12, colour))
        body.append(_text(x + 17, y, label, "start", INK, 13))
        x += 32 + 7.5 * len(label)
        if x > WIDTH - 120 and j < len(entries) - 1:
            x, y = left, y + 18


def _peak(name: str, values: list[int], trend: Trend) -> str:
    """' Most leads on 3 Nov 2026 (3).', or '' when there were none."""
    if not any(values):
        return ""
    best = max(range(len(values)), key=lambda i: values[i])
    return f" Most {name} {bar_when(trend.bars[best], trend.grain)} ({values[best]:,})."


def _colour(index: int, key: str) -> str:
    return PALETTE[-1] if key == OTHER else PALETTE[index % (len(PALETTE) - 1)]


# --- visitors and leads over time --------------------------------------------------------

def visitors_and_leads_chart(trend: Trend, chart_id: str = "visitors-leads") -> Markup:
    """Two panels on one time axis: visitors per bar above, leads per bar below (each its own scale)."""
    leads = trend.totals("leads")
    n, per = len(trend.bars), PER[trend.grain]
    title = f"Visitors and leads per {per}"
    seen, asked = sum(trend.visitors), sum(leads)
    if seen or asked:
        desc = (f"Per {per}, {n} {per}{'s' if n != 1 else ''} from {_first(trend)}: "
                f"{seen:,} visitors and {asked:,} leads in all."
                + _peak("visitors", trend.visitors, trend) + _peak("leads", leads, trend))
    else:
        desc = f"No visitors and no leads in the {n} {per}{'s' if n != 1 else ''} charted."
    height, left, gap = 306, 52, 34
    panel_h = 110
    plot_w = WIDTH - left - 12
    slot = plot_w / max(n, 1)
    bar = min(slot * 0.7, 48)
    body: list = []
    for panel, (name, values, colour) in enumerate((("Visitors", trend.visitors, VISITORS),
                                                   ("Leads", leads, PALETTE[0]))):
        top = 22 + panel * (panel_h + gap)
        body.append(_text(left, top - 8, name, "start", INK, 13, "600"))
        axis_top = _axis(body, top, panel_h, left, max(values or [0]), 1, lambda v: f"{v:,}")
        for i, v in enumerate(values):
            if v:
                h = panel_h * v / axis_top
                body.append(_rect(left + slot * i + (slot - bar) / 2, top + panel_h - h, bar, h, colour))
    every, base = _every(n, plot_w), 22 + 2 * panel_h + gap
    for i, start in enumerate(trend.bars):
        if i % every == 0:
            x = left + slot * i + slot / 2
            body.append(_text(x, base + 16, bar_label(start, trend.grain), "middle", MUTED, 12))
    rows = [[bar_name(start, trend.grain), f"{trend.visitors[i]:,}", f"{leads[i]:,}"]
            for i, start in enumerate(trend.bars)]
    return _render(chart_id, WIDTH, height, title, desc, body, title, [per.capitalize(), "Visitors", "Leads"],
                   rows, [f"All {per}s", f"{seen:,}", f"{asked:,}"])


# --- the funnel -----------------------------------------------------------------------

def funnel_chart(totals: dict, chart_id: str = "funnel") -> Markup:
    """Horizontal bars: views, leads, contacted, consultation, won, each with its share of the step before."""
    steps = [(label, int(totals.get(key) or 0)) for key, label in FUNNEL_STEPS]
    top = max(v for _, v in steps)
    shares = [None] + [(_share(v, steps[i][1])) for i, (_, v) in enumerate(steps[1:])]
    title = "Funnel: views, leads, contacted, consultation, won"
    if top:
        desc = "; ".join(f"{label} {v:,}" + (f" ({s} of {steps[i - 1][0].lower()})" if s else "")
                         for i, ((label, v), s) in enumerate(zip(steps, shares))) + "."
    else:
        desc = "No views or leads in this period."
    width, row, left, bar_w = WIDTH, 40, 118, 400
    height = row * len(steps) + 8
    body = []
    for i, ((label, v), share) in enumerate(zip(steps, shares)):
        y = 4 + row * i
        body.append(_text(left - 10, y + 24, label, "end", INK, 13, "600"))
        w = bar_w * v / top if top else 0
        body.append(_rect(left, y + 6, bar_w, row - 12, "#eef2ee"))
        if v:
            body.append(_rect(left, y + 6, max(w, 2), row - 12, PALETTE[0]))
        note = f"{v:,}" + (f"  ({share} of {steps[i - 1][0].lower()})" if share else "")
        body.append(_text(left + bar_w + 10, y + 24, note, "start", INK, 13))
    rows = [[label, f"{v:,}", share or "–"] for (label, v), share in zip(steps, shares)]
    return _render(chart_id, width, height, title, desc, body, "Funnel",
                   ["Step", "Number", "Share of the step before"], rows)


def _share(part: int, whole: int) -> str | None:
    return f"{100 * part / whole:.1f}%" if whole else None
