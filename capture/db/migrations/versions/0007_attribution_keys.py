"""report keys on leads: landing and form page paths, referring hosts, first response, furthest stage

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""
import re
from urllib.parse import urlsplit

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

BATCH = 5000
KEYS = ('first_page', 'last_page', 'first_referrer_host', 'last_referrer_host')
SOURCES = ('landing_page', 'page_url', 'first_referrer', 'referrer')
leads = sa.table('leads', sa.column('id', sa.String()), sa.column('status', sa.String()),
                 sa.column('stage_reached', sa.Integer()),
                 *(sa.column(name, sa.Text()) for name in KEYS + SOURCES))
events = sa.table('events', sa.column('lead_id', sa.String()), sa.column('kind', sa.String()),
                  sa.column('to_status', sa.String()))
# pipeline.STAGES, written out: a migration keeps meaning what it meant when it was written.
STAGES = {'contacted': 1, 'consultation': 2, 'proposal': 3, 'won': 4}
# The report keys as the app derived them when this was written (the lead writer's
# attribution_keys), copied here: a migration must mean the same however the app changes later.
PATH_MAX = 300
REFERRER_SCAN = 2048
HOST = re.compile(r'[a-z0-9_-]+(?:\.[a-z0-9_-]+)*')


def upgrade():
    with op.batch_alter_table('leads') as batch:
        batch.add_column(sa.Column('first_page', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('last_page', sa.String(length=300), nullable=True))
        batch.add_column(sa.Column('first_referrer_host', sa.String(length=253), nullable=True))
        batch.add_column(sa.Column('last_referrer_host', sa.String(length=253), nullable=True))
        # Older leads keep NULL: working time needs sales.yml's hours, which a migration cannot
        # read; the report's median then counts the leads contacted from this version on.
        batch.add_column(sa.Column('first_response_minutes', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('stage_reached', sa.Integer(), nullable=False, server_default='0'))
    fill_keys(op.get_bind())
    fill_stages()


def fill_keys(conn):
    """The URL-derived keys of older leads, in Python (attribution_keys below), in batches."""
    has_any = sa.or_(*(leads.c[name].is_not(None) for name in SOURCES))
    update = (leads.update().where(leads.c.id == sa.bindparam('lead_id'))
              .values({name: sa.bindparam(name) for name in KEYS}))
    last = ''
    while True:
        found = conn.execute(sa.select(leads.c.id, *(leads.c[name] for name in SOURCES))
                             .where(leads.c.id > last, has_any).order_by(leads.c.id).limit(BATCH)).all()
        if not found:
            return
        conn.execute(update, [{'lead_id': row.id, **attribution_keys(row._asdict())} for row in found])
        last = found[-1].id


def url_path(url):
    """The path of a page's URL, as `location.pathname` gives it; None for no page URL."""
    try:
        parts = urlsplit((url or '').strip())
    except ValueError:  # a malformed IPv6 literal
        return None
    if parts.path.startswith('/') and not parts.path.startswith('//'):
        return parts.path[:PATH_MAX]
    return '/' if not parts.path and parts.netloc else None


def url_host(url):
    """The host of a URL in lower case, without port or final dot; None for no URL."""
    try:
        host = (urlsplit((url or '')[:REFERRER_SCAN].strip()).hostname or '').rstrip('.')
    except ValueError:
        return None
    return host if len(host) <= 253 and HOST.fullmatch(host) else None


def attribution_keys(attribution):
    """first_page, last_page and the referring hosts; a referrer on the lead's own site is none."""
    page, landing = attribution.get('page_url'), attribution.get('landing_page')
    own = {host.removeprefix('www.') for host in (url_host(page), url_host(landing)) if host}

    def referrer(url):
        host = url_host(url)
        return None if host is None or host.removeprefix('www.') in own else host
    return {'first_page': url_path(landing), 'last_page': url_path(page),
            'first_referrer_host': referrer(attribution.get('first_referrer')),
            'last_referrer_host': referrer(attribution.get('referrer'))}


def fill_stages():
    """The furthest stage each lead reached, from its status events and its current status."""
    rank = sa.case(*((events.c.to_status == status, stage) for status, stage in STAGES.items()), else_=0)
    furthest = (sa.select(sa.func.max(rank)).where(events.c.lead_id == leads.c.id, events.c.kind == 'status')
                .scalar_subquery())
    now = sa.case(*((leads.c.status == status, stage) for status, stage in STAGES.items()), else_=0)
    op.execute(leads.update().where(leads.c.status != 'new').values(stage_reached=now))
    op.execute(leads.update().where(sa.func.coalesce(furthest, 0) > leads.c.stage_reached)
               .values(stage_reached=furthest))


def downgrade():
    with op.batch_alter_table('leads') as batch:
        for name in ('stage_reached', 'first_response_minutes') + tuple(reversed(KEYS)):
            batch.drop_column(name)
