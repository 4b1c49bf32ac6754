"""SqliteSearchIndex: the search contract on a real SQLite file, plus SQLite's own concerns."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import ConfigError, SearchError
from strongroom.model import AccessStatus
from strongroom.search import open_search, search_kinds
from strongroom.search.base import Role, SearchDocument, SearchQuery
from strongroom.search.sqlite_fts import SCHEMA_VERSION, SqliteSearchIndex, match_expression
from tests.contracts.search_contract import DOCUMENTS, GUARDED, SECRET, SearchContract


class TestSqliteContract(SearchContract):
    @pytest.fixture
    def search_index(self, tmp_path: Path) -> Iterator[SqliteSearchIndex]:
        index = SqliteSearchIndex(tmp_path / "search.sqlite")
        yield index
        index.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "index" / "search.sqlite"


def doc(package: str, path: str | None, text: str = "word", **fields: Any) -> SearchDocument:
    return SearchDocument(
        package=package, package_name=f"name-{package}", path=path, title=None, content=text, **fields
    )


def check_integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Raises if the FTS index and the documents table disagree.
        conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


# --- the query translation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("   ", None),
        ("minutes", '"minutes"'),
        ("council minutes", '"council" AND "minutes"'),
        ("minu*", '"minu"*'),
        ("minu**", '"minu"*'),
        ('say "hi"', '"say" AND """hi"""'),
        ("a:b", '"a:b"'),
        ("-foo", '"-foo"'),
        ("AND", '"AND"'),
        ('( * - " ≠', None),
        ("(harbour)", '"(harbour)"'),
        ("nul\x00byte", '"nul" AND "byte"'),
        ("ha*bour", '"ha*bour"'),
    ],
)
def test_match_expression(text: str, expected: str | None) -> None:
    assert match_expression(text) == expected


# --- SQLite specifics -------------------------------------------------------------------------


def test_creates_the_folder_and_uses_wal(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    check_integrity(db)


def test_documents_survive_reopening(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)

    with SqliteSearchIndex(db) as index:
        assert index.search(SearchQuery(text="harbour")).total == 3
        assert len(index.packages()) == 2


def test_two_instances_writing_from_two_threads(db: Path) -> None:
    first, second = SqliteSearchIndex(db, busy_timeout=60), SqliteSearchIndex(db, busy_timeout=60)

    def write(index: SqliteSearchIndex, package: str) -> None:
        for n in range(150):
            # One document per call: many short transactions that interleave with the other writer.
            index.index([doc(package, f"objects/{n}.txt", f"shared word{n % 5}")])
            if n % 10 == 0:
                index.search(SearchQuery(text="shared", facets=("package",)))
        index.index(doc(package, f"objects/bulk/{n}.txt") for n in range(600))
        index.delete_package(package + "-none")

    with ThreadPoolExecutor(max_workers=2) as pool:
        running = [pool.submit(write, first, "pkg-a"), pool.submit(write, second, "pkg-b")]
        for future in running:
            future.result()  # re-raises anything the thread raised

    results = first.search(SearchQuery(text="shared", facets=("package",)))
    assert results.total == 300
    assert {f.value: f.count for f in results.facets["package"]} == {"pkg-a": 150, "pkg-b": 150}
    assert second.search(SearchQuery(text="", limit=0)).total == 1500
    first.close()
    second.close()
    check_integrity(db)


def test_one_instance_shared_by_threads(db: Path) -> None:
    with SqliteSearchIndex(db) as index:

        def write(package: str) -> None:
            for n in range(50):
                index.index([doc(package, f"objects/{n}.txt")])
                index.search(SearchQuery(text="word"))

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(write, [f"p{n}" for n in range(4)]))
        assert index.search(SearchQuery(text="word", limit=0)).total == 200


def hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    """Another writer: keep the index's write lock for `seconds`."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
    finally:
        conn.close()


def test_a_writer_waits_for_another_writer(db: Path) -> None:
    with SqliteSearchIndex(db) as index, ThreadPoolExecutor(max_workers=1) as pool:
        locked = threading.Event()
        holder = pool.submit(hold_write_lock, db, 0.5, locked)
        assert locked.wait(5)
        started = time.monotonic()

        assert index.index(DOCUMENTS) == len(DOCUMENTS)

        assert time.monotonic() - started >= 0.3
        holder.result()


def test_a_writer_gives_up_with_a_plain_message(db: Path) -> None:
    with SqliteSearchIndex(db, busy_timeout=0.1) as index, ThreadPoolExecutor(max_workers=1) as pool:
        locked = threading.Event()
        holder = pool.submit(hold_write_lock, db, 1.0, locked)
        assert locked.wait(5)

        with pytest.raises(SearchError, match="busy"):
            index.index(DOCUMENTS)
        holder.result()
        assert index.index(DOCUMENTS) == len(DOCUMENTS)  # and works once the other has finished


_WRITER = """
import sys
import threading
import time
from pathlib import Path
from strongroom.search.base import SearchDocument
from strongroom.search.sqlite_fts import SqliteSearchIndex

with SqliteSearchIndex(Path(sys.argv[1])) as index:
    for n in range(200):
        index.index([SearchDocument(sys.argv[2], "name", f"objects/{n}.txt", None, content="from a process")])
"""


def test_two_processes_indexing_at_once(db: Path) -> None:
    SqliteSearchIndex(db).close()  # both processes then open an existing index
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), package], stderr=subprocess.PIPE)
        for package in ("proc-a", "proc-b")
    ]
    failures = [writer.communicate(timeout=120)[1].decode() for writer in writers]

    assert [writer.returncode for writer in writers] == [0, 0], failures
    with SqliteSearchIndex(db) as index:
        assert index.search(SearchQuery(text="process", limit=0)).total == 400
        assert index.packages() == {"proc-a", "proc-b"}
    check_integrity(db)


def test_clear_leaves_a_consistent_index(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)
        index.clear()
        index.index(DOCUMENTS[:3])
    check_integrity(db)


def test_a_file_that_is_not_an_index(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database, just some text that happens to be long enough" * 20)

    with pytest.raises(SearchError, match="rebuild"):
        SqliteSearchIndex(db)


def test_an_index_from_a_newer_version_is_refused_and_left_alone(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    with pytest.raises(SearchError, match="newer") as raised:
        SqliteSearchIndex(db)

    assert "Upgrade Strongroom" in str(raised.value)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == len(DOCUMENTS)
    finally:
        conn.close()


# The schema of the first release (user_version 1), as it was written then.
_SCHEMA_1 = (
    """
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY, package TEXT NOT NULL, package_name TEXT NOT NULL, path TEXT NOT NULL,
        title TEXT, text TEXT NOT NULL, puid TEXT, format_name TEXT, file_uuid TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('package', 'file')), UNIQUE (package, path)
    )
    """,
    "CREATE INDEX documents_puid ON documents (puid)",
    """
    CREATE VIRTUAL TABLE documents_fts USING fts5 (
        title, path, package_name, format_name, text, content = 'documents', content_rowid = 'id',
        tokenize = "unicode61 remove_diacritics 2 separators '/._-'"
    )
    """,
    """
    CREATE TRIGGER documents_ai AFTER INSERT ON documents BEGIN
        INSERT INTO documents_fts (rowid, title, path, package_name, format_name, text)
        VALUES (new.id, new.title, new.path, new.package_name, new.format_name, new.text);
    END
    """,
    """
    CREATE TRIGGER documents_ad AFTER DELETE ON documents BEGIN
        INSERT INTO documents_fts (documents_fts, rowid, title, path, package_name, format_name, text)
        VALUES ('delete', old.id, old.title, old.path, old.package_name, old.format_name, old.text);
    END
    """,
    "PRAGMA user_version = 1",
)


def test_an_index_from_the_first_release_is_dropped_and_made_anew(db: Path) -> None:
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    for statement in _SCHEMA_1:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO documents (package, package_name, path, title, text, kind) "
        "VALUES ('old-package', 'old', '', 'Old title', 'harbour words', 'package')"
    )
    conn.commit()
    conn.close()

    with SqliteSearchIndex(db) as index:
        # Derived data: the old rows are gone, and packages() shows the archive what to index again.
        assert index.packages() == set()
        assert index.search(SearchQuery(text="harbour", viewer=Role.ADMIN)).total == 0
        assert index.index([*DOCUMENTS, *GUARDED]) == len(DOCUMENTS) + len(GUARDED)
        assert index.search(SearchQuery(text="dredging")).total == 1
        assert index.search(SearchQuery(text=SECRET)).total == 0
        assert index.search(SearchQuery(text=SECRET, viewer=Role.ADMIN)).total == 1

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
        assert {"dublin_core", "dublin_core_json", "content", "access", "opening_date", "version", "role",
                "validity"} <= columns  # fmt: skip
        assert "text" not in columns
    finally:
        conn.close()
    check_integrity(db)

    with SqliteSearchIndex(db) as index:  # and the next opening keeps what is there
        assert index.search(SearchQuery(text="", viewer=Role.ADMIN, limit=0)).total == len(DOCUMENTS) + len(GUARDED)


def test_an_index_without_file_roles_is_dropped_and_made_anew(db: Path) -> None:
    # Schema 2 had no roles: its documents cannot tell a METS file from a record, so they go.
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE documents DROP COLUMN role")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    with SqliteSearchIndex(db) as index:
        assert index.packages() == set()
        assert index.index(DOCUMENTS) == len(DOCUMENTS)
        assert index.search(SearchQuery(text="dredging")).total == 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert "role" in {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
    finally:
        conn.close()


def test_the_column_layout(db: Path) -> None:
    SqliteSearchIndex(db).close()
    conn = sqlite3.connect(db)
    try:
        fts = [row[1] for row in conn.execute("PRAGMA table_info(documents_fts)")]
        plain = [row[1] for row in conn.execute("PRAGMA table_info(documents)")]
    finally:
        conn.close()

    assert fts == ["title", "name", "path", "dublin_core", "package_name", "format_name", "puid", "content"]
    plain_only = {"id", "package", "kind", "version", "dublin_core_json", "date", "access", "opening_date", "file_uuid"}
    plain_only |= {"role", "validity"}
    assert set(plain) == set(fts) | plain_only


def test_dublin_core_element_names_are_marked_tokens(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(
            [
                doc("p", "objects/a.txt", dublin_core={"creator": ("Smith, John",), "Source-Organization": ("Acme",)}),
                # A value holding the mark cannot pass itself off as an element.
                doc("p", "objects/b.txt", dublin_core={"subject": ("\ue000creator",)}),
                doc("p", "objects/c.txt", dublin_core={"title": "A lone string is one value"}),
            ]
        )
        (hit,) = index.search(SearchQuery(text="smith")).hits
        assert hit.snippet == "creator: «Smith», John\nSourceOrganization: Acme"
        assert dict(hit.dublin_core) == {"creator": ("Smith, John",), "Source-Organization": ("Acme",)}
        (lone,) = index.search(SearchQuery(text="lone")).hits
        assert dict(lone.dublin_core) == {"title": ("A lone string is one value",)}

    conn = sqlite3.connect(db)
    try:
        marked = "SELECT path FROM documents_fts WHERE documents_fts MATCH ? ORDER BY path"
        assert [row[0] for row in conn.execute(marked, ['"\ue000creator"'])] == ["objects/a.txt"]
        assert [row[0] for row in conn.execute(marked, ['"\ue000sourceorganization"'])] == ["objects/a.txt"]
    finally:
        conn.close()


def test_visibility_is_part_of_every_statement_a_researcher_runs(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index([*DOCUMENTS, *GUARDED])
        statements: list[str] = []
        assert index._conn is not None
        index._conn.set_trace_callback(statements.append)
        index.search(SearchQuery(text="inquiry", facets=("package", "puid", "format", "access")))
        index._conn.set_trace_callback(None)

    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 6  # the total, the page and four facets
    assert all("d.access = 'open'" in s for s in selects)


def test_an_invalid_version_is_refused(db: Path) -> None:
    with SqliteSearchIndex(db) as index, pytest.raises(SearchError, match="version"):
        index.index([doc("p", "objects/a.txt", version=0)])


def test_a_closed_document_written_by_another_connection_stays_hidden(db: Path) -> None:
    # The status is read from the row at query time, not remembered by the instance.
    with SqliteSearchIndex(db) as reader, SqliteSearchIndex(db) as writer:
        writer.index([doc("p", "objects/a.txt", "hidden")])
        assert reader.search(SearchQuery(text="hidden")).total == 1
        writer.index([doc("p", "objects/a.txt", "hidden", access=AccessStatus.CLOSED)])
        assert reader.search(SearchQuery(text="hidden")).total == 0


def test_using_a_closed_index(db: Path) -> None:
    index = SqliteSearchIndex(db)
    index.close()
    index.close()  # closing twice is harmless

    with pytest.raises(SearchError, match="closed"):
        index.search(SearchQuery(text="x"))


def test_an_empty_path_is_refused(db: Path) -> None:
    with SqliteSearchIndex(db) as index, pytest.raises(SearchError, match="empty path"):
        index.index([doc("p", "")])


# --- the registry ----------------------------------------------------------------------------


def test_open_search_makes_a_sqlite_index(db: Path) -> None:
    index = open_search("sqlite", {"path": str(db), "busy_timeout": 5})
    try:
        assert isinstance(index, SqliteSearchIndex)
        assert index.path == db
        assert "sqlite" in search_kinds()
    finally:
        index.close()


def test_open_search_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        open_search("solr", {})

    assert "solr" in str(raised.value)
    assert "sqlite" in str(raised.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "x", "colour": "red"}, "colour"),
        ({"path": "x", "busy_timeout": "long"}, "busy_timeout"),
        ({"path": "x", "busy_timeout": -1}, "busy_timeout"),
    ],
)
def test_open_search_bad_options(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        open_search("sqlite", options)
