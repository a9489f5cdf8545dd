"""The open pipeline: the period's leads still open now, and what they are worth, by stage.

A lead is open while it is new, contacted, at consultation or at proposal (pipeline/statuses.py).
A deal value is recorded only when a lead is won, so an open lead is valued at its service's
starting price (mkdocs.yml `extra.packages`: the "from" prices the site shows) — a floor,
said so on the page; a lead without a priced service is counted apart ("not priced"). A value
recorded on an open lead, should there be one, is used instead.

As the rest of the report, it covers the leads that arrived in the period (spam left out):
one SQL aggregate by status and service.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from capture.core.paths import ROOT
from capture.db.engine import reading
from capture.db.models import leads
from capture.pipeline.statuses import OPEN_STATUSES

SITE_CONFIG = ROOT / "mkdocs.yml"


@dataclass(frozen=True)
class Stage:
    """One open stage: how many leads, their value at list price (minor units), and how many had no price."""
    stage: str
    leads: int = 0
    value: int = 0
    unpriced: int = 0


def list_prices(path: Path = SITE_CONFIG) -> dict[str, int]:
    """{service: starting price in minor units} from the site's packages; {} when the file cannot say."""
    try:
        return dict(_prices(path, path.stat().st_mtime_ns))
    except OSError:
        return {}


@lru_cache(maxsize=2)
def _prices(path: Path, stamp: int) -> tuple[tuple[str, int], ...]:
    # BaseLoader: mkdocs.yml's !ENV tags stay text, and every value is a string.
    config = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}
    packages = (config.get("extra") or {}).get("packages") or []
    found = []
    for package in packages:
        try:
            found.append((package["id"], round(float(package["price_from"]) * 100)))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(found)


def by_stage(engine: Engine, tz: ZoneInfo, since: date, until: date, prices: dict[str, int]) -> list[Stage]:
    """Every open stage in pipeline order, for the leads that arrived from `since` up to `until` (the day after)."""
    start, end = (datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc) for day in (since, until))
    query = (select(leads.c.status, leads.c.service, func.count().label("n"),
                    func.count(leads.c.deal_value).label("valued"),
                    func.coalesce(func.sum(leads.c.deal_value), 0).label("recorded"))
             .where(and_(leads.c.spam.is_(False), leads.c.received_at >= start, leads.c.received_at < end,
                         leads.c.status.in_(OPEN_STATUSES)))
             .group_by(leads.c.status, leads.c.service))
    totals = {status: [0, 0, 0] for status in OPEN_STATUSES}
    with reading(engine) as conn:
        for status, service, n, valued, recorded in conn.execute(query):
            price = prices.get(service or "")
            unvalued = int(n) - int(valued)
            total = totals[status]
            total[0] += int(n)
            total[1] += int(recorded) + (unvalued * price if price else 0)
            total[2] += 0 if price else unvalued
    return [Stage(status, *totals[status]) for status in OPEN_STATUSES]
