"""`strongroom report --html DIR`: a self-contained static report with the dashboard's charts; `--json` series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree, html

from strongroom.reports import html_report
from tests.conftest import Home, write
from tests.preservation.samples import pdf_bytes

SVG = "{http://www.w3.org/2000/svg}"
PAGES = ["audits.html", "formats.html", "growth.html", "index.html", "retention.html"]


@pytest.fixture
def held(home: Home, tmp_path: Path) -> Home:
    for n in range(2):
        root = tmp_path / f"transfer-{n}"
        write(root / "objects/report.pdf", pdf_bytes(f"report {n}"))
        write(root / "objects/notes.txt", "notes\n" * 30)
        home.ingest(root)
    return home


def test_report_html_writes_every_page_with_charts_and_tables(held: Home, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = held.ok("report", "--html", str(out))
    assert "Wrote" in result.stdout and "index.html" in result.stdout
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    expected = sorted([*PAGES, "strongroom.css"]) if html_report.STYLESHEET.is_file() else PAGES
    assert names == expected
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []  # no temporary folder left
    data: Any = held.ok("report", "--json").json()
    for name in PAGES:
        text = (out / name).read_text(encoding="utf-8")
        tree = html.fromstring(text)
        assert len(tree.xpath("//h1")) == 1
        assert not tree.xpath("//script") and not tree.xpath("//*[@style]")
        for svg in tree.xpath("//svg"):
            # Each chart is well-formed SVG on its own, labelled, with its table on the page.
            etree.fromstring(etree.tostring(svg))
            assert svg.get("role") == "img" and svg.get("aria-labelledby")
            assert tree.xpath(f"//table[@data-chart='{svg.get('id')}']")
        for link in tree.xpath("//a/@href"):
            assert link in PAGES or link.startswith("#"), link  # every link stays inside the report
    formats = html.fromstring((out / "formats.html").read_text(encoding="utf-8"))
    rows = formats.xpath("//table[@data-chart='chart-risk']/tbody/tr")
    assert [(r.xpath("string(th)"), r.xpath("string(td[2])")) for r in rows] == [
        (r["risk"], str(r["files"])) for r in data["risks"]
    ]
    assert sum(int(r.xpath("string(td[2])")) for r in rows) == data["totals"]["files"] == 4


def test_report_json_prints_the_series_and_what_was_written(held: Home, tmp_path: Path) -> None:
    data: Any = held.ok("report", "--html", str(tmp_path / "r"), "--json").json()
    assert data["written"]["folder"] == str(tmp_path / "r")
    assert "index.html" in data["written"]["files"]
    assert data["growth"][-1]["total_packages"] == 2 and data["audit"]["packages"] == 2


def test_an_earlier_report_is_replaced_but_another_folder_is_refused(held: Home, tmp_path: Path) -> None:
    out = tmp_path / "r"
    held.ok("report", "--html", str(out))
    (out / "index.html").write_text("stale", encoding="utf-8")
    held.ok("report", "--html", str(out))
    assert "stale" not in (out / "index.html").read_text(encoding="utf-8")

    precious = tmp_path / "precious"
    write(precious / "thesis.docx", "my only copy")
    refused = held.run("report", "--html", str(precious), "--json")
    assert refused.exit_code != 0
    assert "not a Strongroom report" in refused.stderr
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.docx"]
    missing_parent = held.run("report", "--html", str(tmp_path / "no" / "such" / "place"))
    assert missing_parent.exit_code != 0 and "does not exist" in missing_parent.stderr


def test_without_the_stylesheet_the_report_is_still_complete(
    held: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(html_report, "STYLESHEET", tmp_path / "nowhere.css")
    result = held.ok("report", "--html", str(tmp_path / "plain"))
    assert "stylesheet is not installed" in result.stdout
    index = (tmp_path / "plain" / "index.html").read_text(encoding="utf-8")
    assert '<link rel="stylesheet"' not in index and "<svg" in index


def test_an_empty_archive_reports_no_packages(home: Home, tmp_path: Path) -> None:
    home.ok("report", "--html", str(tmp_path / "empty"))
    index = (tmp_path / "empty" / "index.html").read_text(encoding="utf-8")
    assert "No packages yet" in index
