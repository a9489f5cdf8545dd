"""The mail about a lead: the sales notification, the visitor's receipt, the owner's reminder,
the managers' escalation and the new owner's news of a reassignment, each built from the lead
as stored when it is due; what a team email says for the lead's state is team_mail's."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from jinja2 import Environment

from capture.booking import appointments, invitations, messages
from capture.context import Capture
from capture.core import formatting
from capture.core.clock import utcnow
from capture.db import store
from capture.delivery import mail
from capture.delivery.leads import lead_for
from capture.delivery.registry import Kind, Rendering, RenderError, Unwanted, register
from capture.inbound import addresses
from capture.pipeline import stages, team_mail
from capture.pipeline.lead_view import History, lead_context, requested_slot
from capture.schema.forms import Form

TO_SALES = (Kind.NOTIFY_SALES, Kind.REMIND_OWNER, Kind.ESCALATE, Kind.REASSIGNED)
FOLLOW_UPS = (Kind.REMIND_OWNER, Kind.ESCALATE)
BOOKING_KINDS = (Kind.BOOKING_UPDATE, Kind.REMIND_VISITOR)
KINDS = (*TO_SALES, Kind.CONFIRM_VISITOR, *BOOKING_KINDS)
ANNOUNCING = (Kind.NOTIFY_SALES, Kind.CONFIRM_VISITOR)  # a new lead's first news: with its booking
REPLY_HERE = (*TO_SALES, Kind.CONFIRM_VISITOR)  # Reply-To also names the lead's reply address


def init_app() -> None:
    """The pipeline's message kinds; the visitor's receipt counts against the address's daily cap."""
    for kind in TO_SALES:
        register(kind, render)
    register(Kind.CONFIRM_VISITOR, render, capped=True)


def render(r: Rendering, job: dict) -> EmailMessage:
    """A lead's notification, receipt, reminder or escalation; Unwanted once no longer needed."""
    cap = r.capture
    lead = lead_for(cap, job)
    if job["kind"] in FOLLOW_UPS and lead["status"] != "new":
        raise Unwanted(f"the lead was {lead['status']} before this was due")
    if job["kind"] == Kind.REASSIGNED and mail.normalised(lead["owner"]) != mail.normalised(job["recipient"]):
        raise Unwanted("the lead was given to someone else again before this was sent")
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
    extra = stages.followup_context(cap.sales, lead, r.now) if job["kind"] in FOLLOW_UPS else {}
    links: list[dict] = []
    if job["kind"] in TO_SALES:
        extra["situation"] = now_for_team(r, job, lead, form)
        links = team_mail.links(extra["situation"].actions, secret=settings.secret_key,
                                base_url=settings.public_url, lead_id=lead["id"], recipient=job["recipient"])
    if job["kind"] == Kind.REASSIGNED:
        extra.update(stages.followup_context(cap.sales, lead, r.now), by=_assigned_by(cap, lead["id"]),
                     waiting=lead["first_contact_at"] is None)
    if settings.reply_domain and job["kind"] in REPLY_HERE:  # replies land on the lead (inbound/)
        extra["reply_address"] = addresses.issue(cap.engine, settings.secret_key, settings.reply_domain,
                                                 lead["id"], r.now)
    if booking is not None:
        extra["booking"] = messages.context(booking, lead, sales=cap.sales, settings=settings,
                                            domain=cap.mail_domain, recipient=job["recipient"], now=r.now,
                                            form=form)
    return compose(r.env, job, lead, form, history=History(count, last),
                        mail_from=settings.mail_from, tz=settings.timezone,
                        domain=cap.mail_domain, links=links, extra=extra, slot_length=slot_length(cap))


def _assigned_by(cap: Capture, lead_id: str) -> str:
    """Who gave the lead its owner last, by name when they are on the team."""
    actor = next((e["actor"] for e in reversed(stages.timeline(cap.engine, lead_id)) if e["kind"] == "assign"), "")
    member = cap.sales.member(actor)
    return member.name if member else ("the system" if actor in ("", stages.SYSTEM) else actor)


def now_for_team(r: Rendering, job: dict, lead: dict, form: Form) -> team_mail.Situation:
    """The lead's state as a team email shows it: with its booking, or its last cancelled one."""
    cap, tz = r.capture, r.capture.settings.timezone
    made = appointments.latest(cap.engine, lead["id"]) if cap.sales.consultation else None
    host = cap.sales.member(made["host"]) if made else None
    slot = requested_slot(form, lead["data"] or {}, tz, slot_length(cap)) if cap.sales.consultation else None
    return team_mail.situation(lead, form, made, host_name=host.name if host else (made or {}).get("host", ""),
                               recipient=job["recipient"], tz=tz, slot=slot, now=r.now)


def slot_length(cap: Capture) -> timedelta | None:
    """How long a consultation lasts (sales.yml), if the team offers them."""
    return cap.sales.consultation.length if cap.sales.consultation else None


# --- composing: which template, which headers, which calendar ------------------------

def compose(env: Environment, job: dict, lead: dict, form: Form, *, history: History,
            mail_from: Address | str, tz: ZoneInfo, domain: str, links: list[dict] = (),
            extra: dict | None = None, slot_length: timedelta | None = None) -> EmailMessage:
    """The whole message for one outbox job about a lead; RenderError if it cannot exist.

    `links` are the desk and one-click action links of a message to sales;
    `extra` adds what a reminder says (how long the lead has waited, its owner);
    `slot_length` is how long a picked time lasts (sales.yml consultation.length).
    """
    if job["kind"] not in KINDS:
        raise RenderError(f"unknown message kind {job['kind']!r}")
    shown = {**lead, "first_seen": _moment(lead.get("first_seen"), tz)}  # the browser's ISO time, read
    ctx = {"booking": None, **lead_context(shown, form, history, tz, slot_length), "links": list(links),
           **(extra or {})}
    if job["kind"] in TO_SALES:
        ctx["fields"] = _in_team_words(ctx["fields"], form)
    if job["kind"] in TO_SALES and "situation" not in ctx:
        ctx["situation"] = team_mail.situation(lead, form, None, host_name="", recipient=job["recipient"],
                                               tz=tz, slot=ctx["slot"], now=utcnow())
    if job["kind"] == Kind.CONFIRM_VISITOR:
        return _confirmation(env, job, lead, form, ctx, mail_from, domain)
    if job["kind"] in BOOKING_KINDS:
        return _about_booking(env, job, lead, form, ctx, mail_from)
    return _to_sales(env, job, ctx, mail_from)


def _in_team_words(fields: list[dict], form: Form) -> list[dict]:
    """The answers as the team reads them: the meeting choice 'Phone call: we call you' as 'Phone call'."""
    kind_field = form.booking.kind_field if form.booking else None
    return [{**f, "text": f["text"].split(":")[0]} if f["name"] == kind_field else f for f in fields]


def _moment(value, tz: ZoneInfo):
    """An ISO time as sent by a browser ('2026-12-04T09:12:00Z') in the business's words; else as it is."""
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return value
    return formatting.local_time(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc), tz) \
        if moment else value


def _about_booking(env, job: dict, lead: dict, form: Form, ctx: dict, mail_from) -> EmailMessage:
    """A booking's update or reminder: to the visitor's own address or to the booking's host only."""
    booking = ctx["booking"]
    if booking is None:
        raise RenderError("a booking message without a booking")
    if booking["to_visitor"]:
        _only_to_the_lead(job, ctx)
    elif booking["audience"] != "host":
        raise RenderError("a booking message goes to the visitor or the host only")
    reply_to = form.recipients(lead["data"])[0] if booking["to_visitor"] else ctx["email"] or booking["host"]
    return mail.assemble(env, job, job["kind"], ctx, mail_from=mail_from, reply_to=reply_to,
                         calendar=_invitation(ctx))


def _to_sales(env, job: dict, ctx: dict, mail_from: Address | str) -> EmailMessage:
    reply_to = mail.reply_to((ctx["email"], ctx["name"]), (ctx.get("reply_address"), ""))
    return mail.assemble(env, job, job["kind"], ctx, mail_from=mail_from, reply_to=reply_to,
                         calendar=_invitation(ctx))


def _confirmation(env, job, lead, form, ctx, mail_from, domain) -> EmailMessage:
    _only_to_the_lead(job, ctx)
    answers = form.recipients(lead["data"])[0]
    reply_to = mail.reply_to((answers, ""), (ctx.get("reply_address"), "")) if ctx.get("reply_address") else answers
    return mail.assemble(env, job, Kind.CONFIRM_VISITOR, ctx, mail_from=mail_from, reply_to=reply_to,
                         auto_submitted="auto-replied",
                         calendar=_invitation(ctx) or _requested(ctx, answers, domain))


def _only_to_the_lead(job: dict, ctx: dict) -> None:
    # Never an open relay: the one recipient is the address the lead gave.
    own = mail.normalised(ctx["email"])
    if not own or mail.normalised(job["recipient"]) != own:
        raise RenderError("a message to a visitor may only go to the lead's own address")


def _invitation(ctx: dict) -> mail.CalendarPart | None:
    """The booking's iCalendar invitation (METHOD REQUEST or CANCEL), if the recipient gets one."""
    booking = ctx.get("booking")
    if not (booking and booking["ics"]):
        return None
    return mail.CalendarPart(booking["ics"], invitations.content_params(booking["method"]))


def _requested(ctx: dict, answers: str, domain: str) -> mail.CalendarPart | None:
    """The time asked for as a tentative event (invitations.requested), if one was asked for."""
    slot = ctx["slot"]
    if not slot:
        return None
    ics = invitations.requested(ctx["lead_id"], slot["start"], slot["end"], ZoneInfo(slot["zone"]),
                                organizer=answers, form_title=ctx["form_title"], domain=domain, stamp=utcnow())
    return mail.CalendarPart(ics, invitations.content_params(invitations.PUBLISH))
