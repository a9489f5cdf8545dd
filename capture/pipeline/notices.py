"""The mail about a lead: the sales notification, the visitor's receipt, the owner's reminder
and the managers' escalation, each built from the lead as stored when it is due."""
from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from capture.booking import appointments, messages
from capture.context import Capture
from capture.core import tokens
from capture.db import store
from capture.delivery import mail
from capture.delivery.leads import lead_for
from capture.delivery.registry import Kind, Rendering, RenderError, Unwanted, register
from capture.pipeline import stages
from capture.schema.forms import Form
from capture.core import urls

ANNOUNCING = (Kind.NOTIFY_SALES, Kind.CONFIRM_VISITOR)  # a new lead's first news: with its booking


def init_app() -> None:
    """The pipeline's message kinds; the visitor's receipt counts against the address's daily cap."""
    for kind in (Kind.NOTIFY_SALES, Kind.REMIND_OWNER, Kind.ESCALATE):
        register(kind, render)
    register(Kind.CONFIRM_VISITOR, render, capped=True)


def render(r: Rendering, job: dict) -> EmailMessage:
    """A lead's notification, receipt, reminder or escalation; Unwanted once no longer needed."""
    cap = r.capture
    lead = lead_for(cap, job)
    if job["kind"] in mail.FOLLOW_UPS and lead["status"] != "new":
        raise Unwanted(f"the lead was {lead['status']} before this was due")
    form = form_of(cap, lead)
    booking = (appointments.current(cap.engine, lead["id"])
               if job["kind"] in ANNOUNCING and cap.sales.consultation else None)
    return compose_about_lead(r, job, lead, form, booking)


def form_of(cap: Capture, lead: dict) -> Form:
    """The lead's form in today's schema; RenderError once it is gone from forms.yml."""
    form = cap.schema.forms.get(lead["form_id"])
    if form is None:
        raise RenderError(f"form {lead['form_id']!r} is no longer in the schema")
    return form


def compose_about_lead(r: Rendering, job: dict, lead: dict, form: Form, booking: dict | None) -> EmailMessage:
    """The message of any kind about a lead (and its `booking`, if there is one)."""
    cap, settings = r.capture, r.capture.settings
    count, last = store.history(cap.engine, lead)
    links = (tokens.action_links(settings.secret_key, settings.public_url, lead["id"], job["recipient"])
             if job["kind"] in mail.TO_SALES else [])
    extra = stages.followup_context(cap.sales, lead, r.now) if job["kind"] in mail.FOLLOW_UPS else {}
    if links and booking is None and bookable(cap, lead):
        token = tokens.action_token(settings.secret_key, lead["id"], tokens.BOOK_REQUESTED, job["recipient"])
        links.insert(1, {"label": "Book the time they asked for", "url": urls.external(settings.public_url, f"/actions/{token}")})
    if booking is not None:
        extra["booking"] = messages.context(booking, lead, sales=cap.sales, settings=settings,
                                            domain=cap.mail_domain, recipient=job["recipient"], now=r.now,
                                            form=form)
    return mail.compose(r.env, job, lead, form, history=mail.History(count, last),
                        mail_from=settings.mail_from, tz=settings.timezone,
                        domain=cap.mail_domain, links=links, extra=extra, slot_length=slot_length(cap))


def bookable(cap: Capture, lead: dict) -> bool:
    """A request for a consultation time that sales can book from the email (not a booking yet)."""
    form = cap.schema.forms.get(lead["form_id"])
    return bool(cap.sales.consultation and form and form.booking
                and mail.requested_slot(form, lead["data"] or {}, cap.settings.timezone, slot_length(cap)))


def slot_length(cap: Capture) -> timedelta | None:
    """How long a consultation lasts (sales.yml), if the team offers them."""
    return cap.sales.consultation.length if cap.sales.consultation else None
