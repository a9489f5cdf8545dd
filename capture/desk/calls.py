"""A lead's booked call, moved (to another time, another host too) or cancelled from the desk.

Only the booking package changes a booking (appointments.move and appointments.cancel: the same
functions the visitor's manage pages call), so the calendars get their updated invitation or
CANCEL and the webhooks their event, whoever made the change. Sales and managers only; every
POST carries the desk's CSRF token. The routes are on views.bp; what the move form offers is call_times.py's.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from capture.booking import appointments
from capture.booking.pages import picked_time
from capture.context import current
from capture.core.clock import utcnow
from capture.core.formatting import wall_time
from capture.desk.lead_page import lead_page
from capture.desk.views import bp, name_of, require
from capture.pipeline.stages import NoSuchLead, PipelineError


@bp.post("/leads/<lead_id>/move-call")
def move_call(lead_id: str):
    """Move the lead's booked call to the picked time, with the picked host (or whoever is free)."""
    require(current_user.can_change)
    ext, now = current(), utcnow()
    made = _booking_of(lead_id)
    start = picked_time(now)
    if start is None:
        return _again(lead_id, "slot", "Pick one of the free times.")
    host = request.form.get("host", "").strip().lower() or None
    if host is not None and host not in ext.sales.consultation.hosts:
        return _again(lead_id, "host", "Pick one of the hosts.")
    try:
        moved = appointments.move(ext.engine, ext.sales, made["id"], start, current_user.email,
                                  ext.mail_domain, now, host=host)
    except appointments.SlotTaken as exc:
        return _again(lead_id, "slot", str(exc), status=409)
    except NoSuchLead:
        abort(404)
    except PipelineError as exc:
        return _again(lead_id, "", str(exc), status=409)
    if moved is None:
        flash("The call already is at that time with that host: nothing changed.")
    else:
        flash(f"Moved: {wall_time(moved['starts_at'], moved['ends_at'], ext.settings.timezone)}, with "
              f"{name_of(moved['host'])}. The visitor and the host have the new invitation.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


@bp.post("/leads/<lead_id>/cancel-call")
def cancel_call(lead_id: str):
    """Cancel the lead's booked call: the time is freed, the visitor and the host get the CANCEL."""
    require(current_user.can_change)
    ext = current()
    made = _booking_of(lead_id)
    try:
        ended = appointments.cancel(ext.engine, ext.sales, made["id"], current_user.email, ext.mail_domain, utcnow())
    except NoSuchLead:
        abort(404)
    flash("Cancelled: the visitor and the host have the cancellation." if ended else "It was cancelled already.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)


def _booking_of(lead_id: str) -> dict:
    """The booking the form names, if it is this lead's (404 otherwise: nothing says whose it is)."""
    made = appointments.get(current().engine, request.form.get("booking", ""))
    if made is None or made["lead_id"] != lead_id:
        abort(404)
    return made


def _again(lead_id: str, field: str, message: str, status: int = 422):
    """The lead page again, the move form open with what was picked and the message at its field."""
    return lead_page(lead_id, errors={field or "call": message}, typed=request.form.to_dict(),
                     opened="move", status=status)
