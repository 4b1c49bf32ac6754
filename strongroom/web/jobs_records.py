"""Job kinds of records management: executing an approved disposal batch.

Execution is resumable by design (records/disposal.py journals each step once), so a job
cancelled between packages, or stopped by a restart, leaves the batch `executing`; submitting
the job again finishes it. Packages transferred to another archive are written as BagIt bags
under `<home>/transferred/<batch>/`, a folder of the archive's own: a web form never names a
server path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.cli_disposal import execution_json
from strongroom.errors import StrongroomError
from strongroom.jobs.model import JobContext, JobKind
from strongroom.web.permissions import Permission

DISPOSAL_EXECUTE = "disposal-execute"
TRANSFERRED = "transferred"


def transfer_folder(home: Path, batch: str) -> Path:
    """Where the bags of a batch's transferred packages are written."""
    return home / TRANSFERRED / batch


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
    if report.pending:
        where = ", ".join(sorted(report.pending))
        raise StrongroomError(
            f"Disposal batch {report.batch.id} is still executing: location(s) {where} could not be cleared.",
            details=[*report.problems, "Execute the batch again once every location answers; it resumes where it "
                     "stopped."],
        )  # fmt: skip
    return execution_json(report)


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind(
        name=DISPOSAL_EXECUTE,
        title="Execute a disposal batch",
        run=execute_disposal,
        permission=Permission.MANAGE_RECORDS.value,
    ),
)
