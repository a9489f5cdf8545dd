"""What a new lead sets off: its owner, its first-contact deadline and its outbox jobs.

A lead reaches the team in two ways: clean through the form API
(intake/api.save) and out of the spam tray (tray.release), which treats it as
if it had just arrived. Both ask an `Arrival`, so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection

from capture.db.store import Turn, last_owner
from capture.delivery.outbox import jobs_for_lead
from capture.delivery.webhooks import lead_created
from capture.pipeline.stages import due_at, followups, owner_for
from capture.schema.forms import Form
from capture.schema.sales import Sales


@dataclass(frozen=True)
class Arrival:
    """A lead from `form` reaching the team at `now`."""
    form: Form
    sales: Sales
    domain: str
    now: datetime

    def assignment(self, values: dict) -> tuple[dict, Turn | None]:
        """The lead's owner and deadline columns, and the round robin's Turn when it has one.

        A Turn is decided in the lead's own transaction (store.LeadWriter), so the
        owner column stays empty here until then.
        """
        owner = owner_for(self.sales, self.form, values)
        turn = owner if isinstance(owner, Turn) else None
        return {"owner": None if turn else owner, "respond_by": due_at(self.sales, self.now, self.form.id)}, turn

    def assigned(self, conn: Connection, values: dict, owner: str | None = None) -> dict:
        """The owner and deadline columns decided in the caller's transaction; `owner` kept if given."""
        found, turn = self.assignment(values)
        if owner:
            found["owner"] = owner
        elif turn is not None:
            found["owner"] = turn.after(conn.execute(last_owner(self.form.id)).scalar())
        return found

    def jobs(self, lead: dict) -> list[dict]:
        """The team's notification, the visitor's confirmation, the reminders and `lead.created`."""
        return (jobs_for_lead(self.form, lead, self.domain, self.now)
                + followups(self.sales, lead, self.domain, self.now)
                + lead_created(self.sales, lead, self.now))  # the team's new lead is the CRM's too
