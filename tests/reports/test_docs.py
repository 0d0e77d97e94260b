"""Where demographics may be read (7003 VI.B.4), and every CSV column documented in docs/reports.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from reports.equity import FLAG_COLUMNS, MEASURE_COLUMNS
from reports.oversight import REFERRAL_COLUMNS, TIMELINESS_COLUMNS, UTILIZATION_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("accounts", "capacity", "csmatch", "exchange", "fixtures", "geo", "matcher", "placement",
                   "providers", "referrals", "reports", "web", "bench")
# Demographics are defined in referrals.models and read by the equity report; the data exchange
# carries them because the state's file formats do (the roster import writes them, the CS-ASF
# export has a sex column). No code that decides a placement may touch them. Date of birth stays on
# Member for the sobering-center age gate of referrals.eligibility only.
ALLOWED = ("referrals/models.py", "reports/", "exchange/", "csmatch/migrations/")
DEMOGRAPHIC_NAMES = {"MemberDemographics", "demographics", "race_ethnicity"}


def _demographic_uses(path: Path) -> list[str]:
    """Names and attributes of the demographics in code (docstrings and comments do not count)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.alias):
            name = node.name.rsplit(".", 1)[-1]
        if name in DEMOGRAPHIC_NAMES:
            found.append(f"{name} (line {getattr(node, 'lineno', '?')})")
    return found


def test_only_reports_read_member_demographics() -> None:
    offenders = {}
    for package in SOURCE_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            if uses := _demographic_uses(path):
                offenders[relative] = uses
    assert offenders == {}, "demographics are read only by the equity report (7003 VI.B.4)"
    assert _demographic_uses(ROOT / "reports" / "equity.py")  # the scan does see real uses


def _documented(section: str) -> list[str]:
    text = (ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    start = text.index(f"### {section}")
    end = text.find("\n#", start + 1)
    return re.findall(r"^\| `([a-z0-9_]+)` \|", text[start:end if end > 0 else None], flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("section", "columns"),
    [
        ("equity_measures.csv", MEASURE_COLUMNS),
        ("equity_flags.csv", FLAG_COLUMNS),
        ("utilization.csv", UTILIZATION_COLUMNS),
        ("referrals.csv", REFERRAL_COLUMNS),
        ("timeliness.csv", TIMELINESS_COLUMNS),
    ],
)
def test_every_csv_column_is_documented(section: str, columns: tuple[str, ...]) -> None:
    assert _documented(section) == list(columns)

