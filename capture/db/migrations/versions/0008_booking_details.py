"""booking details: how the meeting is held, the visitor's zone, why it was cancelled, how it went

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings') as batch:
        # Every booking made before this was a phone call.
        batch.add_column(sa.Column('meeting_kind', sa.String(length=8), nullable=False,
                                   server_default='phone'))
        batch.add_column(sa.Column('visitor_zone', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('outcome', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('outcome_by', sa.String(length=320), nullable=True))


def downgrade():
    with op.batch_alter_table('bookings') as batch:
        for name in ('outcome_by', 'outcome_at', 'outcome', 'cancel_reason', 'visitor_zone', 'meeting_kind'):
            batch.drop_column(name)
