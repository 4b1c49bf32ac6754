"""Supplied BagIt bags: read their manifests so the payload is checked in the one hashing pass."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import bagit

from strongroom.errors import TransferError
from strongroom.model import FixityProblem, Mismatch, Missing

# Tag files of a supplied bag that are not kept as depositor metadata (they are rewritten).
BAG_TAG_FILES = ("bagit.txt", "bag-info.txt", "fetch.txt")


@dataclass
class SuppliedBag:
    root: Path
    info: dict[str, tuple[str, ...]]
    algorithms: tuple[str, ...]
    payload: dict[str, dict[str, str]]  # bag-relative path (data/...) -> {algorithm: digest}
    oxum: tuple[int, int] | None  # (bytes, files) from Payload-Oxum
    tag_problems: list[FixityProblem] = field(default_factory=list)


def is_bag(folder: Path) -> bool:
    return (folder / "bagit.txt").is_file() and (folder / "data").is_dir()


def read_bag(folder: Path) -> SuppliedBag:
    try:
        bag = bagit.Bag(str(folder))
    except bagit.BagError as exc:
        raise TransferError(
            f"{folder.name} looks like a BagIt bag but cannot be read: {exc}.",
            details=["Check bagit.txt and the manifest files, or give the payload as a plain folder."],
        ) from exc
    if any(True for _ in bag.files_to_be_fetched()):
        raise TransferError(
            f"{folder.name} is a holey bag: fetch.txt lists files that are not in the bag.",
            details=["Fetch the files into the bag (for example with bagit.py) and retry."],
        )
    info: dict[str, tuple[str, ...]] = {}
    for key, value in bag.info.items():
        info[str(key)] = tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)
    oxum: tuple[int, int] | None = None
    if "Payload-Oxum" in info:
        try:
            octets, count = info["Payload-Oxum"][0].split(".", 1)
            oxum = (int(octets), int(count))
        except ValueError as exc:
            raise TransferError(
                f"{folder.name}/bag-info.txt has a malformed Payload-Oxum {info['Payload-Oxum'][0]!r}."
            ) from exc
    supplied = SuppliedBag(
        root=folder,
        info=info,
        algorithms=tuple(bag.algorithms),
        payload={path: dict(digests) for path, digests in bag.payload_entries().items()},
        oxum=oxum,
    )
    supplied.tag_problems = _check_tag_manifests(folder, bag.tagfile_entries())
    return supplied


def _check_tag_manifests(folder: Path, entries: dict[str, dict[str, str]]) -> list[FixityProblem]:
    problems: list[FixityProblem] = []
    for relative, digests in sorted(entries.items()):
        path = folder / relative
        if not path.is_file():
            problems.append(Missing(relative, "tag manifest"))
            continue
        hashers = {alg: hashlib.new(alg) for alg in digests}
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                for hasher in hashers.values():
                    hasher.update(chunk)
        for alg, expected in digests.items():
            found = hashers[alg].hexdigest()
            if found != expected.lower():
                problems.append(Mismatch(relative, alg, expected.lower(), found))
    return problems
