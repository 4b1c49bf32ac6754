"""Real servers for tests, started on 127.0.0.1 through scripts/services.sh.

    url = postgresql_url()                      # starts the server once per process
    with fresh_postgresql_database() as url:    # a database of one's own, dropped afterwards
        ...
    with fresh_s3_bucket() as (endpoint, bucket):   # S3 (MinIO): a bucket of one's own, deleted afterwards
        ...
    with private_s3_server() as server:         # a MinIO of one's own, which the test may stop() and start()
        ...
    socket = clamd_socket()                     # clamd with the tests' own signatures (CLAMD_TEST_*)
    with private_clamd(stream_max="1M") as socket:  # a clamd of one's own, with a low size limit
        ...
    url = elasticsearch_url()                   # Elasticsearch 8.19 (integ-test build), http://127.0.0.1:PORT
    url = opensearch_url()                      # OpenSearch 3.6
    url = rabbitmq_url()                        # RabbitMQ (Celery runner's broker), amqp://user:pw@127.0.0.1:PORT/vhost
    with fresh_rabbitmq_vhost() as url:         # a vhost of one's own (queues apart from other tests), deleted after

A server that cannot be started is a test error, never a silent skip: only
STRONGROOM_SKIP_SERVICES=1 skips the tests that need one (say so in the reason).
A server already running elsewhere can be named with STRONGROOM_TEST_POSTGRESQL_URL
(or STRONGROOM_TEST_S3_ENDPOINT with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or
STRONGROOM_TEST_ELASTICSEARCH_URL / STRONGROOM_TEST_OPENSEARCH_URL, or STRONGROOM_TEST_RABBITMQ_URL).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
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
def start_service(service: str, **env: str) -> dict[str, str]:
    """Run `scripts/services.sh start <service>` (once per process and `env`) and return the variables it exports.

    `env` adds variables for the script (e.g. STRONGROOM_CLAMAV_DB) to the process's own environment.
    """
    return _run_services("start", service, env)


def _run_services(action: str, service: str, env: Mapping[str, str]) -> dict[str, str]:
    try:
        result = subprocess.run(
            ["bash", str(SERVICES_SCRIPT), action, service],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=REPO,
            check=False,
            env={**os.environ, **env},
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"scripts/services.sh {action} {service} did not finish in {exc.timeout} s") from exc
    if result.returncode != 0:
        raise RuntimeError(
            f"scripts/services.sh {action} {service} failed (exit {result.returncode}); "
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


def _search_server_url(service: str, label: str) -> str:
    variable = f"STRONGROOM_TEST_{service.upper()}_URL"
    if skip_services_requested():
        pytest.skip(f"STRONGROOM_SKIP_SERVICES=1: tests that need {label} are skipped")
    given = os.environ.get(variable)
    if given:
        return given
    exports = start_service(service)
    if variable not in exports:
        raise RuntimeError(f"scripts/services.sh start {service} printed no {variable}: {exports}")
    return exports[variable]


def elasticsearch_url() -> str:
    """The URL of the test Elasticsearch node (8.19, integ-test build: core modules only), starting it if needed."""
    return _search_server_url("elasticsearch", "Elasticsearch")


def opensearch_url() -> str:
    """The URL of the test OpenSearch node (3.6), starting it if needed."""
    return _search_server_url("opensearch", "OpenSearch")


def rabbitmq_url() -> str:
    """The AMQP URL (user, password and vhost of the tests' own) of the test RabbitMQ node, starting it if needed."""
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need RabbitMQ are skipped")
    given = os.environ.get("STRONGROOM_TEST_RABBITMQ_URL")
    if given:
        return given
    exports = start_service("rabbitmq")
    if "STRONGROOM_TEST_RABBITMQ_URL" not in exports:
        raise RuntimeError(f"scripts/services.sh start rabbitmq printed no STRONGROOM_TEST_RABBITMQ_URL: {exports}")
    return exports["STRONGROOM_TEST_RABBITMQ_URL"]


@contextmanager
def fresh_rabbitmq_vhost(prefix: str = "strongroom_t") -> Iterator[str]:
    """A vhost with a unique name on the test RabbitMQ (so tests running in parallel never take each other's
    messages from the same queue names); yields its URL, then deletes it with all its queues.

    A broker named by STRONGROOM_TEST_RABBITMQ_URL is used as it is (its vhost cannot be made from here)."""
    base = rabbitmq_url()
    ctl = _services_dir() / "rabbitmq" / "rabbitmqctl"  # written by services.sh, bound to its node
    if os.environ.get("STRONGROOM_TEST_RABBITMQ_URL") or not ctl.exists():
        yield base
        return
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    user = re.sub(r"^amqp://([^:@/]+).*$", r"\1", base)

    def ctl_run(*args: str) -> None:
        subprocess.run([str(ctl), "-q", *args], check=True, capture_output=True, timeout=120)

    ctl_run("add_vhost", name)
    try:
        ctl_run("set_permissions", "-p", name, user, ".*", ".*", ".*")
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        ctl_run("delete_vhost", name)


# --- a private S3 server that a test may stop and start -------------------------------------------------------------

# The same test-only credentials scripts/services.sh gives the shared server, so both work in one process.
S3_TEST_ACCESS_KEY = "strongroom-test"
S3_TEST_SECRET_KEY = "strongroom-test-secret"


@functools.cache
def service_binary(service: str) -> str:
    """The server program of `service` as scripts/services.sh finds (or builds) it: `services.sh binary <service>`."""
    result = subprocess.run(
        ["bash", str(SERVICES_SCRIPT), "binary", service],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(
            f"scripts/services.sh binary {service} failed (exit {result.returncode}); "
            f"set STRONGROOM_SKIP_SERVICES=1 to skip the tests that need it.\n{result.stderr}{result.stdout}"
        )
    return lines[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateS3:
    """A MinIO of one test's own, on a free port of 127.0.0.1, with its own data folder; made by private_s3_server().

    stop() kills it (SIGKILL by default, as a crash; SIGTERM with graceful=True) and start() starts it again on the
    same port and data, returning once it is ready, so a test can take the server away in the middle of something.
    """

    def __init__(self, binary: str, data_dir: Path) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (again) on the same port and data folder, and wait until it is ready."""
        if self.running:
            raise RuntimeError(f"the private S3 server at {self.endpoint} is already running")
        env = {
            **os.environ,
            "MINIO_ROOT_USER": S3_TEST_ACCESS_KEY,
            "MINIO_ROOT_PASSWORD": S3_TEST_SECRET_KEY,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        }
        command = [self.binary, "server", str(self.data_dir), "--address", f"127.0.0.1:{self.port}", "--quiet"]
        setpriv = shutil.which("setpriv")
        if setpriv:
            # Dies with the test process even when that is killed, so no server outlives its test run.
            command = [setpriv, "--pdeathsig", "KILL", "--", *command]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self._ready():
            if not self.running:
                raise RuntimeError(f"the private S3 server did not start; see {self.log}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the private S3 server was not ready in {timeout} s; see {self.log}")
            time.sleep(0.05)

    def stop(self, *, graceful: bool = False) -> None:
        """Kill the server: SIGKILL, as a crash would (SIGTERM with graceful=True); returns once it is gone."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        if graceful:
            process.terminate()
        else:
            process.kill()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def client(self) -> Any:
        return s3_client(self.endpoint)

    def make_bucket(self, name: str | None = None, *, object_lock: bool = False) -> str:
        """Create a bucket (a unique name unless given), with S3 Object Lock if asked; returns its name."""
        bucket = name or f"private-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=object_lock)
        return bucket

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/minio/health/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        except OSError:
            return ""


@contextmanager
def private_s3_server() -> Iterator[PrivateS3]:
    """Start a MinIO of one's own (the binary scripts/services.sh builds or finds), yield it, then kill it and
    remove its data. Its credentials are set in os.environ (as s3_endpoint() does) and restored afterwards."""
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need a private S3 server (MinIO) are skipped")
    binary = service_binary("s3")
    parent = Path(os.environ.get("STRONGROOM_SERVICES_DIR") or REPO / ".services") / "private-s3"
    parent.mkdir(parents=True, exist_ok=True)
    data_dir = parent / f"{os.getpid()}-{uuid.uuid4().hex[:10]}"
    data_dir.mkdir()
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.update(
        AWS_ACCESS_KEY_ID=S3_TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=S3_TEST_SECRET_KEY, AWS_DEFAULT_REGION="us-east-1"
    )
    server = PrivateS3(binary, data_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        server.log.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when no other private server (another worker's) still uses it
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- clamd (ClamAV) with the tests' own signatures ------------------------------------------------------------------

# The official signatures cannot be downloaded here, and EICAR is not built into ClamAV, so the tests write their own
# database: an MD5 signature of one whole file and a byte-pattern signature found anywhere in any file. The marker is
# built from two halves so that no source file of the repository matches it.
CLAMD_TEST_HASH_SAMPLE = b"Strongroom test sample: matched as a whole by an MD5 signature in the tests' database.\n"
CLAMD_TEST_MARKER = b"STRONGROOM-TEST-" + b"MALWARE-MARKER"
# The names as clamd reports them (it appends .UNOFFICIAL to signatures outside the official database).
CLAMD_TEST_HASH_SIGNATURE = "Strongroom.Test.MarkerHash.UNOFFICIAL"
CLAMD_TEST_MARKER_SIGNATURE = "Strongroom.Test.MarkerString.UNOFFICIAL"


def _services_dir() -> Path:
    return Path(os.environ.get("STRONGROOM_SERVICES_DIR") or REPO / ".services")


def clamd_test_database() -> Path:
    """Write the tests' signature folder (always the same place and content, so every test process shares one
    clamd) and return it. Files are replaced atomically and only when their content differs."""
    folder = _services_dir() / "clamd-test-db"
    folder.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5(CLAMD_TEST_HASH_SAMPLE).hexdigest()
    hash_name = CLAMD_TEST_HASH_SIGNATURE.removesuffix(".UNOFFICIAL")
    marker_name = CLAMD_TEST_MARKER_SIGNATURE.removesuffix(".UNOFFICIAL")
    files = {
        "strongroom-test.hdb": f"{md5}:{len(CLAMD_TEST_HASH_SAMPLE)}:{hash_name}\n",
        # name:target type (0 = any file):offset (* = anywhere):hex bytes
        "strongroom-test.ndb": f"{marker_name}:0:*:{CLAMD_TEST_MARKER.hex()}\n",
    }
    for name, content in files.items():
        target = folder / name
        if target.exists() and target.read_text(encoding="ascii") == content:
            continue
        # Written beside the folder, not in it, so clamd never loads a half-written file.
        temporary = folder.parent / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        temporary.write_text(content, encoding="ascii")
        os.replace(temporary, target)
    return folder


def clamd_socket() -> Path:
    """The socket of the test clamd, which loads only the tests' signatures (clamd_test_database()); starts it if
    needed. A clamd started by `services.sh start clamd` with another database is restarted with this one."""
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need clamd (ClamAV) are skipped")
    exports = start_service("clamd", STRONGROOM_CLAMAV_DB=str(clamd_test_database()))
    if "STRONGROOM_CLAMD_SOCKET" not in exports:
        raise RuntimeError(f"scripts/services.sh start clamd printed no STRONGROOM_CLAMD_SOCKET: {exports}")
    return Path(exports["STRONGROOM_CLAMD_SOCKET"])


@contextmanager
def private_clamd(stream_max: str) -> Iterator[Path]:
    """A clamd of one's own (through scripts/services.sh in a services folder of its own) with the tests' signatures
    and StreamMaxLength/MaxFileSize set to `stream_max` (e.g. "1M"); yields its socket, then stops it."""
    if skip_services_requested():
        pytest.skip("STRONGROOM_SKIP_SERVICES=1: tests that need clamd (ClamAV) are skipped")
    folder = _services_dir() / "private-clamd" / f"{os.getpid()}-{uuid.uuid4().hex[:10]}"
    env = {
        "STRONGROOM_SERVICES_DIR": str(folder),
        "STRONGROOM_CLAMAV_DB": str(clamd_test_database()),
        "STRONGROOM_CLAMD_STREAM_MAX": stream_max,
    }
    try:
        exports = _run_services("start", "clamd", env)
        yield Path(exports["STRONGROOM_CLAMD_SOCKET"])
    finally:
        _run_services("stop", "clamd", env)
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # only when no other private clamd (another worker's) still uses it
