"""A SearchIndex in one SQLite file, using FTS5 for the words.

`documents` holds one row per package or file; `documents_fts` is an external-content
FTS5 table over its text columns, kept in step by triggers, so snippets and filters read
the same rows. The tokenizer folds case and diacritics (`Montreal` finds `Montréal`)
and splits paths at `/ . _ -` so `minutes` finds `objects/minutes/1999.pdf`.

Who may see what is decided in SQL, in the WHERE clause of every query (`_visible_to`):
the total, the page, every facet count and every snippet are computed over only the rows
the viewer may see, never filtered afterwards.

Writers use short `BEGIN IMMEDIATE` transactions in WAL mode with a busy timeout,
so several processes can index into the same file while others search it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

from strongroom.errors import SearchError
from strongroom.model import AccessStatus, FileRole
from strongroom.search.base import (
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    KINDS,
    FacetCount,
    Role,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResults,
    role_named,
)

# 2: structured documents (Dublin Core, name, content, version, date) with access status.
# 3: each file's role (original, metadata, ...), so housekeeping files stay out of searches.
SCHEMA_VERSION = 4
# Documents per write transaction: large enough to be fast, small enough that another
# process waiting for the lock is not kept out for long.
BATCH_SIZE = 500
_SNIPPET_TOKENS = 12

# The FTS columns with their bm25 weights: a word in the title, the file's name or its
# path says more about a document than the same word in its Dublin Core, and that more
# than one deep in its content.
_FTS_COLUMNS: tuple[tuple[str, float], ...] = (
    ("title", 10.0),
    ("name", 6.0),
    ("path", 5.0),
    ("dublin_core", 3.0),
    ("package_name", 2.0),
    ("format_name", 2.0),
    ("puid", 2.0),
    ("content", 1.0),
)
_FTS_NAMES = ", ".join(name for name, _ in _FTS_COLUMNS)
_WEIGHTS = ", ".join(str(weight) for _, weight in _FTS_COLUMNS)

# Dublin Core element names are indexed too, each as one token made of this private-use
# character and the name (`\ue000creator`), so that a later field search can find them
# while a plain word never does (`creator` does not find every record with a creator).
# Snippets have the mark removed, so a value reads `creator: Smith, John`.
_ELEMENT_MARK = "\ue000"

# The one place that says who sees what. A closed row counts as open from its opening
# date on (a NULL date never comes); roles that do not see closed records get only the
# rows that count as open. The same status is what the access filter, the access facet
# and SearchHit.access use.
_ACCESS_ON_DAY = "(CASE WHEN d.access = 'open' OR d.opening_date <= :day THEN 'open' ELSE 'closed' END)"


def _visible_to(viewer: Role) -> str | None:
    """The SQL condition on rows `viewer` may see, or None when they may see every row."""
    return None if viewer.sees_closed else f"{_ACCESS_ON_DAY} = 'open'"


_FACET_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "package": "d.package",
        "puid": "d.puid",
        "format": "d.format_name",
        "access": _ACCESS_ON_DAY,
        "validity": "d.validity",
    }
)

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS documents (
        id INTEGER PRIMARY KEY,
        package TEXT NOT NULL,
        package_name TEXT NOT NULL,
        path TEXT NOT NULL,  -- '' for the package itself, so (package, path) can be UNIQUE
        kind TEXT NOT NULL CHECK (kind IN ('package', 'file')),
        version INTEGER NOT NULL,
        title TEXT,
        name TEXT,
        puid TEXT,
        format_name TEXT,
        dublin_core TEXT NOT NULL,  -- values, each after its element's mark: what FTS reads
        dublin_core_json TEXT NOT NULL,  -- the mapping itself, to rebuild a hit
        content TEXT NOT NULL,
        date TEXT,  -- ISO 8601 day
        access TEXT NOT NULL CHECK (access IN ('open', 'closed')),
        opening_date TEXT,  -- ISO 8601 day, so text comparison is date comparison
        file_uuid TEXT,
        role TEXT,  -- NULL for a package document
        validity TEXT,  -- characterisation verdict; NULL: never characterised (and packages)
        UNIQUE (package, path)
    )
    """,
    "CREATE INDEX IF NOT EXISTS documents_puid ON documents (puid)",
    f"""
    CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5 (
        {_FTS_NAMES},
        content = 'documents', content_rowid = 'id',
        tokenize = "unicode61 remove_diacritics 2 separators '/._-'"
    )
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS documents_ai AFTER INSERT ON documents BEGIN
        INSERT INTO documents_fts (rowid, {_FTS_NAMES})
        VALUES (new.id, {", ".join(f"new.{name}" for name, _ in _FTS_COLUMNS)});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS documents_ad AFTER DELETE ON documents BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, {_FTS_NAMES})
        VALUES ('delete', old.id, {", ".join(f"old.{name}" for name, _ in _FTS_COLUMNS)});
    END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS documents_au AFTER UPDATE ON documents BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, {_FTS_NAMES})
        VALUES ('delete', old.id, {", ".join(f"old.{name}" for name, _ in _FTS_COLUMNS)});
        INSERT INTO documents_fts (rowid, {_FTS_NAMES})
        VALUES (new.id, {", ".join(f"new.{name}" for name, _ in _FTS_COLUMNS)});
    END
    """,
)

_ROW_COLUMNS = (
    "package", "package_name", "path", "kind", "version", "title", "name", "puid", "format_name",
    "dublin_core", "dublin_core_json", "content", "date", "access", "opening_date", "file_uuid", "role",
    "validity",
)  # fmt: skip
_UPSERT = f"""
    INSERT INTO documents ({", ".join(_ROW_COLUMNS)})
    VALUES ({", ".join(f":{column}" for column in _ROW_COLUMNS)})
    ON CONFLICT (package, path) DO UPDATE SET
        {", ".join(f"{column} = excluded.{column}" for column in _ROW_COLUMNS[1:])}
"""

_HIT_COLUMNS = (
    "d.package, d.package_name, d.path, d.title, d.name, d.puid, d.format_name, d.file_uuid, d.version, "
    f"d.date, {_ACCESS_ON_DAY}, d.opening_date, d.dublin_core_json, d.role, d.validity"
)


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
        batch: list[dict[str, object]] = []
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
        viewer, access, roles = _check_query(query)
        match = match_expression(query.text)
        params: dict[str, object] = {
            "day": _iso_day(query.day()),
            "limit": query.limit,
            "offset": query.offset,
            "start": HIGHLIGHT_START,
            "end": HIGHLIGHT_END,
            "tokens": _SNIPPET_TOKENS,
        }
        visible = _visible_to(viewer)
        conditions = [visible] if visible is not None else []
        if match is not None:
            conditions.append("documents_fts MATCH :match")
            params["match"] = match
        filters = (("puid", query.puid), ("package", query.package), ("kind", query.kind), ("validity", query.validity))
        for column, value in filters:
            if value is not None:
                conditions.append(f"d.{column} = :{column}")
                params[column] = value
        if access is not None:
            conditions.append(f"{_ACCESS_ON_DAY} = :access")
            params["access"] = access.value
        role_names = [f":role_{n}" for n in range(len(roles))]
        params.update({name[1:]: role for name, role in zip(role_names, roles, strict=True)})
        # A file indexed without a role is a record (an original), as before roles were kept.
        in_roles = f"coalesce(d.role, '{FileRole.ORIGINAL.value}') IN ({', '.join(role_names) or 'NULL'})"
        conditions.append(f"(d.kind = 'package' OR {in_roles})")
        source = (
            "documents_fts JOIN documents AS d ON d.id = documents_fts.rowid" if match is not None else "documents AS d"
        )
        where = " WHERE " + " AND ".join(conditions) if conditions else ""
        if match is not None:
            ranking = f"-bm25(documents_fts, {_WEIGHTS}), snippet(documents_fts, -1, :start, :end, '…', :tokens)"
            order = f"bm25(documents_fts, {_WEIGHTS}), d.package, d.path"
        else:
            ranking, order = "0.0, NULL", "d.package_name, d.package, d.path"
        hits_sql = f"SELECT {_HIT_COLUMNS}, {ranking} FROM {source}{where} ORDER BY {order} LIMIT :limit OFFSET :offset"
        try:
            with self._reading() as conn:
                total = int(conn.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0])
                rows = conn.execute(hits_sql, params).fetchall()
                facets = {facet: _facet(conn, facet, source, conditions, params) for facet in query.facets}
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
                _drop_tables(conn)
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

    def _write_batch(self, batch: list[dict[str, object]]) -> int:
        with self._writing() as conn:
            conn.executemany(_UPSERT, batch)
        return len(batch)

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


def _drop_tables(conn: sqlite3.Connection) -> None:
    # The triggers and the FTS shadow tables go with the tables they belong to.
    conn.execute("DROP TABLE IF EXISTS documents_fts")
    conn.execute("DROP TABLE IF EXISTS documents")


def _facet(
    conn: sqlite3.Connection, facet: str, source: str, conditions: list[str], params: Mapping[str, object]
) -> tuple[FacetCount, ...]:
    # The same conditions as the total, the viewer's visibility among them.
    value = _FACET_COLUMNS[facet]  # facet names were checked against it
    where = " WHERE " + " AND ".join([*conditions, f"{value} IS NOT NULL"])
    sql = f"SELECT {value}, count(*) FROM {source}{where} GROUP BY 1 ORDER BY 2 DESC, 1"
    return tuple(FacetCount(value=str(name), count=int(count)) for name, count in conn.execute(sql, params))


def _check_query(query: SearchQuery) -> tuple[Role, AccessStatus | None, tuple[str, ...]]:
    """The viewer's role, the access filter and the file roles, once the query is known to make sense."""
    if query.limit < 0:
        raise SearchError(f"A search cannot return a negative number of results (limit {query.limit}).")
    if query.offset < 0:
        raise SearchError(f"A search cannot start before the first result (offset {query.offset}).")
    if query.kind is not None and query.kind not in KINDS:
        raise SearchError(f"Unknown kind {query.kind!r}; use one of: {', '.join(KINDS)}.")
    unknown = [facet for facet in query.facets if facet not in _FACET_COLUMNS]
    if unknown:
        raise SearchError(f"Unknown facet {unknown[0]!r}; available facets: {', '.join(FACETS)}.")
    try:
        access = None if query.access is None else AccessStatus(query.access)
    except ValueError:
        choices = ", ".join(status.value for status in AccessStatus)
        raise SearchError(f"Unknown access status {query.access!r}; use one of: {choices}.") from None
    roles = query.file_roles()
    known = {role.value for role in FileRole}
    strange = [role for role in roles if role not in known]
    if strange:
        raise SearchError(f"Unknown file role {strange[0]!r}; use any of: {', '.join(sorted(known))}.")
    # Whatever the viewer field holds, anything but a known role sees as little as possible.
    return role_named(query.viewer if isinstance(query.viewer, str) else None), access, roles


def _row_of(document: SearchDocument) -> dict[str, object]:
    if document.path == "":
        raise SearchError(
            f"A document of package {document.package} has an empty path; use None for the "
            "package itself and the file's path otherwise."
        )
    where = f"document {document.package}/{document.path or ''}"
    try:
        access = AccessStatus(document.access)
    except ValueError:
        choices = ", ".join(status.value for status in AccessStatus)
        raise SearchError(
            f"The {where} has an unknown access status {document.access!r}; use one of: {choices}."
        ) from None
    if isinstance(document.version, bool) or not isinstance(document.version, int) or document.version < 1:
        raise SearchError(f"The {where} has version {document.version!r}; versions are whole numbers from 1.")
    elements = _elements(document.dublin_core)
    return {
        "package": document.package,
        "package_name": document.package_name,
        "path": document.path or "",
        "kind": "package" if document.path is None else "file",
        "version": document.version,
        "title": document.title,
        "name": document.name,
        "puid": document.puid,
        "format_name": document.format_name,
        "dublin_core": _dublin_core_text(elements),
        "dublin_core_json": json.dumps(elements, ensure_ascii=False),
        "content": document.content or "",
        "date": _iso_day(document.date),
        "access": access.value,
        "opening_date": _iso_day(document.opening_date),
        "file_uuid": document.file_uuid,
        "role": document.role,
        "validity": document.validity,
    }


def _elements(dublin_core: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    # A lone string is one value, not a sequence of one-letter values.
    return {
        str(element): [values] if isinstance(values, str) else [str(value) for value in values]
        for element, values in dublin_core.items()
    }


def _dublin_core_text(elements: Mapping[str, list[str]]) -> str:
    lines: list[str] = []
    for element, values in elements.items():
        mark = _ELEMENT_MARK + "".join(char for char in element if _is_token_char(char))
        # A value cannot forge an element's mark.
        lines.extend(f"{mark}: {value.replace(_ELEMENT_MARK, ' ')}" for value in values)
    return "\n".join(lines)


def _iso_day(day: dt.date | None) -> str | None:
    if day is None:
        return None
    # A datetime is a date too; only its day counts, and it must compare as one.
    return (day.date() if isinstance(day, dt.datetime) else day).isoformat()


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _hit(row: tuple[Any, ...]) -> SearchHit:
    (package, package_name, path, title, name, puid, format_name, file_uuid, version, date, access, opening_date,
     dublin_core, role, validity, score, snippet) = row  # fmt: skip
    return SearchHit(
        package=package,
        package_name=package_name,
        path=path or None,
        title=title,
        puid=puid,
        format_name=format_name,
        file_uuid=file_uuid,
        score=float(score),
        snippet=snippet.replace(_ELEMENT_MARK, "") if snippet else None,
        version=int(version),
        access=AccessStatus(access),
        opening_date=_day(opening_date),
        name=name,
        date=_day(date),
        dublin_core={element: tuple(values) for element, values in json.loads(dublin_core).items()},
        role=role,
        validity=validity,
    )
