"""Open the job runner `[jobs]` asks for: the embedded one (default) or the Celery one.

The web service and the CLI call open_runner and see only the JobRunner interface (jobs/base.py), so
neither knows which runner carries its jobs: both keep every job and step in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from strongroom.errors import ConfigError
from strongroom.jobs.base import JobRunner
from strongroom.jobs.model import JobKind
from strongroom.jobs.settings import load_job_settings

DISTRIBUTED_MODULES = ("celery", "kombu", "amqp", "billiard", "vine")


def open_runner(home: Path, kinds: Mapping[str, JobKind] | None = None, *, workers: int | None = None) -> JobRunner:
    """The runner for the archive at `home`. `kinds` defaults to every kind (jobs/kinds.py); `workers` (the
    embedded runner's slots) defaults to `[jobs] workers`. Close it when done."""
    job_settings = load_job_settings(home)
    if kinds is None:
        from strongroom.jobs.kinds import default_kinds

        kinds = default_kinds()
    if job_settings.runner == "celery":
        try:
            from strongroom.jobs.celery_runner import CeleryRunner
        except ImportError as exc:
            if (exc.name or "").split(".")[0] not in DISTRIBUTED_MODULES:
                raise
            raise ConfigError(
                '[jobs] runner = "celery" needs Celery, which is not installed.',
                details=["Install it with: pip install 'strongroom[distributed]'",
                         'Or run jobs in this process: set [jobs] runner = "embedded" and unset '
                         "STRONGROOM_JOBS_BROKER_URL."],
            ) from exc  # fmt: skip
        return CeleryRunner(home, kinds, job_settings)
    from strongroom.jobs.embedded import EmbeddedRunner

    slots = workers if workers is not None else job_settings.worker_count
    return EmbeddedRunner(home, kinds, slots, job_settings=job_settings)


__all__ = ["open_runner"]
