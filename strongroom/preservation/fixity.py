"""Fixity: do the bytes still match their recorded digests? One module for every caller.

Ingest compares what a transfer supplied (checksum files, bag manifests) with the
digests of the bytes received (`SuppliedDigests`); `verify` and scheduled audits
check stored objects against the digests recorded for them (`check_stored`), in a
fast mode (present, right size) or a full mode (every byte re-read and hashed).
Both answer with lists of typed problems (model.Mismatch, Missing, Unexpected),
never booleans.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from strongroom.errors import NotFound, StorageError
from strongroom.manifests import hash_stream
from strongroom.model import FixityProblem, Mismatch, Missing
from strongroom.storage.base import NativeChecksums, StorageBackend, supports


class FixityMode(enum.StrEnum):
    FAST = "fast"  # present and of the recorded size: catches lost and truncated files, cheaply
    FULL = "full"  # every byte re-read and hashed with SHA-256


@dataclass(frozen=True)
class ExpectedDigest:
    """A digest a transfer supplied for one of its files."""

    path: str  # data/-relative destination
    algorithm: str
    digest: str
    source: str  # the checksum file or manifest that gave it, for messages
    shown: str = ""  # the path as the depositor wrote it, for messages (defaults to `path`)

    @property
    def label(self) -> str:
        return self.shown or self.path


class SuppliedDigests:
    """Compares each received file's digests with what the transfer supplied, as results arrive."""

    def __init__(self, expected: Iterable[ExpectedDigest]) -> None:
        self.by_path: dict[str, list[ExpectedDigest]] = {}
        for item in expected:
            self.by_path.setdefault(item.path, []).append(item)
        self.seen: set[str] = set()
        self.problems: list[FixityProblem] = []

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Every algorithm the received files must be hashed with (SHA-256 always)."""
        algs = {"sha256"} | {e.algorithm for items in self.by_path.values() for e in items}
        return tuple(sorted(algs))

    def check(self, path: str, digests: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """Record problems for `path`; returns the (algorithm, source) pairs that matched."""
        verified: list[tuple[str, str]] = []
        for item in self.by_path.get(path, ()):
            self.seen.add(path)
            found = digests[item.algorithm]
            if found != item.digest:
                self.problems.append(Mismatch(item.label, item.algorithm, item.digest, found))
            else:
                verified.append((item.algorithm, item.source))
        return tuple(verified)

    def missing(self) -> list[FixityProblem]:
        """Files a checksum file or manifest named that never arrived."""
        out: list[FixityProblem] = []
        for path in sorted(set(self.by_path) - self.seen):
            items = self.by_path[path]
            sources = sorted({e.source for e in items})
            out.append(Missing(items[0].label, ", ".join(sources)))
        return out


@dataclass(frozen=True)
class StoredFile:
    """One stored object and what was recorded about it."""

    key: str  # the backend key
    label: str  # how messages name it, e.g. "v2 data/objects/a.pdf"
    sha256: str
    size: int | None = None  # checked in fast mode when known
    source: str = "the OCFL inventory"  # what recorded it, for Missing problems


@dataclass(frozen=True)
class FileCheck:
    """The outcome for one stored file: `problem` None when it is sound."""

    file: StoredFile
    problem: FixityProblem | None
    mode: FixityMode
    found_sha256: str | None = None  # full mode only
    found_size: int | None = None


def sha256_of_object(backend: StorageBackend, key: str) -> tuple[str, int]:
    """SHA-256 and size of a stored object, streamed."""
    with backend.open(key) as handle:
        return hash_stream(handle)


def check_one(backend: StorageBackend, file: StoredFile, mode: FixityMode) -> FileCheck:
    try:
        if mode is FixityMode.FAST:
            info = backend.stat(file.key)
            if file.size is not None and info.size != file.size:
                problem = Mismatch(file.label, "size", str(file.size), str(info.size))
                return FileCheck(file, problem, mode, found_size=info.size)
            if supports(backend, NativeChecksums):
                # A backend that keeps its own digest answers without a read: still cheap, and stronger.
                native = backend.sha256_of(file.key)  # type: ignore[attr-defined]
                if native != file.sha256:
                    return FileCheck(file, Mismatch(file.label, "sha256", file.sha256, native), mode, native)
            return FileCheck(file, None, mode, found_size=info.size)
        found, size = sha256_of_object(backend, file.key)
    except NotFound:
        return FileCheck(file, Missing(file.label, file.source), mode)
    except StorageError as err:
        return FileCheck(file, Mismatch(file.label, "read", "readable", err.message), mode)
    if found != file.sha256:
        return FileCheck(file, Mismatch(file.label, "sha256", file.sha256, found), mode, found, size)
    if file.size is not None and size != file.size:
        return FileCheck(file, Mismatch(file.label, "size", str(file.size), str(size)), mode, found, size)
    return FileCheck(file, None, mode, found, size)


def check_stored(
    backend: StorageBackend,
    files: Iterable[StoredFile],
    mode: FixityMode = FixityMode.FULL,
    *,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
) -> Iterator[FileCheck]:
    """Check stored files, in order, with a few reader threads (reads wait on the disk or network)."""
    if workers <= 1:
        for file in files:
            result = check_one(backend, file, mode)
            if progress:
                progress(1)
            yield result
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(lambda f: check_one(backend, f, mode), files):
            if progress:
                progress(1)
            yield result
