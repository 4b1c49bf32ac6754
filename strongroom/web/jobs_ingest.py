"""Ingest as jobs: check a transfer without storing it, then (once approved) store it.

"check-transfer" runs the whole ingest pipeline into a staging folder (safe unpacking, supplied
checksums, virus scan, identification, validation) and throws the build away, keeping only what
it found; "ingest" is the staged job the CLI's `ingest --submit` runs too (ingest/job.py), given
the transfer: its plan turns the transfer into its source path, and its steps keep the transfer's
state in step (`approved_source`, `transfer_failed`, `transfer_stored`). Both have permission "ingest".
The workflow functions (`queue_check`, `approve`, `reject`) keep a transfer and its jobs in step.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.errors import StrongroomError, TransferError
from strongroom.ingest.job import INGEST_KIND
from strongroom.ingest.job import JOB_KINDS as INGEST_JOB_KINDS
from strongroom.ingest.pipeline import IngestBuild, IngestOptions, build_package
from strongroom.ingest.staging import staging_area
from strongroom.jobs.base import JobRunner
from strongroom.jobs.model import JobContext, JobKind
from strongroom.model import FileRole, Validity
from strongroom.web.settings import load_web_settings
from strongroom.web.transfers import Transfer, TransferState, TransferStore
from strongroom.web.uploads import file_sha256

CHECK_KIND = "check-transfer"
MAX_LISTED = 200


def _store(ctx: JobContext) -> tuple[TransferStore, Mapping[str, Any]]:
    web = load_web_settings(ctx.home)
    return TransferStore(web.uploads_dir), web.transfer_sources


# --- the check -------------------------------------------------------------------------------


def run_check(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    store, sources = _store(ctx)
    transfer = store.get(str(params["transfer"]))
    try:
        source = store.source_path(transfer, sources)
        digest = None
        if source.is_file():
            ctx.progress("Computing the file's SHA-256", 0, None)
            digest = file_sha256(source)
        ctx.check_cancelled()

        def progress(step: str, done: int, total: int | None) -> None:
            ctx.progress(step, done, total)
            ctx.check_cancelled()  # nothing is stored by a check: any step is a safe place to stop

        with Archive.open(ctx.home) as archive:
            context = archive.ingest_context()
            package = str(uuid.uuid4())
            with staging_area(archive.settings.staging_dir, package) as staging:
                # Infected files of a check go to its staging folder (thrown away), never to the real quarantine.
                checks = dataclasses.replace(context.checks, quarantine_dir=staging.folder / "quarantine")
                built = build_package(dataclasses.replace(context, checks=checks), source,
                                      IngestOptions(name=transfer.name, operator=str(params.get("operator", ""))),
                                      package, staging.folder, progress)  # fmt: skip
                try:
                    report = check_report(built, archive)
                finally:
                    built.staged.close()
    except StrongroomError as err:
        store.update(transfer.id, f"refused by the check: {err.message}", state=TransferState.REFUSED,
                     error=err.message, details=err.details)  # fmt: skip
        raise
    except BaseException:
        store.update(transfer.id, "the check stopped before it finished", state=TransferState.REFUSED,
                     error="The check did not finish.", details=("Check the transfer again.",))  # fmt: skip
        raise
    store.update(transfer.id, "checked", state=TransferState.CHECKED, report=report, sha256=digest, error=None,
                 details=())  # fmt: skip
    return {"transfer": transfer.id, "name": transfer.name, **{k: report[k] for k in ("kind", "originals", "bytes")}}


def check_report(built: IngestBuild, archive: Archive) -> dict[str, Any]:
    """What a check found, as JSON: files, formats, checksums, virus scan, validation, warnings."""
    formats: dict[str | None, dict[str, Any]] = {}
    unidentified: list[str] = []
    invalid: list[dict[str, Any]] = []
    validity: Counter[str] = Counter()
    virus: Counter[str] = Counter()
    scanner: str | None = None
    checksum_sources: Counter[str] = Counter()
    verified = 0
    originals = original_bytes = 0
    metadata_files: list[str] = []
    for record, facts in built.staged:
        if facts.virus is not None:
            virus[facts.virus.status] += 1
            scanner = scanner or facts.virus.scanner
        if facts.supplied:
            verified += 1
            checksum_sources.update(source for _algorithm, source in facts.supplied)
        if record.path in ("metadata/metadata.csv", "metadata/rights.csv"):
            metadata_files.append(record.path.rsplit("/", 1)[-1])
        if record.role != FileRole.ORIGINAL:
            continue
        originals += 1
        original_bytes += record.size
        first = record.identification.first if record.identification else None
        puid = first.puid if first else None
        name, version = (first.name, first.version) if first else ("Unidentified", None)
        row = formats.setdefault(puid, {"puid": puid, "name": name, "version": version, "files": 0, "bytes": 0})
        row["files"] += 1
        row["bytes"] += record.size
        if first is None and len(unidentified) < MAX_LISTED:
            unidentified.append(record.path)
        verdict = record.validity.value if record.validity else Validity.NOT_CHECKED.value
        validity[verdict] += 1
        if record.validity is Validity.INVALID and len(invalid) < MAX_LISTED:
            messages = [m for outcome in record.characterisation for m in outcome.messages][:5]
            invalid.append({"path": record.path, "messages": messages})
    settings = archive.settings
    same_payload = archive.catalog.with_payload(built.build.summary.payload_sha256)
    duplicates = [{"package": p.uuid, "name": p.name} for p in same_payload]
    scan_ran = bool(virus)
    return {
        "kind": built.kind,
        "name": built.build.summary.name,
        "title": built.build.summary.title,
        "files": built.staged.count,
        "originals": originals,
        "bytes": original_bytes,
        "formats": sorted(formats.values(), key=lambda f: (-f["files"], f["puid"] or "~")),
        "unidentified": {"count": formats.get(None, {}).get("files", 0), "paths": unidentified},
        "checksums": {
            "files_verified": verified,
            "sources": dict(sorted(checksum_sources.items())),
            "result": "all matched" if verified else "none supplied",
        },
        "virus": {
            "ran": scan_ran,
            "scanner": scanner,
            "clean": virus.get("clean", 0),
            "not_scanned": virus.get("not scanned", 0),
            "result": (
                "clean"
                if scan_ran and not virus.get("not scanned")
                else "some files not scanned"
                if scan_ran
                else f"not scanned ([ingest] virus_scan = {settings.virus_scan!r}; no scanner ran)"
            ),
        },
        "validation": {"ran": settings.characterise, "counts": dict(sorted(validity.items())), "invalid": invalid},
        "warnings": list(built.warnings),
        "metadata_files": sorted(metadata_files),
        "retention": built.retention,
        "duplicates": duplicates,
    }


# --- storing ---------------------------------------------------------------------------------


def approved_source(ctx: JobContext, params: Mapping[str, Any]) -> tuple[Path, str]:
    """The source path and name of the approved transfer an "ingest" job stores (its plan step asks)."""
    store, sources = _store(ctx)
    transfer = store.get(str(params["transfer"]))
    if transfer.state != TransferState.APPROVED:
        raise TransferError(f"The transfer is {transfer.state_words.lower()}, not approved.",
                            details=["Approve it on its page first."])  # fmt: skip
    source = store.source_path(transfer, sources)
    if transfer.sha256 is not None:
        ctx.progress("Making sure the file is the one checked", 0, None)
        if file_sha256(source) != transfer.sha256:
            raise TransferError("The transfer's file changed after it was checked; nothing was stored.",
                                details=["Check the transfer again (pick it again from its source, or upload "
                                         "it again), then approve it."])  # fmt: skip
    ctx.check_cancelled()
    return source, transfer.name


def transfer_failed(home: Path, transfer_id: str, err: StrongroomError) -> None:
    """An "ingest" step of this transfer failed with an error a person can act on: storing failed, and why.
    (A job that ends any other way, cancelled or its worker gone, is settled when the transfer is next read.)"""
    store = TransferStore(load_web_settings(home).uploads_dir)
    store.update(transfer_id, f"storing failed: {err.message}", state=TransferState.FAILED, error=err.message,
                 details=err.details)  # fmt: skip


def transfer_stored(home: Path, transfer_id: str, package: str) -> None:
    store = TransferStore(load_web_settings(home).uploads_dir)
    stored = store.update(transfer_id, f"stored as package {package}", state=TransferState.STORED, package=package,
                          error=None, details=())  # fmt: skip
    store.discard_bytes(stored)


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(CHECK_KIND, "Check a transfer", run_check, permission="ingest"),
    *INGEST_JOB_KINDS,  # "ingest" (staged: a transfer here, or a path from the CLI) and "update"
)


# --- the workflow ----------------------------------------------------------------------------


def queue_check(store: TransferStore, runner: JobRunner, transfer: Transfer, owner: str, operator: str) -> Transfer:
    """Queue the check of a new transfer, or check one again (refused, failed, or its file replaced)."""
    with store.changing(transfer.id) as current:
        if current.state not in (
            TransferState.CHECKING,
            TransferState.CHECKED,
            TransferState.REFUSED,
            TransferState.FAILED,
        ) or (current.state == TransferState.CHECKING and current.check_job):
            raise StrongroomError(f"This transfer is {current.state_words.lower()}: it cannot be checked now.",
                                  details=["Wait for its job to finish."])  # fmt: skip
        # The state is set before the job exists: a quick job must find it so, and its answer must not be overwritten.
        store.save_locked(dataclasses.replace(current, state=TransferState.CHECKING, report=None, error=None,
                                              details=()), f"check asked for by {owner}")  # fmt: skip
    try:
        job = runner.submit(CHECK_KIND, {"transfer": transfer.id, "operator": operator}, owner,
                            f"Check {transfer.filename}")  # fmt: skip
    except StrongroomError as err:
        store.update(transfer.id, f"the check could not be queued: {err.message}", state=TransferState.REFUSED,
                     error=err.message, details=err.details)  # fmt: skip
        raise
    return store.update(transfer.id, None, check_job=job.id)


def approve(store: TransferStore, runner: JobRunner, transfer_id: str, who: str, operator: str,
            retention: str | None, archive: Archive, allow_duplicate: bool = False) -> Transfer:  # fmt: skip
    """Queue the ingest of a checked transfer. `allow_duplicate`: store it even if the same files are stored already
    (a second, separate package, as `strongroom ingest --allow-duplicate` does)."""
    code = (retention or "").strip() or None
    if code is not None:
        from strongroom.records.retention import require_schedule

        require_schedule(archive.catalog, code)
    with store.changing(transfer_id) as transfer:
        if transfer.state not in (TransferState.CHECKED, TransferState.FAILED):
            raise StrongroomError(f"This transfer is {transfer.state_words.lower()}: it cannot be approved now.",
                                  details=["Only a transfer that passed its check can be approved."])  # fmt: skip
        note = f"approved by {who}" + (f" with retention schedule {code}" if code else "")
        note += " as a second copy of files already stored" if allow_duplicate else ""
        store.save_locked(dataclasses.replace(transfer, state=TransferState.APPROVED, retention=code, decided_by=who,
                                              error=None, details=()), note)  # fmt: skip
    try:
        params = {"transfer": transfer_id, "operator": operator, "retention": code, "allow_duplicate": allow_duplicate}
        job = runner.submit(INGEST_KIND, params, who,
                            f"Store {transfer.filename}")  # fmt: skip
    except StrongroomError:
        store.update(transfer_id, "storing could not be queued", state=transfer.state, decided_by=transfer.decided_by)
        raise
    return store.update(transfer_id, None, ingest_job=job.id)


def reject(store: TransferStore, transfer_id: str, who: str) -> Transfer:
    with store.changing(transfer_id) as transfer:
        if transfer.state not in (TransferState.CHECKED, TransferState.REFUSED, TransferState.FAILED):
            raise StrongroomError(f"This transfer is {transfer.state_words.lower()}: it cannot be rejected now.",
                                  details=["Wait for its job to finish, then reject it."])  # fmt: skip
        rejected = store.save_locked(dataclasses.replace(transfer, state=TransferState.REJECTED, decided_by=who),
                                     f"rejected by {who}")  # fmt: skip
    store.discard_bytes(rejected)
    return rejected


__all__ = ["CHECK_KIND", "INGEST_KIND", "JOB_KINDS", "approve", "approved_source", "check_report", "queue_check",
           "reject", "run_check", "transfer_failed", "transfer_stored"]  # fmt: skip
