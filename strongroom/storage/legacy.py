"""Packages (BagIt bags) on any StorageBackend, stored all-or-nothing.

Layout of keys:
    packages/<uuid>/<bag name>/...   every file of the bag
    committed/<uuid>.json            written last: a package exists only once this does

A crash part-way through leaves bag files without a `committed/` marker; they are
invisible to every reader and removed by the next ingest's clean-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from strongroom.errors import NotFound
from strongroom.storage.base import PartialCleanup, StorageBackend, supports

PACKAGES = "packages"
COMMITTED = "committed"


@dataclass(frozen=True)
class PackageMarker:
    uuid: str
    name: str
    bag: str  # the bag folder name, <name>-<uuid>
    created: str  # ISO 8601
    files: int
    bytes: int
    payload_sha256: str
    mets: str  # path of the METS document inside the bag
    title: str | None = None

    @property
    def prefix(self) -> str:
        return f"{PACKAGES}/{self.uuid}/{self.bag}/"

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)


def marker_key(package: str) -> str:
    return f"{COMMITTED}/{package}.json"


class PackageStore:
    def __init__(self, backend: StorageBackend, workers: int = 4) -> None:
        self.backend = backend
        self.workers = workers

    def store_bag(
        self,
        bag_dir: Path,
        marker: PackageMarker,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Put every file of `bag_dir`, each verified against the manifests, then the marker."""
        digests = _bag_digests(bag_dir)
        files = sorted(digests)

        def put(relative: str) -> int:
            path = bag_dir / relative
            self.backend.put(marker.prefix + relative, path, digests[relative])
            return 1

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for done in pool.map(put, files):
                if progress:
                    progress(done)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as tmp:
            json.dump(asdict(marker), tmp, indent=2, ensure_ascii=False)
            tmp_path = Path(tmp.name)
        try:
            self.backend.put(marker_key(marker.uuid), tmp_path, sha256_file(tmp_path))
        finally:
            tmp_path.unlink(missing_ok=True)

    def markers(self) -> Iterator[PackageMarker]:
        for package in self.committed_uuids():
            yield self.marker(package)

    def committed_uuids(self) -> Iterator[str]:
        for key in self.backend.list(f"{COMMITTED}/"):
            if key.endswith(".json"):
                yield key.removeprefix(f"{COMMITTED}/").removesuffix(".json")

    def marker(self, package: str) -> PackageMarker:
        with self.backend.open(marker_key(package)) as handle:
            data = json.loads(handle.read().decode("utf-8"))
        return PackageMarker(**data)

    def is_committed(self, package: str) -> bool:
        try:
            self.backend.stat(marker_key(package))
        except NotFound:
            return False
        return True

    def keys(self, marker: PackageMarker) -> Iterator[str]:
        for key in self.backend.list(marker.prefix):
            yield key.removeprefix(marker.prefix)

    def discard_uncommitted(self, package: str) -> int:
        """Remove the bag files of a package whose marker was never written."""
        if self.is_committed(package):
            return 0
        prefix = f"{PACKAGES}/{package}/"
        removed = 0
        for key in list(self.backend.list(prefix)):
            self.backend.delete(key)
            removed += 1
        if supports(self.backend, PartialCleanup):
            # The ingest that owned this prefix is dead: its half-written temporaries go too.
            removed += self.backend.cleanup_partials(timedelta(0), prefix=prefix)  # type: ignore[attr-defined]
        return removed

    def fetch(self, marker: PackageMarker, relative: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.backend.open(marker.prefix + relative) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())

    def read_text(self, marker: PackageMarker, relative: str) -> str:
        with self.backend.open(marker.prefix + relative) as handle:
            return handle.read().decode("utf-8")

    def sha256_of(self, marker: PackageMarker, relative: str) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        with self.backend.open(marker.prefix + relative) as handle:
            while chunk := handle.read(1024 * 1024):
                size += len(chunk)
                hasher.update(chunk)
        return hasher.hexdigest(), size


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed in 1 MiB chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


def parse_manifest(text: str) -> dict[str, str]:
    """`<sha256>  <path>` lines of a BagIt manifest, with BagIt's %-encoding of CR, LF and %."""
    entries: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, path = line.split(maxsplit=1)
        entries[decode_manifest_path(path.strip())] = digest.lower()
    return entries


def encode_manifest_path(path: str) -> str:
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_manifest_path(path: str) -> str:
    return path.replace("%0D", "\r").replace("%0A", "\n").replace("%0d", "\r").replace("%0a", "\n").replace("%25", "%")


def _bag_digests(bag_dir: Path) -> dict[str, str]:
    """SHA-256 of every file of a bag, from its own manifests (the tag manifest covers the rest)."""
    digests = parse_manifest((bag_dir / "manifest-sha256.txt").read_text(encoding="utf-8"))
    digests.update(parse_manifest((bag_dir / "tagmanifest-sha256.txt").read_text(encoding="utf-8")))
    digests["tagmanifest-sha256.txt"] = sha256_file(bag_dir / "tagmanifest-sha256.txt")
    return digests
