"""A staged job's working files in its scratch folder (`[jobs] shared_dir`/<job>), shared by every job kind.

Steps of one job may run on different hosts, and any step may run twice (a redelivery, a worker that died),
so what a step leaves for the next is JSON written atomically and durably (a reader, or a rerun after a
power cut, sees the old file or the whole new one), under names fixed by the chunk number.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from strongroom.errors import StrongroomError
from strongroom.storage.filesystem import fsync_dir


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path`: a temporary file, fsync, rename, then the folder fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_json(path: Path) -> Any:
    """A file written by write_json; a clear error when an earlier step's file is missing or damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise StrongroomError(
            f"The job's working file {path} is missing.",
            details=["Every worker must see the same [jobs] shared_dir; check the mount, then submit the job again."],
        ) from err
    except (OSError, ValueError) as err:
        raise StrongroomError(f"The job's working file {path} cannot be read: {err}.",
                              details=["Submit the job again."]) from err  # fmt: skip


def chunk_file(scratch: Path, n: int, suffix: str = "") -> Path:
    """The fixed name of chunk n's result (or of another of its files, by suffix)."""
    return scratch / f"chunk-{n:06d}{suffix}.json"


def chunk_dir(scratch: Path, n: int) -> Path:
    """The fixed name of chunk n's own folder (for a chunk that keeps a file per item)."""
    return scratch / f"chunk-{n:06d}"


def cut_chunks(weights: Sequence[tuple[int, int]], chunk_files: int, chunk_bytes: int) -> list[list[int]]:
    """Cut items (each weighing (files, bytes)) into runs of at most `chunk_files` files and `chunk_bytes` bytes,
    in order; an item heavier than that is a chunk of its own. Returns the item indexes of each chunk."""
    chunks: list[list[int]] = []
    current: list[int] = []
    files = size = 0
    for index, (item_files, item_bytes) in enumerate(weights):
        if current and (files + item_files > chunk_files or size + item_bytes > chunk_bytes):
            chunks.append(current)
            current, files, size = [], 0, 0
        current.append(index)
        files += item_files
        size += item_bytes
    if current:
        chunks.append(current)
    return chunks


__all__ = ["chunk_dir", "chunk_file", "cut_chunks", "read_json", "write_json"]
