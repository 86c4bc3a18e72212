"""user names are case-insensitive: accounts.username_key, lower(username), unique

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-28 10:00:00

Two accounts whose names differ only in case (XA.STHJ.STAFF and xa.sthj.staff) cannot both
stay: which one is the real person's is for an operator to decide, not for a migration. The
upgrade refuses, naming them, and changes nothing; rename or disable-and-rename one of them
(UPDATE accounts SET username = ... WHERE id = ...) and run ``jianguan db upgrade`` again.
"""
from alembic import op
import sqlalchemy as sa


revision = 'gateway_0002'
down_revision = 'gateway_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    names = connection.execute(sa.text("SELECT username FROM accounts ORDER BY username")).scalars()
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.lower(), []).append(name)
    clashes = [group for group in folded.values() if len(group) > 1]
    if clashes:
        listed = "; ".join(", ".join(group) for group in clashes)
        raise RuntimeError(
            "user names are now case-insensitive, and these accounts differ only in case: "
            f"{listed}. Rename one of each (accounts.username) and upgrade again."
        )
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('username_key', sa.String(length=64), nullable=True))
    op.execute("UPDATE accounts SET username_key = lower(username)")
    with op.batch_alter_table('accounts') as batch:
        batch.alter_column('username_key', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(op.f('uq_accounts_username_key'), ['username_key'])


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch:
        batch.drop_constraint(op.f('uq_accounts_username_key'), type_='unique')
        batch.drop_column('username_key')
