"""Charts drawn on the server as inline SVG: no script, no library, no font from elsewhere.

Each function takes numbers and returns Markup: an <svg role="img"> named by its <title> and
summed up by its <desc>, then the same numbers as a table (in a <details>) for anyone who
cannot see the picture. Shapes are rect, line and text only; every text is escaped (a
campaign's name came from a stranger's link). Colours are dark enough for 3:1 against white,
and neighbouring bar segments are parted by a white line, so no colour stands alone.
"""
from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape

from capture.core.formatting import money
from capture.reports.trends import OTHER, Trend

# Dark, colour-blind-friendly hues, each at least 4.5:1 on white; the last is for "other".
PALETTE = ("#1d5c3a", "#0b5cad", "#a4262c", "#7a4a00", "#6b3fa0", "#00707a", "#555555")
INK, MUTED, GRID = "#1f2a24", "#4a5650", "#d5dbd6"
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
FUNNEL_STEPS = (("views", "Views"), ("leads", "Leads"), ("contacted", "Contacted"),
                ("consultations", "Consultation"), ("won", "Won"))


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart_id}" role="img" '
            f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
            f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" {FONT} font-size="12">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", fill: str = INK, size: int | None = None,
          weight: str = "") -> str:
    extra = (f' font-size="{size}"' if size else "") + (f' font-weight="{weight}"' if weight else "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f'{escape(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: bool = False) -> str:
    edge = ' stroke="#ffffff" stroke-width="1"' if stroke else ""
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}"{edge}/>'


def _table(caption: str, headings: list[str], rows: list[list[str]], foot: list[str] | None = None) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headings)
    body = "".join("<tr>" + f'<th scope="row">{escape(r[0])}</th>'
                   + "".join(f'<td class="num">{escape(c)}</td>' for c in r[1:]) + "</tr>" for r in rows)
    tfoot = ("<tfoot><tr>" + f'<th scope="row">{escape(foot[0])}</th>'
             + "".join(f'<td class="num">{escape(c)}</td>' for c in foot[1:]) + "</tr></tfoot>") if foot else ""
    return (f'<details class="chart-data"><summary>{escape(caption)}: the numbers as a table</summary>'
            f'<div class="scroll" role="region" tabindex="0" aria-label="{escape(caption)}, table">'
            f'<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody>{tfoot}</table></div></details>')


def nice_ceiling(value: float) -> int:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value` (and at least 1)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def week_label(week: date) -> str:
    return f"{week.day} {week.strftime('%b')}"


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
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID if k else MUTED}" stroke-width="1"/>')
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
    svg = _svg(chart_id, width, height, title, desc, body)
    rows = [[f"Week of {week_label(w)} {w.year}", *(shown(values[s][i]) for s in trend.sources), shown(totals[i])]
            for i, w in enumerate(trend.weeks)]
    foot = ["All weeks", *(shown(sum(values[s])) for s in trend.sources), shown(grand)]
    table = _table(title, ["Week", *trend.sources, "All sources"], rows, foot)
    return Markup(svg + table)


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
    svg = _svg(chart_id, width, height, title, desc, body)
    rows = [[label, f"{v:,}", share or "–"] for (label, v), share in zip(steps, shares)]
    table = _table("Funnel", ["Step", "Number", "Share of the step before"], rows)
    return Markup(svg + table)


def _share(part: int, whole: int) -> str | None:
    return f"{100 * part / whole:.1f}%" if whole else None
