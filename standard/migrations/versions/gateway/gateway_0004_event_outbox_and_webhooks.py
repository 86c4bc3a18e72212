"""the event outbox, partner clients' webhook subscriptions and their deliveries

Revision ID: gateway_0004
Revises: gateway_0003
Create Date: 2026-12-07 16:00:00

Events are written to event_outbox in the transaction of the change they report; deliveries
track each event owed to each subscription until its endpoint answers, or it is a dead letter.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0004'
down_revision = 'gateway_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_outbox',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('aggregate', sa.String(length=80), nullable=False),
    sa.Column('resource', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_event_outbox')),
    sa.UniqueConstraint('id', name=op.f('uq_event_outbox_id'))
    )
    op.create_table('webhook_subscriptions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('kinds', sa.JSON(), nullable=False),
    sa.Column('cursor', sa.BigInteger(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], name=op.f('fk_webhook_subscriptions_client_id_clients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscriptions'))
    )
    op.create_table('webhook_deliveries',
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('event_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('aggregate', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_seq'], ['event_outbox.seq'], name=op.f('fk_webhook_deliveries_event_seq_event_outbox')),
    sa.ForeignKeyConstraint(['subscription_id'], ['webhook_subscriptions.id'], name=op.f('fk_webhook_deliveries_subscription_id_webhook_subscriptions')),
    sa.PrimaryKeyConstraint('subscription_id', 'event_seq', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_order', ['subscription_id', 'aggregate', 'status', 'event_seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_order')
        batch_op.drop_index('ix_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_subscriptions')
    op.drop_table('event_outbox')
