"""Remove an OCFL object for good: every version, every stored version of every file, nothing left behind.

Disposal's last step on a location. The root inventory and its sidecar go first, so the object
stops existing at once (a crash after that leaves content keys of an object nobody can see,
which running the purge again removes); then everything under the object root is erased,
through the backend's `erase_prefix` where it has one (which also clears S3 noncurrent
versions), else key by key. Behind the hold guard, a held object refuses both steps.
"""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from strongroom.errors import NotFound, StorageError
from strongroom.storage.base import Erase, PartialCleanup, StorageBackend, supports
from strongroom.storage.holds import GuardedStorage
from strongroom.storage.ocfl import INVENTORY, SIDECAR


def purge_object(storage: StorageBackend, root: str) -> int:
    """Erase the OCFL object at `root` (as `OcflStore.object_root` gives it); how many objects went.

    Idempotent: 0 when nothing of it is left. HeldError (before anything is removed) when a hold covers it.
    """
    if not root.endswith("/") or not root.strip("/"):
        raise StorageError(f"{root!r} is not an OCFL object root (a key prefix ending in '/').")
    if isinstance(storage, GuardedStorage):
        storage.check_erase(root)  # refuse before the inventory goes, not half-way
    removed = 0
    # The object stops existing before any of its content goes.
    for name in (INVENTORY, SIDECAR):
        try:
            storage.delete(root + name)
        except NotFound:
            continue
        removed += 1
    if supports(storage, Erase):
        return removed + int(cast(Erase, storage).erase_prefix(root))
    for key in list(storage.list(root)):
        try:
            storage.delete(key)
        except NotFound:
            continue
        removed += 1
    if supports(storage, PartialCleanup):
        cast(PartialCleanup, storage).cleanup_partials(timedelta(0), prefix=root)
    return removed
