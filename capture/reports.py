"""Reading leads back for people: CSV export and where leads come from.

For the marketer ("which pages and campaigns bring customers?") and for
sales tools that import CSV. Spam is left out unless asked for.
"""
from __future__ import annotations

import csv
from datetime import datetime
from typing import IO, Iterable

from sqlalchemy import desc, func, select
from sqlalchemy.engine import Engine

from .forms import ATTRIBUTION_FIELDS, Schema
from .models import leads

LEAD_COLUMNS = ("id", "received_at", "form_id", "status", "spam", "consent_version", "consent_at")
SOURCE_DIMENSIONS = {
    "source": leads.c.first_utm_source, "medium": leads.c.first_utm_medium,
    "campaign": leads.c.first_utm_campaign, "landing-page": leads.c.landing_page,
    "page": leads.c.page_url, "referrer": leads.c.first_referrer, "form": leads.c.form_id,
}
# A spreadsheet runs a cell that starts with one of these as a formula, and
# every value here came from a stranger on the internet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _period(query, since: datetime | None, until: datetime | None, include_spam: bool):
    if since:
        query = query.where(leads.c.received_at >= since)
    if until:
        query = query.where(leads.c.received_at < until)
    if not include_spam:
        query = query.where(leads.c.spam.is_(False))
    return query


def export_columns(schema: Schema) -> list[str]:
    """Lead columns, every form field (in schema order, once), then attribution."""
    fields = []
    for form in schema.forms.values():
        fields += [f.name for f in form.fields if f.name not in fields]
    return [*LEAD_COLUMNS, *fields, *ATTRIBUTION_FIELDS]


def lead_rows(engine: Engine, since=None, until=None, include_spam=False) -> Iterable[dict]:
    """Leads in the period, oldest first, one flat dict each."""
    query = _period(select(leads), since, until, include_spam).order_by(leads.c.received_at)
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            yield {**row["data"], **{k: v for k, v in row.items() if k != "data"},
                   "received_at": row["received_at"].isoformat(),
                   "consent_at": row["consent_at"].isoformat() if row["consent_at"] else ""}


def write_csv(out: IO[str], columns: list[str], rows: Iterable[dict]) -> int:
    """Write rows as CSV with a header; returns how many rows were written."""
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
        count += 1
    return count


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def lead_sources(engine: Engine, by: str, since=None, until=None, limit: int = 20) -> list[tuple[str, int]]:
    """Lead counts per source dimension (e.g. campaign), most first; '(none)' for direct."""
    column = SOURCE_DIMENSIONS[by]
    query = _period(select(column, func.count().label("n")), since, until, include_spam=False)
    query = query.group_by(column).order_by(desc("n"), column).limit(limit)
    with engine.connect() as conn:
        return [(value or "(none)", n) for value, n in conn.execute(query)]
