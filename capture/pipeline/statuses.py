"""A lead's statuses, their order and the funnel stages they count as.

`LeadStatus` members are plain strings equal to the values stored in
`leads.status` and shown by the templates, so the database and the pages
never see the difference; code names a status through the enum instead of
typing its string.
"""
from __future__ import annotations

from enum import StrEnum


class LeadStatus(StrEnum):
    """Where a lead is in the sales pipeline."""
    NEW = "new"
    CONTACTED = "contacted"
    CONSULTATION = "consultation"
    PROPOSAL = "proposal"
    WON = "won"
    LOST = "lost"


# Plain strings: click's Choice and the templates take them as they are.
STATUSES = tuple(status.value for status in LeadStatus)
OPEN_STATUSES = STATUSES[:4]
# Forward order for one-click links: an old email's button never moves a lead back.
RANK = {LeadStatus.NEW: 0, LeadStatus.CONTACTED: 1, LeadStatus.CONSULTATION: 2, LeadStatus.PROPOSAL: 3,
        LeadStatus.WON: 4, LeadStatus.LOST: 4}
# How far along the funnel a lead has come (leads.stage_reached): lost is an end, not a stage.
STAGES = {status: RANK[status] for status in LeadStatus if status is not LeadStatus.LOST}
