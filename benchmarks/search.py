"""Search indexing docs/s and query latency at 100k and 1M generated file records, per backend, in one run.

    .venv/bin/python benchmarks/search.py [--sizes 100000,1000000] [--backends sqlite,opensearch]
        [--queries 200] [--cli-runs 20] [--work DIR] [--json FILE]

For each backend (SQLite FTS5; OpenSearch or Elasticsearch on a server) the index grows through the sizes in
order: documents 0..100k are indexed and measured, then 100k..1M are added to the same index (a fresh 1M build
does exactly the same writes), so each size costs its own documents once. At each size it prints:
  - indexing: documents per second through the library API (`open_search(kind, options)` and
    `SearchIndex.index()` in chunks, in this process: what `strongroom ingest` and `rebuild` call), until
    every document is searchable; generating the documents is timed apart and not counted;
  - queries, in process: `SearchIndex.search()` timed around the call (a total plus the first page of 20
    hits, snippets included), as a researcher (closed records filtered out) and as an archivist, over
    query kinds: rare word, common word, two words, phrase, prefix, OR, NOT, filters (PUID, date range,
    creator), every facet, a deep page by the `after` cursor (page 50 on), newest first, an empty search;
    p50/p95/max per kind and overall, after one untimed warm-up per kind and role. Each kind's answers are
    checked (a filter honoured, dates in order, no closed record shown to a researcher): a backend that
    ignores a feature is marked, one that raises gets the error in its row, and the run goes on;
  - the command: `python -m strongroom --home H search WORD --json`, each a new process, start-up included,
    against a home made by `strongroom init` whose [search] table points at the same index; beside it the
    start-up alone (`python -m strongroom --version`).
The documents come from benchmarks/search_corpus.py (seeded: the same every run). SQLite's index file and
page cache are warm (the index was just written); the server shares this machine's cores.
A server comes from --opensearch-url / --elasticsearch-url, else STRONGROOM_TEST_OPENSEARCH_URL /
STRONGROOM_TEST_ELASTICSEARCH_URL, else `bash scripts/services.sh start opensearch` (stopped again after,
if this run started it). The server index is cleared first and after: never point this at a live archive's.
With --work DIR the indexes are kept there, and a SQLite index left by an earlier run with the same --seed
is grown instead of rebuilt (its indexing figures are then the earlier run's, and say so).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    # Run as a script, benchmarks/ is on the path but the repository is not. Last, so that a strongroom
    # named by PYTHONPATH (say, a snapshot of a tree being edited) is the one measured.
    sys.path.append(str(REPO))

import strongroom  # noqa: E402
from benchmarks.search_corpus import ARCHIVAL, PACKAGE_FILES, TODAY, Corpus  # noqa: E402
from strongroom.model import AccessStatus  # noqa: E402
from strongroom.search import open_search  # noqa: E402
from strongroom.search.base import ALL_ROLES, FACETS, Role, SearchIndex, SearchQuery, SearchResults  # noqa: E402
from strongroom.search.query import fold_key  # noqa: E402

SERVER_KINDS = ("opensearch", "elasticsearch")
PAGE = 20
DEEP_PAGE = 50  # the first page timed by the deep-paging kind; the pages before it are walked untimed
ROLES = (Role.RESEARCHER, Role.ARCHIVIST)


# --- what is asked ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of query: how its n-th variant is built, and how to tell that the backend did what it asked."""

    name: str
    about: str
    make: Callable[[int, Role], SearchQuery]
    check: Callable[[SearchQuery, SearchResults], str | None] = lambda q, r: None


def _rotate(items: Sequence[str], n: int, step: int = 1) -> str:
    return items[(n * step) % len(items)]


def query_kinds(corpus: Corpus) -> list[Kind]:
    vocabulary = corpus.vocabulary
    rare = [vocabulary[rank] for rank in range(12_000, 20_000, 500)]  # about 0.1% of the text-bearing records
    common = [vocabulary[rank] for rank in range(10, 60, 3)]  # about 25-80%
    archival = list(ARCHIVAL)
    creators = ["Montreal City Council", "Zoe Hartley", "Jurgen Muller", "Soren Kjaer", "Margaret Ellis"]
    puids = ["fmt/276", "fmt/412", "fmt/43", "fmt/40"]

    def base(text: str, role: Role, **more: Any) -> SearchQuery:
        return SearchQuery(text=text, viewer=role, limit=PAGE, today=TODAY, **more)

    def word(n: int) -> str:
        return _rotate(archival, n, 7)

    def decade(n: int) -> tuple[dt.date, dt.date]:
        start = 1850 + (n * 30) % 170
        return dt.date(start, 1, 1), dt.date(start + 9, 12, 31)

    return [
        Kind("rare word", "a word in ~0.1% of records", lambda n, r: base(_rotate(rare, n), r)),
        Kind("common word", "a word in ~25-80% of records", lambda n, r: base(_rotate(common, n), r)),
        Kind("two words", "two archival words, both", lambda n, r: base(f"{word(n)} {word(n + 1)}", r)),
        Kind("phrase", '"of the WORD"', lambda n, r: base(f'"of the {word(n)}"', r)),
        Kind("prefix", "the first 4 letters of a word*", lambda n, r: base(f"{word(n)[:4]}*", r)),
        Kind("OR", "WORD OR WORD", lambda n, r: base(f"{word(n)} OR {word(n + 3)}", r)),
        Kind("NOT", "WORD NOT WORD", lambda n, r: base(f"{word(n)} NOT {word(n + 5)}", r)),
        Kind("filter puid", "a word, one PUID", lambda n, r: base(word(n), r, puid=_rotate(puids, n)),
             lambda q, res: _all_hits(res, lambda h: h.puid == q.puid, f"a hit is not {q.puid}")),
        Kind("filter date", "a word, one decade", lambda n, r: base(word(n), r, date_from=decade(n)[0],
                                                                   date_to=decade(n)[1]),
             _check_dates),
        Kind("filter creator", "a word, a creator typed unaccented", lambda n, r: base(word(n), r,
                                                                                   creator=_rotate(creators, n)),
             _check_creator),
        Kind("facets", f"a word, all {len(FACETS)} facets", lambda n, r: base(word(n), r, facets=FACETS),
             _check_facets),
        Kind("deep page", f"a word, pages {DEEP_PAGE}+ by the after cursor", lambda n, r: base(word(n), r)),
        Kind("newest", "a word, newest first", lambda n, r: base(word(n), r, sort="newest"), _check_newest),
        Kind("everything", "no words: list all (browse)", lambda n, r: base("", r)),
    ]  # fmt: skip


def _all_hits(results: SearchResults, ok: Callable[[Any], bool], problem: str) -> str | None:
    return None if all(ok(hit) for hit in results.hits) else problem


def _check_dates(query: SearchQuery, results: SearchResults) -> str | None:
    low, high = query.date_from, query.date_to
    assert low is not None and high is not None
    return _all_hits(results, lambda h: h.date is not None and low <= h.date <= high, "a hit is outside the dates")


def _check_creator(query: SearchQuery, results: SearchResults) -> str | None:
    wanted = fold_key(query.creator or "")
    return _all_hits(
        results,
        lambda h: wanted in {fold_key(v) for v in h.dublin_core.get("creator", ())},
        f"a hit's creator is not {query.creator}",
    )


def _check_facets(query: SearchQuery, results: SearchResults) -> str | None:
    missing = [name for name in query.facets if name not in results.facets]
    return f"facets not returned: {', '.join(missing)}" if missing else None


def _check_newest(query: SearchQuery, results: SearchResults) -> str | None:
    days = [hit.date or dt.date.min for hit in results.hits]
    return None if days == sorted(days, reverse=True) else "hits are not newest first"


def _check_common(query: SearchQuery, results: SearchResults) -> str | None:
    """What every answer must honour, whatever its kind."""
    if query.viewer is Role.RESEARCHER:
        if any(hit.access is AccessStatus.CLOSED for hit in results.hits):
            return "A CLOSED RECORD WAS SHOWN TO A RESEARCHER"
        if any(c.value == AccessStatus.CLOSED.value for c in results.facets.get("access", ())):
            return "A CLOSED RECORD WAS COUNTED FOR A RESEARCHER"
    if len(results.hits) > query.limit or results.total < len(results.hits):
        return f"{len(results.hits)} hits for limit {query.limit} and total {results.total}"
    return None


# --- measuring -------------------------------------------------------------------------------------------------


@dataclass
class Timings:
    """Latencies in seconds of one kind (and role), the totals found, and what went wrong."""

    seconds: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    problem: str | None = None  # an answer that did not do what was asked: the timing is not of that query
    error: str | None = None  # the backend raised: no timing

    def add(self, other: Timings) -> None:
        self.seconds += other.seconds
        self.totals += other.totals
        self.problem = self.problem or other.problem
        self.error = self.error or other.error

    def summary(self) -> dict[str, Any]:
        return {
            "n": len(self.seconds),
            "p50_ms": _ms(percentile(self.seconds, 50)),
            "p95_ms": _ms(percentile(self.seconds, 95)),
            "max_ms": _ms(max(self.seconds, default=None)),
            "median_total": int(statistics.median(self.totals)) if self.totals else None,
            "problem": self.problem,
            "error": self.error,
        }


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (a value that was measured, never interpolated)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text[:160]}"


def timed_search(index: SearchIndex, query: SearchQuery, timings: Timings, kind: Kind) -> SearchResults | None:
    start = time.perf_counter()
    try:
        results = index.search(query)
    except Exception as error:  # reported in the kind's row, so one unsupported feature does not end the run
        timings.error = timings.error or _describe(error)
        return None
    timings.seconds.append(time.perf_counter() - start)
    timings.totals.append(results.total)
    timings.problem = timings.problem or _check_common(query, results) or kind.check(query, results)
    return results


def run_kind(index: SearchIndex, kind: Kind, role: Role, repeats: int) -> Timings:
    timings = Timings()
    if kind.name == "deep page":
        return deep_pages(index, kind, role, repeats, timings)
    try:
        index.search(kind.make(0, role))  # warm-up, untimed
    except Exception as error:  # the same error would come again: report it once
        timings.error = _describe(error)
        return timings
    for n in range(repeats):
        timed_search(index, kind.make(n, role), timings, kind)
        if timings.error:
            break
    return timings


def deep_pages(index: SearchIndex, kind: Kind, role: Role, repeats: int, timings: Timings) -> Timings:
    """Walk to page DEEP_PAGE by the after cursor (untimed), then time pages DEEP_PAGE onwards."""
    query = kind.make(0, role)
    cursor: str | None = None
    try:
        for page in range(1, DEEP_PAGE):
            results = index.search(replace(query, after=cursor))
            if results.next_after is None:
                more = results.total > page * PAGE
                timings.error = (f"no next_after cursor on page {page} of {results.total} hits: deep paging by "
                                 "`after` not supported") if more else f"only {results.total} hits"  # fmt: skip
                return timings
            cursor = results.next_after
    except Exception as error:
        timings.error = _describe(error)
        return timings
    for _ in range(repeats):
        page_results = timed_search(index, replace(query, after=cursor), timings, kind)
        if page_results is None or page_results.next_after is None:
            break
        cursor = page_results.next_after
    return timings


@dataclass
class Indexing:
    files: int = 0  # generated file records indexed so far
    documents: int = 0  # with the package documents
    seconds: float = 0.0  # in SearchIndex.index(), plus waiting until searchable
    generate_seconds: float = 0.0  # making the documents, not counted in docs/s
    earlier_run: bool = False  # figures for the first files come from an earlier run's manifest

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else 0.0


def grow(index: SearchIndex, corpus: Corpus, indexing: Indexing, files: int, chunk: int) -> None:
    """Index file records indexing.files..files (and their packages' documents), then wait until searchable."""
    documents = corpus.documents(indexing.files, files)
    while True:
        start = time.perf_counter()
        batch = [document for _, document in zip(range(chunk), documents, strict=False)]
        indexing.generate_seconds += time.perf_counter() - start
        if not batch:
            break
        start = time.perf_counter()
        index.index(batch)
        indexing.seconds += time.perf_counter() - start
        indexing.documents += len(batch)
    indexing.files = files
    start = time.perf_counter()
    wait_searchable(index, indexing.documents)
    indexing.seconds += time.perf_counter() - start


def wait_searchable(index: SearchIndex, expected: int, patience: float = 120.0) -> None:
    """Until an archivist's empty search over every role counts every document (a server refreshes in time)."""
    query = SearchQuery(text="", viewer=Role.ARCHIVIST, roles=ALL_ROLES, limit=1, today=TODAY)
    deadline = time.monotonic() + patience
    while (total := index.search(query).total) != expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"{index.name}: {total} documents searchable, {expected} indexed, after {patience:g} s")
        time.sleep(0.2)


# --- the command line, as a user runs it ---------------------------------------------------------------------


def make_home(root: Path, search_table: dict[str, str]) -> Path:
    """A home from `strongroom init`, its [search] table replaced by `search_table`."""
    home = root / "home"
    root.mkdir(parents=True, exist_ok=True)
    if not (home / "strongroom.toml").is_file():  # a home kept in --work from an earlier run is used again
        subprocess.run([sys.executable, "-m", "strongroom", "--home", str(home), "init"], env=cli_env(), check=True,
                       stdout=subprocess.DEVNULL, cwd=root)  # fmt: skip
    config = home / "strongroom.toml"
    table = "[search]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in search_table.items())
    text, count = re.subn(r"^\[search\]\n(?:[^\[\n].*\n|\n)*", table + "\n", config.read_text(), flags=re.M)
    if count != 1:
        raise SystemExit(f"{config} has no [search] table to point at the benchmark's index")
    config.write_text(text)
    return home


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("STRONGROOM_HOME", "STRONGROOM_SEARCH_URL", "STRONGROOM_SEARCH_KIND", "STRONGROOM_CATALOG_URL"):
        env.pop(name, None)  # the benchmark's home says where everything is
    return env


def timed_cli(argv: list[str], runs: int, cwd: Path) -> Timings:
    timings = Timings()
    for _ in range(runs):
        start = time.perf_counter()
        # Run from `cwd`, not the repository, so `-m strongroom` is the one this process imported.
        done = subprocess.run([sys.executable, "-m", "strongroom", *argv], env=cli_env(), capture_output=True,
                              text=True, check=False, cwd=cwd)  # fmt: skip
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            timings.error = f"exit {done.returncode}: {' '.join(done.stderr.split())[-200:]}"
            break
        timings.seconds.append(seconds)
        if argv[-1] == "--json":
            timings.totals.append(int(json.loads(done.stdout)["total"]))
    return timings


def cli_runs(home: Path, corpus: Corpus, runs: int) -> dict[str, Timings]:
    if runs <= 0:
        return {}
    rare, common = corpus.vocabulary[15_000], corpus.vocabulary[28]  # `which`: in about half the records
    return {
        "start-up only: python -m strongroom --version": timed_cli(["--version"], runs, home.parent),
        f"search {rare} --json (rare word)": timed_cli(
            ["--home", str(home), "search", rare, "--json"], runs, home.parent
        ),
        f"search {common} --json (common word)": timed_cli(
            ["--home", str(home), "search", common, "--json"], runs, home.parent
        ),
    }


# --- servers and backends -------------------------------------------------------------------------------------


def _services(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "scripts" / "services.sh"), *args], capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip


@contextmanager
def server_url(kind: str, given: str | None) -> Iterator[tuple[str, str]]:
    """(URL, where it came from): the one given, the test server in the environment, or one started here."""
    variable = f"STRONGROOM_TEST_{kind.upper()}_URL"
    url = given or os.environ.get(variable)
    if url:
        yield url.split("+", 1)[-1], "given" if given else variable
        return
    running = "running" in _services("status", kind).stdout
    started = _services("start", kind)
    if started.returncode != 0:
        raise SystemExit(f"scripts/services.sh start {kind} failed (use --backends sqlite to skip it):\n"
                         f"{started.stderr[-2000:]}")  # fmt: skip
    exports = dict(re.findall(r"^export ([A-Z0-9_]+)=['\"]?(.*?)['\"]?$", started.stdout, re.MULTILINE))
    try:
        yield exports[variable], "already running (scripts/services.sh)" if running else "started by this run"
    finally:
        if not running:
            _services("stop", kind)


def server_version(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            info = json.load(answer)
        version = info.get("version", {})
        return f"{version.get('distribution', 'elasticsearch')} {version.get('number', '?')}"
    except (OSError, ValueError) as error:
        return f"version unknown ({_describe(error)})"


def parse_options(given: Sequence[str]) -> dict[str, str]:
    options = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--server-option {item!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


@dataclass
class SizeResult:
    files: int
    indexing: Indexing
    index_bytes: int | None
    kinds: dict[str, dict[str, Timings]]  # kind -> role -> timings
    cli: dict[str, Timings]
    load: float  # the 1-minute load average when the queries ended: other work on the machine slows them

    def overall(self) -> Timings:
        """Every query of the kinds answered as asked (a kind that raised or ignored part of its query is left out)."""
        total = Timings()
        for roles in self.kinds.values():
            if not any(t.problem or t.error for t in roles.values()):
                for timings in roles.values():
                    total.seconds += timings.seconds
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "indexing": asdict(self.indexing) | {"docs_per_second": round(self.indexing.docs_per_second, 1)},
            "index_bytes": self.index_bytes,
            "queries_in_process": {
                kind: {role: t.summary() for role, t in roles.items()} | {"both": _both(roles).summary()}
                for kind, roles in self.kinds.items()
            },
            "overall_in_process": self.overall().summary(),
            "cli": {label: t.summary() for label, t in self.cli.items()},
            "load_average": self.load,
        }


def _both(roles: dict[str, Timings]) -> Timings:
    both = Timings()
    for timings in roles.values():
        both.add(timings)
    return both


def measure_size(index: SearchIndex, corpus: Corpus, files: int, queries: int) -> dict[str, dict[str, Timings]]:
    kinds = query_kinds(corpus)
    repeats = max(1, math.ceil(queries / (len(kinds) * len(ROLES))))
    return {kind.name: {role.value: run_kind(index, kind, role, repeats) for role in ROLES} for kind in kinds}


def sqlite_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())


def run_backend(backend: str, options: dict[str, str], args: argparse.Namespace, work: Path, corpus: Corpus,
                out: Callable[[str], None]) -> list[SizeResult]:  # fmt: skip
    sizes = sorted(args.sizes)
    manifest = work / f"{backend}-manifest.json"
    indexing = Indexing()
    index = open_search(backend, options)
    results: list[SizeResult] = []
    try:
        if backend == "sqlite" and manifest.is_file() and json.loads(manifest.read_text()).get("seed") == args.seed:
            indexing = Indexing(**json.loads(manifest.read_text())["indexing"])
            indexing.earlier_run = True
            if indexing.files > sizes[0]:
                raise SystemExit(f"{options['path']} already holds {indexing.files} files, more than {sizes[0]}: use "
                                 "another --work folder for smaller sizes")  # fmt: skip
            out(f"{backend}: growing the index of {indexing.files:,} files left by an earlier run ({manifest})")
        else:
            index.clear()
        home = make_home(work / backend, {"kind": "sqlite", "path": options["path"]} if backend == "sqlite"
                         else {"url": f"{backend}+{options['url']}", **{k: v for k, v in options.items()
                                                                         if k != "url"}})  # fmt: skip
        for files in sizes:
            out(f"{backend}: indexing up to {files:,} files ...")
            grow(index, corpus, indexing, files, args.chunk)
            if backend == "sqlite":
                manifest.write_text(json.dumps({"seed": args.seed, "indexing": asdict(indexing)}))
            out(f"{backend}: querying {files:,} files ...")
            kinds = measure_size(index, corpus, files, args.queries)
            load = os.getloadavg()[0]
            size_bytes = sqlite_bytes(Path(options["path"])) if backend == "sqlite" else None
            result = SizeResult(
                files, replace(indexing), size_bytes, kinds, cli_runs(home, corpus, args.cli_runs), load
            )
            still = index.search(SearchQuery(text="", viewer=Role.ARCHIVIST, roles=ALL_ROLES, limit=1, today=TODAY))
            if still.total != indexing.documents:  # e.g. a newer Strongroom in the command remade the index
                raise SystemExit(f"{backend}: the index holds {still.total} documents after the command runs, "
                                 f"not {indexing.documents}")  # fmt: skip
            results.append(result)
            print_size(backend, result)
        if backend != "sqlite" and args.work is None:
            index.clear()
    finally:
        index.close()
    return results


# --- printing ---------------------------------------------------------------------------------------------------


def _cell(value: float | None) -> str:
    return f"{value:8.1f}" if value is not None else f"{'-':>8}"


def _row(label: str, timings: Timings) -> str:
    s = timings.summary()
    note = f"ERROR {s['error']}" if s["error"] else (f"NOT AS ASKED: {s['problem']}" if s["problem"] else "")
    total = f"{s['median_total']:>12,}" if s["median_total"] is not None else f"{'-':>12}"
    return (f"{label:44} {s['n']:>4} {_cell(s['p50_ms'])} {_cell(s['p95_ms'])} {_cell(s['max_ms'])} {total}  "
            f"{note}").rstrip()  # fmt: skip


def print_size(backend: str, result: SizeResult) -> None:
    ix = result.indexing
    print(f"\n== {backend} at {result.files:,} file records ({ix.documents:,} documents with the package ones) ==")
    earlier = " (the first files' figures from an earlier run, kept in --work)" if ix.earlier_run else ""
    size = f"; index {result.index_bytes / 1e6:,.0f} MB on disk" if result.index_bytes else ""
    print(f"indexing, in process through SearchIndex.index() in chunks (what ingest and rebuild call), until "
          f"searchable: {ix.documents:,} docs in {ix.seconds:,.1f} s = {ix.docs_per_second:,.0f} docs/s "
          f"(generating them took {ix.generate_seconds:,.1f} s more, not counted){size}{earlier}")  # fmt: skip
    print(f"queries, in process (SearchIndex.search(): the total and the first page of {PAGE} hits, with snippets; "
          f"load average {result.load:.1f} on {os.cpu_count()} cores as they ended):")  # fmt: skip
    header = f"{'kind (role)':44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'median total':>12}"
    print(header)
    for kind, roles in result.kinds.items():
        for role, timings in roles.items():
            print(_row(f"{kind} ({role})", timings))
    print(_row("all kinds answered as asked", result.overall()))
    if result.cli:
        print("the command, a new process each (start-up included; the search uses the command's default facets):")
        print(header.replace("kind (role)", "command (as archivist)"))
        for label, timings in result.cli.items():
            print(_row(label, timings))


def machine_facts() -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    memory = None
    if Path("/proc/meminfo").is_file():
        found = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        memory = round(int(found.group(1)) / 2**20, 1) if found else None
    connection = sqlite3.connect(":memory:")
    try:
        fts5 = bool(connection.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')").fetchone()[0])
    finally:
        connection.close()
    return {"strongroom": str(Path(strongroom.__file__).parent), "cores": cores, "memory_gib": memory,
            "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, "fts5": fts5,
            "platform": platform.platform()}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="file records, comma-separated (grown in order)")
    parser.add_argument("--backends", default="sqlite,opensearch", help="sqlite, opensearch, elasticsearch")
    parser.add_argument("--queries", type=int, default=200, help="timed in-process queries per size and backend")
    parser.add_argument("--cli-runs", type=int, default=20, help="runs of each command per size (0: none)")
    parser.add_argument("--chunk", type=int, default=5000, help="documents per SearchIndex.index() call")
    parser.add_argument("--seed", type=int, default=8, help="the generated corpus's seed")
    parser.add_argument("--opensearch-url", help="default: $STRONGROOM_TEST_OPENSEARCH_URL, else start one")
    parser.add_argument("--elasticsearch-url", help="default: $STRONGROOM_TEST_ELASTICSEARCH_URL, else start one")
    parser.add_argument("--server-option", action="append", default=[], metavar="KEY=VALUE",
                        help="more options for the server backend (as in the [search] table)")  # fmt: skip
    parser.add_argument("--work", type=Path, help="keep the indexes and homes here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()
    try:
        args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r} is not a comma-separated list of whole numbers")
    if not args.sizes or min(args.sizes) < 1 or args.chunk < 1:
        parser.error("--sizes need one size or more, each 1 or more; --chunk 1 or more")
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(backends) - {"sqlite", *SERVER_KINDS})
    if unknown or not backends:
        parser.error(f"--backends: unknown {', '.join(unknown) or '(none given)'}; use sqlite, opensearch, "
                     "elasticsearch")  # fmt: skip
    corpus = Corpus(args.seed)
    facts = machine_facts()
    print(
        f"machine: {facts['cores']} cores, {facts['memory_gib']} GiB; {facts['platform']}; python "
        f"{facts['python']}; SQLite {facts['sqlite']}{' with FTS5' if facts['fts5'] else ' (FTS5 not reported)'}"
    )
    print(f"measuring the strongroom package in {facts['strongroom']}")
    print(
        f"corpus: seed {args.seed}; {PACKAGE_FILES} files a package (+ a package document each); content 50-300 "
        f"words from {len(corpus.vocabulary):,} words, Zipf-like; about 10% closed; queries judged on {TODAY}"
    )
    report: dict[str, Any] = {"machine": facts, "arguments": {k: str(v) for k, v in vars(args).items()},
                              "backends": {}}  # fmt: skip
    with work_folder(args.work) as work:
        for backend in backends:
            report["backends"][backend] = run_one(backend, args, work, corpus)
    report["totals_differ"] = compare_totals(report["backends"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def run_one(backend: str, args: argparse.Namespace, work: Path, corpus: Corpus) -> dict[str, Any]:
    def out(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    if backend == "sqlite":
        results = run_backend(backend, {"path": str(work / "sqlite" / "search.sqlite")}, args, work, corpus, out)
        return {"sizes": [r.as_json() for r in results]}
    given = args.opensearch_url if backend == "opensearch" else args.elasticsearch_url
    with server_url(backend, given) as (url, source):
        version = server_version(url)
        print(f"\n{backend}: {url} ({version}; {source}; on this machine, sharing its cores)")
        # An index of the benchmark's own (cleared first), so a test run or archive on the same server keeps its own.
        options = {"url": url, "index": "strongroom-benchmark", **parse_options(args.server_option)}
        try:
            results = run_backend(backend, options, args, work, corpus, out)
        except Exception as error:  # e.g. the backend is not registered yet: the other backends' figures still count
            print(f"{backend}: could not be measured: {_describe(error)}")
            return {"url": url, "server": version, "error": _describe(error)}
    return {"url": url, "server": version, "sizes": [r.as_json() for r in results]}


def compare_totals(measured: dict[str, Any]) -> list[str]:
    """Kinds whose median totals differ between backends: the same queries should find the same documents."""
    found: dict[tuple[int, str, str], dict[str, int | None]] = {}
    for backend, report in measured.items():
        for size in report.get("sizes", ()):
            for kind, roles in size["queries_in_process"].items():
                for role in (r.value for r in ROLES):
                    found.setdefault((size["files"], kind, role), {})[backend] = roles[role]["median_total"]
    lines = []
    for (files, kind, role), totals in found.items():
        if len(totals) > 1 and len(set(totals.values())) > 1:
            given = ", ".join(f"{backend} {total if total is not None else '-'}" for backend, total in totals.items())
            lines.append(f"{files:,} files, {kind} ({role}): {given}")
    if lines:
        print("\nmedian totals that differ between backends (the same queries should find the same documents):")
        print("\n".join(f"  {line}" for line in lines))
    return lines


@contextmanager
def work_folder(given: Path | None) -> Iterator[Path]:
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given.resolve()
        return
    folder = Path(tempfile.mkdtemp(prefix="strongroom-search-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
