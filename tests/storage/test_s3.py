"""S3Storage: the storage contract against a real MinIO, plus what only S3 has.

MinIO is started by scripts/services.sh (see tests/services.py); each module gets a bucket of
its own and each test a unique prefix in it, so tests may run in parallel.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import ConfigError, IntegrityError, StorageError
from strongroom.storage import open_storage, storage_kinds
from strongroom.storage.base import NativeChecksums, PartialCleanup, StorageBackend, supports
from strongroom.storage.holds import GuardedStorage
from strongroom.storage.s3 import S3Storage
from tests.conftest import EXAMPLE_TRANSFER, Home
from tests.contracts.storage_contract import MIB, StorageContract, sha256_hex
from tests.services import fresh_s3_bucket, s3_client


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[str, str]]:
    with fresh_s3_bucket() as made:
        yield made


@pytest.fixture
def client(bucket: tuple[str, str]) -> Any:
    return s3_client(bucket[0])


def make_storage(bucket: tuple[str, str], **options: Any) -> S3Storage:
    endpoint, name = bucket
    options.setdefault("prefix", f"t-{uuid.uuid4().hex[:12]}")
    return S3Storage(name, endpoint_url=endpoint, region="us-east-1", **options)


def physical(client: Any, storage: S3Storage) -> list[str]:
    """Every object and unfinished upload under the storage's prefix, as the server holds them."""
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=storage.prefix):
        found += [item["Key"][len(storage.prefix) :] for item in page.get("Contents", ())]
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=storage.bucket):
        found += [
            "(unfinished) " + upload["Key"][len(storage.prefix) :]
            for upload in page.get("Uploads", ())
            if upload["Key"].startswith(storage.prefix)
        ]
    return sorted(found)


class TestS3Contract(StorageContract):
    @pytest.fixture
    def backend(self, bucket: tuple[str, str]) -> S3Storage:
        return make_storage(bucket)

    def leftovers(self, backend: StorageBackend) -> list[str]:
        assert isinstance(backend, S3Storage)
        return physical(s3_client(backend.endpoint_url or ""), backend)


def random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(MIB, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def read_sha256(storage: S3Storage, key: str) -> str:
    digest = hashlib.sha256()
    with storage.open(key) as stream:
        while chunk := stream.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def test_multipart_upload_reads_back_identical(bucket: tuple[str, str], client: Any, tmp_path: Path) -> None:
    storage = make_storage(bucket, part_size=5 * MIB)
    source = tmp_path / "big.bin"
    digest = random_file(source, 12 * MIB + 123)

    result = storage.put("big/file.bin", source, digest)

    assert result.size == 12 * MIB + 123
    assert read_sha256(storage, "big/file.bin") == digest
    head = client.head_object(Bucket=storage.bucket, Key=storage.prefix + "big/file.bin", PartNumber=1)
    assert head["PartsCount"] == 3  # really a multipart upload, not one PUT
    assert storage.sha256_of("big/file.bin") == digest
    assert physical(client, storage) == ["big/file.bin"]


def test_single_part_uses_the_servers_checksum(bucket: tuple[str, str], client: Any, tmp_path: Path) -> None:
    storage = make_storage(bucket)
    (tmp_path / "a").write_bytes(b"checked by the server")
    digest = sha256_hex(b"checked by the server")

    storage.put("a.txt", tmp_path / "a", digest)

    head = client.head_object(Bucket=storage.bucket, Key=storage.prefix + "a.txt", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(digest)).decode()
    assert head["Metadata"]["sha256"] == digest
    assert storage.sha256_of("a.txt") == digest
    assert supports(storage, NativeChecksums) and supports(storage, PartialCleanup)


@pytest.mark.parametrize("size", [100, 7 * MIB])
def test_wrong_sha256_is_refused_and_leaves_no_object(
    bucket: tuple[str, str], client: Any, tmp_path: Path, size: int
) -> None:
    storage = make_storage(bucket, part_size=5 * MIB)
    source = tmp_path / "x.bin"
    real = random_file(source, size)
    wrong = sha256_hex(b"something else")

    with pytest.raises(IntegrityError) as raised:
        storage.put("x.bin", source, wrong)

    assert real in str(raised.value) and wrong in str(raised.value)
    assert physical(client, storage) == []  # no object and no unfinished upload


def test_corruption_found_by_the_read_back_removes_the_object(
    bucket: tuple[str, str], client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = make_storage(bucket, part_size=5 * MIB)
    source = tmp_path / "x.bin"
    digest = random_file(source, 6 * MIB)
    # The server's copy goes bad between the upload and the read-back: a fake, as real bit rot cannot be ordered.
    monkeypatch.setattr(storage, "_read_back", lambda key: sha256_hex(b"rotten"))

    with pytest.raises(IntegrityError, match="reads back wrong"):
        storage.put("x.bin", source, digest)

    assert physical(client, storage) == []


def test_cleanup_partials_aborts_an_interrupted_multipart_upload(
    bucket: tuple[str, str], client: Any, tmp_path: Path
) -> None:
    storage = make_storage(bucket)
    other = make_storage(bucket)
    for target in (storage, other):
        upload = client.create_multipart_upload(Bucket=target.bucket, Key=target.prefix + "pkg/a/killed.bin")
        client.upload_part(
            Bucket=target.bucket, Key=target.prefix + "pkg/a/killed.bin", UploadId=upload["UploadId"],
            PartNumber=1, Body=b"half",
        )  # fmt: skip
    assert physical(client, storage) == ["(unfinished) pkg/a/killed.bin"]

    assert storage.cleanup_partials(timedelta(hours=1)) == 0  # too recent: may still be running
    assert storage.cleanup_partials(timedelta(0), prefix="pkg/b/") == 0
    assert storage.cleanup_partials(timedelta(0), prefix="pkg/a/") == 1

    assert physical(client, storage) == []
    assert physical(client, other) == ["(unfinished) pkg/a/killed.bin"]  # another prefix is not ours
    assert other.cleanup_partials(timedelta(0)) == 1


def test_keys_longer_than_s3_allows_are_a_clear_error(bucket: tuple[str, str], tmp_path: Path) -> None:
    storage = make_storage(bucket, prefix="p")
    (tmp_path / "x").write_bytes(b"x")

    with pytest.raises(StorageError, match="1024"):
        storage.put("/".join(["世" * 80] * 5), tmp_path / "x", sha256_hex(b"x"))  # 1,204 bytes of UTF-8
    with pytest.raises(StorageError, match="UTF-8"):
        storage.put(os.fsdecode(b"caf\xe9.txt"), tmp_path / "x", sha256_hex(b"x"))
    assert list(storage.list()) == []


# --- errors at open time --------------------------------------------------------------------


def test_missing_bucket_is_reported_at_open(bucket: tuple[str, str]) -> None:
    with pytest.raises(StorageError) as raised:
        S3Storage("no-such-bucket-" + uuid.uuid4().hex[:8], endpoint_url=bucket[0], region="us-east-1")

    assert "does not exist" in str(raised.value)
    assert "no-such-bucket-" in str(raised.value) and bucket[0] in str(raised.value)


def test_wrong_credentials_are_reported_at_open(bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")

    with pytest.raises(StorageError) as raised:
        make_storage(bucket, max_attempts=1)

    assert "credentials" in str(raised.value)
    assert bucket[1] in str(raised.value) and "AWS_ACCESS_KEY_ID" in str(raised.value)


def test_missing_credentials_are_reported_at_open(
    bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(StorageError, match="no AWS credentials"):
        make_storage(bucket, max_attempts=1)


def test_dead_endpoint_is_reported_at_open(bucket: tuple[str, str]) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there

    with pytest.raises(StorageError) as raised:
        S3Storage(bucket[1], endpoint_url=f"http://127.0.0.1:{port}", max_attempts=2, connect_timeout=1)

    assert f"127.0.0.1:{port}" in str(raised.value)
    assert "endpoint_url" in str(raised.value)


# --- the registry -----------------------------------------------------------------------------


def test_open_storage_makes_an_s3_backend(bucket: tuple[str, str]) -> None:
    backend = open_storage(
        "s3", {"bucket": bucket[1], "endpoint_url": bucket[0], "prefix": "reg/", "part_size": 6 * MIB}
    )

    assert isinstance(backend, GuardedStorage)  # behind the hold guard, with the backend inside
    assert isinstance(backend.inner, S3Storage)
    assert (backend.prefix, backend.part_size) == ("reg/", 6 * MIB)
    assert "s3" in storage_kinds()


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({}, "bucket"),
        ({"bucket": ""}, "bucket"),
        ({"bucket": "b", "buckett": "x"}, "buckett"),
        ({"bucket": "b", "secret_key": "x"}, "do not belong"),
        ({"bucket": "b", "aws_access_key_id": "x"}, "AWS_ACCESS_KEY_ID"),
        ({"bucket": "b", "addressing": "sideways"}, "addressing"),
        ({"bucket": "b", "part_size": 1024}, "part_size"),
        ({"bucket": "b", "max_attempts": "3"}, "max_attempts"),
        ({"bucket": "b", "endpoint_url": 9000}, "endpoint_url"),
    ],
)
def test_open_storage_bad_s3_options(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        open_storage("s3", options)


# --- a whole archive on S3 ----------------------------------------------------------------------


def test_an_archive_on_s3_works_unchanged(home: Home, bucket: tuple[str, str], client: Any, tmp_path: Path) -> None:
    endpoint, name = bucket
    prefix = f"archive-{uuid.uuid4().hex[:8]}"
    config = home.path / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    table = f'[storage]\nkind = "s3"\nbucket = "{name}"\nprefix = "{prefix}"\nendpoint_url = "{endpoint}"\n'
    text, count = re.subn(r"\[storage\]\n(?:[^\[]*\n)?(?=\[)", table + "\n", text, count=1)
    assert count == 1
    config.write_text(text, encoding="utf-8")
    shutil.rmtree(home.path / "storage", ignore_errors=True)

    package = home.ingest(EXAMPLE_TRANSFER)["package"]
    assert isinstance(package, str)
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=name, Prefix=prefix + "/")["Contents"]]
    assert f"{prefix}/ocfl/0=ocfl_1.1" in keys
    assert any(key.endswith("/v1/inventory.json") for key in keys)
    assert not (home.path / "storage").exists()  # nothing went to the local disk

    for mode in ((), ("--fast",)):  # a full read, and the server's own checksums
        home.ok("verify", "--all", *mode)
    home.ok("update", package, "--metadata", str(_metadata_change(tmp_path)), "--reason", "Catalogued")
    for version in ("1", "2"):
        out = tmp_path / f"export-v{version}"
        home.ok("export", package, str(out), "--version", version)
        _assert_valid_bag(out)
    home.ok("rebuild")
    home.ok("journal", "verify")
    home.ok("verify", "--all")
    stored = physical(client, S3Storage(name, endpoint_url=endpoint, prefix=prefix))
    assert sum(key.endswith("/v2/inventory.json") for key in stored) == 1
    assert not [key for key in stored if key.startswith("(unfinished)")]


def _metadata_change(tmp_path: Path) -> Path:
    path = tmp_path / "metadata.csv"
    path.write_text("filename,dc.title\nobjects,Changed on S3\n", encoding="utf-8")
    return path


def _assert_valid_bag(out: Path) -> None:
    import bagit

    (bag_dir,) = list(out.iterdir())
    bag = bagit.Bag(str(bag_dir))
    bag.validate()
    assert bag.is_valid()
