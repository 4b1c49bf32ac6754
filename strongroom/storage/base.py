"""The StorageBackend protocol: the small surface every storage type implements.

Keys are `/`-separated relative strings (`packages/<uuid>/<bag>/data/objects/a.pdf`);
a backend maps them onto its own namespace and must accept any Unicode name a
transfer can contain. Optional capabilities (native checksums, object lock) are
separate one-method protocols that callers detect with `supports()`, never with
isinstance on a concrete class.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class PutResult:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PutRequest:
    """One file for put_many(): store `source` under `key`; its content must have SHA-256 `sha256`."""

    key: str
    source: Path
    sha256: str


@runtime_checkable
class StorageBackend(Protocol):
    """Required operations. All raise NotFound / IntegrityError / StorageError from strongroom.errors."""

    name: str

    def put(self, key: str, source: Path, sha256: str) -> PutResult:
        """Store the file at `source` under `key`, atomically, and verify it.

        The object appears under `key` only whole: it is written under a temporary
        name, flushed to stable storage and renamed (or the backend's equivalent).
        It is read back and its SHA-256 compared with `sha256` before returning;
        on any difference the object is removed and IntegrityError raised.
        Overwriting an existing key is allowed and equally atomic.
        """
        ...

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the object; NotFound if absent."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time; NotFound if absent."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with `prefix`, in sorted order, temporary objects excluded."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; NotFound if absent."""
        ...


@runtime_checkable
class NativeChecksums(Protocol):
    """Optional: the backend can report a stored object's SHA-256 without the caller reading it."""

    def sha256_of(self, key: str) -> str: ...


@runtime_checkable
class BatchPut(Protocol):
    """Optional: store many files at once, each exactly as put() stores one (whole, flushed, read back).

    Worth having where per-file overheads dominate (flushes, folder locks): the batch may overlap
    them, or pay them once per folder. On an error no object of the batch that had not yet been
    renamed into place appears; the error is put()'s for the first file that failed.
    """

    def put_many(self, items: Sequence[PutRequest], *, move: bool = False, link: bool = False) -> list[PutResult]:
        """`move=True`: the sources are scratch copies the caller discards, which the backend may
        move into place rather than copy (they are gone afterwards, stored or not). `link=True`: the
        sources are kept but never written in place again (LinkableSources), so the backend may give
        the stored object the same bytes by a hard link rather than a copy; they stay where they are."""
        ...


@runtime_checkable
class PartialCleanup(Protocol):
    """Optional: the backend leaves temporary objects behind when a write is killed, and can sweep them."""

    def cleanup_partials(self, older_than: timedelta, prefix: str = "") -> int: ...


@runtime_checkable
class LocalFiles(Protocol):
    """Optional: each object is a plain local file, which a copy to another backend can read in place."""

    def local_path(self, key: str) -> Path:
        """The object's file (NotFound if absent); for reading only, never to write."""
        ...


@runtime_checkable
class Erase(Protocol):
    """Optional: remove everything under a prefix for good, with every stored version of every object.

    A versioned S3 bucket (as every Object Lock bucket is) keeps the bytes of a deleted object as
    a noncurrent version; disposal needs them gone too. A backend without version history deletes
    and tidies up (empty folders).
    """

    def erase_prefix(self, prefix: str) -> int:
        """Erase every object (and object version) whose key starts with `prefix`; how many were erased.
        StorageError naming the key when something (retention, a legal hold) keeps a version."""
        ...


@runtime_checkable
class LegalHolds(Protocol):
    """Optional: S3 Object Lock legal holds, which stop any client deleting the object versions."""

    def set_legal_hold(self, prefix: str, on: bool) -> int:
        """Turn the legal hold on (or off) for every version of every object under `prefix`; how many."""
        ...


def supports(backend: object, capability: type) -> bool:
    """True when `backend` offers the optional `capability` protocol."""
    return isinstance(backend, capability)


# Files per put_many() call: enough to overlap many flushes, few enough to hold each open
# (a quarter of the process's open-file limit at most: macOS allows 256 by default).
_PUT_BATCH = 512


def put_batch_size() -> int:
    """How many files to give one put_many() call in this process."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return _PUT_BATCH
    return max(1, min(_PUT_BATCH, soft // 4))
