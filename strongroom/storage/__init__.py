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
from strongroom.storage.holds import guard

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


_S3_OPTIONS = {
    "bucket",
    "prefix",
    "endpoint_url",
    "region",
    "addressing",
    "part_size",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
}
_S3_SECRETS = {"access_key", "secret_key", "aws_access_key_id", "aws_secret_access_key", "session_token"}


def _s3(options: Mapping[str, object]) -> StorageBackend:
    from strongroom.storage.s3 import S3Storage

    secrets = sorted(set(options) & _S3_SECRETS)
    if secrets:
        raise ConfigError(
            f"S3 credentials ({', '.join(secrets)}) do not belong in strongroom.toml. Remove them and use the "
            "standard AWS chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, "
            "or an instance role."
        )
    _check_options("s3", options, _S3_OPTIONS)
    bucket = options.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise ConfigError("S3 storage needs a 'bucket' option: the name of the bucket that holds the packages.")
    texts: dict[str, str | None] = {}
    for name in ("prefix", "endpoint_url", "region", "addressing"):
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"The S3 storage option {name!r} must be a string.")
        texts[name] = value
    if texts["addressing"] not in (None, "path", "virtual"):
        raise ConfigError('The S3 storage option \'addressing\' must be "path" or "virtual".')
    numbers: dict[str, float] = {}
    for name, default, smallest in (
        ("part_size", 16 * 1024 * 1024, 5 * 1024 * 1024),
        ("connect_timeout", 10.0, 0.1),
        ("read_timeout", 60.0, 0.1),
        ("max_attempts", 5, 1),
    ):
        value = options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < smallest:
            raise ConfigError(f"The S3 storage option {name!r} must be a number of at least {smallest}.")
        numbers[name] = value
    return S3Storage(
        bucket,
        prefix=texts["prefix"] or "",
        endpoint_url=texts["endpoint_url"],
        region=texts["region"],
        addressing=texts["addressing"] or "path",
        part_size=int(numbers["part_size"]),
        connect_timeout=numbers["connect_timeout"],
        read_timeout=numbers["read_timeout"],
        max_attempts=int(numbers["max_attempts"]),
    )


_FACTORIES: Mapping[str, StorageFactory] = MappingProxyType({"filesystem": _filesystem, "s3": _s3})


def storage_kinds() -> tuple[str, ...]:
    """Names accepted by open_storage(), sorted."""
    return tuple(sorted(_FACTORIES))


def open_storage(kind: str, options: Mapping[str, object]) -> StorageBackend:
    """Open the storage backend registered as `kind` with its `options`.

    filesystem: `path` (the folder, required), `create` (make the folder if missing, default true).
    s3: `bucket` (required), `prefix`, `endpoint_url`, `region`, `addressing` ("path" or "virtual"),
    `part_size` (bytes, default 16 MiB), `connect_timeout`, `read_timeout` (seconds), `max_attempts`.
    Credentials come from the standard AWS chain only, never from these options.
    The backend comes wrapped in `storage.holds.GuardedStorage` (its `.inner` is the backend itself),
    which refuses to delete or erase anything a hold marker covers.
    """
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigError(f"Unknown storage type {kind!r}. Known types: {', '.join(storage_kinds())}.")
    # Every backend is opened behind the hold guard, so no caller can delete what a hold covers.
    return guard(factory(options))
