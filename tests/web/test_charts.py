"""The inline SVG charts: well-formed, escaped, honest about missing data."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from web.charts import Series, bar_chart, step_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_step_chart_is_well_formed_svg_with_a_title() -> None:
    svg = step_chart([Series("open <beds>", [(dt.date(2026, 11, 1), 3), (dt.date(2026, 11, 20), 0)])],
                     title="Beds & more")
    root = ET.fromstring(str(svg))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Beds & more"  # type: ignore[union-attr]
    assert "open &lt;beds&gt;" in str(svg) and "<beds>" not in str(svg)
    assert len(root.findall(f"{SVG}path")) == 1


def test_step_chart_with_no_points_draws_an_empty_frame() -> None:
    root = ET.fromstring(str(step_chart([Series("open", [])], title="Nothing yet")))
    assert root.findall(f"{SVG}path") == []


def test_bar_chart_marks_missing_values_as_no_data() -> None:
    svg = str(bar_chart([("2026-10", None), ("2026-11", 0.5)], title="Share", value_format="{:.0%}", top=1))
    root = ET.fromstring(svg)
    assert len(root.findall(f"{SVG}rect")) == 1 and "no data" in svg and "50%" in svg


def test_bar_chart_scales_to_a_round_top() -> None:
    svg = str(bar_chart([("a", 7), ("b", 13)], title="Counts"))
    assert ">20<" in svg  # the axis tops out at 20, not 13
