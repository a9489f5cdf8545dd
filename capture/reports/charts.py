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

from capture.core.formatting import day_month, money
from capture.core.paths import TEMPLATES
from capture.reports.trends import OTHER, Trend

# Dark, colour-blind-friendly hues, each at least 4.5:1 on white; the last is for "other".
PALETTE = ("#1d5c3a", "#0b5cad", "#a4262c", "#7a4a00", "#6b3fa0", "#00707a", "#555555")
INK, MUTED, GRID = "#1f2a24", "#4a5650", "#d5dbd6"
FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif"
CHARTS = "desk/_charts.html"  # the macros that write the SVG and its table
FUNNEL_STEPS = (("views", "Views"), ("leads", "Leads"), ("contacted", "Contacted"),
                ("consultations", "Consultation"), ("won", "Won"))


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


def week_label(week: date) -> str:
    return day_month(week)


# --- leads or won revenue per week, stacked by source ----------------------------------

def weekly_chart(trend: Trend, series: str, currency: str = "GBP", chart_id: str = "weekly") -> Markup:
    """Stacked bars, one per week, a segment per source; `series` is "leads" or "revenue"."""
    is_money = series == "revenue"
    values = getattr(trend, series)
    totals = trend.week_totals(series)
    shown = (lambda v: money(v, currency) or money(0, currency)) if is_money else (lambda v: f"{v:,}")
    what = "Won revenue" if is_money else "Leads"
    title = f"{what} per week by source"
    n = len(trend.weeks)
    grand = sum(totals)
    if grand:
        by_source = sorted(((sum(values[s]), s) for s in trend.sources), key=lambda p: (-p[0], p[1]))
        best = max(range(n), key=lambda i: totals[i])
        desc = (f"{what} per week, {n} week{'s' if n != 1 else ''} from {week_label(trend.weeks[0])}: "
                f"{shown(grand)} in all; by source: "
                + ", ".join(f"{s} {shown(v)}" for v, s in by_source if v)
                + f". Most in the week of {week_label(trend.weeks[best])} ({shown(totals[best])}).")
    else:
        desc = f"No {what.lower()} in the {n} week{'s' if n != 1 else ''} charted."
    width, height, left, right, top, bottom = 720, 300, 76 if is_money else 44, 12, 16, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    unit = 100 if is_money else 1  # money axes step in whole pounds
    step = nice_ceiling(max(totals or [0]) / unit / 4) * unit
    ticks = max(1, -(-max(totals or [0]) // step))
    axis_top = step * ticks
    body = []
    for k in range(ticks + 1):  # gridlines and their values
        value = step * k
        y = top + plot_h - plot_h * k / ticks
        body.append(_line(left, width - right, y, GRID if k else MUTED))
        body.append(_text(left - 6, y + 4, money(value, currency) if is_money else f"{value:,}", "end", MUTED, 12))
    slot = plot_w / max(n, 1)
    bar = min(slot * 0.7, 48)
    every = 1 if n <= 13 else 2
    for i, week in enumerate(trend.weeks):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        for j, source in enumerate(trend.sources):
            v = values[source][i]
            if not v:
                continue
            h = plot_h * v / axis_top
            y -= h
            body.append(_rect(x, y, bar, h, _colour(j, source), stroke=True))
        if totals[i] and n <= 13:
            body.append(_text(x + bar / 2, y - 4, shown(totals[i]), "middle", INK, 12))
        if i % every == 0:
            body.append(_text(x + bar / 2, top + plot_h + 16, week_label(week), "middle", MUTED, 12))
    # The legend, under the axis: a swatch and the source's name (cut when very long).
    lx, ly = left, height - 26
    for j, source in enumerate(trend.sources):
        label = source if len(source) <= 24 else source[:23] + "…"
        body.append(_rect(lx, ly - 10, 12, 12, _colour(j, source)))
        body.append(_text(lx + 17, ly, label, "start", INK, 13))
        lx += 32 + 7.5 * len(label)
        if lx > width - 120 and j < len(trend.sources) - 1:
            lx, ly = left, ly + 18
    rows = [[f"Week of {week_label(w)} {w.year}", *(shown(values[s][i]) for s in trend.sources), shown(totals[i])]
            for i, w in enumerate(trend.weeks)]
    foot = ["All weeks", *(shown(sum(values[s])) for s in trend.sources), shown(grand)]
    return _render(chart_id, width, height, title, desc, body, title, ["Week", *trend.sources, "All sources"],
                   rows, foot)


def _colour(index: int, source: str) -> str:
    return PALETTE[-1] if source == OTHER else PALETTE[index % (len(PALETTE) - 1)]


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
    width, row, left, bar_w = 760, 40, 118, 400
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
