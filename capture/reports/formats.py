"""The report written out: one way to show a figure, and the JSON, CSV and text table built on it.

`figure` is what the desk's table, the weekly digest and `flask report` print for a value, so
the three never disagree about a rate or a sum of money. CSV keeps the raw numbers (a
spreadsheet does its own formatting) and is made safe to open: every key came from a stranger.
"""
from __future__ import annotations

import csv
from datetime import timedelta
from typing import IO, Iterable

from capture.core.formatting import money
from capture.reports import rates
from capture.reports.report import COLUMNS, Report

MISSING = "–"  # a rate without a base, views for a lead-only dimension
# A spreadsheet runs a cell that starts with one of these as a formula, and
# every value here came from a stranger on the internet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_HEADINGS = ("views", "visitors", "visits", "bounce", "leads", "leads/100 visits", "contacted", "1st contact",
                 "p90", "n", "waiting", "self-booked", "consult.", "meetings", "held", "no-shows", "proposals",
                 "won", "lost", "win rate", "revenue", "revenue/100 visits",
                 "top lost reasons")


def figure(name: str, value, currency: str) -> str:
    """A report value as people read it, by column name; MISSING where it does not apply."""
    if name == "top_lost_reasons":
        return ", ".join(f"{reason.replace('_', ' ')} ({n})" for reason, n in value) or MISSING
    if value is None:
        return MISSING
    if name == "revenue_pence":
        return money(value, currency)
    if name == "revenue_per_100_visits_pence":  # a rate: whole pounds are precise enough
        return money(round(value / 100) * 100, currency)
    if name in ("median_first_contact_minutes", "p90_first_contact_minutes"):
        hours, minutes = divmod(round(value), 60)
        return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    if name == "leads_per_100_visits":
        return f"{value:.1f}"
    if name == "win_rate":
        return rates.text(value)
    if name == "bounce_rate":
        return f"{value:.1f}%"
    return f"{value:,}"


def speed_text(row: dict) -> str:
    """Speed to lead in one line, with what it counts (pipeline/speed.py): the desk's report page,
    `flask report` and the digest all print this.

    'Median 1 h 12 min, p90 9 h 40 min (n = 14, 2 still waiting); 3 booked a time themselves'.
    """
    if row["first_contact_n"]:
        counted = f"n = {row['first_contact_n']:,}"
        if row["still_waiting"]:
            counted += f", {row['still_waiting']:,} still waiting"
        text = (f"Median {figure('median_first_contact_minutes', row['median_first_contact_minutes'], '')}, "
                f"p90 {figure('p90_first_contact_minutes', row['p90_first_contact_minutes'], '')} ({counted})")
    else:
        text = "No leads to answer"
    if row["self_booked"]:
        text += f"; {row['self_booked']:,} booked a time themselves"
    return text


def json_records(found: Report) -> list[dict]:
    """The rows then the totals, one key per column (top lost reasons as {reason, leads})."""
    return [{**row, "top_lost_reasons": [{"reason": r, "leads": n} for r, n in row["top_lost_reasons"]]}
            for row in found.records()]


def write_report_csv(out: IO[str], found: Report) -> int:
    """The rows then the totals as CSV, header in snake_case, safe to open in a spreadsheet."""
    return write_csv(out, list(found.columns),
                     ({**row, "top_lost_reasons": _reasons_text(row)} for row in found.records()))


def text_table(found: Report, currency: str = "GBP", width: int = 40) -> str:
    """The report as an aligned table for people (keys cut to `width` characters)."""
    headings = (found.by.replace("_", " "), *TEXT_HEADINGS)
    lines = [[_cut(str(row[found.by]), width), *(figure(name, row[name], currency) for name in COLUMNS[:-1]),
              _reasons_text(row)] for row in found.records()]
    table = [list(headings), *lines]
    widths = [max(len(line[i]) for line in table) for i in range(len(headings))]
    text = []
    for line in table:
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:-1], widths[1:-1])]
        text.append("  ".join([*cells, line[-1]]).rstrip())
    last = found.until - timedelta(days=1)
    title = (f"Leads by {found.by.replace('_', ' ')} ({found.touch} touch), "
             f"{found.since.isoformat()} to {last.isoformat()}")
    return "\n".join([title, "", *text[:-1], "", text[-1], "",
                      f"Working time to first contact: {speed_text(found.totals)}"])


def write_csv(out: IO[str], columns: list[str], rows: Iterable[dict]) -> int:
    """Write rows as CSV with a header; returns how many rows were written."""
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
        count += 1
    return count


def _reasons_text(row: dict) -> str:
    """'price 1, timing 1': the lost reasons as CSV and the text table show them."""
    return ", ".join(f"{reason} {count}" for reason, count in row["top_lost_reasons"])


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
