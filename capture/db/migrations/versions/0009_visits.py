"""visits: one row per visit credited to its entry, today's visit per visitor key, visits per page

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

FLAGS = ('new_visitor', 'source_visitor', 'medium_visitor', 'campaign_visitor', 'referrer_visitor',
         'landing_visitor')


def upgrade():
    # Counts with no one behind them: no key, no time, no IP address or user agent.
    op.create_table(
        'visits',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('entry_page', sa.String(length=300), nullable=False),
        sa.Column('referrer_host', sa.String(length=253), nullable=False),
        sa.Column('utm_source', sa.String(length=100), nullable=False),
        sa.Column('utm_medium', sa.String(length=100), nullable=False),
        sa.Column('utm_campaign', sa.String(length=100), nullable=False),
        sa.Column('views', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in FLAGS),
    )
    op.create_index('ix_visits_day', 'visits', ['day'])
    # Today's visit per visitor key: deleted with the day's salt.
    op.create_table(
        'daily_visits',
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('key', sa.String(length=32), primary_key=True),
        sa.Column('visit_id', sa.Integer(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    )
    # Older counts have no visits: 0, and the report says "–" for a rate without a base.
    with op.batch_alter_table('page_views') as batch:
        batch.add_column(sa.Column('visits', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('page_views') as batch:
        batch.drop_column('visits')
    op.drop_table('daily_visits')
    op.drop_index('ix_visits_day', table_name='visits')
    op.drop_table('visits')
