"""outbox: index confirmations by recipient (the per-address daily cap)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


CONFIRMATIONS = sa.text("kind = 'confirm_visitor'")


def upgrade():
    # lower(): an address differing only in case is the same mailbox to a mail-bomber.
    # Partial: only confirmations are capped, and every other job skips the index's cost.
    op.create_index('ix_outbox_confirmation_recipient', 'outbox',
                    [sa.text('lower(recipient)'), 'created_at'],
                    sqlite_where=CONFIRMATIONS, postgresql_where=CONFIRMATIONS)


def downgrade():
    op.drop_index('ix_outbox_confirmation_recipient', table_name='outbox')
