"""data changes counter: sign-ins and API token use no longer count (csmatch.dataversion)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:00:00

Every sign-in writes ``users.last_login_at`` and every API request ``api_tokens.last_used_at``. No
kept report reads either table, but each such write moved the counter and retired every kept
report: a script polling the API made every report page recompute on each read.
"""
from __future__ import annotations

from alembic import op

from csmatch.dataversion import create_trigger_statements, drop_trigger_statements

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = ['api_tokens', 'users']


def upgrade() -> None:
    for statement in drop_trigger_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in create_trigger_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)
