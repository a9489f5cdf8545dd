"""Where an outbox job stands."""
from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """A job's `outbox.status`: waiting, leased to a worker, or done one of three ways."""
    PENDING = "pending"  # due at available_at (a retry, a scheduled reminder, or new)
    SENDING = "sending"  # leased to a worker until lease_until
    SENT = "sent"  # the server accepted it (or the chore ran)
    DEAD = "dead"  # given up on: out of retries, refused for good, or a poison job
    DROPPED = "dropped"  # not sent on purpose: no longer needed when due


WAITING = (JobStatus.PENDING, JobStatus.SENDING)
FINISHED = (JobStatus.SENT, JobStatus.DEAD, JobStatus.DROPPED)
