"""S3Storage under faults, against the real MinIO: bad input at `location add` time, 5xx answers and timeouts
(injected by tests/faultproxy.py in front of the real server, since MinIO cannot produce them on demand), and a
private server killed and restarted in the middle of the work.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import StorageError
from strongroom.storage.s3 import CHECK_CONNECT_TIMEOUT, CHECK_MAX_ATTEMPTS, CHECK_READ_TIMEOUT, PROBE_NAME, S3Storage
from tests.contracts.storage_contract import MIB, sha256_hex
from tests.faultproxy import DELAY, DROP, INTERNAL_ERROR, SLOW_DOWN, FaultProxy, part_uploads
from tests.services import fresh_s3_bucket, private_s3_server, s3_client
from tests.storage.test_s3 import physical, random_file, read_sha256


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[str, str]]:
    with fresh_s3_bucket("strongroom-f") as made:
        yield made


@pytest.fixture
def client(bucket: tuple[str, str]) -> Any:
    return s3_client(bucket[0])


@pytest.fixture
def proxy(bucket: tuple[str, str]) -> Iterator[FaultProxy]:
    with FaultProxy(bucket[0]) as running:
        yield running


def storage_at(endpoint: str, bucket: str, **options: Any) -> S3Storage:
    options.setdefault("prefix", f"t-{uuid.uuid4().hex[:12]}")
    return S3Storage(bucket, endpoint_url=endpoint, region="us-east-1", **options)


def small_file(tmp_path: Path, data: bytes = b"kept safe") -> tuple[Path, str]:
    path = tmp_path / f"f-{uuid.uuid4().hex[:8]}"
    path.write_bytes(data)
    return path, sha256_hex(data)


# --- checks at `location add` time ---------------------------------------------------------------------------------


def test_check_location_writes_reads_and_deletes_a_probe(
    bucket: tuple[str, str], proxy: FaultProxy, client: Any
) -> None:
    storage = S3Storage.for_check(bucket[1], prefix="checked/", endpoint_url=proxy.endpoint, region="us-east-1")

    storage.check_location()

    probes = [(seen.method, seen.path.split("?")[0]) for seen in proxy.seen if PROBE_NAME in seen.path]
    assert [method for method, _ in probes] == ["PUT", "GET", "DELETE"]
    assert probes[0][1].startswith(f"/{bucket[1]}/checked/{PROBE_NAME}")
    assert physical(client, storage) == []  # the probe is gone
    before = len(proxy.seen)
    storage.check_location(write_probe=False)
    assert [seen.method for seen in proxy.seen[before:]] == ["GET"]  # one listing, no probe


def test_check_timeouts_bound_a_check_to_about_15_seconds(bucket: tuple[str, str]) -> None:
    storage = S3Storage.for_check(bucket[1], endpoint_url=bucket[0], region="us-east-1")
    config = storage._client.meta.config

    assert (config.connect_timeout, config.read_timeout) == (CHECK_CONNECT_TIMEOUT, CHECK_READ_TIMEOUT)
    assert config.retries == {"mode": "standard", "total_max_attempts": CHECK_MAX_ATTEMPTS}
    # Every attempt may use both timeouts; botocore's back-off before the n-th retry is at most 2**(n-1) s.
    backoff = sum(2 ** (n - 1) for n in range(1, CHECK_MAX_ATTEMPTS))
    assert CHECK_MAX_ATTEMPTS * (CHECK_CONNECT_TIMEOUT + CHECK_READ_TIMEOUT) + backoff <= 15


def test_endpoint_where_nothing_listens_is_reported_quickly(bucket: tuple[str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: connections are refused

    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        S3Storage.for_check(bucket[1], endpoint_url=f"http://127.0.0.1:{port}").check_location()

    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert message.startswith(f"Cannot reach the S3 endpoint http://127.0.0.1:{port}: nothing is listening there")
    assert "(connection refused)" in message and "--endpoint-url" in message


def test_endpoint_that_never_accepts_is_reported_as_a_connect_timeout(bucket: tuple[str, str]) -> None:
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(0)
        port = black_hole.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):  # fills the accept queue: later SYNs go unanswered
            started = time.monotonic()
            with pytest.raises(StorageError) as raised:
                S3Storage(bucket[1], endpoint_url=f"http://127.0.0.1:{port}", connect_timeout=1, max_attempts=2)
            elapsed = time.monotonic() - started

    assert 2 <= elapsed < 8  # two attempts of 1 s each, plus at most 1 s of back-off
    assert str(raised.value).startswith(f"Cannot reach the S3 endpoint http://127.0.0.1:{port}: it did not accept")


def test_endpoint_that_accepts_but_never_answers_is_reported_within_15_seconds(bucket: tuple[str, str]) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel accepts connections; nobody ever reads or answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StorageError) as raised:
            S3Storage.for_check(bucket[1], endpoint_url=f"http://127.0.0.1:{port}").check_location()
        elapsed = time.monotonic() - started

    assert CHECK_MAX_ATTEMPTS * CHECK_READ_TIMEOUT <= elapsed < 15
    message = str(raised.value)
    assert message.startswith(f"Cannot reach the S3 endpoint http://127.0.0.1:{port}: it accepted the connection")
    assert f"within {CHECK_READ_TIMEOUT:g} s" in message


def test_malformed_endpoint_url_is_a_clear_error(bucket: tuple[str, str]) -> None:
    with pytest.raises(StorageError, match="endpoint URL 'localhost:9000' is not valid"):
        S3Storage(bucket[1], endpoint_url="localhost:9000")


def test_missing_bucket_says_how_to_create_it(bucket: tuple[str, str]) -> None:
    name = "no-such-bucket-" + uuid.uuid4().hex[:8]

    with pytest.raises(StorageError) as raised:
        S3Storage.for_check(name, endpoint_url=bucket[0], region="us-east-1").check_location()

    message = str(raised.value)
    assert f"The S3 bucket {name!r} does not exist at {bucket[0]}" in message
    assert f"aws s3 mb s3://{name} --endpoint-url {bucket[0]}" in message


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("AWS_ACCESS_KEY_ID", "NOSUCHKEYID", "it does not know the access key id NOSUCHKEYID (InvalidAccessKeyId)"),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret", "the secret access key does not match the access key id"),
    ],
)
def test_refused_credentials_say_which_and_where_they_come_from(
    bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(StorageError) as raised:
        S3Storage.for_check(bucket[1], endpoint_url=bucket[0], region="us-east-1").check_location()

    message = str(raised.value)
    assert "refused the credentials" in message and complaint in message
    assert bucket[1] in message and "AWS_ACCESS_KEY_ID" in message and "never from strongroom.toml" in message


def test_missing_credentials_say_where_they_come_from(
    bucket: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(StorageError) as raised:
        S3Storage.for_check(bucket[1], endpoint_url=bucket[0], region="us-east-1").check_location()

    message = str(raised.value)
    assert "no AWS credentials were found" in message and bucket[1] in message
    assert "AWS_PROFILE" in message and "never from strongroom.toml" in message


def limited_credentials(endpoint: str, bucket: str, actions: list[str]) -> dict[str, str]:
    """Temporary credentials allowed only `actions` on `bucket`: MinIO's STS AssumeRole with a session policy
    (the test's way to a restricted user without MinIO's admin client)."""
    import boto3

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
        ],
    }
    sts = boto3.session.Session().client("sts", endpoint_url=endpoint, region_name="us-east-1")
    answer = sts.assume_role(
        RoleArn="arn:minio:iam:::role/strongroom-test", RoleSessionName="strongroom-test", Policy=json.dumps(policy)
    )
    made = answer["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": made["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": made["SecretAccessKey"],
        "AWS_SESSION_TOKEN": made["SessionToken"],
    }


def test_read_only_credentials_fail_the_write_probe(
    bucket: tuple[str, str], client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = limited_credentials(bucket[0], bucket[1], ["s3:ListBucket", "s3:GetObject"])
    for name, value in limited.items():
        monkeypatch.setenv(name, value)
    storage = S3Storage.for_check(bucket[1], prefix="ro", endpoint_url=bucket[0], region="us-east-1")
    storage.check_location(write_probe=False)  # listing is allowed

    with pytest.raises(StorageError) as raised:
        storage.check_location()

    message = str(raised.value)
    assert f"may read s3://{bucket[1]}/ro/ at {bucket[0]} but not write to it" in message
    assert "AccessDenied" in message and "s3:PutObject" in message
    assert f"access key id {limited['AWS_ACCESS_KEY_ID']}" in message
    assert physical(client, storage) == []


def test_credentials_that_cannot_delete_fail_the_write_probe(
    bucket: tuple[str, str], client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = limited_credentials(bucket[0], bucket[1], ["s3:ListBucket", "s3:GetObject", "s3:PutObject"])
    for name, value in limited.items():
        monkeypatch.setenv(name, value)
    storage = S3Storage.for_check(bucket[1], prefix="nodelete", endpoint_url=bucket[0], region="us-east-1")

    with pytest.raises(StorageError) as raised:
        storage.check_location()

    assert "may write to" in str(raised.value) and "but not delete" in str(raised.value)
    (left,) = physical(client, storage)  # the message asks to remove it by hand, and names it
    assert left.startswith(PROBE_NAME) and f"{storage.prefix}{left}" in str(raised.value)
    client.delete_object(Bucket=bucket[1], Key=storage.prefix + left)


def test_object_lock_is_detected(bucket: tuple[str, str], client: Any) -> None:
    locked = f"strongroom-lock-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True)
    try:
        # A default retention: the probe's version cannot be deleted, only hidden behind a delete marker.
        client.put_object_lock_configuration(
            Bucket=locked,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
            },
        )
        storage = S3Storage.for_check(locked, prefix="p", endpoint_url=bucket[0], region="us-east-1")

        assert storage.object_lock_enabled() is True
        storage.check_location()
        assert physical(client, storage) == []  # no current object is left, however many versions are kept
        assert storage_at(bucket[0], bucket[1]).object_lock_enabled() is False
    finally:
        versions = client.list_object_versions(Bucket=locked)
        for item in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
            client.delete_object(
                Bucket=locked, Key=item["Key"], VersionId=item["VersionId"], BypassGovernanceRetention=True
            )
        client.delete_bucket(Bucket=locked)


# --- retries with back-off, against faults injected in front of the real server -----------------------------------


def test_a_few_5xx_answers_are_retried_until_they_succeed(
    bucket: tuple[str, str], proxy: FaultProxy, tmp_path: Path
) -> None:
    storage = storage_at(proxy.endpoint, bucket[1], max_attempts=3)
    source, digest = small_file(tmp_path)
    object_path = f"/{bucket[1]}/{storage.prefix}a.txt"

    def to_the_object(method: str) -> Any:
        return lambda m, p: m == method and p.split("?")[0] == object_path

    proxy.inject(SLOW_DOWN, times=2, match=to_the_object("PUT"))
    storage.put("a.txt", source, digest)
    proxy.inject(INTERNAL_ERROR, times=2, match=to_the_object("GET"))
    assert read_sha256(storage, "a.txt") == digest

    for method, fault in (("PUT", SLOW_DOWN), ("GET", INTERNAL_ERROR)):
        faults = [seen.fault for seen in proxy.requests(to_the_object(method))]
        assert faults == [fault, fault, None]  # two answered with an error, the third forwarded


def test_a_server_that_keeps_failing_gives_a_clear_error_and_no_orphan_upload(
    bucket: tuple[str, str], proxy: FaultProxy, client: Any, tmp_path: Path
) -> None:
    storage = storage_at(proxy.endpoint, bucket[1], max_attempts=3, part_size=5 * MIB)
    source = tmp_path / "big.bin"
    digest = random_file(source, 6 * MIB)  # two parts
    proxy.inject(INTERNAL_ERROR, times=None, match=part_uploads)

    with pytest.raises(StorageError) as raised:
        storage.put("big.bin", source, digest)

    message = str(raised.value)
    assert f"s3://{bucket[1]}/{storage.prefix} at {proxy.endpoint}" in message
    assert "the server kept failing (500 InternalError) for 3 attempts" in message
    assert [seen.fault for seen in proxy.requests(part_uploads)] == [INTERNAL_ERROR] * 3
    assert [seen.method for seen in proxy.seen if "uploadId=" in seen.path][-1] == "DELETE"  # aborted
    assert physical(client, storage) == []  # asked of the real server: no object, no unfinished upload

    proxy.clear()
    proxy.inject(SLOW_DOWN, times=None)
    with pytest.raises(StorageError, match=r"kept failing \(503 SlowDown\) for 3 attempts"):
        storage.put("small.txt", *small_file(tmp_path))


def test_a_server_that_does_not_answer_in_time_is_given_up_on(
    bucket: tuple[str, str], proxy: FaultProxy, tmp_path: Path
) -> None:
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    storage_at(bucket[0], bucket[1], prefix=prefix).put("slow.txt", *small_file(tmp_path))
    slow = storage_at(proxy.endpoint, bucket[1], prefix=prefix, read_timeout=1, max_attempts=2)
    proxy.inject(DELAY, times=None, delay=30, match=lambda method, path: method == "GET")

    started = time.monotonic()
    with pytest.raises(StorageError) as raised:
        slow.open("slow.txt")
    elapsed = time.monotonic() - started

    assert 2 <= elapsed < 10  # two attempts of 1 s each, plus at most 1 s of back-off
    assert [seen.fault for seen in proxy.requests(lambda method, path: path.endswith("/slow.txt"))] == [DELAY] * 2
    message = str(raised.value)
    assert f"'slow.txt' in s3://{bucket[1]}/{prefix}/ at {proxy.endpoint}" in message
    assert "the server did not answer in time (2 attempts" in message


def test_dropped_connections_are_retried_then_reported(
    bucket: tuple[str, str], proxy: FaultProxy, tmp_path: Path
) -> None:
    storage = storage_at(proxy.endpoint, bucket[1], max_attempts=3)
    source, digest = small_file(tmp_path)

    def puts(method: str, path: str) -> bool:
        return method == "PUT"

    proxy.inject(DROP, times=2, match=puts)
    storage.put("dropped.txt", source, digest)
    assert [seen.fault for seen in proxy.requests(puts)] == [DROP, DROP, None]
    assert read_sha256(storage, "dropped.txt") == digest

    proxy.inject(DROP, times=None, match=puts)
    with pytest.raises(StorageError) as raised:
        storage.put("never.txt", source, digest)
    assert f"the connection to {proxy.endpoint} kept breaking (3 attempts" in str(raised.value)
    assert storage.location in str(raised.value)


# --- a server that goes away and comes back --------------------------------------------------------------------------


def test_a_killed_server_is_reported_and_its_objects_survive_a_restart(tmp_path: Path) -> None:
    with private_s3_server() as server:
        bucket = server.make_bucket()
        storage = storage_at(server.endpoint, bucket, max_attempts=2, connect_timeout=1)
        data = b"still here after the crash"
        storage.put("kept.txt", *small_file(tmp_path, data))

        server.stop()  # SIGKILL
        with pytest.raises(StorageError) as raised:
            storage.stat("kept.txt")
        assert storage.location in str(raised.value)
        assert f"cannot connect to the S3 endpoint {server.endpoint} (nothing is listening" in str(raised.value)

        server.start()
        assert read_sha256(storage, "kept.txt") == hashlib.sha256(data).hexdigest()
        server.stop(graceful=True)
        assert not server.running
