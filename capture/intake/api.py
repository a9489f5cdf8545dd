"""The HTTP API: accept a form submission, store it, answer.

The submit view is a pipeline of small steps; a step that must stop the
request raises `Problem`, and `problem_response` builds every error answer
in one place, branching once on whether the client asked for JSON.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from flask import Blueprint, current_app, json, jsonify, redirect, render_template, request
from gunicorn.http.errors import ParseException
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from capture.booking import appointments
from capture.core import clock
from capture.core import formatting
from capture.pipeline import stages
from capture.core import ratelimit
from capture.core import urls
from capture.intake import spam
from capture.db import store
from capture.delivery import webhooks
from capture.core.clock import utcnow
from capture.schema.forms import SCRIPT_FIELDS, TIME_ON_FORM, clean_attribution, validate_submission
from capture.delivery.outbox import jobs_for_lead, wake_workers
from capture.context import current

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

MAX_BODY = 64 * 1024
TOO_LARGE = "The submission is too large (64 KiB at most)."
MALFORMED = "The request body is malformed (its chunked framing is broken)."
TOO_MANY_BOOKINGS = "Too many consultations have been booked from your network. Please try again later."
MAX_DRAIN = 1024 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CORS_MAX_AGE = "86400"


class Problem(Exception):
    """Stops a request with an HTTP status and a message for the visitor."""

    def __init__(self, status: int, message: str, errors: dict | None = None, **context):
        super().__init__(message)
        self.status, self.message, self.errors, self.context = status, message, errors, context


# --- the submit pipeline -----------------------------------------------------

@bp.post("/forms/<form_id>", provide_automatic_options=False)
def submit(form_id: str):
    """Validate a submission, store the lead and its notifications, answer."""
    form = find_form(form_id)
    check_origin()
    data = parse_body()
    values, errors = validate_submission(form, data, today=business_today())
    if errors:
        raise Problem(422, "Some answers need another look.", errors, form=form, data=data)
    limit_bookings(form, values, data)
    lead = save(form, values, data)
    return received(form, lead["id"])


def limit_bookings(form, values: dict, data: dict) -> None:
    """A post that books a time also counts against the per-IP booking limit: 429 on the slot past it.

    A browser gets the form again with its answers, where it can ask for a time instead.
    """
    if slot_start(form, values) is not None and not ratelimit.count_booking():
        raise Problem(429, TOO_MANY_BOOKINGS, {form.booking.slot_field: TOO_MANY_BOOKINGS}, form=form, data=data)


def find_form(form_id: str):
    """The form the URL names, or 404."""
    form = current().schema.forms.get(form_id)
    if form is None:
        raise Problem(404, f"There is no form called '{form_id}'.")
    return form


def check_origin() -> None:
    """Refuse a browser post from a site that is not ours or explicitly allowed."""
    origin = request_origin()
    if origin is not None and not origin_allowed(origin):
        raise Problem(403, "This form cannot be submitted from that website.")


def parse_body() -> dict:
    """The submitted values as a dict of strings (JSON values as sent)."""
    if request.mimetype not in FORM_TYPES and not request.is_json:
        raise Problem(415, "Send the form as a normal form post or as JSON.")
    body = read_body()
    if request.mimetype in FORM_TYPES:
        return request.form.to_dict(flat=True)  # parsed from the body read above
    return _json_object(body)


def read_body() -> bytes:
    """The whole body, or 413 when it is over MAX_BODY, however it is framed.

    A chunked body has no Content-Length: the app's limit is MAX_BODY + 1, so
    reading one byte past MAX_BODY is how an oversized one is told from a full one
    (Werkzeug would otherwise stop at the limit and hand on a cut-off body).
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Problem(413, TOO_LARGE)
    try:
        body = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise Problem(413, TOO_LARGE) from None
    if len(body) > MAX_BODY:
        _drain()
        raise Problem(413, TOO_LARGE)
    return body


def _drain() -> None:
    """Read and drop the rest of an oversized body (up to MAX_DRAIN), as nginx does.

    A server that closes the connection with unread data makes the client's
    system reset it, and the client may then never read our 413.
    """
    raw, left = request.environ.get("wsgi.input"), MAX_DRAIN
    try:
        while raw is not None and left > 0:
            chunk = raw.read(min(64 * 1024, left))
            if not chunk:
                return
            left -= len(chunk)
    except (OSError, ValueError):  # the client went away: nothing to answer
        return


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise Problem(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(400, "The JSON body must be an object of field names and values.")
    return data


def business_today():
    """Today's date where the business is (what 'not in the past' means to a visitor)."""
    return clock.today(current().settings.timezone)


def save(form, values: dict, data: dict) -> dict:
    """Store the lead and its outbox jobs in one transaction; 503 if that fails."""
    ext = current()
    now = utcnow()
    verdict, digest = judge(form, values, data, now)
    lead = store.lead_row(form.id, values, attribution(data), verdict=verdict, body_hash=digest,
                          consent_version=consent_version(form, values), received_at=now)
    turn = None
    if not verdict.spam:
        owner = stages.owner_for(ext.sales, form, values)
        turn = owner if isinstance(owner, store.Turn) else None
        lead.update(owner=None if turn else owner, respond_by=stages.due_at(ext.sales, now))

    def jobs_for(row: dict) -> list[dict]:
        return (jobs_for_lead(form, row, ext.mail_domain, now)
                + stages.followups(ext.sales, row, ext.mail_domain, now)
                + webhooks.lead_created(ext.sales, row, now))
    start = slot_start(form, values)
    try:
        if start is not None and not verdict.spam:  # a bot holds no host's time
            lead = book(form, lead, start, jobs_for, data, now)
        else:
            lead = ext.writer.save(lead, jobs_for, turn)
    except (store.StoreError, SQLAlchemyError) as exc:
        log.error("could not store a lead for form %s (%s)", form.id, type(exc).__name__)
        raise Problem(503, "We could not save your request just now. Please try again in a minute.")
    if not verdict.spam:
        wake_workers()
    log.info("lead %s stored (form %s, %s)", lead["id"], form.id, verdict.label)
    return lead


def slot_start(form, values: dict) -> datetime | None:
    """The time a booking form's visitor picked (validated as an ISO time by forms.py), if any."""
    value = values.get(form.booking.slot_field) if form.booking else None
    return datetime.fromisoformat(value) if value else None


def book(form, lead: dict, start: datetime, jobs_for, data: dict, now: datetime) -> dict:
    """Store the lead with its booking; 409 with the next free times when the time is gone,
    409 naming the meeting they hold when the address already has one."""
    ext = current()
    if ext.sales.consultation is None:
        raise Problem(422, "Booking online is closed.", {form.booking.slot_field: CLOSED}, form=form, data=data)
    try:
        return appointments.book_with_lead(ext.engine, ext.sales, lead, start, jobs_for, ext.mail_domain,
                                           now, alert_after=ext.settings.booking_alert).lead
    except appointments.SlotTaken as exc:
        others = appointments.next_free(ext.engine, ext.sales, start, now)
        raise Problem(409, str(exc), {form.booking.slot_field: str(exc)}, form=form, data=data,
                      slots=[slot_json(slot) for slot in others]) from None
    except appointments.AlreadyBooked as exc:
        message = already_booked(exc.booking)
        raise Problem(409, message, {form.booking.slot_field: message}, form=form, data=data) from None


def already_booked(held: dict) -> str:
    """What a visitor who holds a consultation is told (in the business's time, as their email says)."""
    when = formatting.wall_time(held["starts_at"], held["ends_at"], current().settings.timezone)
    return (f"You already have a consultation booked on {when}. The email we sent you then has "
            f"the links to change or cancel it.")


def attribution(data: dict) -> dict:
    """Where the lead came from; without the site's script, the Referer stands in."""
    found = clean_attribution(data)
    if "page_url" not in found and request.referrer:
        found.update(clean_attribution({"page_url": request.referrer}))
    return found


def judge(form, values: dict, data: dict, now: datetime) -> tuple[spam.Verdict, str | None]:
    """The spam verdict and the message's fingerprint; a bot still sees the normal success."""
    honeypot = any(map(_filled, honeypot_values(data)))
    digest = spam.body_hash(form, values)
    repeats = 0
    if digest and not honeypot:
        repeats = store.repeats(current().engine, digest,
                                values.get("email"), now - spam.REPEAT_WINDOW)
    return spam.judge(form, values, honeypot=honeypot, repeats=repeats,
                      time_on_form_ms=spam.time_on_form(data.get(TIME_ON_FORM))), digest


def honeypot_values(data: dict) -> list:
    """Every value sent for the honeypot: each repetition of a form key, or the JSON value."""
    name = current().schema.honeypot
    if request.mimetype in FORM_TYPES:
        return request.form.getlist(name) + request.files.getlist(name)
    return [data[name]] if name in data else []


def _filled(value) -> bool:
    # People never see the field, so any answer at all is a bot's: 0, false and [] too.
    return value is not None and not (isinstance(value, str) and not value.strip())


def consent_version(form, values: dict) -> str | None:
    """The privacy-policy version agreed to, if the form has a ticked consent box."""
    if any(f.consent and values.get(f.name) for f in form.fields):
        return current().schema.privacy_policy_version
    return None


def received(form, lead_id: str):
    """201 with the lead id for JSON clients; 303 to the thank-you page for browsers."""
    if wants_json():
        return jsonify(id=lead_id, status="received"), 201
    return redirect(thank_you_url(form), code=303)


def thank_you_url(form) -> str:
    """The form's thank-you page on our own site (never a URL from the request)."""
    return urls.external(current().settings.site_url, form.thank_you)


# --- free consultation times ----------------------------------------------------

CLOSED = "Booking online is closed just now: please suggest a date instead."
SLOTS_MAX_AGE = 5  # seconds: a picker may be a little behind; the booking re-checks anyway


@bp.get("/slots")
def slots():
    """Free consultation times: GET /api/slots?form=consultation&from=YYYY-MM-DD&days=N."""
    ext = current()
    form = ext.schema.forms.get(request.args.get("form", ""))
    if form is None or form.booking is None or ext.sales.consultation is None:
        return bad_parameter("form", "name a form that books consultations, such as form=consultation.")
    horizon = ext.sales.consultation.horizon_days
    try:
        first = date.fromisoformat(request.args["from"]) if "from" in request.args else business_today()
    except ValueError:
        return bad_parameter("from", "use a date like 2026-12-01.")
    days = request.args.get("days", "7")
    if not (days.isdigit() and 1 <= int(days) <= horizon):
        return bad_parameter("days", f"use a whole number from 1 to {horizon}.")
    try:
        found = appointments.free(ext.engine, ext.sales, first, int(days), utcnow())
    except SQLAlchemyError as exc:
        log.error("could not read bookings (%s)", type(exc).__name__)
        return jsonify(error="The free times cannot be read just now. Please try again in a minute."), 503
    response = jsonify(timezone=ext.settings.timezone.key,
                       length_minutes=int(ext.sales.consultation.length.total_seconds() // 60),
                       slots=[slot_json(slot) for slot in found])
    response.headers["Cache-Control"] = f"public, max-age={SLOTS_MAX_AGE}"
    return response


def slot_json(slot) -> dict:
    """A slot as the API shows it: start and end in UTC, ISO 8601 with the offset."""
    return {"start": slot.start.isoformat(), "end": slot.end.isoformat()}


def bad_parameter(name: str, message: str):
    """400 naming the query parameter and what it should be."""
    return jsonify(error=f"{name}: {message}"), 400


# --- origins and CORS --------------------------------------------------------

def request_origin() -> str | None:
    """The Origin header (lower-case, no trailing slash), if the browser sent one."""
    origin = request.headers.get("Origin")
    return origin.strip().rstrip("/").lower() if origin else None


def origin_allowed(origin: str) -> bool:
    """Same-origin always; others only when listed in CAPTURE_ALLOWED_ORIGINS."""
    own = request.host_url.rstrip("/").lower()
    return origin == own or origin in current().settings.allowed_origins


@bp.route("/forms/<form_id>", methods=["OPTIONS"])
def preflight(form_id: str):
    """Answer a CORS preflight for an allowed origin; refuse the rest."""
    find_form(form_id)
    origin = request_origin()
    if origin is None or not origin_allowed(origin):
        raise Problem(403, "This form cannot be submitted from that website.")
    response = current_app.response_class(status=204)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type, Accept"
    response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


@bp.after_request
def cors_headers(response):
    """Let an allowed origin read the answer (including errors)."""
    origin = request_origin()
    if origin is not None and origin_allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    response.vary.add("Origin")
    return response


# --- errors ------------------------------------------------------------------

def wants_json() -> bool:
    """Did the client send JSON or prefer JSON over HTML?"""
    accept = request.accept_mimetypes
    return request.is_json or accept["application/json"] > accept["text/html"]


@bp.errorhandler(Problem)
def problem_response(problem: Problem):
    """The one place error answers are built: JSON or an HTML page."""
    if wants_json():
        body = {"errors": problem.errors} if problem.errors else {"error": problem.message}
        if "slots" in problem.context:
            body["slots"] = problem.context["slots"]
        return jsonify(body), problem.status
    ext = current()
    form = problem.context.get("form")
    data = problem.context.get("data") or {}
    html = render_template(
        "server/problem.html", problem=problem, form=form, site_url=ext.settings.site_url or "/",
        values={k: v for k, v in data.items() if isinstance(v, str)},
        honeypot=ext.schema.honeypot, attribution=SCRIPT_FIELDS)
    return html, problem.status


@bp.app_errorhandler(ParseException)
def broken_body(exc: ParseException):
    """A body gunicorn could not parse while the app read it (a bad chunk size or extension, a
    missing chunk terminator): the client's mistake, a 400 in the usual shape, on any route."""
    return current_app.handle_http_exception(BadRequest(MALFORMED))


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Werkzeug's own errors (413, 429, 405…) under /api/ in the same shape as ours."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return exc
    messages = {413: TOO_LARGE,
                429: "Too many submissions from your network. Please wait a minute and try again."}
    response = problem_response(Problem(exc.code or 500, messages.get(exc.code, exc.description)))
    body, status = response
    response = current_app.make_response((body, status))
    for name in ("Retry-After", "Allow"):
        if exc.get_response().headers.get(name):
            response.headers[name] = exc.get_response().headers[name]
    return response
