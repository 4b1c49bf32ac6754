"""SqliteSearchIndex writes a batch with one statement per table: ids, replacements and duplicates stay right."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from strongroom.search.base import Role, SearchDocument, SearchHit, SearchQuery
from strongroom.search.checks import key_path
from strongroom.search.sqlite_fts import _TEXT_ROWS_PER_STATEMENT, BATCH_SIZE, SqliteSearchIndex


def doc(
    path: str | None, text: str, creator: str = "Ann", *, package: str = "p", masked: bool = False
) -> SearchDocument:
    return SearchDocument(
        package=package, package_name=f"name-{package}", path=path, title=f"title {text}",
        content="" if masked else text, dublin_core={"creator": (creator,)}, masked=masked,
    )  # fmt: skip


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows (the FTS5 index checked against its content first)."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # rank 1: also compare the index with what the content table holds now.
        conn.execute("INSERT INTO documents_fts (documents_fts, rank) VALUES ('integrity-check', 1)")
        return {
            "documents": conn.execute("SELECT id, package, path, masked FROM documents ORDER BY id").fetchall(),
            "texts": conn.execute("SELECT id, content FROM texts ORDER BY id").fetchall(),
            "creators": conn.execute("SELECT doc, value FROM creators ORDER BY doc, value").fetchall(),
        }
    finally:
        conn.close()


def found(index: SqliteSearchIndex, text: str) -> list[tuple[str, str | None]]:
    hits: tuple[SearchHit, ...] = index.search(SearchQuery(text=text, viewer=Role.ARCHIVIST, limit=100)).hits
    return sorted((hit.path or "", hit.title) for hit in hits)  # "": the package itself


def test_indexing_again_replaces_rows_in_place_and_adds_new_ones_after(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    with SqliteSearchIndex(db) as index:
        assert index.index([doc(None, "harbour"), doc("objects/a.txt", "harbour"), doc("objects/b.txt", "tide")]) == 3
        # One batch: two keys already there (one with new words and creator), one new.
        assert index.index([doc("objects/b.txt", "ferry", "Bea"), doc("objects/c.txt", "harbour"),
                            doc("objects/a.txt", "harbour")]) == 3  # fmt: skip
        assert found(index, "tide") == []
        assert found(index, "ferry") == [("objects/b.txt", "title ferry")]
        assert found(index, "harbour") == [("", "title harbour"), ("objects/a.txt", "title harbour"),
                                           ("objects/c.txt", "title harbour")]  # fmt: skip
        assert index.search(SearchQuery(text="", creator="Bea", viewer=Role.ARCHIVIST)).total == 1
    tables = rows(db)
    assert tables["documents"] == [(1, "p", "", 0), (2, "p", "objects/a.txt", 0), (3, "p", "objects/b.txt", 0),
                                   (4, "p", "objects/c.txt", 0)]  # fmt: skip
    assert tables["texts"] == [(1, "harbour"), (2, "harbour"), (3, "ferry"), (4, "harbour")]
    assert tables["creators"] == [(1, "Ann"), (2, "Ann"), (3, "Bea"), (4, "Ann")]


def test_the_last_of_two_documents_with_one_key_in_a_batch_wins(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    with SqliteSearchIndex(db) as index:
        # A stand-in (masked) shares the record's package and path, not its key.
        batch = [doc("objects/a.txt", "harbour"), doc("objects/a.txt", "tide", masked=True),
                 doc("objects/a.txt", "ferry", "Bea"), doc("objects/b.txt", "quay")]  # fmt: skip
        assert index.index(batch) == 4  # every document given counts, as before
        assert found(index, "harbour") == []
        assert found(index, "ferry") == [("objects/a.txt", "title ferry")]
    tables = rows(db)
    # The stand-in's stored path is a digest of the record's (key_path), so it never shows.
    assert [(id_, path, masked) for id_, _, path, masked in tables["documents"]] == [
        (1, "objects/a.txt", 0), (2, key_path(batch[1]), 1), (3, "objects/b.txt", 0)]  # fmt: skip
    assert tables["texts"] == [(1, "ferry"), (2, ""), (3, "quay")]
    assert tables["creators"] == [(1, "Bea"), (2, "Ann"), (3, "Ann")]


def test_many_batches_mixing_old_and_new_keys_match_a_fresh_index(tmp_path: Path) -> None:
    # More keys than one lookup statement holds, across several write transactions.
    count = BATCH_SIZE + 301
    first = [doc(f"objects/{n:05}.txt", f"old{n % 7}", package=f"p{n % 3}") for n in range(0, count, 2)]
    final = [doc(f"objects/{n:05}.txt", f"new{n % 5}", f"C{n % 4}", package=f"p{n % 3}") for n in range(count)]
    with SqliteSearchIndex(tmp_path / "again.sqlite") as again, SqliteSearchIndex(tmp_path / "fresh.sqlite") as fresh:
        again.index(first)
        assert again.index(final) == count
        fresh.index(final)
        for text in ("old3", "new2", "new4 OR old1", ""):
            query = SearchQuery(text=text, viewer=Role.ARCHIVIST, facets=("creator", "package"), limit=20)
            assert again.search(query) == fresh.search(query), text
    again_rows, fresh_rows = rows(tmp_path / "again.sqlite"), rows(tmp_path / "fresh.sqlite")
    assert len(again_rows["documents"]) == count
    assert sorted(row[1:] for row in again_rows["documents"]) == sorted(row[1:] for row in fresh_rows["documents"])
    assert len(again_rows["creators"]) == count


def test_the_indexes_no_search_reads_are_dropped_from_an_older_file(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    SqliteSearchIndex(db).close()
    conn = sqlite3.connect(db)
    try:  # as a file of the same schema made before they were dropped
        for name, column in (
            ("documents_puid", "puid"),
            ("documents_format", "format_name"),
            ("documents_risk", "risk"),
        ):
            conn.execute(f"CREATE INDEX {name} ON documents ({column})")
        conn.commit()
    finally:
        conn.close()

    with SqliteSearchIndex(db) as index:
        index.index([doc("objects/a.txt", "harbour")])
        assert found(index, "harbour") == [("objects/a.txt", "title harbour")]
    conn = sqlite3.connect(db)
    try:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    finally:
        conn.close()
    assert indexes.isdisjoint({"documents_puid", "documents_format", "documents_risk"})
    assert {"documents_newest", "documents_oldest", "creators_key"} <= indexes


def test_a_batch_adds_a_segment_a_statement_not_one_a_row(tmp_path: Path) -> None:
    db = tmp_path / "search.sqlite"
    SqliteSearchIndex(db).close()
    conn = sqlite3.connect(db)
    try:  # FTS5 merges nothing by itself, so every segment written stays to be counted
        conn.execute("INSERT INTO documents_fts (documents_fts, rank) VALUES ('automerge', 0)")
        conn.execute("INSERT INTO documents_fts (documents_fts, rank) VALUES ('crisismerge', 1000)")
        conn.commit()
    finally:
        conn.close()
    count = 300
    with SqliteSearchIndex(db, tidy=False) as index:
        assert index.index([doc(f"objects/{n:03}.txt", f"harbour{n % 3}") for n in range(count)]) == count
        assert index.search(SearchQuery(text="harbour1", viewer=Role.ARCHIVIST)).total == count // 3
    conn = sqlite3.connect(db)
    try:
        segments = conn.execute("SELECT count(DISTINCT segid) FROM documents_fts_idx").fetchone()[0]
    finally:
        conn.close()
    assert 1 <= segments <= -(-count // _TEXT_ROWS_PER_STATEMENT) < count // 10
