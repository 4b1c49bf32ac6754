"""Jobs: the list and one job's page (progress, result, error, cancel), and their API.

Everything needs Permission.VIEW_JOBS; beyond that a person sees a job only if they may submit
its kind (JobKind.permission): an archivist sees ingest and preservation jobs, a records manager
disposal jobs, the admin all. Any other job answers 404, as if it did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from strongroom.errors import NotFound, StrongroomError
from strongroom.jobs.base import JobRunner
from strongroom.jobs.model import JobRecord, JobState
from strongroom.views import job_json
from strongroom.web.api_models import API_ERRORS, CONFLICT, JobAnswer, JobList
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT})
Viewer = Annotated[Principal, require(Permission.VIEW_JOBS)]
API = "/api/v1"
LIST_LIMIT = 200
_JOB_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def may_see(principal: Principal, runner: JobRunner, kind: str) -> bool:
    if principal.may(Permission.ADMIN):
        return True
    found = runner.kinds.get(kind)
    if found is None:
        return False  # a kind this service no longer knows: the admin's to look at
    try:
        return principal.may(Permission(found.permission))
    except ValueError:
        return False


def visible_kinds(principal: Principal, runner: JobRunner) -> tuple[str, ...] | None:
    """The kinds whose jobs this person sees (None: every kind, for the admin)."""
    if principal.may(Permission.ADMIN):
        return None
    return tuple(sorted(name for name in runner.kinds if may_see(principal, runner, name)))


def visible_job(principal: Principal, runner: JobRunner, job_id: str) -> JobRecord:
    if not _JOB_ID.fullmatch(job_id):  # job ids are UUIDs: anything else is not looked up at all
        raise NotFound("There is no such job.", details=["See the jobs on the Jobs page."])
    job = runner.get(job_id)
    if not may_see(principal, runner, job.kind):
        raise NotFound("There is no such job.", details=["See the jobs on the Jobs page."])
    return job


def _states(state: list[str] | None) -> tuple[JobState, ...] | None:
    if not state:
        return None
    try:
        return tuple(JobState(s) for s in state)
    except ValueError:
        raise StrongroomError(f"A job's state is one of {', '.join(s.value for s in JobState)}.") from None


def _list(principal: Principal, runner: JobRunner, state: list[str] | None, kind: str | None,
          limit: int) -> list[JobRecord]:  # fmt: skip
    kinds = visible_kinds(principal, runner)
    if kind:
        if kind not in (runner.kinds if kinds is None else kinds):
            return []
        kinds = (kind,)
    if kinds == ():
        return []
    return runner.list(kinds=kinds, states=_states(state), limit=limit)


StateQuery = Annotated[list[str] | None, Query(max_length=20, description="Only jobs in these states (repeatable).")]
KindQuery = Annotated[str | None, Query(max_length=100, description="Only jobs of this kind.")]


@router.get(f"{API}/jobs", response_model=JobList, tags=["jobs"])
def api_jobs(request: Request, principal: Viewer, state: StateQuery = None, kind: KindQuery = None,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JSONResponse:  # fmt: skip
    """The jobs of the kinds you may run, newest first."""
    jobs = _list(principal, context_of(request).jobs, state, kind, limit)
    return JSONResponse({"jobs": [job_json(j) for j in jobs]})


@router.get(f"{API}/jobs/{{job_id}}", response_model=JobAnswer, tags=["jobs"])
def api_job(request: Request, job_id: str, principal: Viewer) -> JSONResponse:
    """One job: its state, progress, result or error."""
    return JSONResponse(job_json(visible_job(principal, context_of(request).jobs, job_id)))


@router.post(f"{API}/jobs/{{job_id}}/cancel", response_model=JobAnswer, tags=["jobs"])
def api_cancel(request: Request, job_id: str, principal: Viewer) -> JSONResponse:
    """Cancel a job: a queued one at once, a running one at its next safe point."""
    runner = context_of(request).jobs
    visible_job(principal, runner, job_id)
    return JSONResponse(job_json(runner.cancel(job_id)))


# --- pages ----------------------------------------------------------------------------------------

STATE_WORDS = {"queued": "Queued", "running": "Running", "succeeded": "Succeeded", "failed": "Failed",
               "cancelled": "Cancelled", "interrupted": "Interrupted"}  # fmt: skip


@router.get("/jobs", response_class=HTMLResponse, include_in_schema=False)
def jobs_page(request: Request, principal: Viewer, state: StateQuery = None) -> HTMLResponse:
    runner = context_of(request).jobs
    jobs = _list(principal, runner, state, None, LIST_LIMIT)
    titles = {name: kind.title for name, kind in runner.kinds.items()}
    return render(request, "jobs/list.html", {"jobs": jobs, "chosen": set(state or ()), "states": STATE_WORDS,
                                              "titles": titles, "limit": LIST_LIMIT})  # fmt: skip


def result_rows(result: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """A job's result as (label, value) rows; lists stay lists (the template lists them)."""
    if not result:
        return []
    rows = []
    for key, value in result.items():
        label = key.replace("_", " ").capitalize()
        if isinstance(value, Mapping):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "–"
        rows.append((label, value))
    return rows


@router.get("/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False)
def job_page(request: Request, job_id: str, principal: Viewer) -> HTMLResponse:
    runner = context_of(request).jobs
    job = visible_job(principal, runner, job_id)
    kind = runner.kinds.get(job.kind)
    result = job.result or {}
    links = []
    if isinstance(result.get("package"), str):
        links.append((f"/packages/{result['package']}", "Open the package"))
    transfer = result.get("transfer") or job.params.get("transfer")
    if isinstance(transfer, str) and job.kind in ("check-transfer", "ingest"):
        links.append((f"/ingest/transfers/{transfer}", "Open the transfer"))
    with context_of(request).archive() as archive:  # steps a worker died in, then run again elsewhere
        again = sum(1 for step in archive.catalog.steps(job.id) if step.attempts > 1)
    return render(request, "jobs/job.html", {"job": job, "kind_title": kind.title if kind else job.kind,
                                             "rows": result_rows(job.result), "links": links,
                                             "ran_again": again})  # fmt: skip


@router.post("/jobs/{job_id}/cancel", include_in_schema=False)
def cancel_form(request: Request, job_id: str, principal: Viewer) -> RedirectResponse:
    runner = context_of(request).jobs
    visible_job(principal, runner, job_id)
    runner.cancel(job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
