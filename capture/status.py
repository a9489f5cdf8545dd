"""Operational endpoints: health and the OpenAPI description."""
import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from . import outbox, store
from .openapi import build_spec

log = logging.getLogger(__name__)
bp = Blueprint("status", __name__, url_prefix="/api")
# A notification still unsent after this long needs a person (speed to lead is minutes).
LONG_WAIT_SECONDS = 300


@bp.get("/health")
def health():
    """200 with database reachability and the outbox backlog; 503 if the database is down.

    `oldest_waiting_seconds` counts from when the oldest unsent message was queued
    (retries included); `attention` is true when a message is dead or waited over 5 minutes.
    """
    engine = current_app.extensions["capture"].engine
    try:
        counts = store.outbox_counts(engine)
        oldest = outbox.oldest_waiting_seconds(engine)
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return jsonify(status="error", database="unreachable"), 503
    body = {"status": "ok", "database": "ok",
            "outbox": {"waiting": counts["pending"] + counts["sending"], "dead": counts["dead"],
                       "sent": counts["sent"], "oldest_waiting_seconds": oldest,
                       "attention": counts["dead"] > 0 or oldest > LONG_WAIT_SECONDS}}
    return jsonify(body)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description, with each form's fields taken from forms.yml."""
    return jsonify(build_spec(current_app.extensions["capture"].schema))
