"""SVG charts: well-formed, labelled, escaped, style-free, deterministic, and their tables carry the numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from strongroom.formats.risk import RiskLevel
from strongroom.reports.dashboard import AuditCoverage, FormatSlice, MonthGrowth, RetentionMonth, RiskSlice
from strongroom.web.charts import (
    Chart,
    Mark,
    audit_chart,
    bar_chart,
    column_chart,
    format_charts,
    growth_charts,
    human_bytes,
    retention_chart,
    risk_chart,
    segmented_bar,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script> & \" ' ../ Mötörhead 世界 ]]>"

FORMATS = (
    FormatSlice("fmt/40", HOSTILE, 12, 4_000_000, RiskLevel.HIGH, "proprietary"),
    FormatSlice("fmt/95", "PDF/A-1a", 30, 9_000_000, RiskLevel.LOW, "open standard"),
    FormatSlice(None, "unidentified", 3, 1_000, RiskLevel.UNKNOWN, "no signature matched"),
    FormatSlice("x-fmt/111", "Plain Text File", 7, 700, RiskLevel.MEDIUM, "encoding unknown"),
)
RISKS = (
    RiskSlice(RiskLevel.HIGH, 12, 4_000_000, 1), RiskSlice(RiskLevel.UNKNOWN, 3, 1_000, 1),
    RiskSlice(RiskLevel.MEDIUM, 7, 700, 1), RiskSlice(RiskLevel.LOW, 30, 9_000_000, 1),
)  # fmt: skip
GROWTH = (
    MonthGrowth("2026-09", 2, 10, 1000, 2, 10, 1000),
    MonthGrowth("2026-10", 0, 0, 0, 2, 10, 1000),
    MonthGrowth("2026-11", 3, 25, 5_000_000, 5, 35, 5_001_000),
)
AUDIT = AuditCoverage(9, 7, 1, datetime(2025, 1, 2, tzinfo=UTC),
                      (("never", 2), ("under 30 days", 4), ("30 to 90 days", 0), ("90 to 365 days", 1),
                       ("over 1 year", 2)))  # fmt: skip
RETENTION = tuple(RetentionMonth(m, n) for m, n in [("due now", 4), ("2026-11", 0), ("2026-12", 2), ("2027-01", 1)])


def _all_charts() -> list[Chart]:
    return [*format_charts(FORMATS), risk_chart(RISKS), *growth_charts(GROWTH), audit_chart(AUDIT),
            retention_chart(RETENTION)]  # fmt: skip


def _parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


@pytest.mark.parametrize("index", range(7))
def test_every_chart_is_well_formed_labelled_svg_without_styles(index: int) -> None:
    chart = _all_charts()[index]
    root = _parse(str(chart.svg))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("width") == "100%" and root.get("viewBox")
    title_id, desc_id = root.get("aria-labelledby", "").split()
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == title_id and title.text == chart.title
    assert desc is not None and desc.get("id") == desc_id and desc.text == chart.description != ""
    for element in root.iter():
        assert "style" not in element.attrib, element.tag
        assert not str(element.tag).endswith("style")
        assert not str(element.tag).endswith("script")
        assert not any(name.startswith("on") for name in element.attrib)


def test_hostile_labels_are_escaped_and_read_back_as_text() -> None:
    files, size = format_charts(FORMATS)
    for chart in (files, size):
        svg = str(chart.svg)
        assert "<script>" not in svg and "]]>" not in svg
        root = _parse(svg)
        texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text", f"{SVG}title")]
        # The full hostile label is in a bar's tooltip title; the drawn label is shortened.
        assert any(HOSTILE in text for text in texts)
        assert HOSTILE in [row[0] for row in chart.rows]


def test_values_are_printed_on_the_chart_and_equal_the_table() -> None:
    files, size = format_charts(FORMATS)
    files_text = ["".join(t.itertext()) for t in _parse(str(files.svg)).iter(f"{SVG}text")]
    for f in FORMATS:
        assert str(f.files) in files_text
        row = next(r for r in files.rows if r[0] == f.name)
        assert row == (f.name, f.puid or "none", f.risk.value, str(f.files), human_bytes(f.bytes))
    size_text = ["".join(t.itertext()) for t in _parse(str(size.svg)).iter(f"{SVG}text")]
    assert human_bytes(9_000_000) in size_text and "9.0 MB" in size_text

    audit = audit_chart(AUDIT)
    assert audit.rows == tuple((label, str(n)) for label, n in AUDIT.ages)
    audit_text = ["".join(t.itertext()) for t in _parse(str(audit.svg)).iter(f"{SVG}text")]
    for label, count in AUDIT.ages:
        assert label in audit_text and str(count) in audit_text

    growth, stored = growth_charts(GROWTH)
    assert [r[4] for r in growth.rows] == ["2", "2", "5"]
    assert [r[6] for r in stored.rows] == [human_bytes(g.total_bytes) for g in GROWTH]
    assert retention_chart(RETENTION).rows == (("due now", "4"), ("2026-11", "0"), ("2026-12", "2"), ("2027-01", "1"))


def test_risk_levels_are_told_apart_by_words_and_patterns_not_colour_alone() -> None:
    chart = risk_chart(RISKS)
    root = _parse(str(chart.svg))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    for level, files in (("high", 12), ("unknown", 3), ("medium", 7), ("low", 30)):
        assert any(t.startswith(f"{level} risk: {files} files") for t in texts), texts
    patterns = {p.get("id") for p in root.iter(f"{SVG}pattern")}
    assert {"chart-risk-stripes", "chart-risk-dots", "chart-risk-hatch"} <= patterns
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect")}
    assert "url(#chart-risk-stripes)" in fills and "url(#chart-risk-dots)" in fills
    assert chart.rows[0] == ("high", "1", "12", human_bytes(4_000_000))


def test_output_is_deterministic() -> None:
    assert [str(c.svg) for c in _all_charts()] == [str(c.svg) for c in _all_charts()]


@pytest.mark.parametrize("draw", [bar_chart, column_chart, segmented_bar])
def test_empty_data_says_so(draw: object) -> None:
    for marks in ([], [Mark("x", 0, "0")]):
        svg = str(draw("chart-empty", "Nothing", "No data", marks, "No packages yet"))  # type: ignore[operator]
        root = _parse(svg)
        assert ["".join(t.itertext()) for t in root.iter(f"{SVG}text")] == ["No packages yet"]
        assert root.get("role") == "img"


def test_many_columns_widen_the_view_box_and_stay_readable() -> None:
    months = [Mark(f"2025-{n:02d}", n, str(n)) for n in range(1, 13)] * 5
    root = _parse(str(column_chart("chart-many", "Many", "Sixty columns", months, "none")))
    width = float(root.get("viewBox", "").split()[2])
    assert width >= 60 * 24
    sizes = {float(t.get("font-size", "0")) for t in root.iter(f"{SVG}text")}
    assert min(sizes) >= 11
