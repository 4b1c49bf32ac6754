"""Identify many files: in the calling process for small inputs, else across the cores this process may use.

This is the library behind `strongroom identify`; it imports nothing of the archive
(catalog, storage, ingest), so the command starts quickly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from strongroom.errors import ConfigError, StrongroomError
from strongroom.formats import make_identifier
from strongroom.formats.base import Identifier, IdentifierSpec
from strongroom.model import Identification

# strongroom.workers (multiprocessing, concurrent.futures) is imported only when processes are started:
# a few files in one process should not pay for it.

# Below both limits, one process does all the work. Measured on this project's 2-core machine (DROID
# engine, shared sample corpus x5, 1,880 files, 550 MB): identifying runs at ~1,500 files/s or ~450 MB/s
# of one core's time; a spawned worker spends ~0.2 s of CPU (0.25-0.9 s wall, with load) on start-up
# (interpreter, imports, loading the compiled signatures from the disk cache) before its first file,
# and the parent loads them too, to check the signature files. Two workers so only win once the work
# passes ~0.6 s on one core: about 1,000 files or 250 MB.
IN_PROCESS_FILES = 1000
IN_PROCESS_BYTES = 250 * 1024 * 1024


@dataclass(frozen=True)
class Identified:
    path: Path
    size: int
    identification: Identification


def expand_paths(paths: Iterable[Path], recursive: bool) -> Iterator[Path]:
    """Files named, and with `recursive` the regular files (not symbolic links) under folders named, in a
    stable order: a folder's files by name, then its subfolders by name (symbolic links to folders are not
    followed)."""
    for path in paths:
        if path.is_dir():
            if not recursive:
                raise StrongroomError(f"{path} is a folder.", details=["Add --recursive to identify what it holds."])
            yield from _walk(path)
        elif path.is_file():
            yield path
        else:
            raise StrongroomError(f"{path} does not exist or is not a regular file.")


def _walk(top: Path) -> Iterator[Path]:
    # os.scandir's entry types come with the listing: no stat per file, as os.walk + is_file would make.
    # An explicit stack, so no depth of folders reaches Python's recursion limit.
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError:
            continue  # as os.walk: a folder that cannot be listed is skipped
        folders = []
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                yield folder / entry.name
            elif entry.is_dir(follow_symlinks=False):
                folders.append(folder / entry.name)
        stack.extend(reversed(folders))


def load_identifier(spec: IdentifierSpec) -> Identifier:
    """The identifier for `spec`, loaded here; a bad signature file is a StrongroomError naming it."""
    try:
        return make_identifier(spec)
    except SystemExit as exc:  # FIDO's loader exits the process on a signature file it cannot parse
        named = spec.fido_signature_file or spec.signature_file
        raise ConfigError(
            f"The signature file {named} cannot be used by the {spec.engine} engine.",
            details=["Give a signature file in the engine's format (FIDO's formats-vNNN.xml), or leave it out."],
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"A signature file cannot be read: {exc}.", details=["Check the path given with --signatures."]
        ) from exc


def plan_workers(requested: int, files: int, size: int, cores: int | None = None) -> int:
    """How many processes identify `files` files of `size` bytes in all: `requested` when above 0, else
    one for small inputs and one per usable core (the CPU affinity mask) for the rest."""
    if requested > 0:
        return requested
    if files < IN_PROCESS_FILES and size < IN_PROCESS_BYTES:
        return 1
    if cores is None:
        from strongroom.workers import default_workers

        cores = default_workers()
    return max(1, min(cores, files))


class _WorkerState:
    """The identifier of one worker process, set by the pool initializer."""

    identifier: ClassVar[Identifier | None] = None


def _init_worker(spec: IdentifierSpec, parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        from strongroom.workers import die_with_parent

        die_with_parent(parent_pid)
    _WorkerState.identifier = make_identifier(spec)


def _identify_batch(items: list[tuple[str, int]]) -> list[tuple[str, int, Identification]]:
    """Identify a batch of files in a worker; batches keep the traffic between processes small."""
    identifier = _WorkerState.identifier
    if identifier is None:
        raise RuntimeError("the worker was not initialised")
    return [(path, size, identifier.identify(Path(path))) for path, size in items]


class IdentifyPool:
    """Worker processes that each hold a loaded identifier; reusable across many batches."""

    BATCH = 32

    def __init__(self, workers: int, spec: IdentifierSpec | None = None) -> None:
        from strongroom.workers import make_pool

        self.workers = workers
        self._executor = make_pool(workers, _init_worker, (spec or IdentifierSpec(),))

    def warm_up(self) -> None:
        """Start every worker and load its signatures now, not on the first files."""
        list(self._executor.map(_identify_batch, [[] for _ in range(self.workers)]))

    def identify(self, paths: Iterable[Path], sizes: Iterable[int] | None = None) -> Iterator[Identified]:
        from strongroom.workers import batched, bounded_map

        if sizes is None:
            items: Iterable[tuple[str, int]] = ((str(p), p.stat().st_size) for p in paths)
        else:
            items = zip((str(p) for p in paths), sizes, strict=True)
        for batch in bounded_map(self._executor, _identify_batch, batched(items, self.BATCH), self.workers * 4):
            for path, size, ident in batch:
                yield Identified(Path(path), size, ident)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> IdentifyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def identify_files(
    paths: Sequence[Path], *, workers: int = 0, spec: IdentifierSpec | None = None
) -> Iterator[Identified]:
    """Identify `paths` in order. `workers` 0 chooses (plan_workers); the signature files are loaded (and
    checked) in this process first, so a bad one is a clear error rather than a broken worker pool."""
    spec = spec or IdentifierSpec()
    sizes = [p.stat().st_size for p in paths]
    identifier = load_identifier(spec)
    count = plan_workers(workers, len(paths), sum(sizes))
    if count <= 1:
        for path, size in zip(paths, sizes, strict=True):
            yield Identified(path, size, identifier.identify(path))
        return
    with IdentifyPool(count, spec) as pool:
        yield from pool.identify(paths, sizes)


def identify_many(paths: Iterable[Path], *, workers: int, spec: IdentifierSpec | None = None) -> Iterator[Identified]:
    """Identify with exactly `workers` processes (one: in this process)."""
    yield from identify_files(list(paths), workers=max(1, workers), spec=spec)
