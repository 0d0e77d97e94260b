"""data changes counter: a trigger on every table but the audit log (csmatch.dataversion)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:00:00

The report pages keep what they computed while the data they read is unchanged; this counter says
when it changed. PostgreSQL: a sequence and a statement-level trigger per table (no row lock:
writers never wait for it); SQLite: a one-row table and row-level triggers. A table created by a
later revision needs its trigger too (``tests/csmatch/test_dataversion.py`` checks every table),
and a SQLite batch_alter_table that recreates a table drops its triggers: create them again.
"""
from __future__ import annotations

from alembic import op

from csmatch.dataversion import create_statements, drop_statements

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# every table at this revision but audit_events (and alembic_version)
TABLES = [
    'api_tokens', 'assignments', 'capacity_reports', 'contract_counties', 'contract_sites', 'contracts',
    'member_demographics', 'member_prior_providers', 'members', 'notifications', 'provider_sites', 'providers',
    'referral_exclusions', 'referral_preferences', 'referral_status_changes', 'referrals', 'service_codes',
    'services', 'solver_runs', 'unplaced_referrals', 'users',
]


def upgrade() -> None:
    for statement in create_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)
