"""Message kinds, and who renders each: a capability registers its kinds in its `init_app`,
and the worker, which names no feature, looks them up here.

A kind is rendered (its message built from what is stored now, or `Unwanted` when it is no
longer needed) or, for housekeeping, run. A periodic kind also has a schedule that queues
its next job; the worker calls it when the schedule's period (a day, a week) changes.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from jinja2 import Environment

from capture.context import Capture


class Kind(StrEnum):
    """Every kind of outbox job, as stored in `outbox.kind`."""
    NOTIFY_SALES = "notify_sales"  # a new lead: to its owner and the sales inbox
    CONFIRM_VISITOR = "confirm_visitor"  # the visitor's receipt
    REMIND_OWNER = "remind_owner"  # the lead is still new: its owner is reminded
    ESCALATE = "escalate"  # the promise is broken: the managers are told
    REASSIGNED = "lead_reassigned"  # a lead was given to someone else: its new owner is told
    SIGN_IN = "desk_sign_in"  # a magic link to the desk: about no lead
    DIGEST = "weekly_digest"  # Monday's numbers for marketing and sales: about no lead
    BOOKING_SURGE = "booking_surge"  # bookings arrive at an unusual rate: to the managers
    BOOKING_UPDATE = "booking_update"  # a booking moved, cancelled or made by sales: to visitor and host
    REMIND_VISITOR = "remind_visitor"  # the day before a booked consultation
    AFTER_MEETING = "after_meeting"  # to the host once a meeting has ended: held or no-show?
    WEBHOOK = "webhook"  # a signed POST to a team's tool: a message to a machine
    RETENTION = "retention"  # the daily privacy housekeeping: a job, not a message


class Unwanted(Exception):
    """Decided when due: this message is no longer needed (a reminder for a contacted lead)."""


class RenderError(Exception):
    """This job's message cannot be built (a poison job): set it aside, never retry it."""


@dataclass(frozen=True)
class Rendering:
    """What a renderer is handed: the app's shared state, the email templates and the moment."""
    capture: Capture
    env: Environment
    now: datetime


Render = Callable[[Rendering, dict], Any]  # an EmailMessage, or a webhook request
Run = Callable[[Capture, dict, datetime], str]  # does the chore; a summary for the log
Period = Callable[[Capture, datetime], Hashable | None]  # None: nothing to schedule now
Schedule = Callable[[Capture, datetime], None]  # queues the period's job (once for all workers)


@dataclass(frozen=True)
class Handler:
    """How one kind is delivered."""
    render: Render | None = None
    run: Run | None = None
    capped: bool = False  # counts against an address's daily confirmation cap


@dataclass(frozen=True)
class Periodic:
    """A job queued once per period by whichever worker first sees the period begin."""
    kind: Kind
    period: Period
    schedule: Schedule


_handlers: dict[Kind, Handler] = {}
_periodic: dict[Kind, Periodic] = {}


def _add(table: dict, kind: Kind, entry) -> None:
    # Registering again (another app in the same process) must name the same code.
    if table.setdefault(kind, entry) != entry:
        raise ValueError(f"message kind {kind} is already registered to other code")


def register(kind: Kind, render: Render, *, capped: bool = False) -> None:
    """`render` builds the message for jobs of `kind`."""
    _add(_handlers, Kind(kind), Handler(render=render, capped=capped))


def register_chore(kind: Kind, run: Run) -> None:
    """`run` does the work of jobs of `kind` (housekeeping: nothing is sent)."""
    _add(_handlers, Kind(kind), Handler(run=run))


def register_periodic(kind: Kind, period: Period, schedule: Schedule) -> None:
    """Jobs of `kind` are queued by `schedule` whenever `period` names a new period."""
    _add(_periodic, Kind(kind), Periodic(Kind(kind), period, schedule))


def handler(kind: str) -> Handler:
    """How jobs of `kind` are delivered; RenderError for a kind no capability registered."""
    try:
        return _handlers[Kind(kind)]
    except (ValueError, KeyError):
        raise RenderError(f"unknown message kind {kind!r}") from None


def is_chore(kind: str) -> bool:
    """Housekeeping rather than a message (an unknown kind counts as a message, set aside later)."""
    known = _handlers.get(kind)
    return known is not None and known.run is not None


def periodic() -> list[Periodic]:
    """Every periodic kind, in the order registered."""
    return list(_periodic.values())


def registered() -> set[Kind]:
    """The kinds some capability delivers."""
    return set(_handlers)
