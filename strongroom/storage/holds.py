"""Holds the storage layer itself enforces: marker objects beside the OCFL root, and a guard on every delete.

A hold (litigation, FOI/EIR, audit, investigation) must stop a package being deleted by any
path: disposal, `ocfl.delete_object`, repair removing a stray key, a script that opened the
storage itself, a replica filled later. So each hold is written into each location as a marker
object, `holds/{prefix}~hold-{id}.json` (prefix: an object root, ending in "/"), and
`GuardedStorage`, which `open_storage()` returns for every backend, refuses to delete or erase
any key a marker covers. The markers are plain JSON a person can read (which hold, its type and
reference, how to release it); they survive losing the catalog, and `holds/` is reserved like
`journal/`: only `remove_marker` (after a release is journalled) deletes them.

Writing a new object is not checked (that would cost every ingest): a new version of a held
package is refused in `Archive.commit` instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

from strongroom.errors import HeldError, NotFound, StorageError
from strongroom.storage.base import (
    BatchPut,
    Erase,
    LegalHolds,
    LocalFiles,
    NativeChecksums,
    ObjectInfo,
    PartialCleanup,
    PutRequest,
    PutResult,
    StorageBackend,
    supports,
)
from strongroom.storage.keys import key_problem

HOLDS = "holds/"
_MARK = "~hold-"
_SUFFIX = ".json"
_HOLD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
RELEASE_HINT = "release with `strongroom hold release {id} --reason ...`"


@dataclass(frozen=True)
class Marker:
    """One hold's marker: the prefix it covers and the hold's id."""

    prefix: str
    hold_id: str

    @property
    def key(self) -> str:
        return marker_key(self.prefix, self.hold_id)


def marker_key(prefix: str, hold_id: str) -> str:
    """The key of the marker for `hold_id` over `prefix`; StorageError for a prefix or id that cannot be one."""
    if not prefix.endswith("/") or key_problem(prefix[:-1]) is not None:
        raise StorageError(f"A hold covers a folder-like prefix ending in '/', such as an object root; not {prefix!r}.")
    if prefix.startswith(HOLDS):
        raise StorageError(f"The prefix {prefix!r} is inside {HOLDS}, where only hold markers are kept.")
    if not _HOLD_ID.fullmatch(hold_id):
        raise StorageError(f"{hold_id!r} cannot name a hold: use letters, digits, '-' and '_' (a UUID).")
    return f"{HOLDS}{prefix}{_MARK}{hold_id}{_SUFFIX}"


def parse_marker(key: str) -> Marker | None:
    """The marker a key names, or None when it is not one."""
    if not key.startswith(HOLDS):
        return None
    folder, slash, name = key.rpartition("/")
    if not slash or not name.startswith(_MARK) or not name.endswith(_SUFFIX):
        return None
    hold_id = name[len(_MARK) : -len(_SUFFIX)]
    prefix = folder[len(HOLDS) :] + "/"
    if not _HOLD_ID.fullmatch(hold_id) or len(prefix) < 2:
        return None
    return Marker(prefix, hold_id)


def _bare(storage: StorageBackend) -> StorageBackend:
    return storage.inner if isinstance(storage, GuardedStorage) else storage


def place_marker(storage: StorageBackend, prefix: str, hold_id: str, note: Mapping[str, Any]) -> str:
    """Write (or rewrite) the marker of `hold_id` over `prefix`; its key. `note`: id, type, reference, placed..."""
    key = marker_key(prefix, hold_id)
    document = {
        **{str(k): v for k, v in note.items()},
        "id": hold_id,
        "prefix": prefix,
        "release": RELEASE_HINT.format(id=hold_id),
    }
    data = (json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode()
    with tempfile.TemporaryDirectory(prefix="strongroom-hold-") as scratch:
        path = Path(scratch, "marker.json")
        path.write_bytes(data)
        _bare(storage).put(key, path, hashlib.sha256(data).hexdigest())
    return key


def remove_marker(storage: StorageBackend, prefix: str, hold_id: str) -> bool:
    """Delete the marker (only once the release is journalled); False when it was not there."""
    try:
        _bare(storage).delete(marker_key(prefix, hold_id))
    except NotFound:
        return False
    return True


def read_marker(storage: StorageBackend, prefix: str, hold_id: str) -> dict[str, Any]:
    """What a marker says (empty when it cannot be read or parsed: it still holds)."""
    try:
        with storage.open(marker_key(prefix, hold_id)) as stream:
            found = json.loads(stream.read(64 * 1024).decode("utf-8"))
    except (StorageError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _ancestors(key: str) -> Iterator[str]:
    """Every folder-like prefix of `key`: "a/", "a/b/" for "a/b/c" (and "a/b/c/" itself for "a/b/c/")."""
    at = key.find("/")
    while at != -1:
        yield key[: at + 1]
        at = key.find("/", at + 1)


def _markers_at(storage: StorageBackend, prefix: str) -> list[Marker]:
    found = []
    for key in storage.list(f"{HOLDS}{prefix}{_MARK}"):
        marker = parse_marker(key)
        if marker is not None and marker.prefix == prefix:  # not one of a deeper prefix that contains "~hold-"
            found.append(marker)
    return found


def markers_over(storage: StorageBackend, key: str) -> list[Marker]:
    """The markers whose prefix is an ancestor of `key` (one listing per folder level)."""
    inner = _bare(storage)
    return [m for prefix in _ancestors(key) for m in _markers_at(inner, prefix)]


def holds_on(storage: StorageBackend, key: str) -> list[str]:
    """The ids of the holds whose marker covers `key`, outermost prefix first."""
    return [m.hold_id for m in markers_over(storage, key)]


def markers_under(storage: StorageBackend, prefix: str = "") -> list[Marker]:
    """Every marker whose prefix starts with `prefix` (all of them for "")."""
    return [m for key in _bare(storage).list(HOLDS + prefix) if (m := parse_marker(key)) is not None]


def _refusal(storage: StorageBackend, doing: str, what: str, markers: Sequence[Marker]) -> HeldError:
    inner = _bare(storage)
    named = []
    for marker in markers:
        note = read_marker(inner, marker.prefix, marker.hold_id)
        kind = note.get("type") or "hold"
        reference = f", reference {note['reference']!r}" if note.get("reference") else ""
        named.append(f"{kind} hold {marker.hold_id}{reference} (over {marker.prefix!r})")
    return HeldError(
        f"Cannot {doing} {what} in {inner!r}: it is under {'; '.join(named)}.",
        details=[RELEASE_HINT.format(id=m.hold_id).capitalize() + " once it no longer applies." for m in markers],
    )


class GuardedStorage:
    """A backend whose delete and erase refuse any key a hold marker covers; everything else is the inner one's.

    Build it with `guard(inner)`: the class made there offers exactly the inner backend's optional
    capabilities, so `supports()` answers as it would for the inner backend.
    """

    def __init__(self, inner: StorageBackend) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    def __repr__(self) -> str:
        return repr(self.inner)

    def __getattr__(self, attribute: str) -> Any:
        # Settings and helpers of the backend (root, bucket, check_location...) read through; an optional
        # capability never does, or supports() would see ones the guard class does not offer.
        if attribute in _CAPABILITY_METHODS or attribute == "inner" or attribute.startswith("__"):
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)

    def put(self, key: str, source: Path, sha256: str) -> PutResult:
        return self.inner.put(key, source, sha256)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def stat(self, key: str) -> ObjectInfo:
        return self.inner.stat(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        if key.startswith(HOLDS):
            raise HeldError(
                f"Cannot delete {key!r}: {HOLDS} holds the markers of holds, which go only when a hold is released.",
                details=["Release the hold with `strongroom hold release HOLD --reason ...`."],
            )
        markers = markers_over(self.inner, key)
        if markers:
            raise _refusal(self.inner, "delete", repr(key), markers)
        self.inner.delete(key)

    def check_erase(self, prefix: str) -> None:
        """HeldError when erasing `prefix` would touch a held key or a marker."""
        if HOLDS.startswith(prefix) or prefix.startswith(HOLDS):
            raise HeldError(
                f"Cannot erase everything under {prefix!r}: that includes {HOLDS}, where the markers of holds are "
                "kept; they go only when a hold is released."
            )
        markers = markers_over(self.inner, prefix)
        markers += [m for m in markers_under(self.inner, prefix) if m not in markers]
        if markers:
            raise _refusal(self.inner, "erase", f"everything under {prefix!r}", markers)


class _Erase(GuardedStorage):
    def erase_prefix(self, prefix: str) -> int:
        self.check_erase(prefix)
        return int(cast(Erase, self.inner).erase_prefix(prefix))


class _LegalHolds(GuardedStorage):
    def set_legal_hold(self, prefix: str, on: bool) -> int:
        return int(cast(LegalHolds, self.inner).set_legal_hold(prefix, on))


class _NativeChecksums(GuardedStorage):
    def sha256_of(self, key: str) -> str:
        return str(cast(NativeChecksums, self.inner).sha256_of(key))


class _BatchPut(GuardedStorage):
    def put_many(self, items: Sequence[PutRequest], *, move: bool = False, link: bool = False) -> list[PutResult]:
        return cast(BatchPut, self.inner).put_many(items, move=move, link=link)


class _PartialCleanup(GuardedStorage):
    # Temporaries of dead writes belong to no version, held or not.
    def cleanup_partials(self, older_than: timedelta, prefix: str = "") -> int:
        return int(cast(PartialCleanup, self.inner).cleanup_partials(older_than, prefix))


class _LocalFiles(GuardedStorage):
    def local_path(self, key: str) -> Path:
        return cast(LocalFiles, self.inner).local_path(key)


_CAPABILITIES: tuple[tuple[type, type[GuardedStorage], str], ...] = (
    (Erase, _Erase, "erase_prefix"),
    (LegalHolds, _LegalHolds, "set_legal_hold"),
    (NativeChecksums, _NativeChecksums, "sha256_of"),
    (BatchPut, _BatchPut, "put_many"),
    (PartialCleanup, _PartialCleanup, "cleanup_partials"),
    (LocalFiles, _LocalFiles, "local_path"),
)
_CAPABILITY_METHODS = frozenset(method for _, _, method in _CAPABILITIES)


@functools.cache
def _guard_class(mixins: tuple[type[GuardedStorage], ...]) -> type[GuardedStorage]:
    if not mixins:
        return GuardedStorage
    return cast(type[GuardedStorage], type("GuardedStorage", (*mixins, GuardedStorage), {}))


def guard(inner: StorageBackend) -> StorageBackend:
    """`inner` behind the hold guard (returned as it is when already guarded)."""
    if isinstance(inner, GuardedStorage):
        return cast(StorageBackend, inner)
    mixins = tuple(mixin for capability, mixin, _ in _CAPABILITIES if supports(inner, capability))
    return cast(StorageBackend, _guard_class(mixins)(inner))
