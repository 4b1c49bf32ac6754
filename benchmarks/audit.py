"""Fixity audit throughput beside hashlib reading the same stored bytes, in one run.

    .venv/bin/python benchmarks/audit.py [--files N] [--size-mb M] [--small N] [--no-s3]

Makes an archive in a temporary folder whose primary location is on local disk, adds an S3
location on loopback (`strongroom location add s3copy --s3 BUCKET --endpoint-url URL`, a
MinIO started through `bash scripts/services.sh start s3`), ingests a generated corpus (N files
of M MB plus small files) into both, then measures on the same stored bytes:
  - local disk: hashlib (the baseline) reading every stored file with SHA-256 (1 MiB reads),
    in one thread and in one thread per core; Strongroom's fixity reader alone, in process;
    and `strongroom audit --location primary --json`, run as a user runs it (start-up included);
  - S3: hashlib (the baseline) reading every stored object with boto3 get_object, streamed in
    1 MiB reads, in one thread and in as many threads as the audit uses; and
    `strongroom audit --location s3copy --json`, run as a user runs it;
and prints MB/s, MB/s per core and the ratio of the audit to hashlib. Every reading is done
once more first, so all runs read from the page cache (the S3 server's included): the figures
compare the work each does on the same bytes, not the disk. (Dropping the page cache needs
privileges a benchmark should not assume.) The bucket is deleted at the end, and MinIO is
stopped if this run started it. `--no-s3` measures local disk only. A server already running
elsewhere is used when STRONGROOM_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
name it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
CHUNK = 1024 * 1024
AUDIT_THREADS = 4  # the reader threads `strongroom audit` uses per location (strongroom/preservation/verify.py)
S3_LOCATION = "s3copy"


def make_corpus(folder: Path, files: int, size_mb: int, small: int) -> None:
    block = os.urandom(1024 * 1024)
    for number in range(files):
        path = folder / "objects" / f"big-{number:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            for part in range(size_mb):
                out.write(hashlib.sha256(f"{number}/{part}".encode()).digest() + block[32:])
    for number in range(small):
        path = folder / "objects" / "small" / f"note-{number:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"note {number}\n" * 50)


def sha256_file(path: Path) -> int:
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return size


def hashlib_rate(paths: list[Path], threads: int) -> tuple[float, int]:
    start = time.perf_counter()
    if threads == 1:
        total = sum(sha256_file(p) for p in paths)
    else:
        with ThreadPoolExecutor(threads) as pool:
            total = sum(pool.map(sha256_file, paths))
    return time.perf_counter() - start, total


# --- S3 on loopback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    env: dict[str, str]  # the credentials, for boto3 here and for the strongroom commands
    started_here: bool  # stop it at the end only then


def _services(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), *args], capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """The S3 server named in the environment, or MinIO through scripts/services.sh (stopped after if started)."""
    region = {"AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    given = os.environ.get("STRONGROOM_TEST_S3_ENDPOINT")
    if given:
        yield S3Server(given, region, started_here=False)
        return
    running = "running" in _services("status", "s3").stdout
    started = _services("start", "s3")
    if started.returncode != 0:
        raise SystemExit(f"scripts/services.sh start s3 failed (use --no-s3 to skip S3):\n{started.stderr}")
    exports = dict(re.findall(r"^export ([A-Z0-9_]+)=['\"]?(.*?)['\"]?$", started.stdout, re.MULTILINE))
    try:
        env = {k: exports[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")} | region
        yield S3Server(exports["STRONGROOM_TEST_S3_ENDPOINT"], env, started_here=not running)
    finally:
        if not running:
            _services("stop", "s3")


def s3_client(server: S3Server) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=server.env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=server.env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=server.env["AWS_DEFAULT_REGION"],
    )
    config = Config(s3={"addressing_style": "path"}, max_pool_connections=AUDIT_THREADS * 2)
    return session.client("s3", endpoint_url=server.endpoint, config=config)


@contextmanager
def s3_bucket(client: Any) -> Iterator[str]:
    """A bucket of this run's own, emptied and deleted afterwards."""
    bucket = f"strongroom-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    try:
        yield bucket
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)


def sha256_object(client: Any, bucket: str, key: str) -> int:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    hasher = hashlib.sha256()
    size = 0
    while chunk := body.read(CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return size


def s3_hashlib_rate(client: Any, bucket: str, keys: list[str], threads: int) -> tuple[float, int]:
    start = time.perf_counter()
    if threads == 1:
        total = sum(sha256_object(client, bucket, k) for k in keys)
    else:
        with ThreadPoolExecutor(threads) as pool:
            total = sum(pool.map(lambda k: sha256_object(client, bucket, k), keys))
    return time.perf_counter() - start, total


def timed_audit(strongroom: str, env: dict[str, str], location: str) -> tuple[float, dict[str, Any]]:
    """`strongroom audit --location L --json` as a user runs it: seconds including start-up, and its report."""
    start = time.perf_counter()
    result = subprocess.run([strongroom, "audit", "--location", location, "--json"], env=env, capture_output=True,
                            text=True, check=False)  # fmt: skip
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"strongroom audit --location {location} failed (exit {result.returncode}):\n{result.stderr}")
    report: dict[str, Any] = json.loads(result.stdout)
    return seconds, report


# --- local disk ---------------------------------------------------------------------------------


def fixity_rate(home: Path) -> tuple[float, int]:
    """Strongroom's fixity reader alone (strongroom.preservation.fixity), in process, over every stored file."""
    from strongroom.archive import Archive
    from strongroom.commit import object_id
    from strongroom.preservation.fixity import FixityMode, StoredFile, check_stored

    with Archive.open(home) as archive:
        files = []
        for package in archive.catalog.packages():
            inventory = archive.ocfl.inventory(object_id(package.uuid))
            files += [StoredFile(inventory.root + p, p, d) for d, paths in inventory.manifest.items() for p in paths]
        start = time.perf_counter()
        total = sum(c.found_size or 0 for c in check_stored(archive.storage, files, FixityMode.FULL, workers=1))
        return time.perf_counter() - start, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=60, help="large files in the corpus")
    parser.add_argument("--size-mb", type=int, default=8, help="size of each large file in MB")
    parser.add_argument("--small", type=int, default=2000, help="small files in the corpus")
    parser.add_argument("--no-s3", action="store_true", help="measure local disk only (no MinIO, no S3 location)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="strongroom-audit-bench-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        make_corpus(corpus, args.files, args.size_mb, args.small)
        env = {**os.environ, "STRONGROOM_HOME": str(root / "home")}
        env.pop("STRONGROOM_CATALOG_URL", None)  # the benchmark's archive is all on this machine
        if args.no_s3:
            run(root, corpus, env, cores, None)
            return 0
        with s3_server() as server:
            client = s3_client(server)
            with s3_bucket(client) as bucket:
                run(root, corpus, env | server.env, cores, (server, client, bucket))
    return 0


def run(root: Path, corpus: Path, env: dict[str, str], cores: int, s3: tuple[S3Server, Any, str] | None) -> None:
    strongroom = str(BIN / "strongroom")
    subprocess.run([strongroom, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    if s3 is not None:
        server, _client, bucket = s3
        subprocess.run([strongroom, "location", "add", S3_LOCATION, "--s3", bucket, "--endpoint-url", server.endpoint],
                       env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run([strongroom, "ingest", str(corpus), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    stored = sorted(p for p in (root / "home" / "storage" / "ocfl").rglob("*") if p.is_file())
    hashlib_rate(stored, 1)  # warm the page cache for every run alike
    one_s, total = hashlib_rate(stored, 1)
    all_s, _ = hashlib_rate(stored, cores)
    reader_s, reader_bytes = fixity_rate(root / "home")
    audit_s, report = timed_audit(strongroom, env, "primary")
    mb = total / 1e6
    audit_mb = report["bytes_read"] / 1e6
    print(f"machine: {cores} cores; python {sys.version.split()[0]}")
    print(f"local disk: {len(stored)} files, {mb:.1f} MB stored (page cache warm for every run)")
    print(f"{'reader':66} {'seconds':>8} {'MB/s':>8}")
    print(f"{'hashlib sha256, 1 thread (in process; baseline)':66} {one_s:8.2f} {mb / one_s:8.1f}")
    print(f"{f'hashlib sha256, {cores} threads (in process; baseline)':66} {all_s:8.2f} {mb / all_s:8.1f}")
    print(f"{'fixity reader alone, 1 thread (in process)':66} {reader_s:8.2f} {reader_bytes / 1e6 / reader_s:8.1f}")
    print(f"{'strongroom audit --location primary (command, start-up incl.)':66} {audit_s:8.2f} "
          f"{audit_mb / audit_s:8.1f}")  # fmt: skip
    label = "  of which the audit itself, as it reports it (in process)"
    print(f"{label:66} {report['seconds']:8.2f} {report['mb_per_second']:8.1f}")
    print(f"audit / hashlib on {cores} threads: {(audit_mb / audit_s) / (mb / all_s):.0%} (command); "
          f"{report['mb_per_second'] / (mb / all_s):.0%} (in-process reading)")  # fmt: skip
    print(f"fixity reader / hashlib on 1 thread: {(reader_bytes / reader_s) / (total / one_s):.0%}")
    print(f"audit per core: {audit_mb / audit_s / cores:.1f} MB/s; hashlib per core: {mb / all_s / cores:.1f} MB/s")
    if s3 is not None:
        s3_lines(strongroom, env, cores, *s3)


def s3_lines(strongroom: str, env: dict[str, str], cores: int, server: S3Server, client: Any, bucket: str) -> None:
    keys = [item["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="ocfl/")
            for item in page.get("Contents", ())]  # fmt: skip
    s3_hashlib_rate(client, bucket, keys, AUDIT_THREADS)  # warm the server's page cache for every run alike
    one_s, total = s3_hashlib_rate(client, bucket, keys, 1)
    many_s, _ = s3_hashlib_rate(client, bucket, keys, AUDIT_THREADS)
    audit_s, report = timed_audit(strongroom, env, S3_LOCATION)
    mb = total / 1e6
    audit_mb = report["bytes_read"] / 1e6
    started = "started by this run" if server.started_here else "already running"
    print(f"S3 on loopback ({server.endpoint}, {started}): {len(keys)} objects, {mb:.1f} MB in bucket {bucket}")
    print(f"{'reader':66} {'seconds':>8} {'MB/s':>8}")
    print(f"{'hashlib sha256 over get_object, 1 thread (in process; baseline)':66} {one_s:8.2f} {mb / one_s:8.1f}")
    label = f"hashlib sha256 over get_object, {AUDIT_THREADS} threads (in process; baseline)"
    print(f"{label:66} {many_s:8.2f} {mb / many_s:8.1f}")
    print(f"{f'strongroom audit --location {S3_LOCATION} (command, start-up incl.)':66} {audit_s:8.2f} "
          f"{audit_mb / audit_s:8.1f}")  # fmt: skip
    label = "  of which the audit itself, as it reports it (in process)"
    print(f"{label:66} {report['seconds']:8.2f} {report['mb_per_second']:8.1f}")
    print(f"S3 audit read {audit_mb:.1f} MB; hashlib read {mb:.1f} MB (every object, inventories included)")
    print(f"S3 audit / hashlib on {AUDIT_THREADS} threads: {(audit_mb / audit_s) / (mb / many_s):.0%} (command); "
          f"{report['mb_per_second'] / (mb / many_s):.0%} (in-process reading)")  # fmt: skip
    print(
        f"S3 audit per core: {audit_mb / audit_s / cores:.1f} MB/s; "
        f"hashlib over S3 per core: {mb / many_s / cores:.1f} MB/s (the MinIO server shares the same {cores} cores)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
