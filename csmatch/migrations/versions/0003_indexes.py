"""indexes for the dashboard at 100,000 referrals: overdue clocks, aging, unplaced list

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:40:00

The overdue filter reads the status history since a cutoff date (``on_date`` first, the columns it
tests after it) instead of the whole history; the overdue, aging and unplaced lists read the
referrals of some statuses in receipt order; the capacity board sums committed units per contract,
the timeliness report finds each referral's first sending, and a run's page counts its assignments
by status, from indexes alone.

Migrations run on SQLite (embedded) and PostgreSQL (production): use batch_alter_table for SQLite,
and think about locks before altering a large table on PostgreSQL (a plain CREATE INDEX blocks
writes to the table while it builds: a few seconds at 100,000 referrals).
"""
from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

INDEXES = [
    ('referrals', 'ix_referrals_status_received_date', ['status', 'received_date', 'id']),
    ('referral_status_changes', 'ix_referral_status_changes_recent',
     ['on_date', 'to_status', 'reason_code', 'from_status', 'referral_id']),
    ('assignments', 'ix_assignments_status_contract_units', ['status', 'contract_id', 'units']),
    ('assignments', 'ix_assignments_referral_id_sent_on', ['referral_id', 'sent_on']),
    ('assignments', 'ix_assignments_solver_run_id_status', ['solver_run_id', 'status']),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _columns in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
