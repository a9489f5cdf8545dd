"""The tables. Alembic migrations under capture/db/migrations/ create them.

Written as SQLAlchemy Core tables: the lead path uses statements built once
(see store.py), which costs a fraction of the ORM's unit of work per request.
"""
from datetime import timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text, TypeDecorator, func)

from capture.schema.forms import ATTRIBUTION_FIELDS

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """A moment, stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone itself; SQLite keeps text without one and would
    hand back naive datetimes, which compare wrongly with aware ones.
    """
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("store aware datetimes only (capture.clock.utcnow())")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=timezone.utc)

leads = Table(
    "leads", metadata,
    Column("id", String(32), primary_key=True),
    Column("form_id", String(40), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("status", String(20), nullable=False, default="new"),
    Column("spam", Boolean, nullable=False, default=False),  # in the spam tray: nobody told, no KPIs
    Column("verdict", String(10), nullable=False, default="clean", server_default="clean"),  # spam.py
    Column("spam_reasons", JSON),  # why the filter said so, for people to review
    Column("body_hash", String(32)),  # the free text's fingerprint (spam.body_hash)
    Column("released_at", UTCDateTime()),  # taken out of the spam tray ("Not spam")
    Column("name", String(200)),
    Column("email", String(320)),
    Column("phone", String(60)),
    Column("company", String(200)),
    Column("service", String(80)),
    Column("data", JSON, nullable=False),
    Column("consent_version", String(40)),
    Column("consent_at", UTCDateTime()),
    *(Column(name, Text) for name in ATTRIBUTION_FIELDS),
    # The pipeline (pipeline/stages.py): the current state; the events table holds its history.
    Column("owner", String(320)),
    Column("deal_value", BigInteger),  # in the currency's minor unit (pence), when won
    Column("lost_reason", String(40)),
    Column("first_contact_at", UTCDateTime()),  # the first move out of "new"
    Column("status_changed_at", UTCDateTime()),
    Column("respond_by", UTCDateTime()),  # the first-contact promise in working time, set on arrival
    Column("anonymised_at", UTCDateTime()),  # erasure or retention removed what identifies the person
    # Report keys (reports/report.py), derived once on arrival (report_keys.attribution_keys) so that grouping
    # needs no URL parsing in SQL: the path of landing_page / page_url, the referring host of
    # first_referrer / referrer (as traffic/checks.py keeps it: lower case, no port, none for our own site).
    Column("first_page", String(300)),
    Column("last_page", String(300)),
    Column("first_referrer_host", String(253)),
    Column("last_referrer_host", String(253)),
    # Working minutes from arrival to first contact, set with first_contact_at (pipeline/stages.py).
    Column("first_response_minutes", Integer),
    # The furthest open stage ever reached (pipeline.STAGES: 0 new … 4 won), kept when a lead is
    # lost or moved back, so the report's funnel counts a lead lost after a proposal as a proposal.
    Column("stage_reached", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_leads_received_at", "received_at"),
    Index("ix_leads_email", "email"),
    Index("ix_leads_status_owner", "status", "owner"),
    Index("ix_leads_body_hash", "body_hash", "received_at"),
    Index("ix_leads_spam_received", "spam", "received_at"),
)

# Every change to a lead: who, when, from, to, and what came with it.
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), ForeignKey("leads.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),  # a team member's email, or "system"
    Column("kind", String(20), nullable=False),  # status, note, assign
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("owner", String(320)),
    Column("deal_value", BigInteger),
    Column("reason", String(40)),
    Column("note", Text),
    Index("ix_events_lead", "lead_id", "at"),
)

# Magic sign-in links for the desk: single use, short-lived.
sign_in_links = Table(
    "sign_in_links", metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
)

# That an erasure or a retention run happened (privacy.py): when, by whom, how many; never who.
privacy_log = Table(
    "privacy_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("action", String(40), nullable=False),
    Column("leads", Integer, nullable=False),
)

# When each team member last signed out: sessions signed in before then are over.
sign_outs = Table(
    "sign_outs", metadata,
    Column("email", String(320), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)

# Consultations booked (booking/slots.py offers the slots, booking/appointments.py books them). A cancelled
# booking stays as history; only a booked one holds its host's time.
bookings = Table(
    "bookings", metadata,
    Column("id", String(32), primary_key=True),  # in links to the visitor: not guessable
    Column("lead_id", String(32), ForeignKey("leads.id"), nullable=False),
    Column("host", String(320), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("status", String(12), nullable=False),  # booked, cancelled
    Column("sequence", Integer, nullable=False),  # iCalendar SEQUENCE: one more at every change
    Column("created_at", UTCDateTime(), nullable=False),
    Column("changed_at", UTCDateTime()),
    Column("meeting_kind", String(8), nullable=False, server_default="phone"),  # phone, video
    Column("visitor_zone", String(64)),  # IANA name the visitor's picker sent; None: the studio's zone
    Column("cancel_reason", Text),  # the visitor's optional words when cancelling
    Column("outcome", String(8)),  # held, no_show: recorded by the host after the meeting
    Column("outcome_at", UTCDateTime()),
    Column("outcome_by", String(320)),
    Index("ix_bookings_lead", "lead_id"),
    Index("ix_bookings_starts_at", "starts_at"),
)
# No host is booked twice at one time, whatever number of processes book at once.
Index("uq_bookings_host_start", bookings.c.host, bookings.c.starts_at, unique=True,
      sqlite_where=bookings.c.status == "booked", postgresql_where=bookings.c.status == "booked")

# One row per message to send; written in the lead's transaction.
outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lead_id", String(32), ForeignKey("leads.id")),  # none for a sign-in link
    Column("ref", String(64)),  # what a message about no lead is about (a sign-in link's id)
    Column("kind", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("message_id", String(250), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("leased_by", String(80)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("scheduled_for", UTCDateTime()),  # a reminder's due time: its wait counts from then
    Index("ix_outbox_due", "status", "available_at"),
    Index("ix_outbox_lead", "lead_id"),
)
# The per-address cap on confirmations (outbox.confirmations_to) looks up by this.
Index("ix_outbox_confirmation_recipient", func.lower(outbox.c.recipient), outbox.c.created_at,
      sqlite_where=outbox.c.kind == "confirm_visitor",
      postgresql_where=outbox.c.kind == "confirm_visitor")

# --- visits (traffic/) -----------------------------------------------------------------
# Page views counted per day (the business time zone's day), page, referring site and campaign.
# "None" is the empty string, not NULL, so the unique index that the counting upsert relies on
# treats two "no referrer" rows as the same row on every database. No IP address, user agent or
# hash is ever written here.
page_views = Table(
    "page_views", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("path", String(300), nullable=False),
    Column("referrer_host", String(253), nullable=False),
    Column("utm_source", String(100), nullable=False),
    Column("utm_medium", String(100), nullable=False),
    Column("utm_campaign", String(100), nullable=False),
    Column("views", Integer, nullable=False),
    Column("visitors", Integer, nullable=False),
    # Visits that viewed the page (counted on the visit's first view of it; traffic/visits.py).
    Column("visits", Integer, nullable=False, server_default="0"),
    Index("uq_page_views_row", "day", "path", "referrer_host", "utm_source", "utm_medium",
          "utm_campaign", unique=True),
)

# Today's random salt for counting unique visitors, one row per day; deleted when the next
# day's salt is made (and by the daily retention run), so yesterday's visitors cannot be
# recognised any more.
daily_salts = Table(
    "daily_salts", metadata,
    Column("day", Date, primary_key=True),
    Column("salt", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),  # the end of that day, in UTC
)

# Which (visitor, counts row) pairs were already counted today: a keyed hash of the day's salt,
# the IP address, the user agent, the site and the row. Deleted with the day's salt.
daily_visitors = Table(
    "daily_visitors", metadata,
    Column("day", Date, primary_key=True),
    Column("key", String(32), primary_key=True),
)

# One row per visit (traffic/visits.py): a visitor's views with no gap over 30 minutes, within one
# business day. Kept like page_views, as counts with no one behind them: the day, where the visit
# began (its first page, referring host and UTM values; '' for none), how many views it had, and
# whether it was its visitor's first of the day in total and for each entry value, so that unique
# visitors per source, campaign… are sums. No key, time, IP address or user agent.
visits = Table(
    "visits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("entry_page", String(300), nullable=False),
    Column("referrer_host", String(253), nullable=False),
    Column("utm_source", String(100), nullable=False),
    Column("utm_medium", String(100), nullable=False),
    Column("utm_campaign", String(100), nullable=False),
    Column("views", Integer, nullable=False),
    # 1 when the visit is its visitor's first of the day (new_visitor), or the first of the day
    # with this visit's source, medium, campaign, referring host or landing page; else 0.
    Column("new_visitor", Integer, nullable=False),
    Column("source_visitor", Integer, nullable=False),
    Column("medium_visitor", Integer, nullable=False),
    Column("campaign_visitor", Integer, nullable=False),
    Column("referrer_visitor", Integer, nullable=False),
    Column("landing_visitor", Integer, nullable=False),
    Index("ix_visits_day", "day"),
)

# Today's visit of each visitor key (HMAC of the day's salt, IP address, user agent and site) and
# when its last view came, so the next view within 30 minutes joins it. Deleted with the day's
# salt, like daily_visitors: after that no visits row can be tied to anyone.
daily_visits = Table(
    "daily_visits", metadata,
    Column("day", Date, primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("visit_id", Integer, nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
)

# Each lead's reply address (inbound/addresses.py): its token, a keyed hash of the lead's id, is
# found here (the token itself reveals nothing). The address works for a while after the last
# message that carried it (issued_at).
reply_addresses = Table(
    "reply_addresses", metadata,
    Column("token", String(32), primary_key=True),
    Column("lead_id", String(32), ForeignKey("leads.id"), nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Index("ix_reply_addresses_lead", "lead_id"),
)

# Every message received by the inbound SMTP service (inbound/), stored as received (raw) with
# what was read from it, in the same transaction as its event on the lead. One row per message
# and lead (dedupe_key: a hash of the Message-ID, or of the bytes when there is none), so a
# resend is stored once. Bounces (a lead_id found through the message they bounce) and the
# desk's conversation view build on the same rows.
inbound_messages = Table(
    "inbound_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(64), nullable=False, unique=True),
    Column("lead_id", String(32), ForeignKey("leads.id")),
    Column("event_id", Integer, ForeignKey("events.id")),  # its line on the lead's timeline
    Column("received_at", UTCDateTime(), nullable=False),  # when our server answered 250
    Column("sent_at", UTCDateTime()),  # the Date header, as the sender's client wrote it
    Column("message_id", Text),  # the Message-ID header as received
    Column("envelope_from", String(320), nullable=False),  # MAIL FROM ("" for a bounce)
    Column("from_addr", String(320)),
    Column("to_addrs", Text),  # To and Cc, comma-separated
    Column("subject", Text),
    # team (a team member to the prospect), prospect, automatic (never a reply), other
    Column("sender", String(12), nullable=False),
    Column("automatic", String(40)),  # why it counts as automatic mail (the header that said so)
    Column("text", Text),  # the new text, without the quoted history
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),  # the message exactly as received
    Index("ix_inbound_messages_lead", "lead_id", "received_at"),
)
