"""Ingest and metadata update as jobs.

"ingest" is staged (ingest/phases.py does the work): plan unpacks the transfer into the job's scratch folder
and cuts its files into chunks; each chunk copies, hashes, identifies, checks and extracts the text of its
files on whichever worker takes it; finalize gathers the chunks, refuses a transfer whose supplied checksums
disagree, writes the METS and commits. Its params are either a path (`ingest_params`: the CLI's
`strongroom ingest --submit`) or a web transfer (`{"transfer": id, ...}`: web/jobs_ingest.py), whose state
the steps keep in step with the job.

"update" is one step: `Archive.update_metadata` with the metadata.csv carried in its params (so any worker can
run it, wherever the file was), and the package's version when it was submitted: run again after it committed
(its worker died before the job row said so), it finds its own version and stores nothing twice.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.errors import StrongroomError, TransferError
from strongroom.ingest.pipeline import IngestOptions
from strongroom.jobs.model import JobContext, JobKind, StepContext

if TYPE_CHECKING:
    from strongroom.archive import Archive

INGEST_KIND = "ingest"
UPDATE_KIND = "update"
MAX_METADATA_BYTES = 16 * 1024**2  # a metadata.csv travels inside the job's params (a catalog row)


# --- params --------------------------------------------------------------------------------------


def ingest_params(source: Path, options: IngestOptions) -> dict[str, Any]:
    """The JSON params of an "ingest" job for `strongroom ingest SOURCE` with `options`.

    The source is made absolute: a worker elsewhere reads it from the same path (a shared mount).
    """
    return {
        "source": str(source.expanduser().absolute()),
        "name": options.name,
        "description": {element: list(values) for element, values in options.description.items()},
        "allow_duplicate": options.allow_duplicate,
        "operator": options.operator,
        "as_folder": options.as_folder,
        "retention": options.retention,
    }


def options_from_params(params: Mapping[str, Any]) -> IngestOptions:
    """The IngestOptions an "ingest" job's params stand for (those of ingest_params, or a web transfer's)."""
    description = params.get("description") or {}
    return IngestOptions(
        name=params.get("name") or None,
        description={str(k): tuple(str(v) for v in values) for k, values in description.items()},
        allow_duplicate=params.get("allow_duplicate") is True,
        operator=str(params.get("operator") or "unknown"),
        as_folder=params.get("as_folder") is True,
        retention=params.get("retention") or None,
    )


def update_params(archive: Archive, package: str, metadata: Path, reason: str, operator: str) -> dict[str, Any]:
    """The JSON params of an "update" job for `strongroom update PACKAGE --metadata FILE --reason R`.

    Checked now, so a wrong package or file is refused at submit time: the package is resolved to its
    uuid and current version (the job's base), and the metadata.csv is read into the params.
    """
    summary = archive.package(package)
    if not metadata.is_file():
        raise StrongroomError(f"{metadata} is not a file.", details=["Give the path of a metadata.csv."])
    size = metadata.stat().st_size
    if size > MAX_METADATA_BYTES:
        raise TransferError(
            f"{metadata} is {size} bytes, more than a job carries ({MAX_METADATA_BYTES} bytes).",
            details=["Split it into several metadata.csv files and update with each, or run without --submit."],
        )
    data = metadata.read_bytes()
    return {
        "package": summary.uuid,
        "base_version": summary.version,
        "metadata_name": metadata.name,
        "metadata": base64.b64encode(data).decode("ascii"),
        "metadata_sha256": hashlib.sha256(data).hexdigest(),
        "reason": reason,
        "operator": operator,
    }


# --- ingest steps ----------------------------------------------------------------------------------


def plan_ingest(ctx: StepContext, params: Mapping[str, Any]) -> int:
    from strongroom.ingest import job_steps

    return job_steps.plan(ctx, params)


def ingest_chunk(ctx: StepContext, params: Mapping[str, Any], number: int) -> None:
    from strongroom.ingest import job_steps

    job_steps.chunk(ctx, params, number)


def finalize_ingest(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    from strongroom.ingest import job_steps

    return job_steps.finalize(ctx, params)


# --- update ------------------------------------------------------------------------------------------


def run_update(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Update a package's descriptions once, however often the step runs."""
    from strongroom.archive import Archive
    from strongroom.views import update_json

    data = base64.b64decode(str(params["metadata"]))
    base = int(params["base_version"])
    with tempfile.TemporaryDirectory(prefix="strongroom-update-") as folder:
        # Only the last part of the name the CLI sent: a hand-made job row must not write outside this folder.
        name = Path(str(params.get("metadata_name") or "")).name
        csv = Path(folder) / (name if name not in ("", ".", "..") else "metadata.csv")
        csv.write_bytes(data)
        with Archive.open(ctx.home) as archive:
            done = archive.update_metadata(str(params["package"]), csv, str(params.get("reason") or ""),
                                           str(params.get("operator") or "unknown"), ctx.progress,
                                           base_version=base)  # fmt: skip
            return update_json(done)


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(
        INGEST_KIND,
        "Ingest a transfer",
        None,
        permission="ingest",
        plan=plan_ingest,
        chunk=ingest_chunk,
        finalize=finalize_ingest,
        resumable=True,
    ),
    JobKind(UPDATE_KIND, "Update a package's descriptions", run_update, permission="ingest", resumable=True),
)

__all__ = ["INGEST_KIND", "JOB_KINDS", "UPDATE_KIND", "ingest_params", "options_from_params", "update_params"]
