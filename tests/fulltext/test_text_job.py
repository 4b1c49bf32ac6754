"""`strongroom text` and the extract-text job: records stored without text become searchable (real PDFium),
each step safe to run twice, one new version per package."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.fulltext.job import EXTRACT_TEXT, PLAN_FILE, text_kind
from strongroom.fulltext.paths import text_path
from strongroom.ingest.provenance import text_event_uuid
from strongroom.jobs.inline import InlineContext
from strongroom.jobs.model import JobRecord, JobState
from strongroom.jobs.scratch import read_json
from strongroom.model import FileRole
from strongroom.preservation.actions import Purpose, derivation_event_uuid
from tests.conftest import Home, ocfl_validate, write
from tests.preservation.migrate_helpers import _derivation_of, export_and_check
from tests.preservation.samples import write_pdf

KIND = text_kind("run-preservation")


def transfer(folder: Path, word: str) -> Path:
    (folder / "objects").mkdir(parents=True)
    write_pdf(folder / "objects" / "minutes.pdf", f"Council minutes {word} harbour")
    write(folder / "objects" / "notes" / "plain.txt", f"Plain notes about the {word}lighthouse.\n")
    write(folder / "objects" / "photo.bin", b"\x00\x01 no text here")
    return folder


def context(home: Home, tmp_path: Path, params: Mapping[str, Any]) -> InlineContext:
    job = JobRecord(id=str(uuid.uuid4()), kind=EXTRACT_TEXT, title="t", owner="test", params=dict(params),
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    scratch = tmp_path / "scratch" / job.id
    scratch.mkdir(parents=True)
    return InlineContext(job, home.path, scratch)


def found(home: Home, word: str) -> int:
    result = home.ok("search", word, "--as", "admin", "--json").json()
    assert isinstance(result, dict)
    return int(result["total"])


def test_every_step_twice_makes_one_version_and_the_pdf_word_searchable(home: Home, tmp_path: Path) -> None:
    word = "qx" + uuid.uuid4().hex[:10]
    package = str(home.ingest(transfer(tmp_path / "t", word))["package"])
    assert found(home, word) == 0, "ingested without text: not searchable yet"
    with home.archive() as archive:
        assert not any(f.role is FileRole.TEXT for f in archive.catalog.files(package))
    params = {"packages": [package], "operator": "test-archivist"}
    ctx = context(home, tmp_path, params)
    assert KIND.plan and KIND.chunk and KIND.finalize and KIND.resumable and KIND.tools == ()
    chunks = KIND.plan(ctx, params)
    assert chunks == 1
    planned = {i["path"] for chunk in read_json(ctx.scratch / PLAN_FILE)["chunks"] for i in chunk}
    assert planned == {"objects/minutes.pdf", "objects/notes/plain.txt"}
    for _ in range(2):
        KIND.chunk(ctx, params, 0)
    result = KIND.finalize(ctx, params)
    assert KIND.finalize(ctx, params) == result, "a finalize run again stores nothing more"
    (done,) = result["packages"]
    assert done["version"] == 2 and done["extracted"] == 2 and done["error"] is None and result["ok"] is True
    assert result["totals"]["versions_made"] == 1
    assert found(home, word) == 1, "the PDF's word is found now"
    with home.archive() as archive:
        versions = archive.catalog.versions(package)
        assert [v.number for v in versions] == [1, 2] and versions[-1].message.endswith(f"[job {ctx.job.id}]")
        texts = {f.path for f in archive.catalog.files(package) if f.role is FileRole.TEXT}
        assert texts == {text_path("objects/minutes.pdf"), text_path("objects/notes/plain.txt")}
        events = archive.catalog.events(package)
        assert len({e.uuid for e in events}) == len(events)
        made = [e for e in events if e.type == "creation" and "PDFium" in e.detail]
        assert len(made) == 1 and "text kept as" in made[0].outcome_detail
    assert home.ok("verify", package, "--json").json()["problems"] == []  # type: ignore[index]
    ocfl_validate(home)
    bag = export_and_check(home, package, tmp_path / "export")  # a valid bag and METS; each text linked to its record
    assert word in (bag / "data" / text_path("objects/minutes.pdf")).read_text(encoding="utf-8")
    again = home.ok("text", package, "--json").json()
    assert isinstance(again, dict) and again["packages"] == [] and again["totals"]["versions_made"] == 0


def test_the_command_takes_every_package_missing_text(home: Home, tmp_path: Path) -> None:
    words = ["qy" + uuid.uuid4().hex[:10] for _ in range(2)]
    packages = [str(home.ingest(transfer(tmp_path / f"t{n}", w))["package"]) for n, w in enumerate(words)]
    refused = home.run("text")
    assert refused.exit_code == 2 and "--all-missing" in refused.stderr
    result = home.ok("text", "--all-missing", "--json").json()
    assert isinstance(result, dict)
    assert sorted(p["package"] for p in result["packages"]) == sorted(packages)
    assert result["totals"]["versions_made"] == 2 and result["totals"]["extracted"] == 4
    assert all(found(home, w) == 1 for w in words)
    shown = home.ok("text", "--all-missing")
    assert "Nothing to do" in shown.stdout


def test_the_embedded_runner_runs_the_submitted_job(home: Home, tmp_path: Path) -> None:
    from strongroom.jobs.runners import open_runner

    word = "qv" + uuid.uuid4().hex[:10]
    package = str(home.ingest(transfer(tmp_path / "t", word))["package"])
    runner = open_runner(home.path, workers=1)
    try:
        job = runner.submit(EXTRACT_TEXT, {"packages": [package], "operator": "test-archivist"}, "test", "Text")
        done = runner.wait(job.id, 300)
    finally:
        runner.close()
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.chunks_total == done.chunks_done == 1
    assert done.result is not None and done.result["totals"]["versions_made"] == 1
    assert found(home, word) == 1
    assert not (home.path / "jobs" / job.id).exists(), "the runner removes the job's scratch folder"


def test_a_text_added_later_links_in_mets_to_the_event_that_made_it_not_the_ingest_s_not_extracted(
    home: Home, tmp_path: Path
) -> None:
    word = "qw" + uuid.uuid4().hex[:10]
    source = tmp_path / "t"
    (source / "objects").mkdir(parents=True)
    write_pdf(source / "objects" / "minutes.pdf", f"Council minutes {word} harbour")
    empty = tmp_path / "no-tools"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as mp:  # text asked for at ingest, but PDFium's helper is not there
        mp.setenv("STRONGROOM_EXTRACT_TEXT", "1")
        mp.setattr("strongroom.fulltext.pdfium.HELPER", tmp_path / "no-such-helper.py")
        mp.setenv("PATH", str(empty))
        mp.setenv("STRONGROOM_TOOLS_DIR", str(empty))
        package = str(home.ingest(source)["package"])
    with home.archive() as archive:
        (original,) = [f for f in archive.catalog.files(package) if f.role is FileRole.ORIGINAL]
        logged = {e.uuid: e for e in archive.catalog.events(package)}
    assert "PDFium's helper did not start" in logged[text_event_uuid(original.uuid)].outcome_detail
    params = {"packages": [package], "operator": "test-archivist"}
    ctx = context(home, tmp_path, params)
    assert KIND.plan and KIND.chunk and KIND.finalize
    assert KIND.plan(ctx, params) == 1
    KIND.chunk(ctx, params, 0)
    assert KIND.finalize(ctx, params)["totals"]["versions_made"] == 1
    with home.archive() as archive:
        (text,) = [f for f in archive.catalog.files(package) if f.role is FileRole.TEXT]
    bag = export_and_check(home, package, tmp_path / "export")
    link = _derivation_of(bag / "data" / f"METS.{package}.xml", text.uuid)
    made = derivation_event_uuid(original.uuid, Purpose.TEXT, text.sha256)
    assert link == (original.uuid, made), "the text names the event that made it, not the ingest's failed try"
