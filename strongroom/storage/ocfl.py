"""Packages as OCFL 1.1 objects in a storage root kept on any StorageBackend.

Key layout, under `prefix` (default `ocfl`):
    ocfl/0=ocfl_1.1                                             the storage root declaration
    ocfl/ocfl_layout.json                                       names the layout extension
    ocfl/extensions/0003-hash-and-id-n-tuple-storage-layout/config.json
    ocfl/abc/def/ghi/urn%3auuid%3a<uuid>/                       one object (extension 0003, defaults)
        0=ocfl_object_1.1  inventory.json  inventory.json.sha256
        v1/inventory.json  v1/inventory.json.sha256  v1/content/<logical path> ...

A version stores content only for digests the object does not hold yet; the rest is
referenced from earlier versions through the manifest. Content goes first, then the
version's own inventory, then the root inventory and last its sidecar, so a version
exists exactly when the root inventory says so: a write killed at any moment leaves
the previous version or the new one, plus leftovers that `sweep()` removes.
(Spec: https://ocfl.io/1.1/spec/ ; layout: https://ocfl.github.io/extensions/0003-hash-and-id-n-tuple-storage-layout.html.
The object's folder name is its percent-encoded id, so a person browsing the storage sees which package
is where; ocfl-py's validator knows this layout, and not 0004.)
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.storage.base import BatchPut, PartialCleanup, PutRequest, StorageBackend, put_batch_size, supports
from strongroom.storage.keys import key_problem
from strongroom.storage.ocfl_json import json_bytes, loads, rfc3339
from strongroom.storage.sources import LinkableSources, ScratchSources

SPEC_VERSION = "1.1"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
ROOT_NAMASTE = "0=ocfl_1.1"
OBJECT_NAMASTE = "0=ocfl_object_1.1"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha256"
CONTENT_DIRECTORY = "content"
DIGEST_ALGORITHM = "sha256"
LAYOUT_FILE = "ocfl_layout.json"
LAYOUT_EXTENSION = "0003-hash-and-id-n-tuple-storage-layout"
LAYOUT_CONFIG_KEY = f"extensions/{LAYOUT_EXTENSION}/config.json"
LAYOUT_DESCRIPTION = (
    "Hashed Truncated N-tuple Trees with Object ID Encapsulating Directory for OCFL Storage Hierarchies: "
    "sha256 of the object id in three 3-character tuples, then the percent-encoded object id."
)
LAYOUT_CONFIG: Mapping[str, object] = MappingProxyType(
    {
        "extensionName": LAYOUT_EXTENSION,
        "digestAlgorithm": "sha256",
        "tupleSize": 3,
        "numberOfTuples": 3,
    }
)
# Inventories repeat every logical path once per version; this leaves room for packages
# of a few hundred thousand files with many versions while refusing absurd objects.
MAX_INVENTORY_BYTES = 512 * 1024 * 1024
_SMALL_FILE_BYTES = 64 * 1024
CHUNK_SIZE = 1024 * 1024
_ID_SAFE = re.compile(r"[A-Za-z0-9_-]")

# Called with how many files were just stored or fetched (1 each, or a batch at a time).
Progress = Callable[[int], None] | None
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_VERSION = re.compile(r"v([1-9][0-9]*)")
_VERSION_DIR = re.compile(r"v([0-9]+)/")
_SIDECAR_LINE = re.compile(r"([0-9a-fA-F]{64})[ \t]+inventory\.json\r?\n?")


# --- typed results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OcflUser:
    """The OCFL version "user": who made the version; `address` should be a URI (mailto:, https:)."""

    name: str
    address: str | None = None


@dataclass(frozen=True)
class OcflVersion:
    """One version of an object, as its inventory records it."""

    number: int
    created: datetime
    message: str
    user: OcflUser | None
    state: Mapping[str, str]  # logical path -> sha256


@dataclass(frozen=True)
class ObjectInventory:
    """The root inventory of an object: every version and where each digest's content lives."""

    object_id: str
    root: str  # the object's key prefix, ending in "/"
    head: int
    versions: tuple[OcflVersion, ...]  # v1 .. head
    manifest: Mapping[str, tuple[str, ...]]  # sha256 -> content paths relative to the object root
    content_directory: str = CONTENT_DIRECTORY
    digest: str = ""  # sha256 of the inventory file itself
    # The parsed JSON, so a new version keeps whatever another tool wrote (fixity blocks...).
    document: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def version(self, number: int | None = None) -> OcflVersion:
        """Version `number` (None: the head); NotFound naming the versions that exist."""
        wanted = self.head if number is None else number
        if not 1 <= wanted <= self.head:
            raise NotFound(
                f"Object {self.object_id} has no version {wanted}: it has versions 1 to {self.head} "
                f"(v1-v{self.head}). Ask for one of those."
            )
        return self.versions[wanted - 1]

    def content_key(self, digest: str) -> str:
        """The full backend key of the (first) stored content file with `digest`."""
        paths = self.manifest.get(digest.lower())
        if not paths:
            raise NotFound(f"Object {self.object_id} stores no content with SHA-256 {digest}.")
        return self.root + paths[0]


@dataclass(frozen=True)
class WrittenVersion:
    """What write_version() stored: the version's size and how much of it was new."""

    object_id: str
    number: int
    files: int  # logical files in the version's state
    bytes: int
    new_files: int  # content files stored by this version (the rest are referenced)
    new_bytes: int
    root: str


@dataclass(frozen=True)
class _NewContent:
    digest: str
    logical_path: str  # its source is sources[logical_path]: looked up when stored, not held
    content_path: str  # relative to the object root


# --- the store --------------------------------------------------------------------------------


class OcflStore:
    """An OCFL 1.1 storage root under `prefix` of `backend`.

    Writers of one object must be serialised by the caller (the catalog's lock):
    write_version() always writes head + 1 of the current root inventory.
    """

    def __init__(
        self,
        backend: StorageBackend,
        *,
        prefix: str = "ocfl",
        workers: int = 8,
        max_inventory_bytes: int = MAX_INVENTORY_BYTES,
    ) -> None:
        problem = key_problem(prefix)
        if problem is not None:
            raise StorageError(f"Invalid OCFL storage root prefix {prefix!r}: {problem}.")
        if workers < 1:
            raise StorageError(f"The OCFL store needs at least one worker thread, not {workers}.")
        self.backend = backend
        self.prefix = prefix
        self.workers = workers
        self.max_inventory_bytes = max_inventory_bytes
        self._root_checked = False

    def __repr__(self) -> str:
        return f"OcflStore({self.backend!r}, prefix={self.prefix!r})"

    # --- the storage root ---------------------------------------------------------------------

    def ensure_root(self) -> None:
        """Create the storage root declaration, layout and extension config if missing.

        Idempotent; refuses (StorageError) a root declared for another OCFL version or
        laid out with another layout, since objects would then be looked for in the wrong place.
        """
        if self._root_checked:
            return
        declarations = [k for k in self.backend.list(f"{self.prefix}/0=") if "/" not in k[len(self.prefix) + 1 :]]
        ours = self._key(ROOT_NAMASTE)
        others = [k for k in declarations if k != ours]
        if others:
            raise StorageError(
                f"The storage root {self.prefix}/ declares {others[0].rpartition('/')[2]!r}, not OCFL {SPEC_VERSION}. "
                "Strongroom writes OCFL 1.1 storage roots only: configure another storage location for it."
            )
        if ours in declarations:
            self._check_existing_root()
        else:
            self._create_root()
        self._root_checked = True

    def _check_existing_root(self) -> None:
        declaration = self._read_limited(self._key(ROOT_NAMASTE))
        if declaration != b"ocfl_1.1\n":
            raise StorageError(
                f"The storage root declaration {self._key(ROOT_NAMASTE)!r} should hold 'ocfl_1.1' and a newline "
                "but holds something else. Restore it from a replica or rewrite it by hand."
            )
        try:
            layout = loads(self._read_limited(self._key(LAYOUT_FILE)), self._key(LAYOUT_FILE))
        except NotFound:
            raise StorageError(
                f"The OCFL storage root {self.prefix}/ has no {LAYOUT_FILE}, so the place of its objects is "
                f"unknown. Strongroom uses the {LAYOUT_EXTENSION} layout: configure another storage location."
            ) from None
        if not isinstance(layout, dict) or layout.get("extension") != LAYOUT_EXTENSION:
            found = layout.get("extension") if isinstance(layout, dict) else None
            raise StorageError(
                f"The OCFL storage root {self.prefix}/ uses the layout {found!r}; Strongroom uses "
                f"{LAYOUT_EXTENSION!r}. Configure another storage location for Strongroom."
            )
        try:
            config = loads(self._read_limited(self._key(LAYOUT_CONFIG_KEY)), self._key(LAYOUT_CONFIG_KEY))
        except NotFound:
            return  # the extension's defaults apply, which are ours
        if not isinstance(config, dict) or any(config.get(k, v) != v for k, v in LAYOUT_CONFIG.items()):
            raise StorageError(
                f"The layout configuration {self._key(LAYOUT_CONFIG_KEY)!r} differs from the defaults Strongroom "
                f"uses ({json.dumps(dict(LAYOUT_CONFIG))}), so objects would be looked for in the wrong place. "
                "Configure another storage location for Strongroom."
            )

    def _create_root(self) -> None:
        layout_keys = {self._key(LAYOUT_FILE), self._key(LAYOUT_CONFIG_KEY)}
        for key in self.backend.list(f"{self.prefix}/"):
            if key not in layout_keys:
                raise StorageError(
                    f"{self.prefix}/ in {self.backend!r} holds files (such as {key!r}) but no OCFL storage root "
                    f"declaration ({ROOT_NAMASTE}). Move them away or configure another storage location."
                )
        layout = {"extension": LAYOUT_EXTENSION, "description": LAYOUT_DESCRIPTION}
        self._put_bytes(self._key(LAYOUT_FILE), json_bytes(layout))
        self._put_bytes(self._key(LAYOUT_CONFIG_KEY), json_bytes(dict(LAYOUT_CONFIG)))
        # The declaration last: a root that has one is complete.
        self._put_bytes(self._key(ROOT_NAMASTE), b"ocfl_1.1\n")

    def object_root(self, object_id: str) -> str:
        """The key prefix (ending in "/") of an object, by extension 0003 with its default config."""
        digest = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
        folder = "".join(c if _ID_SAFE.fullmatch(c) else "".join(f"%{b:02x}" for b in c.encode("utf-8"))
                         for c in object_id)  # fmt: skip
        if len(folder) > 100:
            folder = f"{folder[:100]}-{digest}"
        return f"{self.prefix}/{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/{folder}/"

    def object_ids(self) -> Iterator[str]:
        """The id of every object that has a root inventory, in key order."""
        pattern = re.compile(rf"{re.escape(self.prefix)}/[0-9a-f]{{3}}/[0-9a-f]{{3}}/[0-9a-f]{{3}}/([^/]+)/")
        for key in self.backend.list(f"{self.prefix}/"):
            match = pattern.match(key)
            if match is None or key[match.end() :] != INVENTORY:
                continue
            document = loads(self._read_limited(key, self.max_inventory_bytes), key)
            object_id = document.get("id") if isinstance(document, dict) else None
            if not isinstance(object_id, str) or self.object_root(object_id) != key[: match.end()]:
                raise IntegrityError(
                    f"The OCFL inventory {key!r} names the object id {object_id!r}, which does not belong at "
                    "that place in the storage root. Restore the inventory from a replica or from its "
                    "latest version folder."
                )
            yield object_id

    def exists(self, object_id: str) -> bool:
        """True when the object has a root inventory (at least one complete version)."""
        try:
            self.backend.stat(self.object_root(object_id) + INVENTORY)
        except NotFound:
            return False
        return True

    # --- reading ------------------------------------------------------------------------------

    def inventory(self, object_id: str) -> ObjectInventory:
        """The object's root inventory, checked against its sidecar; NotFound if the object is absent."""
        root = self.object_root(object_id)
        key = root + INVENTORY
        try:
            raw = self._read_limited(key, self.max_inventory_bytes)
        except NotFound:
            raise NotFound(f"There is no OCFL object {object_id} in {self.prefix}/ ({key!r} is absent).") from None
        digest = hashlib.sha256(raw).hexdigest()
        recorded = self._sidecar_digest(root + SIDECAR)
        if recorded != digest:
            found = "is missing or unreadable" if recorded is None else f"records {recorded}"
            raise IntegrityError(
                f"The OCFL inventory {key!r} has SHA-256 {digest} but its sidecar {root + SIDECAR!r} {found}. "
                "If a write of this object was interrupted, sweep the object (the next write does); otherwise "
                "the inventory was damaged or altered: restore it from a replica."
            )
        document = loads(raw, key)
        del raw  # ~40 MB at 100,000 files: gone before the inventory is built beside the document (the peak)
        return _checked_inventory(document, key=key, root=root, expected_id=object_id, digest=digest)

    def open(self, object_id: str, logical_path: str, version: int | None = None) -> BinaryIO:
        """A stream of one file of a version (None: the head). The bytes are not checked here."""
        inventory = self.inventory(object_id)
        chosen = inventory.version(version)
        digest = chosen.state.get(logical_path)
        if digest is None:
            raise NotFound(f"Version {chosen.number} of object {object_id} has no file {logical_path!r}.")
        return self.backend.open(inventory.content_key(digest))

    def fetch_version(self, object_id: str, dest: Path, version: int | None = None, progress: Progress = None) -> None:
        """Write the logical state of a version (None: the head) as files under `dest`.

        Each file is checked against its digest while copied and flushed to disk;
        IntegrityError names the first stored file that reads back wrong.
        """
        inventory = self.inventory(object_id)
        chosen = inventory.version(version)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StorageError(f"Cannot create the folder {dest} to fetch object {object_id} into: {err}.") from err

        def fetch(item: tuple[str, str]) -> None:
            logical_path, digest = item
            key = inventory.content_key(digest)
            target = dest.joinpath(*logical_path.split("/"))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with self.backend.open(key) as src, open(target, "wb") as out:
                    found = _copy_hashing(src, out)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as err:
                raise StorageError(f"Cannot write {target} while fetching object {object_id}: {err}.") from err
            if found != digest:
                raise IntegrityError(
                    f"The stored file {key!r} (version {chosen.number}, {logical_path!r}) has SHA-256 {found}, "
                    f"not {digest} as the inventory records. Repair the object from a replica."
                )

        self._run_parallel(fetch, sorted(chosen.state.items()), progress)

    # --- writing ------------------------------------------------------------------------------

    def write_version(
        self,
        object_id: str,
        state: Mapping[str, str],
        sources: Mapping[str, Path],
        *,
        sizes: Mapping[str, int],
        message: str,
        user: OcflUser,
        created: datetime,
        progress: Progress = None,
    ) -> WrittenVersion:
        """Write version head + 1 (1 for a new object) whose complete logical state is `state`.

        `sources` maps logical paths to local files for content the object does not hold
        yet; content already in the manifest is referenced, never copied again (ScratchSources:
        files that may be moved into storage rather than copied; LinkableSources: kept files that
        may be hard-linked into it). `sizes`
        gives every file's size for the figures returned. Leftovers of an earlier
        interrupted write are swept first. If this write fails, its leftovers are swept
        too; when the failure came after the root inventory was replaced the version
        exists all the same, so check `inventory(object_id).head` after an error.
        """
        if not object_id:
            raise StorageError("An OCFL object id cannot be empty.")
        if created.tzinfo is None or created.utcoffset() is None:
            raise StorageError(f"The creation time of a version needs a time zone: {created.isoformat()} has none.")
        clean_state = _checked_state(state)
        missing_sizes = sorted(set(clean_state) - set(sizes))
        if missing_sizes:
            raise StorageError(
                f"No size given for {len(missing_sizes)} file(s) of the new version: {missing_sizes[:3]}."
            )
        self.ensure_root()
        root = self.object_root(object_id)
        self.sweep(object_id)
        try:
            current: ObjectInventory | None = self.inventory(object_id)
        except NotFound:
            current = None
        number = 1 if current is None else current.head + 1
        content_dir = CONTENT_DIRECTORY if current is None else current.content_directory
        known = {} if current is None else current.manifest
        plan = _plan_content(clean_state, sources, known, number, content_dir)
        document = _next_document(current, object_id, number, plan, clean_state, message, user, created)
        try:
            self._store_content(root, plan, sources, progress)
            self._put_inventories(root, number, json_bytes(document), new_object=current is None)
        except BaseException:
            # A failed write leaves no half version; cleaning up is best effort, sweep() runs again later.
            with contextlib.suppress(StorageError):
                self.sweep(object_id)
            raise
        return WrittenVersion(
            object_id=object_id,
            number=number,
            files=len(clean_state),
            bytes=sum(sizes[p] for p in clean_state),
            new_files=len(plan),
            new_bytes=sum(sizes[item.logical_path] for item in plan),
            root=root,
        )

    def _store_content(
        self, root: str, plan: list[_NewContent], sources: Mapping[str, Path], progress: Progress
    ) -> None:
        """Store the version's new content files: in batches where the backend offers put_many()."""
        if not supports(self.backend, BatchPut):
            self._run_parallel(
                lambda item: self.backend.put(root + item.content_path, sources[item.logical_path], item.digest),
                plan,
                progress,
            )
            return
        batch_size = put_batch_size()
        for start in range(0, len(plan), batch_size):
            batch = plan[start : start + batch_size]
            requests = [PutRequest(root + item.content_path, sources[item.logical_path], item.digest) for item in batch]
            self.backend.put_many(  # type: ignore[attr-defined]
                requests, move=isinstance(sources, ScratchSources), link=isinstance(sources, LinkableSources)
            )
            if progress is not None:
                progress(len(batch))

    def _put_inventories(self, root: str, number: int, inventory: bytes, *, new_object: bool) -> None:
        digest = hashlib.sha256(inventory).hexdigest()
        sidecar = f"{digest}  {INVENTORY}\n".encode()
        with tempfile.TemporaryDirectory(prefix="strongroom-ocfl-") as folder:
            inventory_file = Path(folder, INVENTORY)
            inventory_file.write_bytes(inventory)
            self.backend.put(f"{root}v{number}/{INVENTORY}", inventory_file, digest)
            self._put_bytes(f"{root}v{number}/{SIDECAR}", sidecar)
            if new_object:
                self._put_bytes(root + OBJECT_NAMASTE, b"ocfl_object_1.1\n")
            # The root inventory makes the version exist; its sidecar follows (sweep() rolls it forward).
            self.backend.put(root + INVENTORY, inventory_file, digest)
            self._put_bytes(root + SIDECAR, sidecar)

    # --- clean-up -----------------------------------------------------------------------------

    def sweep(self, object_id: str) -> int:
        """Remove leftovers of an interrupted write of this object; returns how many objects were removed.

        The root inventory is the truth: without one, every key of the object goes (a v1
        that never finished); with one at head N, every key under v<M>/ for M > N goes. A
        root sidecar left from the previous version is rewritten when the root inventory
        is exactly the head version's own, checked inventory (the kill came between the
        last two writes). Call it only while holding the lock that serialises writers.
        """
        root = self.object_root(object_id)
        removed = 0
        try:
            raw: bytes | None = self._read_limited(root + INVENTORY, self.max_inventory_bytes)
        except NotFound:
            raw = None
        if raw is None:
            for key in list(self.backend.list(root)):
                removed += self._delete_quietly(key)
        else:
            digest = hashlib.sha256(raw).hexdigest()
            document = loads(raw, root + INVENTORY)
            head = _checked_inventory(
                document, key=root + INVENTORY, root=root, expected_id=object_id, digest=digest
            ).head
            for key in list(self.backend.list(root)):
                match = _VERSION_DIR.match(key[len(root) :])
                if match is not None and int(match.group(1)) > head:
                    removed += self._delete_quietly(key)
            if self._sidecar_digest(root + SIDECAR) != digest:
                self._roll_forward(root, head, raw, digest)
        return removed + self._cleanup_partials(root)

    def _roll_forward(self, root: str, head: int, raw: bytes, digest: str) -> None:
        version_key = f"{root}v{head}/{INVENTORY}"
        try:
            copy_of_head = self._read_limited(version_key, self.max_inventory_bytes)
        except NotFound:
            return  # not our interrupted write: leave it for inventory() to report
        if copy_of_head == raw and self._sidecar_digest(f"{root}v{head}/{SIDECAR}") == digest:
            self._put_bytes(root + SIDECAR, f"{digest}  {INVENTORY}\n".encode())

    def delete_object(self, object_id: str) -> int:
        """Remove every key of an object; returns how many. Only for withdrawing a brand-new object."""
        root = self.object_root(object_id)
        removed = 0
        # The root inventory first, so the object stops existing before any content goes.
        for name in (INVENTORY, SIDECAR):
            removed += self._delete_quietly(root + name)
        for key in list(self.backend.list(root)):
            removed += self._delete_quietly(key)
        return removed + self._cleanup_partials(root)

    # --- helpers ------------------------------------------------------------------------------

    def _key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}"

    def _run_parallel(self, task: Callable[[Any], object], items: list[Any], progress: Progress) -> None:
        """Run `task` on every item with `workers` threads; the first failure cancels the rest."""
        if not items:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            futures: list[Future[object]] = [pool.submit(task, item) for item in items]
            try:
                for future in as_completed(futures):
                    future.result()
                    if progress is not None:
                        progress(1)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def _cleanup_partials(self, root: str) -> int:
        if supports(self.backend, PartialCleanup):
            # The caller holds the writers' lock, so every temporary under the object is a dead write's.
            return int(self.backend.cleanup_partials(timedelta(0), prefix=root))  # type: ignore[attr-defined]
        return 0

    def _delete_quietly(self, key: str) -> int:
        try:
            self.backend.delete(key)
        except NotFound:
            return 0
        return 1

    def _sidecar_digest(self, key: str) -> str | None:
        """The digest a sidecar records, or None when it is absent or not a sidecar."""
        try:
            text = self._read_limited(key)
        except NotFound:
            return None
        match = _SIDECAR_LINE.fullmatch(text.decode("utf-8", "replace"))
        return match.group(1).lower() if match else None

    def _read_limited(self, key: str, limit: int = _SMALL_FILE_BYTES) -> bytes:
        chunks: list[bytes] = []
        size = 0
        with self.backend.open(key) as handle:
            while chunk := handle.read(min(CHUNK_SIZE, limit + 1 - size)):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise IntegrityError(
                        f"{key!r} is larger than {limit} bytes, far more than an OCFL file of its kind should be. "
                        "It was probably replaced by something else: restore it from a replica."
                    )
        return b"".join(chunks)

    def _put_bytes(self, key: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="strongroom-ocfl-") as folder:
            path = Path(folder, "data")
            path.write_bytes(data)
            self.backend.put(key, path, hashlib.sha256(data).hexdigest())


# --- pure helpers -----------------------------------------------------------------------------


def _checked_state(state: Mapping[str, str]) -> dict[str, str]:
    """The state with lower-case digests, after checking every path and digest."""
    clean: dict[str, str] = {}
    for path, digest in state.items():
        problem = key_problem(path) if isinstance(path, str) else "it is not a string"
        if problem is not None:
            raise StorageError(f"Cannot store the logical path {path!r}: {problem}.")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise StorageError(f"The digest given for {path!r} is not a SHA-256 digest: {digest!r}.")
        clean[path] = digest.lower()
    # OCFL forbids a logical path that is also a folder of another (E095).
    folders = {path.rsplit("/", i)[0] for path in clean for i in range(1, path.count("/") + 1)}
    clash = sorted(folders & set(clean))
    if clash:
        raise StorageError(f"The logical path {clash[0]!r} is both a file and a folder of other files; rename one.")
    return clean


def _plan_content(
    state: Mapping[str, str],
    sources: Mapping[str, Path],
    known: Mapping[str, tuple[str, ...]],
    number: int,
    content_dir: str,
) -> list[_NewContent]:
    """One content file per digest the object lacks: the first logical path (sorted) that has a source."""
    plan: dict[str, _NewContent] = {}
    unsourced: dict[str, str] = {}
    for path in sorted(state):
        digest = state[path]
        if digest in known or digest in plan:
            continue
        source = sources.get(path)
        if source is None:
            unsourced.setdefault(digest, path)
            continue
        if not source.is_file():
            raise StorageError(f"Cannot store {path!r}: its source file {source} does not exist or is not a file.")
        plan[digest] = _NewContent(digest, path, f"v{number}/{content_dir}/{path}")
    missing = [path for digest, path in unsourced.items() if digest not in plan]
    if missing:
        raise StorageError(
            f"{len(missing)} file(s) of the new version are neither stored in the object yet nor given as a "
            f"source (such as {missing[0]!r}). Nothing was written; pass their local files."
        )
    return list(plan.values())


def _next_document(
    current: ObjectInventory | None,
    object_id: str,
    number: int,
    plan: list[_NewContent],
    state: Mapping[str, str],
    message: str,
    user: OcflUser,
    created: datetime,
) -> dict[str, Any]:
    if current is None:
        document: dict[str, Any] = {
            "id": object_id,
            "type": INVENTORY_TYPE,
            "digestAlgorithm": DIGEST_ALGORITHM,
            "head": "v1",
            "contentDirectory": CONTENT_DIRECTORY,
            "manifest": {},
            "versions": {},
        }
    else:
        document = copy.deepcopy(dict(current.document))
        document["head"] = f"v{number}"
    manifest: dict[str, list[str]] = document["manifest"]
    for item in plan:
        manifest[item.digest] = [item.content_path]
    document["manifest"] = {digest: manifest[digest] for digest in sorted(manifest)}
    by_digest: dict[str, list[str]] = {}
    for path in sorted(state):
        by_digest.setdefault(state[path], []).append(path)
    user_block = {"name": user.name} if user.address is None else {"name": user.name, "address": user.address}
    document["versions"][f"v{number}"] = {
        "created": rfc3339(created),
        "message": message,
        "user": user_block,
        "state": {digest: by_digest[digest] for digest in sorted(by_digest)},
    }
    return document


def _copy_hashing(src: BinaryIO, out: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := src.read(CHUNK_SIZE):
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest()


class _Damaged(Exception):
    """Internal: what is wrong with an inventory; turned into IntegrityError with its key."""


def _checked_inventory(document: Any, *, key: str, root: str, expected_id: str, digest: str) -> ObjectInventory:
    """Check and read an inventory's JSON as read from storage: any JSON at all may arrive here."""
    try:
        return _inventory_from(document, root=root, expected_id=expected_id, digest=digest)
    except _Damaged as err:
        raise IntegrityError(
            f"The OCFL inventory {key!r} is damaged or is not an OCFL inventory: {err}. Restore it from a "
            "replica, or from the copy in the object's latest version folder if that one is sound."
        ) from None


def _inventory_from(document: Any, *, root: str, expected_id: str, digest: str) -> ObjectInventory:
    if not isinstance(document, dict):
        raise _Damaged("it is not a JSON object")
    object_id = _field(document, "id", str)
    if object_id != expected_id:
        raise _Damaged(f"it belongs to the object {object_id!r}, not {expected_id!r}")
    spec = _field(document, "type", str)
    if spec != INVENTORY_TYPE:
        raise StorageError(
            f"The OCFL object {object_id} was written for {spec!r}; Strongroom reads and writes OCFL "
            f"{SPEC_VERSION} objects ({INVENTORY_TYPE}). Upgrade the object with an OCFL tool first."
        )
    algorithm = _field(document, "digestAlgorithm", str)
    if algorithm != DIGEST_ALGORITHM:
        raise StorageError(
            f"The OCFL object {object_id} uses {algorithm!r} digests; Strongroom keeps SHA-256 inventories only."
        )
    head = _version_number(_field(document, "head", str), "head")
    content_dir = document.get("contentDirectory", CONTENT_DIRECTORY)
    if not isinstance(content_dir, str) or content_dir in ("", ".", "..") or "/" in content_dir:
        raise _Damaged(f"its contentDirectory {content_dir!r} is not a single folder name")
    manifest = _manifest_from(_field(document, "manifest", dict), content_dir, head)
    versions_block = _field(document, "versions", dict)
    expected_names = {f"v{n}" for n in range(1, head + 1)}
    if set(versions_block) != expected_names:
        raise _Damaged(f"its versions are {sorted(versions_block)[:5]}, but head {head} needs exactly v1 to v{head}")
    versions = tuple(_version_from(versions_block[f"v{n}"], n, manifest) for n in range(1, head + 1))
    return ObjectInventory(
        object_id=object_id,
        root=root,
        head=head,
        versions=versions,
        manifest=MappingProxyType(manifest),
        content_directory=content_dir,
        digest=digest,
        document=document,
    )


def _manifest_from(block: dict[str, Any], content_dir: str, head: int) -> dict[str, tuple[str, ...]]:
    manifest: dict[str, tuple[str, ...]] = {}
    seen: set[str] = set()
    for digest, paths in block.items():
        if not _SHA256.fullmatch(digest):
            raise _Damaged(f"its manifest has {digest[:80]!r}, which is not a SHA-256 digest")
        if digest.lower() in manifest:
            raise _Damaged(f"its manifest lists the digest {digest} twice")
        if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
            raise _Damaged(f"its manifest entry for {digest} is not a non-empty list of paths")
        for path in paths:
            problem = key_problem(path)
            version_name, _, rest = path.partition("/")
            folder, _, logical = rest.partition("/")
            if problem is not None or folder != content_dir or not logical:
                raise _Damaged(f"its content path {path[:200]!r} is not v<N>/{content_dir}/<path>")
            if _version_number(version_name, "a content path") > head or path in seen:
                raise _Damaged(f"its content path {path[:200]!r} is listed twice or lies beyond the head version")
            seen.add(path)
        manifest[digest.lower()] = tuple(paths)
    return manifest


def _version_from(block: Any, number: int, manifest: Mapping[str, tuple[str, ...]]) -> OcflVersion:
    if not isinstance(block, dict):
        raise _Damaged(f"version {number} is not a JSON object")
    created_text = _field(block, "created", str)
    try:
        created = datetime.fromisoformat(created_text)
    except ValueError:
        raise _Damaged(f"version {number} has the creation time {created_text[:60]!r}, not RFC 3339") from None
    if created.tzinfo is None:
        raise _Damaged(f"version {number} has a creation time without a time zone")
    message = block.get("message", "")
    if not isinstance(message, str):
        raise _Damaged(f"version {number} has a message that is not a string")
    user: OcflUser | None = None
    if "user" in block:
        user_block = block["user"]
        if not isinstance(user_block, dict):
            raise _Damaged(f"version {number} has a user that is not a JSON object")
        name = _field(user_block, "name", str)
        address = user_block.get("address")
        if address is not None and not isinstance(address, str):
            raise _Damaged(f"version {number} has a user address that is not a string")
        user = OcflUser(name, address)
    state: dict[str, str] = {}
    for digest, paths in _field(block, "state", dict).items():
        normal = digest.lower()
        if normal not in manifest:
            raise _Damaged(f"version {number} refers to the digest {digest[:80]!r}, which the manifest lacks")
        if not isinstance(paths, list) or not paths:
            raise _Damaged(f"version {number} lists no paths for {digest}")
        for path in paths:
            problem = key_problem(path) if isinstance(path, str) else "it is not a string"
            if problem is not None:
                raise _Damaged(
                    f"version {number} has the logical path {str(path)[:200]!r}, which is invalid: {problem}"
                )
            if path in state:
                raise _Damaged(f"version {number} lists the logical path {path[:200]!r} twice")
            state[path] = normal
    return OcflVersion(number, created, message, user, MappingProxyType(state))


def _field(block: dict[str, Any], name: str, kind: type) -> Any:
    value = block.get(name)
    if not isinstance(value, kind):
        raise _Damaged(f"its {name!r} is missing or not a {'string' if kind is str else 'JSON object'}")
    return value


def _version_number(name: str, what: str) -> int:
    match = _VERSION.fullmatch(name)
    if match is None:
        raise _Damaged(f"{what} names the version {name[:40]!r}; expected v1, v2, ... (zero-padded names not used)")
    return int(match.group(1))
