"""consultation bookings: one host, one time, no double booking

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bookings',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('lead_id', sa.String(length=32), sa.ForeignKey('leads.id'), nullable=False),
        sa.Column('host', sa.String(length=320), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_bookings_lead', 'bookings', ['lead_id'])
    op.create_index('ix_bookings_starts_at', 'bookings', ['starts_at'])
    # Partial: a cancelled booking no longer holds the time.
    booked = sa.text("status = 'booked'")
    op.create_index('uq_bookings_host_start', 'bookings', ['host', 'starts_at'], unique=True,
                    sqlite_where=booked, postgresql_where=booked)


def downgrade():
    op.drop_table('bookings')
