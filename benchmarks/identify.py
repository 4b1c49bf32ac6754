"""Identification speed and agreement: FIDO's and DROID's command lines, Siegfried in process (pygfried) and
`strongroom identify` end to end, as a user runs it.

    .venv/bin/python benchmarks/identify.py [--corpus PATH ...] [--copies N] [--generated N] [--repeat K]
    taskset -c 0 .venv/bin/python benchmarks/identify.py --copies 5 --generated 0 --repeat 1   # the issue's run

All tools see the same files, from the page cache (one untimed pass warms it); `--copies N` lays each
corpus out N times (hard links) so a command-line tool sees N times the files. Command-line figures
include process start-up; Siegfried's figure includes loading its signatures (its first call); the
`strongroom identify -r --json` figure is the installed command run as a subprocess (under taskset, on
the allowed cores only), with the compiled signatures in the disk cache as after any first run. The DROID
engine in process is shown too, labelled as such, with its cache load apart. Agreement is counted file by
file on the command's JSON: against DROID 6.5.2's `-Nr` output (the same set of PUIDs; `-Nr` prints no
extension-only matches, so those count as none) and against Siegfried (its one PUID against ours,
"UNKNOWN" as none; it carries PRONOM V125, not V122), each kind of difference named with its cause.
`--fido-engines` adds FIDO in process and the fido-fast engine (FIDO-exact, checked against FIDO).
pygfried is a benchmark-only dependency (`pip install -e '.[bench]'`); DROID comes from
`bash scripts/tools.sh`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    cpu: float = 0.0  # CPU seconds (user + system, child processes included): steadier than wall time under load

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


def cpu_seconds() -> float:
    """CPU time so far of this process (all threads) and of its finished child processes."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


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


def tally(pairs: Sequence[tuple[object, object]], limit: int = 12) -> str:
    """The most common (theirs, ours) differences, with their counts, one a line."""
    counts: dict[tuple[object, object], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    return "".join(f"\n    {n:5d} x  theirs {theirs}  ours {ours}" for (theirs, ours), n in ranked[:limit])


def strongroom_command(*args: str) -> list[str]:
    """`strongroom ...` as a user runs it: the installed console script, else the same entry point via -m."""
    script = Path(sys.executable).with_name("strongroom")
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "strongroom", *args]


def cli_keys(output: str) -> dict[Path, tuple[tuple[str, ...], str]]:
    """`strongroom identify --json` output: each file's PUIDs (sorted) and basis."""
    rows = json.loads(output)["files"]
    return {Path(r["path"]).resolve(): (tuple(sorted(r["matches"])), r["basis"]) for r in rows}


# Why Siegfried (pygfried, PRONOM V125 and its own container file) answers differently from the DROID
# engine (V122, DROID 6.5.2's rules), by kind of difference; the benchmark prints each kind it meets.
SIEGFRIED_CLASSES = {
    "newer": "Siegfried's PUID is not in V122 at all: a format PRONOM added after V122",
    "text": "Siegfried's own text detection names plain text by its content (x-fmt/111); DROID has none, so "
    "a text file whose extension no PRONOM format has gets no answer (DROID itself agrees with us)",
    "tie": "DROID reports every match left after priorities; Siegfried picks one of them",
    "extension": "no signature matched: the DROID engine reports DROID's extension-only matches "
    "(tentative formats); Siegfried reports UNKNOWN or its own extension guess",
    "unknown": "Siegfried says UNKNOWN (or fails, e.g. on a damaged container) where a V122 signature matched",
    "changed": "both identify by signature, differently: a signature or priority changed between V122 and V125",
}


def siegfried_class(theirs: str | None, ours: Identification | tuple[tuple[str, ...], str], known: set[str]) -> str:
    puids, basis = ours if isinstance(ours, tuple) else (tuple(m.puid for m in ours.matches), ours.basis.value)
    if theirs and theirs not in known:
        return "newer"
    if theirs == "x-fmt/111" and not puids:
        return "text"
    if theirs and theirs in puids and len(puids) > 1:
        return "tie"
    if basis in ("extension", "none"):
        return "extension"
    if not theirs:
        return "unknown"
    return "changed"


def run_corpus(name: str, folder: Path, files: list[Path], repeat: int, scratch: Path, fido_engines: bool) -> None:
    size = sum(p.stat().st_size for p in files)
    for path in files:  # warm the page cache for everyone alike
        path.read_bytes()
    results: list[Result] = []

    listing = scratch / "files.txt"
    listing.write_text("\n".join(str(p) for p in files) + "\n", encoding="utf-8")
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run([sys.executable, "-m", "fido.fido", "-q", "-input", str(listing)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)  # fmt: skip
    fido_cli = Result("FIDO 1.6.1 command line (v109, start-up included)", time.perf_counter() - start, 0.0,
                      len(files), size, cpu_seconds() - cpu)  # fmt: skip
    results.append(fido_cli)

    from tests.formats.droid_oracle import DroidError, droid_lib, run_droid_no_profile

    droid_answers: dict[Path, tuple[str, ...]] | None = None
    if droid_lib() is not None:
        start, cpu = time.perf_counter(), cpu_seconds()
        try:
            answers = run_droid_no_profile(folder)
        except DroidError as exc:
            print(f"DROID failed: {exc}")
        else:
            seconds = time.perf_counter() - start
            droid_answers = {path: answer.puids for path, answer in answers.items()}
            results.append(Result("DROID 6.5.2 command line -Nr (V122, start-up included)", seconds, 0.0,
                                  len(files), size, cpu_seconds() - cpu))  # fmt: skip
    else:
        print("DROID is not installed (bash scripts/tools.sh): no DROID figures")

    siegfried_answers: list[str | None] = []
    siegfried: Result | None = None
    if importlib.util.find_spec("pygfried") is not None:
        import pygfried

        def run_siegfried() -> None:
            siegfried_answers.clear()
            for path in files:
                # sf refuses zero-byte files and reports damaged zips as errors: still an answer
                try:
                    siegfried_answers.append(pygfried.identify(str(path)))
                except (pygfried.EmptySourceError, pygfried.GoError):
                    siegfried_answers.append(None)

        start, cpu = time.perf_counter(), cpu_seconds()
        with contextlib.suppress(pygfried.EmptySourceError, pygfried.GoError):
            pygfried.identify(str(files[0]))  # the first call loads Siegfried's signatures
        sf_startup = time.perf_counter() - start
        sf_time = best_of(repeat, run_siegfried)
        siegfried = Result(f"Siegfried {pygfried.version()} in process (pygfried, V125), load included",
                           sf_time + sf_startup, sf_startup, len(files), size,
                           (cpu_seconds() - cpu) / repeat)  # fmt: skip
        results.append(siegfried)
    else:
        print("pygfried is not installed: pip install -e '.[bench]' to compare with Siegfried")

    # `strongroom identify` end to end, as a user runs it: process start-up, imports, loading the compiled
    # signatures from the disk cache, identifying and printing JSON. One untimed run fills the cache.
    command = strongroom_command("identify", "-r", "--json", str(folder))
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    cli_times = []
    cli_cpu = []
    output = ""
    for _ in range(repeat):
        start, cpu = time.perf_counter(), cpu_seconds()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        cli_times.append(time.perf_counter() - start)
        cli_cpu.append(cpu_seconds() - cpu)
        output = done.stdout
    cli = Result("strongroom identify -r --json (end to end, start-up included)", min(cli_times), 0.0,
                 len(files), size, min(cli_cpu))  # fmt: skip
    results.append(cli)
    cli_answers = cli_keys(output)

    from strongroom.formats.droid import DroidIdentifier

    start = time.perf_counter()
    droid_engine = DroidIdentifier()  # loads the compiled form from the disk cache the command filled
    engine_startup = time.perf_counter() - start
    engine_answers: list[Identification] = []

    def droid_engine_one() -> None:
        engine_answers.clear()
        engine_answers.extend(droid_engine.identify(p) for p in files)

    cpu = cpu_seconds()
    engine_time = best_of(repeat, droid_engine_one)
    results.append(Result("  DROID engine in process (library call; cache load apart)",
                          engine_time, engine_startup, len(files), size, (cpu_seconds() - cpu) / repeat))  # fmt: skip

    single = files[len(files) // 2]
    single_times = []
    for _ in range(max(10, repeat)):
        start = time.perf_counter()
        subprocess.run(strongroom_command("identify", "--json", str(single)), stdout=subprocess.DEVNULL, check=True)
        single_times.append(time.perf_counter() - start)

    fido_answers: list[Identification] = []
    fast_answers: list[Identification] = []
    if fido_engines:
        start = time.perf_counter()
        fido = FidoIdentifier()
        fido_startup = time.perf_counter() - start
        fido_time = best_of(1, lambda: fido_answers.extend(fido.identify(p) for p in files))
        results.append(Result("FIDO in process", fido_time, fido_startup, len(files), size))
        start = time.perf_counter()
        fast = FastIdentifier()
        fast_startup = time.perf_counter() - start

        def fido_fast() -> None:
            fast_answers.clear()
            fast_answers.extend(fast.identify(p) for p in files)

        results.append(Result("  fido-fast engine in process", best_of(repeat, fido_fast), fast_startup,
                              len(files), size))  # fmt: skip

    print(f"\n== {name}: {len(files)} files, {size / 1e6:.1f} MB; cores allowed: {len(os.sched_getaffinity(0))}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"{'tool':66} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'load s':>7} {'CPU s':>7}")
    for r in results:
        print(f"{r.tool:66} {r.seconds:8.3f} {r.files_per_s:9.1f} {r.mb_per_s:8.1f} {r.startup:7.2f} {r.cpu:7.3f}")
    print(f"  single file, `strongroom identify --json FILE` wall time: best {min(single_times):.3f} s, "
          f"median {sorted(single_times)[len(single_times) // 2]:.3f} s ({single.name})")  # fmt: skip
    for other in results:
        if not other.tool.startswith(("strongroom", " ")):
            print(
                f"  strongroom identify end to end vs {other.tool}: {other.seconds / cli.seconds:.1f}x faster "
                f"(CPU time: {other.cpu / cli.cpu if cli.cpu else 0:.1f}x less)"
            )
    if len(cli_answers) != len(files):
        print(f"  strongroom identify printed {len(cli_answers)} answers for {len(files)} files")
    engine_keys = {p.resolve(): (tuple(sorted(m.puid for m in a.matches)), a.basis.value)
                   for p, a in zip(files, engine_answers, strict=True)}  # fmt: skip
    same = sum(cli_answers.get(p) == k for p, k in engine_keys.items())
    print(f"  the command's answers vs the engine in process: {same}/{len(files)} the same")
    if droid_answers is not None:
        # DROID's -Nr prints no extension-only matches: the command's count as none.
        pairs = [
            (
                droid_answers.get(p.resolve(), ("no answer",)),
                () if cli_answers[p.resolve()][1] == "extension" else cli_answers[p.resolve()][0],
            )
            for p in files
        ]
        differ = [(t, o) for t, o in pairs if t != o]  # fmt: skip
        print(f"  strongroom identify vs DROID 6.5.2 -Nr: {len(pairs) - len(differ)}/{len(files)} agree{tally(differ)}")
    if siegfried_answers:
        known = {f.puid for f in droid_engine.signatures.formats}
        classes: dict[str, list[tuple[object, object]]] = {}
        agreed = 0
        for sf, path in zip(siegfried_answers, files, strict=True):
            theirs = None if sf in (None, "UNKNOWN") else sf
            ours = cli_answers[path.resolve()]
            if (theirs,) == ours[0] or (theirs is None and not ours[0]):
                agreed += 1
                continue
            kind = siegfried_class(theirs, ours, known)
            classes.setdefault(kind, []).append((theirs or "UNKNOWN", f"{','.join(ours[0]) or '-'} ({ours[1]})"))
        print(f"  strongroom identify vs Siegfried: {agreed}/{len(files)} agree (V125 against V122); differences:")
        for kind, kinds in sorted(classes.items(), key=lambda item: -len(item[1])):
            print(f"   {len(kinds):5d} {kind}: {SIEGFRIED_CLASSES[kind]}{tally(kinds, 6)}")
    if fido_engines:
        agree = sum(key(a) == key(b) for a, b in zip(fast_answers, fido_answers, strict=True))
        print(f"  fido-fast engine vs FIDO in process: {agree}/{len(files)} the same")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="folders to identify (default: shared samples)")
    parser.add_argument("--copies", type=int, default=1, help="lay each corpus out this many times (hard links)")
    parser.add_argument("--generated", type=int, default=5000, help="files in a generated mixed corpus (0: none)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (best is shown)")
    parser.add_argument("--fido-engines", action="store_true", help="also FIDO in process and the fido-fast engine")
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
            run_corpus(name, folder, files, args.repeat, scratch, args.fido_engines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
