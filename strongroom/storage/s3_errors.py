"""How S3Storage words a failed request: the error a person can act on, naming the location and the fix.

Moved out of s3.py so that module keeps to the storage protocol. Everything here is pure: it reads
the location's settings through `S3Place` and the botocore exception, and makes no request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from strongroom.errors import NotFound, StorageError

ABSENT_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "ExpiredToken", "InvalidToken"}
)
NO_BUCKET_CODES = frozenset({"404", "NoSuchBucket", "NotFound"})
WRONG_REGION_CODES = frozenset(
    {"AuthorizationHeaderMalformed", "PermanentRedirect", "301", "IllegalLocationConstraintException"}
)
CREDENTIAL_SOURCES = (
    "S3 credentials come only from the standard AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
    "AWS_SESSION_TOKEN) in the environment, AWS_PROFILE with ~/.aws/credentials, or an instance role; never from "
    "strongroom.toml."
)


class S3Place(Protocol):
    """What the messages say about a location (S3Storage has all of it)."""

    bucket: str
    endpoint_url: str | None
    max_attempts: int
    connect_timeout: float
    read_timeout: float

    @property
    def location(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    def _key_id_text(self) -> str: ...


def bucket_problem(s: S3Place, err: BaseException, action: str) -> StorageError:
    """What went wrong with the bucket or endpoint as a whole, in words for the person adding the location."""
    from botocore.exceptions import (
        ConnectionError,
        ConnectTimeoutError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
        SSLError,
    )

    if isinstance(err, StorageError):
        return err
    code = code_of(err)
    url = s.endpoint
    tries = f"{s.max_attempts} attempt{'s' if s.max_attempts != 1 else ''}"
    check_url = "Check the endpoint URL (--endpoint-url, endpoint_url in the configuration) and that the server runs"
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return StorageError(
            f"Could not {action} {s.location}: no AWS credentials were found (or only part of them). "
            + CREDENTIAL_SOURCES
        )
    if isinstance(err, SSLError):
        return StorageError(f"Cannot reach the S3 endpoint {url}: the TLS handshake failed ({err}). {check_url}.")
    if isinstance(err, ConnectTimeoutError):
        return StorageError(
            f"Cannot reach the S3 endpoint {url}: it did not accept a connection within {s.connect_timeout:g} s "
            f"({tries}). {check_url} and is reachable from this machine (firewall, proxy, VPN)."
        )
    if isinstance(err, ReadTimeoutError):
        return StorageError(
            f"Cannot reach the S3 endpoint {url}: it accepted the connection but did not answer within "
            f"{s.read_timeout:g} s ({tries}). Check that the URL points at an S3 server and that it is not "
            "overloaded."
        )
    if isinstance(err, ConnectionError):
        return StorageError(f"Cannot reach the S3 endpoint {url}: {connection_reason(err)}. {check_url}.")
    if isinstance(err, HTTPClientError):
        return StorageError(
            f"Cannot reach the S3 endpoint {url}: the connection broke without an answer ({tries}). {check_url}, "
            "and that the URL's scheme (http or https) is the one the server speaks."
        )
    if code in NO_BUCKET_CODES:
        return StorageError(
            f"The S3 bucket {s.bucket!r} does not exist at {url}. Create it first (for example: aws s3 mb "
            f"s3://{s.bucket} --endpoint-url {url}, or in the provider's console), or correct the bucket name."
        )
    if code == "InvalidAccessKeyId":
        return StorageError(
            f"The S3 server refused the credentials for {s.location}: it does not know the "
            f"{s._key_id_text()} (InvalidAccessKeyId). Check AWS_ACCESS_KEY_ID or the AWS profile. "
            + CREDENTIAL_SOURCES
        )
    if code == "SignatureDoesNotMatch":
        return StorageError(
            f"The S3 server refused the credentials for {s.location}: the secret access key does not match the "
            f"{s._key_id_text()} (SignatureDoesNotMatch). Check AWS_SECRET_ACCESS_KEY or the AWS profile. "
            + CREDENTIAL_SOURCES
        )
    if code in ("ExpiredToken", "TokenRefreshRequired", "InvalidToken"):
        return StorageError(
            f"The S3 server refused the credentials for {s.location}: the session token is expired or invalid "
            f"({code}). Get fresh temporary credentials. {CREDENTIAL_SOURCES}"
        )
    if code in ("AccessDenied", "403", "AllAccessDisabled"):
        return StorageError(
            f"The S3 server at {url} refused the credentials ({s._key_id_text()}) access to bucket "
            f"{s.bucket!r} ({code}): they may not {action} it. Strongroom needs s3:ListBucket, s3:GetObject, "
            f"s3:PutObject and s3:DeleteObject there. {CREDENTIAL_SOURCES}"
        )
    if code in WRONG_REGION_CODES:
        return StorageError(
            f"The S3 bucket {s.bucket!r} at {url} is in another region than the one requested ({code}). "
            "Give its region with --region (region in the configuration)."
        )
    return failure(s, action, "", err, target=s.location)


def failure(s: S3Place, action: str, key: str, err: BaseException, *, target: str | None = None) -> StorageError:
    """A failed request on `key` (or on `target`, said as it is) as a StorageError that names the location."""
    from botocore.exceptions import (
        ClientError,
        ConnectionError,
        ConnectTimeoutError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    if isinstance(err, StorageError):
        return err
    where = s.location
    what = f"{action} {target}" if target is not None else f"{action} {key!r} in {where}"
    tries = f"{s.max_attempts} attempt{'s' if s.max_attempts != 1 else ''}"
    code = code_of(err)
    if code in ABSENT_CODES and target is None:
        return NotFound(f"There is no object {key!r} in {where}.")
    if isinstance(err, NoCredentialsError | PartialCredentialsError):
        return StorageError(f"Could not {what}: no AWS credentials were found. {CREDENTIAL_SOURCES}")
    if code in CREDENTIAL_CODES:
        return StorageError(
            f"Could not {what}: the server refused the credentials ({code}). Check AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY (or the AWS profile) and that they may use this bucket."
        )
    if code == "NoSuchBucket":
        return StorageError(f"Could not {what}: the bucket {s.bucket!r} no longer exists at {s.endpoint}.")
    if isinstance(err, ConnectTimeoutError | ReadTimeoutError):
        return StorageError(
            f"Could not {what}: the server did not answer in time ({tries}, {s.connect_timeout:g} s to "
            f"connect, {s.read_timeout:g} s to answer). Check that it is up and reachable, or raise the "
            "location's timeouts."
        )
    if isinstance(err, ConnectionError):
        return StorageError(
            f"Could not {what}: cannot connect to the S3 endpoint {s.endpoint} ({connection_reason(err)}; "
            f"{tries}). Check that the server is running and that the endpoint URL (endpoint_url) is right."
        )
    if isinstance(err, HTTPClientError):
        return StorageError(
            f"Could not {what}: the connection to {s.endpoint} kept breaking ({tries}; {err}). Check the "
            "server and the network between, then try again."
        )
    if isinstance(err, ClientError):
        metadata = err.response.get("ResponseMetadata", {})
        status = metadata.get("HTTPStatusCode", 0)
        message = err.response.get("Error", {}).get("Message", "") or code
        if isinstance(status, int) and status >= 500:
            made = int(metadata.get("RetryAttempts", s.max_attempts - 1)) + 1
            return StorageError(
                f"Could not {what}: the server kept failing ({status} {code}) for {made} attempt"
                f"{'s' if made != 1 else ''}, with back-off between them. Try again later, and check the "
                "server's health."
            )
        return StorageError(f"Could not {what}: {message} ({code}).")
    if isinstance(err, OSError):
        return StorageError(f"Could not {what}: {err.strerror or err}.")
    return StorageError(f"Could not {what}: {err}.")


def service_errors() -> tuple[type[BaseException], ...]:
    """What the S3 client raises for a failed request: translated into StorageError; anything else is a bug
    and keeps its traceback. (Evaluated only when an exception is being matched, so botocore stays lazy.)"""
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, OSError)


def connection_reason(err: BaseException) -> str:
    """Why a connection failed, in a few words rather than urllib3's nested reprs."""
    text = str(getattr(err, "kwargs", {}).get("error", "")) or str(err)
    if "refused" in text.lower():
        return "nothing is listening there (connection refused)"
    if any(clue in text for clue in ("Name or service not known", "nodename nor servname", "getaddrinfo failed")):
        return "its host name does not resolve"
    if "unreachable" in text.lower():
        return "the network cannot reach it"
    return f"the connection failed ({text})"


def code_of(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""
