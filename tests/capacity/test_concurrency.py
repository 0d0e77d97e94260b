"""Two coordinators placing into the same contract at once never over-commit it (issue 4, item 4).

Real sessions on real threads, each committing: on PostgreSQL ``reserve_units`` takes a row lock
(``SELECT ... FOR UPDATE``) so the second waits and then sees the first one's assignment; on SQLite
``BEGIN IMMEDIATE`` serialises the writers the same way.
"""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from capacity.ledger import CapacityExceeded, committed_units, reserve_units
from placement.models import Assignment, AssignmentStatus
from tests.factories import make_contract, make_member, make_provider, make_referral

WORKERS = 4
UNITS_EACH = 2
CAPACITY = 5  # room for two of the four


def test_concurrent_reservations_never_over_commit(committing_engine: Engine) -> None:
    with Session(committing_engine) as setup:
        provider = make_provider(setup)
        contract = make_contract(setup, provider, capacity=CAPACITY)
        referrals = [make_referral(setup, make_member(setup), units_needed=UNITS_EACH) for _ in range(WORKERS)]
        contract_id, site_id = contract.id, contract.sites[0].site_id
        referral_ids = [r.id for r in referrals]
        provider_id = provider.id
        setup.commit()

    start = threading.Barrier(WORKERS)
    outcomes: dict[str, str] = {}

    def coordinator(referral_id: str) -> None:
        with Session(committing_engine) as session:
            start.wait()
            try:
                reserve_units(session, contract_id, UNITS_EACH)
                session.add(Assignment(referral_id=referral_id, provider_id=provider_id, site_id=site_id,
                                       contract_id=contract_id, units=UNITS_EACH, status=AssignmentStatus.PROPOSED))
                session.flush()
                time.sleep(0.2)  # hold the lock while the others try: without it they would all read 0 committed
                session.commit()
                outcomes[referral_id] = "placed"
            except CapacityExceeded:
                session.rollback()
                outcomes[referral_id] = "refused"

    threads = [threading.Thread(target=coordinator, args=(rid,)) for rid in referral_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    assert sorted(outcomes.values()) == ["placed", "placed", "refused", "refused"]
    with Session(committing_engine) as check:
        assert committed_units(check, contract_id) == 2 * UNITS_EACH <= CAPACITY
        assert check.scalar(sa.select(sa.func.count()).select_from(Assignment)) == 2
