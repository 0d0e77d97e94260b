"""Input records: bad input raises ProblemError naming the record; no protected attribute exists."""

from __future__ import annotations

import dataclasses
import re

import pytest
from factories import data, referral, site

from matcher import ContractPool, MatchData, ProblemError, ReferralDemand, ServiceSite
from matcher.errors import MatcherError

PROTECTED = {"race", "ethnicity", "ethnic", "sex", "gender", "age", "dob", "birth", "birthdate"}


@pytest.mark.parametrize("record", [ReferralDemand, ServiceSite, ContractPool, MatchData])
def test_inputs_have_no_protected_attribute(record: type) -> None:
    names = [f.name for f in dataclasses.fields(record)]
    assert names and not [n for n in names if PROTECTED & set(n.lower().split("_"))]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: site(remaining_units=-1), "site 'S1' has negative remaining capacity -1"),
        (lambda: ContractPool("C1", "P1", "RESPITE", -2), "contract 'C1' has negative remaining capacity -2"),
        (lambda: referral(units=0), "referral 'R1' needs 0 units"),
        (lambda: referral(latitude=float("nan")), "referral 'R1' has a non-finite location"),
        (lambda: site(longitude=200.0), "site 'S1' has an out-of-range location"),
        (lambda: referral(accepted=True), "referral 'R1' is accepted but has no current_site"),
        (lambda: referral(preferred_providers=("P1", "P1")), "referral 'R1' ranks a provider twice"),
        (lambda: data([referral(), referral()], [site()]), "duplicate referral id 'R1'"),
        (lambda: data([], [site(), site()]), "duplicate site id 'S1'"),
        (lambda: data([], [site()], []), "site 'S1' names unknown contract 'C-P-S1'"),
        (lambda: data([], [site()], [ContractPool("C-P-S1", "P-S1", "MEALS", 1)]), "does not match its contract"),
        (lambda: data([referral(current_site="S9")], [site()]), "referral 'R1' names unknown current site 'S9'"),
    ],
)
def test_bad_record_raises_problem_error_naming_it(make: object, message: str) -> None:
    with pytest.raises(ProblemError, match=re.escape(message)):
        make()  # type: ignore[operator]


def test_problem_error_is_a_matcher_error_and_a_value_error() -> None:
    assert issubclass(ProblemError, MatcherError) and issubclass(ProblemError, ValueError)


def test_lists_are_frozen_into_tuples_and_sets() -> None:
    r = referral(languages=["Spanish"], excluded_providers={"P1"})  # type: ignore[arg-type]
    assert r.languages == ("Spanish",) and r.excluded_providers == frozenset({"P1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.units = 2  # type: ignore[misc]
