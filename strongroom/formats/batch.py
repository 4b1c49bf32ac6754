"""Identify many files, in parallel across the machine's cores (the `strongroom identify` command)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import StrongroomError
from strongroom.ingest.worker import bounded_map, identify_only, make_executor
from strongroom.model import Identification


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


def identify_many(
    paths: Iterable[Path], *, workers: int, engine: str = "fast", signature_file: Path | None = None
) -> Iterator[Identified]:
    executor = make_executor(workers, engine, signature_file)
    try:
        items = ((str(p), p.stat().st_size) for p in paths)
        for path, size, ident in bounded_map(executor, identify_only, items, max(8, workers * 32)):
            yield Identified(Path(path), size, ident)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
