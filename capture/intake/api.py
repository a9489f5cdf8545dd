"""The HTTP API: accept a form submission, store it, answer.

The submit view is a pipeline of small steps; a step that must stop the
request raises `Problem` (core/http.py), and answers.py builds every error
answer, branching once on whether the client asked for JSON.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

from flask import Blueprint, current_app, jsonify, redirect, request
from gunicorn.http.errors import ParseException
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from capture.booking import appointments, confirmation, meeting
from capture.core import clock
from capture.core import formatting
from capture.core import ratelimit
from capture.core import urls
from capture.intake import spam
from capture.db import store
from capture.core.clock import utcnow
from capture.core.cors import Cors
from capture.core.zones import shown_zone
from capture.core.http import Problem, broken_body, json_object, read_body, wants_json
from capture.intake.answers import TOO_LARGE, http_error, problem_response
from capture.schema.forms import TIME_ON_FORM
from capture.schema.validation import clean_attribution, validate_submission
from capture.delivery.outbox import wake_workers
from capture.pipeline.arrival import Arrival
from capture.context import current

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

TOO_MANY_BOOKINGS = "Too many consultations have been booked from your network. Please try again later."
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CORS = Cors(refusal="This form cannot be submitted from that website.", allow_headers="Content-Type, Accept",
            expose_headers="Retry-After")  # a 429's wait is for the page to read

# Problems here answer in the API's shape; a body gunicorn cannot parse and Werkzeug's own
# errors are caught app-wide (http_error passes on those outside /api/).
bp.register_error_handler(Problem, problem_response)
bp.app_errorhandler(ParseException)(broken_body)
bp.app_errorhandler(HTTPException)(http_error)


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
    lead, made = save(form, values, data)
    return received(form, lead, made)


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
    CORS.check(current().settings.allowed_origins)


def parse_body() -> dict:
    """The submitted values as a dict of strings (JSON values as sent)."""
    if request.mimetype not in FORM_TYPES and not request.is_json:
        raise Problem(415, "Send the form as a normal form post or as JSON.")
    body = read_body(TOO_LARGE)
    if request.mimetype in FORM_TYPES:
        return request.form.to_dict(flat=True)  # parsed from the body read above
    return json_object(body, "The request body is not valid JSON.",
                       "The JSON body must be an object of field names and values.")


def business_today():
    """Today's date where the business is (what 'not in the past' means to a visitor)."""
    return clock.today(current().settings.timezone)


def save(form, values: dict, data: dict) -> tuple[dict, dict | None]:
    """Store the lead and its outbox jobs in one transaction: (lead, its booking if one was made); 503 on failure."""
    ext = current()
    now = utcnow()
    verdict, digest = judge(form, values, data, now)
    lead = store.lead_row(form.id, values, attribution(data), verdict=verdict, body_hash=digest,
                          consent_version=consent_version(form, values), received_at=now)
    arrival = Arrival(form, ext.sales, ext.mail_domain, now)
    turn = None
    if not verdict.spam:
        assigned, turn = arrival.assignment(values)
        lead.update(assigned)
    start = slot_start(form, values)
    made = None
    try:
        if start is not None and not verdict.spam:  # a bot holds no host's time
            lead, made = book(form, lead, start, arrival.jobs, data, now)
        else:
            lead = ext.writer.save(lead, arrival.jobs, turn)
    except (store.StoreError, SQLAlchemyError) as exc:
        log.error("could not store a lead for form %s (%s)", form.id, type(exc).__name__)
        raise Problem(503, "We could not save your request just now. Please try again in a minute.")
    if not verdict.spam:
        wake_workers()
    log.info("lead %s stored (form %s, %s)", lead["id"], form.id, verdict.label)
    return lead, made


def slot_start(form, values: dict) -> datetime | None:
    """The time a booking form's visitor picked (validated as an ISO time by forms.py), if any."""
    value = values.get(form.booking.slot_field) if form.booking else None
    return datetime.fromisoformat(value) if value else None


def book(form, lead: dict, start: datetime, jobs_for, data: dict, now: datetime) -> tuple[dict, dict]:
    """Store the lead with its booking: (lead, booking); 409 with the next free times when the time
    is gone, 409 naming the meeting they hold when the address already has one."""
    ext = current()
    if ext.sales.consultation is None:
        raise Problem(422, "Booking online is closed.", {form.booking.slot_field: CLOSED}, form=form, data=data)
    kind, zone = meeting.chosen(form, lead["data"], ext.sales.consultation.meeting)
    try:
        done = appointments.book_with_lead(ext.engine, ext.sales, lead, start, jobs_for, ext.mail_domain,
                                           now, alert_after=ext.settings.booking_alert, kind=kind, zone=zone)
        return done.lead, done.booking
    except appointments.SlotTaken as exc:
        others = appointments.next_free(ext.engine, ext.sales, start, now)
        raise Problem(409, str(exc), {form.booking.slot_field: str(exc)}, form=form, data=data,
                      slots=[slot_json(slot) for slot in others]) from None
    except appointments.AlreadyBooked as exc:
        message = already_booked(exc.booking, zone)
        raise Problem(409, message, {form.booking.slot_field: message}, form=form, data=data) from None


def already_booked(held: dict, zone: str | None) -> str:
    """What a visitor who holds a consultation is told, in the zone they sent now (else the one they booked in)."""
    tz = shown_zone(zone or held.get("visitor_zone"), current().settings.timezone)
    when = formatting.wall_time(held["starts_at"], held["ends_at"], tz)
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


def received(form, lead: dict, made: dict | None):
    """201 with the lead id (and the Booked card) for JSON clients; 303 for browsers, to the
    Booked page after a booking, else to the form's thank-you page."""
    ext = current()
    if wants_json():
        body = {"id": lead["id"], "status": "received"}
        if made is not None:
            body["booking"] = confirmation.details(made, lead, sales=ext.sales, settings=ext.settings)
        return jsonify(body), 201
    if made is not None:
        return redirect(confirmation.page_url(made, lead, ext.settings), code=303)
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


# --- CORS ------------------------------------------------------------------------

@bp.route("/forms/<form_id>", methods=["OPTIONS"])
def preflight(form_id: str):
    """Answer a CORS preflight for an allowed origin of a form that exists; refuse the rest."""
    find_form(form_id)
    return CORS.preflight(current().settings.allowed_origins, current_app.response_class(status=204))


@bp.after_request
def cors_headers(response):
    """Let an allowed origin read the answer (including errors)."""
    return CORS.headers(response, current().settings.allowed_origins)
