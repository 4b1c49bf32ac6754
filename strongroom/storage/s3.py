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
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.manifests import hash_stream, sha256_file
from strongroom.storage.base import ObjectInfo, PutResult
from strongroom.storage.keys import check_key, check_sha256, key_problem

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000
MAX_KEY_BYTES = 1024
_READ_CHUNK = MIB
_SHA256 = re.compile(r"[0-9a-f]{64}")
_META_SHA256 = "sha256"  # sent as x-amz-meta-sha256
_ABSENT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_BAD_DIGEST_CODES = frozenset(
    {"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest", "XAmzContentSHA256Mismatch"}
)
_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken", "InvalidToken"}
)


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
        clean_prefix = prefix.strip("/")
        if clean_prefix:
            check_key(clean_prefix)
        self.bucket = bucket
        self.prefix = clean_prefix + "/" if clean_prefix else ""
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        config = Config(
            region_name=region,
            s3={"addressing_style": addressing},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=32,  # the package store puts a bag's files from a thread pool
        )
        session = boto3.session.Session()
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._check_bucket()

    def __repr__(self) -> str:
        return f"S3Storage({self.location!r})"

    @property
    def location(self) -> str:
        where = self.endpoint_url or "AWS S3"
        return f"s3://{self.bucket}/{self.prefix} at {where}"

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
        except _service_errors() as err:
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
                    yield item["Key"][len(self.prefix) :]
        except _service_errors() as err:
            raise self._failure("list", prefix or "the storage root", err) from err

    def delete(self, key: str) -> None:
        # S3 deletes are idempotent; the protocol reports a missing object, so look first.
        self._head(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._s3_key(key))
        except _service_errors() as err:
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
                for upload in page.get("Uploads", ()):
                    if not upload["Key"].startswith(start) or upload["Initiated"] > cutoff:
                        continue
                    try:
                        self._client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                    except _service_errors() as err:
                        if _code(err) != "NoSuchUpload":  # finished or aborted meanwhile
                            raise
                    removed += 1
        except _service_errors() as err:
            raise self._failure("clean up", prefix or "the storage root", err) from err
        return removed

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
        except _service_errors() as err:
            if _code(err) in _BAD_DIGEST_CODES:
                raise self._source_mismatch(key, source, expected, "the server refused the upload") from None
            raise self._failure("store", key, err) from err
        head = self._head(key, checksums=True)
        stored = _hex(head.get("ChecksumSHA256") or "")
        if stored is None:
            # A server that keeps no checksum: check the hard way.
            stored = self._read_back(key)
        self._require_stored(key, s3_key, stored, expected)

    def _put_multipart(self, key: str, s3_key: str, src: BinaryIO, source: Path, expected: str) -> None:
        try:
            upload = self._client.create_multipart_upload(
                Bucket=self.bucket, Key=s3_key, ChecksumAlgorithm="SHA256", Metadata={_META_SHA256: expected}
            )
        except _service_errors() as err:
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
            except _service_errors() as err:
                raise self._failure("store", key, err) from err
            completed = True
        finally:
            if not completed:
                self._abort_quietly(s3_key, upload_id)
        stored = self._read_back(key)
        self._require_stored(key, s3_key, stored, expected)

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
            except _service_errors() as err:
                if _code(err) in _BAD_DIGEST_CODES:
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

    def _abort_quietly(self, s3_key: str, upload_id: str) -> None:
        # Already failing with a better error; cleanup_partials() aborts it later if this fails too.
        with contextlib.suppress(Exception):
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=s3_key, UploadId=upload_id)

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
        except _service_errors() as err:
            raise self._failure("read", key, err) from err
        return head

    def _check_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except _service_errors() as err:
            code = _code(err)
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(
                    f"The S3 bucket {self.bucket!r} does not exist at {self.endpoint_url or 'AWS S3'}. Create it, "
                    "or correct the [storage] bucket (and endpoint_url) in strongroom.toml."
                ) from None
            raise self._failure("open", "the bucket", err) from err

    def _failure(self, action: str, key: str, err: BaseException) -> StorageError:
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import (
            ConnectTimeoutError as BotoConnectTimeout,
        )
        from botocore.exceptions import (
            ReadTimeoutError as BotoReadTimeout,
        )

        where = self.location
        if isinstance(err, StorageError):
            return err
        code = _code(err)
        if code in _ABSENT_CODES:
            return NotFound(f"There is no object {key!r} in {where}.")
        if isinstance(err, NoCredentialsError | PartialCredentialsError):
            return StorageError(
                f"Could not {action} {key!r} in {where}: no AWS credentials were found. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a shared credentials file, or run with an instance role."
            )
        if code in _CREDENTIAL_CODES:
            return StorageError(
                f"Could not {action} {key!r} in {where}: the server refused the credentials ({code}). Check "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile) and that they may use this bucket."
            )
        if code in ("NoSuchBucket",):
            return StorageError(f"Could not {action} {key!r}: the bucket of {where} no longer exists.")
        if isinstance(err, BotoConnectTimeout | BotoReadTimeout):
            return StorageError(
                f"Could not {action} {key!r} in {where}: the server did not answer in time, even after retries. "
                "Check that it is up and reachable, or raise the [storage] timeouts."
            )
        if isinstance(err, ConnectionError):
            return StorageError(
                f"Could not {action} {key!r} in {where}: cannot connect to the endpoint ({err}). Check that the "
                "server is running and that [storage] endpoint_url is right."
            )
        if isinstance(err, ClientError):
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = err.response.get("Error", {}).get("Message", "") or code
            if isinstance(status, int) and status >= 500:
                return StorageError(
                    f"Could not {action} {key!r} in {where}: the server kept failing ({status} {code}) after "
                    "retries. Try again later, and check the server's health."
                )
            return StorageError(f"Could not {action} {key!r} in {where}: {message} ({code}).")
        if isinstance(err, OSError):
            return StorageError(f"Could not {action} {key!r} in {where}: {err.strerror or err}.")
        return StorageError(f"Could not {action} {key!r} in {where}: {err}.")


def _service_errors() -> tuple[type[BaseException], ...]:
    """What the S3 client raises for a failed request: translated into StorageError; anything else is a bug
    and keeps its traceback. (Evaluated only when an exception is being matched, so botocore stays lazy.)"""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


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
        except _service_errors() as err:
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


def _code(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
