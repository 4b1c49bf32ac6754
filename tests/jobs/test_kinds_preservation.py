"""Audit, replicate and rebuild as staged jobs (through jobs/inline): the command's result, nothing recorded twice
when a step runs again (redelivered, or cut off after its work and before its result file), on folders and S3."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from strongroom.archive import Archive
from strongroom.jobs.inline import InlineContext, run_inline
from strongroom.jobs.model import JobKind, JobRecord, JobState
from strongroom.jobs.scratch import chunk_file, read_json
from strongroom.web.jobs_preservation import AUDIT, JOB_KINDS, REBUILD, REPLICATE, audit_params
from tests.conftest import EXAMPLE_TRANSFER, Home, write
from tests.spine.test_replicas import damage, object_folder, ocfl_valid

KINDS = {k.name: k for k in JOB_KINDS}
OPERATOR = "test-archivist"


def context(home: Home, tmp_path: Path, kind: str, params: Mapping[str, Any],
            progress: list[tuple[str, int, int | None]] | None = None) -> InlineContext:  # fmt: skip
    job = JobRecord(id=str(uuid.uuid4()), kind=kind, title=kind, owner="test", params=dict(params),
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    scratch = tmp_path / "scratch" / job.id
    scratch.mkdir(parents=True)
    sink = progress.append if progress is not None else None
    return InlineContext(job, home.path, scratch, (lambda s, d, t: sink((s, d, t))) if sink else None)


def every_step_again(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any],
                     order: list[int] | None = None) -> Mapping[str, Any]:  # fmt: skip
    """Every chunk run twice, then once more as if cut off after its work but before its result file, in `order`
    (default: in turn); finalize once."""
    assert kind.plan and kind.chunk and kind.finalize
    chunks = kind.plan(ctx, params)
    for n in order if order is not None else range(chunks):
        kind.chunk(ctx, params, n)
        kind.chunk(ctx, params, n)
        chunk_file(ctx.scratch, n).unlink()  # cut off after its work, before writing its result (written last)
        kind.chunk(ctx, params, n)
    return kind.finalize(ctx, params)


def small_chunks(home: Home, files: int = 2) -> None:
    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[jobs]\nchunk_files = {files}\n", encoding="utf-8")


def transfer(tmp_path: Path, name: str, files: int = 2) -> Path:
    folder = tmp_path / "transfers" / name
    for i in range(files):
        write(folder / f"{name}-{i}.txt", f"{name} record {i}\n" * (i + 1))
    return folder


@pytest.fixture
def archive_with_offsite(home: Home, tmp_path: Path) -> tuple[Home, list[str], Path]:
    """Three packages, each stored in the primary folder and an offsite folder; chunks of two files."""
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    packages = [str(home.ingest(transfer(tmp_path, name))["package"]) for name in ("alpha", "beta", "gamma")]
    small_chunks(home)
    return home, packages, offsite


def fixity_entries(home: Home) -> Counter[tuple[str, str]]:
    """Package-level fixity events in the journal, by (package, location)."""
    with home.archive() as archive:
        return Counter((e.package, str(e.data.get("location"))) for e in archive.journal.entries()
                       if e.event.type == "fixity check" and e.event.file_uuid is None)  # fmt: skip


def fixity_events(home: Home, package: str) -> int:
    with home.archive() as archive:
        return sum(1 for e in archive.catalog.events(package) if e.type == "fixity check")


def comparable_audit(result: Mapping[str, Any]) -> dict[str, Any]:
    """An audit result without what depends on the clock or on when a copy was last checked."""
    data = {k: v for k, v in result.items() if k not in ("seconds", "mb_per_second", "copies", "next_steps")}
    data["copies"] = sorted((c["package"], c["location"], c["bytes"], c["problems"]) for c in result["copies"])
    data["problems"] = sorted(result["problems"], key=lambda p: (p["package"], p["location"], p["path"]))
    return data


def test_audit_job_checks_what_the_command_checks_once_each_and_in_its_order(
    archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path
) -> None:
    home, packages, _ = archive_with_offsite
    params = audit_params({}) | {"operator": OPERATOR}
    with home.archive() as archive:
        from strongroom.preservation.audit import select_copies
        from strongroom.preservation.fixity import FixityMode
        from strongroom.preservation.verify import VerifyReport

        expected_order = [(c.summary.uuid, c.location) for c in
                          select_copies(archive, VerifyReport(FixityMode.FULL)).copies]  # fmt: skip
    progress: list[tuple[str, int, int | None]] = []
    ctx = context(home, tmp_path, AUDIT, params, progress)
    job = every_step_again(KINDS[AUDIT], ctx, params)
    assert len(list(ctx.scratch.glob("chunk-*[0-9].json"))) == 3  # one package (two files, two copies) a chunk
    assert [(c["package"], c["location"]) for c in job["copies"]] == expected_order
    assert job["problems"] == [] and job["files_checked"] > 0 and job["bytes_read"] > 0
    # Each copy checked is recorded once, though every chunk ran three times.
    assert fixity_entries(home) == Counter({(p, loc): 1 for p in packages for loc in ("primary", "offsite")})
    assert all(fixity_events(home, p) == 2 for p in packages)
    assert any(step.startswith("Auditing 3 of 3 packages") for step, _, _ in progress), progress

    command = home.ok("audit", "--json").json()
    assert isinstance(command, dict)
    assert comparable_audit(job) == comparable_audit(command)
    assert set(job) == set(command)


def test_a_damaged_file_found_by_the_audit_job_is_reported_as_the_command_reports_it_and_repaired(
    archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path
) -> None:
    home, packages, offsite = archive_with_offsite
    path = damage(object_folder(offsite, packages[1]), "flipped byte")
    params = audit_params({"location": "offsite"}) | {"operator": OPERATOR}
    job = run_inline(KINDS[AUDIT], context(home, tmp_path, AUDIT, params), params)
    command = home.run("audit", "--location", "offsite", "--json")
    assert command.exit_code == 1
    assert comparable_audit(job) == comparable_audit(command.json())  # type: ignore[arg-type]
    assert [(p["package"], p["location"]) for p in job["problems"]][:1] == [(packages[1], "offsite")]
    assert any(p["path"].endswith(path) for p in job["problems"])
    assert job["next_steps"] and packages[1] in job["next_steps"][0]
    with home.archive() as archive:
        failed = [e for e in archive.catalog.events(packages[1]) if e.outcome.value == "failure"]
    assert failed  # recorded as a failed check, per copy and per damaged file

    repair = audit_params({"repair": "on"}) | {"operator": OPERATOR}
    healed = every_step_again(KINDS[AUDIT], context(home, tmp_path, AUDIT, repair), repair)
    assert [r["package"] for r in healed["repairs"]] == [packages[1]] and healed["repairs"][0]["ok"]
    assert healed["repair_failures"] == {}
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]
    ocfl_valid(offsite / "ocfl")


def test_an_audit_step_cut_off_after_recording_records_nothing_again(
    archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path
) -> None:
    home, _, _ = archive_with_offsite
    params = audit_params({"older_than": "1d"}) | {"operator": OPERATOR}
    kind = KINDS[AUDIT]
    assert kind.plan and kind.chunk and kind.finalize
    ctx = context(home, tmp_path, AUDIT, params)
    chunks = kind.plan(ctx, params)
    kind.chunk(ctx, params, 0)
    before = fixity_entries(home)
    assert sum(before.values()) == 2
    chunk_file(ctx.scratch, 0).unlink()  # the worker died after recording, before any of its result files
    chunk_file(ctx.scratch, 0, ".checked").unlink()
    kind.chunk(ctx, params, 0)
    assert fixity_entries(home) == before
    for n in range(1, chunks):
        kind.chunk(ctx, params, n)
    result = kind.finalize(ctx, params)
    assert len(result["copies"]) == 6 and sum(fixity_entries(home).values()) == 6
    # The next run skips what was checked within a day, as the command does.
    again = run_inline(kind, context(home, tmp_path, AUDIT, params), params)
    assert again["copies"] == [] and again["checked_recently"] == 6


def test_replicate_job_copies_what_a_new_location_lacks_once(
    archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path
) -> None:
    home, packages, _ = archive_with_offsite
    second, third = tmp_path / "second", tmp_path / "third"
    home.ok("location", "add", "second", "--path", str(second))
    home.ok("location", "add", "third", "--path", str(third))
    params = {"location": "second", "operator": OPERATOR}
    job = every_step_again(KINDS[REPLICATE], context(home, tmp_path, REPLICATE, params), params)
    command = home.ok("replicate", "--location", "third", "--json").json()
    assert isinstance(command, dict)

    def copies(result: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return [(c["package"], c["from"], c["from_version"], c["to_version"], c["objects"], c["bytes"], c["reused"])
                for c in result["copied"]]  # fmt: skip

    assert copies(job) == copies(command) and len(copies(job)) == 3
    assert {c["to"] for c in job["copied"]} == {"second"}
    assert job["failures"] == command["failures"] == [] and job["unreachable_locations"] == {}
    assert job["up_to_date"] == command["up_to_date"] and job["journal_batches"] > 0
    with home.archive() as archive:
        copied = Counter(e.package for e in archive.journal.entries()
                         if e.event.type == "replication" and e.data.get("location") == "second")  # fmt: skip
        assert copied == Counter(packages)  # one replication event each, though every chunk ran three times
        assert sorted(c.package for c in archive.catalog.copies(location="second")) == sorted(packages)
    ocfl_valid(second / "ocfl")
    nothing = run_inline(KINDS[REPLICATE], context(home, tmp_path, REPLICATE, params), params)
    assert nothing["copied"] == [] and nothing["up_to_date"] == 3


def test_replicate_job_refuses_the_primary_as_the_command_does(home: Home, tmp_path: Path) -> None:
    from strongroom.errors import ConfigError

    params = {"location": "primary", "operator": OPERATOR}
    with pytest.raises(ConfigError, match="primary or read-only"):
        run_inline(KINDS[REPLICATE], context(home, tmp_path, REPLICATE, params), params)


def catalog_rows(home: Home) -> dict[str, Any]:
    """Everything the catalog derives from storage and the journal, package by package."""
    with home.archive() as archive:
        catalog = archive.catalog
        rows: dict[str, Any] = {"packages": catalog.packages(), "copies": catalog.copies(),
                                "anchor": catalog.journal_anchor()}  # fmt: skip
        for p in catalog.package_uuids():
            rows[p] = (list(catalog.files(p)), catalog.events(p), catalog.versions(p), catalog.access_rules(p),
                       catalog.descriptions(p))  # fmt: skip
        engine = catalog._engine  # type: ignore[attr-defined]  # which package holds each payload claim
        with engine.connect() as conn:
            rows["claims"] = sorted(conn.execute(sa.text("SELECT uuid, payload_claim FROM packages")).all())
        rows["agents"] = sorted(catalog.agents(), key=lambda a: a.key)
    return rows


@pytest.fixture
def rich_archive(archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path) -> Iterator[Home]:
    """Versions, a package stored twice on purpose, fixity checks and access rules to rebuild."""
    home, packages, _ = archive_with_offsite
    home.ok("ingest", str(transfer(tmp_path, "alpha")), "--allow-duplicate", "--json")  # the same bytes again
    home.ingest(EXAMPLE_TRANSFER)
    home.ok("audit", "--json")
    home.ok("access", packages[0], "--status", "restricted", "--until", "2090-01-01", "--reason", "personal data")
    yield home


def test_rebuild_job_gives_the_catalog_the_command_gives(rich_archive: Home, tmp_path: Path) -> None:
    home = rich_archive
    command = home.ok("rebuild", "--json").json()
    expected = catalog_rows(home)
    params = {"operator": OPERATOR}
    ctx = context(home, tmp_path, REBUILD, params)
    kind = KINDS[REBUILD]
    assert kind.plan
    planned = kind.plan(ctx, params)
    assert planned >= 3
    # Chunks in reverse (as parallel workers may finish them): the newer of the two packages stored twice
    # claims the payload first, and finalize gives the claim back to the older one.
    job = every_step_again_after_plan(kind, ctx, params, list(reversed(range(planned))))
    unclaimed = [u for n in range(planned) for u in read_json(chunk_file(ctx.scratch, n))["unclaimed"]]
    assert unclaimed  # the older of the two restored after the newer: its claim was put back by finalize
    assert job == command
    assert catalog_rows(home) == expected
    assert home.ok("search", "alpha", "--json").json()["total"] > 0  # type: ignore[index]  # the index swapped in


def every_step_again_after_plan(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any],
                                order: list[int]) -> Mapping[str, Any]:  # fmt: skip
    assert kind.chunk and kind.finalize
    for n in order:
        kind.chunk(ctx, params, n)
        kind.chunk(ctx, params, n)
        chunk_file(ctx.scratch, n).unlink()
        kind.chunk(ctx, params, n)
    return kind.finalize(ctx, params)


def test_rebuild_job_plan_reads_everything_before_it_clears_the_catalog(rich_archive: Home, tmp_path: Path) -> None:
    home = rich_archive
    before = catalog_rows(home)
    params = {"operator": OPERATOR}
    kind = KINDS[REBUILD]
    assert kind.plan and kind.chunk
    ctx = context(home, tmp_path, REBUILD, params)
    chunks = kind.plan(ctx, params)
    with home.archive() as archive:
        assert archive.catalog.packages() == []  # cleared, as `rebuild` does
    plan = read_json(ctx.scratch / "plan.json")
    assert sum(len(c) for c in plan["chunks"]) == len(before["packages"]) and len(plan["chunks"]) == chunks
    result = run_inline_rest(kind, ctx, params, chunks)
    assert result["packages"] == len(before["packages"])
    assert catalog_rows(home)["packages"] == before["packages"]


def run_inline_rest(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any], chunks: int) -> Mapping[str, Any]:
    assert kind.chunk and kind.finalize
    for n in range(chunks):
        kind.chunk(ctx, params, n)
    return kind.finalize(ctx, params)


def test_the_kinds_are_staged_and_resumable() -> None:
    for name in (AUDIT, REPLICATE, REBUILD):
        assert KINDS[name].staged and KINDS[name].resumable


def test_on_an_empty_archive_each_job_has_no_chunks_and_the_commands_result(home: Home, tmp_path: Path) -> None:
    for name, command in ((AUDIT, ["audit"]), (REPLICATE, ["replicate"]), (REBUILD, ["rebuild"])):
        params = (audit_params({}) if name == AUDIT else {}) | {"operator": OPERATOR}
        kind = KINDS[name]
        assert kind.plan
        ctx = context(home, tmp_path, name, params)
        assert kind.plan(ctx, params) == 0
        job = run_inline(kind, context(home, tmp_path, name, params), params)
        expected = home.ok(*command, "--json").json()
        assert isinstance(expected, dict)
        if name == AUDIT:
            job, expected = comparable_audit(job), comparable_audit(expected)
        assert job == expected, name
    with Archive.open(home.path) as archive:
        assert archive.catalog.packages() == []


def test_on_s3_replicate_job_fills_a_bucket_once_and_the_audit_job_finds_damage_there(
    home: Home, tmp_path: Path
) -> None:
    from tests.services import fresh_s3_bucket, s3_client
    from tests.storage.test_s3_locations import LOCATION, TwoPlaces, add_s3_location, damage_s3

    packages = [str(home.ingest(transfer(tmp_path, name))["package"]) for name in ("alpha", "beta", "gamma")]
    small_chunks(home)
    with fresh_s3_bucket("strongroom-job") as (endpoint, bucket):
        prefix = f"copies-{uuid.uuid4().hex[:8]}"
        add_s3_location(home, endpoint, bucket, prefix)
        params = {"location": LOCATION, "operator": OPERATOR}
        replicated = every_step_again(KINDS[REPLICATE], context(home, tmp_path, REPLICATE, params), params)
        assert sorted(c["package"] for c in replicated["copied"]) == sorted(packages)
        assert replicated["failures"] == [] and replicated["journal_batches"] > 0
        with home.archive() as archive:
            copied = Counter(e.package for e in archive.journal.entries() if e.event.type == "replication")
        assert copied == Counter(packages)

        places = TwoPlaces(home, endpoint, bucket, prefix, packages[2], s3_client(endpoint))
        path = damage_s3(places, "flipped byte")
        audit = audit_params({"location": LOCATION}) | {"operator": OPERATOR}
        job = every_step_again(KINDS[AUDIT], context(home, tmp_path, AUDIT, audit), audit)
        command = home.run("audit", "--location", LOCATION, "--json")
        assert command.exit_code == 1
        assert comparable_audit(job) == comparable_audit(command.json())  # type: ignore[arg-type]
        assert {(p["package"], p["location"]) for p in job["problems"]} == {(packages[2], LOCATION)}
        assert any(p["path"].endswith(path) for p in job["problems"])
        assert fixity_entries(home)[(packages[2], LOCATION)] == 2  # the job's check and the command's, one each


def test_through_the_embedded_runner_each_job_ends_with_the_commands_result(
    archive_with_offsite: tuple[Home, list[str], Path], tmp_path: Path
) -> None:
    from strongroom.jobs.runners import open_runner

    home, packages, _ = archive_with_offsite
    home.ok("location", "add", "second", "--path", str(tmp_path / "second"))
    runner = open_runner(home.path, workers=2)
    try:
        results = {}
        for name, params in ((REPLICATE, {"location": "second"}), (AUDIT, audit_params({})), (REBUILD, {})):
            job = runner.submit(name, params | {"operator": OPERATOR}, "test", name)
            done = runner.wait(job.id, timeout=300)
            assert done.state is JobState.SUCCEEDED, (name, done.error, done.details)
            assert done.chunks_total is not None and done.chunks_done == done.chunks_total
            assert done.result is not None
            results[name] = done.result
    finally:
        runner.close()
    assert sorted(c["package"] for c in results[REPLICATE]["copied"]) == sorted(packages)
    assert len(results[AUDIT]["copies"]) == 9 and results[AUDIT]["problems"] == []
    assert results[REBUILD]["packages"] == 3
    assert sum(fixity_entries(home).values()) == 9
    assert not any((home.path / "jobs").glob("*/chunk-*"))  # each job's scratch folder was removed at its end
