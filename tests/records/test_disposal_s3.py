"""Disposal with an S3 location on an Object Lock bucket (the real MinIO): every object version goes, delete
markers included, while a held package's versions stay under their legal hold."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.commit import object_id
from strongroom.records.model import DisposalAction
from tests.conftest import Home
from tests.records.test_disposal import (
    Setup,
    assign,
    load_schedule,
    proposed_and_approved,
    token_transfer,
    update_metadata,
)
from tests.services import s3_client, s3_endpoint

LOCATION = "vault"


def versions_under(client: Any, bucket: str, prefix: str) -> list[tuple[str, str, bool]]:
    """(key, version id, is a delete marker) of everything stored under `prefix`, every version."""
    found = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        found += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", ())]
        found += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", ())]
    return found


@pytest.fixture
def lock_bucket() -> Iterator[tuple[str, str, Any]]:
    """A bucket with S3 Object Lock (so versioned) of this test's own; emptied (legal holds lifted) after."""
    endpoint = s3_endpoint()
    client = s3_client(endpoint)
    bucket = f"strongroom-disp-{os.getpid()}-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    try:
        yield endpoint, bucket, client
    finally:
        for key, version, marker in versions_under(client, bucket, ""):
            if not marker:
                client.put_object_legal_hold(Bucket=bucket, Key=key, VersionId=version, LegalHold={"Status": "OFF"})
            client.delete_object(Bucket=bucket, Key=key, VersionId=version)
        client.delete_bucket(Bucket=bucket)


def test_disposal_erases_every_version_in_an_object_lock_bucket(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lock_bucket: tuple[str, str, Any]
) -> None:
    endpoint, bucket, client = lock_bucket
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")
    token = "qz" + uuid.uuid4().hex[:14]
    doomed = str(home.ingest(token_transfer(tmp_path, token, "alpha"))["package"])
    held = str(home.ingest(token_transfer(tmp_path, "kept" + uuid.uuid4().hex[:8], "beta"))["package"])
    prefix = f"copies-{uuid.uuid4().hex[:8]}"
    home.ok("location", "add", LOCATION, "--s3", bucket, "--endpoint-url", endpoint, "--prefix", prefix,
            "--object-lock")  # fmt: skip
    home.ok("replicate")
    update_metadata(home, doomed, tmp_path, "alpha")  # version 2 overwrites the root inventory: an old version
    with home.archive() as archive:
        load_schedule(archive, "LG-1", DisposalAction.DESTROY)
        assign(archive, doomed, "LG-1")
        assign(archive, held, "LG-1")
        root = archive.ocfl.object_root(object_id(doomed))
        held_root = archive.ocfl.object_root(object_id(held))
    s3_root, s3_held = f"{prefix}/{root}", f"{prefix}/{held_root}"
    stored = versions_under(client, bucket, s3_root)
    assert len({key for key, _, _ in stored}) < len(stored)  # noncurrent versions exist: the test means something
    assert any(token in key for key, _, _ in stored)
    batch = proposed_and_approved(Setup(home, tmp_path / "unused", token, doomed, held))
    home.ok("hold", "place", held, "--type", "litigation", "--reason", "Claim 42")

    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed" and done["destroyed"] == [doomed]
    assert [s["package"] for s in done["skipped"]] == [held]
    assert versions_under(client, bucket, s3_root) == []  # no version, no delete marker
    for key, version, marker in versions_under(client, bucket, prefix + "/"):
        if marker or "/journal/" in f"/{key}":
            continue
        body = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
        assert token.encode() not in body and token not in key
    kept = versions_under(client, bucket, s3_held)
    assert kept and not any(marker for _, _, marker in kept)
    for key, version, _ in kept:  # the held package keeps every version, under S3's legal hold
        hold = client.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version)
        assert hold["LegalHold"]["Status"] == "ON"
    home.ok("verify", held)


def test_a_purge_leaves_no_note_of_a_multipart_upload_in_a_versioned_bucket(
    tmp_path: Path, lock_bucket: tuple[str, str, Any]
) -> None:
    """A file larger than a part goes up in parts, noted in the ledger (`.strongroom-uploads/`) while it runs; the
    note names the object's key (its file name). In a versioned bucket a plain delete of the note leaves it as a
    noncurrent version: after disposal the file name would still be stored there."""
    from strongroom.storage import open_storage
    from strongroom.storage.ocfl_purge import purge_object

    endpoint, bucket, client = lock_bucket
    token = "qz" + uuid.uuid4().hex[:14]
    prefix = f"copies-{uuid.uuid4().hex[:8]}"
    storage = open_storage("s3", {"bucket": bucket, "endpoint_url": endpoint, "prefix": prefix,
                                  "part_size": 5 * 1024 * 1024})  # fmt: skip
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (6 * 1024 * 1024))
    from strongroom.manifests import sha256_file

    root = "ab/cd/object-1/"
    storage.put(f"{root}v1/content/data/objects/letter-{token}.bin", big, sha256_file(big))
    assert any(token in key for key, _, _ in versions_under(client, bucket, prefix + "/"))  # the test means something
    purge_object(storage, root)
    for key, version, marker in versions_under(client, bucket, prefix + "/"):
        assert token not in key
        if not marker:
            body = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
            assert token.encode() not in body, f"{key} (version {version}) still names the purged file"
