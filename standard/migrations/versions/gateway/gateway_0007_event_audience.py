"""events: the parties an event is for by its domain's own rule (a task's issuer and recipients)

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-08 00:40:00

Tasks are not read through the policy's table scopes but by their own rule (tasks/access.py):
the issuer, the recipients and the city office. An event records those parties, so a client of
one of them is sent the event; events written before carry none and go by the scope alone.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0007'
down_revision = 'gateway_0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('audience', sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('event_outbox', schema=None) as batch_op:
        batch_op.drop_column('audience')
