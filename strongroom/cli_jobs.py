"""`strongroom jobs list|show|wait|cancel`, and `--submit` on the long commands: queue the work as a durable job
and return at once; follow it from any machine that shares the catalog.

Jobs are rows in the catalog, whichever runner carries them, so these commands read the catalog and never
depend on which worker ran a step. The JSON of a job is the web API's (web/routes_jobs.job_json).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from strongroom.archive import current_operator
from strongroom.cli_common import HomeOption, JsonFlag, command_home, show_bar
from strongroom.cli_output import Command, Group, console, errors, fail, print_json
from strongroom.errors import NotFound, StrongroomError

if TYPE_CHECKING:
    from strongroom.catalog.base import Catalog
    from strongroom.jobs.model import JobRecord, StepRecord

JOB_ID_HELP = "The job's id, as --submit printed it or `strongroom jobs list` shows it"
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
POLL_SECONDS = 0.5  # how often `jobs wait` reads the job's row (the runners write progress about twice a second)
PLAIN_EVERY = 10.0  # without a terminal, a progress line at most this often (a log stays readable)

# `jobs wait` exit statuses; 2 stays what it is for every command: an error (unknown job, bad option).
EXIT_SUCCEEDED, EXIT_ENDED_BADLY, EXIT_TIMEOUT = 0, 1, 3

SubmitFlag = Annotated[
    bool,
    typer.Option(
        "--submit",
        help='Queue it as a job and return at once, printing the job\'s id (--json: {"job": ID}); a worker or '
        "`strongroom serve` runs it. Follow it with `strongroom jobs wait ID`.",
    ),
]

jobs_app = typer.Typer(
    help="Long work queued as durable jobs (by --submit or the web service): list, show, wait for or cancel them.",
    no_args_is_help=True,
    cls=Group,
)


# --- submitting -------------------------------------------------------------------------------


def submit_job(ctx: typer.Context, home: Path | None, kind: str, params: Mapping[str, Any], title: str,
               as_json: bool) -> None:  # fmt: skip
    """Queue `kind` with `params` as the OS user, print the job id (and how to follow it), and return."""
    path = command_home(ctx, home)
    with errors(as_json):
        from strongroom.config import load_settings
        from strongroom.jobs.settings import load_job_settings

        load_settings(path)  # no archive there: the usual message, before anything else is opened
        settings = load_job_settings(path)
        if settings.runner == "celery":
            from strongroom.jobs.runners import open_runner

            runner = open_runner(path)  # publishes the first step on the broker; the workers do the rest
            try:
                job = runner.submit(kind, params, current_operator(), title)
            finally:
                runner.close()
        else:
            job = _queue_in_catalog(path, kind, params, title)
    if as_json:
        print_json({"job": job.id})
        return
    out = console()
    out.print(f"Queued job [bold]{job.id}[/] ({escape(job.title)}).", highlight=False)
    if settings.runner == "embedded":
        out.print("It runs on this machine, in a `strongroom worker` or `strongroom serve` for this archive "
                  "(the embedded runner): start one if none is running.", highlight=False)  # fmt: skip
    else:
        out.print("A `strongroom worker` serving its queue takes it from the broker.", highlight=False)
    out.print(f"Follow it with: strongroom jobs wait {job.id}", highlight=False)


def _queue_in_catalog(home: Path, kind: str, params: Mapping[str, Any], title: str) -> JobRecord:
    """The embedded runner's submit without the runner: its queue is the catalog, so the job and its first step
    are rows there, which `strongroom serve` or `strongroom worker` takes. (Opening an EmbeddedRunner here would
    start running the job in this process, only to stop it when the command returns.)"""
    from strongroom.catalog import open_catalog
    from strongroom.config import load_settings
    from strongroom.jobs.execute import find_kind, require_tools, worker_id
    from strongroom.jobs.execute import submit_job as add_job
    from strongroom.jobs.kinds import default_kinds

    kinds = default_kinds()
    require_tools(find_kind(kinds, kind))  # the embedded runner runs it on this machine: refused now, not later
    catalog = open_catalog(load_settings(home).catalog_url)
    try:
        job, _first = add_job(catalog, kinds, kind, params, current_operator(), title, runner_id=worker_id())
    finally:
        catalog.close()
    return job


# --- reading jobs -----------------------------------------------------------------------------


@contextmanager
def _catalog(ctx: typer.Context, home: Path | None) -> Iterator[Catalog]:
    from strongroom.catalog import open_catalog
    from strongroom.config import load_settings

    catalog = open_catalog(load_settings(command_home(ctx, home)).catalog_url)
    try:
        yield catalog
    finally:
        catalog.close()


def _job(catalog: Catalog, job_id: str) -> JobRecord:
    found = catalog.job(job_id.strip().lower()) if _JOB_ID.fullmatch(job_id.strip().lower()) else None
    if found is None:
        hints = ["See the jobs with: strongroom jobs list", "A job's id is a UUID, given whole."]
        raise NotFound(f"There is no job {job_id[:60]!r} in this archive.", details=hints)
    return found


def job_json(job: JobRecord) -> dict[str, Any]:
    """A job as the web API answers it (GET /api/v1/jobs/ID)."""
    from strongroom.views import job_json as api_job_json

    return api_job_json(job)


def steps_summary(steps: list[StepRecord]) -> dict[str, Any]:
    """How a job's steps went: counts by state, how many ran more than once (a worker stopped mid-step), failures."""
    states = Counter(s.state.value for s in steps)
    return {
        "count": len(steps),
        "states": dict(sorted(states.items())),
        "ran_more_than_once": sum(1 for s in steps if s.attempts > 1),
        "failed": [{"step": s.key, "worker": s.worker, "error": s.error} for s in steps if s.error],
    }


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else "-"


def _progress_words(job: JobRecord) -> str:
    if not job.step:
        return "-"
    if job.total:
        return f"{job.step}: {job.done:,} of {job.total:,}"
    return f"{job.step}: {job.done:,}" if job.done else job.step


def _value(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _print_result(out: Console, result: Mapping[str, Any], indent: str = "  ") -> None:
    for key, value in result.items():
        out.print(f"{indent}{escape(key.replace('_', ' '))}: {escape(_value(value))}", highlight=False)


@jobs_app.command(name="list", cls=Command)
def list_command(
    ctx: typer.Context,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            help="Only jobs in this state (repeatable): queued, running, succeeded, failed, cancelled, interrupted.",
            metavar="STATE",
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", help="Only jobs of this kind (repeatable), e.g. ingest, audit, migrate.", metavar="KIND"
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=100_000, help="List at most this many, newest first.")
    ] = 50,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """List jobs, newest first: who queued them, their state and progress."""
    from strongroom.jobs.model import JobState

    with errors(as_json):
        try:
            states = tuple(JobState(s.strip().lower()) for s in state) if state else None
        except ValueError:
            raise StrongroomError(f"A job's state is one of: {', '.join(s.value for s in JobState)}.",
                                  details=["For example: strongroom jobs list --state running"]) from None  # fmt: skip
        with _catalog(ctx, home) as catalog:
            jobs = catalog.jobs(kinds=tuple(kind) if kind else None, states=states, limit=limit)
    if as_json:
        print_json({"jobs": [job_json(j) for j in jobs]})
        return
    out = console()
    if not jobs:
        out.print("No jobs" + (" like that" if state or kind else " yet: queue one with, e.g., strongroom ingest "
                               "<folder> --submit") + ".", highlight=False)  # fmt: skip
        return
    from rich.table import Table

    table = Table("Kind", "Title", "Owner", "State", "Progress", "Created")
    table.add_column("Job", no_wrap=True, min_width=36)
    for j in jobs:
        chunks = f" ({j.chunks_done}/{j.chunks_total} chunks)" if j.chunks_total else ""
        table.add_row(escape(j.kind), escape(j.title), escape(j.owner), j.state.value,
                      escape(_progress_words(j) + chunks), _when(j.created), j.id)  # fmt: skip
    out.print(table)


@jobs_app.command(name="show", cls=Command)
def show_command(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help=f"{JOB_ID_HELP}.", metavar="ID")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show one job: state, progress, chunks, how its steps went, and its result or error."""
    with errors(as_json), _catalog(ctx, home) as catalog:
        job = _job(catalog, job_id)
        steps = catalog.steps(job.id)
    summary = steps_summary(steps)
    if as_json:
        print_json(job_json(job) | {"chunks_total": job.chunks_total, "chunks_done": job.chunks_done,
                                    "steps": summary})  # fmt: skip
        return
    out = console()
    out.print(
        f"[bold]{escape(job.title)}[/] (job {job.id})\n  kind: {escape(job.kind)}\n  state: {job.state.value}"
        + (" (cancel asked for)" if job.cancel_requested and not job.state.finished else "")
        + f"\n  owner: {escape(job.owner)}\n  created: {_when(job.created)}, started: {_when(job.started)}, "
        f"finished: {_when(job.finished)}\n  progress: {escape(_progress_words(job))}",
        highlight=False,
    )
    if job.chunks_total is not None:
        out.print(f"  chunks: {job.chunks_done:,} of {job.chunks_total:,} done", highlight=False)
    if steps:
        states = ", ".join(f"{n} {state}" for state, n in summary["states"].items())
        again = summary["ran_more_than_once"]
        out.print(f"  steps: {summary['count']} ({states}); {again} ran more than once"
                  + (" (a worker stopped mid-step; the step ran again elsewhere)" if again else ""),
                  highlight=False)  # fmt: skip
        for failed in summary["failed"]:
            out.print(f"  [red]step {escape(failed['step'])} failed[/] on {escape(failed['worker'] or '-')}: "
                      f"{escape(failed['error'] or '')}", highlight=False)  # fmt: skip
    if job.result is not None:
        out.print("  result:", highlight=False)
        _print_result(out, job.result, indent="    ")
    if job.error:
        out.print(f"  [red]error:[/] {escape(job.error)}", highlight=False)
        for hint in job.details:
            out.print(f"    - {escape(hint)}", highlight=False)


def _follow(catalog: Catalog, job: JobRecord, timeout: float | None, bar: bool, plain: bool) -> JobRecord:
    """Read the job's row until it has finished or `timeout` seconds passed; show its progress on the way."""
    deadline = None if timeout is None else time.monotonic() + timeout
    err = Console(stderr=True)
    last_line, last_plain = "", 0.0

    def finished_or_late() -> bool:
        return job.state.finished or (deadline is not None and time.monotonic() >= deadline)

    if bar:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(job.state.value, total=None)
            while not finished_or_late():
                words = job.step or job.state.value
                total = job.total
                progress.update(task, description=escape(words), total=total,
                                completed=min(job.done, total) if total is not None else job.done)  # fmt: skip
                time.sleep(POLL_SECONDS)
                job = _job(catalog, job.id)
        return job
    while not finished_or_late():
        line = f"{job.state.value}: {_progress_words(job)}" if job.step else job.state.value
        if plain and line != last_line and time.monotonic() - last_plain >= PLAIN_EVERY:
            err.print(line, highlight=False, soft_wrap=True)
            last_line, last_plain = line, time.monotonic()
        time.sleep(POLL_SECONDS)
        job = _job(catalog, job.id)
    return job


def shortfall(job: JobRecord) -> str | None:
    """What, in a succeeded job's result, makes the command itself exit 1 (audit, replicate, migrate, text):
    None when there is nothing of the kind."""
    result = job.result or {}
    unreachable = result.get("unreachable_locations") or {}
    if job.kind in ("audit", "replicate") and unreachable:
        return f"storage location(s) not reached: {', '.join(sorted(unreachable))}."
    if job.kind == "audit" and result.get("problems"):
        repairs = result.get("repairs") or []
        healed = (
            job.params.get("repair") is True
            and not result.get("repair_failures")
            and all(isinstance(r, Mapping) and r.get("ok") for r in repairs)
        )
        if not healed:
            return f"{len(result['problems'])} problem(s) found in the stored copies."
    if job.kind == "replicate" and result.get("failures"):
        return f"{len(result['failures'])} copy(ies) could not be made; run it again to continue."
    if result.get("ok") is False:  # migrate, extract-text
        return "part of the work failed (see the result)."
    return None


@jobs_app.command(name="wait", cls=Command)
def wait_command(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help=f"{JOB_ID_HELP}.", metavar="ID")],
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0,
            help="Stop waiting after this many seconds (exit 3); the job goes on.",
            metavar="SECONDS",
        ),
    ] = None,
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Wait for a job to finish, showing its progress; then print its result (--json: what the command itself
    prints with --json).

    Exit status: 0 the job succeeded; 1 it failed, was cancelled or was interrupted (the error on stderr), or its
    result holds what the command itself exits 1 for (an audit's problems, a copy not made, a failed conversion);
    2 an error of this command (no such job, no archive); 3 --timeout passed first (the job goes on).
    """
    with errors(as_json), _catalog(ctx, home) as catalog:
        job = _job(catalog, job_id)
        job = _follow(catalog, job, timeout, bar=show_bar(as_json), plain=not as_json)
    if not job.state.finished:
        doing = f" ({_progress_words(job)})" if job.step else ""
        fail(f"Job {job.id} is still {job.state.value} after {timeout or 0:g} s{doing}.", EXIT_TIMEOUT,
             as_json=as_json, hints=[f"Wait again with: strongroom jobs wait {job.id}"])  # fmt: skip
    from strongroom.jobs.model import JobState

    if job.state is not JobState.SUCCEEDED:
        message = job.error or f"Job {job.id} was {job.state.value}."
        fail(f"{job.title}: {message}", EXIT_ENDED_BADLY, as_json=as_json,
             hints=[*job.details, f"See it with: strongroom jobs show {job.id}"])  # fmt: skip
    result = dict(job.result or {})
    trouble = shortfall(job)
    if as_json:
        print_json(result)
    else:
        out = console()
        out.print(f"Job {job.id} ({escape(job.title)}) " + ("finished." if trouble else "succeeded."),
                  highlight=False)  # fmt: skip
        _print_result(out, result)
    if trouble:  # what the command run without --submit exits 1 for: the same status here
        if as_json:
            raise typer.Exit(EXIT_ENDED_BADLY)
        fail(f"{job.title}: {trouble}", EXIT_ENDED_BADLY, hints=[f"See it with: strongroom jobs show {job.id}"])


@jobs_app.command(name="cancel", cls=Command)
def cancel_command(
    ctx: typer.Context,
    job_id: Annotated[str, typer.Argument(help=f"{JOB_ID_HELP}.", metavar="ID")],
    home: HomeOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Cancel a job: a queued one at once, a running one when its steps reach their next safe point.

    What a finished step stored stays stored; `strongroom jobs wait ID` says when it has stopped.
    """
    with errors(as_json), _catalog(ctx, home) as catalog:
        job = _job(catalog, job_id)
        if not job.state.finished:
            from strongroom.jobs.execute import settle_cancel
            from strongroom.jobs.settings import load_job_settings

            catalog.request_cancel(job.id)
            # No step can start once the flag is set: a job none of whose steps runs ends here and now.
            settle_cancel(catalog, job.id, load_job_settings(command_home(ctx, home)))
            job = _job(catalog, job.id)
    if as_json:
        print_json(job_json(job))
        return
    out = console()
    if job.state.finished:
        out.print(f"Job {job.id} has finished: {job.state.value}.", highlight=False)
    else:
        out.print(f"Asked job {job.id} to stop: it stops at its steps' next safe point. See when with: "
                  f"strongroom jobs wait {job.id}", highlight=False)  # fmt: skip


def register_jobs(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")


__all__ = ["EXIT_ENDED_BADLY", "EXIT_SUCCEEDED", "EXIT_TIMEOUT", "SubmitFlag", "job_json", "register_jobs",
           "shortfall", "steps_summary", "submit_job"]  # fmt: skip
