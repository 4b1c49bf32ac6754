"""A StorageBackend that keeps objects in an S3 bucket (AWS or any S3-compatible server), under a prefix.

Each key becomes `<prefix>/<key>` in the bucket, so an OCFL storage root can live in a bucket
beside other data. S3 makes an object visible only once its upload is complete, so every put
is atomic without temporary names; what an interrupted write can leave behind is an unfinished
multipart upload, which `cleanup_partials` aborts.

Verification. Small files (up to `part_size`) go up in one PUT carrying `ChecksumSHA256`: the
server computes the SHA-256 of the bytes it received and refuses the object unless it matches,
so a corrupt upload never becomes visible; a HEAD then confirms the stored full-object checksum.
That replaces a read-back (one GET per object, which would dominate ingest of many small files)
with the server's own check of the same bytes. Larger files go up as a multipart upload with a
SHA-256 per part; the upload is completed only when the whole file hashed to the expected digest,
and the finished object is then read back in full, as the filesystem backend does, because S3's
multipart checksum is a checksum of part checksums, not of the object. Every object also carries
its full SHA-256 in `x-amz-meta-sha256`, which `sha256_of` reports where the server has no
full-object checksum of its own. One difference from the filesystem remains: a multipart overwrite
that reads back wrong is removed, taking the previous version with it, since S3 has no rename
to check a copy before it replaces the old one (a corrupt single PUT never replaces anything).

Credentials come only from the standard AWS chain (environment, shared credentials file, instance
role), never from Strongroom's configuration.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

from strongroom.errors import IntegrityError, StorageError
from strongroom.manifests import hash_stream, sha256_file
from strongroom.storage import s3_versions
from strongroom.storage.base import ObjectInfo, PutResult
from strongroom.storage.keys import check_key, check_sha256, key_problem
from strongroom.storage.s3_errors import bucket_problem, code_of, failure, service_errors

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000
MAX_KEY_BYTES = 1024
_READ_CHUNK = MIB
_SHA256 = re.compile(r"[0-9a-f]{64}")
_META_SHA256 = "sha256"  # sent as x-amz-meta-sha256
# Notes of multipart uploads in progress, beside the stored keys (never a valid storage key: it starts with ".").
LEDGER = ".strongroom-uploads/"
_BAD_DIGEST_CODES = frozenset(
    {"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest", "XAmzContentSHA256Mismatch"}
)
_NO_LOCK_CODES = frozenset(
    # No configuration; a server without Object Lock at all (some S3-compatible servers) has none either.
    {"ObjectLockConfigurationNotFoundError", "NotImplemented", "501"}
)
# For `location add`: short timeouts and two attempts, so a dead or silent endpoint is reported in seconds.
# Worst case per request: 2 attempts x (3 s connect + 4 s read) + at most 1 s of back-off = 15 s.
CHECK_CONNECT_TIMEOUT = 3.0
CHECK_READ_TIMEOUT = 4.0
CHECK_MAX_ATTEMPTS = 2
# The same, as storage options (for open_storage and a location's options).
CHECK_OPTIONS: Mapping[str, float] = MappingProxyType(
    {"connect_timeout": CHECK_CONNECT_TIMEOUT, "read_timeout": CHECK_READ_TIMEOUT, "max_attempts": CHECK_MAX_ATTEMPTS}
)
PROBE_NAME = ".strongroom-probe-"


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def _hex(b64_digest: str) -> str | None:
    try:
        raw = base64.b64decode(b64_digest, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


class S3Storage:
    """Objects in `bucket` under `prefix`; see the module docstring for the write protocol.

    Opening checks the bucket with a HEAD request, so a wrong endpoint, bucket or credentials
    are reported at once rather than in the middle of an ingest.
    """

    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing: str = "path",
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 5,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StorageError(
                "S3 storage needs the boto3 package. Install it with: pip install 'strongroom[s3]'."
            ) from None
        if not bucket:
            raise StorageError("S3 storage needs a bucket name.")
        if addressing not in ("path", "virtual"):
            raise StorageError(f"The S3 addressing style must be 'path' or 'virtual', not {addressing!r}.")
        if part_size < MIN_PART_SIZE:
            raise StorageError(f"The S3 part size must be at least {MIN_PART_SIZE} bytes (5 MiB), not {part_size}.")
        if max_attempts < 1 or connect_timeout <= 0 or read_timeout <= 0:
            raise StorageError(
                f"S3 storage needs at least one attempt and timeouts above zero, not max_attempts={max_attempts}, "
                f"connect_timeout={connect_timeout}, read_timeout={read_timeout}."
            )
        clean_prefix = prefix.strip("/")
        if clean_prefix:
            check_key(clean_prefix)
        self.bucket = bucket
        self.prefix = clean_prefix + "/" if clean_prefix else ""
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        config = Config(
            region_name=region,
            s3={"addressing_style": addressing},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # "standard": 5xx answers, throttling, timeouts and broken connections are retried with
            # jittered exponential back-off, up to max_attempts tries in all (botocore's own "max_attempts"
            # would count the retries only, one fewer).
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=32,  # the package store puts a bag's files from a thread pool
        )
        self._session: Any = boto3.session.Session()
        try:
            self._client: Any = self._session.client("s3", endpoint_url=endpoint_url, config=config)
        except ValueError as err:  # botocore's word for a malformed endpoint URL
            raise StorageError(
                f"The S3 endpoint URL {endpoint_url!r} is not valid ({err}). Give a full URL such as "
                "https://s3.example.org or http://127.0.0.1:9000."
            ) from None
        self._check_bucket()

    @classmethod
    def for_check(
        cls,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing: str = "path",
    ) -> S3Storage:
        """Open a location with short timeouts and two attempts, to check it before it is recorded.

        `S3Storage.for_check(...).check_location()` reports a dead or silent endpoint within about 15 s
        instead of after minutes of retries; the location is then used with its configured timeouts.
        """
        return cls(
            bucket,
            prefix=prefix,
            endpoint_url=endpoint_url,
            region=region,
            addressing=addressing,
            connect_timeout=CHECK_CONNECT_TIMEOUT,
            read_timeout=CHECK_READ_TIMEOUT,
            max_attempts=CHECK_MAX_ATTEMPTS,
        )

    def __repr__(self) -> str:
        return f"S3Storage({self.location!r})"

    @property
    def location(self) -> str:
        where = self.endpoint_url or "AWS S3"
        return f"s3://{self.bucket}/{self.prefix} at {where}"

    @property
    def endpoint(self) -> str:
        """The URL requests go to: the configured endpoint, or the AWS one the client chose."""
        return str(self.endpoint_url or self._client.meta.endpoint_url)

    # --- checks for `location add` --------------------------------------------------------

    def check_location(self, *, write_probe: bool = True) -> None:
        """Check that the endpoint answers, the bucket exists and the credentials may use it; raise StorageError
        with a message that names the problem otherwise.

        With `write_probe`, also store a tiny object under the prefix (`<prefix>/.strongroom-probe-<uuid>`),
        read it back and delete it, so credentials that may only read are found now, not at the first ingest.
        Open the storage with `for_check()` so that a dead endpoint is reported in seconds.
        """
        self._check_bucket()
        if write_probe:
            self._write_probe()

    def object_lock_enabled(self) -> bool:
        """True when the bucket has S3 Object Lock enabled (it can only be turned on when a bucket is created)."""
        try:
            answer = self._client.get_object_lock_configuration(Bucket=self.bucket)
        except service_errors() as err:
            if code_of(err) in _NO_LOCK_CODES:
                return False
            raise self._bucket_problem(err, "read the Object Lock configuration of") from err
        return bool(answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled")

    # --- the StorageBackend protocol ------------------------------------------------------

    def put(self, key: str, source: Path, sha256: str) -> PutResult:
        s3_key = self._s3_key(key)
        expected = check_sha256(key, sha256)
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as err:
            raise StorageError(f"Cannot read {source} to store it as {key!r}: {err.strerror or err}.") from err
        try:
            size = _file_size(src, source)
            if size <= self.part_size:
                self._put_single(key, s3_key, src, source, size, expected)
            else:
                self._put_multipart(key, s3_key, src, source, expected)
        finally:
            src.close()
        return PutResult(key=key, size=size, sha256=expected)

    def open(self, key: str) -> BinaryIO:
        s3_key = self._s3_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=s3_key)
        except service_errors() as err:
            raise self._failure("read", key, err) from err
        return io.BufferedReader(_Body(response["Body"], self, key), buffer_size=_READ_CHUNK)

    def stat(self, key: str) -> ObjectInfo:
        head = self._head(key)
        modified = head["LastModified"]
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=UTC)
        return ObjectInfo(key=key, size=int(head["ContentLength"]), modified=modified)

    def list(self, prefix: str = "") -> Iterator[str]:
        folder_key, slash, _start = prefix.rpartition("/")
        if slash and key_problem(folder_key) is not None:
            return  # no valid key can start with this prefix (and servers refuse some such prefixes)
        try:
            prefix.encode("utf-8")
        except UnicodeEncodeError:
            return  # only UTF-8 keys are ever stored
        # S3 lists keys in UTF-8 byte order, which is code point order: the same as sorted().
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix) :]
                    if not key.startswith(LEDGER):  # notes of uploads in progress, not stored objects
                        yield key
        except service_errors() as err:
            raise self._failure("list", prefix or "the storage root", err) from err

    def delete(self, key: str) -> None:
        # S3 deletes are idempotent; the protocol reports a missing object, so look first.
        self._head(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._s3_key(key))
        except service_errors() as err:
            raise self._failure("delete", key, err) from err

    # --- optional capabilities ------------------------------------------------------------

    def sha256_of(self, key: str) -> str:
        """The object's SHA-256 without reading it: the server's full-object checksum, else our metadata."""
        head = self._head(key, checksums=True)
        server = head.get("ChecksumSHA256")
        if server and "-" not in server and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            digest = _hex(server)
            if digest:
                return digest
        recorded = head.get("Metadata", {}).get(_META_SHA256, "")
        if _SHA256.fullmatch(recorded):
            return str(recorded)
        # Written by another tool: no digest kept anywhere, so compute it.
        return self._read_back(key)

    def erase_prefix(self, prefix: str) -> int:
        """Erase every version and delete marker under `prefix`, and abort its unfinished uploads; how many
        versions and markers went. StorageError naming the key when a retention period or legal hold keeps one."""
        s3_prefix = self._s3_prefix(prefix)
        self.cleanup_partials(timedelta(0), prefix)  # the parts of an unfinished upload are bytes too
        try:
            return s3_versions.erase_prefix(self._client, self.bucket, s3_prefix)
        except service_errors() as err:
            raise self._failure("erase", prefix, err) from err

    def set_legal_hold(self, prefix: str, on: bool) -> int:
        """Turn the S3 legal hold on (or off) for every version under `prefix`; how many versions."""
        s3_prefix = self._s3_prefix(prefix)
        try:
            return s3_versions.set_legal_hold(self._client, self.bucket, s3_prefix, on)
        except service_errors() as err:
            raise self._failure(f"turn the legal hold {'on' if on else 'off'} for", prefix, err) from err

    def _s3_prefix(self, prefix: str) -> str:
        if not prefix.strip("/"):
            raise StorageError("Give a prefix: erasing or holding the whole location at once is refused.")
        check_key(prefix.rstrip("/"))
        return self.prefix + prefix

    def cleanup_partials(self, older_than: timedelta, prefix: str = "") -> int:
        """Abort multipart uploads under `prefix` started more than `older_than` ago; returns how many.

        Uploads are listed for the whole bucket and filtered here: MinIO lists by prefix only
        for an exact object name, and a bucket rarely holds many unfinished uploads.
        """
        if prefix:
            check_key(prefix.rstrip("/"))
        start = self.prefix + prefix
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        try:
            paginator = self._client.get_paginator("list_multipart_uploads")
            for page in paginator.paginate(Bucket=self.bucket):
                removed += self._abort_old(page.get("Uploads", ()), start, cutoff)
            # The ledger names uploads a bucket-wide listing may not show (see _open_ledger_entry).
            for entry, s3_key in list(self._ledger_keys(older_than)):
                if not s3_key.startswith(start):
                    continue
                for page in paginator.paginate(Bucket=self.bucket, Prefix=s3_key):
                    uploads = [u for u in page.get("Uploads", ()) if u["Key"] == s3_key]
                    removed += self._abort_old(uploads, start, cutoff)
                self._forget_ledger_entry(entry)
        except service_errors() as err:
            raise self._failure("clean up", prefix or "the storage root", err) from err
        return removed

    def _abort_old(self, uploads: Iterable[dict[str, Any]], start: str, cutoff: datetime) -> int:
        aborted = 0
        for upload in uploads:
            if not upload["Key"].startswith(start) or upload["Initiated"] > cutoff:
                continue
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            except service_errors() as err:
                if code_of(err) != "NoSuchUpload":  # finished or aborted meanwhile
                    raise
            aborted += 1
        return aborted

    # --- writing --------------------------------------------------------------------------

    def _put_single(self, key: str, s3_key: str, src: BinaryIO, source: Path, size: int, expected: str) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=s3_key,
                Body=src,
                ContentLength=size,
                ChecksumSHA256=_b64(expected),
                Metadata={_META_SHA256: expected},
            )
        except service_errors() as err:
            if code_of(err) in _BAD_DIGEST_CODES:
                raise self._source_mismatch(key, source, expected, "the server refused the upload") from None
            raise self._failure("store", key, err) from err
        head = self._head(key, checksums=True)
        stored = _hex(head.get("ChecksumSHA256") or "")
        if stored is None:
            # A server that keeps no checksum: check the hard way.
            stored = self._read_back(key)
        self._require_stored(key, s3_key, stored, expected)

    def _put_multipart(self, key: str, s3_key: str, src: BinaryIO, source: Path, expected: str) -> None:
        ledger = self._open_ledger_entry(key, s3_key)
        try:
            upload = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=s3_key, ChecksumAlgorithm="SHA256", Metadata={_META_SHA256: expected}
            )
        except service_errors() as err:
            raise self._failure("store", key, err) from err
        upload_id = upload["UploadId"]
        completed = False
        try:
            parts, copied = self._upload_parts(key, s3_key, upload_id, src, source)
            if copied != expected:
                raise IntegrityError(
                    f"{source} does not match the SHA-256 given for {key!r}: expected {expected}, read {copied} "
                    "while uploading. Nothing was stored; the file may have changed since it was checksummed."
                )
            try:
                self._client.complete_multipart_upload(
                    Bucket=self.bucket, Key=s3_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            except service_errors() as err:
                raise self._failure("store", key, err) from err
            completed = True
        finally:
            # Completed or aborted, nothing of the upload is left unfinished: its ledger note goes. An upload
            # that could not be aborted (the server is gone) keeps its note for the sweep.
            if completed or self._abort_quietly(s3_key, upload_id):
                with contextlib.suppress(Exception):
                    self._forget_ledger_entry(ledger)
        stored = self._read_back(key)
        self._require_stored(key, s3_key, stored, expected)

    def _open_ledger_entry(self, key: str, s3_key: str) -> str:
        """Note a multipart upload about to start, so a sweep can find it if the writer is killed.

        Some servers (MinIO after a restart) list unfinished uploads only when asked for their exact
        object name, so listing the bucket's uploads is not enough to find orphans; the ledger names
        them. The entry is removed once the upload completes or is aborted.
        """
        entry = f"{self.prefix}{LEDGER}{uuid.uuid4().hex}"
        try:
            self._client.put_object(Bucket=self.bucket, Key=entry, Body=s3_key.encode("utf-8"))
        except service_errors() as err:
            raise self._failure("store", key, err) from err
        return entry

    def _forget_ledger_entry(self, entry: str) -> None:
        """Remove a ledger note, every version of it: it names an object's key (a file name), and in a versioned
        bucket a plain delete would keep it as a noncurrent version after that object is erased for good."""
        stored = [v for v in s3_versions.versions(self._client, self.bucket, entry) if v.key == entry]
        for version in stored:
            self._client.delete_object(Bucket=self.bucket, Key=entry, VersionId=version.version_id)
        if not stored:  # not listed (a server without version listings): the plain delete is all there is
            self._client.delete_object(Bucket=self.bucket, Key=entry)

    def _ledger_keys(self, older_than: timedelta) -> Iterator[tuple[str, str]]:
        """(ledger entry, object key) of uploads noted more than `older_than` ago."""
        cutoff = datetime.now(UTC) - older_than
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + LEDGER):
            for item in page.get("Contents", ()):
                if item["LastModified"] > cutoff:
                    continue  # an upload that may still be running
                body = self._client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                try:
                    yield item["Key"], body.read(4096).decode("utf-8")
                finally:
                    body.close()

    def _upload_parts(
        self, key: str, s3_key: str, upload_id: str, src: BinaryIO, source: Path
    ) -> tuple[builtins.list[dict[str, object]], str]:
        whole = hashlib.sha256()
        parts: builtins.list[dict[str, object]] = []
        number = 0
        while True:
            try:
                data = src.read(self.part_size)  # one part in memory at a time
            except OSError as err:
                raise StorageError(f"Cannot read {source}: {err.strerror or err}.") from err
            if not data and number:
                return parts, whole.hexdigest()
            number += 1
            if number > MAX_PARTS:
                raise StorageError(
                    f"{source} is too large for S3 with a part size of {self.part_size} bytes ({MAX_PARTS} parts at "
                    "most). Raise the [storage] part_size option."
                )
            whole.update(data)
            part_b64 = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
            try:
                answer = self._client.upload_part(
                    Bucket=self.bucket,
                    Key=s3_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumSHA256=part_b64,
                )
            except service_errors() as err:
                if code_of(err) in _BAD_DIGEST_CODES:
                    raise IntegrityError(
                        f"Part {number} of {key!r} was damaged on its way to {self.location}: the server refused it. "
                        "Nothing was stored; check the network and store the file again."
                    ) from None
                raise self._failure("store", key, err) from err
            parts.append({"ETag": answer["ETag"], "PartNumber": number, "ChecksumSHA256": part_b64})
            if not data:
                return parts, whole.hexdigest()  # an empty file: one empty part

    def _require_stored(self, key: str, s3_key: str, stored: str, expected: str) -> None:
        """Remove an object whose stored bytes are not the ones sent, and say so."""
        if stored != expected:
            self._remove_quietly(s3_key)
            raise IntegrityError(
                f"The copy of {key!r} stored in {self.location} reads back wrong: expected SHA-256 {expected}, "
                f"found {stored}. It was removed; check the S3 server's health and store the file again."
            )

    def _read_back(self, key: str) -> str:
        with self.open(key) as stream:
            return hash_stream(stream)[0]

    def _source_mismatch(self, key: str, source: Path, expected: str, how: str) -> IntegrityError:
        try:
            found = sha256_file(source)
        except OSError as err:
            found = f"unreadable ({err.strerror or err})"
        return IntegrityError(
            f"{source} does not match the SHA-256 given for {key!r}: expected {expected}, read {found} ({how}). "
            "Nothing was stored; the file may have changed since it was checksummed."
        )

    def _abort_quietly(self, s3_key: str, upload_id: str) -> bool:
        # Already failing with a better error; cleanup_partials() aborts it later if this fails too.
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)
        except Exception:
            return False
        return True

    def _remove_quietly(self, s3_key: str) -> None:
        with contextlib.suppress(Exception):
            self._client.delete_object(Bucket=self.bucket, Key=s3_key)

    # --- helpers --------------------------------------------------------------------------

    def _s3_key(self, key: str) -> str:
        check_key(key)
        full = self.prefix + key
        try:
            encoded = full.encode("utf-8")
        except UnicodeEncodeError:
            raise StorageError(
                f"Invalid storage key {key!r} for S3: it contains bytes that are not UTF-8 (a file name from "
                "a non-UTF-8 disk), and S3 keys must be UTF-8. Rename the file and ingest it again."
            ) from None
        if len(encoded) > MAX_KEY_BYTES:
            raise StorageError(
                f"Invalid storage key {key!r} for S3: with the prefix {self.prefix!r} it is {len(encoded)} bytes "
                f"of UTF-8, and S3 keys hold at most {MAX_KEY_BYTES}. Shorten the names or the prefix."
            )
        return full

    def _head(self, key: str, *, checksums: bool = False) -> dict[str, Any]:
        s3_key = self._s3_key(key)
        extra = {"ChecksumMode": "ENABLED"} if checksums else {}
        try:
            head: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=s3_key, **extra)
        except service_errors() as err:
            raise self._failure("read", key, err) from err
        return head

    def _check_bucket(self) -> None:
        # A one-key listing rather than HEAD: it needs the same permission (s3:ListBucket, which a policy may
        # limit to our prefix), and unlike HEAD its answer carries an error code, so a wrong key id, a wrong
        # secret and a missing bucket can be told apart.
        try:
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except service_errors() as err:
            raise self._bucket_problem(err, "list") from err

    def _write_probe(self) -> None:
        s3_key = f"{self.prefix}{PROBE_NAME}{uuid.uuid4().hex}"
        data = f"Strongroom checks that it may write here; this object is deleted at once ({s3_key}).\n".encode()
        digest = hashlib.sha256(data).hexdigest()
        grant = (
            f"Strongroom needs s3:PutObject, s3:GetObject, s3:DeleteObject and s3:ListBucket on bucket "
            f"{self.bucket!r} (under the prefix {self.prefix!r})."
        )
        try:
            answer = self._client.put_object(Bucket=self.bucket, Key=s3_key, Body=data, ChecksumSHA256=_b64(digest))
        except service_errors() as err:
            if code_of(err) in ("AccessDenied", "403"):
                raise StorageError(
                    f"The credentials ({self._key_id_text()}) may read {self.location} but not write to it: storing "
                    f"a test object was refused (AccessDenied). {grant}"
                ) from err
            raise self._bucket_problem(err, "write a test object to") from err
        version = answer.get("VersionId")
        try:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=s3_key)
                with contextlib.closing(response["Body"]) as body:
                    back = body.read()
            except service_errors() as err:
                if code_of(err) in ("AccessDenied", "403"):
                    raise StorageError(
                        f"The credentials ({self._key_id_text()}) may write to {self.location} but not read from "
                        f"it: reading back a test object was refused (AccessDenied). {grant}"
                    ) from err
                raise self._bucket_problem(err, "read back a test object from") from err
            if back != data:
                raise IntegrityError(
                    f"{self.location} returned different bytes for a test object than were stored "
                    f"({len(back)} bytes instead of {len(data)}). Check the S3 server, or any proxy in front of it."
                )
        finally:
            self._delete_probe(s3_key, version, grant)

    def _delete_probe(self, s3_key: str, version: str | None, grant: str) -> None:
        try:
            if version and version != "null":
                # In a versioned bucket, removing the version itself leaves nothing behind, unless Object Lock
                # keeps it (a default retention): then a plain delete at least hides it behind a delete marker.
                try:
                    self._client.delete_object(Bucket=self.bucket, Key=s3_key, VersionId=version)
                    return
                except service_errors() as err:
                    if code_of(err) not in ("AccessDenied", "403", "InvalidRequest"):
                        raise
            self._client.delete_object(Bucket=self.bucket, Key=s3_key)
        except service_errors() as err:
            if code_of(err) in ("AccessDenied", "403"):
                raise StorageError(
                    f"The credentials ({self._key_id_text()}) may write to {self.location} but not delete: removing "
                    f"the test object {s3_key!r} was refused (AccessDenied); remove it by hand. Strongroom deletes "
                    f"to abort failed uploads and replace damaged copies. {grant}"
                ) from err
            raise self._bucket_problem(err, "delete a test object from") from err

    def _key_id_text(self) -> str:
        with contextlib.suppress(Exception):  # only for a message: never fail over it
            credentials = self._session.get_credentials()
            if credentials is not None and credentials.access_key:
                return f"access key id {credentials.access_key}"
        return "no access key id"

    def _bucket_problem(self, err: BaseException, action: str) -> StorageError:
        return bucket_problem(self, err, action)

    def _failure(self, action: str, key: str, err: BaseException, *, target: str | None = None) -> StorageError:
        return failure(self, action, key, err, target=target)


class _Body(io.RawIOBase):
    """A GetObject body as a raw stream: read(n) works through BufferedReader, close() frees the connection."""

    def __init__(self, body: Any, storage: S3Storage, key: str) -> None:
        self._body = body
        self._storage = storage
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._body.read(len(view))
        except service_errors() as err:
            raise self._storage._failure("read", self._key, err) from err
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def _file_size(src: BinaryIO, source: Path) -> int:
    try:
        return os.fstat(src.fileno()).st_size
    except OSError as err:
        raise StorageError(f"Cannot read {source}: {err.strerror or err}.") from err
