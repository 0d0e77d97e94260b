"""Two coordinators solving at once never over-commit a provider: the database serialises them.

On PostgreSQL the solve locks the contract rows (``SELECT ... FOR UPDATE``) before it reads the
committed units; on SQLite ``BEGIN IMMEDIATE`` serialises writers. Without either, both solves
would see the same open units and together place more than the contract allows.
"""

from __future__ import annotations

import datetime as dt
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from placement.models import ACTIVE_ASSIGNMENT_STATUSES, Assignment, RunTrigger
from placement.services import run_solver
from placement.snapshot import Scope
from referrals.models import ReferralStatus
from tests.factories import make_contract, make_member, make_provider, make_referral


def test_concurrent_solves_never_exceed_contracted_capacity(committing_engine: Engine) -> None:
    with Session(committing_engine) as session:
        contract = make_contract(session, make_provider(session), capacity=2)
        contract_id = contract.id
        ids = [make_referral(session, make_member(session), status=ReferralStatus.READY).id for _ in range(4)]
        session.commit()

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def coordinator(referral_ids: list[str]) -> None:
        try:
            with Session(committing_engine) as session:
                barrier.wait()
                run_solver(session, on_date=dt.date(2026, 11, 25), actor=f"lead-{referral_ids[0]}",
                           trigger=RunTrigger.MANUAL, scope=Scope(referral_ids=frozenset(referral_ids)))
                session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=coordinator, args=(ids[:2],)),
               threading.Thread(target=coordinator, args=(ids[2:],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with Session(committing_engine) as session:
        committed = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Assignment.units), 0))
            .where(Assignment.contract_id == contract_id, Assignment.status.in_(ACTIVE_ASSIGNMENT_STATUSES))
        )
    assert committed == 2
