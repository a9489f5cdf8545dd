"""inbound mail: each lead's reply address, and every message the inbound SMTP service received

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'reply_addresses',
        sa.Column('token', sa.String(length=32), primary_key=True),
        sa.Column('lead_id', sa.String(length=32), sa.ForeignKey('leads.id'), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_reply_addresses_lead', 'reply_addresses', ['lead_id'])
    op.create_table(
        'inbound_messages',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('dedupe_key', sa.String(length=64), nullable=False, unique=True),
        sa.Column('lead_id', sa.String(length=32), sa.ForeignKey('leads.id'), nullable=True),
        sa.Column('event_id', sa.Integer(), sa.ForeignKey('events.id'), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('message_id', sa.Text(), nullable=True),
        sa.Column('envelope_from', sa.String(length=320), nullable=False),
        sa.Column('from_addr', sa.String(length=320), nullable=True),
        sa.Column('to_addrs', sa.Text(), nullable=True),
        sa.Column('subject', sa.Text(), nullable=True),
        sa.Column('sender', sa.String(length=12), nullable=False),
        sa.Column('automatic', sa.String(length=40), nullable=True),
        sa.Column('text', sa.Text(), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
    )
    op.create_index('ix_inbound_messages_lead', 'inbound_messages', ['lead_id', 'received_at'])


def downgrade():
    op.drop_index('ix_inbound_messages_lead', table_name='inbound_messages')
    op.drop_table('inbound_messages')
    op.drop_index('ix_reply_addresses_lead', table_name='reply_addresses')
    op.drop_table('reply_addresses')
