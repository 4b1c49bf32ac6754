"""Ingest: uploads (chunked and resumable, or one form post), transfer sources, check -> approve -> store.

API: /api/v1/uploads[/{id}[/complete]], /api/v1/transfer-sources[/{name}], /api/v1/transfers[/{id}[/approve|
/reject|/check]]. Pages: /ingest, /ingest/upload, /ingest/sources/{name}, /ingest/transfers/{id}[/...].
Everything here needs Permission.INGEST. The library is web/uploads.py, web/transfers.py and
web/jobs_ingest.py; these functions only read the request, call it and answer.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from strongroom.web import jobs_ingest
from strongroom.web.api_models import (
    API_ERRORS,
    CONFLICT,
    TOO_LARGE,
    SourceEntries,
    SourceList,
    TransferAnswer,
    TransferList,
    UploadAnswer,
)
from strongroom.web.context import WebContext, context_of
from strongroom.web.pages import error_response, render
from strongroom.web.permissions import Permission, Principal, require
from strongroom.web.transfers import TransferState, TransferStore, source_entries, transfer_json
from strongroom.web.uploads import (
    ACCEPTED,
    ACCEPTED_TEXT,
    CHUNK_SIZE,
    UploadError,
    UploadOutOfOrder,
    UploadStore,
    UploadTooLarge,
    upload_json,
)

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses={**API_ERRORS, **CONFLICT, **TOO_LARGE})
Ingester = Annotated[Principal, require(Permission.INGEST)]
API = "/api/v1"
WRITE_BLOCK = 1024 * 1024  # bytes gathered from the request before one write (off the event loop)
FORM_OVERHEAD = 64 * 1024  # a form post's fields and boundaries around the file
_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*")


def _uploads(ctx: WebContext) -> UploadStore:
    return UploadStore(ctx.web.uploads_dir, ctx.web.upload_limit)


def _transfers(ctx: WebContext) -> TransferStore:
    return TransferStore(ctx.web.uploads_dir, ctx.jobs)  # with the jobs: a transfer whose job died is settled


def _owner(principal: Principal) -> str:
    assert principal.name is not None  # INGEST is never the public's
    return principal.name


def _upload_failed(request: Request, err: UploadError) -> Response:
    response = error_response(request, err.status, err.message, err.details)
    if isinstance(err, UploadOutOfOrder) and isinstance(response, JSONResponse):
        return JSONResponse({"error": err.message, "hint": list(err.details), "received": err.received},
                            status_code=409)  # fmt: skip
    return response


# --- uploads: the API the chunked uploader (static/upload.js) talks to -------------------------------


class NewUpload(BaseModel):
    filename: str = Field(min_length=1, max_length=1000, description="The file's name (shown only; never a path).")
    size: int = Field(ge=1, description="The file's length in bytes.")
    sha256: str | None = Field(default=None, max_length=64, description="Its SHA-256, checked once all is received.")


@router.post(f"{API}/uploads", response_model=UploadAnswer, tags=["ingest"], status_code=201)
def create_upload(request: Request, principal: Ingester, body: NewUpload) -> Response:
    """Start an upload: answer its id, the chunk size to send and what has been received (0)."""
    try:
        upload = _uploads(context_of(request)).create(_owner(principal), body.filename, body.size, body.sha256)
    except UploadError as err:
        return _upload_failed(request, err)
    return JSONResponse(upload_json(upload), status_code=201)


@router.get(f"{API}/uploads/{{upload_id}}", response_model=UploadAnswer, tags=["ingest"])
def get_upload(request: Request, upload_id: str, principal: Ingester) -> JSONResponse:
    """How much of an upload has arrived (to resume from there)."""
    return JSONResponse(upload_json(_uploads(context_of(request)).get(upload_id, _owner(principal))))


@router.put(f"{API}/uploads/{{upload_id}}", response_model=UploadAnswer, tags=["ingest"])
async def put_chunk(
    request: Request,
    upload_id: str,
    principal: Ingester,
    content_range: Annotated[str, Header(description="bytes FIRST-LAST/TOTAL")] = "",
) -> Response:
    """One chunk, as the raw body, starting where the upload stands (else 409 with `received`)."""
    store = _uploads(context_of(request))
    owner = _owner(principal)
    try:
        upload = await run_in_threadpool(store.get, upload_id, owner)
        found = _RANGE.fullmatch(content_range)
        if found is None:
            example = f"For example: bytes 0-{min(upload.size, CHUNK_SIZE) - 1}/{upload.size}"
            raise UploadError("Content-Range must say which bytes this is: bytes FIRST-LAST/TOTAL.", details=[example])
        first, last, total = (int(g) for g in found.groups())
        if last < first or last >= total:
            raise UploadError("Content-Range must end after it starts and before the file's end.",
                              details=[f"The last byte of this file is {upload.size - 1}."])  # fmt: skip
        with store.chunk(upload_id, owner, first, total) as writer:
            block = bytearray()
            async for data in request.stream():
                block += data
                arrived = writer.position + len(block)
                if arrived > upload.size:
                    raise UploadTooLarge(f"More bytes arrived than the {upload.size:,} the upload was declared with.",
                                         details=["The upload was removed. Start it again with the file's real "
                                                  "size."])  # fmt: skip
                if arrived > last + 1:
                    raise UploadError("More bytes arrived than Content-Range announced; the chunk was not kept.",
                                      details=[f"Send the file from byte {first} again."])  # fmt: skip
                if len(block) >= WRITE_BLOCK:
                    await run_in_threadpool(writer.write, bytes(block))
                    block.clear()
            if block:
                await run_in_threadpool(writer.write, bytes(block))
            if writer.position != last + 1:
                raise UploadError(f"The chunk ended at byte {writer.position}, before byte {last} that Content-Range "
                                  "announced; it was not kept.",
                                  details=[f"Send it again from byte {first}."])  # fmt: skip
            await run_in_threadpool(writer.sync)
        upload = await run_in_threadpool(store.get, upload_id, owner)
    except UploadError as err:
        return _upload_failed(request, err)
    return JSONResponse(upload_json(upload))


@router.post(f"{API}/uploads/{{upload_id}}/complete", response_model=TransferAnswer, tags=["ingest"], status_code=201)
def complete_upload(request: Request, upload_id: str, principal: Ingester) -> Response:
    """All bytes are in: check the size (and SHA-256), make it a transfer and queue its check."""
    ctx = context_of(request)
    try:
        transfer = _transfers(ctx).from_upload(_uploads(ctx), upload_id, _owner(principal))
    except UploadError as err:
        return _upload_failed(request, err)
    transfer = jobs_ingest.queue_check(_transfers(ctx), ctx.jobs, transfer, _owner(principal), principal.operator)
    return JSONResponse(transfer_json(transfer), status_code=201,
                        headers={"Location": f"/ingest/transfers/{transfer.id}"})  # fmt: skip


@router.delete(f"{API}/uploads/{{upload_id}}", tags=["ingest"], status_code=204)
def abandon_upload(request: Request, upload_id: str, principal: Ingester) -> Response:
    """Abandon an upload: what had arrived is removed."""
    _uploads(context_of(request)).remove(upload_id, _owner(principal))
    return Response(status_code=204)


# --- transfers and sources: API -------------------------------------------------------------------


class FromSource(BaseModel):
    source: str = Field(min_length=1, max_length=200, description="A [web.transfer_sources] name.")
    entry: str = Field(min_length=1, max_length=1000, description="A folder or archive file at the top of it.")


class Approval(BaseModel):
    retention: str | None = Field(default=None, max_length=200, description="A retention schedule code to assign.")
    allow_duplicate: bool = Field(default=False, description="Store it even if the same files are stored already "
                                  "(a second, separate package).")  # fmt: skip


@router.get(f"{API}/transfer-sources", response_model=SourceList, tags=["ingest"])
def api_sources(request: Request, principal: Ingester) -> JSONResponse:
    """The transfer source folders an archivist may pick transfers from, by name."""
    return JSONResponse({"sources": sorted(context_of(request).web.transfer_sources)})


@router.get(f"{API}/transfer-sources/{{name}}", response_model=SourceEntries, tags=["ingest"])
def api_source(request: Request, name: str, principal: Ingester) -> JSONResponse:
    """The folders and archive files at the top of one transfer source."""
    entries = source_entries(context_of(request).web.transfer_sources, name)
    listed = [{"name": e.name, "kind": e.kind, "size": e.size, "modified": e.modified.isoformat()} for e in entries]
    return JSONResponse({"source": name, "entries": listed})


@router.get(f"{API}/transfers", response_model=TransferList, tags=["ingest"])
def api_transfers(request: Request, principal: Ingester) -> JSONResponse:
    """Every transfer on its way in (and those stored or rejected), newest first."""
    return JSONResponse({"transfers": [transfer_json(t) for t in _transfers(context_of(request)).list()]})


@router.post(f"{API}/transfers", response_model=TransferAnswer, tags=["ingest"], status_code=201)
def api_pick(request: Request, principal: Ingester, body: FromSource) -> JSONResponse:
    """Take a transfer from a transfer source folder and queue its check."""
    transfer = _pick(context_of(request), principal, body.source, body.entry)
    return JSONResponse(transfer_json(transfer), status_code=201)


@router.get(f"{API}/transfers/{{transfer_id}}", response_model=TransferAnswer, tags=["ingest"])
def api_transfer(request: Request, transfer_id: str, principal: Ingester) -> JSONResponse:
    """One transfer, with its check report once checked."""
    return JSONResponse(transfer_json(_transfers(context_of(request)).get(transfer_id)))


@router.post(f"{API}/transfers/{{transfer_id}}/approve", response_model=TransferAnswer, tags=["ingest"])
def api_approve(request: Request, transfer_id: str, principal: Ingester,
                body: Annotated[Approval | None, Body()] = None) -> JSONResponse:  # fmt: skip
    """Approve a checked transfer: its ingest job is queued (`ingest_job`)."""
    transfer = _approve(context_of(request), principal, transfer_id, body.retention if body else None,
                        body.allow_duplicate if body else False)  # fmt: skip
    return JSONResponse(transfer_json(transfer))


@router.post(f"{API}/transfers/{{transfer_id}}/reject", response_model=TransferAnswer, tags=["ingest"])
def api_reject(request: Request, transfer_id: str, principal: Ingester) -> JSONResponse:
    """Reject a transfer; an uploaded one's file is removed."""
    ctx = context_of(request)
    return JSONResponse(transfer_json(jobs_ingest.reject(_transfers(ctx), transfer_id, _owner(principal))))


@router.post(f"{API}/transfers/{{transfer_id}}/check", response_model=TransferAnswer, tags=["ingest"])
def api_check_again(request: Request, transfer_id: str, principal: Ingester) -> JSONResponse:
    """Check a transfer again (after it was refused, or its source changed)."""
    ctx = context_of(request)
    store = _transfers(ctx)
    transfer = jobs_ingest.queue_check(store, ctx.jobs, store.get(transfer_id), _owner(principal), principal.operator)
    return JSONResponse(transfer_json(transfer))


def _pick(ctx: WebContext, principal: Principal, source: str, entry: str) -> Any:
    store = _transfers(ctx)
    transfer = store.from_source(ctx.web.transfer_sources, source, entry, _owner(principal))
    return jobs_ingest.queue_check(store, ctx.jobs, transfer, _owner(principal), principal.operator)


def _approve(ctx: WebContext, principal: Principal, transfer_id: str, retention: str | None,
             allow_duplicate: bool = False) -> Any:  # fmt: skip
    with ctx.archive() as archive:
        return jobs_ingest.approve(_transfers(ctx), ctx.jobs, transfer_id, _owner(principal), principal.operator,
                                   retention, archive, allow_duplicate)  # fmt: skip


# --- pages ----------------------------------------------------------------------------------------


@router.get("/ingest", response_class=HTMLResponse, include_in_schema=False)
def ingest_page(request: Request, principal: Ingester) -> HTMLResponse:
    ctx = context_of(request)
    transfers = _transfers(ctx).list()
    waiting = [t for t in transfers if t.state in (TransferState.CHECKING, TransferState.CHECKED,
                                                   TransferState.REFUSED, TransferState.APPROVED,
                                                   TransferState.FAILED)]  # fmt: skip
    done = [t for t in transfers if t not in waiting][:50]
    return render(request, "ingest/index.html", {
        "waiting": waiting, "done": done, "sources": sorted(ctx.web.transfer_sources),
        "uploads": _uploads(ctx).list(_owner(principal)), "limit": ctx.web.upload_limit, "chunk_size": CHUNK_SIZE,
        "accepted": ACCEPTED_TEXT, "accept": ",".join(ACCEPTED),
    })  # fmt: skip


def _form_within_limit(request: Request) -> None:
    """Refuse an over-large form post from its Content-Length, before any of its body is read."""
    length = request.headers.get("content-length")
    limit = context_of(request).web.upload_limit
    if length is not None and length.isdigit() and int(length) > limit + FORM_OVERHEAD:
        raise HTTPException(413, f"The file is larger than the {limit:,} bytes an upload may be: split the "
                            "transfer into smaller ones.")  # fmt: skip
    if length is None and "chunked" in request.headers.get("transfer-encoding", "").lower():
        raise HTTPException(411, "A form upload must say its length (Content-Length): use the upload button "
                            "of the Ingest page.")  # fmt: skip


@router.post("/ingest/upload", include_in_schema=False,
             dependencies=[Depends(_form_within_limit)])  # fmt: skip
async def upload_form(request: Request, principal: Ingester) -> Response:
    """The upload without JavaScript: one multipart form post (the same limit, checked as it is copied)."""
    ctx = context_of(request)
    form = await request.form()  # parsed once already, by the CSRF check; its file waits in a temporary file
    sent = form.get("transfer")
    if not isinstance(sent, UploadFile) or not sent.filename:
        return error_response(request, 400, "Choose a file to upload.", [f"A transfer is a {ACCEPTED_TEXT}."])
    owner = _owner(principal)
    try:
        upload = await run_in_threadpool(_copy_form_file, _uploads(ctx), owner, sent)
        transfer = await run_in_threadpool(_transfers(ctx).from_upload, _uploads(ctx), upload.id, owner)
    except UploadError as err:
        return _upload_failed(request, err)
    finally:
        await sent.close()
    await run_in_threadpool(jobs_ingest.queue_check, _transfers(ctx), ctx.jobs, transfer, owner, principal.operator)
    return RedirectResponse(f"/ingest/transfers/{transfer.id}", status_code=303)


def _copy_form_file(store: UploadStore, owner: str, sent: UploadFile) -> Any:
    handle = sent.file
    handle.seek(0)
    return store.append_stream(owner, sent.filename or "", iter(lambda: handle.read(WRITE_BLOCK), b""))


@router.get("/ingest/sources/{name}", response_class=HTMLResponse, include_in_schema=False)
def source_page(request: Request, name: str, principal: Ingester) -> HTMLResponse:
    entries = source_entries(context_of(request).web.transfer_sources, name)
    return render(request, "ingest/source.html", {"source": name, "entries": entries})


@router.post("/ingest/sources/{name}", include_in_schema=False)
def pick_form(request: Request, name: str, principal: Ingester,
              entry: Annotated[str, Form(max_length=1000)] = "") -> RedirectResponse:  # fmt: skip
    transfer = _pick(context_of(request), principal, name, entry)
    return RedirectResponse(f"/ingest/transfers/{transfer.id}", status_code=303)


@router.get("/ingest/transfers/{transfer_id}", response_class=HTMLResponse, include_in_schema=False)
def transfer_page(request: Request, transfer_id: str, principal: Ingester) -> HTMLResponse:
    ctx = context_of(request)
    transfer = _transfers(ctx).get(transfer_id)
    jobs = {}
    for key in ("check_job", "ingest_job"):
        job_id = getattr(transfer, key)
        if job_id:
            jobs[key] = ctx.jobs.get(job_id)
    with ctx.archive() as archive:
        schedules = archive.catalog.schedules() if transfer.state in (TransferState.CHECKED,
                                                                      TransferState.FAILED) else []  # fmt: skip
    return render(request, "ingest/transfer.html", {"transfer": transfer, "report": transfer.report or {},
                                                    "jobs": jobs, "schedules": schedules,
                                                    "TransferState": TransferState})  # fmt: skip


@router.post("/ingest/transfers/{transfer_id}/approve", include_in_schema=False)
def approve_form(request: Request, transfer_id: str, principal: Ingester,
                 retention: Annotated[str, Form(max_length=200)] = "",
                 allow_duplicate: Annotated[str, Form(max_length=10)] = "") -> RedirectResponse:  # fmt: skip
    _approve(context_of(request), principal, transfer_id, retention or None, allow_duplicate == "yes")
    return RedirectResponse(f"/ingest/transfers/{transfer_id}", status_code=303)


@router.post("/ingest/transfers/{transfer_id}/reject", include_in_schema=False)
def reject_form(request: Request, transfer_id: str, principal: Ingester) -> RedirectResponse:
    jobs_ingest.reject(_transfers(context_of(request)), transfer_id, _owner(principal))
    return RedirectResponse(f"/ingest/transfers/{transfer_id}", status_code=303)


@router.post("/ingest/transfers/{transfer_id}/check", include_in_schema=False)
def check_form(request: Request, transfer_id: str, principal: Ingester) -> RedirectResponse:
    ctx = context_of(request)
    store = _transfers(ctx)
    jobs_ingest.queue_check(store, ctx.jobs, store.get(transfer_id), _owner(principal), principal.operator)
    return RedirectResponse(f"/ingest/transfers/{transfer_id}", status_code=303)
