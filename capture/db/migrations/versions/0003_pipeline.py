"""the sales pipeline: owners, statuses with events, deal values; scheduled and non-lead mail

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('leads') as batch:
        batch.add_column(sa.Column('owner', sa.String(length=320), nullable=True))
        batch.add_column(sa.Column('deal_value', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('lost_reason', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('first_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True))
        # The first-contact deadline in working time, fixed when the lead arrives.
        batch.add_column(sa.Column('respond_by', sa.DateTime(timezone=True), nullable=True))
        # Set when erasure or retention removed what identifies the person.
        batch.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_leads_status_owner', ['status', 'owner'])
    # SQLite rebuilds the table to change a column and cannot reflect an expression
    # index, so the confirmation-cap index is dropped first and made again after.
    op.drop_index('ix_outbox_confirmation_recipient', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        # Sign-in links are mail about no lead; `ref` names what such a message is about.
        batch.alter_column('lead_id', existing_type=sa.String(length=32), nullable=True)
        batch.add_column(sa.Column('ref', sa.String(length=64), nullable=True))
        # When a scheduled message (a reminder) first became due: its wait counts from then.
        batch.add_column(sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True))
    _confirmation_index()
    op.create_table(
        'events',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('lead_id', sa.String(length=32), sa.ForeignKey('leads.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=320), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('from_status', sa.String(length=20), nullable=True),
        sa.Column('to_status', sa.String(length=20), nullable=True),
        sa.Column('owner', sa.String(length=320), nullable=True),
        sa.Column('deal_value', sa.BigInteger(), nullable=True),
        sa.Column('reason', sa.String(length=40), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
    )
    op.create_index('ix_events_lead', 'events', ['lead_id', 'at'])
    op.create_table(
        'sign_in_links',
        sa.Column('id', sa.String(length=32), primary_key=True),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    )
    # That an erasure or a retention run happened: when, by whom, how many leads; never who.
    op.create_table(
        'privacy_log',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=320), nullable=False),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('leads', sa.Integer(), nullable=False),
    )
    # Signing out ends every session of that person signed in before, on any device.
    op.create_table(
        'sign_outs',
        sa.Column('email', sa.String(length=320), primary_key=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )


def _confirmation_index():
    confirmations = sa.text("kind = 'confirm_visitor'")
    op.create_index('ix_outbox_confirmation_recipient', 'outbox',
                    [sa.text('lower(recipient)'), 'created_at'],
                    sqlite_where=confirmations, postgresql_where=confirmations)


def downgrade():
    op.drop_table('privacy_log')
    op.drop_table('sign_outs')
    op.drop_table('sign_in_links')
    op.drop_index('ix_events_lead', table_name='events')
    op.drop_table('events')
    op.drop_index('ix_outbox_confirmation_recipient', table_name='outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('scheduled_for')
        batch.drop_column('ref')
        batch.alter_column('lead_id', existing_type=sa.String(length=32), nullable=False)
    _confirmation_index()
    with op.batch_alter_table('leads') as batch:
        batch.drop_index('ix_leads_status_owner')
        for name in ('anonymised_at', 'respond_by', 'status_changed_at', 'first_contact_at', 'lost_reason',
                     'deal_value', 'owner'):
            batch.drop_column(name)
