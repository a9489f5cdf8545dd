"""The charts (capture/reports/charts.py): well-formed SVG that scales, escaped text, the numbers in words and as a table."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from capture.reports import charts, trends

SVG = re.compile(r"<svg\b.*?</svg>", re.S)
FUNNEL = {"views": 1200, "leads": 6, "contacted": 5, "consultations": 2, "won": 1}


def trend(grain: str = "week", bars=(date(2026, 11, 2), date(2026, 11, 9))) -> trends.Trend:
    return trends.Trend(grain, list(bars), ["google", "<x & y>"], {"google": [3, 1], "<x & y>": [0, 2]},
                        {"google": [850_000, 0], "<x & y>": [0, 125_050]}, [120, 80])


def test_the_charts_are_well_formed_scaling_svg_with_the_numbers():
    made = (charts.over_time_chart(trend(), "leads"), charts.over_time_chart(trend(), "revenue"),
            charts.visitors_and_leads_chart(trend()), charts.funnel_chart(FUNNEL))
    for chart in made:
        root = ET.fromstring(SVG.search(str(chart))[0])
        assert root.get("width") == "100%" and root.get("viewBox").startswith(f"0 0 {charts.WIDTH} ")
        assert "<x & y>" not in str(chart)
    leads = str(charts.over_time_chart(trend(), "leads", "campaign"))
    assert "Leads per week, 2 weeks from the week of 2 Nov 2026: 6 in all; by campaign: google 4, &lt;x &amp; y&gt; 2" in leads
    assert "Most in the week of 2 Nov 2026 (3)." in leads
    assert "<td class=\"num\">3</td>" in leads  # the table: google's first week
    revenue = str(charts.over_time_chart(trend(), "revenue"))
    assert "£9,750.50 in all" in revenue and "£1,250.50" in revenue
    both = str(charts.visitors_and_leads_chart(trend()))
    assert "200 visitors and 6 leads in all. Most visitors in the week of 2 Nov 2026 (120)." in both
    assert '<th scope="row">Week of 9 Nov 2026</th><td class="num">80</td><td class="num">3</td>' in both
    funnel = str(charts.funnel_chart(FUNNEL))
    assert "1,200" in funnel and "Leads 6 (0.5% of views)" in funnel
    assert "No views or leads in this period." in str(charts.funnel_chart({}))


@pytest.mark.parametrize("grain, bars, axis, named", [
    ("day", (date(2026, 11, 2), date(2026, 11, 3)), "2 Nov", "on 2 Nov 2026"),
    ("week", (date(2026, 11, 2), date(2026, 11, 9)), "2 Nov", "in the week of 2 Nov 2026"),
    ("month", (date(2026, 11, 1), date(2026, 12, 1)), "Nov 2026", "in Nov 2026"),
])
def test_bars_are_named_by_their_grain(grain, bars, axis, named):
    chart = str(charts.over_time_chart(trend(grain, bars), "leads"))
    assert f">{axis}</text>" in chart and f"Most {named} (3)." in chart


def test_many_bars_label_the_axis_sparsely():
    days = [date(2026, 11, d) for d in range(1, 31)]
    many = trends.Trend("day", days, ["a"], {"a": [1] * 30}, {"a": [0] * 30}, [5] * 30)
    axis = re.findall(r'fill="#4a5650" font-size="12">(\d+ Nov)</text>', str(charts.over_time_chart(many, "leads")))
    assert 5 <= len(axis) <= 15 and axis[0] == "1 Nov"


def test_an_empty_trend_says_so():
    empty = trends.Trend("day", [date(2026, 11, 2)], [], {}, {}, [0])
    assert "No leads in the 1 day charted." in str(charts.over_time_chart(empty, "leads"))
    assert "No visitors and no leads in the 1 day charted." in str(charts.visitors_and_leads_chart(empty))
