"""the spam verdict: clean, suspect or spam with its reasons; a message fingerprint; release from the tray

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

leads = sa.table('leads', sa.column('spam', sa.Boolean()), sa.column('spam_reason', sa.String()),
                 sa.column('verdict', sa.String()), sa.column('spam_reasons', sa.JSON()))


def upgrade():
    with op.batch_alter_table('leads') as batch:
        # The filter's verdict on arrival; `spam` stays the current state (in the tray or not).
        batch.add_column(sa.Column('verdict', sa.String(length=10), nullable=False,
                                   server_default='clean'))
        batch.add_column(sa.Column('spam_reasons', sa.JSON(), nullable=True))
        # The free text's fingerprint: the same message from many addresses is a campaign.
        batch.add_column(sa.Column('body_hash', sa.String(length=32), nullable=True))
        # When someone took it out of the spam tray ("Not spam").
        batch.add_column(sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_leads_body_hash', ['body_hash', 'received_at'])
        batch.create_index('ix_leads_spam_received', ['spam', 'received_at'])
    # The only reason there was, the honeypot.
    op.execute(leads.update().where(leads.c.spam.is_(True))
               .values(verdict='spam', spam_reasons=['the hidden honeypot field was filled in']))
    with op.batch_alter_table('leads') as batch:
        batch.drop_column('spam_reason')


def downgrade():
    with op.batch_alter_table('leads') as batch:
        batch.add_column(sa.Column('spam_reason', sa.String(length=80), nullable=True))
    op.execute(leads.update().where(leads.c.spam.is_(True)).values(spam_reason='honeypot'))
    with op.batch_alter_table('leads') as batch:
        batch.drop_index('ix_leads_spam_received')
        batch.drop_index('ix_leads_body_hash')
        for name in ('released_at', 'body_hash', 'spam_reasons', 'verdict'):
            batch.drop_column(name)
