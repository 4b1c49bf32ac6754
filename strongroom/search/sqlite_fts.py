"""A SearchIndex in one SQLite file, using FTS5 for the words.

Three tables: `documents`, one narrow row per package or file with what filters, sorts
and facets read (so scanning or probing it stays cheap at a million rows); `texts`, the
words and what a hit shows, which an external-content FTS5 table (`documents_fts`) indexes,
kept in step by triggers; and `creators`, each document's Dublin Core creators, as written
and folded, for the creator filter and facet. The tokenizer folds case and diacritics
(`Montreal` finds `Montréal`) and splits paths at `/ . _ -` so `minutes` finds
`objects/minutes/1999.pdf`. How a query becomes SQL is in sqlite_query.py; how a document
becomes its rows, and a row a hit, in sqlite_rows.py.

Who may see what is part of the FTS5 expression of every search: each row carries hidden
tags (its kind, role, filters' values, and when closed, its opening day), and a researcher's
expression leaves out every row closed on the query's day (sqlite_query.tag_filters). The
total, the page, every facet count and every snippet come from those matches only, never
filtered afterwards; the page's rows are checked again in SQL (`visible_to`) when shown.
How the page is cut and the facets counted at a million rows is in sqlite_search.py.

Writers use short `BEGIN IMMEDIATE` transactions in WAL mode with a busy timeout,
so several processes can index into the same file while others search it.

A rebuild fills a new file beside the live one and then swaps it in. The live path
becomes a symbolic link to the new file, replaced in one rename: SQLite resolves the
link, so each generation keeps its own `-wal` and `-shm` files. Renaming a database
file over one that another process still has open in WAL mode would make the two
share those files by name, and corrupt what that process reads.
"""

from __future__ import annotations

import operator
import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from strongroom.errors import SearchError
from strongroom.search import query as language
from strongroom.search import sqlite_search
from strongroom.search.base import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from strongroom.search.sqlite_query import (
    FTS_COLUMNS,
    Plan,
    check,
    make_cursor,
    match_expression,
    tag_filters,
    visible_to,
)
from strongroom.search.sqlite_rows import DOCUMENT_COLUMNS, HIT_COLUMNS, Row, hit, iso_day, row_of

__all__ = ["SCHEMA_VERSION", "SqliteRebuild", "SqliteSearchIndex", "match_expression"]

# 2: structured documents (Dublin Core, name, content, version, date) with access status.
# 3: each file's role (original, metadata, ...), so housekeeping files stay out of searches.
# 5: narrow documents table beside the texts, format risk, Dublin Core creators.
# 6: hidden tags (filters and visibility inside the FTS5 index), prefix index of 4 letters too.
# 7: opening days tagged by every beginning of their digits.
# 8: restricted records, and masked stand-ins a researcher finds until a record opens (access tags).
SCHEMA_VERSION = 8
# Documents per write transaction: large enough to be fast, small enough that another
# process waiting for the lock is not kept out for long (about 0.1 s of CPU). Each commit
# writes again every page of the indexes the batch touched (paths and dates land all over
# them): 2,000 rather than 500 wrote 40% fewer bytes to the log, and took 12% less CPU,
# for 10,000 files of one package.
BATCH_SIZE = 2000
# After writing, segments are merged (see _merge_segments) for this share of the time the writes took,
# MERGE_STEP_PAGES pages (4 KiB each) to a transaction, about 30 ms a step at 100,000 documents.
MERGE_SHARE = 0.5
MERGE_STEP_PAGES = 256
_SNIPPET_TOKENS = 12

_FTS_NAMES = ", ".join(name for name, _ in FTS_COLUMNS)


def _fts_values(prefix: str) -> str:
    return ", ".join(f"{prefix}.{name}" for name, _ in FTS_COLUMNS)


_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY,
        package TEXT NOT NULL,
        path TEXT NOT NULL,  -- '' for the package itself, so (package, path) can be UNIQUE
        kind TEXT NOT NULL CHECK (kind IN ('package', 'file')),
        puid TEXT,
        format_name TEXT,
        risk TEXT,
        validity TEXT,  -- characterisation verdict; NULL: never characterised (and packages)
        role TEXT,  -- NULL for a package document
        date TEXT,  -- ISO 8601 day
        access TEXT NOT NULL CHECK (access IN ('open', 'closed', 'restricted')),
        opening_date TEXT,  -- ISO 8601 day, so text comparison is date comparison
        masked INTEGER NOT NULL DEFAULT 0 CHECK (masked IN (0, 1)),  -- a researcher's stand-in (see key_path)
        exemption TEXT,  -- the FOI/EIR section a closed or restricted record cites
        UNIQUE (package, path, masked)
    )
    """,
    # What FTS5 reads (NFC text), and what a hit shows beyond the documents row.
    f"""
    CREATE TABLE IF NOT EXISTS texts (
        id INTEGER PRIMARY KEY,  -- documents.id
        {", ".join(f"{name} TEXT" for name, _ in FTS_COLUMNS)},
        version INTEGER NOT NULL,
        dublin_core_json TEXT NOT NULL,  -- the mapping itself, to rebuild a hit
        file_uuid TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS creators (
        doc INTEGER NOT NULL,
        value TEXT NOT NULL,  -- as written: what the facet shows
        key TEXT NOT NULL,  -- query.fold_key(value): what the filter compares
        PRIMARY KEY (doc, value)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS creators_key ON creators (key, doc)",
    # Filters on these are hidden tags in the FTS5 index and their facets group the matches, so no
    # search reads an index on them: files of schema 8 made before this knew had three, each costing
    # every write a b-tree insert (a sixth of indexing an ingest); dropping them changes no answer.
    "DROP INDEX IF EXISTS documents_puid",
    "DROP INDEX IF EXISTS documents_format",
    "DROP INDEX IF EXISTS documents_risk",
    # The two date orders, each with its tie-break, so a date-sorted page reads an index.
    "CREATE INDEX IF NOT EXISTS documents_newest ON documents (date DESC, package, path)",
    "CREATE INDEX IF NOT EXISTS documents_oldest ON documents (date IS NULL, date, package, path)",
    f"""
    CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
        {_FTS_NAMES},
        content = 'texts', content_rowid = 'id',
        -- Indexes of 2- to 4-letter beginnings: `harb*` reads one list, not every word starting so.
        prefix = '2 3 4',
        tokenize = "unicode61 remove_diacritics 2 separators '/._-'"
    )
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS texts_ai AFTER INSERT ON texts BEGIN
        INSERT INTO documents_fts (rowid, {_FTS_NAMES}) VALUES (new.id, {_fts_values("new")});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS texts_ad AFTER DELETE ON texts BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, {_FTS_NAMES})
        VALUES ('delete', old.id, {_fts_values("old")});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS texts_au AFTER UPDATE ON texts BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, {_FTS_NAMES})
        VALUES ('delete', old.id, {_fts_values("old")});
        INSERT INTO documents_fts (rowid, {_FTS_NAMES}) VALUES (new.id, {_fts_values("new")});
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
        DELETE FROM texts WHERE id = old.id;
        DELETE FROM creators WHERE doc = old.id;
    END
    """,
)

# Positional parameters and one executemany for each table over a whole batch: binding by name and
# a statement per row cost more than SQLite's own work. The id is given for a new row (see _ids) and
# NULL for one already there, which then conflicts on (package, path, masked) and keeps its id.
_UPSERT_DOCUMENT = f"""
    INSERT INTO documents (id, {", ".join(DOCUMENT_COLUMNS)})
    VALUES (?{", ?" * len(DOCUMENT_COLUMNS)})
    ON CONFLICT (package, path, masked) DO UPDATE SET
        {", ".join(f"{column} = excluded.{column}" for column in DOCUMENT_COLUMNS[2:])}
"""
_TEXT_COLUMNS = (*(name for name, _ in FTS_COLUMNS), "version", "dublin_core_json", "file_uuid")
# Many rows to a statement, not one statement a row: the triggers keep documents_fts in step, and FTS5
# (SQLite 3.40) writes the words it holds in memory out as a new segment at the start of every statement
# that runs a trigger, so a statement a row made a segment a row for automerge to merge again (half of
# the CPU indexing took).
_TEXT_ROWS_PER_STATEMENT = 999 // (1 + len(_TEXT_COLUMNS))  # parameters within the 999 an old SQLite allows


def _upsert_texts(rows: int) -> str:
    row = f"(?{', ?' * len(_TEXT_COLUMNS)})"
    return (
        f"INSERT INTO texts (id, {', '.join(_TEXT_COLUMNS)}) VALUES {', '.join([row] * rows)} "
        f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{column} = excluded.{column}' for column in _TEXT_COLUMNS)}"
    )


# A documents row's key, (package, path, masked): what _UPSERT_DOCUMENT conflicts on.
_key_of = operator.itemgetter(*(DOCUMENT_COLUMNS.index(column) for column in ("package", "path", "masked")))
# Keys looked up in one statement: 4 parameters each, within the 999 an old SQLite allows.
_LOOKUP_KEYS = 240


class SqliteSearchIndex:
    """SearchIndex over one SQLite file; one connection per instance, safe to share between threads."""

    name = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = 30.0, tidy: bool = True) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._tidy = tidy  # merge segments after writes (a rebuild merges everything once, at the end)
        self._lock = threading.Lock()  # the one connection is shared by this instance's callers
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None  # the file the connection has open
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SearchError(f"Cannot create the folder for the search index {path}: {err}.") from err
        self._open()

    def __repr__(self) -> str:
        return f"SqliteSearchIndex({str(self.path)!r})"

    def __enter__(self) -> SqliteSearchIndex:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    # --- the SearchIndex protocol ---------------------------------------------------------

    def index(self, documents: Iterable[SearchDocument]) -> int:
        """Add or replace documents, BATCH_SIZE to a transaction so other writers get a turn.

        A failure part-way keeps the batches already written; indexing the same
        documents again is harmless, as each replaces its (package, path) namesake.
        """
        count = 0
        batch: list[Row] = []
        started = time.monotonic()
        # One batch is written (SQLite, which lets go of the GIL) while the next is made (reading texts from
        # storage, building rows): the writes stay in order, one at a time, and the first failure stops both.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer") as writer:
            pending: Future[int] | None = None
            try:
                for document in documents:
                    batch.append(row_of(document))
                    if len(batch) >= BATCH_SIZE:
                        if pending is not None:
                            count += pending.result()
                        pending, batch = writer.submit(self._write_batch, batch), []
                if pending is not None:
                    count += pending.result()
                    pending = None
                if batch:
                    count += self._write_batch(batch)
                if count and self._tidy:
                    self._merge_segments(budget=(time.monotonic() - started) * MERGE_SHARE)
            except sqlite3.Error as err:
                raise self._failure("add documents", err) from err
            finally:
                if pending is not None:
                    with suppress(BaseException):
                        pending.result()  # a batch still being written when making the next failed: let it end
        return count

    def delete_package(self, package: str) -> None:
        # A trigger takes each row's texts and creators with it.
        try:
            with self._writing() as conn:
                conn.execute("DELETE FROM documents WHERE package = ?", (package,))
        except sqlite3.Error as err:
            raise self._failure("remove a package", err) from err

    def purge_package(self, package: str) -> None:
        """Delete a package's rows so that none of its text stays in the file or its write-ahead log (disposal).

        secure_delete zeroes the freed space of each row and page; FTS5's optimize merges every
        segment into one, so no segment keeps the package's words as deleted-but-unmerged entries;
        a TRUNCATE checkpoint copies the log into the file and empties it.
        """
        try:
            with self._lock:
                conn = self._connection()
                conn.execute("PRAGMA secure_delete = ON")
                try:
                    with _transaction(conn, "BEGIN IMMEDIATE"):
                        conn.execute("DELETE FROM documents WHERE package = ?", (package,))
                        conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
                finally:
                    conn.execute("PRAGMA secure_delete = OFF")
                self._checkpoint(conn)
        except sqlite3.Error as err:
            raise self._failure("purge a package", err) from err

    def _merge_segments(self, budget: float) -> None:
        """Merge the FTS5 index's segments, MERGE_STEP_PAGES at a time, for about `budget` seconds (one step at least).

        Each write transaction adds a segment, which FTS5 merges only lazily: an archive ingested in
        batches ends with a dozen or more, and every word of every search is then looked up in each
        (a researcher's search holds some eighty hidden-tag tokens: 1.5 ms a MATCH at 18 segments, a
        fifth of that at one). Steps are short transactions, so other writers get their turn; a merge
        left unfinished is carried on by the next write.
        """
        deadline = time.monotonic() + budget
        while True:
            with self._writing() as conn:
                before = conn.total_changes
                conn.execute(
                    "INSERT INTO documents_fts (documents_fts, rank) VALUES ('merge', ?)", (-MERGE_STEP_PAGES,)
                )
                merged = conn.total_changes - before >= 2  # fewer: there was nothing left to merge
            if not merged or time.monotonic() >= deadline:
                return

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        # A reader in the middle of a search holds the log open; it finishes quickly, so wait a little.
        for delay in (0.0, 0.05, 0.2, 0.5, 1.0, 2.0):
            time.sleep(delay)
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
        raise SearchError(
            f"The package's rows are gone from the search index {self.path}, but another process kept reading it, "
            "so its write-ahead log could not be emptied and may still hold the package's words.",
            details=["Run the same command again when no search is running (it finishes the purge)."],
        )

    def search(self, query: SearchQuery) -> SearchResults:
        """Ranked by bm25 when there are words to match; by package and path otherwise (or by date).

        One FTS5 expression selects the matches: the words, the filters and what the viewer
        may see (sqlite_query.tag_filters); sqlite_search.py cuts the page and counts facets.
        """
        checked = check(query)
        day = iso_day(query.day())
        assert day is not None
        plan = Plan(params={"day": day})
        plan.add_tree(language.parse(query.text))
        tags = tag_filters(query, checked, plan)
        expression = tags.expression(plan.match)
        try:
            with self._reading() as conn:
                total = sqlite_search.count(conn, expression)
                rows = sqlite_search.page(
                    conn, plan, tags, query.sort, total, checked.after, query.offset, query.limit + 1
                )
                page = rows[: query.limit]
                hits = self._hits(conn, page, plan, query.sort == "relevance", visible_to(checked.viewer))
                facets = sqlite_search.facets(conn, query.facets, expression, plan.params) if query.facets else {}
        except sqlite3.Error as err:
            raise self._failure("search", err) from err
        more = len(rows) > query.limit
        next_after = make_cursor(query.sort, page[-1][1:]) if more and page else None
        return SearchResults(total=total, hits=hits, facets=facets, next_after=next_after)

    def packages(self) -> set[str]:
        try:
            with self._reading() as conn:
                return {row[0] for row in conn.execute("SELECT DISTINCT package FROM documents")}
        except sqlite3.Error as err:
            raise self._failure("list packages", err) from err

    def is_empty(self) -> bool:
        try:
            with self._reading() as conn:
                return conn.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is None
        except sqlite3.Error as err:
            raise self._failure("look into", err) from err

    def clear(self) -> None:
        # Dropping and recreating is far quicker than deleting row by row through the triggers.
        try:
            with self._writing() as conn:
                _drop_tables(conn)
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error as err:
            raise self._failure("clear", err) from err

    def start_rebuild(self) -> SqliteRebuild:
        """A new index file beside this one; finish() makes it the live one, abandon() deletes it."""
        return SqliteRebuild(self)

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    # --- helpers --------------------------------------------------------------------------

    def _open(self) -> None:
        """Connect to the file at self.path (whatever it names now) and make its tables."""
        try:
            # Who the file is, taken before connecting: were it swapped in between, the next
            # use sees a different file than recorded and connects again.
            self._identity = _identity(self.path)
            self._conn = sqlite3.connect(
                self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise self._failure("open", err) from err
        try:
            self._setup(self._conn)
        except sqlite3.Error as err:
            self._disconnect()
            raise self._failure("open", err) from err
        except SearchError:
            self._disconnect()
            raise
        if self._identity is None:
            self._identity = _identity(self.path)

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _setup(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never corrupts; a power cut may lose the last commits, which
        # a rebuild from storage restores.
        conn.execute("PRAGMA synchronous = NORMAL")
        # 16 MiB: the hot pages of the narrow table and the FTS index. The web benchmark's searches over
        # 100,000 records filled 30 MiB of a 64 MiB cache and ran 2% faster than with 16 MiB, which holds
        # 10 MiB less on each connection (the web service has one per thread).
        conn.execute("PRAGMA cache_size = -16384")
        with _transaction(conn, "BEGIN IMMEDIATE"):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SearchError(
                    f"The search index {self.path} was made by a newer version of Strongroom "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}). Upgrade Strongroom, or "
                    "delete the file and rebuild the index."
                )
            if 0 < version < SCHEMA_VERSION:
                # An index from an older release is not converted: it is derived data, which
                # storage and the catalog can always give again. It is dropped and made anew,
                # empty; packages() then lists none of its packages, which is how the archive
                # sees what to index again (`strongroom rebuild` does all of it at once).
                _drop_tables(conn)
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connection(self) -> sqlite3.Connection:
        """The connection, on the file the path names now (a rebuild elsewhere may have swapped it)."""
        if self._conn is None:
            raise SearchError(f"The search index {self.path} has been closed.")
        now = _identity(self.path)
        if now is not None and now != self._identity:
            self._disconnect()
            self._open()
            assert self._conn is not None
        return self._conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so waiting for another writer goes
        # through the busy timeout instead of failing when a read turns into a write.
        with self._lock:
            conn = self._connection()
            with _transaction(conn, "BEGIN IMMEDIATE"):
                yield conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        # One read transaction, so the total, the page and the facets see the same snapshot.
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.rollback()

    def _write_batch(self, batch: list[Row]) -> int:
        # The last of several rows with one key wins, as when each replaced the one before.
        latest = {_key_of(row[0]): row for row in batch}
        with self._writing() as conn:
            planned = list(zip(_ids(conn, list(latest)), latest.values(), strict=True))
            conn.executemany(_UPSERT_DOCUMENT, [(None if there else id_, *row[0]) for (id_, there), row in planned])
            for start in range(0, len(planned), _TEXT_ROWS_PER_STATEMENT):
                part = planned[start : start + _TEXT_ROWS_PER_STATEMENT]
                conn.execute(_upsert_texts(len(part)), [value for (id_, _), row in part for value in (id_, *row[1])])
            conn.executemany("DELETE FROM creators WHERE doc = ?", [(id_,) for (id_, _), _ in planned])
            conn.executemany(
                "INSERT OR IGNORE INTO creators (doc, value, key) VALUES (?, ?, ?)",
                [(id_, value, key) for (id_, _), row in planned for value, key in row[2]],
            )
        return len(batch)

    def _hits(
        self, conn: sqlite3.Connection, page: list[tuple[Any, ...]], plan: Plan, scored: bool, visible: str | None
    ) -> tuple[SearchHit, ...]:
        """The page's rows as hits, in the page's order, with snippets of the positive terms."""
        if not page:
            return ()
        ids = ", ".join(str(int(row[0])) for row in page)
        guard = f" AND {visible}" if visible else ""
        params = {"day": plan.params["day"]}
        details = {
            row[0]: row
            for row in conn.execute(
                f"SELECT {HIT_COLUMNS} FROM documents AS d JOIN texts AS t ON t.id = d.id WHERE d.id IN ({ids}){guard}",
                params,
            )
        }
        snippets: dict[int, str] = {}
        if plan.highlight is not None:
            # Only the page's rows, each one the viewer may see, and only the terms a match contains.
            snippets = dict(
                conn.execute(
                    "SELECT d.id, snippet(documents_fts, -1, :start, :end, '…', :tokens) "
                    "FROM documents AS d CROSS JOIN documents_fts ON documents_fts.rowid = d.id "
                    f"WHERE d.id IN ({ids}){guard} AND d.masked = 0 AND documents_fts MATCH :highlight",
                    {**params, "start": HIGHLIGHT_START, "end": HIGHLIGHT_END, "tokens": _SNIPPET_TOKENS,
                     "highlight": plan.highlight},
                )
            )  # fmt: skip
        return tuple(
            hit(details[row[0]], sqlite_search.score_of(row[1]) if scored else 0.0, snippets.get(row[0]))
            for row in page
            if row[0] in details
        )

    def _swap_in(self, new_file: Path) -> None:
        """Make `new_file` (complete and closed) the live index in one rename, and use it from now on."""
        with self._lock:
            previous = _generation(self.path)
            self._disconnect()
            link = self.path.with_name(f"{self.path.name}.link-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.symlink(new_file.name, link)
            except OSError:
                # No symbolic links here (some Windows set-ups): rename the file itself.
                os.replace(new_file, self.path)
            else:
                os.replace(link, self.path)
            self._open()
        if previous is not None and previous != new_file:
            # A process still reading it keeps its open file until it notices the swap.
            _remove_database(previous)

    def _failure(self, action: str, err: sqlite3.Error) -> SearchError:
        text = str(err)
        if "locked" in text or "busy" in text:
            return SearchError(
                f"Could not {action} in the search index {self.path}: another process kept it busy "
                f"for more than {self._busy_timeout:g} seconds. Try again when it has finished."
            )
        if "no such module: fts5" in text:
            return SearchError(
                "This Python's SQLite was built without full-text search (FTS5), which the search "
                "index needs. Use a Python whose sqlite3 module includes FTS5."
            )
        if "not a database" in text or "malformed" in text:
            return SearchError(
                f"The search index {self.path} is damaged or is not a search index ({text}). Delete "
                "it and rebuild the index; it can always be rebuilt from storage."
            )
        return SearchError(f"Could not {action} in the search index {self.path}: {text}.")


class SqliteRebuild:
    """A new index file filled beside the live one (`<path>.rebuild-<pid>-<random>`)."""

    def __init__(self, live: SqliteSearchIndex) -> None:
        self._live = live
        self.path = live.path.with_name(f"{live.path.name}.rebuild-{os.getpid()}-{secrets.token_hex(4)}")
        _create_like(self.path, live.path)
        self._index: SqliteSearchIndex | None = SqliteSearchIndex(self.path, busy_timeout=live._busy_timeout,
                                                                  tidy=False)  # fmt: skip

    def index(self, documents: Iterable[SearchDocument]) -> int:
        return self._target().index(documents)

    def finish(self) -> None:
        """Swap the new file in; searches already running on the old one finish there."""
        target = self._target()
        try:
            with target._writing() as conn:  # one segment: the quickest file to search (see _merge_segments)
                conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
        except sqlite3.Error as err:
            raise target._failure("merge the rebuilt index", err) from err
        target.close()  # complete and closed: its write-ahead log checkpointed into the file
        self._index = None
        try:
            self._live._swap_in(self.path)
        except OSError as err:
            raise SearchError(f"Could not put the rebuilt search index in place of {self._live.path}: {err}.") from err
        except sqlite3.Error as err:
            raise self._live._failure("open the rebuilt index", err) from err

    def abandon(self) -> None:
        """Delete the new file; the live index is untouched. Harmless after finish() or a second time."""
        if self._index is None:
            return
        self._index.close()
        self._index = None
        _remove_database(self.path)

    def _target(self) -> SqliteSearchIndex:
        if self._index is None:
            raise SearchError("This rebuild of the search index has already been finished or abandoned.")
        return self._index


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.rollback()


def _create_like(path: Path, live: Path) -> None:
    """Create the empty file `path` with the permissions of `live`, the index it will replace.

    The index holds the words of closed records: a live file kept private must not be
    replaced by one open to all (SQLite gives its -wal and -shm files the same mode).
    """
    try:
        mode = stat.S_IMODE(live.stat().st_mode)
    except OSError:
        return  # no live file yet: SQLite creates the new one as it would any index
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
        os.chmod(path, mode)  # as the umask may have narrowed it
    except OSError as err:
        raise SearchError(f"Could not create the new search index {path} for a rebuild: {err}.") from err


def _identity(path: Path) -> tuple[int, int] | None:
    """The file `path` names now (through any symbolic link), or None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def _generation(path: Path) -> Path | None:
    """The rebuilt file a live path links to, if a rebuild put it there (never a file someone else made)."""
    if not path.is_symlink():
        return None
    target = Path(os.readlink(path))
    if target.parent != Path() or not target.name.startswith(f"{path.name}.rebuild-"):
        return None
    return path.with_name(target.name)


def _remove_database(path: Path) -> None:
    for leftover in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal"))):
        with suppress(FileNotFoundError):
            leftover.unlink()


def _drop_tables(conn: sqlite3.Connection) -> None:
    # The triggers, indexes and FTS shadow tables go with the tables they belong to.
    for table in ("documents_fts", "creators", "texts", "documents"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _ids(conn: sqlite3.Connection, keys: list[tuple[object, ...]]) -> list[tuple[int, bool]]:
    """Each (package, path, masked) key's id and whether its row is there already; a new one gets the next free id.

    Asked inside the write transaction, so no other writer can take those ids first; they are the
    ones SQLite would pick itself (the largest id + 1, and up).
    """
    found: dict[int, int] = {}
    for start in range(0, len(keys), _LOOKUP_KEYS):
        part = keys[start : start + _LOOKUP_KEYS]
        values = ", ".join(["(?, ?, ?, ?)"] * len(part))
        found.update(
            conn.execute(
                f"WITH k (place, package, path, masked) AS (VALUES {values}) SELECT k.place, d.id FROM k "
                "CROSS JOIN documents AS d ON d.package = k.package AND d.path = k.path AND d.masked = k.masked",
                [item for place, key in enumerate(part, start) for item in (place, *key)],
            )
        )
    next_id = conn.execute("SELECT max(id) FROM documents").fetchone()[0] or 0
    ids: list[tuple[int, bool]] = []
    for place in range(len(keys)):
        if place in found:
            ids.append((found[place], True))
        else:
            next_id += 1
            ids.append((next_id, False))
    return ids
