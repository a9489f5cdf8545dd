"""Outgoing webhooks: which events an endpoint hears of, and posting them, signed.

Endpoints are listed in sales.yml (name, URL, events); each one's secret is
the setting CAPTURE_WEBHOOK_SECRET_<NAME>, never in the repository. An event
is one outbox row per endpoint that wants it (kind `webhook`, recipient the
endpoint's name, ref the event id), written in the transaction of the change
itself, so it is delivered with the mail's leases, retries and dead letters.

The payload is built when it is sent, from the lead as stored then (and the
event row or the booking the event names), so nothing personal waits in the
outbox: an erased lead's waiting webhooks are dropped with its mail and say
nothing. Each is signed in the Standard Webhooks format; the event id is its
`webhook-id`, the same at every retry and to every endpoint, so a receiver
drops repeats (delivery is at least once).

Each POST has a total deadline (DEADLINE, 10 s; never above CAPTURE_MAIL_TIMEOUT, itself at
most half CAPTURE_MAIL_LEASE), kept by posting.py. A worker claims no more jobs at once than it can send in
half the lease (worker.batch_size), so an outcome is recorded while the worker
still holds the job. Webhooks are claimed in a lane of their own (outbox.LANES,
worker.start_threads): a slow receiver never holds a thread that mail needs.
"""
from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone

import certifi
from sqlalchemy import select
from sqlalchemy.engine import Engine
from standardwebhooks import Webhook

from capture.core import urls
from capture.core.clock import utcnow
from capture.core.setting_checks import ConfigError
from capture.schema.forms import ATTRIBUTION_FIELDS
from capture.schema.validation import kept_answers
from capture.delivery.leads import lead_for
from capture.delivery.registry import Kind, Rendering, RenderError, Unwanted
from capture.db.models import bookings, events
from capture.delivery.outbox import job
from capture.schema.webhook_endpoints import WEBHOOK_EVENTS, Endpoint
from capture.schema.sales import Sales
from capture.delivery.posting import CannotConnect, post, refusal
from capture.delivery.transport import SendError

(LEAD_CREATED, STATUS_CHANGED, BOOKING_CREATED, BOOKING_CANCELLED, BOOKING_MOVED, LEAD_ERASED,
 BOOKING_NO_SHOW) = WEBHOOK_EVENTS
# The event id's last part for each type (the id names what the payload is built from).
_SUFFIX = {LEAD_CREATED: "created", STATUS_CHANGED: "status", BOOKING_CREATED: "booked",
           BOOKING_CANCELLED: "cancelled", BOOKING_MOVED: "moved", LEAD_ERASED: "erased",
           BOOKING_NO_SHOW: "no_show"}
# Events that happen more than once to their subject: the id ends with the event row or SEQUENCE.
NUMBERED = (STATUS_CHANGED, BOOKING_MOVED, BOOKING_NO_SHOW)
# What is still told about an erased lead: that it was erased, and that its meeting is off.
AFTER_ERASURE = (LEAD_ERASED, BOOKING_CANCELLED)
_TYPE = {suffix: kind for kind, suffix in _SUFFIX.items()}
DEADLINE = 10.0  # seconds for a whole POST, to the answer's headers; never above CAPTURE_MAIL_TIMEOUT
USER_AGENT = "fernleaf-capture-webhooks/1"


# --- events: written in the change's own transaction -----------------------------

def event_id(kind: str, subject: str, number: int | None = None) -> str:
    """The stable id of one event: the lead or booking it is about, the type, and the event row.

    e.g. evt_<lead id>.created, evt_<lead id>.status.<event row id>, evt_<booking id>.cancelled
    """
    return f"evt_{subject}.{_SUFFIX[kind]}" + (f".{number}" if number is not None else "")


def parse_id(value: str | None) -> tuple[str, str, int | None]:
    """(type, lead or booking id, event row id or None) from an event id; ValueError if it is none."""
    parts = (value or "").removeprefix("evt_").split(".")
    if not (value or "").startswith("evt_") or len(parts) not in (2, 3) or parts[1] not in _TYPE:
        raise ValueError(f"{value!r} is not a webhook event id")
    kind = _TYPE[parts[1]]
    if (len(parts) == 3) != (kind in NUMBERED) or (len(parts) == 3 and not parts[2].isdigit()):
        raise ValueError(f"{value!r} is not a webhook event id")
    return kind, parts[0], int(parts[2]) if len(parts) == 3 else None


def jobs(sales: Sales, kind: str, lead_id: str, subject: str, now: datetime,
         number: int | None = None) -> list[dict]:
    """One outbox row per endpoint that wants this event (none without endpoints)."""
    found = event_id(kind, subject, number)
    return [job(lead_id, Kind.WEBHOOK, e.name, f"webhook:{found}:{e.name}", now, ref=found)
            for e in sales.webhooks if kind in e.events]


def lead_created(sales: Sales, lead: dict, now: datetime) -> list[dict]:
    """lead.created for a lead that reached the team: on arrival, or on release from the spam tray.

    Its fixed id makes it once per lead: a release queues only what is missing (pipeline/tray.py).
    """
    if lead["spam"]:
        return []
    return jobs(sales, LEAD_CREATED, lead["id"], lead["id"], now)


def status_changed(sales: Sales, lead_id: str, event_row_id: int, now: datetime) -> list[dict]:
    """lead.status_changed for the status event row just written."""
    return jobs(sales, STATUS_CHANGED, lead_id, lead_id, now, number=event_row_id)


def booking_event(sales: Sales, kind: str, booking: dict, now: datetime) -> list[dict]:
    """booking.created, .cancelled (once to a booking) or .moved (numbered by its SEQUENCE)."""
    number = booking["sequence"] if kind in NUMBERED else None
    return jobs(sales, kind, booking["lead_id"], booking["id"], now, number=number)


def booking_no_show(sales: Sales, booking: dict, event_row_id: int, now: datetime) -> list[dict]:
    """booking.no_show for the timeline's no-show event row just written (again after a change of mind)."""
    return jobs(sales, BOOKING_NO_SHOW, booking["lead_id"], booking["id"], now, number=event_row_id)


def lead_erased(sales: Sales, lead_id: str, now: datetime) -> list[dict]:
    """lead.erased: the person behind this lead was erased (or anonymised by retention); only its id goes."""
    return jobs(sales, LEAD_ERASED, lead_id, lead_id, now)


# --- sending: in the worker ------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """One signed POST, ready to go."""
    endpoint: Endpoint
    event_id: str
    body: str


def check_secrets(sales: Sales, secrets: dict[str, str]) -> None:
    """ConfigError naming the variable of the first endpoint whose secret is not set."""
    for endpoint in sales.webhooks:
        if endpoint.name not in secrets:
            raise ConfigError(f"{endpoint.secret_variable}: not set, but {sales.source} lists the webhook "
                              f"endpoint '{endpoint.name}'; set it to the secret its receiver verifies "
                              "signatures with (whsec_…)")


def render(r: Rendering, job: dict) -> Request:
    """The request for a job, built from its lead as stored now; Unwanted if no longer needed."""
    kind, subject, number = parse_id(job["ref"])
    # An erasure or a cancelled meeting still reaches the team's tool after a "Spam" decision:
    # it heard of the lead before the tray did.
    lead = lead_for(r.capture, job, in_tray_too=kind in AFTER_ERASURE)
    endpoint = next((e for e in r.capture.sales.webhooks if e.name == job["recipient"]), None)
    if endpoint is None:
        raise Unwanted(f"the webhook endpoint {job['recipient']} is no longer in sales.yml")
    if kind not in endpoint.events:
        raise Unwanted(f"the webhook endpoint {endpoint.name} no longer takes {kind}")
    if lead["anonymised_at"] is not None and kind not in AFTER_ERASURE:
        raise Unwanted("the lead was erased")
    payload = build(r.capture, kind, lead, subject, number)
    return Request(endpoint, job["ref"], json.dumps(payload, ensure_ascii=False, separators=(",", ":")))


class Sender:
    """Builds and posts webhooks for one worker thread."""

    def __init__(self, capture):
        check_secrets(capture.sales, capture.settings.webhook_secrets)
        self.signers = {e.name: Webhook(capture.settings.webhook_secrets[e.name]) for e in capture.sales.webhooks}
        self.deadline = min(DEADLINE, capture.settings.delivery.smtp_timeout)
        self.tls = ssl.create_default_context(cafile=certifi.where())  # the host name is checked too

    def send(self, request: Request) -> None:
        """POST it, signed now; SendError (never `unreachable`: one endpoint must not stop the mail)."""
        name = request.endpoint.name
        stamp = int(utcnow().timestamp())
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close",
                   "webhook-id": request.event_id, "webhook-timestamp": str(stamp),
                   "webhook-signature": self.signers[name].sign(
                       request.event_id, datetime.fromtimestamp(stamp, timezone.utc), request.body)}
        # Error texts name the exception's type only: the URL (in its text) may carry a token.
        try:
            status = post(request.endpoint.url, request.body.encode("utf-8"), headers, self.deadline, self.tls)
        except TimeoutError:
            raise SendError(f"webhook endpoint {name}: no answer within {self.deadline:g}s") from None
        except CannotConnect as exc:  # refused, DNS, TLS: worth another try
            raise SendError(f"webhook endpoint {name}: cannot connect ({exc})") from None
        except (OSError, http.client.HTTPException) as exc:  # reset, or not an HTTP answer
            raise SendError(f"webhook endpoint {name}: no valid answer ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            raise refusal(name, status)


# --- payloads ----------------------------------------------------------------------

def build(capture, kind: str, lead: dict, subject: str, number: int | None) -> dict:
    """{"type", "timestamp" (when it happened), "data": {"lead", and "change" or "booking"}}."""
    if kind == LEAD_ERASED:  # nothing about the person: the receiver deletes what it holds
        return {"type": kind, "timestamp": iso(lead["anonymised_at"]), "data": {"lead": {"id": lead["id"]}}}
    data = {"lead": lead_data(capture, lead)}
    if kind == LEAD_CREATED:
        at = lead["released_at"] or lead["received_at"]
    elif kind == STATUS_CHANGED:
        change = _event(capture.engine, lead["id"], number)
        at = change["at"]
        data["change"] = {"from": change["from_status"], "to": change["to_status"], "by": change["actor"],
                          "deal_value": change["deal_value"], "lost_reason": change["reason"]}
    else:
        made = _booking(capture.engine, lead["id"], subject)
        at = made["created_at"] if kind == BOOKING_CREATED else made["changed_at"]
        data["booking"] = {"id": made["id"], "status": made["status"], "host": made["host"],
                           "starts_at": iso(made["starts_at"]), "ends_at": iso(made["ends_at"])}
        if kind == BOOKING_NO_SHOW:  # when and by whom; `outcome` is the answer now (a host may change it)
            recorded = _event(capture.engine, lead["id"], number)
            at = recorded["at"]
            data["booking"].update(outcome=made["outcome"], recorded_by=recorded["actor"])
    return {"type": kind, "timestamp": iso(at), "data": data}


def lead_data(capture, lead: dict) -> dict:
    """The lead as a CRM needs it: who (contact details), what they chose, where from, where it stands.

    What they wrote in free text stays in the desk (`url`); `deal_value` is in minor units (pence).
    """
    return {
        "id": lead["id"], "url": urls.external(capture.settings.public_url, f"/desk/leads/{lead['id']}"),
        "form": lead["form_id"], "received_at": iso(lead["received_at"]), "verdict": lead["verdict"],
        "status": lead["status"], "owner": lead["owner"],
        "name": lead["name"], "email": lead["email"], "phone": lead["phone"], "company": lead["company"],
        "service": lead["service"], "answers": kept_answers(capture.schema, lead["form_id"], lead["data"] or {}),
        "deal_value": lead["deal_value"], "currency": capture.sales.currency, "lost_reason": lead["lost_reason"],
        "attribution": {key: lead[key] for key in ATTRIBUTION_FIELDS if lead.get(key)},
    }


def iso(moment: datetime | None) -> str | None:
    """UTC, to the microsecond, with a Z (as the Standard Webhooks examples write it)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _event(engine: Engine, lead_id: str, number: int) -> dict:
    query = select(events).where(events.c.id == number, events.c.lead_id == lead_id)
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
    if found is None:
        raise RenderError(f"the lead's event {number} no longer exists")
    return dict(found)


def _booking(engine: Engine, lead_id: str, booking_id: str) -> dict:
    query = select(bookings).where(bookings.c.id == booking_id, bookings.c.lead_id == lead_id)
    with engine.connect() as conn:
        found = conn.execute(query).mappings().first()
    if found is None:
        raise RenderError("the booking no longer exists")
    return dict(found)
