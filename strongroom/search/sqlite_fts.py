"""A SearchIndex in one SQLite file, using FTS5 for the words.

`documents` holds one row per package or file; `documents_fts` is an external-content
FTS5 table over it, kept in step by triggers, so snippets and filters read the
same rows. The tokenizer folds case and diacritics (`Montreal` finds `Montréal`)
and splits paths at `/ . _ -` so `minutes` finds `objects/minutes/1999.pdf`.

Writers use short `BEGIN IMMEDIATE` transactions in WAL mode with a busy timeout,
so several processes can index into the same file while others search it.
"""

from __future__ import annotations

import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from strongroom.errors import SearchError
from strongroom.search.base import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    FacetCount,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
)

SCHEMA_VERSION = 1
FACETS = ("package", "puid")
KINDS = ("package", "file")
# Documents per write transaction: large enough to be fast, small enough that another
# process waiting for the lock is not kept out for long.
BATCH_SIZE = 500
# bm25 column weights, in the order of the FTS columns: a word in the title or the
# file's path says more about a document than the same word deep in its text.
_WEIGHTS = "10.0, 5.0, 3.0, 2.0, 1.0"
_SNIPPET_TOKENS = 12

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY,
        package TEXT NOT NULL,
        package_name TEXT NOT NULL,
        path TEXT NOT NULL,  -- '' for the package itself, so (package, path) can be UNIQUE
        title TEXT,
        text TEXT NOT NULL,
        puid TEXT,
        format_name TEXT,
        file_uuid TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('package', 'file')),
        UNIQUE (package, path)
    )
    """,
    "CREATE INDEX IF NOT EXISTS documents_puid ON documents (puid)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
        title, path, package_name, format_name, text,
        content = 'documents', content_rowid = 'id',
        tokenize = "unicode61 remove_diacritics 2 separators '/._-'"
    )
    """,
    """
    CREATE TRIGGER IF NOT EXISTS documents_ai AFTER INSERT ON documents BEGIN
        INSERT INTO documents_fts (rowid, title, path, package_name, format_name, text)
        VALUES (new.id, new.title, new.path, new.package_name, new.format_name, new.text);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, title, path, package_name, format_name, text)
        VALUES ('delete', old.id, old.title, old.path, old.package_name, old.format_name, old.text);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS documents_au AFTER UPDATE ON documents BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, title, path, package_name, format_name, text)
        VALUES ('delete', old.id, old.title, old.path, old.package_name, old.format_name, old.text);
        INSERT INTO documents_fts (rowid, title, path, package_name, format_name, text)
        VALUES (new.id, new.title, new.path, new.package_name, new.format_name, new.text);
    END
    """,
)

_UPSERT = """
    INSERT INTO documents (package, package_name, path, title, text, puid, format_name, file_uuid, kind)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (package, path) DO UPDATE SET
        package_name = excluded.package_name, title = excluded.title, text = excluded.text,
        puid = excluded.puid, format_name = excluded.format_name, file_uuid = excluded.file_uuid,
        kind = excluded.kind
"""

_Row = tuple[str, str, str, str | None, str | None, str | None, str | None, float, str | None]


def match_expression(text: str) -> str | None:
    """Turn what a person typed into a safe FTS5 MATCH expression, or None for "everything".

    Every whitespace-separated word becomes a quoted phrase, so quotes, `-`, `:`,
    `(`, `AND` and the like are only ever words, never syntax; all words must
    match. A trailing `*` asks for words starting with what comes before it.
    Words with no letters or digits (`*`, `"`, `-`) are dropped, as the tokenizer
    would drop them anyway.
    """
    phrases = []
    for term in text.replace("\x00", " ").split():
        word = term.rstrip("*")
        if not any(_is_token_char(char) for char in word):
            continue
        phrase = '"' + word.replace('"', '""') + '"'
        phrases.append(phrase + "*" if word != term else phrase)
    return " AND ".join(phrases) or None


def _is_token_char(char: str) -> bool:
    # unicode61's default token characters: letters, numbers and private-use characters.
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


class SqliteSearchIndex:
    """SearchIndex over one SQLite file; one connection per instance, safe to share between threads."""

    name = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()  # the one connection is shared by this instance's callers
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SearchError(f"Cannot create the folder for the search index {path}: {err}.") from err
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise self._failure("open", err) from err
        try:
            self._setup()
        except sqlite3.Error as err:
            self.close()
            raise self._failure("open", err) from err
        except SearchError:
            self.close()
            raise

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
        batch: list[tuple[str | None, ...]] = []
        try:
            for document in documents:
                batch.append(_row_of(document))
                if len(batch) >= BATCH_SIZE:
                    count += self._write_batch(batch)
                    batch = []
            if batch:
                count += self._write_batch(batch)
        except sqlite3.Error as err:
            raise self._failure("add documents", err) from err
        return count

    def delete_package(self, package: str) -> None:
        try:
            with self._writing() as conn:
                conn.execute("DELETE FROM documents WHERE package = ?", (package,))
        except sqlite3.Error as err:
            raise self._failure("remove a package", err) from err

    def search(self, query: SearchQuery) -> SearchResults:
        """Ranked by bm25 when there are words to match; by package and path otherwise."""
        _check_query(query)
        match = match_expression(query.text)
        conditions: list[str] = []
        params: list[str] = []
        if match is not None:
            conditions.append("documents_fts MATCH ?")
            params.append(match)
        for column, value in (("puid", query.puid), ("package", query.package), ("kind", query.kind)):
            if value is not None:
                conditions.append(f"d.{column} = ?")
                params.append(value)
        source = (
            "documents_fts JOIN documents AS d ON d.id = documents_fts.rowid" if match is not None else "documents AS d"
        )
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        if match is not None:
            columns = f"-bm25(documents_fts, {_WEIGHTS}), snippet(documents_fts, -1, ?, ?, '…', ?)"
            column_params: Sequence[object] = (HIGHLIGHT_START, HIGHLIGHT_END, _SNIPPET_TOKENS)
            order = f"bm25(documents_fts, {_WEIGHTS}), d.package, d.path"
        else:
            columns, column_params = "0.0, NULL", ()
            order = "d.package_name, d.package, d.path"
        hits_sql = (
            "SELECT d.package, d.package_name, d.path, d.title, d.puid, d.format_name, d.file_uuid, "
            f"{columns} FROM {source}{where} ORDER BY {order} LIMIT ? OFFSET ?"
        )
        try:
            with self._reading() as conn:
                total = conn.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0]
                rows: list[_Row] = conn.execute(
                    hits_sql, [*column_params, *params, query.limit, query.offset]
                ).fetchall()
                facets = {facet: self._facet(conn, facet, source, conditions, params) for facet in query.facets}
        except sqlite3.Error as err:
            raise self._failure("search", err) from err
        return SearchResults(total=total, hits=tuple(_hit(row) for row in rows), facets=facets)

    def packages(self) -> set[str]:
        try:
            with self._reading() as conn:
                return {row[0] for row in conn.execute("SELECT DISTINCT package FROM documents")}
        except sqlite3.Error as err:
            raise self._failure("list packages", err) from err

    def clear(self) -> None:
        # Dropping and recreating is far quicker than deleting row by row through the triggers.
        try:
            with self._writing() as conn:
                conn.execute("DROP TABLE IF EXISTS documents_fts")
                conn.execute("DROP TABLE IF EXISTS documents")
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error as err:
            raise self._failure("clear", err) from err

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- helpers --------------------------------------------------------------------------

    def _setup(self) -> None:
        conn = self._connection()
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        # In WAL mode NORMAL never corrupts; a power cut may lose the last commits, which
        # a rebuild from storage restores.
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._writing() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise SearchError(
                    f"The search index {self.path} was made by a newer version of Strongroom "
                    f"(schema {version}, this one knows {SCHEMA_VERSION}). Upgrade Strongroom, or "
                    "delete the file and rebuild the index."
                )
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise SearchError(f"The search index {self.path} has been closed.")
        return self._conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so waiting for another writer goes
        # through the busy timeout instead of failing when a read turns into a write.
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.rollback()

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

    def _write_batch(self, batch: list[tuple[str | None, ...]]) -> int:
        with self._writing() as conn:
            conn.executemany(_UPSERT, batch)
        return len(batch)

    @staticmethod
    def _facet(
        conn: sqlite3.Connection, facet: str, source: str, conditions: list[str], params: list[str]
    ) -> tuple[FacetCount, ...]:
        column = f"d.{facet}"  # facet names were checked against FACETS
        where = " WHERE " + " AND ".join([*conditions, f"{column} IS NOT NULL"])
        sql = f"SELECT {column}, count(*) FROM {source}{where} GROUP BY {column}"
        rows = conn.execute(f"{sql} ORDER BY count(*) DESC, {column}", params).fetchall()
        return tuple(FacetCount(value=value, count=count) for value, count in rows)

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


def _check_query(query: SearchQuery) -> None:
    if query.limit < 0:
        raise SearchError(f"A search cannot return a negative number of results (limit {query.limit}).")
    if query.offset < 0:
        raise SearchError(f"A search cannot start before the first result (offset {query.offset}).")
    if query.kind is not None and query.kind not in KINDS:
        raise SearchError(f"Unknown kind {query.kind!r}; use one of: {', '.join(KINDS)}.")
    unknown = [facet for facet in query.facets if facet not in FACETS]
    if unknown:
        raise SearchError(f"Unknown facet {unknown[0]!r}; available facets: {', '.join(FACETS)}.")


def _row_of(document: SearchDocument) -> tuple[str | None, ...]:
    if document.path == "":
        raise SearchError(
            f"A document of package {document.package} has an empty path; use None for the "
            "package itself and the file's path otherwise."
        )
    return (
        document.package,
        document.package_name,
        document.path or "",
        document.title,
        document.text,
        document.puid,
        document.format_name,
        document.file_uuid,
        "package" if document.path is None else "file",
    )


def _hit(row: _Row) -> SearchHit:
    package, package_name, path, title, puid, format_name, file_uuid, score, snippet = row
    return SearchHit(
        package=package,
        package_name=package_name,
        path=path or None,
        title=title,
        puid=puid,
        format_name=format_name,
        file_uuid=file_uuid,
        score=float(score),
        snippet=snippet or None,
    )
