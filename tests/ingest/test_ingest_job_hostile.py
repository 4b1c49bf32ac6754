"""The staged ingest (plan -> chunks -> finalize) against what goes wrong: hostile archives, a chunk run twice at
once on two workers, a damaged chunk result, infected files, and a finalize cut off after it quarantined.

Real archive homes, real transfers, the job's own steps; clamd is the tests' own (tests/services.py).
"""

from __future__ import annotations

import io
import sqlite3
import tarfile
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from strongroom.archive import Archive
from strongroom.errors import StrongroomError, TransferError
from strongroom.ingest.phases import chunk_path, read_plan, run_chunk
from strongroom.ingest.staged_files import StagedFiles
from strongroom.jobs.inline import run_inline
from tests.conftest import EXAMPLE_TRANSFER, Home, write
from tests.ingest.test_ingest_job import (
    KIND,
    context,
    generated,
    job_for,
    package_facts,
    packages,
    params_for,
    set_chunks,
)
from tests.services import CLAMD_TEST_MARKER, clamd_socket

# --- names that are both a file and a folder ---------------------------------------------------------


def zipped(path: Path, entries: list[tuple[str, bytes | None]]) -> Path:
    """A zip of `entries`: (name, bytes), or (name ending in /, None) for a folder entry."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data or b"")
    return path


def tarred(path: Path, entries: list[tuple[str, bytes | None]]) -> Path:
    with tarfile.open(path, "w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name.rstrip("/"))
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


CONFLICTS = {
    "file-then-folder": [("objects/a.txt", b"one"), ("objects/a.txt/b.txt", b"two")],
    "folder-then-file": [("objects/a/b.txt", b"two"), ("objects/a", b"one")],
    "file-and-folder-entry": [("objects/a", b"one"), ("objects/a/", None), ("objects/c.txt", b"three")],
}


@pytest.mark.parametrize("pack", [zipped, tarred], ids=["zip", "tar"])
@pytest.mark.parametrize("entries", list(CONFLICTS.values()), ids=list(CONFLICTS))
def test_an_archive_whose_name_is_both_a_file_and_a_folder_is_refused_clearly(
    home: Home, tmp_path: Path, pack: Any, entries: list[tuple[str, bytes | None]]
) -> None:
    source = pack(tmp_path / ("transfer.zip" if pack is zipped else "transfer.tar"), entries)
    refused = home.run("ingest", str(source))  # was a FileExistsError traceback, or the file quietly dropped
    assert refused.exit_code != 0 and "Traceback" not in refused.stderr
    assert "both a file and a folder" in refused.stderr and "objects/a" in refused.stderr
    job = job_for(params_for(source))
    with pytest.raises(TransferError, match="both a file and a folder") as caught:
        run_inline(KIND, context(home, job, tmp_path / "scratch"), job.params)
    assert any(d in ("objects/a", "objects/a.txt") for d in caught.value.details)
    assert packages(home) == []


def test_an_inner_archive_whose_name_is_both_a_file_and_a_folder_is_kept_as_received(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_UNPACK_ARCHIVES", "true")
    source = tmp_path / "transfer"
    write(source / "objects" / "notes.txt", "notes")
    zipped(source / "objects" / "inner.zip", CONFLICTS["file-then-folder"])
    result = home.ingest(source)  # was a FileExistsError traceback: the whole transfer refused
    warnings = result["warnings"]
    assert isinstance(warnings, list)
    assert any("objects/inner.zip is kept as received" in w and "both a file and a folder" in w for w in warnings)
    assert result["originals"] == 2


# --- a chunk run twice at once -----------------------------------------------------------------------


def test_one_chunk_run_on_two_workers_at_once_leaves_one_whole_result(home: Home, tmp_path: Path) -> None:
    """A slow worker's lease runs out and another takes the chunk while the first still writes. Before, both
    wrote `chunk-N.sqlite.tmp`: the second unlinked the first's, and the first renamed the second's half-written
    file into place as the chunk's result (and then the second failed: its file was gone)."""
    set_chunks(home, 40)
    source = generated(tmp_path / "transfer", 40, size=2048)
    reference = home.ingest(source)
    assert KIND.plan and KIND.finalize
    job = job_for(params_for(source, allow_duplicate=True))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan(ctx, job.params) == 1
    with Archive.open(home.path) as archive:
        ingest_context = archive.ingest_context()
    gates = {name: (threading.Event(), threading.Event()) for name in ("first", "second")}
    errors: dict[str, BaseException] = {}

    def worker(name: str) -> None:
        paused, go = gates[name]

        def progress(step: str, done: int, total: int | None) -> None:
            if done == 10 and not paused.is_set():
                paused.set()
                assert go.wait(60)

        try:
            run_chunk(ingest_context, ctx.scratch, 0, progress=progress)
        except BaseException as err:
            errors[name] = err

    first = threading.Thread(target=worker, args=("first",))
    second = threading.Thread(target=worker, args=("second",))
    first.start()
    assert gates["first"][0].wait(60)  # the first worker is a quarter through the chunk
    second.start()
    assert gates["second"][0].wait(60)  # the second has begun it too
    gates["first"][1].set()
    first.join(120)
    assert "first" not in errors, errors
    result = StagedFiles(chunk_path(ctx.scratch, 0), existing=True)
    try:
        assert result.count == 40  # the first run's whole result, not the second's half
        assert result.meta("problems") == []
    finally:
        result.close()
    gates["second"][1].set()
    second.join(120)
    assert "second" not in errors, errors  # its result stands whole too; it replaced an equal one, or none
    assert sorted(p.name for p in (ctx.scratch / "chunks").iterdir()) == ["chunk-000000.sqlite"]
    assert not any((ctx.scratch / "copying").iterdir())
    done = KIND.finalize(ctx, job.params)
    assert package_facts(home, str(done["package"])) == package_facts(home, str(reference["package"]))


def test_a_chunk_cut_off_leaves_its_copies_out_of_the_bag(home: Home, tmp_path: Path) -> None:
    """Copies are written beside the bag and renamed in whole: a reader of the bag never sees one cut short."""
    set_chunks(home, 40)
    source = generated(tmp_path / "transfer", 20, size=2048)
    job = job_for(params_for(source))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan and KIND.plan(ctx, job.params) == 1
    with Archive.open(home.path) as archive:
        ingest_context = archive.ingest_context()

    def stop(step: str, done: int, total: int | None) -> None:
        if done == 5:
            raise KeyboardInterrupt  # the worker stops here

    with pytest.raises(KeyboardInterrupt):
        run_chunk(ingest_context, ctx.scratch, 0, progress=stop)
    copies = sorted(p for p in (ctx.scratch / "bag" / "data").rglob("*") if p.is_file())
    assert len(copies) == 5
    assert all(
        p.stat().st_size == (source / p.relative_to(ctx.scratch / "bag" / "data")).stat().st_size for p in copies
    )
    assert not chunk_path(ctx.scratch, 0).exists()
    assert not list((ctx.scratch / "chunks").glob("*.tmp"))
    assert not any((ctx.scratch / "copying").iterdir())


# --- a damaged chunk result ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "empty", "no-meta"])
def test_a_damaged_chunk_result_stops_finalize_with_a_clear_error_and_stores_nothing(
    home: Home, tmp_path: Path, damage: str
) -> None:
    set_chunks(home, 10)
    source = generated(tmp_path / "transfer", 30)
    job = job_for(params_for(source))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan and KIND.chunk and KIND.finalize
    chunks = KIND.plan(ctx, job.params)
    assert chunks >= 3
    for n in range(chunks):
        KIND.chunk(ctx, job.params, n)
    part = chunk_path(ctx.scratch, 1)
    if damage == "garbage":
        part.write_bytes(b"this is not a database" * 100)
    elif damage == "empty":
        part.write_bytes(b"")
    else:
        with sqlite3.connect(part) as db:
            db.execute("DELETE FROM meta WHERE key = 'checks'")
        db.close()
    with pytest.raises(StrongroomError) as caught:  # was sqlite3.DatabaseError or KeyError: no words for a person
        KIND.finalize(ctx, job.params)
    assert caught.value.message.startswith("The result of chunk-000001 of the ingest cannot be read")
    assert "nothing was stored" in caught.value.message
    assert "ingest again" in " ".join(caught.value.details)
    assert packages(home) == []


# --- infected files through the job --------------------------------------------------------------------


@pytest.fixture
def scanned(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("STRONGROOM_CLAMD_SOCKET", str(clamd_socket()))
    monkeypatch.setenv("STRONGROOM_VIRUS_SCAN", "required")
    return home


def infected_transfer(tmp_path: Path) -> Path:
    source = tmp_path / "transfer"
    import shutil

    shutil.copytree(EXAMPLE_TRANSFER, source)
    write(source / "objects" / "macro.txt", b"text before " + CLAMD_TEST_MARKER + b" and after\n")
    return source


def test_an_infected_transfer_refused_through_the_job_leaves_nothing_stored_or_quarantined(
    scanned: Home, tmp_path: Path
) -> None:
    set_chunks(scanned, 2)
    job = job_for(params_for(infected_transfer(tmp_path)))
    with pytest.raises(TransferError, match="carry a virus") as caught:
        run_inline(KIND, context(scanned, job, tmp_path / "scratch"), job.params)
    assert any("objects/macro.txt" in d for d in caught.value.details)
    assert packages(scanned) == []
    quarantine = scanned.path / "quarantine"
    assert not quarantine.exists() or not any(p.is_file() for p in quarantine.rglob("*"))


def test_a_finalize_cut_off_after_it_quarantined_runs_again_and_quarantines_once(
    scanned: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRONGROOM_INFECTED", "quarantine")
    set_chunks(scanned, 2)
    job = job_for(params_for(infected_transfer(tmp_path)))
    ctx = context(scanned, job, tmp_path / "scratch")
    assert KIND.plan and KIND.chunk and KIND.finalize
    for n in range(KIND.plan(ctx, job.params)):
        KIND.chunk(ctx, job.params, n)
    commit = Archive.commit

    def died(self: Archive, *args: Any, **kwargs: Any) -> Any:
        raise SystemExit("the worker died before it stored")

    monkeypatch.setattr(Archive, "commit", died)
    with pytest.raises(SystemExit):
        KIND.finalize(ctx, job.params)
    plan = read_plan(ctx.scratch)
    assert plan is not None
    quarantined = scanned.path / "quarantine" / plan.package / "objects" / "macro.txt"
    assert quarantined.is_file()  # moved before the commit, as strongroom ingest does
    monkeypatch.setattr(Archive, "commit", commit)
    result = KIND.finalize(ctx, job.params)  # was FileNotFoundError: the file had left the bag already
    assert result["package"] == plan.package
    assert [p for p in (scanned.path / "quarantine").rglob("*") if p.is_file()] == [quarantined]
    assert (quarantined.stat().st_mode & 0o777) == 0o400
    assert quarantined.read_bytes() == b"text before " + CLAMD_TEST_MARKER + b" and after\n"
    warnings = result["warnings"]
    assert isinstance(warnings, list) and any("quarantine" in w and "objects/macro.txt" in w for w in warnings)
    shown = scanned.ok("show", plan.package, "--json", "--all-files").json()
    assert isinstance(shown, dict)
    assert "objects/macro.txt" not in {f["path"] for f in shown["files"]}
    assert [e["type"] for e in shown["events"]].count("quarantine") == 1
    assert scanned.ok("verify", plan.package, "--json").json()["problems"] == []  # type: ignore[index]


# --- migrate_on_ingest through the job ---------------------------------------------------------------------


def test_a_finalize_cut_off_between_storing_and_migrating_migrates_when_run_again(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.preservation import migrate
    from tests.preservation.test_migrate import image_transfer

    monkeypatch.setenv("STRONGROOM_MIGRATE_ON_INGEST", "1")
    job = job_for(params_for(image_transfer(tmp_path, ("tga",))))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan and KIND.chunk and KIND.finalize
    for n in range(KIND.plan(ctx, job.params)):
        KIND.chunk(ctx, job.params, n)
    normalize = migrate.normalize_ingested

    def died(*args: Any, **kwargs: Any) -> Any:
        raise SystemExit("the worker died after storing version 1")

    monkeypatch.setattr(migrate, "normalize_ingested", died)
    with pytest.raises(SystemExit):
        KIND.finalize(ctx, job.params)
    monkeypatch.setattr(migrate, "normalize_ingested", normalize)
    result = KIND.finalize(ctx, job.params)  # was: version 1 reported, and never migrated
    assert result["version"] == 2
    assert result["normalization"] == [
        "Normalization: version 2 made with 2 derivative(s) (access, preservation); version 1 keeps the originals as "
        "received."
    ]
    with Archive.open(home.path) as archive:
        assert [v.number for v in archive.catalog.versions(str(result["package"]))] == [1, 2]
    assert KIND.finalize(ctx, job.params) == result  # and once more: the stored result, nothing made twice


# --- retention through the job ----------------------------------------------------------------------------


def test_the_retention_column_of_metadata_csv_is_assigned_through_the_job(home: Home, tmp_path: Path) -> None:
    from tests.records.test_retention import _assignment, _schedules, _transfer

    _schedules(home, tmp_path)
    source = _transfer(tmp_path, "column", "filename,dc.title,retention\nobjects,With a column,CLOSE-1\n")
    job = job_for(params_for(source))
    result = run_inline(KIND, context(home, job, tmp_path / "scratch"), job.params)
    with home.archive() as archive:
        assert _assignment(archive, str(result["package"])) == ("CLOSE-1", 1, "metadata")
    disagreeing = _transfer(tmp_path, "refused", "filename,retention\nobjects,CLOSE-1\n")
    job = job_for(params_for(disagreeing, retention="KEEP"))
    with pytest.raises(StrongroomError, match=r"--retention says 'KEEP'; the retention column of metadata\.csv says"):
        run_inline(KIND, context(home, job, tmp_path / "scratch-2"), job.params)
    assert packages(home) == [result["package"]]


# --- cancelled mid-chunks ----------------------------------------------------------------------------------


def test_an_ingest_cancelled_mid_chunks_stores_nothing_and_leaves_no_scratch(home: Home, tmp_path: Path) -> None:
    import time

    from strongroom.jobs.model import JobState
    from strongroom.jobs.runners import open_runner

    set_chunks(home, 50)
    source = generated(tmp_path / "transfer", 1500, size=4096)
    runner = open_runner(home.path, workers=2)
    try:
        job = runner.submit("ingest", params_for(source), "test", "Ingest, then cancel")
        deadline = time.monotonic() + 120
        while runner.get(job.id).chunks_done in (None, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.get(job.id).chunks_done, "no chunk finished in time"
        runner.cancel(job.id)
        done = runner.wait(job.id, timeout=120)
    finally:
        runner.close()
    assert done.state is JobState.CANCELLED, (done.state, done.error)
    assert (done.chunks_done or 0) < 30  # cut off mid-chunks, not after them
    assert packages(home) == []
    with home.archive() as archive:
        assert list(archive.ocfl.object_ids()) == []
    assert not (home.path / "jobs" / job.id).exists()
