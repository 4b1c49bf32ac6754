"""Transfers on their way in: an upload or a pick from a transfer source -> checked -> approved -> stored.

One JSON file per transfer under `<uploads_dir>/transfers/` (written atomically), changed only under
one lock, so a state moves once: a transfer approved twice at the same moment is ingested once.
An uploaded transfer's bytes live beside its record, under a neutral name (`transfer.zip`); the
name the person gave is only shown. Transfer sources ([web.transfer_sources]) are read in place:
an entry is one name at the top of its folder and must resolve inside it (no `..`, no symlink out).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from strongroom.errors import NotFound, StrongroomError, TransferError
from strongroom.jobs.base import JobRunner
from strongroom.jobs.model import JobState
from strongroom.web.uploads import ACCEPTED_TEXT, Upload, UploadStore, accepted_suffix, display_name, package_name
from strongroom.web.uploads import write_json_atomically as _write_json

_ID = re.compile(r"[0-9a-f]{32}")


class TransferState:
    CHECKING = "checking"  # its check job is queued or running
    CHECKED = "checked"  # the check passed: waiting for approval
    REFUSED = "refused"  # the check found it cannot be stored as it is
    APPROVED = "approved"  # its ingest job is queued or running
    STORED = "stored"  # ingested: `package` names the package
    FAILED = "failed"  # the ingest failed; it may be approved again
    REJECTED = "rejected"  # an archivist turned it down; an upload's bytes are gone

    WORDS: ClassVar[dict[str, str]] = {
        CHECKING: "Being checked", CHECKED: "Waiting for approval", REFUSED: "Refused by the check",
        APPROVED: "Being stored", STORED: "Stored", FAILED: "Storing failed", REJECTED: "Rejected",
    }  # fmt: skip


@dataclass(frozen=True)
class Transfer:
    id: str
    owner: str  # who uploaded or picked it
    origin: str  # "upload" or "source"
    filename: str  # what a person reads: the upload's name, or the source entry's name
    name: str  # the package name it will have
    path: str  # where its bytes are read from (never shown to the public; staff see source paths)
    created: datetime
    state: str = TransferState.CHECKING
    size: int | None = None
    sha256: str | None = None  # of a file transfer, taken by the check; the ingest refuses if it changed
    source: str | None = None  # the transfer source's name
    entry: str | None = None  # the entry in that source
    check_job: str | None = None
    ingest_job: str | None = None
    report: Mapping[str, Any] | None = None  # the check's findings
    error: str | None = None
    details: tuple[str, ...] = ()
    retention: str | None = None
    decided_by: str | None = None  # who approved or rejected it
    package: str | None = None
    updated: datetime | None = None
    history: tuple[str, ...] = field(default=())  # "when: who did what", for the transfer page

    @property
    def state_words(self) -> str:
        return TransferState.WORDS.get(self.state, self.state)


@dataclass(frozen=True)
class SourceEntry:
    name: str
    kind: str  # "folder" or "archive"
    size: int | None  # of an archive file
    modified: datetime


def _now() -> datetime:
    return datetime.now(UTC)


# A transfer waiting on a job: the job's key, and what the transfer becomes if the job ends without a word.
_WAITING = {TransferState.CHECKING: ("check_job", TransferState.REFUSED),
            TransferState.APPROVED: ("ingest_job", TransferState.FAILED)}  # fmt: skip
_AGAIN = {TransferState.REFUSED: "Check it again, or reject it.",
          TransferState.FAILED: "Approve it again to store it, or reject it."}  # fmt: skip


class TransferStore:
    def __init__(self, uploads_dir: Path, jobs: JobRunner | None = None) -> None:
        self.root = uploads_dir / "transfers"
        self._jobs = jobs  # given (the web pages): a transfer whose job ended without a word is settled when read

    def _record(self, transfer_id: str) -> Path:
        if not _ID.fullmatch(transfer_id):
            raise NotFound("There is no such transfer.", details=["See the transfers on the Ingest page."])
        return self.root / f"{transfer_id}.json"

    def bytes_folder(self, transfer_id: str) -> Path:
        return self.root / transfer_id

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def get(self, transfer_id: str) -> Transfer:
        transfer = self._read(transfer_id)
        return transfer if self._jobs is None else self._settled(transfer, self._jobs)

    def _settled(self, transfer: Transfer, jobs: JobRunner) -> Transfer:
        """A transfer still "being checked" or "being stored" whose job has ended (its server was killed, or the
        job outlived the shut-down's wait, or was cancelled before it began) is refused or failed, as its job
        ended, so that it can be checked, approved or rejected again rather than wait for ever."""
        waiting = _WAITING.get(transfer.state)
        job_id = getattr(transfer, waiting[0]) if waiting else None
        if waiting is None or not job_id:
            return transfer  # not waiting, or its job is being queued
        try:
            job = jobs.get(job_id)
        except NotFound:
            job = None
        if job is not None and (not job.state.finished or job.state is JobState.SUCCEEDED):
            return transfer
        if (
            job is not None
            and job.finished is not None
            and transfer.updated is not None
            and job.finished < transfer.updated
        ):
            return transfer  # an earlier job's end: a new one is being queued (queue_check sets the state first)
        with self._lock():
            current = self._read(transfer.id)
            if current.state != transfer.state or getattr(current, waiting[0]) != job_id:
                return current  # the job's own ending (or a person) decided it meanwhile
            ended = job.state.value if job is not None else "no longer known"
            error = (job.error if job is not None else None) or f"Its job ended ({ended}) before it finished."
            outcome = waiting[1]
            settled = dataclasses.replace(current, state=outcome, error=error, details=(_AGAIN[outcome],))
            return self.save_locked(settled, f"its job ended ({ended}) before it finished")

    def _read(self, transfer_id: str) -> Transfer:
        try:
            data = json.loads(self._record(transfer_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound("There is no such transfer.", details=["See the transfers on the Ingest page."]) from None
        return _transfer_from(data)

    def list(self) -> list[Transfer]:
        if not self.root.is_dir():
            return []
        found = [self.get(p.stem) for p in self.root.glob("*.json") if _ID.fullmatch(p.stem)]
        return sorted(found, key=lambda t: t.created, reverse=True)

    def _save(self, transfer: Transfer) -> Transfer:
        _write_json(self._record(transfer.id), _transfer_json(transfer))
        return transfer

    def update(self, transfer_id: str, note: str | None = None, **changes: Any) -> Transfer:
        with self._lock():
            current = self._read(transfer_id)
            history = current.history + ((f"{_now():%Y-%m-%d %H:%M:%S} UTC: {note}",) if note else ())
            return self._save(dataclasses.replace(current, updated=_now(), history=history, **changes))

    @contextmanager
    def changing(self, transfer_id: str) -> Iterator[Transfer]:
        """Hold the lock while deciding on a transfer (approve, reject): one decision at a time."""
        if self._jobs is not None:
            self.get(transfer_id)  # settled first (outside the lock it takes), so it may be decided on again
        with self._lock():
            yield self._read(transfer_id)

    def save_locked(self, transfer: Transfer, note: str) -> Transfer:
        """Save inside `changing` (the lock is held by the caller)."""
        history = (*transfer.history, f"{_now():%Y-%m-%d %H:%M:%S} UTC: {note}")
        return self._save(dataclasses.replace(transfer, updated=_now(), history=history))

    # --- new transfers ---------------------------------------------------------------------

    def from_upload(self, uploads: UploadStore, upload_id: str, owner: str) -> Transfer:
        upload: Upload = uploads.get(upload_id, owner)
        transfer_id = uuid.uuid4().hex
        dest = self.bytes_folder(transfer_id) / f"transfer{upload.suffix}"
        taken = uploads.take(upload_id, owner, dest)
        transfer = Transfer(id=transfer_id, owner=owner, origin="upload", filename=taken.filename,
                            name=package_name(taken.filename), path=str(dest), created=_now(), size=taken.size,
                            history=(f"{_now():%Y-%m-%d %H:%M:%S} UTC: uploaded by {owner}",))  # fmt: skip
        with self._lock():
            return self._save(transfer)

    def from_source(self, sources: Mapping[str, Path], source: str, entry: str, owner: str) -> Transfer:
        path = resolve_entry(sources, source, entry)
        size = path.stat().st_size if path.is_file() else None
        name = package_name(entry) if path.is_file() else display_name(entry)
        transfer = Transfer(id=uuid.uuid4().hex, owner=owner, origin="source", filename=entry, name=name,
                            path=str(path), created=_now(), size=size, source=source, entry=entry,
                            history=(f"{_now():%Y-%m-%d %H:%M:%S} UTC: picked from {source} by {owner}",))  # fmt: skip
        with self._lock():
            return self._save(transfer)

    def source_path(self, transfer: Transfer, sources: Mapping[str, Path]) -> Path:
        """Where to read the transfer now: a source entry is confined again (the folder may have changed)."""
        if transfer.origin == "source":
            return resolve_entry(sources, transfer.source or "", transfer.entry or "")
        path = Path(transfer.path)
        if not path.is_file():
            raise TransferError("The uploaded file is no longer on the server.",
                                details=["Upload the transfer again."])  # fmt: skip
        return path

    def discard_bytes(self, transfer: Transfer) -> None:
        """Remove an uploaded transfer's bytes (never a transfer source's)."""
        if transfer.origin == "upload":
            shutil.rmtree(self.bytes_folder(transfer.id), ignore_errors=True)


# --- transfer sources ------------------------------------------------------------------------


def _source_root(sources: Mapping[str, Path], source: str) -> Path:
    root = sources.get(source)
    if root is None:
        raise NotFound(f"There is no transfer source called {display_name(source)!r}.",
                       details=["See the transfer sources on the Ingest page."])  # fmt: skip
    if not root.is_dir():
        raise StrongroomError(f"The transfer source {source} ({root}) is not a folder the server can read.",
                              details=["Ask the administrator to check [web.transfer_sources] in "
                                       "strongroom.toml."])  # fmt: skip
    return root.resolve()


def resolve_entry(sources: Mapping[str, Path], source: str, entry: str) -> Path:
    """The path of one top-level entry of a source, refused if it would lead outside the source folder."""
    root = _source_root(sources, source)
    refused = StrongroomError(f"{display_name(entry)!r} is not an entry of the transfer source {source}.",
                              details=["Pick one of the entries listed on the source's page."])  # fmt: skip
    if not entry or entry in (".", "..") or "/" in entry or "\\" in entry or "\x00" in entry:
        raise refused
    try:
        path = (root / entry).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, too long, a loop, or not encodable as a file name
        raise refused from None
    if path == root or not path.is_relative_to(root):
        raise refused  # a symlink out of the source folder, or back to it
    if path.is_dir():
        return path
    if path.is_file() and accepted_suffix(entry) is not None:
        return path
    raise StrongroomError(f"{display_name(entry)!r} is neither a folder nor an archive file.",
                          details=[f"A transfer is a folder or a {ACCEPTED_TEXT}."])  # fmt: skip


def source_entries(sources: Mapping[str, Path], source: str) -> list[SourceEntry]:
    """The folders and archive files at the top of a source (hidden names and anything leading out left out)."""
    root = _source_root(sources, source)
    found = []
    for child in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        if child.name.startswith("."):
            continue
        try:
            path = resolve_entry(sources, source, child.name)
            stat = path.stat()
        except (StrongroomError, OSError):
            continue
        kind = "folder" if path.is_dir() else "archive"
        found.append(SourceEntry(child.name, kind, stat.st_size if kind == "archive" else None,
                                 datetime.fromtimestamp(stat.st_mtime, UTC)))  # fmt: skip
    return found


# --- JSON ------------------------------------------------------------------------------------


def _transfer_json(t: Transfer) -> dict[str, Any]:
    data = dataclasses.asdict(t)
    data["created"] = t.created.isoformat()
    data["updated"] = t.updated.isoformat() if t.updated else None
    data["report"] = dict(t.report) if t.report is not None else None
    data["details"] = list(t.details)
    data["history"] = list(t.history)
    return data


def _transfer_from(d: dict[str, Any]) -> Transfer:
    values = dict(d)
    values["created"] = datetime.fromisoformat(d["created"])
    values["updated"] = datetime.fromisoformat(d["updated"]) if d.get("updated") else None
    values["details"] = tuple(d.get("details") or ())
    values["history"] = tuple(d.get("history") or ())
    names = {f.name for f in dataclasses.fields(Transfer)}
    return Transfer(**{k: v for k, v in values.items() if k in names})


def transfer_json(t: Transfer) -> dict[str, Any]:
    """What the API answers about a transfer (the server path left out)."""
    return {
        "id": t.id, "state": t.state, "state_words": t.state_words, "owner": t.owner, "origin": t.origin,
        "filename": t.filename, "name": t.name, "size": t.size, "sha256": t.sha256, "source": t.source,
        "entry": t.entry, "created": t.created.isoformat(), "updated": t.updated.isoformat() if t.updated else None,
        "check_job": t.check_job, "ingest_job": t.ingest_job, "report": dict(t.report) if t.report else None,
        "error": t.error, "hint": list(t.details), "retention": t.retention, "decided_by": t.decided_by,
        "package": t.package, "history": list(t.history),
    }  # fmt: skip


__all__ = ["SourceEntry", "Transfer", "TransferState", "TransferStore", "resolve_entry", "source_entries",
           "transfer_json"]  # fmt: skip
