"""Every kind of long work, gathered from the modules that define them."""

from __future__ import annotations

from strongroom.jobs.model import JobKind


def default_kinds() -> dict[str, JobKind]:
    from strongroom.web.jobs_ingest import JOB_KINDS as ingest
    from strongroom.web.jobs_preservation import JOB_KINDS as preservation
    from strongroom.web.jobs_records import JOB_KINDS as records

    kinds: dict[str, JobKind] = {}
    for kind in (*ingest, *preservation, *records):
        if kind.name in kinds:
            raise ValueError(f"two job kinds are called {kind.name!r}")
        kinds[kind.name] = kind
    return kinds
