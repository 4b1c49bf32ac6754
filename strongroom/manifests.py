"""BagIt manifest lines and streamed SHA-256: shared by ingest, commit, verify and upgrade."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


def hash_stream(stream: BinaryIO, algorithm: str = "sha256") -> tuple[str, int]:
    """(hex digest, size) of everything left in `stream`, read in 1 MiB chunks into one reused buffer.

    The one streamed-digest loop: files, stored objects and S3 bodies are all hashed here.
    """
    hasher = hashlib.new(algorithm)
    size = 0
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            hasher.update(chunk)
        return hasher.hexdigest(), size
    # A fresh 1 MiB buffer is zero-filled on every call: for the many small files of an archive that
    # costs more than hashing them, so a file's buffer is only as large as the file (plus one byte).
    buffer = bytearray(_buffer_size(stream))
    view = memoryview(buffer)
    while count := readinto(view):
        size += count
        hasher.update(view[:count])
    return hasher.hexdigest(), size


def _buffer_size(stream: BinaryIO) -> int:
    try:
        remaining = os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError):
        return CHUNK  # not a plain file (an S3 body, a pipe): its size is unknown
    return max(1, min(CHUNK, remaining + 1))


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    with path.open("rb", buffering=0) as handle:
        return hash_stream(handle)[0]


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


_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")


def validate_bag(bag_dir: Path) -> list[str]:
    """Check a bag on disk as RFC 8493 says; returns what is wrong, in words (empty when valid).

    Written here rather than taken from bagit-python because that library does not decode
    `%25` in manifest paths (its issue #157), so it calls a correct bag with `%` in a file
    name invalid. Checks: bagit.txt, every manifest and tag manifest entry present with its
    digest, every payload file listed in every payload manifest, Payload-Oxum.
    """
    problems: list[str] = []
    if not (bag_dir / "bagit.txt").is_file():
        return ["bagit.txt is missing"]
    payload_files = {
        p.relative_to(bag_dir).as_posix() for p in (bag_dir / "data").rglob("*") if p.is_file() or p.is_symlink()
    }
    manifests = [bag_dir / f"manifest-{alg}.txt" for alg in _ALGORITHMS if (bag_dir / f"manifest-{alg}.txt").is_file()]
    if not manifests:
        problems.append("there is no payload manifest")
    tag_manifests = [
        bag_dir / f"tagmanifest-{alg}.txt" for alg in _ALGORITHMS if (bag_dir / f"tagmanifest-{alg}.txt").is_file()
    ]
    for manifest in [*manifests, *tag_manifests]:
        algorithm = manifest.stem.split("-", 1)[1]
        try:
            entries = parse_manifest(manifest.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            problems.append(f"{manifest.name} cannot be read as a manifest")
            continue
        for relative, digest in sorted(entries.items()):
            target = bag_dir / relative
            if not target.resolve().is_relative_to(bag_dir.resolve()):
                problems.append(f"{manifest.name} names {relative!r}, outside the bag")
            elif not target.is_file():
                problems.append(f"{relative}: listed in {manifest.name} but not present")
            elif _digest(target, algorithm) != digest:
                problems.append(f"{relative}: {algorithm} does not match {manifest.name}")
        if manifest in manifests:
            for relative in sorted(payload_files - set(entries)):
                problems.append(f"{relative}: present but not listed in {manifest.name}")
    oxum = _payload_oxum(bag_dir)
    if oxum is not None:
        found = (sum((bag_dir / p).stat().st_size for p in payload_files), len(payload_files))
        if oxum != found:
            problems.append(f"Payload-Oxum says {oxum[0]}.{oxum[1]}, the payload is {found[0]}.{found[1]}")
    return problems


def _digest(path: Path, algorithm: str) -> str:
    with path.open("rb", buffering=0) as handle:
        return hash_stream(handle, algorithm)[0]


def _payload_oxum(bag_dir: Path) -> tuple[int, int] | None:
    info = bag_dir / "bag-info.txt"
    if not info.is_file():
        return None
    for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "payload-oxum":
            octets, _, count = value.strip().partition(".")
            if octets.isdigit() and count.isdigit():
                return int(octets), int(count)
    return None
