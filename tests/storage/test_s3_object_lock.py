"""S3 Object Lock: legal holds on every object version, and erasing every version for good (real MinIO).

An Object Lock bucket is versioned, so a plain delete keeps the old bytes as a noncurrent version;
`erase_prefix` removes versions and delete markers by VersionId, and a legal hold stops even that.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import StorageError
from strongroom.storage import open_storage
from strongroom.storage.base import StorageBackend
from strongroom.storage.ocfl import OcflStore, OcflUser
from strongroom.storage.ocfl_purge import purge_object
from tests.conftest import EXAMPLE_TRANSFER, Home
from tests.services import s3_client, s3_endpoint

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/"


def all_versions(client: Any, bucket: str, prefix: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(versions, delete markers) under `prefix`, as (key, version id)."""
    versions: list[tuple[str, str]] = []
    markers: list[tuple[str, str]] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions += [(v["Key"], v["VersionId"]) for v in page.get("Versions", ())]
        markers += [(m["Key"], m["VersionId"]) for m in page.get("DeleteMarkers", ())]
    return versions, markers


def legal_holds(client: Any, bucket: str, prefix: str) -> list[str]:
    return [
        client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)["LegalHold"]["Status"]
        for key, version in all_versions(client, bucket, prefix)[0]
    ]


@pytest.fixture
def locked_bucket() -> Iterator[tuple[str, str, Any]]:
    endpoint = s3_endpoint()
    client = s3_client(endpoint)
    bucket = f"strongroom-lock-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    try:
        yield endpoint, bucket, client
    finally:
        versions, markers = all_versions(client, bucket, "")
        for key, version in versions:
            client.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "OFF"})
        for key, version in versions + markers:
            client.delete_object(Bucket=bucket, Key=key, VersionId=version)
        client.delete_bucket(Bucket=bucket)


def two_versions(storage: StorageBackend, tmp_path: Path, object_id: str) -> str:
    """An OCFL object with two versions (its root inventory overwritten once: a noncurrent version); its root."""
    store = OcflStore(storage, workers=2)
    store.ensure_root()
    source = tmp_path / f"file-{uuid.uuid4().hex}.txt"
    for text in ("first", "second"):
        source.write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        store.write_version(
            object_id, {f"data/objects/{HOSTILE}a.txt": digest}, {f"data/objects/{HOSTILE}a.txt": source},
            sizes={f"data/objects/{HOSTILE}a.txt": len(text)}, message=text, user=OcflUser("t"),
            created=datetime.now(UTC),
        )  # fmt: skip
    return store.object_root(object_id)


def test_legal_hold_on_every_version_then_off_then_erased_for_good(
    locked_bucket: tuple[str, str, Any], tmp_path: Path
) -> None:
    endpoint, bucket, client = locked_bucket
    prefix = f"p-{uuid.uuid4().hex[:8]}"
    storage: Any = open_storage("s3", {"bucket": bucket, "endpoint_url": endpoint, "prefix": prefix})
    root = two_versions(storage, tmp_path, "urn:uuid:" + str(uuid.uuid4()))
    s3_root = f"{prefix}/{root}"
    versions, _ = all_versions(client, bucket, s3_root)
    assert len(versions) > len(list(storage.list(root)))  # noncurrent versions exist

    assert storage.set_legal_hold(root, True) == len(versions)
    assert legal_holds(client, bucket, s3_root) == ["ON"] * len(versions)
    key, version = versions[0]
    with pytest.raises(client.exceptions.ClientError):  # S3 itself refuses to remove a held version
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    with pytest.raises(StorageError, match="legal hold") as kept:  # and so erasing fails, naming the key
        storage.erase_prefix(root)
    assert "could not be erased" in str(kept.value)
    assert len(all_versions(client, bucket, s3_root)[0]) == len(versions)  # the held versions all remain

    assert storage.set_legal_hold(root, False) == len(versions)
    assert legal_holds(client, bucket, s3_root) == ["OFF"] * len(versions)

    storage.delete(root + "inventory.json")  # a plain delete: a delete marker, the bytes kept behind it
    left, markers = all_versions(client, bucket, s3_root)
    assert markers and len(left) == len(versions)
    # The sidecar's plain delete first (the object stops existing; one more delete marker), then every version
    # and delete marker by id, that new marker included.
    assert purge_object(storage, root) == 1 + len(left) + len(markers) + 1
    assert all_versions(client, bucket, s3_root) == ([], [])
    assert purge_object(storage, root) == 0


def test_archive_hold_sets_the_legal_hold_in_an_object_lock_location(
    home: Home, locked_bucket: tuple[str, str, Any]
) -> None:
    endpoint, bucket, client = locked_bucket
    prefix = f"locked-{uuid.uuid4().hex[:8]}"
    home.ok("location", "add", "vault", "--s3", bucket, "--endpoint-url", endpoint, "--prefix", prefix,
            "--object-lock", "--json")  # fmt: skip
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    with home.archive() as archive:
        s3_root = f"{prefix}/{archive.location('vault').ocfl.object_root('urn:uuid:' + package)}"
    versions, _ = all_versions(client, bucket, s3_root)
    assert versions

    placed = home.ok("hold", "place", package, "--type", "litigation", "--reason", "Case 1", "--json").json()
    assert isinstance(placed, dict)
    assert placed["locations"]["vault"] == f"marked, legal hold set on {len(versions)} object versions"
    assert placed["locations"]["primary"] == "marked"
    assert legal_holds(client, bucket, s3_root) == ["ON"] * len(versions)
    second = home.ok("hold", "place", package, "--type", "foi", "--reason", "FOI 22", "--json").json()
    assert isinstance(second, dict)

    released = home.ok("hold", "release", str(placed["hold"]), "--reason", "settled", "--json").json()
    assert isinstance(released, dict) and released["still_held"] == [package]
    assert legal_holds(client, bucket, s3_root) == ["ON"] * len(versions)  # the FOI hold still stands

    last = home.ok("hold", "release", str(second["hold"]), "--reason", "answered", "--json").json()
    assert isinstance(last, dict)
    assert last["locations"]["vault"] == f"unmarked, legal hold lifted from {len(versions)} object versions"
    assert legal_holds(client, bucket, s3_root) == ["OFF"] * len(versions)
