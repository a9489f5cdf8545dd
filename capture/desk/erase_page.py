"""The lead page's danger section: erasing the person behind a lead, after a confirmation step.

The lead page only links here; this page says what goes and asks for a tick, and only its POST
erases (privacy/erasure.py, which cancels their meetings to come through the booking package).
Managers only. The routes are on views.bp.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from capture.context import current
from capture.core.clock import utcnow
from capture.db import store
from capture.desk.views import bp, require
from capture.privacy import erasure

CONFIRM = "Tick the box to confirm they asked to be erased: it cannot be undone."


@bp.get("/leads/<lead_id>/erase")
def confirm_erase(lead_id: str, error: str = "", status: int = 200):
    """The confirmation step (GET and HEAD change nothing): what goes, and one box to tick."""
    require(current_user.can_reassign)
    lead = store.get_lead(current().engine, lead_id)
    if lead is None:
        abort(404)
    return render_template("desk/erase.html", lead=lead, error=error), status


@bp.post("/leads/<lead_id>/erase")
def erase(lead_id: str):
    """Erase the person behind the lead (managers only, after ticking the confirmation)."""
    require(current_user.can_reassign)
    ext = current()
    lead = store.get_lead(ext.engine, lead_id)
    if lead is None:
        abort(404)
    if not lead["email"]:
        flash("This lead holds no address to erase by: it was erased already.")
        return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)
    if request.form.get("confirm") != "yes":
        return confirm_erase(lead_id, error=CONFIRM, status=422)
    found = erasure.erase(ext.engine, ext.schema, lead["email"], current_user.email, utcnow(),
                          sales=ext.sales, domain=ext.mail_domain)
    flash(f"Erased: {found['leads']} lead(s) of this person, and their address on the messages about them.")
    return redirect(url_for("desk.lead_page", lead_id=lead_id), code=303)
