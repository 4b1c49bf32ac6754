"""What a new package version is, before it is stored: the one shape every writer builds.

Ingest, metadata updates and (later) migration and re-ingest each build a
`VersionBuild`; `Archive.commit` stores it as an OCFL version, records it in the
catalog and indexes it. Nothing else writes packages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from strongroom.model import Agent, DublinCore, Event, FileRecord, PackageSummary, VersionRecord

# Bag files that describe the bag rather than being part of its payload.
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt")


def object_id(package: str) -> str:
    """The OCFL object id of a package."""
    return f"urn:uuid:{package}"


def package_of(object_id_: str) -> str:
    return object_id_.removeprefix("urn:uuid:")


@dataclass(frozen=True)
class VersionBuild:
    """A complete new version of a package, staged locally and ready to commit.

    `state` is the version's whole logical state (every bag file -> SHA-256);
    `sources` holds local copies of the files whose content may be new (files
    already stored in an earlier version need none). `files` and `events` are
    factories, so that a package of a million files is streamed from its staging
    database rather than held in memory.
    """

    package: str
    base_version: int  # the head version this one follows (0 for a new package)
    state: Mapping[str, str]
    sources: Mapping[str, Path]
    sizes: Mapping[str, int]
    summary: PackageSummary  # the package as it will be once this version is stored
    files: Callable[[], Iterable[FileRecord]]
    events: Callable[[], Iterable[Event]]  # the events this version adds
    agents: tuple[Agent, ...]
    descriptions: tuple[DublinCore, ...]
    message: str
    operator: str
    claim_payload: bool = True  # a new package claims its payload digest (ingest without --allow-duplicate)

    @property
    def number(self) -> int:
        return self.base_version + 1


@dataclass(frozen=True)
class CommitResult:
    summary: PackageSummary
    version: VersionRecord
    indexed: bool
    index_error: str | None = None
    copy_warnings: tuple[str, ...] = ()  # replica locations the version could not be copied to, and why


def payload_files_and_bytes(state: Mapping[str, str], sizes: Mapping[str, int]) -> tuple[int, int]:
    """Files and bytes of a version's payload (everything under data/, as Payload-Oxum counts)."""
    paths = [p for p in state if p.startswith("data/")]
    return len(paths), sum(sizes.get(p, 0) for p in paths)
