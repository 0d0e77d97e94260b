"""The referral state machine: every allowed transition, every refusal, reasons and audit."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from csmatch.models import AuditEvent
from referrals.lifecycle import (
    FINAL_STATUSES,
    TRANSITIONS,
    IllegalTransition,
    LifecycleError,
    ReasonRequired,
    can_transition,
    is_status_change,
    outreach_attempts,
    record_outreach_attempt,
    record_provider_update,
    transition,
)
from referrals.models import Referral, ReferralStatus, ReferralStatusChange
from tests.factories import make_member, make_referral

S = ReferralStatus
RECEIVED_ON = dt.date(2026, 11, 2)
ON = dt.date(2026, 11, 5)

# The table as the policy reads (7003 VI.C-VI.E); a change to TRANSITIONS must change this too.
EXPECTED = {
    (S.RECEIVED, S.INFO_REQUESTED), (S.RECEIVED, S.READY), (S.RECEIVED, S.DISCONTINUED),
    (S.INFO_REQUESTED, S.READY), (S.INFO_REQUESTED, S.DISCONTINUED),
    (S.READY, S.PROPOSED), (S.READY, S.UNPLACED), (S.READY, S.DISCONTINUED),
    (S.PROPOSED, S.SENT), (S.PROPOSED, S.READY), (S.PROPOSED, S.UNPLACED), (S.PROPOSED, S.DISCONTINUED),
    (S.SENT, S.ACCEPTED), (S.SENT, S.DECLINED), (S.SENT, S.PROPOSED), (S.SENT, S.READY), (S.SENT, S.UNPLACED),
    (S.SENT, S.DISCONTINUED),
    (S.DECLINED, S.READY), (S.DECLINED, S.PROPOSED), (S.DECLINED, S.UNPLACED), (S.DECLINED, S.DISCONTINUED),
    (S.UNPLACED, S.READY), (S.UNPLACED, S.PROPOSED), (S.UNPLACED, S.DISCONTINUED),
    (S.ACCEPTED, S.ENGAGED), (S.ACCEPTED, S.DISCONTINUED),
    (S.ENGAGED, S.TAR_SUBMITTED), (S.ENGAGED, S.DISCONTINUED),
    (S.TAR_SUBMITTED, S.AUTHORIZED), (S.TAR_SUBMITTED, S.ENGAGED), (S.TAR_SUBMITTED, S.DISCONTINUED),
    (S.AUTHORIZED, S.IN_SERVICE), (S.AUTHORIZED, S.DISCONTINUED),
    (S.IN_SERVICE, S.DISCONTINUED),
}
ALLOWED = sorted(EXPECTED)
ILLEGAL = sorted(set(itertools.product(S, S)) - EXPECTED)


def _referral(session: Session, status: ReferralStatus = S.RECEIVED, *, id: str | None = None) -> Referral:
    return make_referral(session, make_member(session), status=status, received_date=RECEIVED_ON,
                         id=id or f"R{next(_n):06d}")


_n = itertools.count(900_000)


def _reason_for(to: ReferralStatus) -> dict[str, str]:
    if to is S.DISCONTINUED:
        return {"reason_code": "02", "reason": "member declined by phone"}
    if to is S.DECLINED:
        return {"reason_code": "AT_CAPACITY"}
    return {}


def test_the_table_is_exactly_the_policys() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == EXPECTED
    assert set(TRANSITIONS) == set(S)
    assert set(FINAL_STATUSES) == {S.DISCONTINUED}


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL, ids=[f"{a}-{b}" for a, b in ILLEGAL])
def test_can_transition_refuses_every_pair_outside_the_table(from_status: S, to_status: S) -> None:
    assert not can_transition(from_status, to_status)


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED, ids=[f"{a}-{b}" for a, b in ALLOWED])
def test_each_allowed_transition_is_recorded_and_audited(
    db_session: Session, from_status: S, to_status: S
) -> None:
    referral = _referral(db_session, from_status)
    change = transition(db_session, referral, to_status, actor="coordinator@plan.org", on_date=ON,
                        **_reason_for(to_status))
    assert referral.status is to_status
    assert (change.from_status, change.to_status, change.on_date, change.actor) == (
        from_status, to_status, ON, "coordinator@plan.org")
    event = db_session.scalars(sa.select(AuditEvent).where(
        AuditEvent.entity_type == "referral", AuditEvent.entity_id == referral.id)).one()
    assert event.action == "referral.transition" and event.actor == "coordinator@plan.org"
    assert event.details["from"] == from_status.value and event.details["to"] == to_status.value
    assert event.details["on_date"] == ON.isoformat()


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [(S.SENT, S.IN_SERVICE), (S.RECEIVED, S.SENT), (S.READY, S.ACCEPTED), (S.ACCEPTED, S.READY),
     (S.IN_SERVICE, S.READY), (S.DISCONTINUED, S.READY), (S.DISCONTINUED, S.RECEIVED), (S.PROPOSED, S.PROPOSED)],
)
def test_illegal_transition_is_refused_and_writes_nothing(db_session: Session, from_status: S, to_status: S) -> None:
    referral = _referral(db_session, from_status)
    with pytest.raises(IllegalTransition, match=rf"^referral '{referral.id}' cannot go from "
                                                rf"{from_status.value} to {to_status.value}"):
        transition(db_session, referral, to_status, actor="c", on_date=ON, **_reason_for(to_status))
    assert referral.status is from_status
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ReferralStatusChange)) == 0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_illegal_transition_message_reads_as_the_policy_says(db_session: Session) -> None:
    referral = _referral(db_session, S.SENT, id="R000123")
    with pytest.raises(IllegalTransition) as info:
        transition(db_session, referral, S.IN_SERVICE, actor="c", on_date=ON)
    assert str(info.value).startswith("referral 'R000123' cannot go from SENT to IN_SERVICE (allowed: ")


def test_information_is_requested_only_once(db_session: Session) -> None:
    referral = _referral(db_session)
    # e.g. an imported referral back at RECEIVED whose history shows the one attempt
    referral.history.append(ReferralStatusChange(from_status=S.RECEIVED, to_status=S.INFO_REQUESTED, on_date=ON,
                                                 actor="import"))
    db_session.flush()
    with pytest.raises(IllegalTransition, match=r"already requested once \(7003 VI.C.6\)"):
        transition(db_session, referral, S.INFO_REQUESTED, actor="c", on_date=ON)


def test_full_life_cycle_keeps_its_history_in_order(db_session: Session) -> None:
    referral = _referral(db_session)
    steps = [S.INFO_REQUESTED, S.READY, S.PROPOSED, S.SENT, S.DECLINED, S.PROPOSED, S.SENT, S.ACCEPTED, S.ENGAGED,
             S.TAR_SUBMITTED, S.AUTHORIZED, S.IN_SERVICE, S.DISCONTINUED]
    for i, step in enumerate(steps):
        transition(db_session, referral, step, actor="c", on_date=ON + dt.timedelta(days=i), **_reason_for(step))
    assert [c.to_status for c in referral.history] == steps
    assert referral.history[-1].reason_code == "02"


@pytest.mark.parametrize(
    ("reason_code", "reason", "message"),
    [
        (None, "", r"discontinuing needs a reason_code \(7003 VI.D\): 01 goals met"),
        ("10", "", r"'10' is not a discontinuation reason"),
        ("99", "", r"reason 99 \(other\) needs the reason in words"),
        ("99", "   ", r"reason 99 \(other\) needs the reason in words"),
    ],
)
def test_discontinuation_needs_one_of_the_policys_reasons(
    db_session: Session, reason_code: str | None, reason: str, message: str
) -> None:
    referral = _referral(db_session, S.IN_SERVICE)
    with pytest.raises(ReasonRequired, match=message):
        transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=ON, reason=reason,
                   reason_code=reason_code)
    assert referral.status is S.IN_SERVICE


@pytest.mark.parametrize("code", ["01", "02", "04", "05", "06", "07", "08"])
def test_each_policy_reason_discontinues(db_session: Session, code: str) -> None:
    referral = _referral(db_session, S.ACCEPTED)
    change = transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=ON, reason_code=code)
    assert change.reason_code == code and referral.status is S.DISCONTINUED


def test_other_reason_with_text_discontinues(db_session: Session) -> None:
    referral = _referral(db_session, S.ACCEPTED)
    change = transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=ON, reason_code="99",
                        reason="member entered a long-term program")
    assert (change.reason_code, change.reason) == ("99", "member entered a long-term program")


@pytest.mark.parametrize(("attempts", "allowed"), [(0, False), (2, False), (3, True), (4, True)])
def test_unresponsive_needs_three_outreach_attempts(db_session: Session, attempts: int, allowed: bool) -> None:
    referral = _referral(db_session, S.ACCEPTED)
    for i in range(attempts):
        record_outreach_attempt(db_session, referral, actor="provider", on_date=ON + dt.timedelta(days=i),
                                note=f"phone call {i + 1}")
    assert outreach_attempts(db_session, referral.id) == attempts
    on = ON + dt.timedelta(days=7)
    if allowed:
        transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=on, reason_code="03")
        assert referral.status is S.DISCONTINUED
    else:
        with pytest.raises(IllegalTransition, match=rf"at least 3 outreach attempts, {attempts} recorded"):
            transition(db_session, referral, S.DISCONTINUED, actor="c", on_date=on, reason_code="03")


def test_outreach_and_updates_are_notes_not_status_changes(db_session: Session) -> None:
    referral = _referral(db_session, S.ACCEPTED)
    outreach = record_outreach_attempt(db_session, referral, actor="provider", on_date=ON)
    update = record_provider_update(db_session, referral, actor="provider", on_date=ON, note="left voicemail")
    assert referral.status is S.ACCEPTED
    assert not is_status_change(outreach) and not is_status_change(update)
    assert (update.from_status, update.to_status, update.reason_code) == (S.ACCEPTED, S.ACCEPTED, "PROVIDER_UPDATE")
    actions = set(db_session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == referral.id)))
    assert actions == {"referral.outreach_attempt", "referral.provider_update"}


def test_nothing_is_recorded_on_a_discontinued_referral(db_session: Session) -> None:
    referral = _referral(db_session, S.DISCONTINUED)
    with pytest.raises(LifecycleError, match="is DISCONTINUED: nothing more to record"):
        record_outreach_attempt(db_session, referral, actor="provider", on_date=ON)


@pytest.mark.parametrize(
    ("reason_code", "reason", "error", "message"),
    [
        (None, "", ReasonRequired, "declining needs a reason_code"),
        ("BUSY", "", ReasonRequired, "'BUSY' is not a decline reason"),
        ("OTHER", "", ReasonRequired, "decline reason OTHER needs the reason in words"),
    ],
)
def test_decline_needs_a_decline_reason(
    db_session: Session, reason_code: str | None, reason: str, error: type[Exception], message: str
) -> None:
    referral = _referral(db_session, S.SENT)
    with pytest.raises(error, match=message):
        transition(db_session, referral, S.DECLINED, actor="provider", on_date=ON, reason=reason,
                   reason_code=reason_code)


def test_dates_may_not_go_backwards(db_session: Session) -> None:
    referral = _referral(db_session)
    with pytest.raises(IllegalTransition, match="on_date 2026-11-01 is before receipt on 2026-11-02"):
        transition(db_session, referral, S.READY, actor="c", on_date=dt.date(2026, 11, 1))
    transition(db_session, referral, S.READY, actor="c", on_date=ON)
    with pytest.raises(IllegalTransition, match="on_date 2026-11-04 is before the previous step on 2026-11-05"):
        transition(db_session, referral, S.PROPOSED, actor="c", on_date=dt.date(2026, 11, 4))


def test_actor_is_required(db_session: Session) -> None:
    referral = _referral(db_session)
    with pytest.raises(ValueError, match="actor"):
        transition(db_session, referral, S.READY, actor=" ", on_date=ON)


def test_status_given_as_text_is_accepted(db_session: Session) -> None:
    referral = _referral(db_session)
    transition(db_session, referral, "READY", actor="c", on_date=ON)
    assert referral.status is S.READY


def test_a_stale_object_is_judged_by_the_stored_status(db_session: Session) -> None:
    referral = _referral(db_session, S.SENT)
    # another transaction already moved it on
    db_session.execute(sa.update(Referral).where(Referral.id == referral.id).values(status=S.ACCEPTED)
                       .execution_options(synchronize_session=False))
    assert referral.status is S.SENT
    with pytest.raises(IllegalTransition, match="cannot go from ACCEPTED to DECLINED"):
        transition(db_session, referral, S.DECLINED, actor="provider", on_date=ON, reason_code="AT_CAPACITY")


def test_discontinuing_ends_the_assignment_and_frees_its_units(db_session: Session) -> None:
    """Committed units come from active assignments: closing the referral must give the room back."""
    from capacity.ledger import committed_units
    from placement.models import Assignment, AssignmentStatus
    from referrals.lifecycle import transition
    from tests.factories import make_contract, make_member, make_provider, make_referral

    provider = make_provider(db_session)
    contract = make_contract(db_session, provider, capacity=3)
    referral = make_referral(db_session, make_member(db_session), status=ReferralStatus.ACCEPTED,
                             received_date=dt.date(2026, 11, 2))
    db_session.add(Assignment(referral_id=referral.id, provider_id=provider.id, site_id=f"{provider.id}-S1",
                              contract_id=contract.id, units=2, status=AssignmentStatus.ACCEPTED))
    db_session.flush()
    assert committed_units(db_session, contract.id) == 2
    transition(db_session, referral, ReferralStatus.DISCONTINUED, actor="lead@plan.org",
               on_date=dt.date(2026, 11, 20), reason_code="02")
    assert committed_units(db_session, contract.id) == 0
    assert db_session.scalars(sa.select(Assignment.status)).one() is AssignmentStatus.ENDED
