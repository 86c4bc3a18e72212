"""random inspections: plans, their items, the pools' snapshots, draws and results

Revision ID: gateway_0006
Revises: gateway_0005
Create Date: 2026-12-07 23:51:03

A plan is stored as approved (the rules, the snapshots' hashes, the seed's commitment) with the
snapshots' canonical lines; every draw of it is kept, a repeat beside the first with its reason;
results link a drawn subject to its task and the supervision act that records it.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0006'
down_revision = 'gateway_0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspection_plans',
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('draw_day', sa.Date(), nullable=False),
    sa.Column('lead_department', sa.String(length=40), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('rules_version', sa.String(length=40), nullable=False),
    sa.Column('rules_hash', sa.String(length=64), nullable=False),
    sa.Column('subjects_hash', sa.String(length=64), nullable=False),
    sa.Column('subjects_count', sa.Integer(), nullable=False),
    sa.Column('inspectors_hash', sa.String(length=64), nullable=False),
    sa.Column('inspectors_count', sa.Integer(), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_by', sa.String(length=120), nullable=False),
    sa.Column('approved_party', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_inspection_plans'))
    )
    op.create_table('inspection_draws',
    sa.Column('plan_code', sa.String(length=50), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('result_hash', sa.String(length=64), nullable=False),
    sa.Column('subject_count', sa.Integer(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_by', sa.String(length=120), nullable=False),
    sa.Column('drawn_party', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['inspection_plans.code'], name=op.f('fk_inspection_draws_plan_code_inspection_plans')),
    sa.PrimaryKeyConstraint('plan_code', 'number', name=op.f('pk_inspection_draws'))
    )
    op.create_table('inspection_plan_items',
    sa.Column('plan_code', sa.String(length=50), nullable=False),
    sa.Column('item_code', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('matter_code', sa.String(length=14), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['inspection_plans.code'], name=op.f('fk_inspection_plan_items_plan_code_inspection_plans')),
    sa.PrimaryKeyConstraint('plan_code', 'item_code', name=op.f('pk_inspection_plan_items'))
    )
    with op.batch_alter_table('inspection_plan_items', schema=None) as batch_op:
        batch_op.create_index('ix_inspection_plan_items_department', ['department', 'plan_code'], unique=False)

    op.create_table('inspection_results',
    sa.Column('plan_code', sa.String(length=50), nullable=False),
    sa.Column('subject_uscc', sa.String(length=18), nullable=False),
    sa.Column('department', sa.String(length=40), nullable=False),
    sa.Column('draw_number', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('action_no', sa.String(length=50), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('inspected_on', sa.Date(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['inspection_plans.code'], name=op.f('fk_inspection_results_plan_code_inspection_plans')),
    sa.PrimaryKeyConstraint('plan_code', 'subject_uscc', 'department', name=op.f('pk_inspection_results'))
    )
    op.create_table('inspection_snapshot_lines',
    sa.Column('plan_code', sa.String(length=50), nullable=False),
    sa.Column('pool', sa.String(length=12), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['inspection_plans.code'], name=op.f('fk_inspection_snapshot_lines_plan_code_inspection_plans')),
    sa.PrimaryKeyConstraint('plan_code', 'pool', 'position', name=op.f('pk_inspection_snapshot_lines'))
    )
    op.create_table('inspection_draw_lines',
    sa.Column('plan_code', sa.String(length=50), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('subject_uscc', sa.String(length=18), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.Column('task_seq', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_code', 'number'], ['inspection_draws.plan_code', 'inspection_draws.number'], name=op.f('fk_inspection_draw_lines_plan_code_inspection_draws')),
    sa.ForeignKeyConstraint(['task_seq'], ['tasks.seq'], name=op.f('fk_inspection_draw_lines_task_seq_tasks')),
    sa.UniqueConstraint('task_seq', name=op.f('uq_inspection_draw_lines_task_seq')),
    sa.PrimaryKeyConstraint('plan_code', 'number', 'position', name=op.f('pk_inspection_draw_lines'))
    )


def downgrade() -> None:
    op.drop_table('inspection_draw_lines')
    op.drop_table('inspection_snapshot_lines')
    op.drop_table('inspection_results')
    with op.batch_alter_table('inspection_plan_items', schema=None) as batch_op:
        batch_op.drop_index('ix_inspection_plan_items_department')

    op.drop_table('inspection_plan_items')
    op.drop_table('inspection_draws')
    op.drop_table('inspection_plans')
