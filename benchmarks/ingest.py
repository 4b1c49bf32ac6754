"""Ingest throughput beside FIDO's command line and bagit.py, on the same files, in one run.

    .venv/bin/python benchmarks/ingest.py [--corpus PATH ...] [--generated N] [--workers N] [--baseline REV] [--checks]
        [--no-samples] [--no-fido] [--no-bagit] [--profile DIR]

For each corpus it prints files/s and MB/s for:
  - strongroom ingest (copy + every digest + identification + METS + bag + store + catalog + index),
  - FIDO's own command line identifying the same files (`python -m fido.fido -recurse`),
  - bagit.py making a SHA-256 bag of a copy of the same files (`bagit.py --sha256 --processes N`),
  - with --baseline REV, the same ingest by an earlier revision of Strongroom (a git worktree),
  - with --checks, the ingest again with virus scanning (clamd) and characterisation (JHOVE, veraPDF,
    MediaInfo, ExifTool) on,
the ratios of Strongroom to each, and Strongroom's peak memory (to show it stays flat as the
corpus grows). Each tool runs as its own process, so peak memory is that process's alone.

--profile DIR runs the plain ingest once more under cProfile (the parent process; with --workers 1
the per-file work runs in it too) and prints where the time went; the profile is kept in DIR.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "sample-transfers"
BIN = Path(sys.executable).parent
PLAIN = {"STRONGROOM_VIRUS_SCAN": "off", "STRONGROOM_CHARACTERISE": "0"}  # the plain ingest: checks off


@dataclass
class Run:
    tool: str
    seconds: float
    files: int
    bytes: int
    peak_rss_mb: float
    ok: bool
    note: str = ""

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0


def corpus_size(folder: Path) -> tuple[int, int]:
    files = 0
    size = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def generate_corpus(root: Path, count: int, seed: int = 20261123) -> Path:
    """A mixed corpus of `count` files: text, CSV, HTML, PNG, PDF-like and binary, 200 B to ~200 KB."""
    rng = random.Random(seed)
    words = ["council", "minutes", "planning", "footpath", "precept", "parish", "clerk", "meeting", "agenda"]

    def png(width: int, height: int) -> bytes:
        import struct

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))
        header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")

    for i in range(count):
        folder = root / f"series-{i % 50:02d}" / f"file-{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 6
        text = " ".join(rng.choice(words) for _ in range(rng.randint(30, 3000)))
        if kind == 0:
            (folder / f"minutes-{i}.txt").write_text(text)
        elif kind == 1:
            (folder / f"table-{i}.csv").write_text(
                "id,word\n" + "\n".join(f"{n},{w}" for n, w in enumerate(text.split()))
            )
        elif kind == 2:
            (folder / f"page-{i}.html").write_text(
                f"<!DOCTYPE html><html><head><title>{i}</title></head><body>{text}</body></html>"
            )
        elif kind == 3:
            (folder / f"image-{i}.png").write_bytes(png(rng.randint(8, 120), rng.randint(8, 120)))
        elif kind == 4:
            (folder / f"report-{i}.pdf").write_bytes(b"%PDF-1.4\n" + text.encode() + b"\n%%EOF\n")
        else:
            (folder / f"blob-{i}.bin").write_bytes(rng.randbytes(rng.randint(200, 200_000)))
    return root


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, bool, str]:
    """Run a command; return (seconds, peak RSS in MB of that process and its workers, ok, error line)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss from wait4 is this child's own peak (or its largest waited-for descendant's), in KiB.
    peak = usage.ru_maxrss / 1024
    tail = stderr.decode(errors="replace").strip().splitlines()[-1:] if proc.returncode else []
    return seconds, peak, proc.returncode == 0, tail[0] if tail else ""


def run_strongroom(
    corpus: Path, workers: int, scratch: Path, clamd: str | None = None, profile: Path | None = None
) -> Run:
    """The plain ingest (checks off), or with `clamd` (a socket) the ingest with virus scanning and
    characterisation on, the way an archive with ClamAV and the tools installed runs it."""
    home = scratch / "home"
    checks = {
        "STRONGROOM_VIRUS_SCAN": "required",
        "STRONGROOM_CLAMD_SOCKET": clamd or "",
        "STRONGROOM_CHARACTERISE": "1",
    }
    env = {
        **os.environ,
        "STRONGROOM_HOME": str(home),
        "STRONGROOM_WORKERS": str(workers),
        **(checks if clamd else PLAIN),
    }
    subprocess.run([str(BIN / "strongroom"), "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    files, size = corpus_size(corpus)
    command = [str(BIN / "strongroom"), "ingest", str(corpus), "--json"]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "strongroom", "ingest", str(corpus)]
    seconds, peak, ok, note = timed(command, env)
    shutil.rmtree(home, ignore_errors=True)
    what = "with virus scan + characterisation" if clamd else "checks off"
    if profile is not None:
        what += ", under cProfile"
    return Run(f"strongroom ingest ({workers} workers, {what})", seconds, files, size, peak, ok, note)


def start_clamd() -> str:
    """The tests' clamd (scripts/services.sh, with the tests' small signature database): its socket.

    The official ClamAV database (about 8 million signatures) makes clamd slower to start and each
    scan somewhat slower; this row measures the pipeline's cost, not the database's."""
    sys.path.insert(0, str(REPO))
    from tests.services import clamd_socket

    return str(clamd_socket())


def run_strongroom_at(revision: str, corpus: Path, workers: int, scratch: Path) -> Run:
    """The same ingest by an earlier revision of Strongroom (a git worktree run with this venv's packages)."""
    tree = scratch / f"strongroom-{revision}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), revision], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    home = scratch / "home-baseline"
    # The same settings as the main row (checks off): without them the baseline ran with virus scanning and
    # characterisation at their defaults and measured those, not the revision.
    env = {**os.environ, "STRONGROOM_HOME": str(home), "STRONGROOM_WORKERS": str(workers), "PYTHONPATH": str(tree),
           **PLAIN}  # fmt: skip
    # -P: `python -m` would otherwise put the current folder first on sys.path, ahead of PYTHONPATH, and run from
    # the checkout the benchmark was started in the code of this revision, not the earlier one's.
    command = [sys.executable, "-P", "-m", "strongroom"]
    probe = [sys.executable, "-P", "-c", "import strongroom; print(strongroom.__file__)"]
    loaded = subprocess.run(probe, env=env, check=True, capture_output=True, text=True).stdout.strip()
    if not Path(loaded).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the baseline would run {loaded}, not the code of {revision} in {tree}")
    subprocess.run([*command, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    files, size = corpus_size(corpus)
    seconds, peak, ok, note = timed([*command, "ingest", str(corpus), "--json"], env)
    shutil.rmtree(home, ignore_errors=True)
    return Run(f"strongroom {revision} ingest ({workers} workers)", seconds, files, size, peak, ok, note)


def run_fido(corpus: Path) -> Run:
    files, size = corpus_size(corpus)
    seconds, peak, ok, note = timed([sys.executable, "-m", "fido.fido", "-q", "-recurse", str(corpus)])
    return Run("fido CLI (identify only)", seconds, files, size, peak, ok, note)


def run_bagit(corpus: Path, workers: int, scratch: Path) -> Run:
    copy = scratch / "bagit-copy"
    shutil.copytree(corpus, copy, symlinks=True)
    files, size = corpus_size(copy)
    cmd = [str(BIN / "bagit.py"), "--quiet", "--sha256", "--processes", str(workers), str(copy)]
    seconds, peak, ok, note = timed(cmd)
    shutil.rmtree(copy, ignore_errors=True)
    return Run(f"bagit.py --sha256 ({workers} processes)", seconds, files, size, peak, ok, note)


def report(name: str, runs: list[Run]) -> None:
    print(f"\n== {name}: {runs[0].files} files, {runs[0].bytes / 1e6:.1f} MB")
    print(f"{'tool':44} {'seconds':>8} {'files/s':>9} {'MB/s':>8} {'peak MB':>8}")
    for r in runs:
        flag = "" if r.ok else f"  FAILED: {r.note}"
        print(f"{r.tool:44} {r.seconds:8.2f} {r.files_per_s:9.1f} {r.mb_per_s:8.1f} {r.peak_rss_mb:8.1f}{flag}")
    ours = runs[0]
    for other in runs[1:]:
        if other.seconds and ours.seconds:
            print(f"  strongroom / {other.tool}: {other.seconds / ours.seconds:.2f}x the throughput")


def print_profile(stats: Path, lines: int = 30) -> None:
    """The functions that took the most time, themselves and with what they called."""
    import pstats

    profile = pstats.Stats(str(stats))
    for order in ("tottime", "cumtime"):
        print(f"\n-- {stats.name}, by {order} --")
        profile.sort_stats(order).print_stats(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, action="append", help="folder(s) to ingest (default: shared samples)")
    parser.add_argument("--generated", type=int, default=10_000, help="files in the generated corpus (0: none)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--baseline", metavar="REV", help="also ingest with this earlier git revision of Strongroom (e.g. a tag)"
    )
    parser.add_argument("--no-fido", action="store_true", help="skip FIDO's command line (slow on large corpora)")
    parser.add_argument("--no-bagit", action="store_true", help="skip bagit.py")
    parser.add_argument("--no-samples", action="store_true", help="leave out the shared sample transfers")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="also profile the ingest; keep the profile in DIR")
    parser.add_argument(
        "--checks", action="store_true", help="add a row with virus scanning (clamd) and characterisation on"
    )
    args = parser.parse_args()
    corpora: list[tuple[str, Path]] = []
    samples = [] if args.no_samples or not DEFAULT_CORPUS.is_dir() else [DEFAULT_CORPUS]
    for corpus in args.corpus or samples:
        corpora.append((str(corpus), corpus))
    with tempfile.TemporaryDirectory(prefix="strongroom-bench-") as tmp:
        scratch = Path(tmp)
        if args.generated:
            generated = generate_corpus(scratch / "generated", args.generated)
            corpora.append((f"generated ({args.generated} files)", generated))
        if not corpora:
            print("No corpus: give --corpus PATH or --generated N.")
            return 1
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; workers {args.workers}")
        for name, corpus in corpora:
            runs = [run_strongroom(corpus, args.workers, scratch)]
            if args.checks:
                runs.append(run_strongroom(corpus, args.workers, scratch, start_clamd()))
            if args.baseline:
                runs.append(run_strongroom_at(args.baseline, corpus, args.workers, scratch))
            if not args.no_fido:
                runs.append(run_fido(corpus))
            if not args.no_bagit:
                runs.append(run_bagit(corpus, args.workers, scratch))
            report(name, runs)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                stats = args.profile / f"ingest-{len(list(args.profile.glob('*.prof')))}.prof"
                profiled = run_strongroom(corpus, args.workers, scratch, profile=stats)
                report(f"{name}, profiled", [profiled])
                print_profile(stats)
        if args.baseline:
            subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
