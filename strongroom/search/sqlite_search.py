"""How the SQLite index answers a search quickly at a million documents (the tables are in sqlite_fts.py).

Every search is one FTS5 expression (sqlite_query.py: the words, and the filters and the
viewer's visibility as hidden tags), so the total is an FTS5 count with no row looked up,
and a row the viewer may not see is never among the matches at all.

The page is cut in one of three ways:
- ranked by relevance, up to RANK_LIMIT matches: bm25 of every match, best first;
- ranked, more matches than that: bm25 is worked out for every row it orders (about 1.6 µs a
  row, and FTS5 cannot stop early at the best few), so a word in 40% of a million records
  would take a second. Such a search is ranked in two tiers instead: first the matches with a
  searched word in a weighty field (title, name, path, Dublin Core; narrowed to title and name,
  then title, while that is still more than RANK_LIMIT rows), by bm25; then every other match,
  unscored (score 0), in the order FTS5 reads them (the order they were first indexed). The
  same hits and the same total, ranked more coarsely: only for huge result sets;
- everything else (no words, or newest / oldest first): walking the sort's index and asking
  FTS5 about each row, when matches are dense enough to fill the page within PROBE_LIMIT
  rows, else sorting every match.
Facets count every match in three passes at most (the plain columns together, packages,
creators), not one pass each.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from strongroom.search.base import FACET_SIZE, FacetCount
from strongroom.search.sqlite_query import BM25, FACET_COLUMNS, Plan, TagFilters, order_by, resume_after, sort_value

# More matches than this are ranked in tiers (see above): bm25 over 10,000 rows is about 16 ms.
RANK_LIMIT = 10_000
# The weighty fields a tier looks in, widest first.
TIERS: tuple[tuple[str, ...], ...] = (("title", "name", "path", "dublin_core"), ("title", "name"), ("title",))
# Rows of an index walked (one FTS5 lookup each, about 25 µs) before sorting every match is cheaper.
PROBE_LIMIT = 1_000
_MAX_ROWID = 2**63 - 1

# (documents.id, the sort key a cursor keeps, package, path)
Row = tuple[int, float | str | None, str, str]
After = tuple[float | str | None, str, str]


def count(conn: sqlite3.Connection, expression: str) -> int:
    sql = "SELECT count(*) FROM documents_fts WHERE documents_fts MATCH ?"
    return int(conn.execute(sql, (expression,)).fetchone()[0])


def page(
    conn: sqlite3.Connection, plan: Plan, tags: TagFilters, sort: str, total: int, after: After | None, offset: int,
    size: int,
) -> list[Row]:  # fmt: skip
    """Up to `size` matches in the sort's order, from `offset` or after the cursor key `after`."""
    if size <= 0 or total == 0:
        return []
    if sort == "relevance" and plan.ranked:
        return _ranked(conn, plan, tags.expression(plan.match), total, after, offset, size)
    return _ordered(conn, plan, tags, sort, total, after, offset, size)


def score_of(key: float | str | None) -> float:
    """A hit's score from its relevance key: -bm25, or 0 for a match ranked unscored."""
    return -float(key) if isinstance(key, float) and key < 0 else 0.0


def _scores(conn: sqlite3.Connection, expression: str) -> list[tuple[int, float]]:
    sql = f"SELECT rowid, {BM25} FROM documents_fts WHERE documents_fts MATCH ?"
    return [(int(rowid), float(score)) for rowid, score in conn.execute(sql, (expression,))]


def _ranked(
    conn: sqlite3.Connection, plan: Plan, expression: str, total: int, after: After | None, offset: int, size: int
) -> list[Row]:
    if total <= RANK_LIMIT or plan.highlight is None:
        return _best(conn, _scores(conn, expression), after, offset, size)
    weighty = None
    for columns in TIERS:
        colset = "{" + " ".join(columns) + "} : (" + plan.highlight + ")"
        if count(conn, f"({expression}) AND ({colset})") <= RANK_LIMIT:
            weighty = colset
            break
    rows: list[Row] = []
    rest = expression
    if weighty is not None:
        rest = f"({expression}) NOT ({weighty})"
        in_top = after is None or after[0] is None or (isinstance(after[0], float) and after[0] < 0)
        if in_top:
            scored = _scores(conn, f"({expression}) AND ({weighty})")
            rows = _best(conn, scored, after, offset, size)
            offset = max(0, offset - len(scored))
            after = None
    if len(rows) >= size:
        return rows
    # The unscored tier: keys are rowids (1 and up), after every bm25 score (always below 0).
    # Within SQLite's integers whatever a crafted cursor holds (a row number is never below 1).
    bound = min(max(int(after[0]), 0), _MAX_ROWID) if after is not None and isinstance(after[0], float) else 0
    sql = (
        "SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? AND rowid > ? "
        f"ORDER BY rowid LIMIT {size - len(rows)} OFFSET {offset}"
    )
    ids = [int(rowid) for (rowid,) in conn.execute(sql, (rest, bound))]
    names = _names(conn, ids)
    return rows + [(rowid, float(rowid), *names[rowid]) for rowid in ids if rowid in names]


def _best(
    conn: sqlite3.Connection, scored: list[tuple[int, float]], after: After | None, offset: int, size: int
) -> list[Row]:
    """The rows from `offset` (or after `after`) in (score, package, path) order, naming only those that compete."""
    if after is not None:
        key, package, path = after
        if key is None or isinstance(key, str):  # a cursor of an unranked page: by package and path only
            named = _names(conn, [rowid for rowid, _ in scored])
            scored = [(rowid, score) for rowid, score in scored if named[rowid] > (package, path)]
        else:
            ties = _names(conn, [rowid for rowid, score in scored if score == key])
            scored = [
                (rowid, score)
                for rowid, score in scored
                if score > key or (score == key and ties[rowid] > (package, path))
            ]
    scored.sort(key=lambda item: item[1])
    wanted = offset + size
    if len(scored) > wanted:
        boundary = scored[wanted - 1][1]
        scored = [item for item in scored if item[1] <= boundary]  # ties with the last one wanted compete too
    names = _names(conn, [rowid for rowid, _ in scored])
    ordered = sorted(
        ((rowid, score, *names[rowid]) for rowid, score in scored if rowid in names),
        key=lambda row: (row[1], row[2], row[3]),
    )
    return [(rowid, score, package, path) for rowid, score, package, path in ordered[offset:wanted]]


def _names(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    names: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 5000):
        chunk = ", ".join(str(int(rowid)) for rowid in ids[start : start + 5000])
        for rowid, package, path in conn.execute(f"SELECT id, package, path FROM documents WHERE id IN ({chunk})"):
            names[int(rowid)] = (package, path)
    return names


def _ordered(
    conn: sqlite3.Connection, plan: Plan, tags: TagFilters, sort: str, total: int, after: After | None, offset: int,
    size: int,
) -> list[Row]:  # fmt: skip
    """Rows by package and path, or by date: walking the order's index when matches are dense, else sorting them."""
    params = dict(plan.params)
    local = Plan(params=params)
    condition = f"{resume_after(sort, False, after, local)} AND " if after is not None else ""
    key = sort_value(sort, False)
    rows_at_most = conn.execute("SELECT max(id) FROM documents").fetchone()[0] or 0
    if (offset + size) * rows_at_most <= PROBE_LIMIT * total:
        # Visibility and roles checked on the row, not in the probe (see TagFilters).
        checks = "".join(f"{check} AND " for check in tags.sql)
        bound = local.bind(tags.probe(plan.match))
        sql = (
            f"SELECT d.id, {key}, d.package, d.path FROM documents AS d WHERE {condition}{checks}EXISTS ("
            f"SELECT 1 FROM documents_fts WHERE documents_fts MATCH {bound} AND documents_fts.rowid = d.id) "
            f"ORDER BY {order_by(sort, False)} LIMIT {size} OFFSET {offset}"
        )
    else:
        bound = local.bind(tags.expression(plan.match))
        sql = (
            f"SELECT d.id, {key}, d.package, d.path FROM documents_fts CROSS JOIN documents AS d "
            f"ON d.id = documents_fts.rowid WHERE {condition}documents_fts MATCH {bound} "
            f"ORDER BY {order_by(sort, False)} LIMIT {size} OFFSET {offset}"
        )
    return [(int(rowid), value, package, path) for rowid, value, package, path in conn.execute(sql, params)]


def facets(
    conn: sqlite3.Connection, names: Iterable[str], expression: str, params: Mapping[str, object]
) -> dict[str, tuple[FacetCount, ...]]:
    """Each facet's commonest values over every match (which holds only what the viewer may see)."""
    wanted = list(dict.fromkeys(names))
    counts: dict[str, Counter[str]] = {name: Counter() for name in wanted}
    bound = {**params, "facet_match": expression}
    joined = "documents_fts CROSS JOIN documents AS d ON d.id = documents_fts.rowid"
    plain = [name for name in wanted if name not in ("package", "creator")]
    if plain:
        columns = ", ".join(FACET_COLUMNS[name] for name in plain)
        groups = ", ".join(str(number) for number in range(1, len(plain) + 1))
        sql = f"SELECT {columns}, count(*) FROM {joined} WHERE documents_fts MATCH :facet_match GROUP BY {groups}"
        for *values, number in conn.execute(sql, bound):
            for name, value in zip(plain, values, strict=True):
                if value is not None:
                    counts[name][str(value)] += int(number)
    if "package" in counts:
        sql = f"SELECT d.package, count(*) FROM {joined} WHERE documents_fts MATCH :facet_match GROUP BY 1"
        counts["package"].update({str(value): int(number) for value, number in conn.execute(sql, bound)})
    if "creator" in counts:
        # One creators row per document and value (its key), so count(*) counts documents.
        sql = (
            "SELECT c.value, count(*) FROM documents_fts CROSS JOIN creators AS c ON c.doc = documents_fts.rowid "
            "WHERE documents_fts MATCH :facet_match GROUP BY 1"
        )
        counts["creator"].update({str(value): int(number) for value, number in conn.execute(sql, bound)})
    return {
        name: tuple(
            FacetCount(value=value, count=number)
            for value, number in sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:FACET_SIZE]
        )
        for name, counter in counts.items()
    }
