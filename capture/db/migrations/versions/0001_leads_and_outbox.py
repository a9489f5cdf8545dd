"""leads and outbox

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 16:45:43.127292
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('leads',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('form_id', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('spam', sa.Boolean(), nullable=False),
    sa.Column('spam_reason', sa.String(length=80), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=60), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('service', sa.String(length=80), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('consent_version', sa.String(length=40), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('page_url', sa.Text(), nullable=True),
    sa.Column('referrer', sa.Text(), nullable=True),
    sa.Column('landing_page', sa.Text(), nullable=True),
    sa.Column('first_referrer', sa.Text(), nullable=True),
    sa.Column('first_seen', sa.Text(), nullable=True),
    sa.Column('first_utm_source', sa.Text(), nullable=True),
    sa.Column('first_utm_medium', sa.Text(), nullable=True),
    sa.Column('first_utm_campaign', sa.Text(), nullable=True),
    sa.Column('first_utm_term', sa.Text(), nullable=True),
    sa.Column('first_utm_content', sa.Text(), nullable=True),
    sa.Column('last_utm_source', sa.Text(), nullable=True),
    sa.Column('last_utm_medium', sa.Text(), nullable=True),
    sa.Column('last_utm_campaign', sa.Text(), nullable=True),
    sa.Column('last_utm_term', sa.Text(), nullable=True),
    sa.Column('last_utm_content', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_email', ['email'], unique=False)
        batch_op.create_index('ix_leads_received_at', ['received_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('lead_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('leased_by', sa.String(length=80), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'available_at'], unique=False)
        batch_op.create_index('ix_outbox_lead', ['lead_id'], unique=False)



def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_lead')
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_received_at')
        batch_op.drop_index('ix_leads_email')

    op.drop_table('leads')
