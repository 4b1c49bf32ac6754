"""Copying OCFL objects and journal batches between storage locations, and healing a damaged copy.

`copy_versions` brings a target's copy of an object up to the source's head: it copies the
content of the versions the target lacks, then their inventories, then the root inventory and
its sidecar last, so the target shows the new version only once it is whole (the same order a
commit writes in). Every object is put with the SHA-256 the source's inventory records, so the
target backend checks the bytes it stored against the digest the package was ingested with; a
damaged source file is refused, never spread. Content already present in the target with the
right digest is kept, which makes an interrupted copy resumable.

`heal_object` makes a damaged copy whole key by key from whichever location holds each key
intact: it writes only keys that are missing or differ in the damaged location, removes keys the
object must not have, and never writes to any other location.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from strongroom.errors import HeldError, IntegrityError, NotFound, StorageError, StrongroomError
from strongroom.locations import Location
from strongroom.manifests import sha256_file
from strongroom.preservation.fixity import sha256_of_object
from strongroom.storage.base import LocalFiles, NativeChecksums, PartialCleanup, StorageBackend, supports
from strongroom.storage.ocfl import INVENTORY, MAX_INVENTORY_BYTES, OBJECT_NAMASTE, SIDECAR, ObjectInventory

JOURNAL_PREFIX = "journal/"
OBJECT_DECLARATION = b"ocfl_object_1.1\n"  # the whole content of an object's 0=ocfl_object_1.1
T = TypeVar("T")
Progress = Callable[[int], None] | None


class DivergedCopy(StorageError):
    """The target holds a different history of the object than the source: never overwritten automatically."""


@dataclass(frozen=True)
class CopyResult:
    object_id: str
    source: str
    target: str
    from_version: int  # the target's head before the copy (0: it had none)
    to_version: int
    files: int  # objects written to the target
    bytes: int
    reused: int = 0  # content already in the target with the right digest (an earlier, interrupted copy)


@dataclass(frozen=True)
class HealResult:
    object_id: str
    source: str
    target: str
    restored: tuple[str, ...]  # keys written, relative to the object root
    removed: tuple[str, ...] = field(default_factory=tuple)  # keys the object must not have, taken out
    bytes: int = 0
    unrecoverable: tuple[str, ...] = ()  # keys no location holds with the right digest
    kept_under_hold: tuple[str, ...] = ()  # stray keys not removed because a hold forbids any delete


def read_inventory(location: Location, object_id: str) -> ObjectInventory | None:
    """The location's parsed root inventory of the object; None when it has no copy at all."""
    try:
        return location.ocfl.inventory(object_id)
    except NotFound:
        return None


def copy_versions(
    source: Location,
    target: Location,
    object_id: str,
    scratch: Path,
    *,
    workers: int = 4,
    progress: Progress = None,
) -> CopyResult:
    """Bring `target`'s copy of the object up to `source`'s head version (see the module docstring)."""
    have = source.ocfl.inventory(object_id)
    root = source.ocfl.object_root(object_id)
    if target.ocfl.object_root(object_id) != root:
        raise StorageError(f"Locations {source.name} and {target.name} use different OCFL storage layouts.")
    try:
        there = read_inventory(target, object_id)
    except (IntegrityError, StorageError):
        # A copy killed between the root inventory and its sidecar: finish it as a commit's recovery would
        # (only with a root inventory that parses; anything else stays for `repair`).
        with contextlib.suppress(StrongroomError):
            target.ocfl.sweep(object_id)
    try:
        there = read_inventory(target, object_id)
    except (IntegrityError, StorageError) as err:
        raise DivergedCopy(
            f"The copy of {object_id} in location {target.name} has a damaged inventory ({err.message}).",
            details=[f"Repair it from a good copy with: strongroom repair {object_id.rsplit(':', 1)[-1]}"],
        ) from err
    start = there.head if there is not None else 0
    if there is not None:
        _check_same_history(source, target, root, there.head, have.head)
    if start == have.head:
        return CopyResult(object_id, source.name, target.name, start, start, 0, 0)
    _cleanup_partials(target.storage, root)

    content: dict[str, str] = {}  # key -> digest, for the versions the target lacks
    for digest, paths in have.manifest.items():
        for path in paths:
            number = int(path.split("/", 1)[0][1:])
            if number > start:
                content[root + path] = digest
    written = [0, 0, 0]  # files, bytes, reused
    guard = threading.Lock()

    def copy_one(item: tuple[str, str]) -> None:
        key, digest = item
        if _holds(target.storage, key, digest):
            with guard:
                written[2] += 1
        else:
            size = _transfer(source.storage, target.storage, key, digest, scratch)
            with guard:
                written[0] += 1
                written[1] += size
        if progress:
            progress(1)

    _run(copy_one, sorted(content.items()), workers)
    small = [f"{root}v{n}/{name}" for n in range(start + 1, have.head + 1) for name in (INVENTORY, SIDECAR)]
    if start == 0:
        small.insert(0, root + OBJECT_NAMASTE)
    for key in [*small, root + INVENTORY, root + SIDECAR]:  # the root inventory, then its sidecar, last
        # Each is checked against what proves it (a fixed declaration, a version inventory's sidecar, the root
        # inventory's digest), so a damaged one in the source is refused rather than spread.
        expected: str | None = None
        if key == root + OBJECT_NAMASTE:
            expected = hashlib.sha256(OBJECT_DECLARATION).hexdigest()
        elif key == root + INVENTORY:
            expected = have.digest
        elif key.endswith("/" + INVENTORY):
            expected = version_inventory_digest(source.storage, key)
        written[1] += _transfer(source.storage, target.storage, key, expected, scratch)
        written[0] += 1
    return CopyResult(object_id, source.name, target.name, start, have.head, written[0], written[1], written[2])


def heal_object(
    reference: Location,
    sources: Sequence[Location],
    bad: Location,
    object_id: str,
    scratch: Path,
    *,
    workers: int = 4,
) -> HealResult:
    """Make `bad`'s copy of the object what `reference`'s inventory says it must be, key by key.

    The keys an object must have follow from its inventory: every content file in the manifest, the
    inventory of each version with its sidecar, the declaration, the root inventory and its sidecar.
    Each missing or wrong key is fetched from the first location (the reference, then `sources`) that
    holds it with the right digest, so two copies damaged in different files heal each other. Content
    digests come from the manifest; the other keys must equal the reference's bytes (or, where the
    reference lacks one, those of a source whose root inventory is byte for byte the reference's).
    Keys the object must not have are removed from `bad`. Nothing is ever written to another location.
    """
    inventory = reference.ocfl.inventory(object_id)
    root = reference.ocfl.object_root(object_id)
    digests = {path: digest for digest, paths in inventory.manifest.items() for path in paths}
    places = [reference, *[s for s in sources if s.name not in (reference.name, bad.name)]]
    restored: list[str] = []
    unrecoverable: list[str] = []
    size = [0]
    guard = threading.Lock()

    def restore(relative: str, digest: str | None) -> None:
        key = root + relative
        expected = digest or _reference_digest(places, key, root)
        # The damaged copy is judged by its bytes: a recorded digest (S3 metadata, the server's checksum of the
        # upload) outlives bit rot, and the audit has just read those bytes and found them wrong.
        if expected is not None and _holds(bad.storage, key, expected, read=True):
            return
        for source in (p for p in places if expected is not None and _holds(p.storage, key, expected)):
            try:
                copied = _transfer(source.storage, bad.storage, key, expected, scratch)
            except IntegrityError:
                continue  # its bytes rotted under a sound-looking checksum: try the next place
            with guard:
                size[0] += copied
                restored.append(relative)
            return
        with guard:
            unrecoverable.append(relative)

    _cleanup_partials(bad.storage, root)
    _run(lambda relative: restore(relative, digests[relative]), sorted(digests), workers)
    versions = [f"v{n}/{name}" for n in range(1, inventory.head + 1) for name in (INVENTORY, SIDECAR)]
    last = [OBJECT_NAMASTE, INVENTORY, SIDECAR]  # the root inventory and its sidecar last, as a commit writes
    for relative in [*versions, *last]:
        restore(relative, inventory.digest if relative == INVENTORY else None)
    wanted = {*digests, *versions, *last}
    removed: list[str] = []
    kept: list[str] = []
    for key in list(bad.storage.list(root)):
        relative = key.removeprefix(root)
        if relative not in wanted:
            try:
                bad.storage.delete(key)
            except HeldError:  # the storage layer refuses deletes under a hold: keep it, and say so
                kept.append(relative)
                continue
            removed.append(relative)
    return HealResult(
        object_id, reference.name, bad.name, tuple(sorted(restored)), tuple(sorted(removed)), size[0],
        tuple(sorted(unrecoverable)), tuple(sorted(kept)),
    )  # fmt: skip


def version_inventory_digest(storage: StorageBackend, key: str) -> str:
    """The SHA-256 that `key` (a vN/inventory.json) must have, as its sidecar records it; NotFound, or
    IntegrityError for a sidecar that is not one."""
    with storage.open(key + ".sha256") as handle:
        text = handle.read(1024).decode("utf-8", "replace")
    digest = text.split(maxsplit=1)[0].lower() if text.split() else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise IntegrityError(f"{key}.sha256 is not an inventory sidecar.")
    return digest


def _reference_digest(places: Sequence[Location], key: str, root: str) -> str | None:
    """The digest a key other than content must have, taken only from bytes that prove themselves.

    The declaration has fixed bytes. A version inventory must match its own sidecar, and a sidecar
    must be the one that matches its inventory, in the same place. The root sidecar is the reference's
    (its inventory was just read and checked against it).
    """
    relative = key.removeprefix(root)
    if relative == OBJECT_NAMASTE:
        return hashlib.sha256(OBJECT_DECLARATION).hexdigest()
    inventory_key = key.removesuffix(".sha256")
    is_version = relative.startswith("v") and "/" in relative
    for place in places:
        try:
            if is_version:
                recorded = version_inventory_digest(place.storage, inventory_key)
                if _sha256_of_bytes(place.storage, inventory_key) != recorded:
                    continue  # this place's pair does not agree: not a trustworthy source
                return recorded if key == inventory_key else _sha256_of_bytes(place.storage, key)
            return _sha256_of_bytes(place.storage, key)
        except (NotFound, IntegrityError):
            continue
    return None


def _sha256_of_bytes(storage: StorageBackend, key: str) -> str:
    """The SHA-256 of the stored bytes themselves, never a digest the backend keeps beside them."""
    return sha256_of_object(storage, key)[0]


def sync_journal(source: Location, target: Location, scratch: Path) -> int:
    """Copy the journal batches the target lacks (batches are never rewritten, so a missing key is all to copy)."""
    present = set(target.storage.list(JOURNAL_PREFIX))
    copied = 0
    for key in source.storage.list(JOURNAL_PREFIX):
        if key not in present:
            _transfer(source.storage, target.storage, key, None, scratch)
            copied += 1
    return copied


# --- helpers ------------------------------------------------------------------------------------


def _check_same_history(source: Location, target: Location, root: str, target_head: int, source_head: int) -> None:
    """The target's newest version must be byte for byte the source's same version, or the copies diverged."""
    if target_head > source_head:
        raise DivergedCopy(
            f"Location {target.name} holds version {target_head} of {root}, newer than the {source_head} in "
            f"{source.name}. Nothing was copied.",
            details=["Check which location is right before changing either; `strongroom audit` reports both."],
        )
    key = f"{root}v{target_head}/{INVENTORY}"
    if _sha256_of(source.storage, key) != _sha256_of(target.storage, key):
        raise DivergedCopy(
            f"Version {target_head} of {root} differs between locations {source.name} and {target.name}. "
            "Nothing was copied.",
            details=["Run `strongroom audit` on both locations, then `strongroom repair` the one that is wrong."],
        )


def _holds(storage: StorageBackend, key: str, digest: str, *, read: bool = False) -> bool:
    """True when `storage` has `key` with exactly this SHA-256 (read in full when `read`, or unless the backend
    keeps the digest)."""
    try:
        return (_sha256_of_bytes(storage, key) if read else _sha256_of(storage, key)) == digest
    except NotFound:
        return False
    except IntegrityError:
        return False


def _sha256_of(storage: StorageBackend, key: str) -> str:
    if supports(storage, NativeChecksums):
        return storage.sha256_of(key)  # type: ignore[attr-defined, no-any-return]
    return _sha256_of_bytes(storage, key)


def _transfer(source: StorageBackend, target: StorageBackend, key: str, digest: str | None, scratch: Path) -> int:
    """Put `key` from source into target, checked against `digest` (computed from the source when None)."""
    try:
        return _transfer_unchecked(source, target, key, digest, scratch)
    except OSError as err:  # the scratch folder or a local file: a message, not a traceback
        raise StorageError(f"Could not copy {key}: {err.strerror or err} ({getattr(err, 'filename', '')}).") from err


def _transfer_unchecked(
    source: StorageBackend, target: StorageBackend, key: str, digest: str | None, scratch: Path
) -> int:
    if supports(source, LocalFiles):
        path: Path = source.local_path(key)  # type: ignore[attr-defined]
        expected = digest or sha256_file(path)
        target.put(key, path, expected)
        return path.stat().st_size
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=scratch, prefix="copy-", delete=True) as out:
        hasher = hashlib.sha256()
        size = 0
        limit = MAX_INVENTORY_BYTES if digest is None else None
        with source.open(key) as handle:
            while chunk := handle.read(1024 * 1024):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise StorageError(f"{key} in {source!r} is larger than any inventory or journal batch can be.")
        out.flush()
        found = hasher.hexdigest()
        if digest is not None and found != digest:
            raise IntegrityError(
                f"{key} in {source!r} does not match its recorded SHA-256 (found {found}, expected {digest}); "
                "it was not copied.",
                details=["Audit that location, and repair it from a good copy: strongroom audit --repair"],
            )
        target.put(key, Path(out.name), found)
        return size


def _cleanup_partials(storage: StorageBackend, root: str) -> None:
    # Called under the package lock, so no other writer of this object is mid-upload.
    if supports(storage, PartialCleanup):
        storage.cleanup_partials(timedelta(0), prefix=root)  # type: ignore[attr-defined]


def _run(task: Callable[[T], None], items: Iterable[T], workers: int) -> None:
    listed = list(items)
    if workers <= 1 or len(listed) < 2:
        for item in listed:
            task(item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="strongroom-copy")
    try:
        for future in [pool.submit(task, item) for item in listed]:
            future.result()
    except BaseException:
        # One failure fails the copy: the files still queued are not tried (a dead server would make each
        # of them wait out its retries first).
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
