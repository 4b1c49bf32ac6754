"""The web service under load: the search API with 50 concurrent clients over 100,000 file records, and the
server's memory during a 1 GB chunked upload, against a real `strongroom serve` on loopback.

    .venv/bin/python benchmarks/web.py [--files 100000] [--transfers 4] [--clients 50] [--seconds 30]
        [--upload-mb 1024] [--workers N] [--home DIR] [--work DIR] [--json FILE] [--strongroom PATH]
    .venv/bin/python benchmarks/web.py --files 2000 --seconds 5 --upload-mb 64      # a quick run

1. The archive: a new home (embedded defaults: SQLite catalog and FTS5 index, local disk) holding --files
   generated small text files (seeded: the same words every run), stored by `strongroom ingest` in
   --transfers big transfers; the time the build took is printed. With --home DIR an archive this script built
   before (same --files and seed, recorded in DIR/bench-web.json) is reused, and built there otherwise.
2. `strongroom serve [--workers N]` starts as its own process on 127.0.0.1 (with several workers, uvicorn's
   supervisor and a process per worker: memory is summed over all of them); --clients threads, each with its own
   keep-alive HTTP connection, ask GET /api/v1/search?q=... for --seconds, as the public (no token: the
   researcher's view, closed records filtered), over a mix of queries (a rare word, a common word, two words,
   a phrase, a prefix, a filter, a deep page, everything with facets). Printed: requests, errors (any answer
   but 200, or no answer), latency p50/p95/p99/max in ms per kind and overall, requests per second, and the
   servers' peak resident memory (VmHWM from /proc/PID/status: the sum over the server's processes of each
   one's own peak, and each one's), and the load average before and after (the machine may be shared).
3. A --upload-mb transfer (a tar of one pseudo-random file) through the chunked upload API as an archivist
   (POST /api/v1/uploads, PUT each chunk with Content-Range, then DELETE: the check job that `complete`
   queues is not the upload's cost and is left out), sampling the server's resident memory every 0.2 s:
   start, peak and end RSS, and MB/s.

There is no baseline web tool in the same run: wrk, hey and ab are not installed here, and the clients are
Python threads sharing this machine's cores with the server, so the latencies include the clients' own
cost; the figures are what one process on these cores reaches, not a ceiling.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))

# The command that serves (--strongroom: e.g. a wrapper running another checkout, to compare two builds).
STRONGROOM = Path(sys.executable).parent / "strongroom"
SEED = 20261124
ARCHIVIST = "bench-archivist"
# Words of the generated records: a few common ones in nearly every file, many rarer ones.
COMMON = ["council", "parish", "minutes", "meeting", "report", "committee", "village", "road", "school", "church"]
RARE = [f"{a}{b}" for a in ("ash", "bram", "cole", "dun", "elm", "fen", "gorse", "holm", "ivy", "kell")
        for b in ("ford", "ley", "wick", "thorpe", "by", "stead", "worth", "ham", "ton", "well")]  # fmt: skip
QUERIES: dict[str, list[str]] = {
    "rare word": [f"q={w}" for w in RARE[:40]],
    "common word": [f"q={w}" for w in COMMON],
    "two words": [f"q={a}+{b}" for a, b in zip(COMMON, RARE[40:50], strict=True)],
    "phrase": ['q="parish+council"', 'q="committee+meeting"', 'q="village+school"'],
    "prefix": ["q=ash*", "q=bram*", "q=counc*", "q=meet*"],
    "filter": ["q=report&kind=file", "q=road&access=open", "q=church&sort=newest"],
    "deep page": ["q=council&page=20", "q=minutes&page=40"],
    "everything, facets": ["q=&facet=format,access,creator"],
}


def env() -> dict[str, str]:
    """The embedded defaults, without the optional per-file checks (a JVM, a virus scanner) the build would wait on."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    out.update({"STRONGROOM_VIRUS_SCAN": "off", "STRONGROOM_CHARACTERISE": "0", "STRONGROOM_OPERATOR": "bench",
                "PYTHONUNBUFFERED": "1"})  # fmt: skip
    return out


def run(*args: str) -> str:
    result = subprocess.run([str(STRONGROOM), *args], env=env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"strongroom {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


def generate_transfer(folder: Path, first: int, count: int, rng: random.Random) -> None:
    for number in range(first, first + count):
        path = folder / "objects" / f"box-{number // 1000:03d}" / f"record-{number:06d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        words = rng.choices(COMMON, k=12) + rng.choices(RARE, k=3)
        rng.shuffle(words)
        path.write_text(f"Record {number}. " + " ".join(words) + ".\n", encoding="utf-8")


def build(home: Path, files: int, transfers: int, scratch: Path) -> float:
    """A new archive at `home` with `files` records ingested in `transfers` transfers; returns seconds taken."""
    started = time.perf_counter()
    run("--home", str(home), "init", "--organisation", "Benchmark Archive", "--organisation-id", "BENCH")
    rng = random.Random(SEED)
    per = -(-files // transfers)
    for index in range(transfers):
        count = min(per, files - index * per)
        if count <= 0:
            break
        folder = scratch / f"transfer-{index + 1}"
        generate_transfer(folder, index * per, count, rng)
        t0 = time.perf_counter()
        run("--home", str(home), "ingest", str(folder), "--title", f"Benchmark transfer {index + 1}")
        print(f"  transfer {index + 1}/{transfers}: {count:,} files ingested in {time.perf_counter() - t0:.1f} s")
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    return time.perf_counter() - started


def archive_home(args: argparse.Namespace, scratch: Path) -> Path:
    home = args.home or scratch / "home"
    marker = home / "bench-web.json"
    wanted = {"files": args.files, "transfers": args.transfers, "seed": SEED}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"Archive: reusing {home} ({args.files:,} file records, built by an earlier run)")
        return home
    if (home / "strongroom.toml").exists():
        raise SystemExit(f"{home} holds an archive this script did not build with these options; name a new folder.")
    print(f"Archive: building {args.files:,} file records in {args.transfers} transfers at {home}")
    seconds = build(home, args.files, args.transfers, scratch)
    print(f"  built in {seconds:.1f} s ({args.files / seconds:,.0f} files/s, ingest included)")
    marker.write_text(json.dumps(wanted))
    return home


def archivist_token(home: Path) -> str:
    from strongroom.accounts.model import UserRole
    from strongroom.accounts.service import add_user, find_user, generate_password, issue_token
    from strongroom.archive import Archive

    with Archive.open(home) as archive:
        if find_user(archive, ARCHIVIST) is None:
            add_user(archive, ARCHIVIST, UserRole.ARCHIVIST, generate_password(), operator="benchmark")
        return issue_token(archive, ARCHIVIST, "benchmark", operator="benchmark").secret


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_status(pid: int, key: str) -> int | None:
    """A /proc/PID/status figure in KiB (VmRSS now, VmHWM the peak so far); None once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (uvicorn's workers are children of its supervisor)."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            parents[int(fields[1])].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def statuses(self, key: str) -> list[int]:
        """The figure for each of the server's processes (the supervisor first)."""
        return [kib for pid in descendants(self.process.pid) if (kib := proc_status(pid, key)) is not None]

    def status(self, key: str) -> int:
        """The figure summed over the server's processes (for VmHWM, the sum of each one's own peak)."""
        found = self.statuses(key)
        if not found:
            raise RuntimeError(f"no {key} for the server")
        return sum(found)


@contextmanager
def serve(home: Path, log: Path, workers: int | None) -> Iterator[Server]:
    port = free_port()
    command = [str(STRONGROOM), "--home", str(home), "serve", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env())
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"strongroom serve exited:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(server.url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("strongroom serve did not answer /api/v1/health within 60 s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class LoadResult:
    seconds: float
    requests: int
    errors: int
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else float("nan")


def load(server: Server, clients: int, seconds: float) -> LoadResult:
    mix = [(kind, query) for kind, queries in QUERIES.items() for query in queries]
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    count = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(number: int) -> None:
        rng = random.Random(SEED + number)
        own: dict[str, list[float]] = defaultdict(list)
        own_errors: list[str] = []
        done = 0
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.get("/api/v1/health")  # the connection is open before the clock starts
            start.wait()
            while time.perf_counter() < stop_at[0]:
                kind, query = rng.choice(mix)
                t0 = time.perf_counter()
                try:
                    answer = http.get(f"/api/v1/search?{query}")
                    ok = answer.status_code == 200 and "hits" in answer.json()
                    why = f"{answer.status_code} {answer.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, why = False, repr(exc)
                own[kind].append((time.perf_counter() - t0) * 1000)
                done += 1
                if not ok:
                    own_errors.append(f"{query}: {why}")
        with lock:
            for kind, values in own.items():
                latencies[kind].extend(values)
            errors.extend(own_errors)
            count[0] += done

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds + 1.0  # set before the barrier opens; 1 s for the last to arrive
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return LoadResult(time.perf_counter() - began, count[0], len(errors), dict(latencies), errors[:5])


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def make_upload(path: Path, megabytes: int) -> int:
    """A tar holding one pseudo-random file of `megabytes` MB, written in 1 MiB blocks (never held whole)."""
    size = megabytes * 1024 * 1024
    rng = random.Random(SEED)

    class Stream:
        left = size

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return rng.randbytes(n)

    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("objects/recording.bin")
        info.size = size
        info.mtime = 1_700_000_000
        tar.addfile(info, Stream())
    return path.stat().st_size


@dataclass
class UploadResult:
    bytes: int
    seconds: float
    rss_start_kib: int
    rss_peak_kib: int
    rss_end_kib: int
    samples: int


def upload(server: Server, token: str, path: Path) -> UploadResult:
    size = path.stat().st_size
    headers = {"Authorization": f"Bearer {token}"}
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(server.status("VmRSS"))
            done.wait(0.2)

    start_rss = server.status("VmRSS")
    sampler = threading.Thread(target=sample, daemon=True)
    with httpx.Client(base_url=server.url, timeout=120, headers=headers) as http:
        created = http.post("/api/v1/uploads", json={"filename": path.name, "size": size})
        if created.status_code != 201:
            raise SystemExit(f"POST /api/v1/uploads answered {created.status_code}: {created.text[:500]}")
        info = created.json()
        upload_id, chunk = info["id"], int(info["chunk_size"])
        sampler.start()
        t0 = time.perf_counter()
        with path.open("rb") as source:
            first = 0
            while first < size:
                block = source.read(chunk)
                last = first + len(block) - 1
                answer = http.put(f"/api/v1/uploads/{upload_id}", content=block,
                                  headers={"Content-Range": f"bytes {first}-{last}/{size}"})  # fmt: skip
                if answer.status_code != 200:
                    raise SystemExit(f"PUT bytes {first}-{last} answered {answer.status_code}: {answer.text[:500]}")
                first = last + 1
        seconds = time.perf_counter() - t0
        received = http.get(f"/api/v1/uploads/{upload_id}").json()["received"]
        done.set()
        sampler.join()
        end_rss = server.status("VmRSS")
        http.delete(f"/api/v1/uploads/{upload_id}")
    if received != size:
        raise SystemExit(f"the server holds {received:,} of the {size:,} bytes sent")
    return UploadResult(size, seconds, start_rss, max([*samples, start_rss, end_rss]), end_rss, len(samples))


def report_load(result: LoadResult, clients: int, peaks_kib: list[int], loads: tuple[str, str]) -> None:
    every = [v for values in result.latencies_ms.values() for v in values]
    print(f"\nSearch API, {clients} concurrent clients for {result.seconds:.1f} s (as the public)")
    print(f"  requests {result.requests:,}   errors {result.errors}   {result.requests / result.seconds:,.0f} req/s")
    print(f"  {'kind':<20} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in [*QUERIES, "all"]:
        values = every if kind == "all" else result.latencies_ms.get(kind, [])
        if values:
            print(f"  {kind:<20} {len(values):>7,} {percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
                  f"{percentile(values, 99):>8.1f} {max(values):>8.1f}")  # fmt: skip
    each = ", ".join(f"{kib / 1024:,.0f}" for kib in peaks_kib)
    print(f"  server peak RSS (VmHWM) {sum(peaks_kib) / 1024:,.0f} MiB over {len(peaks_kib)} process(es): {each} MiB")
    print(f"  load average (1, 5, 15 min) before {loads[0]}, after {loads[1]}")
    if clients > 1:
        verdict = "meets" if every and percentile(every, 95) < 100 and result.errors == 0 else "misses"
        print(f"  the issue's goal (p95 under 100 ms, 0 errors): {verdict} it")
    for sample in result.error_samples:
        print(f"  error: {sample}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000, help="file records in the archive")
    parser.add_argument("--transfers", type=int, default=4, help="transfers they are ingested in")
    parser.add_argument("--clients", type=int, default=50, help="concurrent search clients")
    parser.add_argument("--seconds", type=float, default=30, help="how long the search load lasts")
    parser.add_argument("--upload-mb", type=int, default=1024, help="size of the uploaded transfer (0: no upload)")
    parser.add_argument("--workers", type=int, help="strongroom serve --workers N (default: serve's own default)")
    parser.add_argument("--strongroom", type=Path, help="the strongroom command to serve with (default: this venv's)")
    parser.add_argument("--home", type=Path, help="build the archive here, or reuse the one an earlier run built")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one, removed after)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.files < 1 or args.transfers < 1 or args.clients < 1 or args.seconds <= 0:
        parser.error("--files, --transfers and --clients must be at least 1, --seconds above 0")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    global STRONGROOM
    if args.strongroom is not None:
        STRONGROOM = args.strongroom.absolute()
    if args.work is not None:
        Path(args.work).mkdir(parents=True, exist_ok=True)  # a folder named for the scratch files may be new
    with tempfile.TemporaryDirectory(dir=args.work) as scratch_name:
        scratch = Path(scratch_name)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; strongroom serve on 127.0.0.1")
        home = archive_home(args, scratch)
        token = archivist_token(home)
        figures: dict[str, object] = {"files": args.files, "clients": args.clients, "workers": args.workers}
        with serve(home, scratch / "server.log", args.workers) as server:
            # One client first: the time a search takes when nothing queues, beside the loaded figures.
            before = load_average()
            alone = load(server, 1, min(args.seconds, 5.0))
            report_load(alone, 1, server.statuses("VmHWM"), (before, load_average()))
            before = load_average()
            result = load(server, args.clients, args.seconds)
            peaks = server.statuses("VmHWM")
            peak = sum(peaks)
            report_load(result, args.clients, peaks, (before, load_average()))
            every = [v for values in result.latencies_ms.values() for v in values]
            single = [v for values in alone.latencies_ms.values() for v in values]
            figures["search_one_client"] = {"requests": alone.requests, "p50_ms": percentile(single, 50),
                                            "p95_ms": percentile(single, 95)}  # fmt: skip
            figures["search"] = {"requests": result.requests, "errors": result.errors, "seconds": result.seconds,
                                 "p50_ms": percentile(every, 50), "p95_ms": percentile(every, 95),
                                 "p99_ms": percentile(every, 99), "peak_rss_kib": peak,
                                 "peak_rss_kib_each": peaks, "load_average": load_average()}  # fmt: skip
            if args.upload_mb > 0:
                path = scratch / "big-transfer.tar"
                print(f"\nUpload: making a {args.upload_mb:,} MB transfer ...")
                make_upload(path, args.upload_mb)
                up = upload(server, token, path)
                path.unlink()
                print(f"Upload of {up.bytes / 1e6:,.0f} MB through the chunked API in {up.seconds:.1f} s "
                      f"({up.bytes / 1e6 / up.seconds:,.0f} MB/s)")  # fmt: skip
                rss = [f"{kib / 1024:,.0f} MiB" for kib in (up.rss_start_kib, up.rss_peak_kib, up.rss_end_kib)]
                print(f"  server RSS: start {rss[0]}, peak {rss[1]}, end {rss[2]} ({up.samples} samples, every 0.2 s)")
                growth = (up.rss_peak_kib - up.rss_start_kib) / 1024
                print(f"  growth during the upload: {growth:,.0f} MiB for {up.bytes / 2**20:,.0f} MiB sent")
                figures["upload"] = asdict(up)
        print("\nNo baseline web tool ran beside it (wrk, hey and ab are not installed); the clients share the cores.")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
