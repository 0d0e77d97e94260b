"""The equity, utilization and referral pages and their CSV downloads (7003 VI.B.4, VI.I.1).

The figures are those of the small plan of ``tests/reports/conftest.py`` (worked out there), seen
through the pages; the four-fifths flag on a crafted population; each download is what
``csmatch report ...`` writes for the same data, byte for byte.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from csmatch.models import AuditEvent
from placement.models import Assignment, RunTrigger, SolverRun, UnplacedReferral
from providers.models import Provider
from referrals.models import Member, MemberDemographics, Referral, ReferralSource
from reports.cli import write_csv
from reports.equity import FLAG_COLUMNS, MEASURE_COLUMNS, equity_report
from reports.fourfifths import GroupCount, compare_two
from reports.oversight import REFERRAL_COLUMNS, UTILIZATION_COLUMNS, referral_events, utilization
from tests.conftest import AuthActions, make_user
from tests.factories import PLACES, ensure_service, make_contract, make_provider
from tests.reports.conftest import Q4, SmallPlan, add_sent_referral, build_small_plan
from tests.web.conftest import small_plan_app
from web.charts import grouped_bar_chart, hbar_chart

SVG = "{http://www.w3.org/2000/svg}"
PAGES = ("/reports/equity", "/reports/utilization", "/reports/referrals")
DOWNLOADS = ("/reports/equity.csv", "/reports/equity_flags.csv", "/reports/utilization.csv", "/reports/referrals.csv")


class _Tables(HTMLParser):
    """The text of every cell of every ``<table id=...>``, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def rows_by_first_cell(html: str, table: str) -> dict[str, list[str]]:
    """Body rows of ``table`` keyed by their first cell (the header row left out)."""
    return {row[0]: row[1:] for row in tables(html)[table][1:]}


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(found) for found in re.findall(r"<svg .*?</svg>", html, flags=re.S)]


def web_events(db_session: Session) -> list[AuditEvent]:
    db_session.expire_all()
    return list(db_session.scalars(sa.select(AuditEvent).where(AuditEvent.action.like("web.%"))
                                   .order_by(AuditEvent.id)))


def provider_name(db_session: Session, provider_id: str) -> str:
    return str(db_session.get(Provider, provider_id).name)  # type: ignore[union-attr]


@pytest.fixture
def small_plan(db_session: Session) -> SmallPlan:
    return build_small_plan(db_session)


# (race/ethnicity, referrals, placed): B is placed far less often than A; C is tiny
CRAFTED = [("A", 30, 30), ("B", 30, 10), ("C", 2, 1)]


@pytest.fixture
def crafted(db_session: Session) -> None:
    """62 referrals in Humboldt received 2026-10-05: group B placed 10 of 30, A 30 of 30, C 1 of 2."""
    s = db_session
    ensure_service(s, "HOUSING_NAV")
    contract = make_contract(s, make_provider(s, id="PX"), capacity=1000)
    run = SolverRun(trigger=RunTrigger.MANUAL, actor="test")
    s.add(run)
    zip5, city, lat, lon = PLACES["Humboldt"]
    placed: list[tuple[Member, bool]] = []
    for race, n, k in CRAFTED:
        for i in range(n):
            member = Member(cin=f"X{race}{i:07d}", last_name="Crafted", first_name=f"{race}{i}",
                            dob=dt.date(1980, 1, 1), address="1 Main St", city=city, zip=zip5, county="Humboldt",
                            latitude=lat, longitude=lon, eligibility_start=dt.date(2023, 1, 1),
                            demographics=MemberDemographics(race_ethnicity=race, sex="F"))
            placed.append((member, i < k))
    s.add_all([m for m, _ in placed])
    s.flush()
    for k, (member, is_placed) in enumerate(placed):
        s.add(Referral(id=f"RX{k:04d}", member_id=member.id, service_key="HOUSING_NAV", source=ReferralSource.PCP,
                       received_date=dt.date(2026, 10, 5)))
        s.flush()
        if is_placed:
            s.add(Assignment(referral_id=f"RX{k:04d}", provider_id="PX", site_id="PX-S1", contract_id=contract.id,
                             units=1))
        else:
            s.add(UnplacedReferral(referral_id=f"RX{k:04d}", solver_run_id=run.id, reason="ALL_IN_AREA_FULL"))
    s.flush()


# --- equity --------------------------------------------------------------------------------------

def test_equity_page_shows_the_measures_of_each_dimension(client: FlaskClient, auth: AuthActions, db_session: Session,
                                                          small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    response = client.get("/reports/equity?quarter=2026Q4")
    assert response.status_code == 200
    html = response.text
    assert "Equity review · 2026Q4" in html
    assert "the matcher never uses them to place anyone (7003 VI.B.4)" in html
    found = tables(html)
    assert set(found) >= {"four-fifths", *(f"equity-{d}" for d in ("county", "service", "provider", "race_ethnicity",
                                                                    "language", "sex", "age_band"))}
    # referrals, placed, unplaced, pending, rate, days, first choice, any chosen, miles, declined/sent
    county = rows_by_first_cell(html, "equity-county")
    assert county["Humboldt"][:5] == ["2", "2", "0", "0", "100%"]
    assert county["Shasta"][:5] == ["3", "1", "1", "1", "50%"]
    service = rows_by_first_cell(html, "equity-service")
    housing = service["Housing Transition Navigation"]
    assert housing[6:8] == ["1/2 (50%)", "2/2 (100%)"]  # R1 with its first choice, R2 with its second
    assert service["Recuperative Care (Medical Respite)"][8].endswith("(1)")  # one site-based placement measured
    provider = rows_by_first_cell(html, "equity-provider")[provider_name(db_session, "P1")]
    assert provider[4] == "—"  # no placement rate by provider
    assert provider[5] == "2 · 8.4 (3)"  # business days 1, 2, 10: median 2, p90 8.4
    assert provider[9] == "1/3 (33%)"
    white = rows_by_first_cell(html, "equity-race_ethnicity")["White"]
    assert (white[0], white[4], white[9]) == ("3", "50%", "1/1 (100%)")
    assert rows_by_first_cell(html, "equity-age_band")["65+"][:2] == ["1", "1"]
    # no group of 10 or more: nothing tested, no four-fifths line
    assert tables(html)["four-fifths"][1:] == [["No group is flagged."]] and "not-significant" not in found
    assert 'class="reference"' not in html
    assert '<div class="figure">5</div><div class="label">referrals received</div>' in html


def test_equity_chart_draws_the_four_fifths_line_and_tests_small_groups(client: FlaskClient, auth: AuthActions,
                                                                        small_plan: SmallPlan) -> None:
    auth.as_role("coordinator")
    html = client.get("/reports/equity?quarter=2026Q4&min_group_size=1").text
    county_chart = next(s for s in svgs(html) if s.find(f"{SVG}title").text == "Placement rate by county")  # type: ignore[union-attr]
    line = county_chart.find(f"{SVG}line[@class='reference']")
    assert line is not None
    assert line.find(f"{SVG}title").text == "four fifths of Humboldt's 100% = 80%"  # type: ignore[union-attr]
    bars = {r.find(f"{SVG}title").text: r.get("fill") for r in county_chart.iter(f"{SVG}rect")}  # type: ignore[union-attr]
    assert bars == {"Humboldt: 100%": "#1f5fa8", "Shasta: 50%": "#1f5fa8"}
    # Shasta 1/2 against Humboldt 2/2: below four fifths, Fisher's exact p = 1, not flagged
    assert tables(html)["four-fifths"][1:] == [["No group is flagged."]]
    review = tables(html)["not-significant"]
    shasta = next(r for r in review if r[:3] == ["County", "placement rate", "Shasta"])
    assert shasta[3:] == ["1/2 = 50%", "Humboldt", "2/2 = 100%", "0.50", "Fisher's exact", "1", "not significant"]


def test_equity_flags_a_group_below_four_fifths_with_the_counts_and_the_test(client: FlaskClient, auth: AuthActions,
                                                                             db_session: Session,
                                                                             crafted: None) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/equity?quarter=2026Q4").text
    test, p = compare_two(GroupCount("B", 30, 10), GroupCount("A", 30, 30))
    assert test == "chi_square_yates" and p < 0.001
    review = tables(html)["four-fifths"]
    flagged = {r[0]: r[1:] for r in review if r[-1] == "flagged"}
    # the same comparison plan-wide, within the county and within the service (all referrals are in both)
    assert set(flagged) == {"Race/ethnicity", "Race/ethnicity within Humboldt",
                            "Race/ethnicity within Housing Transition Navigation"}
    assert '<a href="/reports/equity?service=HOUSING_NAV&amp;quarter=2026Q4">Housing Transition Navigation</a>' in html
    assert flagged["Race/ethnicity"] == ["placement rate", "B", "10/30 = 33%", "A", "30/30 = 100%", "0.33",
                                         "chi-square (Yates)", "< 0.001", "flagged"]
    assert '<tr class="highlight"><td>Race/ethnicity</td>' in html
    assert "3 more groups below four fifths had fewer than 10 in the denominator" in html  # C, 1 of 2, in each table
    race = rows_by_first_cell(html, "equity-race_ethnicity")
    assert race["B flagged: placement rate"][:5] == ["30", "10", "20", "0", "33%"]
    assert race["C"][:5] == ["2", "1", "1", "0", "50%"]  # far below, but too small to flag
    chart = next(s for s in svgs(html) if s.find(f"{SVG}title").text == "Placement rate by race/ethnicity")  # type: ignore[union-attr]
    fills = {r.find(f"{SVG}title").text: r.get("fill") for r in chart.iter(f"{SVG}rect")}  # type: ignore[union-attr]
    assert fills == {"A: 100%": "#1f5fa8", "B: 33%": "#b42318", "C: 50%": "#1f5fa8"}
    assert chart.find(f"{SVG}line[@class='reference']/{SVG}title").text == "four fifths of A's 100% = 80%"  # type: ignore[union-attr]
    assert re.search(r'figure overdue">3</div><div class="label">of \d+ comparisons flagged', html)


def test_equity_within_one_county_shows_member_groups_only(client: FlaskClient, auth: AuthActions,
                                                           small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/equity?quarter=2026Q4&county=Shasta").text
    assert "within county Shasta" in html
    assert {t for t in tables(html) if t.startswith("equity-")} == {
        "equity-race_ethnicity", "equity-language", "equity-sex", "equity-age_band"}
    # in Shasta, White is R4 (unplaced) and R5 (pending): nothing placed of one decided
    assert rows_by_first_cell(html, "equity-race_ethnicity")["White"][:5] == ["2", "0", "1", "1", "0%"]
    empty = client.get("/reports/equity?quarter=2026Q4&service=MEALS").text
    assert "No referrals received in this period in this service." in empty


def test_equity_over_a_date_range_and_by_default_this_quarter(client: FlaskClient, auth: AuthActions,
                                                              small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    october = client.get("/reports/equity?start=2026-10-01&end=2026-10-31")
    assert "Equity review · 2026-10-01..2026-10-31" in october.text
    assert rows_by_first_cell(october.text, "equity-county")["Shasta"][:2] == ["1", "0"]  # R4 only
    assert "<details open>" in october.text
    # "today" is 2026-11-25
    assert "Equity review · 2026Q4" in client.get("/reports/equity").text
    csv_link = client.get("/reports/equity.csv?start=2026-10-01&end=2026-10-31")
    assert 'filename="equity_measures_2026-10-01_to_2026-10-31.csv"' in csv_link.headers["Content-Disposition"]


def test_empty_period_renders_every_page(client: FlaskClient, auth: AuthActions, db_session: Session) -> None:
    auth.as_role("admin")
    for path in PAGES:
        response = client.get(f"{path}?quarter=2025Q1")
        assert response.status_code == 200, (path, response.text[:500])
    assert "No referrals received in this period." in client.get("/reports/equity?quarter=2025Q1").text
    for path in DOWNLOADS:
        response = client.get(f"{path}?quarter=2025Q1")
        assert response.status_code == 200 and response.mimetype == "text/csv", path


def _cli_file(tmp_path: Path, frame: Any, name: str) -> str:
    return write_csv(frame, tmp_path, name).read_text(encoding="utf-8")


def test_equity_downloads_are_the_cli_files(client: FlaskClient, auth: AuthActions, db_session: Session,
                                            small_plan: SmallPlan, tmp_path: Path) -> None:
    auth.as_role("compliance")
    measures = client.get("/reports/equity.csv?quarter=2026Q4")
    assert measures.status_code == 200 and measures.mimetype == "text/csv"
    assert measures.headers["Content-Disposition"] == 'attachment; filename="equity_measures_2026Q4.csv"'
    assert next(csv.reader(io.StringIO(measures.text))) == list(MEASURE_COLUMNS)
    report = equity_report(db_session, Q4, min_group_size=1)
    flags = client.get("/reports/equity_flags.csv?quarter=2026Q4&min_group_size=1")
    assert next(csv.reader(io.StringIO(flags.text))) == list(FLAG_COLUMNS)
    assert flags.text == _cli_file(tmp_path, report.flags_frame(), "equity_flags.csv")
    assert measures.text == _cli_file(tmp_path, equity_report(db_session, Q4).measures, "equity_measures.csv")
    assert len(list(csv.DictReader(io.StringIO(flags.text)))) == len(report.flags) > 0


# --- utilization ---------------------------------------------------------------------------------

def test_utilization_page_by_county_and_by_provider(client: FlaskClient, auth: AuthActions, db_session: Session,
                                                    small_plan: SmallPlan) -> None:
    auth.as_role("provider_relations")
    html = client.get("/reports/utilization?quarter=2026Q4").text
    rows = {tuple(r[:3]): r[3:] for r in tables(html)["utilization"][1:]}
    assert len(rows) == 12
    # contracts, capacity, committed, accepted, members served, utilization
    assert rows[("2026-11", "Recuperative Care (Medical Respite)", "Shasta")] == ["1", "4", "1", "1", "1", "25%"]
    assert rows[("2026-12", "Housing Transition Navigation", "Humboldt")] == ["1", "8", "1", "1", "1", "12%"]
    # per service, summed over providers (exact): housing navigation holds 1 unit of C1's 5 (8 from
    # 11-15) and C3's 3; recuperative care R3's bed of C2's 4 from 11-03
    assert rows_by_first_cell(html, "utilization-services") == {
        "Housing Transition Navigation": ["1/8 (12%)", "1/11 (9%)", "1/11 (9%)"],
        "Recuperative Care (Medical Respite)": ["0/4 (0%)", "1/4 (25%)", "1/4 (25%)"]}
    [chart] = svgs(html)
    assert chart.find(f"{SVG}title").text == "Utilization by service, 2026-12"  # type: ignore[union-attr]
    assert [r.find(f"{SVG}title").text for r in chart.iter(f"{SVG}rect")] == [  # type: ignore[union-attr]
        "Housing Transition Navigation: 9%", "Recuperative Care (Medical Respite): 25%"]

    by_provider = client.get("/reports/utilization?quarter=2026Q4&by=provider&service=HOUSING_NAV").text
    rows = {tuple(r[:3]): r[3:] for r in tables(by_provider)["utilization"][1:]}
    assert set(rows) == {(m, "Housing Transition Navigation", provider_name(db_session, p))
                         for m in ("2026-10", "2026-11", "2026-12") for p in ("P1", "P2")}
    assert rows[("2026-10", "Housing Transition Navigation", provider_name(db_session, "P1"))][1:3] == ["5", "1"]


def test_utilization_table_comes_a_page_at_a_time(client: FlaskClient, auth: AuthActions,
                                                   small_plan: SmallPlan) -> None:
    auth.as_role("provider_relations")
    html = client.get("/reports/utilization?quarter=2026Q4&per_page=5&page=3").text
    assert len(tables(html)["utilization"][1:]) == 2  # rows 11 and 12 of 12
    assert "12 in all · page 3 of 3" in html and 'rel="prev"' in html and 'rel="next"' not in html
    # the chart and the per-service table are still the whole plan's
    assert len(rows_by_first_cell(html, "utilization-services")) == 2


def test_equity_by_provider_comes_a_page_at_a_time(client: FlaskClient, auth: AuthActions, db_session: Session,
                                                   small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/equity?quarter=2026Q4&per_page=1&page=2").text
    [only] = list(rows_by_first_cell(html, "equity-provider"))
    assert only == provider_name(db_session, "P1")  # (none) first, then P1
    assert "2 in all · page 2 of 2" in html
    assert len(rows_by_first_cell(html, "equity-county")) == 2  # the other tables are whole


def test_utilization_downloads_are_the_cli_files(client: FlaskClient, auth: AuthActions, db_session: Session,
                                                 small_plan: SmallPlan, tmp_path: Path) -> None:
    auth.as_role("compliance")
    for by, name in (("county", "utilization"), ("provider", "utilization_by_provider")):
        response = client.get(f"/reports/utilization.csv?quarter=2026Q4&by={by}")
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}_2026Q4.csv"'
        assert next(csv.reader(io.StringIO(response.text))) == list(UTILIZATION_COLUMNS)
        assert response.text == _cli_file(tmp_path, utilization(db_session, Q4, by=by), f"{name}.csv")


# --- referrals -----------------------------------------------------------------------------------

def test_referrals_page_by_month_with_reasons_and_chart(client: FlaskClient, auth: AuthActions,
                                                        small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/referrals?quarter=2026Q4").text
    assert tables(html)["referrals"][0] == ["Month", "Received", "Sent", "Accepted", "Declined", "Unplaced"]
    assert rows_by_first_cell(html, "referrals") == {
        "2026-10": ["3", "2", "1", "1", "2"], "2026-11": ["1", "1", "1", "0", "0"],
        "2026-12": ["1", "0", "0", "0", "0"], "All": ["5", "3", "2", "1", "2"]}
    reasons = tables(html)["reasons"][1:]
    assert [(r[0], r[1].split(":")[0], r[2]) for r in reasons] == [
        ("declined", "AT_CAPACITY", "1"), ("unplaced", "ALL_IN_AREA_FULL", "2")]
    [chart] = svgs(html)
    titles = {r.find(f"{SVG}title").text for r in chart.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None}  # type: ignore[union-attr]
    assert {"2026-10, received: 3", "2026-10, declined: 1", "2026-11, accepted: 1", "2026-12, sent: 0"} <= titles


def test_referrals_page_shows_every_month_of_the_period(client: FlaskClient, auth: AuthActions,
                                                       small_plan: SmallPlan) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/referrals?start=2026-10-01&end=2027-01-31").text
    rows = rows_by_first_cell(html, "referrals")
    assert list(rows) == ["2026-10", "2026-11", "2026-12", "2027-01", "All"]
    assert rows["2027-01"] == ["0", "0", "0", "0", "0"]


def test_referrals_page_by_provider_and_by_source(client: FlaskClient, auth: AuthActions, db_session: Session,
                                                  small_plan: SmallPlan) -> None:
    auth.as_role("coordinator")
    by_provider = rows_by_first_cell(client.get("/reports/referrals?quarter=2026Q4&by=provider").text, "referrals")
    assert by_provider[provider_name(db_session, "P1")] == ["0", "3", "2", "1", "0"]
    assert by_provider["(none: received or unplaced)"] == ["5", "0", "0", "0", "2"]
    by_source = rows_by_first_cell(client.get("/reports/referrals?quarter=2026Q4&by=source").text, "referrals")
    assert by_source["PCP"] == ["5", "3", "2", "1", "2"]


def test_referrals_download_is_the_cli_file(client: FlaskClient, auth: AuthActions, db_session: Session,
                                            small_plan: SmallPlan, tmp_path: Path) -> None:
    auth.as_role("compliance")
    response = client.get("/reports/referrals.csv?quarter=2026Q4&by=provider")  # by does not change the file
    assert response.headers["Content-Disposition"] == 'attachment; filename="referrals_2026Q4.csv"'
    assert next(csv.reader(io.StringIO(response.text))) == list(REFERRAL_COLUMNS)
    assert response.text == _cli_file(tmp_path, referral_events(db_session, Q4), "referrals.csv")


# --- downloads kept while the data stand ------------------------------------------------------------

@pytest.mark.parametrize("path", ["/reports/equity.csv", "/reports/equity_flags.csv?min_group_size=1",
                                  "/reports/utilization.csv", "/reports/utilization.csv?by=provider",
                                  "/reports/referrals.csv"])
def test_a_download_is_kept_until_a_write_and_then_written_anew(committing_engine: Engine, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    """Issue 5: the second download of a file is the kept text (no report, no CSV writing); a committed
    write retires it, and the next download is the file of the new data."""
    import pandas as pd

    written: list[int] = []
    to_csv = pd.DataFrame.to_csv

    def counting_to_csv(frame: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        written.append(len(frame))
        return to_csv(frame, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", counting_to_csv)

    app, client = small_plan_app(committing_engine)
    cache = app.extensions["csmatch.read_cache"]
    url = path + ("&" if "?" in path else "?") + "quarter=2026Q4"

    first = client.get(url).text
    misses = cache.misses
    assert client.get(url).text == first and cache.misses == misses and cache.hits > 0
    assert len(written) == 1  # written once, served twice
    add_sent_referral(committing_engine, dt.date(2026, 12, 14))  # received in the quarter, sent to P1 at once
    again = client.get(url).text
    assert cache.misses > misses and again != first and len(written) == 2
    with Session(committing_engine) as s:
        name = {"/reports/equity.csv": "equity_measures", "/reports/equity_flags.csv": "equity_flags",
                "/reports/utilization.csv": "utilization", "/reports/referrals.csv": "referrals"}[path.split("?")[0]]
        if name == "equity_measures":
            expected = equity_report(s, Q4).measures
        elif name == "equity_flags":
            expected = equity_report(s, Q4, min_group_size=1).flags_frame()
        elif name == "utilization":
            expected = utilization(s, Q4, by="provider" if "by=provider" in path else "county")
        else:
            expected = referral_events(s, Q4)
        assert again == _cli_file(tmp_path, expected, f"{name}.csv")


# --- arguments, audit, roles ---------------------------------------------------------------------

BAD = [
    ("quarter=2026Q5", "quarter: '2026Q5' is not a quarter"),
    ("quarter=Q4", "quarter: 'Q4' is not a quarter"),
    ("quarter=2026Q4&start=2026-10-01", "not both"),
    ("start=2026-10-01", "end: give both start and end"),
    ("start=2026-10-01&end=2026-09-30", "end: 2026-09-30 is before start 2026-10-01"),
    ("start=2026-13-01&end=2026-12-31", "start: must be a date"),
]


@pytest.mark.parametrize("path", [*PAGES, *DOWNLOADS])
@pytest.mark.parametrize(("query", "message"), BAD)
def test_a_bad_period_is_a_400(client: FlaskClient, auth: AuthActions, path: str, query: str, message: str) -> None:
    auth.as_role("compliance")
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert message in response.text.replace("&#39;", "'")


@pytest.mark.parametrize(("url", "message"), [
    ("/reports/equity?min_group_size=0", "min_group_size: must be 1 or more"),
    ("/reports/equity.csv?alpha=1.5", "alpha: must be between 0 and 1"),
    ("/reports/equity_flags.csv?alpha=x", "alpha: must be a number"),
    ("/reports/equity?county=Shasta&service=MEALS", "a county or a service, not both"),
    ("/reports/utilization?by=site", "by: must be one of county, provider"),
    ("/reports/utilization.csv?by=site", "by: must be one of county, provider"),
    ("/reports/utilization?service=NOPE", "service: must be one of"),
    ("/reports/referrals?by=reason", "by: must be one of month, county, service, provider, source"),
])
def test_bad_options_are_a_400(client: FlaskClient, auth: AuthActions, url: str, message: str) -> None:
    auth.as_role("compliance")
    response = client.get(url)
    assert response.status_code == 400 and message in response.text


@pytest.mark.parametrize(("path", "action", "report"), [
    ("/reports/equity?quarter=2026Q4", "web.report.view", "equity"),
    ("/reports/equity.csv?quarter=2026Q4", "web.report.download", "equity"),
    ("/reports/equity_flags.csv?quarter=2026Q4", "web.report.download", "equity"),
    ("/reports/utilization?quarter=2026Q4&by=provider", "web.report.view", "utilization"),
    ("/reports/utilization.csv?quarter=2026Q4", "web.report.download", "utilization"),
    ("/reports/referrals?quarter=2026Q4", "web.report.view", "referrals"),
    ("/reports/referrals.csv?quarter=2026Q4", "web.report.download", "referrals"),
])
def test_every_view_and_download_is_audited(client: FlaskClient, auth: AuthActions, db_session: Session,
                                            small_plan: SmallPlan, path: str, action: str, report: str) -> None:
    user = auth.as_role("compliance")
    response = client.get(path, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 200
    [event] = web_events(db_session)
    assert (event.action, event.actor, event.remote_addr) == (action, user.email, "10.1.2.3")
    assert (event.entity_type, event.entity_id) == ("report", report)
    assert event.details["period"] == "2026Q4" and event.details["path"] == path
    if report == "equity":  # the member groups were read
        assert event.details["reads"] == "member_demographics"


def test_bad_request_leaves_no_audit_event(client: FlaskClient, auth: AuthActions, db_session: Session) -> None:
    auth.as_role("compliance")
    assert client.get("/reports/equity?quarter=nope").status_code == 400
    assert web_events(db_session) == []


@pytest.mark.parametrize("path", [*PAGES, *DOWNLOADS])
def test_provider_users_are_refused(client: FlaskClient, auth: AuthActions, db_session: Session, small_plan: SmallPlan,
                                    path: str) -> None:
    auth.as_role("provider", provider_id="P1")
    response = client.get(f"{path}?quarter=2026Q4")
    assert response.status_code == 403
    assert web_events(db_session) == []


def test_navigation_leads_plan_staff_to_the_reports(client: FlaskClient, auth: AuthActions,
                                                    db_session: Session) -> None:
    auth.as_role("compliance")
    html = client.get("/reports/timeliness").text
    assert '<a href="/reports/equity">Equity &amp; oversight</a>' in html
    page = client.get("/reports/utilization").text
    assert '<a href="/reports/utilization" aria-current="page">Utilization</a>' in page
    auth.as_role("provider", provider_id=make_provider(db_session).id)
    assert "/reports/equity" not in client.get("/portal/").text


# --- the charts ----------------------------------------------------------------------------------

def test_hbar_chart_draws_the_reference_line_at_its_value() -> None:
    svg = str(hbar_chart([("a", 1.0), ("b <c>", 0.5), ("no one", None)], title="Rate", value_format="{:.0%}", top=1,
                         reference=(0.8, "four fifths <of a>"), highlight=[False, True, False]))
    root = ET.fromstring(svg)
    line = root.find(f"{SVG}line[@class='reference']")
    assert line is not None and line.get("x1") == line.get("x2")
    # bars run from x 210 to 716: 80% is at 210 + 0.8 * 506
    assert float(line.get("x1") or 0) == pytest.approx(210 + 0.8 * 506, abs=0.1)
    bars = [(r.find(f"{SVG}title").text, r.get("fill"), r.get("width")) for r in root.iter(f"{SVG}rect")]  # type: ignore[union-attr]
    assert bars == [("a: 100%", "#1f5fa8", "506.0"), ("b <c>: 50%", "#b42318", "253.0")]
    assert "four fifths &lt;of a&gt;" in svg and "no data" in svg


def test_hbar_chart_shortens_long_labels_and_keeps_them_in_a_title() -> None:
    label = "Native Hawaiian or Other Pacific Islander"
    svg = str(hbar_chart([(label, 0.5)], title="Rate", label_width=140))
    assert "Native Hawaiian or…" in svg and f"<title>{label}</title>" in svg


def test_grouped_bar_chart_draws_a_bar_per_group_and_series_with_a_legend() -> None:
    svg = str(grouped_bar_chart(["Oct", "Nov <x>"], [("received", [3, 4]), ("sent", [2, None])], title="Referrals"))
    root = ET.fromstring(svg)
    titled = [r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]  # type: ignore[union-attr]
    assert titled == ["Oct, received: 3", "Oct, sent: 2", "Nov <x>, received: 4"]
    assert len(list(root.iter(f"{SVG}rect"))) == 5  # and two legend swatches


# --- in a real browser: the screenshot for the docs ------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "equity.png"


@pytest.fixture(scope="module")
def solved_plan(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A generated roster (1,500 referrals, 25 providers) in a migrated SQLite file, solved once on
    2026-11-25 by the matcher: whatever disparities the report finds are the matcher's own."""
    from placement.services import run_solver
    from tests.conftest import WEB_TODAY, generated_plan

    url, engine = generated_plan(tmp_path_factory.mktemp("equity"), referrals=1500, providers=25, today=WEB_TODAY)
    with Session(engine) as session:
        run_solver(session, on_date=WEB_TODAY, actor="lead@plan.example.org", trigger=RunTrigger.MANUAL)
        make_user(session, "compliance", email="compliance@plan.example.org")
        session.commit()
    engine.dispose()
    return url


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium")
def test_equity_page_in_chromium(solved_plan: str) -> None:
    """Compliance signs in and reads the quarter's equity review; the screenshot goes to the docs."""
    import threading

    from werkzeug.serving import make_server

    from tests.conftest import WEB_PASSWORD, WEB_TODAY
    from tests.web.test_browser import CHROMIUM_ARGS
    from web import create_app

    playwright_api = pytest.importorskip("playwright.sync_api")
    app = create_app({"DATABASE_URL": solved_plan, "SECRET_KEY": "browser-test", "TODAY": WEB_TODAY,
                      "SESSION_COOKIE_SECURE": False})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    try:
        with playwright_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
            page.goto(f"{base}/auth/login")
            page.fill("input[name=email]", "compliance@plan.example.org")
            page.fill("input[name=password]", WEB_PASSWORD)
            page.click("button[type=submit]")
            page.click("text=Equity & oversight")
            assert page.locator("h1").inner_text() == "Equity review · 2026Q4"
            assert "never uses them" in page.locator("#not-used").inner_text()
            assert page.locator("#four-fifths tbody tr.highlight").count() >= 1  # the generated plan has gaps
            assert page.locator("svg.chart line.reference").count() >= 1
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            # the top of the page: the note, the figures, the flagged groups and the first chart
            page.screenshot(path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1360, "height": 2000})
            browser.close()
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        app.extensions["csmatch.engine"].dispose()
