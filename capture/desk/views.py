"""The desk's blueprint, its lists (the inbox, the spam tray) and what every desk page shares.

Every page needs a signed-in team member; sales and managers change leads,
marketing only looks, and only managers reassign. Lead values are shown as
text (Jinja2 escapes them); nothing from a lead is ever rendered as HTML.
The lead page (lead_page.py) and the report (report_page.py) add their routes to `bp`.
"""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from capture.context import current
from capture.core.clock import utcnow
from capture.core.durations import span_text
from capture.desk import errors, lead_links
from capture.desk.auth import RETURN_PATH
from capture.pipeline import search, stages
from capture.pipeline.next_step import next_step

bp = Blueprint("desk", __name__, url_prefix="/desk")
EXCERPT = 300


@bp.before_request
def signed_in_only():
    """Nothing under /desk/ without a session; after signing in, back to the page asked for.

    The page asked for rides along in the sign-in URL, not in a cookie: a mail scanner
    opening a desk link from an email is sent on and leaves nothing behind.
    """
    if current_user.is_authenticated:
        return None
    back = request.path if request.method in ("GET", "HEAD") and RETURN_PATH.fullmatch(request.path) else ""
    return redirect(url_for("auth.sign_in", next=back) if back not in ("", "/desk/") else url_for("auth.sign_in"))


# --- the inbox -----------------------------------------------------------------

@bp.get("/", endpoint="inbox")
def inbox_page():
    """Open leads, overdue first (longest waiting on top), each with its next step: mine by default for a salesperson."""
    ext, args = current(), request.args
    default_owner = "me" if "sales" in current_user.roles else ""
    owner = args.get("owner", default_owner)
    try:  # a report row's link narrows the inbox to its leads (lead_links.py)
        narrowed = lead_links.narrowing(args, ext.settings.timezone)
    except ValueError as exc:
        return errors.page("The inbox cannot use that filter", str(exc), 400)
    filters = search.Filters(
        status=args.get("status", "open"), owner=current_user.email if owner == "me" else owner,
        form=args.get("form", ""), service=args.get("service", ""), campaign=args.get("campaign", ""),
        search=args.get("q", "")[:search.SEARCH_MAX], overdue=args.get("overdue") == "1",
        **narrowed)
    now = utcnow()
    rows = search.find(ext.engine, filters, limit=200, now=now)
    calls = search.calls(ext.engine, [row["id"] for row in rows])
    for row in rows:
        row["step"] = next_step(row, calls.get(row["id"]), ext.sales, ext.settings.timezone, now)
        if row["status"] == "new":
            row["age"] = span_text(ext.sales.calendar.between(row["received_at"], now))
        row["owner_name"] = name_of(row["owner"])
        row["service_label"] = _service_label(row)
    filters_on = sum(1 for value in (filters.search, filters.form, filters.service, filters.campaign,
                                     filters.overdue, filters.status not in ("", "open"), owner != default_owner) if value)
    return render_template("desk/inbox.html", rows=rows, filters=filters, owner=owner, filters_on=filters_on,
                           tray_size=search.tray_size(ext.engine) if current_user.can_change else 0,
                           choices=search.choices(ext.engine), team=sellers(),
                           statuses=stages.STATUSES, tz=ext.settings.timezone,
                           narrowed=lead_links.described(args), kept=lead_links.kept(args))


# --- the spam tray ---------------------------------------------------------------

@bp.get("/spam")
def spam_tray():
    """Leads the filter held back, with its reasons, for sales and managers to review."""
    require(current_user.can_change)
    rows = search.tray(current().engine, limit=200)
    for row in rows:
        row["excerpt"] = _excerpt(row)
    return render_template("desk/spam.html", rows=rows, tz=current().settings.timezone)


def _excerpt(row: dict) -> str:
    """The start of what they wrote, for judging at a glance."""
    form = current().schema.forms.get(row["form_id"])
    texts = [str((row["data"] or {}).get(f.name) or "") for f in form.fields if f.type == "textarea"] if form else []
    text = " ".join(" ".join(texts).split())
    return text if len(text) <= EXCERPT else text[:EXCERPT - 1] + "…"


def _service_label(row: dict) -> str:
    """'E-commerce site' for 'ecommerce' (the form's own label, without the price)."""
    form = current().schema.forms.get(row["form_id"])
    field = form.field("service") if form else None
    if not (field and row["service"]):
        return row["service"] or row["form_id"]
    return field.choice_label(row["service"]).split(" (")[0]


def require(allowed: bool) -> None:
    """403 (the desk's page for it) unless the member's role allows this."""
    if not allowed:
        abort(403)


def name_of(email: str | None) -> str:
    """A team member's name for their address; anyone else's address as it is."""
    member = current().sales.member(email) if email else None
    return member.name if member else (email or "")


def sellers() -> list:
    """Who can own a lead: salespeople and managers."""
    return [m for m in current().sales.team if m.roles & {"sales", "manager"}]


@bp.errorhandler(403)
@bp.errorhandler(404)
def problem(error):
    """The desk's 403 and 404 pages."""
    titles = {403: "Not for your role", 404: "There is no such lead"}
    messages = {403: "Your role on the team (sales.yml) does not allow this change.",
                404: "It may have been erased, or the link was cut short."}
    return errors.page(titles[error.code], messages[error.code], error.code)
