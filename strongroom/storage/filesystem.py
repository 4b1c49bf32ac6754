"""A StorageBackend that keeps objects as plain files under one folder.

Each key becomes the same relative path under the root, so the stored packages
stay readable with nothing but a file manager. Writes go to a temporary
`.<name>.<16 hex>.partial` file beside the final one, are flushed to the device,
read back and checked, and only then renamed into place; a crash can leave a
temporary file behind but never a half-written object under its real name.

Stored content is read-only on disk (files r--r--r--, folders r-xr-xr-x), so an
accidental edit or delete fails at once rather than waiting for `verify`. The backend
changes a folder's entries only while holding an exclusive lock on that folder (flock on
the folder itself, so threads and processes alike take turns), making it writable for
the moment of the change and read-only again before letting go: two puts into one folder
can never find it made read-only under them. Only the root keeps the mode its owner gave.
The batch machinery of put_many() (slots, its thread pool, syncfs) is in put_batch.py.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import fcntl
import functools
import hashlib
import io
import os
import re
import secrets
import stat
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.manifests import hash_stream, sha256_file
from strongroom.storage import put_batch
from strongroom.storage.base import ObjectInfo, PutRequest, PutResult
from strongroom.storage.keys import check_key, check_sha256, key_problem

CHUNK_SIZE = 1024 * 1024

# Temporary names carry a random token so that an ordinary file a depositor named
# `.draft.partial` is still an object, never mistaken for a leftover.
_PARTIAL = re.compile(r"\..*\.[0-9a-f]{16}\.partial", re.DOTALL)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_ABSENT = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
_PROC_FD = Path("/proc/self/fd")
# Enough of the final name to recognise a leftover, short enough that even four-byte
# characters keep the temporary name within the usual 255-byte limit.
_PARTIAL_NAME_CHARS = 48
# Tries at making a folder and the temporary in it while deletes elsewhere prune folders.
_ATTEMPTS = 10
# Stored content on disk: read-only, so only this backend (which unlocks a folder for the
# moment of a change) alters it. A folder is writable by its owner only while locked.
FILE_MODE = 0o444
FOLDER_MODE = 0o555
_FOLDER_OPEN_MODE = 0o755


def is_partial_name(name: str) -> bool:
    """True for the name of a temporary file left by an unfinished put()."""
    return _PARTIAL.fullmatch(name) is not None


class FilesystemStorage:
    """Objects as files under `root`; see the module docstring for the write protocol.

    `create=False` refuses a missing root instead of making it, so that an
    unmounted disk is reported rather than silently replaced by an empty folder.
    """

    name = "filesystem"

    def __init__(self, root: Path, *, create: bool = True) -> None:
        try:
            if create:
                root.mkdir(parents=True, exist_ok=True)
            resolved = root.resolve(strict=True)
        except FileNotFoundError:
            raise StorageError(
                f"The storage folder {root} does not exist. If it is on a removable or network "
                "disk, mount it; otherwise create the folder."
            ) from None
        except (OSError, RuntimeError) as err:
            raise StorageError(f"Cannot use {root} as the storage folder: {err}.") from err
        if not resolved.is_dir():
            raise StorageError(f"Cannot use {root} as the storage folder: it is not a folder.")
        self.root = resolved
        self._root_text = str(resolved)

    def __repr__(self) -> str:
        return f"FilesystemStorage({str(self.root)!r})"

    # --- the StorageBackend protocol ------------------------------------------------------

    def put(self, key: str, source: Path, sha256: str) -> PutResult:
        path = self._path(key)
        expected = check_sha256(key, sha256)
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as err:
            raise StorageError(f"Cannot read {source} to store it as {key!r}: {_reason(err)}.") from err
        partial: Path | None = None
        renamed = False
        try:
            partial, fd = self._create_partial(path)
            try:
                size, copied = _copy(src, source, fd)
                os.fsync(fd)
                _drop_cache(fd)
            finally:
                os.close(fd)
            if copied != expected:
                raise IntegrityError(
                    f"{source} does not match the SHA-256 given for {key!r}: expected {expected}, "
                    f"read {copied} while copying. Nothing was stored; the file may have changed "
                    "since it was checksummed.",
                )
            # Read back what reached the device before the rename, so a bad write never
            # replaces a good earlier version of the object.
            stored = sha256_file(partial)
            if stored != expected:
                raise IntegrityError(
                    f"The copy of {key!r} written to {self.root} reads back wrong: expected SHA-256 "
                    f"{expected} (computed while copying: {copied}), found {stored}. It was removed; "
                    "check the disk for errors and store the file again.",
                )
            with self._changing(path.parent):
                os.replace(partial, path)
            renamed = True
            fsync_dir(path.parent)
        except OSError as err:
            raise self._failure("store", key, err) from err
        finally:
            src.close()
            if not renamed:
                if partial is not None:
                    with contextlib.suppress(OSError), self._changing(partial.parent):
                        _remove_quietly(partial)
                self._prune(path.parent)  # folders made for this object only
        return PutResult(key=key, size=size, sha256=expected)

    def put_many(
        self, items: Sequence[PutRequest], *, move: bool = False, link: bool = False
    ) -> builtins.list[PutResult]:
        """Store many files, each as put() stores one: under a temporary name, flushed to the device,
        read back and checked, then renamed into place and its folder flushed.

        For a batch of small files the per-file costs dominate, so here each folder is locked once
        to create the batch's temporaries in it and once to rename them, each folder is flushed
        once, the files are written and read back on threads, and on Linux one syncfs(2) of the
        storage file system, after every temporary is written and before any is read back or
        renamed, flushes them all (where syncfs is missing, or for a temporary on another file
        system, each file is fsynced on its thread instead). Nothing is renamed until every file
        of the batch has been written, flushed and read back correctly: on such an error no
        object of the batch appears.
        Keep batches to a few hundred files: each holds an open file until it is written.

        `move=True` says the sources are scratch copies that the caller discards afterwards: a
        source on the same file system is then renamed to be the temporary file rather than
        copied (so it is written to the disk once, not twice), and is gone afterwards whatever
        happens. It is flushed and read back from the device just the same.

        `link=True` says the sources stay but are never written in place again (a job's scratch folder,
        which its finalize may need once more): a source on the same file system is then hard-linked as
        the temporary file, so its bytes are not written a second time and it stays whole (read-only,
        like the object it now also is). It is flushed and read back from the device just the same.
        """
        if not items:
            return []
        slots = self._batch_slots(items)
        by_folder: dict[Path, builtins.list[put_batch.Slot]] = {}
        for slot in slots:
            by_folder.setdefault(slot.folder, []).append(slot)
        to_flush: set[Path] = set()
        renamed = 0
        # Opened before any write: syncfs() reports the write-back errors of its file system since then.
        syncing = put_batch.open_for_syncfs(self.root)
        device = os.fstat(syncing).st_dev if syncing is not None else None
        try:
            for folder, in_folder in by_folder.items():
                try:
                    self._create_partials(folder, in_folder, to_flush, move, link)
                except OSError as err:
                    raise self._failure("store", in_folder[0].key, err) from err
            with ThreadPoolExecutor(max_workers=min(put_batch.BATCH_THREADS, len(slots))) as pool:
                # Every task runs to its end (each closes its own file); the first error is raised after.
                sizes = put_batch.each(pool, functools.partial(self._fill_partial, device=device), slots)
                if syncing is not None:
                    # One flush of the whole file system instead of one per file (each a journal commit on
                    # ext4): the temporaries' data is on the device before any is read back or renamed.
                    try:
                        put_batch.syncfs_or_raise(syncing)
                    except OSError as err:
                        raise self._failure("store", slots[0].key, err) from err
                put_batch.each(pool, self._read_back, slots)
            try:
                for folder, in_folder in by_folder.items():
                    with self._changing(folder):
                        for slot in in_folder:
                            os.replace(slot.partial, slot.target)  # type: ignore[arg-type]
                            slot.partial = None
                            renamed += 1
                    to_flush.add(folder)
                with ThreadPoolExecutor(max_workers=min(put_batch.BATCH_THREADS, len(to_flush))) as pool:
                    list(pool.map(fsync_dir, to_flush))
            except OSError as err:
                raise self._failure("store", slots[0].key, err) from err
        finally:
            if syncing is not None:
                os.close(syncing)
            for slot in slots:
                if slot.fd is not None:
                    os.close(slot.fd)
            if renamed < len(slots):
                for slot in slots:
                    if slot.partial is not None:
                        with contextlib.suppress(OSError), self._changing(slot.folder):
                            _remove_quietly(Path(slot.partial))
                for folder in by_folder:
                    self._prune(folder)  # folders made for this batch only
        return [PutResult(slot.key, size, slot.expected) for slot, size in zip(slots, sizes, strict=True)]

    def _batch_slots(self, items: Sequence[PutRequest]) -> builtins.list[put_batch.Slot]:
        """A slot for each item, its key checked as _path() checks it; each folder is checked once per batch.

        Paths are built as text from one Path per folder: a pathlib object per file was most of the CPU of a
        large batch. A folder's symbolic-link check walks down from the root, one lstat per folder of the
        batch, instead of resolving every folder from the root; a key whose folder is missing (a new version's
        content) cannot name a link, so only keys in existing folders get an lstat of their own. Any link on
        the way, or a root no longer where it was, sends the key through _path(), for its check and refusal.
        """
        # The root itself may have been swapped for a link since it was resolved: then check every key in full.
        root_moved = os.path.realpath(self._root_text) != self._root_text
        folders: dict[str, tuple[Path, str, bool] | None] = {"": (self.root, self._root_text, True)}
        slots: builtins.list[put_batch.Slot] = []
        for item in items:
            key = item.key
            check_key(key)
            folder_key, _slash, name = key.rpartition("/")
            found = None if root_moved or is_partial_name(name) else self._batch_folder(folder_key, folders)
            if found is not None:
                folder, folder_text, exists = found
                target = os.path.join(folder_text, name)
                if not exists or not os.path.islink(target):
                    slots.append(put_batch.Slot(key, item.source, folder, target, check_sha256(key, item.sha256)))
                    continue
            path = self._path(key)  # the full check: its refusal, or a path it allows after all
            slots.append(put_batch.Slot(key, item.source, path.parent, str(path), check_sha256(key, item.sha256)))
        return slots

    def _batch_folder(
        self, folder_key: str, folders: dict[str, tuple[Path, str, bool] | None]
    ) -> tuple[Path, str, bool] | None:
        """(folder, its path as text, whether it exists) for a folder of a batch with no symbolic link between it
        and the root; None when there is one (or it cannot be told). Memoised in `folders` for the batch."""
        # Iterative, not recursive: a key may be deeper than Python's recursion limit.
        todo: builtins.list[str] = []
        walked = folder_key
        while walked not in folders:
            todo.append(walked)
            walked = walked.rpartition("/")[0]
        found = folders[walked]
        for child_key in reversed(todo):
            if found is not None:
                parent_path, parent_text, parent_exists = found
                name = child_key.rpartition("/")[2]
                text = os.path.join(parent_text, name)
                if not parent_exists:
                    found = (parent_path / name, text, False)
                else:
                    try:
                        mode = os.lstat(text).st_mode
                    except FileNotFoundError:
                        found = (parent_path / name, text, False)
                    except OSError:
                        found = None  # let _path() judge it
                    else:
                        # A file where a folder should be fails later (ENOTDIR), as it does after _path().
                        found = None if stat.S_ISLNK(mode) else (parent_path / name, text, stat.S_ISDIR(mode))
            folders[child_key] = found
        return found

    def _create_partials(
        self, folder: Path, slots: builtins.list[put_batch.Slot], to_flush: set[Path], move: bool, link: bool
    ) -> None:
        """Make `folder` if missing and a temporary file in it for each slot, under one lock."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        folder_text = str(folder)
        for attempt in range(_ATTEMPTS):
            try:
                self._make_folders(folder, to_flush)
                with self._changing(folder):
                    for slot in slots:
                        if slot.fd is not None:
                            continue
                        name = os.path.basename(slot.target)[:_PARTIAL_NAME_CHARS]
                        slot.partial = os.path.join(folder_text, f".{name}.{secrets.token_hex(8)}.partial")
                        if (move and put_batch.move(slot.source, slot.partial)) or (
                            link and put_batch.link(slot.source, slot.partial)
                        ):
                            slot.moved = True
                            no_follow = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
                            slot.fd = os.open(slot.partial, os.O_RDONLY | no_follow)
                        else:
                            # Read-only from the start: the descriptor returned may still write it.
                            slot.fd = os.open(slot.partial, flags, FILE_MODE)
                return
            except FileNotFoundError:
                # A delete() or failed put() elsewhere pruned a folder we had just made; a moved
                # source went with it (it was scratch), and the retry copies nothing then fails.
                for slot in slots:
                    if slot.fd is not None:
                        os.close(slot.fd)
                    slot.fd, slot.partial, slot.moved = None, None, False
                if attempt == _ATTEMPTS - 1:
                    raise

    def _fill_partial(self, slot: put_batch.Slot, device: int | None) -> int:
        """Copy the slot's source into its temporary file (unless moved there) and close it; returns its size.

        `device` is the file system one syncfs() flushes after the whole batch is written: a temporary on it is
        not flushed here. Without one (no syncfs), or on another file system (a mount under the root), it is
        fsynced here, as put() does."""
        fd, partial = slot.fd, slot.partial
        assert fd is not None and partial is not None
        slot.fd = None  # closed below, whatever happens
        try:
            if slot.moved:
                os.fchmod(fd, FILE_MODE)
                size = os.fstat(fd).st_size
            else:
                try:
                    src = open(slot.source, "rb")  # noqa: SIM115 - closed just below
                except OSError as err:
                    raise StorageError(
                        f"Cannot read {slot.source} to store it as {slot.key!r}: {_reason(err)}."
                    ) from err
                with src:
                    size, slot.copied = _copy(src, slot.source, fd)
            if device is None or os.fstat(fd).st_dev != device:
                os.fsync(fd)
        except OSError as err:
            raise self._failure("store", slot.key, err) from err
        finally:
            os.close(fd)
        if slot.copied is not None and slot.copied != slot.expected:
            raise IntegrityError(
                f"{slot.source} does not match the SHA-256 given for {slot.key!r}: expected {slot.expected}, "
                f"read {slot.copied} while copying. Nothing was stored; the file may have changed "
                "since it was checksummed.",
            )
        return size

    def _read_back(self, slot: put_batch.Slot) -> None:
        """Read the slot's temporary file back from the device (it is flushed by now) and check its SHA-256."""
        partial = slot.partial
        assert partial is not None
        try:
            with open(partial, "rb", buffering=0) as handle:
                _drop_cache(handle.fileno())
                stored = hash_stream(handle)[0]
        except OSError as err:
            raise self._failure("store", slot.key, err) from err
        if stored != slot.expected:
            copied = slot.copied
            how = f"computed while copying: {copied}" if copied is not None else f"moved or linked from {slot.source}"
            raise IntegrityError(
                f"The copy of {slot.key!r} written to {self.root} reads back wrong: expected SHA-256 "
                f"{slot.expected} ({how}), found {stored}. It was removed; "
                "check the disk for errors and store the file again.",
            )

    def open(self, key: str) -> BinaryIO:
        fast = self._open_where_linux_says(key)
        if fast is not None:
            return fast
        path = self._path(key)
        try:
            return open(path, "rb")
        except _ABSENT:
            raise self._not_found(key) from None
        except OSError as err:
            raise self._failure("read", key, err) from err

    def _open_where_linux_says(self, key: str) -> BinaryIO | None:
        """Open for reading and ask the kernel where the opened file really is (/proc/self/fd), instead of
        resolving every folder of the path first: two system calls instead of one per path component, which
        is most of the cost of reading a small file. None where that cannot be used (then the caller checks
        the path the portable way): no /proc, or the name itself is a symbolic link."""
        if not _PROC_FD.is_dir():
            return None
        check_key(key)
        if is_partial_name(key.rpartition("/")[2]):
            return None  # the portable path gives the proper refusal
        path = os.path.join(self._root_text, *key.split("/"))
        try:
            # Non-blocking, so that a FIFO or a device is never waited on (or rewound) before it is refused.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except _ABSENT:
            raise self._not_found(key) from None
        except OSError as err:
            if err.errno == errno.ELOOP:
                return None
            raise self._failure("read", key, err) from err
        try:
            real = os.readlink(f"{_PROC_FD}/{fd}")
            is_file = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            os.close(fd)
            return None
        if not is_file:
            os.close(fd)
            raise self._not_found(key)  # a folder (or a FIFO, a device) is not an object
        os.set_blocking(fd, True)
        if not real.startswith(self._root_text + os.sep):
            os.close(fd)
            raise StorageError(
                f"Invalid storage key {key!r}: it leads outside the storage folder {self.root} through a symbolic link."
            )
        return os.fdopen(fd, "rb")

    def local_path(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise self._not_found(key)
        return path

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            info = os.stat(path)
        except _ABSENT:
            raise self._not_found(key) from None
        except OSError as err:
            raise self._failure("read", key, err) from err
        if not stat.S_ISREG(info.st_mode):
            raise self._not_found(key)
        return ObjectInfo(key=key, size=info.st_size, modified=datetime.fromtimestamp(info.st_mtime, UTC))

    def list(self, prefix: str = "") -> Iterator[str]:
        folder_key, slash, start = prefix.rpartition("/")
        if slash and key_problem(folder_key) is not None:
            return  # no valid key can start with this prefix
        folder = self.root.joinpath(*folder_key.split("/")) if slash else self.root
        if slash and not self._inside_root(folder):
            return
        # Visiting each folder's entries sorted by name, with `/` after folder names,
        # yields keys in exactly the order sorted() would give: no need to hold them all.
        stack = self._entries(folder, folder_key + slash, start)
        while stack:
            key, is_folder = stack.pop()
            if is_folder:
                stack.extend(self._entries(self.root.joinpath(*key.split("/")), key + "/", ""))
            else:
                yield key

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                raise self._not_found(key)
            with self._changing(path.parent):
                os.unlink(path)
        except _ABSENT:
            raise self._not_found(key) from None
        except OSError as err:
            raise self._failure("delete", key, err) from err
        try:
            fsync_dir(path.parent)
        except FileNotFoundError:
            pass  # another delete() already pruned the emptied folder: the removal is durable
        except OSError as err:
            raise self._failure("delete", key, err) from err
        self._prune(path.parent)

    def erase_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`, the temporaries of dead writes there and the folders left empty;
        how many objects. A folder keeps no version history, so that is all there is to erase."""
        if not prefix.strip("/"):
            raise StorageError("Give a prefix: erasing the whole storage folder at once is refused.")
        erased = 0
        for key in builtins.list(self.list(prefix)):
            try:
                self.delete(key)
            except NotFound:
                continue  # another eraser got there first
            erased += 1
        if prefix.endswith("/"):
            self.cleanup_partials(timedelta(0), prefix=prefix)
        return erased

    # --- housekeeping ---------------------------------------------------------------------

    def cleanup_partials(self, older_than: timedelta, prefix: str = "") -> int:
        """Remove temporary files of writes that never finished; returns how many.

        Only files last modified more than `older_than` ago are touched, so a put()
        running in another process at the same time is left alone. `prefix` (a
        folder-like key prefix ending in `/`) limits the sweep to one part of the store.
        """
        cutoff = datetime.now(UTC).timestamp() - older_than.total_seconds()
        removed = 0

        def fail(err: OSError) -> None:
            raise self._failure("clean up", str(err.filename or self.root), err) from err

        start = self.root
        if prefix:
            check_key(prefix.rstrip("/"))
            start = self.root.joinpath(*prefix.rstrip("/").split("/"))
            if not start.is_dir() or not self._inside_root(start):
                return 0
        for folder, _dirs, files in os.walk(start, onerror=fail):
            removed_here = 0
            for name in files:
                if not is_partial_name(name):
                    continue
                path = Path(folder, name)
                try:
                    info = os.lstat(path)
                    if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                        with self._changing(path.parent):
                            os.unlink(path)
                        removed_here += 1
                except FileNotFoundError:
                    continue  # its writer finished or another cleanup got there first
                except OSError as err:
                    raise self._failure("clean up", name, err) from err
            if removed_here:
                removed += removed_here
                self._prune(Path(folder))
        if prefix:
            # A swept prefix belongs to a dead writer: folders it made but never filled go too.
            for folder, _dirs, _files in os.walk(start, topdown=False):
                with contextlib.suppress(OSError), self._changing(Path(folder).parent):
                    os.rmdir(folder)
            self._prune(start.parent)
        return removed

    # --- helpers --------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        """The file for `key`, after checking the key cannot leave the root."""
        check_key(key)
        if is_partial_name(key.rpartition("/")[2]):
            raise StorageError(
                f"Invalid storage key {key!r}: names of the form .<name>.<16 hex digits>.partial "
                "are reserved for unfinished writes."
            )
        path = self.root.joinpath(*key.split("/"))
        if not self._inside_root(path):
            raise StorageError(
                f"Invalid storage key {key!r}: it leads outside the storage folder {self.root} through a symbolic link."
            )
        return path

    def _inside_root(self, path: Path) -> bool:
        # The key rules stop `..`; this catches symbolic links planted inside the root.
        try:
            return path.resolve().is_relative_to(self.root)
        except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop
            return False

    def _create_partial(self, path: Path) -> tuple[Path, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        short = path.name[:_PARTIAL_NAME_CHARS]
        for attempt in range(_ATTEMPTS):
            partial = path.with_name(f".{short}.{secrets.token_hex(8)}.partial")
            try:
                self._make_folders(path.parent)
                with self._changing(path.parent):
                    # Read-only from the start: the descriptor returned may still write it.
                    return partial, os.open(partial, flags, FILE_MODE)
            except FileNotFoundError:
                # A delete() or failed put() elsewhere pruned a folder we had just made.
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _make_folders(self, folder: Path, to_flush: set[Path] | None = None) -> None:
        """Make `folder` and its missing parents; each new folder's parent is flushed at once, or
        added to `to_flush` for the caller to flush before anything made here counts as stored."""
        missing: builtins.list[Path] = []
        current = folder
        while current != self.root and not current.is_dir():
            missing.append(current)
            current = current.parent
        for made in reversed(missing):
            try:
                with self._changing(made.parent):
                    # Made read-only at once: a put into it opens it under its own lock.
                    made.mkdir(mode=FOLDER_MODE)
            except FileExistsError:
                if not made.is_dir():
                    if not os.path.lexists(made):
                        # Pruned again between mkdir and the check: let the caller retry.
                        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(made)) from None
                    raise
            # A new folder is only durable once its parent's entry is.
            if to_flush is None:
                fsync_dir(made.parent)
            else:
                to_flush.add(made.parent)

    def _entries(self, folder: Path, key_prefix: str, start: str) -> builtins.list[tuple[str, bool]]:
        """(key, is_folder) for the entries of `folder`, in reverse order for a stack."""
        found: builtins.list[tuple[str, bool]] = []
        try:
            with os.scandir(folder) as scan:
                for entry in scan:
                    if not entry.name.startswith(start):
                        continue
                    # Symbolic links are skipped: put() never makes them, and following
                    # one could list files from outside the root.
                    if entry.is_dir(follow_symlinks=False):
                        found.append((key_prefix + entry.name, True))
                    elif entry.is_file(follow_symlinks=False) and not is_partial_name(entry.name):
                        found.append((key_prefix + entry.name, False))
        except _ABSENT:
            return []
        except OSError as err:
            raise self._failure("list", key_prefix or "the storage root", err) from err
        found.sort(key=lambda item: item[0] + "/" if item[1] else item[0], reverse=True)
        return found

    def _prune(self, folder: Path) -> None:
        """Remove `folder` and its parents up to the root while they are empty."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                with self._changing(folder.parent):
                    folder.rmdir()
            except OSError:
                return  # not empty, gone already or not ours to remove: all fine to leave
            folder = folder.parent

    @contextmanager
    def _changing(self, folder: Path) -> Iterator[None]:
        """Hold `folder` writable, and ours alone, while its entries change; read-only after.

        The lock is on the folder itself, so every thread and process changing it takes
        turns: none can make it read-only while another is between opening it and its
        change. FileNotFoundError when the folder is gone (pruned): callers retry or stop.
        """
        if folder == self.root:
            yield  # the root belongs to whoever configured it: its mode is left alone
            return
        fd = self._lock_folder(folder)
        try:
            os.fchmod(fd, _FOLDER_OPEN_MODE)
            try:
                yield
            finally:
                os.fchmod(fd, FOLDER_MODE)
        finally:
            os.close(fd)  # and with it the lock

    @staticmethod
    def _lock_folder(folder: Path) -> int:
        """An exclusive flock on `folder`, made sure to be on the folder now at that path.

        Between opening a folder and locking it, another thread may prune it and a third make
        a new one in its place: a lock on the old one would guard nothing, and changes made
        by path would land in the new, read-only one. So check, and retry on the new folder.
        """
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        while True:
            fd = os.open(folder, flags)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held = os.fstat(fd)
                try:
                    now = os.stat(folder)
                except FileNotFoundError:
                    raise  # pruned for good: the caller retries from making the folders
                if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                    return fd
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _not_found(self, key: str) -> NotFound:
        return NotFound(f"There is no object {key!r} in the storage folder {self.root}.")

    def _failure(self, action: str, key: str, err: OSError) -> StorageError:
        if err.errno in _DISK_FULL:
            return StorageError(
                f"The disk holding {self.root} is full: could not {action} {key!r}. Nothing was "
                "left half-written. Free some space on that disk (or move the storage folder to a "
                "larger one) and try again."
            )
        if err.errno in (errno.EACCES, errno.EPERM):
            return StorageError(
                f"Permission denied to {action} {key!r} in {self.root}: {_reason(err)}. Check that "
                "this user may read and write the storage folder."
            )
        if err.errno == errno.EROFS:
            return StorageError(
                f"Could not {action} {key!r}: {self.root} is on a read-only file system. Remount it "
                "read-write or configure another storage folder."
            )
        if err.errno == errno.ENAMETOOLONG:
            return StorageError(
                f"Could not {action} {key!r}: a name in it is longer than the file system under {self.root} allows."
            )
        if err.errno in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            return StorageError(
                f"Could not {action} {key!r}: a file and a folder in {self.root} would need the same "
                "name. Store it under a different key."
            )
        return StorageError(f"Could not {action} {key!r} in {self.root}: {_reason(err)}.")


def _copy(src: io.BufferedReader, source: Path, fd: int) -> tuple[int, str]:
    """Copy `src` into `fd` in 1 MiB chunks; returns (size, sha256) of what was read."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    while True:
        try:
            count = src.readinto(view)
        except OSError as err:
            raise StorageError(f"Cannot read {source}: {_reason(err)}.") from err
        if not count:
            return size, digest.hexdigest()
        chunk = view[:count]
        digest.update(chunk)
        while chunk:
            chunk = chunk[os.write(fd, chunk) :]
        size += count


def _drop_cache(fd: int) -> None:
    # The pages are clean after fsync; evicting them makes the read-back come from the
    # device rather than from memory, which is the point of reading back at all.
    # Only advice: a file system that refuses it still gets the read-back, from memory.
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    # Already failing with a better error; cleanup_partials() removes it later if this fails.
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _reason(err: OSError) -> str:
    return err.strerror or str(err)
