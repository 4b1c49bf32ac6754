"""Replicate as a staged job: find what each replica location lacks, copy it in chunks, then the journal.

plan: the (package, location) pairs whose copy is behind the catalog (what `strongroom replicate` would
copy), in its order, cut into chunks by files and bytes. chunk n: `copy_package` for each pair under the
package lock, as the command does. finalize: the journal batches and stale uploads of each reachable
location, the hold markers, and the report `strongroom replicate --json` prints.

A chunk keeps a ledger of the pairs it has done in scratch (rewritten atomically after each), so a rerun
continues after them; a pair whose copy the catalog already records at the package's version (copied by
a run cut off before its ledger was written) counts as up to date, never copied or journalled again.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from strongroom.copies import (
    CopyFailure,
    ReplicateReport,
    copy_if_behind,
    finish_location,
    mark_held_copies,
    replica_targets,
    stopped_answering,
)
from strongroom.errors import StrongroomError
from strongroom.jobs.scratch import chunk_file, cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.model import PackageSummary
from strongroom.preservation.audit_job import summary_from, summary_json
from strongroom.replication import CopyResult

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.jobs.model import StepContext

PLAN = "plan.json"


def plan_replicate_job(ctx: StepContext, archive: Archive, only: str | None) -> int:
    """Find the copies each replica location (or `only`) lacks, write plan.json; returns the chunk count."""
    settings = load_job_settings(ctx.home)
    targets = replica_targets(archive, only)
    packages = archive.catalog.packages()
    unreachable: dict[str, str] = {}
    up_to_date = 0
    pairs: list[tuple[PackageSummary, str]] = []
    for spec in targets:
        try:
            archive.location(spec.name).ocfl.ensure_root()
        except StrongroomError as err:
            unreachable[spec.name] = err.message
            continue
        held = {c.package: c.version for c in archive.catalog.copies(location=spec.name)}
        for summary in packages:
            if held.get(summary.uuid, 0) >= summary.version:
                up_to_date += 1
            else:
                pairs.append((summary, spec.name))
    chunks = cut_chunks([(s.files, s.bytes) for s, _ in pairs], settings.chunk_files, settings.chunk_bytes)
    write_json(ctx.scratch / PLAN, {
        "targets": [s.name for s in targets],
        "unreachable": unreachable,
        "up_to_date": up_to_date,
        "pairs": [{"summary": summary_json(s), "location": name} for s, name in pairs],
        "chunks": chunks,
    })  # fmt: skip
    return len(chunks)


def _empty_ledger() -> dict[str, Any]:
    return {"done": 0, "copies": [], "failures": [], "up_to_date": 0, "unreachable": {}}


def run_replicate_chunk(ctx: StepContext, archive: Archive, operator: str, n: int) -> None:
    """Copy chunk n's pairs (those its ledger does not show done); the result file is written last."""
    result = chunk_file(ctx.scratch, n)
    if result.exists():
        return
    ledger_file = chunk_file(ctx.scratch, n, ".ledger")
    ledger = read_json(ledger_file) if ledger_file.exists() else _empty_ledger()
    plan = read_json(ctx.scratch / PLAN)
    indexes = plan["chunks"][n]
    for position, index in enumerate(indexes):
        if position < ledger["done"]:
            continue
        ctx.check_cancelled()
        pair = plan["pairs"][index]
        summary, name = summary_from(pair["summary"]), pair["location"]
        ctx.progress(f"Copying {index + 1} of {len(plan['pairs'])} package copies into replica locations",
                     position, len(indexes))  # fmt: skip
        if name not in ledger["unreachable"]:
            _copy_one(archive, summary, name, operator, ledger)
        ledger["done"] = position + 1
        write_json(ledger_file, ledger)
    write_json(result, ledger)


def _copy_one(archive: Archive, summary: PackageSummary, name: str, operator: str, ledger: dict[str, Any]) -> None:
    """What `strongroom replicate` does for one pair, noted in the ledger."""
    try:
        copied = copy_if_behind(archive, summary, archive.location(name), operator)
    except StrongroomError as err:
        ledger["failures"].append({"package": summary.uuid, "location": name, "message": err.message})
        if stopped_answering(err):
            ledger["unreachable"][name] = err.message
        return
    if copied is None:  # copied by an earlier run of this chunk (or a commit) since the plan
        ledger["up_to_date"] += 1
    else:
        ledger["copies"].append(asdict(copied))


def finish_replicate(ctx: StepContext, archive: Archive) -> ReplicateReport:
    """Merge the chunks' results, then copy each reachable location's journal and clear its stale uploads."""
    plan = read_json(ctx.scratch / PLAN)
    results = [read_json(chunk_file(ctx.scratch, n)) for n in range(len(plan["chunks"]))]
    report = ReplicateReport(up_to_date=plan["up_to_date"])
    unreachable: dict[str, str] = dict(plan["unreachable"])
    failures: dict[str, list[CopyFailure]] = {name: [] for name in plan["targets"]}
    for result in results:
        report.copies.extend(CopyResult(**c) for c in result["copies"])
        report.up_to_date += result["up_to_date"]
        for failure in result["failures"]:
            # Once a location stopped answering, the command tries it no more: later chunks' tries are not news.
            if failure["location"] not in unreachable:
                failures[failure["location"]].append(CopyFailure(**failure))
        for name, why in result["unreachable"].items():
            unreachable.setdefault(name, why)
    for name in plan["targets"]:  # in the command's order: a location's packages, then its journal
        report.failures.extend(failures[name])
        if name in unreachable:
            report.unreachable[name] = unreachable[name]
            continue
        ctx.progress(f"Copying the journal into location {name}", 0, None)
        finish_location(archive, name, report)
    mark_held_copies(archive, report)
    return report
