"""Disposal batches on the web: the list, one batch with its items and approvals, approve (as the signed-in
person), withdraw, execute as a background job, and the certificate (a GOV.UK page, and the issued HTML and
CSV as downloads). Proposing is on the due list (routes_records.py)."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from strongroom.archive import Archive
from strongroom.cli_disposal import approval_json, batch_json, proposal_json
from strongroom.errors import ApprovalError, NotFound, StrongroomError
from strongroom.jobs.model import JobRecord, JobState
from strongroom.records.disposal import (
    approve,
    batch_trail,
    certificate_stubs,
    find_batch,
    propose,
    render_certificate,
    withdraw,
)
from strongroom.records.model import BatchStatus, DisposalBatch, ItemOutcome, name_key
from strongroom.web.api_models import (
    API_ERRORS,
    CONFLICT,
    BatchAnswer,
    BatchList,
    BatchStatusAnswer,
    JobStarted,
    ProposalAnswer,
)
from strongroom.web.context import context_of
from strongroom.web.jobs_records import DISPOSAL_EXECUTE
from strongroom.web.pages import principal_of, render
from strongroom.web.permissions import Permission, Principal, require
from strongroom.web.routes_records_forms import RecordsManager, done, notice, refused_page, today

API = "/api/v1/records/disposal"
MAX_TEXT = 4000
OPEN = (BatchStatus.PROPOSED, BatchStatus.APPROVED)

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT})


# --- reading -------------------------------------------------------------------------------------


def _names(archive: Archive, batch: DisposalBatch) -> dict[str, str]:
    """Each item's name and title as staff see them; a disposed package's stub title."""
    names: dict[str, str] = {}
    for item in batch.items:
        summary = archive.catalog.find_package(item.package)
        if summary is not None:
            names[item.package] = f"{summary.name}: {summary.title}" if summary.title else summary.name
        else:
            stub = archive.catalog.stub(item.package)
            names[item.package] = stub.title if stub is not None else ""
    return names


def _running_job(request: Request, batch: str) -> JobRecord | None:
    """A queued or running execution of this batch, if there is one."""
    jobs = context_of(request).jobs.list(kinds=(DISPOSAL_EXECUTE,), states=(JobState.QUEUED, JobState.RUNNING))
    return next((j for j in jobs if j.params.get("batch") == batch), None)


def _batch_context(request: Request, ref: str) -> dict[str, Any]:
    with context_of(request).archive() as archive:
        batch = find_batch(archive, ref)
        names = _names(archive, batch)
    me = principal_of(request).name
    approved_by_me = me is not None and any(a.key == name_key(me) for a in batch.approvals)
    return {
        "batch": batch, "names": names, "counts": {o.value: sum(1 for i in batch.items if i.outcome is o)
                                                    for o in ItemOutcome},
        # Only a proposed batch takes approvals, and only from someone who has not approved it yet.
        "may_approve": batch.status is BatchStatus.PROPOSED and not approved_by_me,
        "may_withdraw": batch.status in OPEN,
        "may_execute": batch.status in (BatchStatus.APPROVED, BatchStatus.EXECUTING),
        "has_certificate": bool(batch.certificate_sha256), "job": _running_job(request, batch.id),
        "approved_by_me": approved_by_me,
        "notice": notice(request), "form": {}, "today": today(),
    }  # fmt: skip


@router.get("/records/disposal", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def disposal_page(request: Request) -> Response:
    with context_of(request).archive() as archive:
        batches = list(reversed(archive.catalog.disposal_batches()))
    return render(request, "records/disposal.html", {"batches": batches, "notice": notice(request)})


@router.get("/records/disposal/{batch_id}", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def batch_page(request: Request, batch_id: str) -> Response:
    return render(request, "records/batch.html", _batch_context(request, batch_id))


# --- changing ------------------------------------------------------------------------------------


def _approve(request: Request, principal: Principal, ref: str) -> DisposalBatch:
    if principal.name is None:  # require() lets no anonymous visitor here; the library needs a person's name
        raise ApprovalError("Sign in to approve a disposal batch.")
    with context_of(request).archive() as archive:
        return approve(archive, ref, principal.name, principal.operator)


@router.post("/records/disposal/{batch_id}/approve", response_class=HTMLResponse, include_in_schema=False)
def batch_approve(request: Request, batch_id: str, principal: RecordsManager) -> Response:
    try:
        batch = _approve(request, principal, batch_id)
    except StrongroomError as err:
        return refused_page(request, "records/batch.html", _batch_context(request, batch_id), err, "approve")
    return done(f"/records/disposal/{batch.id}", "approved")


@router.post("/records/disposal/{batch_id}/withdraw", response_class=HTMLResponse, include_in_schema=False)
def batch_withdraw(
    request: Request,
    batch_id: str,
    principal: RecordsManager,
    reason: Annotated[str, Form(max_length=MAX_TEXT)] = "",
) -> Response:
    try:
        with context_of(request).archive() as archive:
            batch = withdraw(archive, batch_id, reason, principal.operator)
    except StrongroomError as err:
        context = _batch_context(request, batch_id) | {"form": {"reason": reason}}
        return refused_page(request, "records/batch.html", context, err, "withdraw-reason")
    return done(f"/records/disposal/{batch.id}", "withdrawn")


def _check_may_execute(batch: DisposalBatch) -> None:
    """Refuse at once what the job would refuse, so the person sees it here rather than on a failed job."""
    if batch.status is BatchStatus.EXECUTED:
        raise StrongroomError(f"Disposal batch {batch.id} was executed already.",
                              details=["Its certificate is on the batch's page."])  # fmt: skip
    if batch.status is BatchStatus.WITHDRAWN:
        raise StrongroomError(f"Disposal batch {batch.id} was withdrawn; it cannot be executed.",
                              details=["Nothing was done. Propose a new batch from the due list."])  # fmt: skip
    if batch.status is BatchStatus.PROPOSED:
        names = ", ".join(a.name for a in batch.approvals) or "nobody yet"
        raise ApprovalError(
            f"Disposal batch {batch.id} needs the approval of two different people before it is executed; approved "
            f"so far by: {names}.",
            details=["Nothing was done. Ask a second records manager to approve it on this page."],
        )
    if batch.status is BatchStatus.APPROVED and batch.as_of > today():
        raise StrongroomError(
            f"Disposal batch {batch.id} was proposed for what is due on {batch.as_of.isoformat()}: it may be executed "
            f"from that day, not before (today is {today().isoformat()}).",
            details=["Nothing was done. A record is destroyed only once its retention period has run out."],
        )


def _execute(request: Request, principal: Principal, ref: str) -> JobRecord:
    with context_of(request).archive() as archive:
        batch = find_batch(archive, ref)
    running = _running_job(request, batch.id)
    if running is not None:
        return running
    _check_may_execute(batch)
    return context_of(request).jobs.submit(
        DISPOSAL_EXECUTE, {"batch": batch.id, "operator": principal.operator}, owner=principal.name or "",
        title=f"Execute disposal batch {batch.id}",
    )  # fmt: skip


@router.post("/records/disposal/{batch_id}/execute", response_class=HTMLResponse, include_in_schema=False)
def batch_execute(request: Request, batch_id: str, principal: RecordsManager) -> Response:
    try:
        job = _execute(request, principal, batch_id)
    except StrongroomError as err:
        return refused_page(request, "records/batch.html", _batch_context(request, batch_id), err, "execute")
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


# --- the certificate -----------------------------------------------------------------------------


def _certificate(request: Request, ref: str) -> tuple[DisposalBatch, dict[str, bytes], Any, list[Any]]:
    with context_of(request).archive() as archive:
        batch = find_batch(archive, ref)
        if not batch.certificate_sha256:
            raise NotFound(f"Disposal batch {batch.id} has no certificate: it is {batch.status.value}.",
                           details=["A certificate is issued when every package of the batch has been disposed "
                                    "of."])  # fmt: skip
        trail = batch_trail(archive, batch.id)
        rendered = render_certificate(archive, batch, trail)
        stubs = certificate_stubs(archive, batch, trail)
    return batch, rendered, trail, stubs


@router.get("/records/disposal/{batch_id}/certificate", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def certificate_page(request: Request, batch_id: str) -> Response:
    batch, rendered, trail, stubs = _certificate(request, batch_id)
    matches = {kind: hashlib.sha256(body).hexdigest() == batch.certificate_sha256.get(kind)
               for kind, body in rendered.items()}  # fmt: skip
    skipped = [i for i in sorted(batch.items, key=lambda i: i.package) if i.outcome is ItemOutcome.SKIPPED]
    sequence = trail.executing.sequence if trail.executing is not None else None
    return render(request, "records/certificate.html", {"batch": batch, "stubs": stubs, "skipped": skipped,
                                                         "matches": matches, "sequence": sequence})  # fmt: skip


def _download(batch: DisposalBatch, rendered: dict[str, bytes], kind: str) -> Response:
    media = {"csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}[kind]
    # The HTML certificate carries its own inline styles (it prints alone), which this service's CSP forbids:
    # it is a download to keep or print, never a page of this site.
    return Response(rendered[kind], media_type=media, headers={
        "Content-Disposition": f'attachment; filename="certificate-{batch.id}.{kind}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'; "
        "style-src 'unsafe-inline'",
    })  # fmt: skip


@router.get("/records/disposal/{batch_id}/certificate.csv", include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def certificate_csv_download(request: Request, batch_id: str) -> Response:
    batch, rendered, _, _ = _certificate(request, batch_id)
    return _download(batch, rendered, "csv")


@router.get("/records/disposal/{batch_id}/certificate.html", include_in_schema=False,
            dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def certificate_html_download(request: Request, batch_id: str) -> Response:
    batch, rendered, _, _ = _certificate(request, batch_id)
    return _download(batch, rendered, "html")


# --- API -----------------------------------------------------------------------------------------


class ProposeRequest(BaseModel):
    as_of: date | None = Field(default=None, description="Propose what is due on this day (default: today).")
    packages: list[str] | None = Field(
        default=None, max_length=100_000,
        description="Propose only these due packages (UUIDs); the other due packages are left out as not selected.",
    )  # fmt: skip


class WithdrawRequest(BaseModel):
    reason: str = Field(max_length=MAX_TEXT)


@router.get(API, response_model=BatchList, tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)])
def api_batches(request: Request) -> JSONResponse:
    """The disposal batches, oldest first: `disposal list --json`."""
    with context_of(request).archive() as archive:
        batches = archive.catalog.disposal_batches()
    return JSONResponse({"batches": [batch_json(b) for b in batches]})


@router.post(
    API,
    response_model=ProposalAnswer,
    tags=["records"],
    status_code=201,
    responses={200: {"model": ProposalAnswer, "description": "Nothing could be proposed: no batch"}},
)
def api_propose(request: Request, body: ProposeRequest, principal: RecordsManager) -> JSONResponse:
    """Propose a batch of what is due for destruction or transfer: `disposal propose --json` ("batch": null and
    200 when nothing is due)."""
    with context_of(request).archive() as archive:
        proposal = propose(archive, body.as_of or today(), principal.operator, only=body.packages)
    return JSONResponse(proposal_json(proposal), status_code=201 if proposal.batch else 200)


@router.get(f"{API}/{{batch_id}}", response_model=BatchAnswer,
            tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)])  # fmt: skip
def api_batch(request: Request, batch_id: str) -> JSONResponse:
    """One batch with its items, outcomes, approvals and certificate digests: `disposal show --json`."""
    with context_of(request).archive() as archive:
        return JSONResponse(batch_json(find_batch(archive, batch_id)))


@router.post(f"{API}/{{batch_id}}/approve", response_model=BatchStatusAnswer, tags=["records"])
def api_approve(request: Request, batch_id: str, principal: RecordsManager) -> JSONResponse:
    """Approve as the signed-in person (two different people must approve): `disposal approve --json`."""
    batch = _approve(request, principal, batch_id)
    return JSONResponse({"batch": batch.id, "status": batch.status.value,
                         "approvals": [approval_json(a) for a in batch.approvals]})  # fmt: skip


@router.post(f"{API}/{{batch_id}}/withdraw", response_model=BatchStatusAnswer, tags=["records"])
def api_withdraw(request: Request, batch_id: str, body: WithdrawRequest, principal: RecordsManager) -> JSONResponse:
    """Withdraw a proposed or approved batch: `disposal withdraw --json`."""
    with context_of(request).archive() as archive:
        batch = withdraw(archive, batch_id, body.reason, principal.operator)
    return JSONResponse({"batch": batch.id, "status": batch.status.value})


@router.post(f"{API}/{{batch_id}}/execute", response_model=JobStarted, tags=["records"], status_code=202)
def api_execute(request: Request, batch_id: str, principal: RecordsManager) -> JSONResponse:
    """Execute an approved batch as a background job: {"job": id}; the job's result is `disposal execute --json`."""
    job = _execute(request, principal, batch_id)
    return JSONResponse({"job": job.id}, status_code=202)


_CERTIFICATE_TYPES = {"text/csv": {"schema": {"type": "string"}}, "text/html": {"schema": {"type": "string"}}}


@router.get(f"{API}/{{batch_id}}/certificate", tags=["records"], dependencies=[require(Permission.MANAGE_RECORDS)],
            response_class=Response, responses={200: {"content": _CERTIFICATE_TYPES}})  # fmt: skip
def api_certificate(
    request: Request, batch_id: str, format: Annotated[str, Query(pattern="^(csv|html)$")] = "csv"
) -> Response:
    """The batch's destruction certificate (csv or html) as a download, rendered again from the catalog and
    journal (byte for byte what was issued)."""
    batch, rendered, _, _ = _certificate(request, batch_id)
    return _download(batch, rendered, format)
