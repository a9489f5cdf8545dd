"""The lead a message is about, as stored when the message is due."""
from __future__ import annotations

from capture.context import Capture
from capture.db import store
from capture.delivery.registry import RenderError, Unwanted

HELD_REASON = "the lead was marked as spam"  # why a message queued before a "Spam" decision is held


def lead_for(capture: Capture, job: dict, *, in_tray_too: bool = False) -> dict:
    """The job's lead; Unwanted once it is in the spam tray, unless the message is `in_tray_too`."""
    lead = store.get_lead(capture.engine, job["lead_id"])
    if lead is None:
        raise RenderError("the lead no longer exists")
    if lead["spam"] and not in_tray_too:
        raise Unwanted(HELD_REASON)
    return lead
