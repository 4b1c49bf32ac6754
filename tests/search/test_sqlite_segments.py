"""The SQLite index merges its FTS5 segments after writing, so a search looks each word up in one b-tree, not dozens."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from strongroom.search.base import Role, SearchDocument, SearchQuery
from strongroom.search.sqlite_fts import BATCH_SIZE, SqliteSearchIndex


def documents(count: int, package: str = "p") -> list[SearchDocument]:
    words = ("harbour", "tide", "ferry", "lighthouse", "quay")
    return [
        SearchDocument(
            package=package,
            package_name=f"name-{package}",
            path=f"objects/{n:05}.txt",
            title=None,
            content=f"record {n} {words[n % 5]} {words[(n * 3) % 5]}",
        )
        for n in range(count)
    ]


def segments(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(DISTINCT segid) FROM documents_fts_idx").fetchone()[0])
    finally:
        conn.close()


def answers(index: SqliteSearchIndex) -> list[tuple[int, list[tuple[str | None, float]]]]:
    found = []
    for text in ("harbour", "tide ferry", '"ferry tide"', "lig*", "-quay"):
        results = index.search(SearchQuery(text=text, viewer=Role.RESEARCHER, limit=50))
        found.append((results.total, [(hit.path, hit.score) for hit in results.hits]))
    return found


def test_writes_in_several_transactions_end_as_one_segment_with_the_same_answers(tmp_path: Path) -> None:
    many = documents(BATCH_SIZE * 3 + 7)  # four write transactions: four segments, as FTS5 leaves them
    with SqliteSearchIndex(tmp_path / "lazy.sqlite", tidy=False) as lazy:
        assert lazy.index(many) == len(many)
        lazy_answers = answers(lazy)
    with SqliteSearchIndex(tmp_path / "tidy.sqlite") as tidy:
        assert tidy.index(many) == len(many)
        tidy_answers = answers(tidy)

    assert segments(tmp_path / "lazy.sqlite") >= 4
    assert segments(tmp_path / "tidy.sqlite") == 1
    assert tidy_answers == lazy_answers
    assert all(total > 0 for total, _ in tidy_answers)


def test_later_writes_are_merged_in_too(tmp_path: Path) -> None:
    with SqliteSearchIndex(tmp_path / "search.sqlite") as index:
        for number in range(5):
            index.index(documents(20, package=f"p{number}"))
            assert segments(tmp_path / "search.sqlite") == 1
        assert index.search(SearchQuery(text="harbour")).total == 5 * 4


def test_a_rebuilt_index_is_one_segment(tmp_path: Path) -> None:
    with SqliteSearchIndex(tmp_path / "search.sqlite") as index:
        index.index(documents(10))
        rebuild = index.start_rebuild()
        rebuild.index(documents(BATCH_SIZE * 2 + 1))
        rebuild.finish()
        assert index.search(SearchQuery(text="harbour")).total == (BATCH_SIZE * 2 + 1 + 4) // 5
    assert segments(tmp_path / "search.sqlite") == 1
