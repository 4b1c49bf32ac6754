"""Identification throughput: FIDO (command line and in process), Siegfried (pygfried) and Strongroom.

    .venv/bin/python benchmarks/identify.py [--corpus PATH ...] [--generated N] [--repeat K]

All tools see the same file list, from the page cache (one untimed pass warms it).
In-process figures are the best of `--repeat` passes; start-up (loading signatures)
is reported apart. Agreement is counted file by file against FIDO in process:
same PUIDs in the same order and the same basis. pygfried is a benchmark-only
dependency (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from strongroom.formats.batch import Identified, IdentifyPool
from strongroom.formats.engine import FastIdentifier
from strongroom.formats.fido_identifier import FidoIdentifier
from strongroom.model import Identification

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "sample-transfers"


@dataclass
class Result:
    tool: str
    seconds: float
    startup: float
    files: int
    bytes: int

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds


def list_files(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def key(ident: Identification) -> tuple[tuple[str, ...], str]:
    return tuple(m.puid for m in ident.matches), ident.basis.value


def run_corpus(name: str, files: list[Path], repeat: int, scratch: Path) -> None:
    size = sum(p.stat().st_size for p in files)
    for path in files:  # warm the page cache for everyone alike
        path.read_bytes()
    results: list[Result] = []

    listing = scratch / "files.txt"
    listing.write_text("\n".join(str(p) for p in files) + "\n", encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fido.fido", "-q", "-input", str(listing)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    results.append(Result("FIDO command line (1 core)", time.perf_counter() - start, 0.0, len(files), size))

    start = time.perf_counter()
    fido = FidoIdentifier()
    fido_startup = time.perf_counter() - start
    fido_answers: list[Identification] = []
    fido_time = best_of(1, lambda: fido_answers.extend(fido.identify(p) for p in files))
    results.append(Result("FIDO in process (1 core)", fido_time, fido_startup, len(files), size))

    if importlib.util.find_spec("pygfried") is not None:
        import pygfried

        def siegfried() -> None:
            for path in files:
                # sf refuses zero-byte files and reports damaged zips as errors: still an answer
                with contextlib.suppress(pygfried.EmptySourceError, pygfried.GoError):
                    pygfried.identify(str(path))

        start = time.perf_counter()
        siegfried_startup_file = files[0]
        with contextlib.suppress(pygfried.EmptySourceError, pygfried.GoError):
            pygfried.identify(str(siegfried_startup_file))
        sf_startup = time.perf_counter() - start
        results.append(Result(f"Siegfried {pygfried.version()} in process (pygfried, 1 core)",
                              best_of(repeat, siegfried), sf_startup, len(files), size))  # fmt: skip
    else:
        print("pygfried is not installed: pip install -e '.[bench]' to compare with Siegfried")

    start = time.perf_counter()
    fast = FastIdentifier()
    fast_startup = time.perf_counter() - start
    fast_answers: list[Identification] = []

    def strongroom_one() -> None:
        fast_answers.clear()
        fast_answers.extend(fast.identify(p) for p in files)

    results.append(Result("Strongroom in process (1 core)", best_of(repeat, strongroom_one), fast_startup,
                          len(files), size))  # fmt: skip
    cores = os.cpu_count() or 1
    with IdentifyPool(cores) as pool:
        start = time.perf_counter()
        pool.warm_up()
        pool_startup = time.perf_counter() - start
        parallel: list[Identified] = []

        def strongroom_all() -> None:
            parallel.clear()
            parallel.extend(pool.identify(files))

        results.append(Result(f"Strongroom, {cores} worker processes", best_of(repeat, strongroom_all),
                              pool_startup, len(files), size))  # fmt: skip

    agree = sum(key(a) == key(b) for a, b in zip(fast_answers, fido_answers, strict=True))
    agree_parallel = sum(key(a.identification) == key(b) for a, b in zip(parallel, fido_answers, strict=True))

    print(f"\n== {name}: {len(files)} files, {size / 1e6:.1f} MB")
    print(f"{'tool':58} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'start-up s':>10}")
    for r in results:
        print(f"{r.tool:58} {r.seconds:8.3f} {r.files_per_s:9.1f} {r.mb_per_s:8.1f} {r.startup:10.2f}")
    ours = next(r for r in results if r.tool.startswith("Strongroom in process"))
    for other in results:
        if not other.tool.startswith("Strongroom"):
            print(f"  Strongroom (1 core) vs {other.tool}: {other.seconds / ours.seconds:.1f}x the throughput")
    every_core = results[-1]
    print(f"  Strongroom on {cores} cores vs 1 core: {ours.seconds / every_core.seconds:.2f}x")
    print(f"  agreement with FIDO in process: {agree}/{len(files)} (1 core), {agree_parallel}/{len(files)} (parallel)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="folders to identify (default: shared samples)")
    parser.add_argument("--generated", type=int, default=5000, help="files in a generated mixed corpus (0: none)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes for in-process tools (best is shown)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="strongroom-identify-bench-") as tmp:
        scratch = Path(tmp)
        corpora = [
            (str(c), list_files(c)) for c in (args.corpus or ([DEFAULT_CORPUS] if DEFAULT_CORPUS.is_dir() else []))
        ]
        if args.generated:
            sys.path.insert(0, str(REPO))
            from benchmarks.ingest import generate_corpus
            from tests.formats.fixtures import make_fixtures

            generated = generate_corpus(scratch / "generated", args.generated)
            make_fixtures(generated / "fixtures")
            corpora.append(
                (f"generated mixed corpus ({args.generated} files + format fixtures)", list_files(generated))
            )
        for name, files in corpora:
            run_corpus(name, files, args.repeat, scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
