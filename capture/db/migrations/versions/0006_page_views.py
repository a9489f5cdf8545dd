"""page views: daily counts per page, referring site and campaign; today's salt and visitor keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # The counts: no IP address, user agent or hash in any column. '' (not NULL) means "none",
    # so the unique index the counting upsert relies on matches "no referrer" rows everywhere.
    op.create_table(
        'page_views',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('path', sa.String(length=300), nullable=False),
        sa.Column('referrer_host', sa.String(length=253), nullable=False),
        sa.Column('utm_source', sa.String(length=100), nullable=False),
        sa.Column('utm_medium', sa.String(length=100), nullable=False),
        sa.Column('utm_campaign', sa.String(length=100), nullable=False),
        sa.Column('views', sa.Integer(), nullable=False),
        sa.Column('visitors', sa.Integer(), nullable=False),
    )
    op.create_index('uq_page_views_row', 'page_views',
                    ['day', 'path', 'referrer_host', 'utm_source', 'utm_medium', 'utm_campaign'],
                    unique=True)
    # Today's salt, and the keys of today's visitors: both deleted when the day is over.
    op.create_table(
        'daily_salts',
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('salt', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'daily_visitors',
        sa.Column('day', sa.Date(), primary_key=True),
        sa.Column('key', sa.String(length=32), primary_key=True),
    )


def downgrade():
    op.drop_table('daily_visitors')
    op.drop_table('daily_salts')
    op.drop_index('uq_page_views_row', table_name='page_views')
    op.drop_table('page_views')
