"""Rebuild as a staged job: read the journal and list storage, clear the catalog, restore packages in chunks.

plan: `read_rebuild_source` (the whole journal, the stored objects oldest first), written to the job's
scratch folder (journal.json, and each chunk's objects with their journal entries), then the catalog's
derived tables are cleared, as `strongroom rebuild` does. chunk n: `restore_one` for its objects (the
catalog replaces a package it holds already, so a chunk run twice records nothing twice). finalize: the
payload claims put back in the order the command gives them, then `finish_rebuild` once (journal anchor,
copies, records tables, the new search index swapped in); the result is `strongroom rebuild --json`.

Chunks restore in parallel, so of two packages stored twice on purpose the newer may claim the payload
first; finalize hands the claim to the older one, as a rebuild in one process does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from strongroom.commit import object_id, package_of
from strongroom.jobs.scratch import chunk_file, cut_chunks, read_json, write_json
from strongroom.jobs.settings import load_job_settings
from strongroom.maintenance import RebuildReport, finish_rebuild, read_rebuild_source, restore_one
from strongroom.storage.journal import JournalEntry, entry_from_json, entry_to_json

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.jobs.model import StepContext

PLAN = "plan.json"
JOURNAL = "journal.json"


def plan_rebuild_job(ctx: StepContext, archive: Archive) -> int:
    """Read what the rebuild needs into scratch, then clear the catalog; returns the chunk count."""
    settings = load_job_settings(ctx.home)
    ctx.progress("Reading the journal and listing storage", 0, None)
    source = read_rebuild_source(archive)
    by_package = source.by_package()
    # Restoring a package reads its METS and inventory, not its content: files are the measure, not bytes.
    chunks = cut_chunks([(source.files[oid], 0) for oid in source.object_ids], settings.chunk_files,
                        settings.chunk_bytes)  # fmt: skip
    write_json(ctx.scratch / JOURNAL, [entry_to_json(e) for e in source.entries])
    for n, chunk in enumerate(chunks):
        objects = [source.object_ids[i] for i in chunk]
        journal = {oid: [entry_to_json(e) for e in by_package.get(package_of(oid), [])] for oid in objects}
        write_json(chunk_file(ctx.scratch, n, ".input"), {"objects": objects, "journal": journal})
    write_json(ctx.scratch / PLAN, {"objects": source.object_ids, "chunks": chunks})
    # Last, once everything the chunks need is safe in scratch: a plan cut off before here changed nothing.
    archive.catalog.clear()
    return len(chunks)


def run_rebuild_chunk(ctx: StepContext, archive: Archive, n: int) -> None:
    """Restore chunk n's packages; the result (files, and packages left without their payload claim) last."""
    result = chunk_file(ctx.scratch, n)
    if result.exists():
        return
    data = read_json(chunk_file(ctx.scratch, n, ".input"))
    plan = read_json(ctx.scratch / PLAN)
    total, first = len(plan["objects"]), sum(len(c) for c in plan["chunks"][:n])
    files = 0
    unclaimed: list[dict[str, str]] = []
    for position, oid in enumerate(data["objects"]):
        ctx.check_cancelled()
        ctx.progress(f"Restoring package {first + position + 1} of {total} from storage", position,
                     len(data["objects"]))  # fmt: skip
        restored = restore_one(archive, oid, [entry_from_json(e) for e in data["journal"][oid]])
        files += restored.files
        if not restored.claimed:
            unclaimed.append({"object": oid, "payload": restored.payload_sha256})
    write_json(result, {"files": files, "unclaimed": unclaimed})


def fix_claims(archive: Archive, object_ids: Sequence[str], unclaimed: Sequence[Mapping[str, str]],
               journal: Mapping[str, Sequence[JournalEntry]]) -> int:  # fmt: skip
    """Give each payload's claim to the oldest package holding it (the order `rebuild` restores in); returns
    how many claims moved. `unclaimed` are the packages restored without their claim."""
    order = {oid: index for index, oid in enumerate(object_ids)}
    left_out = {u["object"] for u in unclaimed}
    moved = 0
    for payload in dict.fromkeys(u["payload"] for u in unclaimed):
        holders = [object_id(s.uuid) for s in archive.catalog.with_payload(payload)]
        holders = [oid for oid in holders if oid in order]
        claimants = [oid for oid in holders if oid not in left_out]
        oldest = min(holders, key=order.__getitem__, default=None)
        if oldest is None or oldest not in left_out:
            continue  # the oldest holds it already (or nothing does: no claim to move)
        for claimant in claimants:  # at most one: the claim is unique
            restore_one(archive, claimant, journal.get(package_of(claimant), []), claim=False)
        restore_one(archive, oldest, journal.get(package_of(oldest), []), claim=True)
        moved += 1
    return moved


def finish_rebuild_job(ctx: StepContext, archive: Archive) -> RebuildReport:
    plan = read_json(ctx.scratch / PLAN)
    results = [read_json(chunk_file(ctx.scratch, n)) for n in range(len(plan["chunks"]))]
    entries = [entry_from_json(e) for e in read_json(ctx.scratch / JOURNAL)]
    by_package: dict[str, list[JournalEntry]] = {}
    for entry in entries:
        by_package.setdefault(entry.package, []).append(entry)
    ctx.progress("Putting payload claims in order", 0, None)
    fix_claims(archive, plan["objects"], [u for r in results for u in r["unclaimed"]], by_package)
    ctx.progress("Restoring copies, records and the search index", 0, None)
    files = sum(r["files"] for r in results)
    return finish_rebuild(archive, entries, len(plan["objects"]), files, ctx.progress)
