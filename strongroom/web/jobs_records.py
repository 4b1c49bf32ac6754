"""Job kinds of records management: executing an approved disposal batch.

The kind is staged (records/disposal_job.py): plan (the checks and the write-ahead stubs), chunks of
packages, finalize (the certificate, once). Execution is resumable by design (records/disposal.py
journals each step once), so a job cancelled between packages, or stopped by a restart, leaves the
batch `executing`; submitting the job again finishes it. Packages transferred to another archive are
written as BagIt bags under `<home>/transferred/<batch>/`, a folder of the archive's own: a web form
never names a server path. `execute_disposal` runs the whole execution in one step (the same work).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.archive import Archive
from strongroom.cli_disposal import execution_json
from strongroom.jobs.model import JobContext, JobKind
from strongroom.records.disposal_job import (
    DISPOSAL_EXECUTE,
    TRANSFERRED,
    disposal_kind,
    refuse_pending,
    transfer_folder,
)
from strongroom.web.permissions import Permission

__all__ = ["DISPOSAL_EXECUTE", "JOB_KINDS", "TRANSFERRED", "execute_disposal", "transfer_folder"]


def execute_disposal(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Run `disposal execute` for params["batch"] as params["operator"]; its result is `disposal execute --json`."""
    from strongroom.records.disposal import execute

    batch = str(params["batch"])
    operator = str(params["operator"])

    def progress(step: str, done: int, total: int | None) -> None:
        ctx.progress(step, done, total)
        ctx.check_cancelled()  # between packages: each one is either wholly done or not begun

    with Archive.open(ctx.home) as archive:
        ctx.progress("Checking the batch", 0, None)
        report = execute(archive, batch, operator, transfer_to=transfer_folder(ctx.home, batch), progress=progress)
    refuse_pending(report)
    return execution_json(report)


JOB_KINDS: tuple[JobKind, ...] = (disposal_kind(Permission.MANAGE_RECORDS.value),)
