"""A SearchQuery turned into SQL for the SQLite FTS5 index (see sqlite_fts.py for the tables).

The query tree of `strongroom.search.query` becomes one FTS5 MATCH expression where FTS5
can say it (phrases, AND, OR, and `a NOT b`), and SQL set operations over rowids where
it cannot: FTS5's NOT needs something on its left, so a part that is only an exclusion
(`-draft`, `harbour OR -draft`) is "every row except those the expression matches".
The MATCH expression, when there is one, drives the query and gives bm25 its ranking.

Every word that reaches FTS5 is a double-quoted token from `query.tokens()`, so nothing
a person types is ever FTS5 syntax.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from strongroom.errors import SearchError
from strongroom.model import AccessStatus, FileRole
from strongroom.search import query as language
from strongroom.search.base import FACETS, KINDS, MAX_WINDOW, SORTS, Role, SearchQuery, role_named

# The FTS columns with their bm25 weights: a word in the title, the file's name or its
# path says more about a document than the same word in its Dublin Core, and that more
# than one deep in its content.
FTS_COLUMNS: tuple[tuple[str, float], ...] = (
    ("title", 10.0),
    ("name", 6.0),
    ("path", 5.0),
    ("dublin_core", 3.0),
    ("package_name", 2.0),
    ("format_name", 2.0),
    ("puid", 2.0),
    ("content", 1.0),
)
WEIGHTS = ", ".join(str(weight) for _, weight in FTS_COLUMNS)
BM25 = f"bm25(documents_fts, {WEIGHTS})"

# Dublin Core element names are indexed too, each as one token made of this private-use
# character and the name (`\ue000creator`). query.fold() treats the character as a
# separator, so no typed word can ever be, or match, such a mark.
ELEMENT_MARK = language.RESERVED_MARK

# The one place that says who sees what. A closed row counts as open from its opening
# date on (a NULL date never comes); roles that do not see closed records get only the
# rows that count as open. The same status is what the access filter, the access facet
# and SearchHit.access use.
ACCESS_ON_DAY = "(CASE WHEN d.access = 'open' OR d.opening_date <= :day THEN 'open' ELSE 'closed' END)"

FACET_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "package": "d.package",
        "puid": "d.puid",
        "format": "d.format_name",
        "access": ACCESS_ON_DAY,
        "validity": "d.validity",
        "risk": "d.risk",
        "creator": "c.value",  # from the creators table, joined for this facet only
    }
)


def visible_to(viewer: Role) -> str | None:
    """The SQL condition on rows `viewer` may see, or None when they may see every row."""
    return None if viewer.sees_closed else f"{ACCESS_ON_DAY} = 'open'"


def phrase(term: language.Term) -> str:
    """An FTS5 phrase for a Term: its tokens quoted, so none can be read as syntax."""
    quoted = '"' + " ".join(token.replace('"', '""') for token in term.tokens) + '"'
    return quoted + "*" if term.prefix else quoted


def match_expression(text: str) -> str | None:
    """The whole query as one FTS5 expression, or None when FTS5 alone cannot say it (or there are no words)."""
    tree = language.parse(text)
    return None if tree is None else _fts(tree)


def _fts(node: language.Node) -> str | None:
    """`node` as a pure FTS5 expression, or None when it needs "every row except" (a bare Without)."""
    if isinstance(node, language.Term):
        return phrase(node)
    if isinstance(node, language.Without):
        return None
    if isinstance(node, language.Any):
        alternatives = [_fts(part) for part in node.parts]
        if any(part is None for part in alternatives):
            return None
        return "(" + " OR ".join(f"({part})" for part in alternatives if part) + ")"
    wanted = [_fts(part) for part in node.parts if not isinstance(part, language.Without)]
    unwanted = [_fts(part.part) for part in node.parts if isinstance(part, language.Without)]
    if not wanted or any(part is None for part in [*wanted, *unwanted]):
        return None
    expression = "(" + " AND ".join(f"({part})" for part in wanted if part) + ")"
    if unwanted:
        expression += " NOT (" + " OR ".join(f"({part})" for part in unwanted if part) + ")"
    return expression


@dataclass
class Plan:
    """What the rows must satisfy: an FTS5 expression (ranked) and SQL conditions over `d`, with their parameters."""

    match: str | None = None
    conditions: list[str] = field(default_factory=list)
    params: dict[str, object] = field(default_factory=dict)
    highlight: str | None = None  # an FTS5 expression of the positive terms only, for snippets

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def matched_rows(self, expression: str) -> str:
        return f"d.id IN (SELECT rowid FROM documents_fts WHERE documents_fts MATCH {self.bind(expression)})"

    def sql(self, node: language.Node) -> str:
        """`node` as a condition on `d.id`, for the parts FTS5 cannot say."""
        expression = _fts(node)
        if expression is not None:
            return self.matched_rows(expression)
        if isinstance(node, language.Without):
            return f"NOT ({self.sql(node.part)})"
        joiner = " AND " if isinstance(node, language.All) else " OR "
        assert not isinstance(node, language.Term)  # a Term always has an FTS5 expression
        return "(" + joiner.join(self.sql(part) for part in node.parts) + ")"

    def add_tree(self, tree: language.Node | None) -> None:
        if tree is None:
            return
        terms = language.positive_terms(tree)
        if terms:
            self.highlight = " OR ".join(phrase(term) for term in terms)
        expression = _fts(tree)
        if expression is not None:
            self.match = expression
            return
        if not isinstance(tree, language.All):
            self.conditions.append(self.sql(tree))
            return
        # The parts FTS5 can say drive the query (and its ranking); the rest are SQL conditions.
        wanted: list[language.Node] = [
            p for p in tree.parts if not isinstance(p, language.Without) and _fts(p) is not None
        ]
        unwanted: list[language.Node] = [
            p for p in tree.parts if isinstance(p, language.Without) and _fts(p.part) is not None
        ]
        rest = [p for p in tree.parts if p not in wanted and p not in unwanted]
        if wanted:
            self.match = _fts(language.All(tuple(wanted + unwanted)))
        else:
            rest += unwanted
        self.conditions.extend(self.sql(part) for part in rest)


@dataclass(frozen=True)
class Checked:
    """A query known to make sense, with what the SQL needs of it."""

    viewer: Role
    access: AccessStatus | None
    roles: tuple[str, ...]
    after: tuple[float | str | None, str, str] | None  # the sort key of the last hit already shown
    date_from: str | None
    date_to: str | None


def check(query: SearchQuery) -> Checked:
    """The query's parts, once it is known to make sense; SearchError with a plain message otherwise."""
    if query.limit < 0:
        raise SearchError(f"A search cannot return a negative number of results (limit {query.limit}).")
    if query.offset < 0:
        raise SearchError(f"A search cannot start before the first result (offset {query.offset}).")
    if query.offset + query.limit > MAX_WINDOW:
        raise SearchError(
            f"A page may reach at most {MAX_WINDOW:,} results deep (offset {query.offset} + limit {query.limit}); "
            "to go deeper, page on with the cursor each page gives (--page-after)."
        )
    if query.kind is not None and query.kind not in KINDS:
        raise SearchError(f"Unknown kind {query.kind!r}; use one of: {', '.join(KINDS)}.")
    if query.sort not in SORTS:
        raise SearchError(f"Unknown sort {query.sort!r}; use one of: {', '.join(SORTS)}.")
    unknown = [facet for facet in query.facets if facet not in FACET_COLUMNS]
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
    after = None
    if query.after is not None:
        if query.offset:
            raise SearchError("A search that pages on with a cursor (--page-after) starts at offset 0.")
        after = read_cursor(query.after, query.sort)
    return Checked(
        # Whatever the viewer field holds, anything but a known role sees as little as possible.
        viewer=role_named(query.viewer if isinstance(query.viewer, str) else None),
        access=access,
        roles=roles,
        after=after,
        date_from=_day_filter(query.date_from, "from"),
        date_to=_day_filter(query.date_to, "to"),
    )


def _day_filter(day: object, which: str) -> str | None:
    if day is None:
        return None
    if isinstance(day, dt.datetime):
        return day.date().isoformat()
    if isinstance(day, dt.date):
        return day.isoformat()
    raise SearchError(f"The date {which} filter must be a day (YYYY-MM-DD), not {day!r}.")


def filters(query: SearchQuery, checked: Checked, plan: Plan) -> None:
    """Add the query's filters, the viewer's visibility and the file roles to `plan`."""
    visible = visible_to(checked.viewer)
    if visible is not None:
        plan.conditions.insert(0, visible)
    plain = (
        ("d.puid", query.puid),
        ("d.package", query.package),
        ("d.kind", query.kind),
        ("d.validity", query.validity),
        ("d.format_name", query.format_name),
        ("d.risk", query.risk),
    )
    for column, value in plain:
        if value is not None:
            plan.conditions.append(f"{column} = {plan.bind(str(value))}")
    if checked.access is not None:
        plan.conditions.append(f"{ACCESS_ON_DAY} = {plan.bind(checked.access.value)}")
    if query.creator is not None:
        key = plan.bind(language.fold_key(str(query.creator)))
        plan.conditions.append(f"d.id IN (SELECT doc FROM creators WHERE key = {key})")
    if checked.date_from is not None:
        plan.conditions.append(f"d.date >= {plan.bind(checked.date_from)}")
    if checked.date_to is not None:
        plan.conditions.append(f"d.date <= {plan.bind(checked.date_to)}")
    names = [plan.bind(role) for role in checked.roles]
    # A file indexed without a role is a record (an original), as before roles were kept.
    in_roles = f"coalesce(d.role, '{FileRole.ORIGINAL.value}') IN ({', '.join(names) or 'NULL'})"
    plan.conditions.append(f"(d.kind = 'package' OR {in_roles})")


# --- order and cursors ----------------------------------------------------------------------


def order_by(sort: str, ranked: bool) -> str:
    """ORDER BY for a sort; ties, and every order, end with (package, path) so a cursor resumes in one place."""
    if sort == "newest":
        return "d.date DESC, d.package, d.path"  # NULL is least: undated rows come last
    if sort == "oldest":
        return "d.date IS NULL, d.date, d.package, d.path"
    return "sort_key, d.package, d.path" if ranked else "d.package, d.path"  # sort_key: the page's bm25


def sort_value(sort: str, ranked: bool) -> str:
    """The SQL value of a row's first sort key (what a cursor remembers beside package and path)."""
    if sort in ("newest", "oldest"):
        return "d.date"
    return BM25 if ranked else "NULL"


def resume_after(sort: str, ranked: bool, key: tuple[float | str | None, str, str], plan: Plan) -> str:
    """The condition for rows after `key` in the order of `sort`."""
    first, package, path = key
    rest = f"(d.package, d.path) > ({plan.bind(package)}, {plan.bind(path)})"
    if sort in ("newest", "oldest"):
        if first is None:
            return f"(d.date IS NULL AND {rest})"
        day = plan.bind(first)
        beyond = "<" if sort == "newest" else ">"
        return f"(d.date {beyond} {day} OR (d.date = {day} AND {rest}) OR d.date IS NULL)"
    if not ranked or first is None:
        return rest
    rank = plan.bind(first)
    return f"({BM25} > {rank} OR ({BM25} = {rank} AND {rest}))"


_CURSOR_VERSION = 1


def make_cursor(sort: str, key: tuple[float | str | None, str, str]) -> str:
    """An opaque cursor: where the page after this one starts."""
    text = json.dumps([_CURSOR_VERSION, sort, *key], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_cursor(cursor: str, sort: str) -> tuple[float | str | None, str, str]:
    """The sort key a cursor holds; SearchError when it is not one this search gave."""
    refused = SearchError(
        "The cursor (--page-after) is not one a previous page of this search gave; start again from the first page."
    )
    if not isinstance(cursor, str) or len(cursor) > 8192:
        raise refused
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        decoded = json.loads(text)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise refused from None
    if not (isinstance(decoded, list) and len(decoded) == 5 and decoded[0] == _CURSOR_VERSION):
        raise refused
    _, cursor_sort, first, package, path = decoded
    if cursor_sort != sort:
        raise SearchError(
            f"The cursor (--page-after) belongs to a search sorted by {cursor_sort!r}, not {sort!r}; "
            "page on with the same sort, or start again from the first page."
        )
    if not (isinstance(package, str) and isinstance(path, str)):
        raise refused
    if sort in ("newest", "oldest"):
        if first is not None:
            if not isinstance(first, str):
                raise refused
            try:
                dt.date.fromisoformat(first)
            except ValueError:
                raise refused from None
    elif first is not None and (
        isinstance(first, bool) or not isinstance(first, int | float) or not math.isfinite(first)
    ):
        raise refused
    return (float(first) if isinstance(first, int) else first, package, path)
