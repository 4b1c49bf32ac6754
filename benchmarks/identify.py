"""Identification throughput: FIDO (command line and in process), DROID's command line, Siegfried (pygfried)
and Strongroom (the FIDO-exact engine, and the DROID-signature engine in process).

    .venv/bin/python benchmarks/identify.py [--corpus PATH ...] [--copies N] [--generated N] [--repeat K]
    taskset -c 0 .venv/bin/python benchmarks/identify.py --copies 5 --generated 0 --repeat 1   # the issue's run

All tools see the same files, from the page cache (one untimed pass warms it); `--copies N` lays each
corpus out N times (hard links) so a command-line tool sees N times the files. In-process figures are
the best of `--repeat` passes; start-up (loading signatures) is reported apart. Command-line figures
include start-up. Agreement is counted file by file: the FIDO-exact engine against FIDO in process
(same PUIDs in the same order and the same basis); the DROID engine against DROID 6.5.2's `-Nr` output
(the same set of PUIDs; `-Nr` prints no extension-only matches, so the engine's are counted as none; the
engine follows DROID's profile mode, which drops the internal signatures of container-mapped PUIDs and `-Nr`
does not, so a file only such a signature matches would differ: none in the shared corpus)
and against Siegfried (same set of PUIDs, its "UNKNOWN" as none; it carries V125, not V122).
pygfried is a benchmark-only dependency (`pip install -e '.[bench]'`); DROID comes from
`bash scripts/tools.sh`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from strongroom.formats.batch import Identified, IdentifyPool
from strongroom.formats.engine import FastIdentifier
from strongroom.formats.fido_identifier import FidoIdentifier
from strongroom.model import Basis, Identification

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


def lay_out_copies(source: Path, target: Path, copies: int) -> Path:
    """`copies` copies of `source` under `target` (hard links where the filesystem allows)."""
    for n in range(copies):
        for path in list_files(source):
            dest = target / f"copy{n}" / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copyfile(path, dest)
    return target


def droid_engine_key(ident: Identification) -> tuple[str, ...]:
    """The engine's PUIDs as DROID's -Nr prints them: extension-only matches are not printed."""
    return () if ident.basis is Basis.EXTENSION else tuple(sorted(m.puid for m in ident.matches))


def tally(pairs: Sequence[tuple[object, object]], limit: int = 12) -> str:
    """The most common (theirs, ours) differences, with their counts, one a line."""
    counts: dict[tuple[object, object], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return "".join(f"\n    {n:5d} x  theirs {theirs}  ours {ours}" for (theirs, ours), n in ranked[:limit])


def run_corpus(name: str, folder: Path, files: list[Path], repeat: int, scratch: Path) -> None:
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

    from tests.formats.droid_oracle import DroidError, droid_lib, run_droid_no_profile

    droid_answers: dict[Path, tuple[str, ...]] | None = None
    if droid_lib() is not None:
        start = time.perf_counter()
        try:
            answers = run_droid_no_profile(folder)
        except DroidError as exc:
            print(f"DROID failed: {exc}")
        else:
            seconds = time.perf_counter() - start
            droid_answers = {path: answer.puids for path, answer in answers.items()}
            results.append(Result("DROID 6.5.2 command line -Nr (V122, start-up included)", seconds, 0.0,
                                  len(files), size))  # fmt: skip
    else:
        print("DROID is not installed (bash scripts/tools.sh): no DROID figures")

    siegfried_answers: list[str | None] = []
    if importlib.util.find_spec("pygfried") is not None:
        import pygfried

        def siegfried() -> None:
            siegfried_answers.clear()
            for path in files:
                # sf refuses zero-byte files and reports damaged zips as errors: still an answer
                try:
                    siegfried_answers.append(pygfried.identify(str(path)))
                except (pygfried.EmptySourceError, pygfried.GoError):
                    siegfried_answers.append(None)

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

    droid_engine_answers: list[Identification] = []
    if importlib.util.find_spec("strongroom.formats.droid.identifier") is not None:
        from strongroom.formats.droid import DroidIdentifier

        cache = scratch / "droid-cache"
        DroidIdentifier(cache_dir=cache)  # untimed: compiles and writes the disk cache
        start = time.perf_counter()
        droid_engine = DroidIdentifier(cache_dir=cache)  # timed: loads the compiled form from the cache
        droid_engine_startup = time.perf_counter() - start

        def droid_engine_one() -> None:
            droid_engine_answers.clear()
            droid_engine_answers.extend(droid_engine.identify(p) for p in files)

        # in process until `identify --engine droid` exists; then measure that command end to end
        results.append(Result("Strongroom DROID engine in process (1 core)", best_of(repeat, droid_engine_one),
                              droid_engine_startup, len(files), size))  # fmt: skip
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
    if droid_engine_answers and droid_answers is not None:
        pairs = [(droid_answers.get(p.resolve(), ("no answer",)), droid_engine_key(a))
                 for p, a in zip(files, droid_engine_answers, strict=True)]  # fmt: skip
        differ = [(t, o) for t, o in pairs if t != o]
        print(f"  DROID engine vs DROID -Nr: {len(pairs) - len(differ)}/{len(files)} agree{tally(differ)}")
    if droid_engine_answers and siegfried_answers:
        pairs = [(() if sf in (None, "UNKNOWN") else (sf,), tuple(sorted(m.puid for m in a.matches)))
                 for sf, a in zip(siegfried_answers, droid_engine_answers, strict=True)]  # fmt: skip
        differ = [(t, o) for t, o in pairs if t != o]
        agreed = len(pairs) - len(differ)
        print(f"  DROID engine vs Siegfried: {agreed}/{len(files)} agree (V125 against V122){tally(differ)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="folders to identify (default: shared samples)")
    parser.add_argument("--copies", type=int, default=1, help="lay each corpus out this many times (hard links)")
    parser.add_argument("--generated", type=int, default=5000, help="files in a generated mixed corpus (0: none)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes for in-process tools (best is shown)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="strongroom-identify-bench-") as tmp:
        scratch = Path(tmp)
        sys.path.insert(0, str(REPO))
        corpora = []
        for n, corpus in enumerate(args.corpus or ([DEFAULT_CORPUS] if DEFAULT_CORPUS.is_dir() else [])):
            folder = corpus if args.copies <= 1 else lay_out_copies(corpus, scratch / f"corpus{n}", args.copies)
            shown = str(corpus) if args.copies <= 1 else f"{corpus} x{args.copies}"
            corpora.append((shown, folder, list_files(folder)))
        if args.generated:
            from benchmarks.ingest import generate_corpus
            from tests.formats.fixtures import make_fixtures

            generated = generate_corpus(scratch / "generated", args.generated)
            make_fixtures(generated / "fixtures")
            corpora.append(
                (f"generated mixed corpus ({args.generated} files + format fixtures)", generated,
                 list_files(generated))
            )  # fmt: skip
        for name, folder, files in corpora:
            run_corpus(name, folder, files, args.repeat, scratch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
