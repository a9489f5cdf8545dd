"""A lead's next step in a few words, for the desk's inbox and lead page (and the emails later).

One function words every state, so the inbox, the lead page and a message never disagree:
"Call Tue 16:00 with Maya", "Reply due 11:05", "Reply overdue: due 11:05", "Cancelled by the
visitor", "No-show Tue 16:00: follow up". Pure: the caller reads the lead and its latest
consultation (search.calls) and passes the clock; times are in the business zone, named by Babel.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from capture.core.formatting import LOCALE, money
from capture.pipeline.statuses import LeadStatus
from capture.schema.sales import Sales

VISITOR = "visitor"  # the actor the booking package records for what the visitor does
NEAR = timedelta(days=6)  # a time this close is named by its weekday alone
CALL_WORDS = {"phone": "Call", "video": "Video call"}
# Where a cancelled call or a no-show leaves a lead: only there is it still the news. A lead moved on
# since (a proposal), or back in the spam tray's aftermath at `new`, says what it needs now.
FOLLOWING_UP = (LeadStatus.CONTACTED, LeadStatus.CONSULTATION)
# How each tone looks on the desk (templates/desk/base.html: .step.<tone>).
LATE, SOON, CALL, DONE, TODO = "late", "soon", "call", "done", "todo"


@dataclass(frozen=True)
class NextStep:
    """What to do next about a lead, and how urgent it looks (LATE, SOON, CALL, DONE or TODO)."""
    text: str
    tone: str


def next_step(lead: dict, call: dict | None, sales: Sales, tz: ZoneInfo, now: datetime) -> NextStep:
    """The lead's next step, given its latest consultation (`call`: a bookings row, with `cancelled_by`).

    `lead` needs status, respond_by, deal_value and lost_reason, and `overdue` if the caller
    decided it (search.find does; otherwise respond_by against now decides).
    """
    status = lead["status"]
    if status == LeadStatus.WON:
        return NextStep(f"Won: {money(lead.get('deal_value'), sales.currency)}".rstrip(": "), DONE)
    if status == LeadStatus.LOST:
        reason = str(lead.get("lost_reason") or "").replace("_", " ")
        return NextStep(f"Lost: {reason}" if reason else "Lost", DONE)
    if call is not None and _is_news(call, status):
        return _about_call(lead, call, sales, tz, now)
    if status == LeadStatus.NEW:
        return _reply(lead, tz, now)
    return NextStep({LeadStatus.CONTACTED: "Follow up", LeadStatus.CONSULTATION: "Book the call",
                     LeadStatus.PROPOSAL: "Chase the proposal"}.get(status, "Follow up"), TODO)


def _is_news(call: dict, status: str) -> bool:
    """A call booked (or held) is the lead's news; a cancelled one or a no-show only while following up."""
    ended = call["status"] != "booked" or call.get("outcome") == "no_show"
    return not ended or status in FOLLOWING_UP


def _about_call(lead: dict, call: dict, sales: Sales, tz: ZoneInfo, now: datetime) -> NextStep:
    when = moment_text(call["starts_at"], tz, now)
    if call["status"] != "booked":
        by = call.get("cancelled_by")
        who = "the visitor" if by == VISITOR else (first_name(sales, by) if by else "")
        return NextStep(f"Cancelled by {who}" if who else "Call cancelled", LATE if by == VISITOR else TODO)
    if call.get("outcome") == "no_show":
        return NextStep(f"No-show {when}: follow up", LATE)
    if call.get("outcome") == "held":
        after = "chase the proposal" if lead["status"] == LeadStatus.PROPOSAL else "send a proposal"
        return NextStep(f"Call held {when}: {after}", TODO)
    if call["starts_at"] <= now:
        return NextStep(f"Say how the call {when} went", SOON)
    words = CALL_WORDS.get(call.get("meeting_kind") or "phone", "Call")
    return NextStep(f"{words} {when} with {first_name(sales, call['host'])}", CALL)


def _reply(lead: dict, tz: ZoneInfo, now: datetime) -> NextStep:
    due = lead.get("respond_by")
    overdue = lead.get("overdue")
    if overdue is None:
        overdue = due is not None and due < now
    if due is None:
        return NextStep("Reply", LATE if overdue else SOON)
    when = moment_text(due, tz, now, same_day_bare=True)
    return NextStep(f"Reply overdue: due {when}", LATE) if overdue else NextStep(f"Reply due {when}", SOON)


def moment_text(moment: datetime, tz: ZoneInfo, now: datetime, same_day_bare: bool = False) -> str:
    """'16:00' (today, if `same_day_bare`), 'Tue 16:00' within six days, else 'Tue 15 Dec 16:00'."""
    local, today = moment.astimezone(tz), now.astimezone(tz).date()
    if same_day_bare and local.date() == today:
        return f"{local:%H:%M}"
    pattern = "EEE" if abs(local.date() - today) <= NEAR else "EEE d MMM"
    return f"{format_date(local, pattern, locale=LOCALE)} {local:%H:%M}"


def first_name(sales: Sales, email: str) -> str:
    """'Maya' for maya@…; the address itself for someone not on the team (any more)."""
    member = sales.member(email)
    return member.name.split(" ")[0] if member else email
