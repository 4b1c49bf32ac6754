"""Sources of a new version's content that storage may consume."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

__all__ = ["LinkableSources", "ScratchSources"]


class _FolderSources(Mapping[str, Path]):
    """Each logical path's source is `folder`/path, made when asked for: a version of a million files
    holds no million Path objects. Not used itself: storage treats the two kinds below differently
    (by isinstance), so neither may be the other's subclass."""

    def __init__(self, folder: Path, paths: Collection[str]) -> None:
        self.folder = folder
        self._paths = paths

    def __getitem__(self, path: str) -> Path:
        if path not in self._paths:
            raise KeyError(path)
        return self.folder / path

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


class ScratchSources(_FolderSources):
    """Sources for write_version() that were made for this version alone and are discarded after it
    (an ingest's staging folder): the store may move them into storage rather than copy them, where
    the backend can, so each file reaches the disk once. They are gone afterwards, stored or not.
    """


class LinkableSources(_FolderSources):
    """Sources for write_version() that stay after it (a job's scratch folder, which its finalize may need
    again) and that nobody writes in place any more: a file there is only ever replaced by a rename or
    removed. On a file system that allows it the store may then hard-link them into storage instead of
    copying them: the stored object gets the same bytes without writing them again, and the source stays
    whole. They are flushed and read back from the device just as copies are.
    """
