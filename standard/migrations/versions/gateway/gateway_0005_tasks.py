"""regulatory tasks: tasks, their recipients, moves and signed receipts; complaints become tasks

Revision ID: gateway_0005
Revises: gateway_0004
Create Date: 2026-12-07 23:45:00

A task's change, its move row, its receipts, its audit entry and its outbox event are written in
one transaction (tasks/store.py). complaint_tasks links a 12345 complaint (by its exchange key)
to the task it became, here rather than in the complaints source's exchange table.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0005'
down_revision = 'gateway_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tasks',
    sa.Column('seq', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=40), nullable=False),
    sa.Column('subjects', sa.JSON(), nullable=False),
    sa.Column('matters', sa.JSON(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_working_days', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_provisional', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('assignees', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('acts', sa.JSON(), nullable=False),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_tasks')),
    sa.UniqueConstraint('id', name=op.f('uq_tasks_id'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_issuer', ['issuer', 'seq'], unique=False)
        batch_op.create_index('ix_tasks_open_due', ['state', 'due_at'], unique=False)

    op.create_table('complaint_tasks',
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('cd_id', sa.String(length=64), nullable=False),
    sa.Column('ticket_no', sa.String(length=50), nullable=False),
    sa.Column('task_seq', sa.Integer(), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_seq'], ['tasks.seq'], name=op.f('fk_complaint_tasks_task_seq_tasks')),
    sa.PrimaryKeyConstraint('provider', 'cd_id', name=op.f('pk_complaint_tasks')),
    sa.UniqueConstraint('task_seq', name=op.f('uq_complaint_tasks_task_seq'))
    )
    op.create_table('task_moves',
    sa.Column('task_seq', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('party', sa.String(length=40), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['task_seq'], ['tasks.seq'], name=op.f('fk_task_moves_task_seq_tasks')),
    sa.PrimaryKeyConstraint('task_seq', 'version', name=op.f('pk_task_moves'))
    )
    op.create_table('task_receipts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('task_seq', sa.Integer(), nullable=False),
    sa.Column('task_version', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('audit_seq', sa.BigInteger(), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['task_seq'], ['tasks.seq'], name=op.f('fk_task_receipts_task_seq_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_receipts'))
    )
    with op.batch_alter_table('task_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_task_receipts_task', ['task_seq', 'id'], unique=False)

    op.create_table('task_recipients',
    sa.Column('task_seq', sa.Integer(), nullable=False),
    sa.Column('party', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['task_seq'], ['tasks.seq'], name=op.f('fk_task_recipients_task_seq_tasks')),
    sa.PrimaryKeyConstraint('task_seq', 'party', name=op.f('pk_task_recipients'))
    )
    with op.batch_alter_table('task_recipients', schema=None) as batch_op:
        batch_op.create_index('ix_task_recipients_party', ['party', 'task_seq'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_recipients', schema=None) as batch_op:
        batch_op.drop_index('ix_task_recipients_party')

    op.drop_table('task_recipients')
    with op.batch_alter_table('task_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_task_receipts_task')

    op.drop_table('task_receipts')
    op.drop_table('task_moves')
    op.drop_table('complaint_tasks')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_open_due')
        batch_op.drop_index('ix_tasks_issuer')

    op.drop_table('tasks')
