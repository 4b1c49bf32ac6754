"""BagIt manifest lines and streamed SHA-256: shared by ingest, commit, verify and upgrade."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed in 1 MiB chunks."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
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
