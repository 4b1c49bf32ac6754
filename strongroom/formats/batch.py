"""Identify many files, in parallel across the machine's cores (the `strongroom identify` command)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import StrongroomError
from strongroom.formats.base import IdentifierSpec
from strongroom.ingest.worker import identify_batch, make_executor
from strongroom.model import Identification
from strongroom.workers import batched, bounded_map


@dataclass(frozen=True)
class Identified:
    path: Path
    size: int
    identification: Identification


def expand_paths(paths: Iterable[Path], recursive: bool) -> Iterator[Path]:
    """Files named, and with `recursive` the files under folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            if not recursive:
                raise StrongroomError(f"{path} is a folder.", details=["Add --recursive to identify what it holds."])
            for dirpath, dirs, names in os.walk(path):
                dirs.sort()
                for name in sorted(names):
                    child = Path(dirpath) / name
                    if child.is_file() and not child.is_symlink():
                        yield child
        elif path.is_file():
            yield path
        else:
            raise StrongroomError(f"{path} does not exist or is not a regular file.")


class IdentifyPool:
    """Worker processes that each hold a loaded identifier; reusable across many batches."""

    BATCH = 32

    def __init__(self, workers: int, spec: IdentifierSpec | None = None) -> None:
        self.workers = workers
        self._executor = make_executor(workers, spec or IdentifierSpec())

    def warm_up(self) -> None:
        """Start every worker and load its signatures now, not on the first files."""
        list(self._executor.map(identify_batch, [[] for _ in range(self.workers)]))

    def identify(self, paths: Iterable[Path]) -> Iterator[Identified]:
        for batch in bounded_map(
            self._executor,
            identify_batch,
            batched(((str(p), p.stat().st_size) for p in paths), self.BATCH),
            self.workers * 4,
        ):
            for path, size, ident in batch:
                yield Identified(Path(path), size, ident)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> IdentifyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def identify_many(paths: Iterable[Path], *, workers: int, spec: IdentifierSpec | None = None) -> Iterator[Identified]:
    with IdentifyPool(workers, spec) as pool:
        yield from pool.identify(paths)
