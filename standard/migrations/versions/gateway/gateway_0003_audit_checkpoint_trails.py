"""audit checkpoints carry a signed trail: the hashes of the entries they close

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-11-28 12:00:00

A checkpoint's signed head shows that some entry up to it was rewritten; the trail (the first
16 hex digits of each entry's hash since the previous checkpoint, signed apart) shows which.
Checkpoints made before this revision have none, and verify names a range for them.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0003'
down_revision = 'gateway_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite): the append-only triggers stay as they are.
    op.add_column('audit_checkpoints', sa.Column('trail', sa.Text(), nullable=True))
    op.add_column(
        'audit_checkpoints', sa.Column('trail_signature', sa.String(length=200), nullable=True)
    )


def downgrade() -> None:
    op.drop_column('audit_checkpoints', 'trail_signature')
    op.drop_column('audit_checkpoints', 'trail')
