"""Every version of every object under a prefix: erased for good, or put under an S3 legal hold.

A versioned bucket (every Object Lock bucket is one) keeps a deleted object's bytes as a
noncurrent version behind a delete marker, so a plain delete destroys nothing; disposal
removes each version and delete marker by its VersionId. A legal hold is set per version,
which is how S3 Object Lock stops any client (ours included) from removing it.

These functions take a boto3 client and full S3 keys; `S3Storage` maps its own keys onto them
and words the botocore errors they let through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from strongroom.errors import StorageError
from strongroom.storage.s3_errors import service_errors

# DeleteObjects takes at most 1000 keys per request.
DELETE_BATCH = 1000
# How many leftovers an error message names before it only counts the rest.
_NAMED = 5


@dataclass(frozen=True)
class StoredVersion:
    key: str
    version_id: str
    delete_marker: bool


def versions(client: Any, bucket: str, s3_prefix: str) -> Iterator[StoredVersion]:
    """Every object version and delete marker whose key starts with `s3_prefix`."""
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=s3_prefix):
        for item in page.get("Versions", ()):
            if item["Key"].startswith(s3_prefix):
                yield StoredVersion(item["Key"], str(item.get("VersionId") or "null"), False)
        for item in page.get("DeleteMarkers", ()):
            if item["Key"].startswith(s3_prefix):
                yield StoredVersion(item["Key"], str(item.get("VersionId") or "null"), True)


def erase_prefix(client: Any, bucket: str, s3_prefix: str) -> int:
    """Delete every version and delete marker under `s3_prefix` by VersionId; how many were removed.

    Then list again: anything still there (kept by a retention period or a legal hold, or refused
    for lack of s3:DeleteObjectVersion) raises StorageError naming the key and what keeps it.
    """
    found = list(versions(client, bucket, s3_prefix))
    refusals: dict[tuple[str, str], str] = {}
    removed = 0
    for start in range(0, len(found), DELETE_BATCH):
        chunk = found[start : start + DELETE_BATCH]
        answer = client.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": v.key, "VersionId": v.version_id} for v in chunk], "Quiet": True},
        )
        errors = answer.get("Errors", ())
        for error in errors:
            refusals[(str(error.get("Key")), str(error.get("VersionId") or "null"))] = (
                f"{error.get('Message') or 'refused'} ({error.get('Code') or 'no code'})"
            )
        removed += len(chunk) - len(errors)
    left = list(versions(client, bucket, s3_prefix))
    if left:
        named = [_why_kept(client, bucket, v, refusals.get((v.key, v.version_id))) for v in left[:_NAMED]]
        more = f" and {len(left) - _NAMED} more" if len(left) > _NAMED else ""
        raise StorageError(
            f"{len(left)} object version(s) under {s3_prefix!r} in bucket {bucket!r} could not be erased: "
            f"{'; '.join(named)}{more}.",
            details=[
                "A legal hold is released with `strongroom hold release` (or by whoever placed it outside Strongroom).",
                "A retention period in compliance mode cannot be shortened: the versions go when it ends; run the "
                "disposal again then.",
                "Otherwise the credentials need s3:DeleteObjectVersion on this bucket.",
            ],
        )
    return removed


def set_legal_hold(client: Any, bucket: str, s3_prefix: str, on: bool) -> int:
    """Turn the legal hold ON (or OFF) on every object version under `s3_prefix`; how many versions.

    Delete markers carry no data and take no legal hold, so they are skipped.
    """
    status = "ON" if on else "OFF"
    count = 0
    for version in versions(client, bucket, s3_prefix):
        if version.delete_marker:
            continue
        client.put_object_legal_hold(
            Bucket=bucket, Key=version.key, VersionId=version.version_id, LegalHold={"Status": status}
        )
        count += 1
    return count


def _why_kept(client: Any, bucket: str, version: StoredVersion, refusal: str | None) -> str:
    """`key` (version V): what keeps it, as far as S3 tells."""
    what = f"{version.key!r} ({'delete marker' if version.delete_marker else 'version'} {version.version_id})"
    locks: list[str] = []
    if not version.delete_marker:
        try:
            head = client.head_object(Bucket=bucket, Key=version.key, VersionId=version.version_id)
        except service_errors():  # only to say more in a message; the refusal itself is reported anyway
            head = {}
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            locks.append("a legal hold")
        if head.get("ObjectLockMode"):
            until = head.get("ObjectLockRetainUntilDate")
            locks.append(f"{head['ObjectLockMode'].lower()} retention" + (f" until {until:%Y-%m-%d}" if until else ""))
    reason = ", ".join(locks) or "no lock reported"
    return f"{what}: {reason}" + (f"; S3 said: {refusal}" if refusal else "")
