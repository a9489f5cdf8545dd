"""Operational endpoints: health and the OpenAPI description."""
import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from . import store
from .openapi import build_spec

log = logging.getLogger(__name__)
bp = Blueprint("status", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    """200 with database reachability and the outbox backlog; 503 if the database is down."""
    engine = current_app.extensions["capture"].engine
    try:
        counts = store.outbox_counts(engine)
    except SQLAlchemyError as exc:
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return jsonify(status="error", database="unreachable"), 503
    body = {"status": "ok", "database": "ok",
            "outbox": {"waiting": counts["pending"] + counts["sending"], "dead": counts["dead"],
                       "sent": counts["sent"],
                       "oldest_waiting_seconds": counts["oldest_waiting_seconds"]}}
    return jsonify(body)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description, with each form's fields taken from forms.yml."""
    return jsonify(build_spec(current_app.extensions["capture"].schema))
