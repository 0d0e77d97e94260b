"""CS-RTF import (7003 VI.H.4; data-exchange.md §3-§4): all or nothing, idempotent, and the round trip
CS-ASF out -> provider's answers -> CS-RTF in."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from capacity.models import CapacityReport, CapacityReportKind
from csmatch.db import make_engine
from csmatch.models import AuditEvent
from exchange.asf import auth_number, export_asf
from exchange.errors import RosterError
from exchange.rtf import RTF_COLUMNS, RtfImportError, import_rtf, rtf_file_name, validate_rtf
from placement.models import Assignment, AssignmentStatus, SolverRun
from placement.services import active_assignment
from referrals.lifecycle import outreach_attempts, record_outreach_attempt
from referrals.models import Referral, ReferralStatus, ReferralStatusChange
from tests.exchange.test_asf import PLAN, make_cli_db, placed, provider_with_contract, run, valid_npi
from tests.factories import make_assignment, make_contract

TODAY = dt.date(2026, 11, 25)
ACTOR = "rtf@plan.org"


# The provider's side: filling in an RTF ------------------------------------------------------------


def rtf_row(a: Assignment, **answers: object) -> dict[str, str]:
    """An RTF row about assignment ``a``, as its provider would send it, with ``answers`` filled in."""
    member, provider = a.referral.member, a.provider
    row = dict.fromkeys(RTF_COLUMNS, "")
    row |= {
        "mcp_id": "PHC", "mcp_name": PLAN["plan_name"], "cin": member.cin, "last_name": member.last_name,
        "first_name": member.first_name, "dob": member.dob.isoformat(), "new_address_ind": "N",
        "homeless_ind": "N", "new_phone_ind": "N", "cs_service": a.referral.service_key, "hcpcs": "H0043",
        "modifier": "U6", "auth_number": auth_number(a.id), "referral_status": "PENDING",
        "referral_status_date": "2026-11-20", "file_date": "2026-11-25", "reporting_period": "202611",
        "provider_name": provider.name, "provider_npi": provider.npi, "provider_tin": provider.tin,
    }
    row |= {k: str(v) for k, v in answers.items()}
    return row


def write_rtf(directory: Path, rows: list[dict[str, str]], npi: str) -> Path:
    path = directory / rtf_file_name(npi, "PHC", "202611")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RTF_COLUMNS), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def answer_asf(asf: Path, directory: Path, answers: dict[str, dict[str, str]]) -> Path:
    """The provider's reply to a CS-ASF: each listed member's row carried over, with its answers."""
    with open(asf, newline="", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    carried = ("mcp_id", "mcp_name", "cin", "last_name", "first_name", "dob", "homeless_ind", "address", "city",
               "state", "zip", "phone", "cs_service", "hcpcs", "modifier", "auth_number", "provider_name",
               "provider_npi", "provider_tin", "reporting_period")
    rows = []
    for item in listed:
        row = dict.fromkeys(RTF_COLUMNS, "") | {c: item[c] for c in carried}
        row |= {"new_address_ind": "N", "new_phone_ind": "N", "file_date": "2026-11-28"}
        rows.append(row | answers[item["cin"]])
    return write_rtf(directory, rows, listed[0]["provider_npi"])


# The plan's side --------------------------------------------------------------------------------------


@pytest.fixture
def intake(db_session: Session) -> dict[str, Assignment]:
    """Provider X11's month: A-D sent and unanswered, E accepted, F moved away; X12 has room too."""
    _, contract = provider_with_contract(db_session, 11)
    provider_with_contract(db_session, 12)
    s, a = ReferralStatus, AssignmentStatus
    cases = {name: placed(db_session, contract, a.SENT, s.SENT) for name in "ABCD"}
    cases["E"] = placed(db_session, contract, a.ACCEPTED, s.ACCEPTED, answered_on=dt.date(2026, 11, 6))
    cases["F"] = placed(db_session, contract, a.SUPERSEDED, s.PROPOSED)
    for assignment in cases.values():
        assignment.referral.received_date = dt.date(2026, 11, 2)
    db_session.flush()
    return cases


def state(session: Session) -> dict[str, Any]:
    """Everything an RTF import may change."""
    session.expire_all()

    def count(model: type) -> int:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0

    return {
        "assignments": session.execute(sa.select(Assignment.id, Assignment.status).order_by(Assignment.id)).all(),
        "referrals": session.execute(sa.select(Referral.id, Referral.status).order_by(Referral.id)).all(),
        "history": count(ReferralStatusChange),
        "capacity_reports": count(CapacityReport),
        "solver_runs": count(SolverRun),
    }


def audits(session: Session) -> list[AuditEvent]:
    return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "exchange.rtf_import")))


def test_import_applies_acceptance_decline_closure_outreach_and_capacity(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    a, b, c, d = (intake[k] for k in "ABCD")
    path = write_rtf(tmp_path, [
        rtf_row(a, referral_status="ACCEPTED", outreach_attempts=1, last_outreach_date="2026-11-21",
                members_able_to_serve=4),
        rtf_row(b, referral_status="DECLINED", decline_reason="NOT_ELIGIBLE", loop_closure_reason="NOT_ELIGIBLE"),
        rtf_row(c, referral_status="CLOSED", discontinuation_reason_code="3", outreach_attempts=3,
                last_outreach_date="2026-11-18", discontinuation_date="2026-11-22",
                loop_closure_reason="UNABLE_TO_CONTACT"),
        rtf_row(d, referral_status="PENDING", outreach_attempts=2, last_outreach_date="2026-11-19"),
    ], a.provider.npi)
    summary = import_rtf(db_session, path, actor=ACTOR, today=TODAY)

    assert (summary.accepted, summary.declined, summary.closed) == ([a.referral_id], [b.referral_id], [c.referral_id])
    assert (summary.pending, summary.unchanged, summary.outreach_attempts) == (1, 0, 6)
    db_session.expire_all()
    assert a.status is AssignmentStatus.ACCEPTED and a.referral.status is ReferralStatus.ACCEPTED
    assert a.answered_on == dt.date(2026, 11, 20)
    assert b.status is AssignmentStatus.DECLINED and b.decline_reason == "NOT_ELIGIBLE"
    moved = active_assignment(db_session, b.referral_id)  # re-referred at once (7003 VI.C.3.c)
    assert moved is not None and moved.provider_id == "PRV-X12"
    assert c.status is AssignmentStatus.ENDED and c.referral.status is ReferralStatus.DISCONTINUED
    closing = c.referral.history[-1]
    assert (closing.reason_code, closing.on_date) == ("03", dt.date(2026, 11, 22))
    assert "UNABLE_TO_CONTACT" in closing.reason
    assert d.status is AssignmentStatus.SENT and outreach_attempts(db_session, d.referral_id) == 2
    report = db_session.scalars(sa.select(CapacityReport)).one()
    assert (report.kind, report.new_capacity, report.contract_id) == (CapacityReportKind.NEW_CAPACITY, 4, a.contract_id)
    assert summary.re_solved == [a.contract_id]  # 5 -> 4 changes what is open: re-solved at once
    (event,) = audits(db_session)
    assert (event.entity_id, event.actor, event.details["rows"]) == (path.name, ACTOR, 4)
    assert len(event.details["sha256"]) == 64


def test_decline_at_capacity_reports_full_and_never_moves_what_the_file_accepted(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    a, d = intake["A"], intake["D"]
    # the decline comes first in the file; acceptances are applied before any re-solve
    path = write_rtf(tmp_path, [
        rtf_row(d, referral_status="DECLINED", decline_reason="AT_CAPACITY"),
        rtf_row(a, referral_status="ACCEPTED"),
    ], a.provider.npi)
    summary = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert summary.declined == [d.referral_id] and summary.accepted == [a.referral_id]
    db_session.expire_all()
    assert a.status is AssignmentStatus.ACCEPTED
    full = db_session.scalars(sa.select(CapacityReport)).one()
    assert (full.kind, full.contract_id) == (CapacityReportKind.FULL, d.contract_id)
    moved = active_assignment(db_session, d.referral_id)
    assert moved is not None and moved.provider_id == "PRV-X12"


def test_importing_the_same_file_twice_changes_nothing_the_second_time(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    a, b, c, e = (intake[k] for k in "ABCE")
    path = write_rtf(tmp_path, [
        rtf_row(a, referral_status="ACCEPTED", outreach_attempts=2, members_able_to_serve=6),
        rtf_row(b, referral_status="DECLINED", decline_reason="OUT_OF_AREA"),
        rtf_row(c, referral_status="CLOSED", discontinuation_reason_code="99",
                discontinuation_reason="member moved in with family out of state"),
        rtf_row(e, referral_status="ACCEPTED"),
    ], a.provider.npi)
    first = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert first.changed and first.unchanged == 1  # E was accepted before the file
    after_first = state(db_session)

    second = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert not second.changed
    assert (second.unchanged, second.outreach_attempts, second.capacity_reports) == (4, 0, [])
    assert state(db_session) == after_first
    assert len(audits(db_session)) == 2  # each import is audited, even one that changes nothing


# Every bad row is reported by line and column, and nothing is applied --------------------------------

BAD_ROWS = [
    # (target, row answers, column, message fragment); "{X.cin}" and "{Q.npi}" are filled in from the fixture
    ("B", {"referral_status_date": "11/31/2026"}, "referral_status_date", "'11/31/2026' is not a valid date"),
    ("B", {"cin": "12345"}, "cin", "'12345' is not a Medi-Cal CIN"),
    ("B", {"cin": "99999999Z"}, "cin", "no member has CIN 99999999Z"),
    ("B", {"auth_number": "CSA-999999"}, "auth_number", "no authorization CSA-999999"),
    ("B", {"auth_number": "AUTH1"}, "auth_number", "'AUTH1' is not a csmatch authorization number"),
    ("B", {"cin": "{C.cin}"}, "auth_number", "is not for the member with CIN"),
    ("A", {"referral_status": "ACCEPTED"}, "auth_number", "is also on line 2"),
    ("B", {"provider_npi": "{Q.npi}"}, "provider_npi", "is not the file's provider"),
    ("B", {"provider_npi": "1234567890"}, "provider_npi", "'1234567890' is not an NPI"),
    ("B", {"referral_status": "MAYBE"}, "referral_status", "'MAYBE' is not one of PENDING, ACCEPTED, DECLINED, CLOSED"),
    ("E", {"referral_status": "PENDING"}, "referral_status", "is ACCEPTED: the provider accepted it on 2026-11-06"),
    ("E", {"referral_status": "DECLINED", "decline_reason": "AT_CAPACITY"}, "referral_status",
     "cannot be declined now; to stop serving the member send CLOSED with discontinuation code 08"),
    ("F", {"referral_status": "ACCEPTED"}, "referral_status",
     "is SUPERSEDED: the referral was moved to another provider; it cannot be accepted"),
    ("B", {"referral_status": "DECLINED"}, "decline_reason", "a DECLINED row needs a decline reason"),
    ("B", {"referral_status": "DECLINED", "decline_reason": "OTHER"}, "discontinuation_reason",
     "decline reason OTHER needs the reason in words"),
    ("B", {"referral_status": "ACCEPTED", "decline_reason": "OTHER"}, "decline_reason",
     "given with referral_status ACCEPTED: only a DECLINED row has one"),
    ("E", {"referral_status": "CLOSED"}, "discontinuation_reason_code",
     "a CLOSED row needs a discontinuation reason code (7003 VI.D): 01 goals met"),
    ("E", {"referral_status": "CLOSED", "discontinuation_reason_code": "42"}, "discontinuation_reason_code",
     "'42' is not a discontinuation reason code"),
    ("E", {"referral_status": "CLOSED", "discontinuation_reason_code": "99"}, "discontinuation_reason",
     "code 99 (other) needs the reason in words"),
    ("E", {"referral_status": "CLOSED", "discontinuation_reason_code": "03", "outreach_attempts": "2"},
     "discontinuation_reason_code",
     "03 (unresponsive) needs at least 3 outreach attempts (7003 VI.D.1.c): 2 in outreach_attempts, 0 recorded"),
    ("B", {"referral_status": "ACCEPTED", "referral_status_date": "2026-10-30"}, "referral_status_date",
     "2026-10-30 is before the referral was received on 2026-11-02"),
    ("B", {"referral_status": "ACCEPTED", "referral_status_date": "2026-11-27"}, "referral_status_date",
     "2026-11-27 is after the file date 2026-11-25"),
    ("B", {"cs_service": "MEALS"}, "cs_service", "is for HOUSING_NAV, not MEALS"),
    ("B", {"hcpcs": "S5170", "modifier": "U6"}, "hcpcs", "S5170-U6 is not a code of HOUSING_NAV"),
    ("B", {"outreach_attempts": "-1"}, "outreach_attempts", "'-1': outreach attempts cannot be below zero"),
    ("B", {"members_able_to_serve": "6"}, "members_able_to_serve", "6 differs from 4 on line 2 for contract"),
]


@pytest.mark.parametrize(("target", "answers", "column", "message"), BAD_ROWS,
                         ids=[f"{column}:{message[:40]}" for _, _, column, message in BAD_ROWS])
def test_each_bad_row_is_reported_by_line_and_column_and_nothing_is_applied(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
    target: str, answers: dict[str, str], column: str, message: str,
) -> None:
    a = intake["A"]
    fill = {"C.cin": intake["C"].referral.member.cin, "Q.npi": valid_npi(12)}
    answers = {k: fill[v[1:-1]] if v.startswith("{") else v for k, v in answers.items()}
    path = write_rtf(tmp_path, [
        rtf_row(a, referral_status="ACCEPTED", outreach_attempts=1, members_able_to_serve=4),  # line 2: good
        rtf_row(intake[target], **answers),  # line 3: bad
    ], a.provider.npi)
    before = state(db_session)

    with pytest.raises(RtfImportError) as caught:
        import_rtf(db_session, path, actor=ACTOR, today=TODAY)

    errors = caught.value.errors
    assert [(e.file, e.line, e.field) for e in errors] == [(path.name, 3, column)], errors
    assert message in errors[0].message
    assert state(db_session) == before
    assert audits(db_session) == []


@pytest.mark.parametrize(
    ("recorded", "in_file", "allowed"),
    [(0, "3", True), (0, "2", False), (0, "", False), (3, "", True), (2, "1", False), (2, "3", True)],
)
def test_unresponsive_closure_needs_three_attempts_recorded_or_in_the_file(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path, recorded: int, in_file: str, allowed: bool,
) -> None:
    e = intake["E"]
    for _ in range(recorded):
        record_outreach_attempt(db_session, e.referral, actor="cm@provider.org", on_date=dt.date(2026, 11, 10))
    path = write_rtf(tmp_path, [rtf_row(e, referral_status="CLOSED", discontinuation_reason_code="03",
                                        outreach_attempts=in_file)], e.provider.npi)
    if not allowed:
        with pytest.raises(RtfImportError, match=r"03 \(unresponsive\) needs at least 3 outreach attempts"):
            import_rtf(db_session, path, actor=ACTOR, today=TODAY)
        return
    summary = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert summary.closed == [e.referral_id]
    assert outreach_attempts(db_session, e.referral_id) == max(recorded, int(in_file or 0))


def test_members_able_to_serve_is_ignored_for_a_service_that_does_not_count_members(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    a = intake["A"]
    respite = make_contract(db_session, a.provider, service="RESPITE", capacity=40)  # counts hours
    r = placed(db_session, respite, AssignmentStatus.ACCEPTED, ReferralStatus.ACCEPTED,
               answered_on=dt.date(2026, 11, 6))
    path = write_rtf(tmp_path, [rtf_row(r, referral_status="ACCEPTED", cs_service="RESPITE", hcpcs="S5151",
                                        members_able_to_serve=3)], a.provider.npi)
    summary = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert summary.capacity_reports == []
    assert [(w.line, w.field) for w in summary.warnings] == [(2, "members_able_to_serve")]
    assert "counts HOUR, not members" in summary.warnings[0].message


def test_every_problem_in_a_file_is_reported_at_once(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    path = write_rtf(tmp_path, [
        rtf_row(intake["A"], referral_status="DECLINED"),
        rtf_row(intake["B"], referral_status="CLOSED", discontinuation_reason_code="99", cin="1"),
        rtf_row(intake["C"], referral_status_date="yesterday", auth_number="CSA-0"),
    ], intake["A"].provider.npi)
    with pytest.raises(RtfImportError) as caught:
        import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (2, "decline_reason"), (3, "cin"), (4, "auth_number"), (4, "referral_status_date"),
    ]
    assert str(caught.value).splitlines()[0].startswith(f"{path.name}:2: decline_reason: a DECLINED row needs")


def test_a_file_missing_a_required_column_is_rejected_at_its_header(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    path = tmp_path / "reply.csv"
    path.write_text("cin,auth_number,referral_status\r\n90000001A,CSA-1,ACCEPTED\r\n", encoding="utf-8")
    with pytest.raises(RtfImportError) as caught:
        validate_rtf(db_session, path, today=TODAY)
    assert caught.value.errors == [
        RosterError("reply.csv", 1, "provider_npi", "required column is missing"),
        RosterError("reply.csv", 1, "referral_status_date", "required column is missing"),
    ]


def test_a_rows_plan_must_be_the_importing_plan_when_given(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    path = write_rtf(tmp_path, [rtf_row(intake["A"], mcp_id="OTHERPLAN")], intake["A"].provider.npi)
    with pytest.raises(RtfImportError, match=r":2: mcp_id: 'OTHERPLAN' is not this plan \('PHC'\)"):
        import_rtf(db_session, path, actor=ACTOR, plan_id="PHC", today=TODAY)


# The round trip --------------------------------------------------------------------------------------


def test_asf_export_then_rtf_import_round_trip(db_session: Session, tmp_path: Path) -> None:
    provider, contract = provider_with_contract(db_session, 21, capacity=5)
    provider_with_contract(db_session, 22)
    s, st = AssignmentStatus, ReferralStatus
    sent = [placed(db_session, contract, s.SENT, st.SENT) for _ in range(3)]
    accepted = placed(db_session, contract, s.ACCEPTED, st.ACCEPTED, answered_on=dt.date(2026, 11, 6))
    asf = export_asf(db_session, provider.id, "202611", tmp_path, file_date=TODAY, **PLAN)

    cin = {a.id: a.referral.member.cin for a in [*sent, accepted]}
    answers = {
        cin[sent[0].id]: {"referral_status": "ACCEPTED", "referral_status_date": "2026-11-26"},
        cin[sent[1].id]: {"referral_status": "DECLINED", "referral_status_date": "2026-11-26",
                          "decline_reason": "OUT_OF_AREA"},
        cin[sent[2].id]: {"referral_status": "PENDING", "referral_status_date": "2026-11-26",
                          "outreach_attempts": "2", "last_outreach_date": "2026-11-27"},
        cin[accepted.id]: {"referral_status": "CLOSED", "referral_status_date": "2026-11-27",
                           "discontinuation_reason_code": "01", "loop_closure_reason": "SERVICES_RECEIVED",
                           "members_able_to_serve": "5"},
    }
    rtf = answer_asf(asf, tmp_path, answers)
    summary = import_rtf(db_session, rtf, actor=ACTOR, plan_id="PHC", today=dt.date(2026, 11, 28))

    assert summary.rows == 4 and summary.capacity_reports == []  # 5 is the capacity in force
    db_session.expire_all()
    assert (sent[0].status, sent[0].referral.status) == (s.ACCEPTED, st.ACCEPTED)
    assert (sent[1].status, sent[1].decline_reason) == (s.DECLINED, "OUT_OF_AREA")
    assert active_assignment(db_session, sent[1].referral_id).provider_id == "PRV-X22"  # type: ignore[union-attr]
    assert sent[2].status is s.SENT and outreach_attempts(db_session, sent[2].referral_id) == 2
    assert (accepted.status, accepted.referral.status) == (s.ENDED, st.DISCONTINUED)
    assert accepted.referral.history[-1].reason_code == "01"

    # next month's file lists the accepted member and the one still in outreach, not the closed one
    december = export_asf(db_session, provider.id, "202612", tmp_path / "dec", file_date=dt.date(2026, 12, 1), **PLAN)
    with open(december, newline="", encoding="utf-8") as handle:
        listed = {(r["auth_number"], r["record_type"]) for r in csv.DictReader(handle)}
    assert listed == {(auth_number(sent[0].id), "AUTHORIZED"), (auth_number(sent[2].id), "OUTREACH")}


def test_an_authorization_moved_by_an_earlier_rows_re_solve_is_skipped_with_a_warning(
    db_session: Session, intake: dict[str, Assignment], tmp_path: Path,
) -> None:
    b, d = intake["B"], intake["D"]
    path = write_rtf(tmp_path, [
        rtf_row(d, referral_status="DECLINED", decline_reason="AT_CAPACITY"),
        rtf_row(b, referral_status="DECLINED", decline_reason="AT_CAPACITY"),
    ], d.provider.npi)
    summary = import_rtf(db_session, path, actor=ACTOR, today=TODAY)
    # the first decline re-solves the provider's unanswered referrals, B among them, away from it
    assert summary.declined == [d.referral_id]
    assert [(w.line, w.field) for w in summary.warnings] == [(3, "referral_status")]
    assert "already moved by the re-solve" in summary.warnings[0].message


def test_a_new_assignment_after_a_decline_gets_its_own_authorization_number(
    db_session: Session, intake: dict[str, Assignment],
) -> None:
    # guards the derived authorization number (CSA-<assignment id>): a re-referral is a new number
    b = intake["B"]
    again = make_assignment(db_session, b.referral, intake["A"].contract, status=AssignmentStatus.WITHDRAWN)
    assert auth_number(again.id) != auth_number(b.id)


# The command line --------------------------------------------------------------------------------------


def _cli_state(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return state(session)
    finally:
        engine.dispose()


def test_cli_rtf_applies_the_providers_answers_to_its_asf(tmp_path: Path) -> None:
    url = make_cli_db(tmp_path)
    code, output = run(url, "exchange", "asf", "--provider", "PRV-X41", "--period", "202611",
                       "--out", str(tmp_path), "--file-date", "2026-11-25")
    assert code == 0, output
    asf = tmp_path / f"CSASF_PHC_{valid_npi(41)}_202611.csv"
    with open(asf, newline="", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    answers = {r["cin"]: {"referral_status": "ACCEPTED",
                          "referral_status_date": "2026-11-26"} for r in listed}
    rtf = answer_asf(asf, tmp_path, answers)

    code, output = run(url, "exchange", "rtf", str(rtf), "--plan-id", "PHC")
    assert code == 0, output
    assert output.splitlines()[0] == (
        f"{rtf.name}: 3 rows applied: 2 accepted, 0 declined, 0 closed, 0 pending, 1 already applied; "
        "0 outreach attempts recorded; 0 capacity reports."
    )
    assert {status for _, status in _cli_state(url)["assignments"]} == {AssignmentStatus.ACCEPTED}

    code, output = run(url, "exchange", "rtf", str(rtf))
    assert code == 0 and "Nothing changed (the file was already applied)." in output


def test_cli_rtf_rejects_a_bad_file_lists_every_error_and_applies_nothing(tmp_path: Path) -> None:
    url = make_cli_db(tmp_path)
    run(url, "exchange", "asf", "--provider", "PRV-X41", "--period", "202611", "--out", str(tmp_path),
        "--file-date", "2026-11-25")
    asf = tmp_path / f"CSASF_PHC_{valid_npi(41)}_202611.csv"
    with open(asf, newline="", encoding="utf-8") as handle:
        cins = [r["cin"] for r in csv.DictReader(handle)]
    rtf = answer_asf(asf, tmp_path, {
        cins[0]: {"referral_status": "ACCEPTED", "referral_status_date": "2026-11-26"},
        cins[1]: {"referral_status": "DECLINED", "referral_status_date": "2026-11-26"},
        cins[2]: {"referral_status": "CLOSED", "referral_status_date": "2026-11-26",
                  "discontinuation_reason_code": "99"},
    })
    before = _cli_state(url)

    code, output = run(url, "exchange", "rtf", str(rtf))

    assert code == 1
    lines = output.splitlines()
    assert lines[0] == "CS-RTF rejected, nothing was applied: 2 error(s)."
    assert lines[1].startswith(f"{rtf.name}:3: decline_reason: a DECLINED row needs a decline reason")
    assert lines[2] == f"{rtf.name}:4: discontinuation_reason: code 99 (other) needs the reason in words"
    assert _cli_state(url) == before
