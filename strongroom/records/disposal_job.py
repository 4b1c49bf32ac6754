"""`disposal execute` as a staged job: plan -> chunks of packages -> finalize (the certificate, once).

plan: the checks of `execute` (two different approvers, due, not withdrawn), then the write-ahead stubs
journalled (once: records/disposal.py start_execution), then the batch's pending packages in chunks of at
most `[jobs] chunk_files` stored files (a package with more alone): destroying costs per stored object.
chunk: those packages destroyed or transferred (records/disposal.py dispose_pending), each re-checked
for holds first; an item already done by this batch (by an earlier delivery of the step, or by the
command) is left alone, and the journal's trail is read afresh under the disposal lock, so nothing is
destroyed or journalled twice. Chunks take the disposal lock as the command does, so they run one at a
time; storage deletes bound the work, not the CPU.
finalize: the certificate, issued once; a location that could not be cleared leaves the batch executing
and fails the job with what to do, as the command does. The JSON is `disposal execute --json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.errors import StrongroomError
from strongroom.jobs.model import JobKind, StepContext
from strongroom.jobs.scratch import chunk_file, cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.records.disposal import (
    DISPOSAL_LOCK,
    ExecutionReport,
    conclude_execution,
    dispose_pending,
    find_batch,
    start_execution,
)
from strongroom.records.model import BatchStatus, DisposalBatch, ItemOutcome

DISPOSAL_EXECUTE = "disposal-execute"
TRANSFERRED = "transferred"
PLAN_FILE = "plan.json"


def transfer_folder(home: Path, batch: str) -> Path:
    """Where the bags of a batch's transferred packages are written when the job names no folder."""
    return home / TRANSFERRED / batch


def _options(ctx: StepContext, params: Mapping[str, Any]) -> tuple[str, str, Path]:
    batch, operator = params.get("batch"), params.get("operator")
    if not isinstance(batch, str) or not batch.strip() or not isinstance(operator, str):
        raise StrongroomError("A disposal job needs the batch id and the operator.",
                              details=["Submit it with: strongroom disposal execute BATCH --submit"])  # fmt: skip
    # Bags of transferred packages go to a folder of the archive's own: a job never names a server path.
    return batch.strip(), operator, transfer_folder(ctx.home, batch.strip())


def _begin(archive: Archive, batch_ref: str, operator: str, transfer_to: Path) -> DisposalBatch:
    archive.prepare_to_write()
    with archive.catalog.lock(DISPOSAL_LOCK):
        batch = find_batch(archive, batch_ref)
        if batch.status is BatchStatus.EXECUTED:
            return batch
        return start_execution(archive, batch, operator, transfer_to)


def plan_disposal(ctx: StepContext, params: Mapping[str, Any]) -> int:
    batch_ref, operator, transfer_to = _options(ctx, params)
    most = load_job_settings(ctx.home).chunk_files
    ctx.progress("Checking the batch", 0, None)
    with Archive.open(ctx.home) as archive:
        batch = _begin(archive, batch_ref, operator, transfer_to)
        pending = [] if batch.status is BatchStatus.EXECUTED else [
            i.package for i in batch.items if i.outcome is ItemOutcome.PENDING]  # fmt: skip
        found = [archive.catalog.find_package(package) for package in pending]
        # Destroying costs per stored object, not per byte: bytes do not bound a chunk.
        weights = [(max(1, f.files if f is not None else 1), 0) for f in found]
        chunks = [[pending[i] for i in chunk] for chunk in cut_chunks(weights, most, 0)]
    write_json(ctx.scratch / PLAN_FILE, {"batch": batch.id, "chunks": chunks})
    return len(chunks)


def chunk_disposal(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    _batch, operator, transfer_to = _options(ctx, params)
    plan = read_json(ctx.scratch / PLAN_FILE)
    packages: list[str] = plan["chunks"][n]

    def progress(step: str, done: int, total: int | None) -> None:
        ctx.progress(step, done, total)
        ctx.check_cancelled()  # between packages: each one is either wholly done or not begun

    with Archive.open(ctx.home) as archive:
        archive.prepare_to_write()
        with archive.catalog.lock(DISPOSAL_LOCK):
            why_pending = dispose_pending(archive, plan["batch"], set(packages), operator, transfer_to, progress)
    write_json(chunk_file(ctx.scratch, n), {"why_pending": why_pending})


def finalize_disposal(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    from strongroom.cli_disposal import execution_json

    _batch, operator, _transfer_to = _options(ctx, params)
    plan = read_json(ctx.scratch / PLAN_FILE)
    why_pending: dict[str, str] = {}
    for n in range(len(plan["chunks"])):
        why_pending.update(read_json(chunk_file(ctx.scratch, n))["why_pending"])
    ctx.progress("Issuing the certificate", 0, None)
    with Archive.open(ctx.home) as archive, archive.catalog.lock(DISPOSAL_LOCK):
        report = conclude_execution(archive, plan["batch"], operator, why_pending)
    refuse_pending(report)
    return execution_json(report)


def refuse_pending(report: ExecutionReport) -> None:
    """A batch left executing (a location could not be cleared) fails the job, saying what to do."""
    if report.pending:
        where = ", ".join(sorted(report.pending))
        raise StrongroomError(
            f"Disposal batch {report.batch.id} is still executing: location(s) {where} could not be cleared.",
            details=[*report.problems, "Execute the batch again once every location answers; it resumes where it "
                     "stopped."],
        )  # fmt: skip


def disposal_kind(permission: str) -> JobKind:
    return JobKind(DISPOSAL_EXECUTE, "Execute a disposal batch", None, permission, plan=plan_disposal,
                   chunk=chunk_disposal, finalize=finalize_disposal, resumable=True)  # fmt: skip


__all__ = ["DISPOSAL_EXECUTE", "TRANSFERRED", "disposal_kind", "refuse_pending", "transfer_folder"]
