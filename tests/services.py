"""Real servers for tests, started on 127.0.0.1 through scripts/services.sh.

    url = postgresql_url()                      # starts the server once per process
    with fresh_postgresql_database() as url:    # a database of one's own, dropped afterwards
        ...
    with fresh_s3_bucket() as (endpoint, bucket):   # S3 (MinIO): a bucket of one's own, deleted afterwards
        ...

A server that cannot be started is a test error, never a silent skip: only
STRONGROOM_SKIP_SERVICES=1 skips the tests that need one (say so in the reason).
A server already running elsewhere can be named with STRONGROOM_TEST_POSTGRESQL_URL
(or STRONGROOM_TEST_S3_ENDPOINT with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVICES_SCRIPT = REPO / "scripts" / "services.sh"
_EXPORT = re.compile(r"^export ([A-Z0-9_]+)=(.*)$")


def skip_services_requested() -> bool:
    return os.environ.get("STRONGROOM_SKIP_SERVICES") == "1"


@functools.cache
def start_service(service: str) -> dict[str, str]:
    """Run `scripts/services.sh start <service>` (once per process) and return the variables it exports."""
    try:
        result = subprocess.run(
            ["bash", str(SERVICES_SCRIPT), "start", service],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"scripts/services.sh start {service} did not finish in {exc.timeout} s") from exc
    if result.returncode != 0:
        raise RuntimeError(
            f"scripts/services.sh start {service} failed (exit {result.returncode}); "
            f"set STRONGROOM_SKIP_SERVICES=1 to skip the tests that need it.\n{result.stderr}{result.stdout}"
        )
    exports = {}
    for line in result.stdout.splitlines():
        match = _EXPORT.match(line.strip())
        if match:
            exports[match.group(1)] = match.group(2).strip("'\"")
    return exports


def postgresql_url() -> str:
    """The URL of the test database on the test PostgreSQL server, starting the server if needed."""
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need PostgreSQL are skipped")
    given = os.environ.get("STRONGROOM_TEST_POSTGRESQL_URL")
    if given:
        return given
    exports = start_service("postgresql")
    if "STRONGROOM_TEST_POSTGRESQL_URL" not in exports:
        raise RuntimeError(f"scripts/services.sh start postgresql printed no STRONGROOM_TEST_POSTGRESQL_URL: {exports}")
    return exports["STRONGROOM_TEST_POSTGRESQL_URL"]


def _with_database(url: str, database: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


@contextmanager
def fresh_postgresql_database(prefix: str = "strongroom_t") -> Iterator[str]:
    """Create a database with a unique name (so tests may run in parallel), yield its URL, then drop it."""
    import psycopg

    base = postgresql_url()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = _with_database(base, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(base, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def s3_endpoint() -> str:
    """The URL of the test S3 server (MinIO), starting it if needed; sets its test credentials in os.environ.

    The credentials go into the environment because the S3 backend takes them only from the AWS chain.
    A server already running elsewhere can be named with STRONGROOM_TEST_S3_ENDPOINT (and AWS_* set).
    """
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need S3 (MinIO) are skipped")
    given = os.environ.get("STRONGROOM_TEST_S3_ENDPOINT")
    if given:
        return given
    exports = start_service("s3")
    if "STRONGROOM_TEST_S3_ENDPOINT" not in exports:
        raise RuntimeError(f"scripts/services.sh start s3 printed no STRONGROOM_TEST_S3_ENDPOINT: {exports}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = exports[name]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return exports["STRONGROOM_TEST_S3_ENDPOINT"]


def s3_client(endpoint: str) -> Any:
    """A plain boto3 client for the test server, for setting up and inspecting buckets directly."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(s3={"addressing_style": "path"})
    )


def empty_bucket(client: Any, bucket: str) -> None:
    """Delete every object and abort every unfinished upload in `bucket`."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", ()):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


@contextmanager
def fresh_s3_bucket(prefix: str = "strongroom-t") -> Iterator[tuple[str, str]]:
    """Create a bucket with a unique lowercase name, yield (endpoint, bucket), then empty and delete it."""
    endpoint = s3_endpoint()
    client = s3_client(endpoint)
    bucket = f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:12]}".lower()
    client.create_bucket(Bucket=bucket)
    try:
        yield endpoint, bucket
    finally:
        empty_bucket(client, bucket)
        client.delete_bucket(Bucket=bucket)
