"""Resumable, chunked uploads of transfers, streamed to disk and never held whole in memory.

An upload is two files under `<uploads_dir>/parts/`: `<id>.json` (who, the declared name, size and
SHA-256) and `<id>.part` (the bytes so far; its length is what was received, so a crash loses at
most the chunk being written). The name a person gave is shown, never used as a path. A chunk must
start where the last one ended; one chunk is written at a time (a lock on the part file), and a
chunk that fails half-way is cut back to where it began so the client can send it again.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom.errors import NotFound, StrongroomError

CHUNK_SIZE = 8 * 1024 * 1024  # what the browser sends per request: big enough to be quick, small to resend
FREE_MARGIN = 256 * 1024 * 1024  # left free on the disk beyond the upload itself (unpacking needs room too)
ACCEPTED = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar", ".7z")
ACCEPTED_TEXT = ".zip, .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz or .7z (a BagIt bag inside one of them is fine)"
MAX_NAME = 200
_ID = re.compile(r"[0-9a-f]{32}")
# Control and bidirectional-override characters, and lone surrogates (which cannot even be encoded to show).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class UploadError(StrongroomError):
    """An upload cannot go on as asked; `status` is the HTTP answer."""

    status = 400


class UploadTooLarge(UploadError):
    status = 413


class UploadOutOfOrder(UploadError):
    """A chunk that does not start where the upload stands: the client resumes from `received`."""

    status = 409

    def __init__(self, message: str, received: int, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, details=details)
        self.received = received


class UploadBusy(UploadError):
    status = 409


class NoSpace(UploadError):
    status = 507


@dataclass(frozen=True)
class Upload:
    id: str
    owner: str
    filename: str  # as given, made safe to show
    suffix: str  # the accepted ending it has, lower case (".tar.gz")
    size: int
    sha256: str | None
    created: datetime
    received: int = 0

    @property
    def complete(self) -> bool:
        return self.received == self.size


def display_name(name: str) -> str:
    """A name fit to show: its last path part, NFC, without control or direction characters, cut to length."""
    cleaned = unicodedata.normalize("NFC", str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _CONTROL.sub("", cleaned).strip()
    if len(cleaned) > MAX_NAME:
        cleaned = cleaned[: MAX_NAME - 1] + "…"
    return cleaned or "transfer"


def accepted_suffix(name: str) -> str | None:
    lower = name.lower()
    return next((s for s in ACCEPTED if lower.endswith(s)), None)


def require_accepted(name: str) -> str:
    suffix = accepted_suffix(name)
    if suffix is None:
        raise UploadError(f"{display_name(name)} is not a kind of file a transfer can come in.",
                          details=[f"Upload a {ACCEPTED_TEXT}.", "To ingest a folder, zip it first or put it "
                                   "in a transfer source folder."])  # fmt: skip
    return suffix


def package_name(filename: str) -> str:
    """The package name an upload suggests: its name without the archive ending."""
    suffix = accepted_suffix(filename) or ""
    stem = filename[: len(filename) - len(suffix)] if suffix else filename
    stem = stem.replace("/", "_").strip()
    return stem if stem and stem not in (".", "..") else "transfer"


def _sha256(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise UploadError("sha256 must be 64 hexadecimal digits.", details=["Leave it out if you do not know it."])
    return text


class UploadStore:
    """The uploads of one archive home (WebSettings.uploads_dir), with the size limit."""

    def __init__(self, uploads_dir: Path, limit: int, free_margin: int = FREE_MARGIN) -> None:
        self.root = uploads_dir / "parts"
        self.limit = limit
        self.free_margin = free_margin

    # --- where things are --------------------------------------------------------------------

    def _meta(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.json"

    def part(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def _check_id(self, upload_id: str) -> str:
        if not _ID.fullmatch(upload_id):
            raise NotFound("There is no such upload.", details=["Start the upload again."])
        return upload_id

    # --- the life of an upload -------------------------------------------------------------

    def require_size(self, size: int) -> None:
        if size > self.limit:
            raise UploadTooLarge(f"The file is {size:,} bytes; uploads may be at most {self.limit:,} bytes.",
                                 details=["Split the transfer into smaller ones, or ask the administrator to put it "
                                          "in a transfer source folder."])  # fmt: skip
        self.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.root).free
        if free < size + self.free_margin:
            raise NoSpace(f"The server has {free:,} bytes free, too little to take {size:,} bytes.",
                          details=["Ask the administrator to free space, then upload again."])  # fmt: skip

    def create(self, owner: str, filename: str, size: int, sha256: object = None) -> Upload:
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise UploadError("size must be the file's length in bytes (1 or more).")
        suffix = require_accepted(display_name(filename))
        digest = _sha256(sha256)
        self.require_size(size)
        upload = Upload(uuid.uuid4().hex, owner, display_name(filename), suffix, size, digest, datetime.now(UTC))
        self.part(upload.id).touch(mode=0o600)
        _write_json(self._meta(upload.id), _upload_json(upload))
        return upload

    def get(self, upload_id: str, owner: str) -> Upload:
        """The upload, if it is `owner`'s; NotFound otherwise (another person's upload does not exist for you)."""
        meta = self._meta(self._check_id(upload_id))
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound("There is no such upload.", details=["Start the upload again."]) from None
        upload = _upload_from(data)
        if upload.owner != owner:
            raise NotFound("There is no such upload.", details=["Start the upload again."])
        try:
            received = self.part(upload_id).stat().st_size
        except FileNotFoundError:
            received = 0
        return dataclasses.replace(upload, received=received)

    def list(self, owner: str) -> list[Upload]:
        if not self.root.is_dir():
            return []
        found = []
        for meta in self.root.glob("*.json"):
            try:
                found.append(self.get(meta.stem, owner))
            except NotFound:
                continue
        return sorted(found, key=lambda u: u.created, reverse=True)

    @contextmanager
    def chunk(self, upload_id: str, owner: str, start: int, total: int | None = None) -> Iterator[ChunkWriter]:
        """Write one chunk from `start`; on any error the part file is cut back to `start`."""
        upload = self.get(upload_id, owner)
        if total is not None and total != upload.size:
            raise UploadError(f"The upload was declared as {upload.size:,} bytes, not {total:,}.",
                              details=["Start the upload again with the right size."])  # fmt: skip
        with _locked(self.part(upload_id)) as handle:
            received = os.fstat(handle.fileno()).st_size
            if start != received:
                raise UploadOutOfOrder(f"The server has {received:,} bytes of this upload; the next chunk must start "
                                       f"there, not at {start:,}.", received,
                                       details=(f"Send the file from byte {received}.",))  # fmt: skip
            handle.seek(start)
            writer = ChunkWriter(handle, start, upload.size)
            try:
                yield writer
                handle.flush()
                os.fsync(handle.fileno())
            except UploadTooLarge:
                # More than was declared: the whole upload goes, not only this chunk.
                self.part(upload_id).unlink(missing_ok=True)
                self._meta(upload_id).unlink(missing_ok=True)
                raise
            except BaseException:
                handle.truncate(start)
                raise

    def append_stream(self, owner: str, filename: str, chunks: Iterator[bytes]) -> Upload:
        """A whole upload from one stream of unknown length (a form post): the limit is checked as it comes."""
        suffix = require_accepted(display_name(filename))
        self.require_size(1)
        upload = Upload(uuid.uuid4().hex, owner, display_name(filename), suffix, self.limit, None, datetime.now(UTC))
        part = self.part(upload.id)
        hasher = hashlib.sha256()
        written = 0
        try:
            with part.open("wb") as handle:
                for data in chunks:
                    written += len(data)
                    if written > self.limit:
                        raise UploadTooLarge(f"The file is larger than the {self.limit:,} bytes an upload may be.",
                                             details=["Split the transfer into smaller ones."])  # fmt: skip
                    handle.write(data)
                    hasher.update(data)
                handle.flush()
                os.fsync(handle.fileno())
            if written == 0:
                raise UploadError("The file is empty.", details=["Choose the transfer's file and upload again."])
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        upload = dataclasses.replace(upload, size=written, sha256=hasher.hexdigest(), received=written)
        _write_json(self._meta(upload.id), _upload_json(upload))
        return upload

    def finish(self, upload_id: str, owner: str) -> Upload:
        """Check a whole upload: every byte received and, when a SHA-256 was given, the same digest."""
        upload = self.get(upload_id, owner)
        if upload.received != upload.size:
            raise UploadOutOfOrder(f"{upload.received:,} of {upload.size:,} bytes have arrived.", upload.received,
                                   details=(f"Send the rest from byte {upload.received}.",))  # fmt: skip
        if upload.sha256 is not None:
            found = file_sha256(self.part(upload_id))
            if found != upload.sha256:
                self.remove(upload_id, owner)
                raise UploadError("The file that arrived is not the file that was sent: its SHA-256 is "
                                  f"{found}, not {upload.sha256}.",
                                  details=["The upload was removed. Upload the file again."])  # fmt: skip
        return upload

    def remove(self, upload_id: str, owner: str) -> None:
        self.get(upload_id, owner)
        self.part(upload_id).unlink(missing_ok=True)
        self._meta(upload_id).unlink(missing_ok=True)

    def take(self, upload_id: str, owner: str, dest: Path) -> Upload:
        """Move a finished upload's bytes to `dest` (same disk: a rename) and forget the upload."""
        upload = self.finish(upload_id, owner)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.part(upload_id), dest)
        self._meta(upload_id).unlink(missing_ok=True)
        return upload


class ChunkWriter:
    """Writes one chunk, refusing bytes past the declared size (413)."""

    def __init__(self, handle: Any, start: int, size: int) -> None:
        self._handle = handle
        self.position = start
        self.size = size

    def write(self, data: bytes) -> None:
        if self.position + len(data) > self.size:
            raise UploadTooLarge(f"More bytes arrived than the {self.size:,} the upload was declared with.",
                                 details=["Start the upload again with the file's real size."])  # fmt: skip
        self._handle.write(data)
        self.position += len(data)

    def sync(self) -> None:
        """Flush and fsync what was written (called off the event loop before the chunk is ended)."""
        self._handle.flush()
        os.fsync(self._handle.fileno())


@contextmanager
def _locked(part: Path) -> Iterator[Any]:
    try:
        handle = part.open("r+b")
    except FileNotFoundError:
        raise NotFound("There is no such upload.", details=["Start the upload again."]) from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy("Another chunk of this upload is arriving now.",
                             details=["Wait for it, then ask how much has arrived."]) from None  # fmt: skip
        yield handle


def file_sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            hasher.update(block)
    return hasher.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically: a temporary file, fsync, rename, then the folder fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with temp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


write_json_atomically = _write_json


def _upload_json(u: Upload) -> dict[str, Any]:
    return {"id": u.id, "owner": u.owner, "filename": u.filename, "suffix": u.suffix, "size": u.size,
            "sha256": u.sha256, "created": u.created.isoformat()}  # fmt: skip


def _upload_from(d: dict[str, Any]) -> Upload:
    return Upload(id=d["id"], owner=d["owner"], filename=d["filename"], suffix=d["suffix"], size=int(d["size"]),
                  sha256=d.get("sha256"), created=datetime.fromisoformat(d["created"]))  # fmt: skip


def upload_json(u: Upload, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """What the API answers about an upload."""
    return {"id": u.id, "filename": u.filename, "size": u.size, "received": u.received, "chunk_size": chunk_size,
            "sha256": u.sha256, "created": u.created.isoformat()}  # fmt: skip


__all__ = [
    "ACCEPTED", "CHUNK_SIZE", "NoSpace", "Upload", "UploadBusy", "UploadError", "UploadOutOfOrder", "UploadStore",
    "UploadTooLarge", "accepted_suffix", "display_name", "file_sha256", "package_name", "upload_json",
    "write_json_atomically",
]  # fmt: skip
