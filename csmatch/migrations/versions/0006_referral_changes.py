"""referral change log: which referrals each write touched (csmatch.changes)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:30:00

A kept report refreshes the rows of the referrals a write touched instead of reading its whole
period again (reports.kept). Triggers write the log: PostgreSQL statement-level ones with transition
tables, SQLite row-level ones. A table created later that holds a referral id needs its triggers
too (``tests/csmatch/test_changes.py`` checks), and a SQLite batch_alter_table that recreates a
logged table drops its triggers: create them again.
"""
from __future__ import annotations

from alembic import op

from csmatch.changes import create_statements, drop_statements

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# the tables the log watches at this revision (their kinds: csmatch.changes.LOGGED)
TABLES = [
    'referrals', 'assignments', 'referral_status_changes', 'unplaced_referrals', 'referral_preferences',
    'referral_exclusions', 'members', 'member_demographics', 'services', 'provider_sites', 'contracts',
]


def upgrade() -> None:
    for statement in create_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)
