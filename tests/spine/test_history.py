"""The archive never loses its own history: the journal keeps every later event, and rebuild restores it all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_TRANSFER, Home, drop_catalog, ocfl_validate, write

CSV = "filename,dc.title\nobjects,Revised title\n"


def drop_catalog_and_index(home: Home) -> None:
    drop_catalog(home)
    (home.path / "search.sqlite").unlink()


@pytest.mark.slow
def test_verify_then_rebuild_loses_nothing(home: Home, tmp_path: Path) -> None:
    first = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    home.ok("verify", "--all")
    home.ok("update", first, "--metadata", str(write(tmp_path / "m.csv", CSV)), "--reason", "typo")
    home.ok("verify", first)
    home.ok("access", first, "--file", "objects/minutes", "--status", "closed", "--reason", "personal data",
            "--until", "2099-01-01")  # fmt: skip
    before_list = home.ok("list", "--json").json()
    before_show = home.ok("show", first, "--json").json()
    before_search = home.ok("search", "minutes", "--json", "--as", "researcher").json()
    assert isinstance(before_show, dict)
    fixity = [e for e in before_show["events"] if e["type"] == "fixity check" and e["file"] is None]
    assert len(fixity) == 2  # two verifies, one event each for the package's one location (no damage)
    assert all("in location primary, no problems" in e["detail"] for e in fixity)
    drop_catalog_and_index(home)
    assert home.ok("list", "--json").json() == []
    rebuilt = home.ok("rebuild", "--json").json()
    assert isinstance(rebuilt, dict)
    journal = home.ok("journal", "verify", "--json").json()
    assert isinstance(journal, dict)
    # one fixity check of v1, one of v2, and the access change
    assert rebuilt["packages"] == 1 and rebuilt["journal_entries"] == journal["entries"] == 1 + 1 + 1
    assert home.ok("list", "--json").json() == before_list
    after_show = home.ok("show", first, "--json").json()
    assert isinstance(after_show, dict)
    for key in before_show:
        if key != "indexed":
            assert after_show[key] == before_show[key], key
    assert home.ok("search", "minutes", "--json", "--as", "researcher").json() == before_search
    ocfl_validate(home)


def test_journal_verify_names_an_edited_entry(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    for _ in range(4):
        home.ok("verify", package)
    clean = home.ok("journal", "verify", "--json").json()
    assert isinstance(clean, dict)
    assert clean["problems"] == [] and clean["entries"] == 4
    batches = sorted((home.path / "storage" / "journal").glob("*.jsonl"))
    assert len(batches) == 4
    target = batches[1]  # an entry in the middle of the chain
    target.chmod(0o644)
    lines = target.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[0])
    entry["event"]["outcome"] = "failure"  # someone hides a failed check... or invents one
    lines[0] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = home.run("journal", "verify")
    assert result.exit_code == 1
    assert f"entry {entry['sequence']}" in result.stdout
    assert "edited" in result.stdout
    as_json = home.run("journal", "verify", "--json")
    assert as_json.exit_code == 1
    problem = as_json.json()["problems"][0]  # type: ignore[index]
    assert problem["sequence"] == entry["sequence"] and problem["kind"] == "edited"


def test_access_closes_a_record_for_researchers_only(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    assert home.ok("search", "village", "--json", "--as", "researcher").json()["total"] >= 1  # type: ignore[index]
    home.ok("access", package, "--file", "objects/village-hall.png", "--status", "closed", "--reason", "donor")
    researcher = home.ok("search", "village", "--json", "--as", "researcher").json()
    assert isinstance(researcher, dict)
    assert all(h["path"] != "objects/village-hall.png" for h in researcher["hits"])
    assert "closed" not in researcher["facets"].get("access", {})
    archivist = home.ok("search", "village", "--json").json()
    assert isinstance(archivist, dict)
    closed = [h for h in archivist["hits"] if h["path"] == "objects/village-hall.png"]
    assert closed and closed[0]["access"] == "closed"
    unknown = home.ok("search", "village", "--json", "--as", "nobody-in-particular").json()
    assert unknown == researcher
    shown = home.ok("show", package, "--json").json()
    assert shown["access"][0]["status"] == "closed"  # type: ignore[index]
    assert any(e["type"] == "access status change" for e in shown["events"])  # type: ignore[index]
    reopened = home.ok("access", package, "--file", "objects/village-hall.png", "--status", "open", "--reason", "ok")
    assert "open" in reopened.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "objects/nothing-here.txt", "--status", "closed", "--reason", "x"], "no file or folder"),
        (["--status", "closed", "--reason", "x", "--until", "next week"], "YYYY-MM-DD"),
        (["--status", "open", "--reason", "x", "--until", "2030-01-01"], "opening date"),
        (["--status", "closed", "--reason", "  "], "reason"),
    ],
)
def test_access_refuses_bad_requests(home: Home, args: list[str], message: str) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    result = home.run("access", package, *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert home.ok("show", package, "--json").json()["access"] == []  # type: ignore[index]


def test_the_next_version_records_access_in_its_mets(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    home.ok("access", package, "--file", "objects/minutes", "--status", "closed", "--reason", "personal data",
            "--until", "2099-01-01")  # fmt: skip
    home.ok("update", package, "--metadata", str(write(tmp_path / "m.csv", CSV)), "--reason", "retitled")
    home.ok("export", package, str(tmp_path / "out"))
    (bag,) = list((tmp_path / "out").iterdir())
    mets = (bag / "data" / f"METS.{package}.xml").read_text(encoding="utf-8")
    assert "<dcterms:accessRights>closed: personal data (opens 2099-01-01)</dcterms:accessRights>" in mets
    assert "access status change" in mets  # the journal's event, now in the package's own record
    shown = home.ok("show", package, "--json").json()
    assert shown["access"][0]["path"] == "objects/minutes"  # type: ignore[index]


def test_search_finds_records_not_the_packages_own_files_unless_asked(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    records = home.ok("search", "metadata", "--json").json()
    assert isinstance(records, dict)
    assert all(h["role"] in (None, "original") for h in records["hits"])
    everything = home.ok("search", "metadata", "--include-housekeeping", "--json").json()
    assert isinstance(everything, dict)
    paths = {h["path"] for h in everything["hits"]}
    assert "metadata/metadata.csv" in paths and everything["total"] > records["total"]
    mets = home.ok("search", "METS", "--include-housekeeping", "--package", package, "--json").json()
    assert any(h["path"] == f"METS.{package}.xml" for h in mets["hits"])  # type: ignore[index]


def test_journal_verify_notices_entries_removed_from_the_end(home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    home.ok("verify", package)
    home.ok("verify", package)
    batches = sorted((home.path / "storage" / "journal").glob("*.jsonl"))
    batches[-1].chmod(0o644)
    batches[-1].unlink()  # the chain of what is left is intact: only the catalog's anchor can tell
    result = home.run("journal", "verify", "--json")
    assert result.exit_code == 1
    problem = result.json()["problems"][0]  # type: ignore[index]
    assert problem["kind"] == "missing" and "removed from its end" in problem["detail"]
    assert problem["sequence"] == 2  # one fixity-check entry per verify: the second is gone


def test_journal_verify_notices_a_rewritten_last_entry(home: Home) -> None:
    import hashlib

    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    home.ok("verify", package)
    (batch,) = sorted((home.path / "storage" / "journal").glob("*.jsonl"))
    batch.chmod(0o644)
    lines = batch.read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[-1])
    entry["event"]["outcome"] = "failure"
    del entry["digest"]  # a careful forger recomputes the digest, so the chain itself stays valid
    body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    entry["digest"] = hashlib.sha256(body.encode()).hexdigest()
    lines[-1] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    batch.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = home.run("journal", "verify", "--json")
    assert result.exit_code == 1
    problems = result.json()["problems"]  # type: ignore[index]
    assert [p["kind"] for p in problems] == ["edited"]
    assert problems[0]["sequence"] == entry["sequence"] and "rewritten" in problems[0]["detail"]
