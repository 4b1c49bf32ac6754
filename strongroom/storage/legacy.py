"""Reading the Strongroom 0.1 storage layout, for `strongroom upgrade` only.

Layout of keys in 0.1:
    packages/<uuid>/<bag name>/...   every file of the bag
    committed/<uuid>.json            the package marker, written last
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from strongroom.errors import NotFound, StorageError
from strongroom.manifests import parse_manifest, sha256_file
from strongroom.storage.base import StorageBackend

PACKAGES = "packages"
COMMITTED = "committed"


def uses_legacy_layout(backend: StorageBackend) -> bool:
    """True while any 0.1 package marker is left in storage."""
    return next(iter(backend.list(f"{COMMITTED}/")), None) is not None


@dataclass(frozen=True)
class LegacyMarker:
    uuid: str
    name: str
    bag: str
    created: str
    files: int
    bytes: int
    payload_sha256: str
    mets: str
    title: str | None = None

    @property
    def prefix(self) -> str:
        return f"{PACKAGES}/{self.uuid}/{self.bag}/"

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created)


class LegacyPackages:
    def __init__(self, backend: StorageBackend) -> None:
        self.backend = backend

    def markers(self) -> Iterator[LegacyMarker]:
        for key in self.backend.list(f"{COMMITTED}/"):
            if key.endswith(".json"):
                with self.backend.open(key) as handle:
                    data = json.loads(handle.read().decode("utf-8"))
                known = set(LegacyMarker.__dataclass_fields__)
                yield LegacyMarker(**{k: v for k, v in data.items() if k in known})

    def fetch_bag(self, marker: LegacyMarker, dest: Path) -> tuple[dict[str, str], dict[str, int], dict[str, Path]]:
        """Copy a 0.1 bag to `dest`; (state, sizes, local files), each file checked against the bag's manifests."""
        state: dict[str, str] = {}
        sizes: dict[str, int] = {}
        sources: dict[str, Path] = {}
        for key in self.backend.list(marker.prefix):
            relative = key.removeprefix(marker.prefix)
            local = dest.joinpath(*relative.split("/"))
            local.parent.mkdir(parents=True, exist_ok=True)
            with self.backend.open(key) as src, local.open("wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            state[relative] = sha256_file(local)
            sizes[relative] = local.stat().st_size
            sources[relative] = local
        expected: dict[str, str] = {}
        for manifest in ("manifest-sha256.txt", "tagmanifest-sha256.txt"):
            if manifest not in sources:
                raise StorageError(f"The 0.1 package {marker.uuid} has no {manifest}; it cannot be converted safely.")
            expected.update(parse_manifest(sources[manifest].read_text(encoding="utf-8")))
        wrong = sorted(p for p, digest in expected.items() if state.get(p) != digest)
        if wrong:
            raise StorageError(
                f"The 0.1 package {marker.name} ({marker.uuid}) does not match its manifests: {', '.join(wrong[:10])}.",
                details=["Nothing of it was converted. Restore those files from a backup, then run upgrade again."],
            )
        return state, sizes, sources

    def remove(self, marker: LegacyMarker) -> None:
        """Remove a converted package's old keys, the marker last."""
        for key in list(self.backend.list(f"{PACKAGES}/{marker.uuid}/")):
            with contextlib.suppress(NotFound):
                self.backend.delete(key)
        with contextlib.suppress(NotFound):
            self.backend.delete(f"{COMMITTED}/{marker.uuid}.json")
