"""`migrate` as a staged job: the same report as the command, and every step safe to run twice (real ImageMagick)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import StrongroomError
from strongroom.jobs.inline import InlineContext, run_inline
from strongroom.jobs.model import JobKind, JobRecord, JobState
from strongroom.jobs.scratch import read_json
from strongroom.preservation.migrate_job import MIGRATE, PLAN_FILE, migrate_kinds
from tests.conftest import Home, write
from tests.preservation import media

KINDS = {k.name: k for k in migrate_kinds("run-preservation")}


def image_transfer(folder: Path, kinds: tuple[str, ...] = ("pcx", "tga")) -> Path:
    made = media.make_images(folder / "made", kinds)
    for kind, path in made.items():
        write(folder / "transfer" / kind / path.name, path.read_bytes())
    return folder / "transfer"


def context(home: Home, tmp_path: Path, kind: str, params: Mapping[str, Any]) -> InlineContext:
    job = JobRecord(id=str(uuid.uuid4()), kind=kind, title=kind, owner="test", params=dict(params),
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    scratch = tmp_path / "scratch" / job.id
    scratch.mkdir(parents=True)
    return InlineContext(job, home.path, scratch)


def twice(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """plan, every chunk twice over (as a redelivering engine may), finalize."""
    assert kind.plan and kind.chunk and kind.finalize
    chunks = kind.plan(ctx, params)
    for n in range(chunks):
        kind.chunk(ctx, params, n)
        kind.chunk(ctx, params, n)
    for n in range(chunks):
        kind.chunk(ctx, params, n)
    return kind.finalize(ctx, params)


def shape(report: Mapping[str, Any]) -> dict[str, Any]:
    """What two runs on equal packages must agree on (times, UUIDs and names aside)."""
    totals = {k: v for k, v in report["totals"].items() if "seconds" not in k}
    packages = [
        (p["version"], p["error"], sorted((k["source"].split("/", 1)[-1], k["purpose"], k["rule"], k["tool"])
                                          for k in p["kept"]), len(p["failed"]), len(p["skipped"]))
        for p in report["packages"]
    ]  # fmt: skip
    planned = sorted((p["path"].split("/", 1)[-1], p["rule"], p["tool_available"]) for p in report["planned"])
    return {"ok": report["ok"], "dry_run": report["dry_run"], "totals": totals, "packages": packages,
            "planned": planned, "missing": report["missing_tools"]}  # fmt: skip


def test_the_job_reports_what_the_command_does_and_twice_run_chunks_make_one_version(
    home: Home, tmp_path: Path
) -> None:
    by_job = str(home.ingest(image_transfer(tmp_path / "a"))["package"])
    by_command = str(home.ingest(image_transfer(tmp_path / "b", ("pcx", "tga")), "--allow-duplicate")["package"])
    params = {"packages": [by_job], "operator": "test-archivist"}
    ctx = context(home, tmp_path, MIGRATE, params)
    dry = run_inline(KINDS[MIGRATE], ctx, {**params, "dry_run": True})
    direct_dry = home.ok("migrate", by_command, "--dry-run", "--json").json()
    assert isinstance(direct_dry, dict)
    assert shape(dry) == shape(direct_dry) and dry["totals"]["planned"] == 4

    ctx = context(home, tmp_path, MIGRATE, params)
    result = twice(KINDS[MIGRATE], ctx, params)
    direct = home.run("migrate", by_command, "--json").json()
    assert isinstance(direct, dict)
    assert shape(result) == shape(direct)
    assert result["totals"]["versions_made"] == 1 and result["totals"]["kept"] == 4 and result["ok"] is True
    assert read_json(ctx.scratch / PLAN_FILE)["chunks"] == [[by_job]]
    with home.archive() as archive:
        versions = archive.catalog.versions(by_job)
        assert [v.number for v in versions] == [1, 2], "each chunk ran three times: still one new version"
        assert versions[-1].message.endswith(f"[job {ctx.job.id}]")
        events = [e.uuid for e in archive.catalog.events(by_job)]
        assert len(events) == len(set(events))
        journal = [e.event.uuid for e in archive.journal.entries() if e.package == by_job]
        assert len(journal) == len(set(journal))
    assert home.ok("verify", by_job, "--json").json()["problems"] == []  # type: ignore[index]


def test_a_step_cut_off_after_its_commit_finds_the_version_it_made(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(image_transfer(tmp_path, ("pcx",)))["package"])
    params = {"packages": [package], "operator": "test-archivist"}
    kind = KINDS[MIGRATE]
    assert kind.plan and kind.chunk and kind.finalize and kind.staged and kind.resumable
    ctx = context(home, tmp_path, MIGRATE, params)
    assert kind.plan(ctx, params) == 1
    kind.chunk(ctx, params, 0)
    first = read_json(ctx.scratch / "chunk-000000" / f"{package}.json")
    # The worker died between storing the version and writing down the package's result:
    (ctx.scratch / "chunk-000000" / f"{package}.json").unlink()
    assert (ctx.scratch / "chunk-000000" / f"{package}.intent.json").exists()
    kind.chunk(ctx, params, 0)
    again = read_json(ctx.scratch / "chunk-000000" / f"{package}.json")
    assert again["version"] == first["version"] == 2
    assert [k["path"] for k in again["kept"]] == [k["path"] for k in first["kept"]]
    report = kind.finalize(ctx, params)
    assert report["totals"]["versions_made"] == 1
    with home.archive() as archive:
        assert [v.number for v in archive.catalog.versions(package)] == [1, 2]


def test_packages_are_grouped_whole_into_bounded_chunks(home: Home, tmp_path: Path) -> None:
    (home.path / "strongroom.toml").write_text(
        (home.path / "strongroom.toml").read_text() + "\n[jobs]\nchunk_files = 2\n"
    )
    packages = [str(home.ingest(image_transfer(tmp_path / str(n), ("pcx",)), "--allow-duplicate")["package"])
                for n in range(3)]  # fmt: skip
    params = {"packages": packages, "operator": "test-archivist", "purposes": ["preservation"]}
    ctx = context(home, tmp_path, MIGRATE, params)
    report = twice(KINDS[MIGRATE], ctx, params)
    # One conversion each: two packages fit a chunk of 2, the third starts the next.
    assert read_json(ctx.scratch / PLAN_FILE)["chunks"] == [packages[:2], packages[2:]]
    assert [p["package"] for p in report["packages"]] == packages
    assert report["totals"]["versions_made"] == 3 and report["totals"]["kept"] == 3
    again = run_inline(KINDS[MIGRATE], context(home, tmp_path, MIGRATE, params), params)
    assert again["totals"]["versions_made"] == 0, "a second job finds every derivative made"


def test_a_tool_family_kind_runs_only_its_tool_and_names_it_for_routing(home: Home, tmp_path: Path) -> None:
    kind = KINDS["migrate-imagemagick"]
    assert kind.tools == ("imagemagick",) and kind.staged and KINDS[MIGRATE].tools == ()
    package = str(home.ingest(image_transfer(tmp_path, ("pcx",)))["package"])
    params = {"packages": [package], "operator": "test-archivist"}
    office = run_inline(KINDS["migrate-libreoffice"], context(home, tmp_path, "migrate-libreoffice", params), params)
    assert office["planned"] == [] and office["totals"]["versions_made"] == 0
    images = run_inline(kind, context(home, tmp_path, kind.name, params), params)
    assert {p["tool"] for p in images["planned"]} == {"imagemagick"} and images["totals"]["versions_made"] == 1


def test_bad_params_are_refused_before_anything_runs(home: Home, tmp_path: Path) -> None:
    params = {"operator": "test-archivist", "risk": "dreadful"}
    kind = KINDS[MIGRATE]
    assert kind.plan
    with pytest.raises(StrongroomError, match="no risk level"):
        kind.plan(context(home, tmp_path, MIGRATE, params), params)


def test_the_embedded_runner_runs_the_submitted_job(home: Home, tmp_path: Path) -> None:
    from strongroom.jobs.runners import open_runner

    package = str(home.ingest(image_transfer(tmp_path, ("pcx",)))["package"])
    runner = open_runner(home.path, workers=1)
    try:
        job = runner.submit(MIGRATE, {"packages": [package], "operator": "test-archivist"}, "test", "Migrate")
        done = runner.wait(job.id, 300)
    finally:
        runner.close()
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.chunks_total == done.chunks_done == 1
    assert done.result is not None and done.result["totals"]["versions_made"] == 1 and done.result["ok"] is True
    with home.archive() as archive:
        assert [v.number for v in archive.catalog.versions(package)] == [1, 2]


def test_a_chunk_on_a_worker_without_the_plans_tool_refuses_its_package(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = str(home.ingest(image_transfer(tmp_path, ("pcx",)))["package"])
    params = {"packages": [package], "operator": "test-archivist"}
    kind = KINDS[MIGRATE]
    assert kind.plan and kind.chunk and kind.finalize
    ctx = context(home, tmp_path, MIGRATE, params)
    assert kind.plan(ctx, params) == 1  # planned where ImageMagick is installed
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))  # the chunk's worker has none of the tools
    kind.chunk(ctx, params, 0)
    report = kind.finalize(ctx, params)
    (refused,) = report["packages"]
    assert refused["version"] is None and "cannot run imagemagick" in refused["error"]
    assert "--tool imagemagick" in refused["error"] and report["ok"] is False
    with home.archive() as archive:
        assert [v.number for v in archive.catalog.versions(package)] == [1], "nothing stored"
