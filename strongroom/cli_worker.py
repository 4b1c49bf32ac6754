"""`strongroom worker`: run the steps of queued jobs on this machine until stopped.

With [jobs] runner = "celery" it starts a Celery worker (prefork) on the queues this machine can serve
(jobs/queues.py: `default`, and `cap.<tool>` for the tools `strongroom doctor` finds here); with the
embedded runner it runs the embedded runner over the catalog's queue, so `--submit`ted jobs run on a
single machine with no broker. SIGTERM or SIGINT stops it after the steps in hand.
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from strongroom.cli_common import HomeOption, command_home
from strongroom.cli_output import Command, console, errors
from strongroom.errors import ConfigError, StrongroomError
from strongroom.jobs.model import JobKind
from strongroom.jobs.settings import JobSettings, load_job_settings

# Extra job kinds for this worker, as "package.module:NAME" (NAME: an iterable of JobKind), comma-separated.
# Only `strongroom worker` reads it (the test suites' kinds, run in worker subprocesses); the web service and the
# CLI submit built-in kinds only. Whoever sets a service's environment can run code in it anyway, so this opens
# nothing new, but an extra kind may only add a name: replacing a built-in kind is refused.
EXTRA_KINDS_VARIABLE = "STRONGROOM_EXTRA_JOB_KINDS"


def worker_kinds(environ: Mapping[str, str] | None = None) -> dict[str, JobKind]:
    """The default kinds plus those named by STRONGROOM_EXTRA_JOB_KINDS."""
    from strongroom.jobs.kinds import default_kinds

    kinds = default_kinds()
    builtin = frozenset(kinds)
    spec = (os.environ if environ is None else environ).get(EXTRA_KINDS_VARIABLE, "")
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        module_name, _, attribute = entry.partition(":")
        try:
            extra = getattr(importlib.import_module(module_name), attribute or "JOB_KINDS")
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"{EXTRA_KINDS_VARIABLE} names {entry!r}, which cannot be loaded: {exc}",
                details=["Give it as package.module:NAME, importable by this Python."],
            ) from exc
        for kind in extra.values() if isinstance(extra, Mapping) else extra:
            if not isinstance(kind, JobKind):
                raise ConfigError(f"{entry} holds {kind!r}, which is not a JobKind.")
            if kind.name in builtin:
                raise ConfigError(
                    f"{EXTRA_KINDS_VARIABLE} names {entry}, whose kind {kind.name!r} is Strongroom's own already.",
                    details=["Give an extra kind a name of its own; a built-in kind cannot be replaced."],
                )
            kinds[kind.name] = kind
    return kinds


def serve_embedded(home: Path, kinds: Mapping[str, JobKind], workers: int | None) -> None:
    """Run the embedded runner over the catalog's queue until SIGTERM or SIGINT, then close it."""
    from strongroom.jobs.runners import open_runner

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    runner = open_runner(home, kinds, workers=workers)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runner.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _say_queues(settings: JobSettings, lines: list[str], concurrency: int) -> None:
    from strongroom.catalog import redact

    out = console()
    out.print(f"Strongroom worker: {concurrency} process(es), broker {redact(settings.broker_url or '')}",
              highlight=False, soft_wrap=True)  # fmt: skip
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


def register_worker(app: typer.Typer) -> None:
    @app.command(cls=Command)
    def worker(
        ctx: typer.Context,
        queues: Annotated[
            str | None,
            typer.Option(
                "--queues",
                help="Serve only these queues, comma-separated (e.g. default,cap.libreoffice). Default: every "
                "queue this machine can serve: `default`, and `cap.<tool>` for each tool `strongroom doctor` "
                "finds here. A queue whose tool is missing is refused.",
                metavar="Q,...",
            ),
        ] = None,
        concurrency: Annotated[
            int | None,
            typer.Option(
                min=1,
                max=256,
                help="Steps run at once (default: [jobs] workers in strongroom.toml; 0 or unset: the CPUs this "
                "process may use).",
            ),
        ] = None,
        home: HomeOption = None,
    ) -> None:
        """Run the steps of queued jobs on this machine until stopped (SIGTERM or Ctrl+C: the steps in hand
        finish first). With [jobs] runner = "celery", steps come from RabbitMQ; with the embedded runner,
        from the catalog."""
        folder: Path = command_home(ctx, home)
        requested = None if queues is None else queues.split(",")
        with errors():
            settings = load_job_settings(folder)
            count = concurrency if concurrency is not None else settings.worker_count  # [jobs] workers, 0: per CPU
            kinds = worker_kinds()
            if settings.runner != "celery":
                if requested is not None:
                    raise StrongroomError("--queues is for the Celery runner; this archive uses the embedded one.",
                                          details=['Leave out --queues, or set [jobs] runner = "celery".'])  # fmt: skip
                console().print(f"Strongroom worker: running the jobs queued in {folder} with {count} at a time "
                                "(embedded runner; press Ctrl+C to stop)", highlight=False, soft_wrap=True)  # fmt: skip
                serve_embedded(folder, kinds, count)
                return
            from strongroom.jobs.celery_runner import require_celery, run_worker
            from strongroom.jobs.queues import worker_queues
            from strongroom.tools import find_tools

            require_celery()
            plan = worker_queues(kinds, find_tools(), requested)
            assert settings.broker_url is not None  # load_job_settings requires one for celery
            _say_queues(settings, plan.reasons(), count)
            code = run_worker(folder, settings, kinds, plan.queues, count)
        raise typer.Exit(code)


__all__ = ["EXTRA_KINDS_VARIABLE", "register_worker", "serve_embedded", "worker_kinds"]
