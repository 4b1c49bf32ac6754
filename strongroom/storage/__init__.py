"""Storage backends and the registry that opens one by name.

Adding a backend is one entry in `_FACTORIES` plus a test module that subclasses
`tests/contracts/storage_contract.StorageContract`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from strongroom.errors import ConfigError
from strongroom.storage.base import NativeChecksums, ObjectInfo, PutResult, StorageBackend, supports

__all__ = [
    "NativeChecksums",
    "ObjectInfo",
    "PutResult",
    "StorageBackend",
    "open_storage",
    "storage_kinds",
    "supports",
]

StorageFactory = Callable[[Mapping[str, object]], StorageBackend]


def _check_options(kind: str, options: Mapping[str, object], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"Unknown option(s) for {kind} storage: {', '.join(unknown)}. Known options: {', '.join(sorted(allowed))}."
        )


def _filesystem(options: Mapping[str, object]) -> StorageBackend:
    # Imported here so that choosing one backend never imports another's dependencies.
    from strongroom.storage.filesystem import FilesystemStorage

    _check_options("filesystem", options, {"path", "create"})
    root = options.get("path")
    if not isinstance(root, str | Path) or not str(root):
        raise ConfigError("Filesystem storage needs a 'path' option: the folder that holds the packages.")
    create = options.get("create", True)
    if not isinstance(create, bool):
        raise ConfigError("The filesystem storage option 'create' must be true or false.")
    return FilesystemStorage(Path(root).expanduser(), create=create)


_FACTORIES: Mapping[str, StorageFactory] = MappingProxyType({"filesystem": _filesystem})


def storage_kinds() -> tuple[str, ...]:
    """Names accepted by open_storage(), sorted."""
    return tuple(sorted(_FACTORIES))


def open_storage(kind: str, options: Mapping[str, object]) -> StorageBackend:
    """Open the storage backend registered as `kind` with its `options`.

    filesystem: `path` (the folder, required), `create` (make the folder if missing, default true).
    """
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigError(f"Unknown storage type {kind!r}. Known types: {', '.join(storage_kinds())}.")
    return factory(options)
