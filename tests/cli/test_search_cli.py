"""`strongroom search` as people and scripts use it: filters, facets, sorting, cursors and the role's limits."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Home, write

# path -> (title, creator, date, words in the description)
RECORDS = {
    "objects/minutes/1961-parish.txt": ("Parish council minutes 1961", "Zoë Harcourt", "1961-03-02", "drainage"),
    "objects/minutes/1975-parish.txt": ("Parish council minutes 1975", "Zoë Harcourt", "1975-11-20", "footpath"),
    "objects/minutes/1992-town.txt": ("Town council minutes 1992", "Peter Müller", "1992-06-01", "footpath"),
    "objects/survey/1998-montreal.txt": ("Survey of the Montréal twinning", "Peter Müller", "1998-01-15", "twinning"),
    "objects/survey/2004-bridge.txt": ("Bridge survey", "Highways Office", "2004", "inspection"),
    "objects/survey/2010-bridge.txt": ("Bridge survey, second", "Highways Office", "2010-09", "inspection"),
}


@pytest.fixture
def archive(home: Home, tmp_path: Path) -> tuple[Home, str]:
    transfer = tmp_path / "council-records"
    rows = ["filename,dc.title,dc.creator,dc.date,dc.description"]
    for path, (title, creator, date, words) in RECORDS.items():
        write(transfer / path, f"{title}\n")
        rows.append(f'{path},"{title}","{creator}",{date},"About {words}"')
    write(transfer / "metadata" / "metadata.csv", "\n".join(rows) + "\n")
    package = home.ingest(transfer)["package"]
    assert isinstance(package, str)
    return home, package


def _search(home: Home, *args: str) -> dict[str, Any]:
    data = home.ok("search", *args, "--json").json()
    assert isinstance(data, dict)
    return data


def _paths(data: dict[str, Any]) -> set[str]:
    return {hit["path"] for hit in data["hits"] if hit["path"]}


def test_filters_by_creator_folded_and_by_date_range(archive: tuple[Home, str]) -> None:
    home, _ = archive
    by_zoe = _search(home, "--filter", "creator=zoe harcourt", "--filter", "kind=file")
    assert _paths(by_zoe) == {"objects/minutes/1961-parish.txt", "objects/minutes/1975-parish.txt"}
    nineties = _search(home, "--filter", "from=1990", "--filter", "to=1999", "--filter", "kind=file")
    assert _paths(nineties) == {"objects/minutes/1992-town.txt", "objects/survey/1998-montreal.txt"}
    # A month names its whole month: 2010-09 covers the record dated only "2010-09".
    september = _search(home, "bridge", "--filter", "from=2010-09", "--filter", "to=2010-09")
    assert _paths(september) == {"objects/survey/2010-bridge.txt"}


def test_boolean_phrase_prefix_and_accents(archive: tuple[Home, str]) -> None:
    home, _ = archive
    assert _paths(_search(home, '"parish council"')) == {
        "objects/minutes/1961-parish.txt",
        "objects/minutes/1975-parish.txt",
    }
    assert _paths(_search(home, "footpath -town")) == {"objects/minutes/1975-parish.txt"}
    assert _paths(_search(home, "drainage OR twinning")) == {
        "objects/minutes/1961-parish.txt",
        "objects/survey/1998-montreal.txt",
    }
    assert _paths(_search(home, "montreal")) == {"objects/survey/1998-montreal.txt"}
    assert _paths(_search(home, "Montréal")) == {"objects/survey/1998-montreal.txt"}
    assert _paths(_search(home, "inspect*")) == {"objects/survey/2004-bridge.txt", "objects/survey/2010-bridge.txt"}


def test_facets_count_what_was_asked(archive: tuple[Home, str]) -> None:
    home, _ = archive
    data = _search(home, "--filter", "kind=file", "--facet", "creator,risk")
    assert set(data["facets"]) == {"creator", "risk"}
    assert data["facets"]["creator"] == {"Zoë Harcourt": 2, "Peter Müller": 2, "Highways Office": 2}
    assert sum(data["facets"]["risk"].values()) == data["total"] == len(RECORDS)
    assert _search(home, "--facet", "none")["facets"] == {}


def test_newest_first_and_cursor_pages_cover_every_hit_once(archive: tuple[Home, str]) -> None:
    home, _ = archive
    newest = _search(home, "--filter", "kind=file", "--sort", "newest", "--limit", "50")
    dates = [hit["date"] for hit in newest["hits"]]
    assert dates == sorted(dates, reverse=True) and len(dates) == len(RECORDS)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(len(RECORDS) + 2):
        args = ["--filter", "kind=file", "--sort", "newest", "--limit", "2"]
        page = _search(home, *args, *(["--page-after", cursor] if cursor else []))
        seen += [hit["path"] for hit in page["hits"]]
        cursor = page["next_after"]
        if cursor is None:
            break
    assert seen == [hit["path"] for hit in newest["hits"]]


def test_the_human_output_shows_snippets_facets_and_the_next_page_command(archive: tuple[Home, str]) -> None:
    home, _ = archive
    out = home.ok("search", "survey", "--limit", "1", "--facet", "format").stdout
    assert "match(es), searching as archivist; 1 shown." in out
    assert "format:" in out
    assert "Next page: strongroom" in out and "--page-after" in out


def test_the_printed_next_page_command_runs_and_gives_the_next_page(archive: tuple[Home, str]) -> None:
    home, _ = archive
    first = home.ok("search", "survey", "--filter", "kind=file", "--offset", "1", "--limit", "1").stdout
    line = next(line for line in first.splitlines() if line.startswith("Next page: "))
    argv = shlex.split(line.removeprefix("Next page: "))
    assert argv[:4] == ["strongroom", "--home", str(home.path), "search"]
    assert "--offset" not in argv  # the cursor says where to go on; a search takes one or the other
    assert argv[-2:] == ["--", "survey"] and argv[argv.index("--limit") : argv.index("--limit") + 2] == ["--limit", "1"]
    second = home.ok(*argv[3:-2], "--json", *argv[-2:]).json()
    assert second["total"] == 3 and len(second["hits"]) == 1
    everything = _search(home, "survey", "--filter", "kind=file")["hits"]
    assert second["hits"][0]["path"] == everything[2]["path"]  # offset 1 showed the second; this is the third


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "colour=red"], "is not KEY=VALUE"),
        (["--filter", "from=last tuesday"], "is not a date"),
        (["--filter", "to=2024-02-30"], "'2024-02-30' is not a date (day is out of range for month)"),
        (["--filter", "from=2024-13"], "'2024-13' is not a date"),
        (["--filter", "risk=dire"], "risk= takes one of"),
        (["--facet", "colour"], "is not one of"),
        (["--sort", "sideways"], "--sort 'sideways' is not one of"),
        (["--page-after", "not-a-cursor"], "cursor"),
        (["--offset", "9990", "--limit", "20"], "--page-after"),
    ],
)
def test_wrong_options_say_what_to_do(archive: tuple[Home, str], args: list[str], message: str) -> None:
    home, _ = archive
    result = home.run("search", "council", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_researcher_never_meets_a_closed_record_by_any_option(archive: tuple[Home, str]) -> None:
    home, package = archive
    closed = "objects/survey/1998-montreal.txt"
    home.ok("access", package, "--status", "closed", "--reason", "personal data", "--file", closed)
    assert closed in _paths(_search(home, "twinning"))
    as_researcher = ("--as", "researcher")
    for args in (
        ["twinning"],
        ["montreal OR drainage"],
        ["NOT drainage"],
        ["--filter", "access=closed"],
        ["--filter", "creator=Peter Müller", "--facet", "all"],
        ["--sort", "oldest", "--limit", "1"],
    ):
        data = _search(home, *args, *as_researcher)
        assert closed not in _paths(data), args
        assert all("twinning" not in (hit["snippet"] or "").lower() for hit in data["hits"]), args
        assert "closed" not in data["facets"].get("access", {}), args
    assert _search(home, "twinning", *as_researcher)["total"] == 0
    muller = _search(home, "--filter", "creator=Peter Müller", "--filter", "kind=file", "--facet", "creator",
                     *as_researcher)  # fmt: skip
    assert muller["total"] == 1 and muller["facets"]["creator"] == {"Peter Müller": 1}
