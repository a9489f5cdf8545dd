"""Operational endpoints: health and the OpenAPI description."""
import hmac
import ipaddress
import logging

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from capture.core import clock
from capture.delivery import outbox
from capture.db import store
from capture.intake.openapi import build_spec
from capture.context import current

log = logging.getLogger(__name__)
bp = Blueprint("status", __name__, url_prefix="/api")
# A notification still unsent after this long needs a person (speed to lead is minutes).
LONG_WAIT_SECONDS = 300
# Headers a reverse proxy adds: a loopback peer carrying one is passing on someone else's request.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/health")
def health():
    """200 if the database takes writes, else 503; the details only for monitoring.

    The public sees `{"status": …}` alone (message counts are business volume).
    Loopback, or a request with `Authorization: Bearer <CAPTURE_HEALTH_TOKEN>`,
    also gets the database state and the outbox backlog: `oldest_waiting_seconds`
    counts from when the oldest unsent message was queued (retries included);
    `attention` is true when a message is dead or waited over 5 minutes.
    """
    engine = current().engine
    try:
        store.check_writes(engine)
        counts = outbox.counts(engine)
        oldest = outbox.oldest_waiting_seconds(engine)
    except SQLAlchemyError as exc:
        log.warning("health check: database unavailable for writes (%s)", type(exc).__name__)
        return jsonify(_for_caller({"status": "error", "database": "unavailable"})), 503
    return jsonify(_for_caller({
        "status": "ok", "database": "ok",
        "outbox": {"waiting": counts["pending"] + counts["sending"], "dead": counts["dead"],
                   "sent": counts["sent"], "dropped": counts["dropped"],
                   "scheduled": counts["scheduled"],
                   "oldest_waiting_seconds": oldest,
                   "attention": counts["dead"] > 0 or oldest > LONG_WAIT_SECONDS}}))


def _for_caller(body: dict) -> dict:
    return body if may_see_details() else {"status": body["status"]}


def may_see_details() -> bool:
    """Monitoring: a direct loopback request, or the configured bearer token."""
    token = current().settings.health_token
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        local = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
    return local and not any(name in request.headers for name in FORWARDING_HEADERS)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description, with each form's fields taken from forms.yml (and the dates
    they take today, in the business's time zone)."""
    ext = current()
    consultation = ext.sales.consultation
    today = clock.today(ext.settings.timezone)
    return jsonify(build_spec(ext.schema, today, consultation.horizon_days if consultation else None))
