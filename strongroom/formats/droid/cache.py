"""The compiled signatures on disk, so a process starts identifying in milliseconds.

Parsing the 3.6 MB signature file, preparing 2,250 signatures and compiling
three Hyperscan databases takes about two seconds; the result is pickled (the
Hyperscan databases in their own serialised form) under a name made of the
signature files' SHA-256 digests and a digest of this package's own source
files (what gets pickled is defined there). A changed signature file or a
changed engine therefore never meets a stale cache; a cache file that does not
load (truncated, corrupt, from another version) is ignored and rebuilt.

Pickle runs code when loaded, so the cache only lives in a directory private to
the user (0700) and a file is loaded only when the user owns it and nobody else
can write it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE_FORMAT = 2  # the pickle layout of this module itself (magic, key, value)
_MAGIC = b"strongroom-droid-cache\n"
_PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class CacheKey:
    digests: tuple[str, ...]
    code: str = ""  # code_digest(): the engine that wrote the cache

    @property
    def filename(self) -> str:
        joined = hashlib.sha256("\n".join((str(CACHE_FORMAT), self.code, *self.digests)).encode()).hexdigest()
        return f"droid-{joined[:32]}.pickle"


def code_digest(package: Path = _PACKAGE) -> str:
    """SHA-256 of the package's .py files (names and contents): any code change means a new cache.

    About 150 KB read per process: well under a millisecond on a warm page cache.
    """
    digest = hashlib.sha256()
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0")
        digest.update(source.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def key_for(paths: list[Path | None], code: str | None = None) -> CacheKey:
    digests = tuple(file_digest(p) if p is not None else "-" for p in paths)
    return CacheKey(digests, code_digest() if code is None else code)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strongroom" / "droid"


def _private_dir(directory: Path) -> bool:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def load(directory: Path, key: CacheKey) -> Any | None:
    """The cached object for `key`, or None when there is none that can be trusted and read."""
    path = directory / key.filename
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & 0o022 or not _private_dir(directory):
                return None
            if handle.read(len(_MAGIC)) != _MAGIC:
                return None
            stored_key = pickle.load(handle)
            if stored_key != key:
                return None
            value = pickle.load(handle)
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruning keeps it
        return value
    except FileNotFoundError:
        return None
    except Exception:  # unpickling can raise anything; every failure means "rebuild"
        return None


def store(directory: Path, key: CacheKey, value: Any) -> Path | None:
    """Write atomically (temporary file, then rename); None when the directory cannot be used."""
    if not _private_dir(directory):
        return None
    target = directory / key.filename
    try:
        with tempfile.NamedTemporaryFile("wb", dir=directory, prefix=".tmp-", delete=False) as handle:
            handle.write(_MAGIC)
            pickle.dump(key, handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            temporary = Path(handle.name)
        os.replace(temporary, target)
    except OSError:
        return None
    _prune(directory, keep=target)
    return target


KEEP_CACHES = 4  # compiled signature sets kept side by side (the packaged ones, a home's newer ones, ...)


def _prune(directory: Path, keep: Path) -> None:
    """Remove all but the most recently used few caches: each code or signature change leaves a 6-7 MB file."""
    try:
        found = sorted(directory.glob("droid-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in [p for p in found if p != keep][KEEP_CACHES - 1 :]:
        with contextlib.suppress(OSError):
            old.unlink()
