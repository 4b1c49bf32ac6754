"""Fixity audit throughput beside hashlib reading the same stored bytes, in one run.

    .venv/bin/python benchmarks/audit.py [--files N] [--size-mb M] [--small N]

Makes an archive in a temporary folder, ingests a generated corpus (N files of M MB plus
small files), then measures on the same stored bytes:
  - hashlib: one process reading every stored content file with SHA-256 (1 MiB reads),
    in one thread and in one thread per core;
  - `strongroom audit --json`, run as a user runs it (start-up included);
and prints MB/s and the ratio of the audit to hashlib. Every reading is done once more
first, so all runs read from the page cache: the figures compare the work each does on
the same bytes, not the disk. (Dropping the page cache needs privileges a benchmark
should not assume.) Local disk only: an S3 location is measured when the S3 backend lands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
CHUNK = 1024 * 1024


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
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="strongroom-audit-bench-") as tmp:
        root = Path(tmp)
        corpus = root / "corpus"
        make_corpus(corpus, args.files, args.size_mb, args.small)
        env = {**os.environ, "STRONGROOM_HOME": str(root / "home")}
        strongroom = str(BIN / "strongroom")
        subprocess.run([strongroom, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([strongroom, "ingest", str(corpus), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
        stored = sorted(p for p in (root / "home" / "storage" / "ocfl").rglob("*") if p.is_file())
        hashlib_rate(stored, 1)  # warm the page cache for every run alike
        one_s, total = hashlib_rate(stored, 1)
        all_s, _ = hashlib_rate(stored, cores)
        reader_s, reader_bytes = fixity_rate(root / "home")
        start = time.perf_counter()
        result = subprocess.run([strongroom, "audit", "--json"], env=env, capture_output=True, text=True)
        audit_s = time.perf_counter() - start
        if result.returncode != 0:
            print(f"audit failed: {result.stderr}")
            return 1
        report = json.loads(result.stdout)
        mb = total / 1e6
        audit_mb = report["bytes_read"] / 1e6
        print(f"machine: {cores} cores; python {sys.version.split()[0]}")
        print(f"stored: {len(stored)} files, {mb:.1f} MB (page cache warm for every run)")
        print(f"{'reader':52} {'seconds':>8} {'MB/s':>8}")
        print(f"{'hashlib sha256, 1 thread (in process)':52} {one_s:8.2f} {mb / one_s:8.1f}")
        print(f"{f'hashlib sha256, {cores} threads (in process)':52} {all_s:8.2f} {mb / all_s:8.1f}")
        print(f"{'fixity reader alone, 1 thread (in process)':52} {reader_s:8.2f} {reader_bytes / 1e6 / reader_s:8.1f}")
        print(f"{'strongroom audit --json (command, start-up included)':52} {audit_s:8.2f} {audit_mb / audit_s:8.1f}")
        label = "  of which the audit itself, as it reports it"
        print(f"{label:52} {report['seconds']:8.2f} {report['mb_per_second']:8.1f}")
        print(f"audit / hashlib on {cores} threads: {(audit_mb / audit_s) / (mb / all_s):.0%} (command); "
              f"{report['mb_per_second'] / (mb / all_s):.0%} (in-process reading)")  # fmt: skip
        print(f"fixity reader / hashlib on 1 thread: {(reader_bytes / reader_s) / (total / one_s):.0%}")
        print(f"audit per core: {audit_mb / audit_s / cores:.1f} MB/s; hashlib per core: {mb / all_s / cores:.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
