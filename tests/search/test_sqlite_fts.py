"""SqliteSearchIndex: the search contract on a real SQLite file, plus SQLite's own concerns."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
import stat
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
from strongroom.search import open_search, search_kinds, sqlite_search
from strongroom.search import query as language
from strongroom.search.base import FACETS, MAX_WINDOW, Role, SearchDocument, SearchHit, SearchQuery
from strongroom.search.sqlite_fts import SCHEMA_VERSION, SqliteSearchIndex, match_expression
from strongroom.search.sqlite_query import TAG, Plan, _spans
from tests.contracts.search_contract import DOCUMENTS, GUARDED, SECRET, SHELF, SearchContract


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
        ("council minutes", '(("council") AND ("minutes"))'),
        ("minu*", '"minu"*'),
        ("minu**", '"minu"*'),
        ('say "hi there"', '(("say") AND ("hi there"))'),
        ('"harbour pho"*', '"harbour pho"*'),
        ("a:b", '"a b"'),
        ("AND", None),
        ('( * - " ≠', None),
        ("(harbour)", '"harbour"'),
        ("nul\x00byte", '"nul byte"'),
        ("ha*bour", '"ha bour"'),
        ("Montréal OR quay", '(("montreal") OR ("quay"))'),
        ("harbour -pier", '(("harbour")) NOT (("pier"))'),
        ("NEAR(harbour pier)", '(("near") AND ((("harbour") AND ("pier"))))'),
        ("-harbour", None),  # every row except: SQL, not FTS5
        ("harbour OR -pier", None),
    ],
)
def test_match_expression(text: str, expected: str | None) -> None:
    assert match_expression(text) == expected


@pytest.mark.parametrize(
    "text", ["-harbour", "harbour OR -pier", "(a OR -b) c -d", "-(a b) OR c*", "NOT NOT x", '"x y"* -"z w"']
)
def test_every_fts_word_is_quoted(text: str) -> None:
    plan = Plan()
    plan.add_tree(language.parse(text))
    expressions = [plan.match, *(v for v in plan.params.values() if isinstance(v, str))]
    for expression in filter(None, expressions):
        # Outside the quotes only brackets, operators and prefix stars: nothing typed is FTS5 syntax.
        outside = "".join(expression.split('"')[::2])
        assert set(outside.replace("AND", "").replace("OR", "").replace("NOT", "")) <= set("() *"), expression


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
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        columns = {row[1] for row in conn.execute("PRAGMA table_info(documents)")}
        assert {"access", "opening_date", "role", "validity", "risk", "date"} <= columns
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
        texts = [row[1] for row in conn.execute("PRAGMA table_info(texts)")]
        narrow = [row[1] for row in conn.execute("PRAGMA table_info(documents)")]
        creators = [row[1] for row in conn.execute("PRAGMA table_info(creators)")]
    finally:
        conn.close()

    assert fts == ["title", "name", "path", "dublin_core", "package_name", "format_name", "puid", "content", "tags"]
    assert set(texts) == {"id", *fts, "version", "dublin_core_json", "file_uuid"}
    # No long text in the table every filter, sort and facet reads.
    assert set(narrow) == {"id", "package", "path", "kind", "puid", "format_name", "risk", "validity", "role",
                           "date", "access", "opening_date", "masked", "exemption"}  # fmt: skip
    assert creators == ["doc", "value", "key"]


def test_an_index_of_schema_4_is_dropped_and_made_anew(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(DOCUMENTS)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 4")
    conn.close()

    with SqliteSearchIndex(db) as index:
        assert index.packages() == set()
        assert index.index(SHELF) == len(SHELF)
        assert index.search(SearchQuery(text="", creator="emile zola", limit=0)).total == 2
    check_integrity(db)


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
        index.index([*DOCUMENTS, *GUARDED, *SHELF])
        statements: list[str] = []
        assert index._conn is not None
        index._conn.set_trace_callback(statements.append)
        index.search(SearchQuery(text="inquiry OR -harbour", facets=FACETS, sort="newest"))
        index.search(SearchQuery(text="river", facets=("creator",), creator="emile zola"))
        index._conn.set_trace_callback(None)

    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    matching = [s for s in selects if "documents_fts MATCH" in s and "snippet(" not in s]
    # The total, the page and the facets: the matches themselves leave out what is closed on the day
    # (closed for ever, or until a later day), inside the MATCH; a page walked along an index checks
    # each row it probes instead.
    assert len(matching) >= 2 * 3
    # A record not open on the day is left out, and so is a stand-in of one that is open (NOT "m").
    hidden = (f'NOT (((("{TAG}n" OR "{TAG}o', f'NOT "{TAG}m") OR ("{TAG}m" NOT ("{TAG}n" OR "{TAG}o')
    assert all(all(part in s for part in hidden) or "d.masked = 0 AND" in s for s in matching)
    assert sum("EXISTS (SELECT 1 FROM documents_fts" in s for s in matching) == 1  # the newest page, walked
    # The page's details and snippets check each row again; the rest only reads rows already chosen.
    guarded = [s for s in selects if "snippet(" in s or "JOIN texts" in s]
    assert len(guarded) == 2 * 2
    assert all("(d.masked = 0 AND (CASE WHEN d.access = 'open'" in s for s in guarded)
    rest = [s for s in selects if s not in matching and s not in guarded]
    assert all(s.startswith(("SELECT max(id) FROM documents", "SELECT id, package, path FROM documents WHERE id IN"))
               for s in rest)  # fmt: skip


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


# --- rebuilding beside the live file ----------------------------------------------------------


def leftovers(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name != db.name and not p.name.endswith(("-wal", "-shm")))


def test_a_rebuild_fills_a_new_file_and_swaps_it_in(db: Path) -> None:
    with SqliteSearchIndex(db) as live, SqliteSearchIndex(db) as other:
        live.index(DOCUMENTS)
        rebuild = live.start_rebuild()
        assert rebuild.path.parent == db.parent and rebuild.path.name.startswith(f"{db.name}.rebuild-")
        rebuild.index(GUARDED)
        # Both instances keep answering from the live file meanwhile.
        assert other.search(SearchQuery(text="dredging")).total == 1
        assert other.search(SearchQuery(text="inquiry", viewer=Role.ADMIN)).total == 0
        rebuild.finish()

        assert db.is_symlink() and db.resolve() == rebuild.path.resolve()
        for index in (live, other):  # the other instance notices the new file on its next use
            assert index.search(SearchQuery(text="dredging")).total == 0
            assert index.search(SearchQuery(text="inquiry", viewer=Role.ADMIN)).total == len(GUARDED)
        other.index(DOCUMENTS[:2])
        assert live.search(SearchQuery(text="budget")).total == 1

        second = live.start_rebuild()
        second.index(DOCUMENTS)
        second.finish()
        assert leftovers(db) == [second.path.name]  # the first rebuilt file is gone
        assert other.search(SearchQuery(text="dredging")).total == 1
        with pytest.raises(SearchError, match="already"):
            second.index(DOCUMENTS)
        second.abandon()  # after finish: nothing to do
        assert live.search(SearchQuery(text="dredging")).total == 1
    check_integrity(db)
    with SqliteSearchIndex(db) as reopened:
        assert reopened.search(SearchQuery(text="", limit=0)).total == len(DOCUMENTS)


def test_an_abandoned_rebuild_deletes_its_file(db: Path) -> None:
    with SqliteSearchIndex(db) as live:
        live.index(DOCUMENTS)
        rebuild = live.start_rebuild()
        rebuild.index(GUARDED)
        assert rebuild.path.exists()
        rebuild.abandon()
        rebuild.abandon()

        assert leftovers(db) == []
        assert not db.is_symlink()
        assert live.search(SearchQuery(text="dredging")).total == 1
        with pytest.raises(SearchError, match="already"):
            rebuild.finish()


def test_a_process_reading_during_the_swap_keeps_a_sound_file(db: Path) -> None:
    # A reader with the old file open in WAL mode must not share -wal/-shm files with the new one.
    with SqliteSearchIndex(db) as live:
        live.index(DOCUMENTS)
        reader = sqlite3.connect(db, isolation_level=None)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == len(DOCUMENTS)
        rebuild = live.start_rebuild()
        rebuild.index(GUARDED)
        rebuild.finish()
        live.index(DOCUMENTS[:1])

        assert reader.execute("SELECT count(*) FROM documents").fetchone()[0] == len(DOCUMENTS)  # its snapshot
        reader.execute("COMMIT")
        reader.close()
        assert live.search(SearchQuery(text="", viewer=Role.ADMIN, limit=0)).total == len(GUARDED) + 1
    check_integrity(db)


# --- deep paging -------------------------------------------------------------------------------


def test_cursor_paging_far_beyond_the_window(db: Path) -> None:
    count = MAX_WINDOW + 250
    with SqliteSearchIndex(db) as index:
        index.index(doc(f"p{n % 3}", f"objects/{n:05}.txt", "deep") for n in range(count))
        seen: set[tuple[str, str | None]] = set()
        query = SearchQuery(text="deep", limit=2500)
        pages = 0
        while True:
            results = index.search(query)
            pages += 1
            seen |= {(hit.package, hit.path) for hit in results.hits}
            assert results.total == count
            if results.next_after is None:
                break
            query = SearchQuery(text="deep", limit=2500, after=results.next_after)
        assert (len(seen), pages) == (count, 5)
        with pytest.raises(SearchError, match="--page-after"):
            index.search(SearchQuery(text="deep", offset=MAX_WINDOW, limit=1))


# --- speed at a million documents: tags, tiers, walks -----------------------------------------


def test_day_spans_cover_exactly_the_range() -> None:
    days = [f"{n:03d}" for n in range(1000)]
    for low, high in [("000", "999"), ("123", "456"), ("100", "199"), ("555", "555"), ("090", "910"), ("000", "001")]:
        prefixes = _spans(low, high)
        covered = [day for day in days if any(day.startswith(prefix) for prefix in prefixes)]
        assert covered == [day for day in days if low <= day <= high], (low, high)
        assert len(prefixes) <= 2 * 9 * 3


@pytest.mark.parametrize("text", [TAG + "all", f"{TAG}all*", "\ue000*", TAG, "\ue001all", "all", "e000*", "6f70656e"])
def test_a_typed_word_never_matches_a_hidden_tag(db: Path, text: str) -> None:
    with SqliteSearchIndex(db) as index:
        index.index([doc("p", "objects/a.txt", "nothing to see", puid="fmt/1", access=AccessStatus.CLOSED)])
        # A text with no words at all (the marks are separators) lists everything, as any empty search.
        words = language.parse(text) is not None
        assert index.search(SearchQuery(text=text, viewer=Role.ADMIN)).total == (0 if words else 1)
        assert index.search(SearchQuery(text=f"-{text}", viewer=Role.ADMIN)).total == 1


def _tiered_corpus() -> list[SearchDocument]:
    documents = [doc("p", f"objects/c{n:02d}.txt", "minutes of the harbour board " * (1 + n % 3)) for n in range(30)]
    documents += [
        SearchDocument(package="q", package_name="q", path=f"objects/t{n}.txt", title=f"Harbour plan {n}",
                       content="harbour", access=AccessStatus.CLOSED if n == 0 else AccessStatus.OPEN)
        for n in range(4)
    ]  # fmt: skip
    return documents


@pytest.mark.parametrize("viewer", [Role.RESEARCHER, Role.ADMIN])
def test_huge_result_sets_rank_in_tiers_with_the_same_hits(
    db: Path, monkeypatch: pytest.MonkeyPatch, viewer: Role
) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(_tiered_corpus())
        exact = index.search(SearchQuery(text="harbour", viewer=viewer, limit=100))
        monkeypatch.setattr(sqlite_search, "RANK_LIMIT", 5)  # 33 or 34 matches: tiers
        tiered = index.search(SearchQuery(text="harbour", viewer=viewer, limit=100))
        assert tiered.total == exact.total == len(exact.hits) == len(tiered.hits)
        assert {(h.package, h.path) for h in tiered.hits} == {(h.package, h.path) for h in exact.hits}
        # Titled matches first, by bm25; then the rest unscored, in the order they were indexed.
        titled = 3 if viewer is Role.RESEARCHER else 4
        assert all(hit.title for hit in tiered.hits[:titled]) and all(h.score > 0 for h in tiered.hits[:titled])
        assert [hit.path for hit in tiered.hits[titled:]] == [f"objects/c{n:02d}.txt" for n in range(30)]
        assert all(hit.score == 0 for hit in tiered.hits[titled:])
        # Cursor pages and offset pages walk the same order, each hit once.
        seen, after = [], None
        while True:
            results = index.search(SearchQuery(text="harbour", viewer=viewer, limit=4, after=after))
            seen += [hit.path for hit in results.hits]
            if results.next_after is None:
                break
            after = results.next_after
        assert seen == [hit.path for hit in tiered.hits]
        by_offset = [
            hit.path
            for start in range(0, 36, 4)
            for hit in index.search(SearchQuery(text="harbour", viewer=viewer, limit=4, offset=start)).hits
        ]
        assert by_offset == seen  # fmt: skip


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
@pytest.mark.parametrize("probes", [0, 10**9])
def test_walking_an_index_and_sorting_the_matches_agree(
    db: Path, monkeypatch: pytest.MonkeyPatch, sort: str, probes: int
) -> None:
    with SqliteSearchIndex(db) as index:
        index.index([*DOCUMENTS, *GUARDED, *SHELF, *_tiered_corpus()])
        for text in ("", "-harbour", "river OR harbour"):
            monkeypatch.setattr(sqlite_search, "PROBE_LIMIT", 10**9)
            walked = index.search(SearchQuery(text=text, sort=sort, limit=MAX_WINDOW))
            monkeypatch.setattr(sqlite_search, "PROBE_LIMIT", probes)
            pages: list[SearchHit] = []
            after = None
            while True:
                results = index.search(SearchQuery(text=text, sort=sort, limit=3, after=after))
                pages += results.hits
                if results.next_after is None:
                    break
                after = results.next_after
            assert [(h.package, h.path) for h in pages] == [(h.package, h.path) for h in walked.hits], text
            assert walked.total == len(walked.hits)


# --- review: untrusted input, day edges, updates in place, rebuild permissions ------------------


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps([1, *parts]).encode()).decode().rstrip("=")


@pytest.mark.parametrize("field", ["puid", "package", "format_name", "risk", "validity", "creator", "kind"])
def test_a_filter_value_that_is_not_unicode_matches_nothing(db: Path, field: str) -> None:
    # A command-line argument of undecodable bytes reaches Python as lone surrogates.
    with SqliteSearchIndex(db) as index:
        index.index([doc("p", "objects/a.txt", puid="fmt/1", format_name="PDF", risk="low", validity="valid")])
        if field == "kind":
            with pytest.raises(SearchError, match="Unknown kind"):
                index.search(SearchQuery(text="", kind="\udcff"))
            return
        filters: dict[str, Any] = {field: "fmt/1\udcff"}
        results = index.search(SearchQuery(text="", viewer=Role.ADMIN, **filters))
        assert (results.total, results.hits) == (0, ())


@pytest.mark.parametrize(
    ("sort", "first", "package"),
    [("relevance", None, "\ud800"), ("newest", "2020-01-01", "\ud800"), ("relevance", 1e300, "p"),
     ("relevance", -1e300, "p"), ("relevance", 9.3e18, "p")],
)  # fmt: skip
def test_a_crafted_cursor_is_refused_or_pages_on_never_crashes(
    db: Path, monkeypatch: pytest.MonkeyPatch, sort: str, first: object, package: str
) -> None:
    with SqliteSearchIndex(db) as index:
        index.index(
            SearchDocument(package="p", package_name="p", path=f"objects/{n}.txt", title="harbour" if n < 3 else None,
                           content="harbour")
            for n in range(10)
        )  # fmt: skip
        monkeypatch.setattr(sqlite_search, "RANK_LIMIT", 2)  # tiers, where the key is a row number
        query = SearchQuery(text="harbour", sort=sort, after=_cursor(sort, first, package, "x"))
        try:
            results = index.search(query)
        except SearchError as err:
            assert "--page-after" in str(err)
        else:
            assert results.total == 10 and len(results.hits) <= 10


def test_a_document_that_is_not_unicode_is_a_plain_error(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        with pytest.raises(SearchError, match="not valid Unicode"):
            index.index([doc("p", "objects/caf\udce9.txt")])
        assert index.is_empty()


@pytest.mark.parametrize("probes", [0, 10**9])
def test_a_file_whose_role_is_empty_counts_as_an_original_everywhere(
    db: Path, monkeypatch: pytest.MonkeyPatch, probes: int
) -> None:
    monkeypatch.setattr(sqlite_search, "PROBE_LIMIT", probes)
    with SqliteSearchIndex(db) as index:
        index.index([doc("p", "objects/a.txt", role="")])
        for text in ("", "word", "-nothing"):
            results = index.search(SearchQuery(text=text, viewer=Role.ADMIN))
            assert (results.total, len(results.hits)) == (1, 1), text


_EDGES = [dt.date(1, 1, 1), dt.date(999, 12, 31), dt.date(1000, 1, 1), dt.date(2029, 12, 31), dt.date(2030, 1, 1),
          dt.date(2030, 1, 2), dt.date(2030, 1, 10), dt.date(2030, 1, 19), dt.date(2030, 1, 31), dt.date(2030, 2, 1),
          dt.date(2030, 10, 1), dt.date(2030, 12, 31), dt.date(9999, 12, 30), dt.date(9999, 12, 31)]  # fmt: skip


@pytest.mark.parametrize("probes", [0, 10**9])
def test_opening_days_at_every_edge(db: Path, monkeypatch: pytest.MonkeyPatch, probes: int) -> None:
    monkeypatch.setattr(sqlite_search, "PROBE_LIMIT", probes)
    with SqliteSearchIndex(db) as index:
        index.index(
            [
                doc("p", f"objects/{n:02}.txt", access=AccessStatus.CLOSED, opening_date=day)
                for n, day in enumerate(_EDGES)
            ]
            + [doc("p", "objects/never.txt", access=AccessStatus.CLOSED), doc("p", "objects/open.txt")]
        )
        for today in _EDGES:
            expected = {f"objects/{n:02}.txt" for n, day in enumerate(_EDGES) if day <= today} | {"objects/open.txt"}
            for text in ("word", "", "-nothing", "wo*"):
                query = SearchQuery(text=text, today=today, viewer=Role.RESEARCHER, limit=100, facets=("access",))
                results = index.search(query)
                assert {hit.path for hit in results.hits} == expected, (today, text)
                assert results.total == len(expected) and results.facets["access"][0].count == len(expected)


@pytest.mark.parametrize("probes", [0, 10**9])
def test_indexing_again_after_an_access_change_leaves_no_stale_tag(
    db: Path, monkeypatch: pytest.MonkeyPatch, probes: int
) -> None:
    monkeypatch.setattr(sqlite_search, "PROBE_LIMIT", probes)
    today = dt.date(2030, 1, 1)
    open_, closed = AccessStatus.OPEN, AccessStatus.CLOSED
    steps = [(open_, None, 1), (closed, None, 0), (closed, dt.date(2030, 1, 2), 0), (closed, today, 1),
             (closed, dt.date(2031, 1, 1), 0), (open_, None, 1), (closed, dt.date(2029, 12, 31), 1),
             (closed, None, 0)]  # fmt: skip
    with SqliteSearchIndex(db) as index:
        for access, opening, seen in steps:
            index.index(
                [doc("p", "objects/a.txt", access=access, opening_date=opening, dublin_core={"creator": ["Z"]})]
            )
            for text in ("word", "", "-nothing"):
                query = SearchQuery(text=text, today=today, viewer=Role.RESEARCHER, facets=("creator",))
                results = index.search(query)
                facet = sum(count.count for count in results.facets["creator"])
                assert (results.total, len(results.hits), facet) == (seen, seen, seen), (access, opening, text)
    check_integrity(db)


def test_a_rebuild_keeps_the_live_files_permissions(db: Path) -> None:
    with SqliteSearchIndex(db) as index:
        index.index([doc("p", "objects/a.txt", access=AccessStatus.CLOSED)])
        db.chmod(0o600)  # the closed records' words are in this file
        rebuild = index.start_rebuild()
        rebuild.index([doc("p", "objects/a.txt", access=AccessStatus.CLOSED)])
        rebuild.finish()
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert index.search(SearchQuery(text="word", viewer=Role.ADMIN)).total == 1


def test_purge_package_leaves_no_text_of_it_in_the_index_files(db: Path) -> None:
    # Disposal: after purge_package no byte of the package's words remains in the file or its
    # write-ahead log (secure_delete, FTS5 optimize, a TRUNCATE checkpoint).
    token = "xylophonequartz"
    others = [doc(f"keep-{n}", f"objects/{n}.txt", f"harbour minutes {n} " * 20) for n in range(200)]
    doomed = [
        SearchDocument(
            package="doomed",
            package_name=f"{token}-package",
            path=f"objects/{token}/{n}.txt",
            title=f"{token} {n}",
            name=f"{n}.txt",
            content=f"the {token} ledger page {n} " * 30,
            dublin_core={"creator": (f"{token} Ltd",)},
        )
        for n in range(50)
    ]
    files = [db, db.with_name(db.name + "-wal")]

    def raw() -> bytes:
        return b"".join(path.read_bytes() for path in files if path.exists())

    with SqliteSearchIndex(db) as index:
        index.index([*others[:100], *doomed, *others[100:]])
        assert token.encode() in raw()  # the check below can fail
        index.purge_package("doomed")

        assert token.encode() not in raw()
        assert index.search(SearchQuery(text=token, viewer=Role.ADMIN)).total == 0
        assert index.search(SearchQuery(text="harbour", viewer=Role.ADMIN)).total == 200
    assert token.encode() not in raw()
