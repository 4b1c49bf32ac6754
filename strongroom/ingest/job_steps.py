"""The steps of the "ingest" job (ingest/job.py): plan, chunk n and finalize over the job's scratch folder.

Each may run on any worker host and may run twice: plan returns the finished plan if there is one (the
package id comes from the job id), a chunk that has its result does nothing, and finalize returns the
stored result, or the report of the package it stored before its worker died, storing nothing twice.

Params are those of `ingest_params` (a source path), or a web transfer's (`{"transfer": id, ...}`): then
plan checks that the transfer is approved and its file unchanged, and every step that fails with an error
a person can act on says so on the transfer (storing failed), as the transfer's page shows it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.ingest.finalize import gather, store_build
from strongroom.ingest.job import ingest_params, options_from_params
from strongroom.ingest.phases import (
    PROCESS_STEP,
    ChunkLimits,
    package_for_job,
    plan_transfer,
    require_plan,
    run_chunk,
    write_atomic,
)
from strongroom.ingest.pipeline import IngestOptions, IngestReport
from strongroom.jobs.model import StepContext
from strongroom.jobs.settings import load_job_settings
from strongroom.views import ingest_json

RESULT_FILE = "result.json"
OPTIONS_FILE = "options.json"
CHUNK_THREADS = 2  # files of one chunk scanned, characterised and text-extracted at once


@contextmanager
def _transfer_failures(ctx: StepContext, params: Mapping[str, Any]) -> Iterator[None]:
    """For a web transfer: an error a person can act on is written on the transfer (storing failed)."""
    if "transfer" not in params:
        yield
        return
    from strongroom.web.jobs_ingest import transfer_failed

    try:
        yield
    except StrongroomError as err:
        transfer_failed(ctx.home, str(params["transfer"]), err)
        raise


def _source_and_options(ctx: StepContext, params: Mapping[str, Any]) -> tuple[Path, IngestOptions]:
    options = options_from_params(params)
    if "transfer" in params:
        from strongroom.web.jobs_ingest import approved_source

        source, name = approved_source(ctx, params)
        options = IngestOptions(name=name, description=options.description, allow_duplicate=options.allow_duplicate,
                                operator=str(params.get("operator") or "web"), as_folder=options.as_folder,
                                retention=options.retention)  # fmt: skip
        return source, options
    return Path(str(params["source"])), options


def plan(ctx: StepContext, params: Mapping[str, Any]) -> int:
    with _transfer_failures(ctx, params):
        settings = load_job_settings(ctx.home)
        source, options = _source_and_options(ctx, params)
        with Archive.open(ctx.home) as archive:
            if options.retention is not None:
                from strongroom.records.retention import require_schedule

                require_schedule(archive.catalog, options.retention)  # an unknown code stops it before any work
            context = archive.ingest_context()
        limits = ChunkLimits(settings.chunk_files, settings.chunk_bytes)
        made = plan_transfer(context, source, options, package_for_job(ctx.job.id), ctx.scratch, limits, ctx.progress)
        # The options as they were at plan time (a web transfer's name), for finalize on whatever host.
        write_atomic(ctx.scratch / OPTIONS_FILE, json.dumps(ingest_params(source, options)).encode())
        return len(made.chunks)


def chunk(ctx: StepContext, params: Mapping[str, Any], number: int) -> None:
    with _transfer_failures(ctx, params), Archive.open(ctx.home) as archive:
        context = archive.ingest_context()

        def progress(words: str, done: int, total: int | None) -> None:
            if words == PROCESS_STEP:
                ctx.progress(PROCESS_STEP, done, total)
                ctx.check_cancelled()  # nothing outside the scratch folder changes in a chunk: safe anywhere

        run_chunk(context, ctx.scratch, number, threads=CHUNK_THREADS, progress=progress)


def finalize(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    with _transfer_failures(ctx, params):
        done = ctx.scratch / RESULT_FILE
        if done.is_file():
            result: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
        else:
            result = _finalize(ctx)
            write_atomic(done, json.dumps(result).encode())
    if "transfer" in params:
        from strongroom.web.jobs_ingest import transfer_stored

        transfer_stored(ctx.home, str(params["transfer"]), str(result["package"]))
        return {**result, "transfer": str(params["transfer"])}
    return result


def _finalize(ctx: StepContext) -> dict[str, Any]:
    plan_ = require_plan(ctx.scratch)
    options = options_from_params(json.loads((ctx.scratch / OPTIONS_FILE).read_text(encoding="utf-8")))
    ctx.check_cancelled()  # the last safe place: from here on it stores
    with Archive.open(ctx.home) as archive:
        archive.prepare_to_write()  # also finishes or undoes a commit cut off by a worker that died
        stored = archive.catalog.find_package(plan_.package)
        if stored is not None:
            # Stored by an earlier run of this step whose worker died before the job said so.
            report = IngestReport(
                package=stored.uuid, name=stored.name, files=stored.files, bytes=stored.bytes,
                originals=plan_.records, kind=plan_.kind, indexed=stored.indexed, storage_key=stored.storage_key,
                version=stored.version,
                warnings=("This package was stored by an earlier run of this job's last step, whose worker "
                          "stopped before the job recorded it; nothing was stored twice.",),
            )  # fmt: skip
            if archive.settings.migrate_on_ingest and stored.version == 1:
                # That run may have stopped between storing version 1 and migrating it: migrate it now (a
                # package with nothing to migrate is left as it is).
                from strongroom.preservation.migrate import normalize_ingested

                report = normalize_ingested(archive, report, options.operator, ctx.progress)
            return ingest_json(report)
        built = gather(archive.ingest_context(), ctx.scratch, plan_, options, move_sources=False,
                       progress=ctx.progress)  # fmt: skip
        return ingest_json(store_build(archive, built, options, ctx.progress))
