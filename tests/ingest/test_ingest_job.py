"""Ingest as a staged job (plan -> chunks -> finalize): the same package as `strongroom ingest`, whatever
is delivered twice, cut off or run again.

The job's steps run here through jobs/inline (its reference meaning) or by hand, step by step, over a real
archive home, real transfers (the shared sample transfers and generated ones) and a real scratch folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.commit import object_id
from strongroom.errors import TransferError
from strongroom.ingest.job import INGEST_KIND, JOB_KINDS, ingest_params, options_from_params
from strongroom.ingest.phases import ChunkLimits, chunk_path, cut_chunks, package_for_job, read_plan
from strongroom.ingest.pipeline import IngestOptions
from strongroom.jobs.inline import InlineContext, run_inline
from strongroom.jobs.model import JobKind, JobRecord, JobState
from strongroom.metadata.reader import read_mets
from tests.conftest import CORPUS, Home, requires_corpus, write

KIND: JobKind = next(k for k in JOB_KINDS if k.name == INGEST_KIND)
DEMO = CORPUS / "DemoTransferCSV"  # checksum files in four algorithms, metadata.csv and rights.csv


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """DemoTransferCSV whole: its checksum files without the lines naming files the corpus leaves out."""
    copy = tmp_path / "DemoTransferCSV"
    shutil.copytree(DEMO, copy)
    for checksums in (copy / "metadata").glob("checksum.*"):
        lines = checksums.read_text(encoding="utf-8").splitlines()
        kept = [line for line in lines if line.strip() and (copy / "objects" / line.split(maxsplit=1)[1]).exists()]
        assert 0 < len(kept) < len(lines)
        checksums.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return copy


def set_chunks(home: Home, files: int, chunk_bytes: int | None = None) -> None:
    config = home.path / "strongroom.toml"
    extra = f"\n[jobs]\nchunk_files = {files}\n" + (f"chunk_bytes = {chunk_bytes}\n" if chunk_bytes else "")
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")


def job_for(params: dict[str, Any]) -> JobRecord:
    return JobRecord(id=str(uuid.uuid4()), kind=INGEST_KIND, title="Ingest", owner="test", params=params,
                     state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip


def context(home: Home, job: JobRecord, scratch: Path) -> InlineContext:
    scratch.mkdir(parents=True, exist_ok=True)
    return InlineContext(job, home.path, scratch)


def params_for(source: Path, **options: Any) -> dict[str, Any]:
    return ingest_params(source, IngestOptions(operator="test-archivist", **options))


def package_facts(home: Home, package: str) -> dict[str, Any]:
    """What a package holds, without what differs between any two ingests (its ids and times)."""
    with home.archive() as archive:
        summary = archive.package(package)
        files = sorted(archive.catalog.files(package), key=lambda f: f.path)
        by_uuid = {f.uuid: f.path for f in files}
        events = Counter((e.type, e.outcome.value, by_uuid.get(e.file_uuid or "", "")) for e in
                         archive.catalog.events(package))  # fmt: skip
        descriptions = sorted((d.target, sorted(d.elements.items())) for d in archive.catalog.descriptions(package))
        with archive.ocfl.open(object_id(package), f"data/METS.{package}.xml", 1) as source:
            mets = home.path.parent / f"mets-{package}.xml"
            mets.write_bytes(source.read())
    document = read_mets(mets)
    return {
        "name": summary.name,
        "files": [
            (f.path, f.sha256, f.size, f.role.value, f.identification.puid if f.identification else None)
            for f in files
            if not f.path.startswith("METS.")
        ],
        "events": events,
        "descriptions": descriptions,
        "mets_files": sorted((f.path, f.sha256, f.size) for f in document.files),
        "mets_descriptions": sorted((d.target, sorted(d.elements.items())) for d in document.descriptions),
        "mets_rights": len(document.rights),
        "mets_events": Counter((e.type, e.outcome.value) for e in document.events),
        "payload": document.payload_sha256,
    }


def packages(home: Home) -> list[str]:
    with home.archive() as archive:
        return [p.uuid for p in archive.catalog.packages()]


@requires_corpus()
def test_the_job_stores_what_strongroom_ingest_stores(home: Home, tmp_path: Path, demo: Path) -> None:
    set_chunks(home, 3)  # DemoTransferCSV's 11 files (with metadata and checksum files): four chunks
    reference = home.ingest(demo)
    steps: list[str] = []
    job = job_for(params_for(demo, allow_duplicate=True))
    ctx = InlineContext(job, home.path, tmp_path / "scratch", lambda step, done, total: steps.append(step))
    ctx.scratch.mkdir()
    result = run_inline(KIND, ctx, job.params)
    assert result["package"] == package_for_job(job.id)
    assert len(read_plan(ctx.scratch).chunks) == 4  # type: ignore[union-attr]
    assert {k: result[k] for k in ("files", "bytes", "originals", "kind", "name", "version")} == {
        k: reference[k] for k in ("files", "bytes", "originals", "kind", "name", "version")
    }
    assert result["warnings"] == reference["warnings"]
    assert package_facts(home, str(result["package"])) == package_facts(home, str(reference["package"]))
    assert "Writing METS" in steps and "Storing" in steps
    verify = home.ok("verify", str(result["package"]), "--json").json()
    assert isinstance(verify, dict) and not verify.get("problems"), verify


@requires_corpus()
def test_every_step_delivered_twice_makes_one_identical_package(home: Home, tmp_path: Path, demo: Path) -> None:
    set_chunks(home, 4)
    reference = home.ingest(demo)
    assert KIND.plan and KIND.chunk and KIND.finalize
    job = job_for(params_for(demo, allow_duplicate=True))
    ctx = context(home, job, tmp_path / "scratch")
    chunks = KIND.plan(ctx, job.params)
    assert KIND.plan(ctx, job.params) == chunks == 3  # the finished plan, not a new one
    for n in range(chunks):
        KIND.chunk(ctx, job.params, n)
        KIND.chunk(ctx, job.params, n)
    first = KIND.finalize(ctx, job.params)
    second = KIND.finalize(ctx, job.params)
    assert first == second
    assert packages(home).count(str(first["package"])) == 1
    assert len(packages(home)) == 2
    assert package_facts(home, str(first["package"])) == package_facts(home, str(reference["package"]))
    results = sorted(p.name for p in (ctx.scratch / "chunks").iterdir())
    assert results == [f"chunk-{n:06d}.sqlite" for n in range(chunks)]  # one result each, no stray file
    with home.archive() as archive:
        paths = [f.path for f in archive.catalog.files(str(first["package"]))]
    assert len(paths) == len(set(paths)) == first["files"]


@requires_corpus()
def test_a_plan_cut_off_halfway_starts_again_clean(home: Home, tmp_path: Path, demo: Path) -> None:
    set_chunks(home, 5)
    assert KIND.plan
    job = job_for(params_for(demo, allow_duplicate=True))
    ctx = context(home, job, tmp_path / "scratch")
    chunks = KIND.plan(ctx, job.params)
    (ctx.scratch / "plan.json").unlink()  # as if cut off just before the plan was written
    write(ctx.scratch / "transfer" / "stray.txt", "left by the run that was cut off")
    assert KIND.plan(ctx, job.params) == chunks
    assert not (ctx.scratch / "transfer" / "stray.txt").exists()
    result = run_inline(KIND, ctx, job.params)
    assert result["originals"] == sum(1 for p in (demo / "objects").rglob("*") if p.is_file())


GENERATED_CHUNK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from strongroom.archive import Archive
    from strongroom.ingest.phases import run_chunk

    with Archive.open(Path(sys.argv[1])) as archive:
        context = archive.ingest_context()
    run_chunk(context, Path(sys.argv[2]), 0, progress=lambda step, done, total: print(done, flush=True))
    """
)


def generated(folder: Path, count: int, size: int = 64) -> Path:
    for i in range(count):
        write(folder / "objects" / f"d{i // 100:03d}" / f"file-{i:05d}.txt", f"{i:08d}\n".encode() * (size // 9 + 1))
    return folder


def test_a_chunk_killed_halfway_runs_again_to_the_same_package(home: Home, tmp_path: Path) -> None:
    set_chunks(home, 400)
    source = generated(tmp_path / "transfer", 600, size=4096)
    reference = home.ingest(source)
    assert KIND.plan and KIND.chunk and KIND.finalize
    job = job_for(params_for(source, allow_duplicate=True))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan(ctx, job.params) == 2
    script = tmp_path / "chunk.py"
    script.write_text(GENERATED_CHUNK, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker = subprocess.Popen([sys.executable, str(script), str(home.path), str(ctx.scratch)], env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert worker.stdout is not None
    done = 0
    deadline = time.monotonic() + 120
    while done < 50 and time.monotonic() < deadline:
        line = worker.stdout.readline()
        if not line:
            break
        done = int(line)
    os.kill(worker.pid, signal.SIGKILL)  # the worker dies, as its machine would, mid-chunk
    worker.wait()
    assert 50 <= done < 400, f"the chunk was not cut off halfway ({done} files done)"
    assert not chunk_path(ctx.scratch, 0).exists()
    assert len(list(chunk_path(ctx.scratch, 0).parent.glob("chunk-000000.sqlite.*.tmp"))) == 1  # the killed run's
    for n in range(2):
        KIND.chunk(ctx, job.params, n)
    result = KIND.finalize(ctx, job.params)
    assert sorted(p.name for p in (ctx.scratch / "chunks").iterdir()) == ["chunk-000000.sqlite", "chunk-000001.sqlite"]
    copied = [p for p in (ctx.scratch / "bag" / "data").rglob("*") if p.is_file()]
    assert len(copied) == 601  # the 600 copies (each once, the killed run's overwritten) and the METS
    assert package_facts(home, str(result["package"])) == package_facts(home, str(reference["package"]))


@requires_corpus()
def test_a_lost_chunk_result_is_made_again(home: Home, tmp_path: Path, demo: Path) -> None:
    set_chunks(home, 4)
    reference = home.ingest(demo)
    assert KIND.plan and KIND.chunk and KIND.finalize
    job = job_for(params_for(demo, allow_duplicate=True))
    ctx = context(home, job, tmp_path / "scratch")
    chunks = KIND.plan(ctx, job.params)
    for n in range(chunks):
        KIND.chunk(ctx, job.params, n)
    chunk_path(ctx.scratch, 1).unlink()
    KIND.chunk(ctx, job.params, 1)
    result = KIND.finalize(ctx, job.params)
    assert package_facts(home, str(result["package"])) == package_facts(home, str(reference["package"]))


@requires_corpus()
def test_finalize_after_its_worker_died_returns_the_package_it_stored(home: Home, tmp_path: Path, demo: Path) -> None:
    set_chunks(home, 200)
    job = job_for(params_for(demo))
    ctx = context(home, job, tmp_path / "scratch")
    first = run_inline(KIND, ctx, job.params)
    (ctx.scratch / "result.json").unlink()  # the worker died after the commit, before anything said so
    again = KIND.finalize(ctx, job.params)  # type: ignore[misc]
    assert again["package"] == first["package"]
    assert (again["files"], again["bytes"], again["version"]) == (first["files"], first["bytes"], first["version"])
    assert packages(home) == [first["package"]]


@requires_corpus()
def test_a_bad_supplied_checksum_refuses_the_transfer_with_the_words_of_strongroom_ingest(
    home: Home, tmp_path: Path, demo: Path
) -> None:
    source = demo
    (source / "objects" / "piiTestDataCreditCardNumbers.txt").write_text("changed after the checksums were made")
    refused = home.run("ingest", str(source), "--json")
    assert refused.exit_code != 0
    set_chunks(home, 3)
    job = job_for(params_for(source))
    ctx = context(home, job, tmp_path / "scratch")
    with pytest.raises(TransferError) as caught:
        run_inline(KIND, ctx, job.params)
    assert (
        caught.value.message
        == f"The transfer DemoTransferCSV failed its checksum checks: {4} problem(s); nothing was stored."
    )
    assert caught.value.message in refused.stderr
    assert all(detail in refused.stderr for detail in caught.value.details)
    assert any("piiTestDataCreditCardNumbers.txt" in d for d in caught.value.details)
    assert packages(home) == []


def test_2500_files_in_chunks_of_200_make_13_chunks(home: Home, tmp_path: Path) -> None:
    set_chunks(home, 200)
    source = generated(tmp_path / "transfer", 2500, size=16)
    assert KIND.plan
    job = job_for(params_for(source))
    ctx = context(home, job, tmp_path / "scratch")
    assert KIND.plan(ctx, job.params) == 13
    plan = read_plan(ctx.scratch)
    assert plan is not None and [files for files, _ in plan.chunks] == [200] * 12 + [100]
    assert sorted(p.name for p in (ctx.scratch / "plan").iterdir()) == [f"chunk-{n:06d}.json" for n in range(13)]


def test_chunks_hold_at_most_their_bytes_and_a_larger_file_goes_alone() -> None:
    limits = ChunkLimits(files=3, bytes=100)
    assert cut_chunks([10, 10, 10, 10], limits) == [(0, 3), (3, 4)]
    assert cut_chunks([60, 60, 10], limits) == [(0, 1), (1, 3)]
    assert cut_chunks([10, 500, 10], limits) == [(0, 1), (1, 2), (2, 3)]
    assert cut_chunks([], limits) == []
    assert cut_chunks([1] * 100, ChunkLimits(200, 10**9, spread=8)) == [
        (i, min(i + 16, 100)) for i in range(0, 100, 16)
    ]


def test_params_carry_every_option_of_the_cli(tmp_path: Path) -> None:
    options = IngestOptions(name="Minutes", description={"title": ("Council minutes",), "creator": ("A", "B")},
                            allow_duplicate=True, operator="clerk", as_folder=True, retention="R1")  # fmt: skip
    params = ingest_params(Path("transfer"), options)
    assert Path(params["source"]).is_absolute()
    assert options_from_params(params) == options


def test_a_missing_source_is_refused_at_plan_with_a_clear_error(home: Home, tmp_path: Path) -> None:
    job = job_for(params_for(tmp_path / "nowhere"))
    with pytest.raises(TransferError, match="does not exist"):
        run_inline(KIND, context(home, job, tmp_path / "scratch"), job.params)


@requires_corpus()
def test_the_embedded_runner_runs_the_ingest_job_to_the_same_package(home: Home, tmp_path: Path, demo: Path) -> None:
    from strongroom.jobs.runners import open_runner

    set_chunks(home, 3)
    reference = home.ingest(demo)
    runner = open_runner(home.path, workers=2)
    try:
        job = runner.submit(INGEST_KIND, params_for(demo, allow_duplicate=True), "test", "Ingest the demo")
        done = runner.wait(job.id, timeout=300)
    finally:
        runner.close()
    assert done.state is JobState.SUCCEEDED, (done.error, done.details)
    assert done.chunks_total == 4 and done.chunks_done == 4
    assert done.result is not None and done.result["package"] == package_for_job(job.id)
    assert package_facts(home, str(done.result["package"])) == package_facts(home, str(reference["package"]))
    assert not (home.path / "jobs" / job.id).exists()  # the scratch folder goes with the job
