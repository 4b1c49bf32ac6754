"""The `[jobs]` table of strongroom.toml: which runner carries long work, and how it is cut up.

[jobs]
runner = "embedded"               # "embedded": steps run in this machine's processes, queued in the catalog;
                                  # "celery": steps go to `strongroom worker` processes through RabbitMQ
broker_url = "amqp://strongroom:PASSWORD@queue.example.org:5672/strongroom"   # for runner = "celery"
shared_dir = "jobs"               # each job's scratch folder; every worker host must see the same path
chunk_files = 200                 # a chunk holds at most this many files ...
chunk_bytes = "256 MiB"           # ... or this many bytes, whichever comes first
lease_seconds = 60                # a step's worker renews its lease this often x3; after that it counts as dead
workers = 0                       # steps run at once by the embedded runner and by each `strongroom worker`
                                  # (0 = one per CPU it may use; `worker --concurrency` overrides it)

STRONGROOM_JOBS_BROKER_URL, when set, means runner = "celery" with that broker (it wins over the file),
and STRONGROOM_JOBS_RUNNER overrides `runner`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strongroom.config import CONFIG_NAME
from strongroom.errors import ConfigError
from strongroom.web.settings import parse_size
from strongroom.workers import default_workers

RUNNERS = ("embedded", "celery")


@dataclass(frozen=True)
class JobSettings:
    home: Path
    runner: str = "embedded"
    broker_url: str | None = None
    shared_dir: Path | None = None  # None: <home>/jobs
    chunk_files: int = 200
    chunk_bytes: int = 256 * 1024**2
    lease_seconds: int = 60
    workers: int = 0

    @property
    def scratch_root(self) -> Path:
        return self.shared_dir if self.shared_dir is not None else self.home / "jobs"

    def scratch(self, job_id: str) -> Path:
        """The job's own scratch folder (not created here)."""
        return self.scratch_root / job_id

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else default_workers()


def _whole(table: Mapping[str, Any], key: str, default: int, where: str, least: int = 1) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ConfigError(f"[jobs] {key} in {where} must be a whole number of at least {least}, not {value!r}.")
    return value


def load_job_settings(home: Path, environ: Mapping[str, str] | None = None) -> JobSettings:
    env = os.environ if environ is None else environ
    config_file = home / CONFIG_NAME
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {config_file}: {exc}", details=["Fix the file and retry."]) from exc
    table = data.get("jobs", {})
    where = str(config_file)
    if not isinstance(table, dict):
        raise ConfigError(f"[jobs] in {where} must be a table.")
    broker = env.get("STRONGROOM_JOBS_BROKER_URL") or table.get("broker_url")
    if broker is not None and (not isinstance(broker, str) or not broker.strip()):
        raise ConfigError(f'[jobs] broker_url in {where} must be a broker URL such as "amqp://host:5672/vhost".')
    runner = env.get("STRONGROOM_JOBS_RUNNER") or ("celery" if env.get("STRONGROOM_JOBS_BROKER_URL") else None)
    runner = runner or table.get("runner", "embedded")
    if runner not in RUNNERS:
        raise ConfigError(f"[jobs] runner in {where} must be one of {', '.join(RUNNERS)}, not {runner!r}.")
    if runner == "celery" and not broker:
        raise ConfigError(
            f'[jobs] runner = "celery" in {where} needs a broker.',
            details=['Set [jobs] broker_url = "amqp://user:password@host:5672/vhost" or STRONGROOM_JOBS_BROKER_URL.'],
        )
    shared = table.get("shared_dir")
    shared_dir: Path | None = None
    if shared is not None:
        if not isinstance(shared, str) or not shared.strip():
            raise ConfigError(f"[jobs] shared_dir in {where} must be a folder path.")
        shared_dir = Path(shared) if Path(shared).is_absolute() else home / shared
    return JobSettings(
        home=home,
        runner=str(runner),
        broker_url=broker,
        shared_dir=shared_dir,
        chunk_files=_whole(table, "chunk_files", 200, where),
        chunk_bytes=parse_size(table.get("chunk_bytes", 256 * 1024**2), f"[jobs] chunk_bytes in {where}"),
        lease_seconds=_whole(table, "lease_seconds", 60, where, least=5),
        workers=_whole(table, "workers", 0, where, least=0),
    )


__all__ = ["RUNNERS", "JobSettings", "load_job_settings"]
