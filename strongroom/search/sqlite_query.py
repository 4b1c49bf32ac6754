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
from strongroom.search.base import ALL_ROLES, Role, SearchQuery
from strongroom.search.checks import TEXT_WEIGHTS, check_query_basics

# The FTS columns with their bm25 weights (the text fields every backend weighs alike), then:
FTS_COLUMNS: tuple[tuple[str, float], ...] = (
    *TEXT_WEIGHTS,
    # Hidden tokens (see TAG): what filters and visibility test, so they are part of the MATCH
    # and no row is looked up to check them. Weight 0: they never change a score.
    ("tags", 0.0),
)
WEIGHTS = ", ".join(str(weight) for _, weight in FTS_COLUMNS)
BM25 = f"bm25(documents_fts, {WEIGHTS})"

# Dublin Core element names are indexed too, each as one token made of this private-use
# character and the name (`\ue000creator`). query.fold() treats the character as a
# separator, so no typed word can ever be, or match, such a mark.
ELEMENT_MARK = language.RESERVED_MARK

# Hidden tokens in the `tags` column, each TAG + a letter for the field + the value: every
# equality filter, the kind and role, the record's date and, for a closed record, its opening
# day (or "never"), so a researcher's search is one MATCH with no row looked up to check
# visibility. A typed word never holds ELEMENT_MARK (fold() splits words at it) and an element
# mark holds it once, so nothing but these tags starts with two of it. Values are hex-encoded
# (only letters and digits, whatever the value); days are YYYYMMDD so a range of days is a
# handful of prefixes.
TAG = ELEMENT_MARK * 2
EVERYTHING = TAG + "all"  # on every row: what "every row except ..." starts from
_NEVER_OPENS = TAG + "n"  # closed or restricted, with no opening date
_MASKED = TAG + "m"  # a masked stand-in, which a researcher finds only while its record is not open
_IMPOSSIBLE = TAG + "z"  # on no row: a filter that nothing can pass
_UNKNOWN_ROLE = TAG + "u"  # a file whose role is none of FileRole's (never asked for)
_KNOWN_ROLES = frozenset(ALL_ROLES)


def tag(field: str, value: str) -> str:
    """The hidden token saying that `field` (one letter) is `value`."""
    # surrogatepass: a filter value of undecodable bytes (lone surrogates) is a token like any
    # other, which matches nothing, as no stored value holds one (row_of refuses them).
    return f"{TAG}{field}{value.encode('utf-8', 'surrogatepass').hex()}"


def _day_digits(day: str) -> str:
    return day.replace("-", "")


def document_tags(row: Mapping[str, object], creator_keys: list[str]) -> str:
    """The tags column of a documents row (as row_of in sqlite_rows.py builds it)."""
    tags = [EVERYTHING, tag("k", str(row["kind"]))]
    if row["kind"] == "file":
        role = str(row["role"] or FileRole.ORIGINAL.value)
        tags.append(tag("w", role) if role in _KNOWN_ROLES else _UNKNOWN_ROLE)
    for field_letter, column in (("p", "puid"), ("g", "package"), ("f", "format_name"), ("x", "risk"),
                                 ("v", "validity")):  # fmt: skip
        if row[column] is not None:
            tags.append(tag(field_letter, str(row[column])))
    if row["date"] is not None:
        tags.append(f"{TAG}d{_day_digits(str(row['date']))}")
    tags.append(tag("a", str(row["access"])))
    if row["masked"]:
        tags.append(_MASKED)
    if row["access"] != AccessStatus.OPEN.value:
        opening = row["opening_date"]
        if opening is None:
            tags.append(_NEVER_OPENS)
        else:  # every beginning of the day's digits, so "closed until after D" is a few exact tokens
            digits = _day_digits(str(opening))
            tags.extend(f"{TAG}o{digits[:length]}" for length in range(1, len(digits) + 1))
    tags.extend(tag("c", key) for key in creator_keys)
    return " ".join(tags)


def _spans(low: str, high: str, prefix: str = "") -> list[str]:
    """Prefixes whose digit strings (all as long as `low`) cover exactly low..high, inclusive."""
    if not low:
        return [prefix]
    if set(low) == {"0"} and set(high) == {"9"}:
        return [prefix]
    first, last = low[0], high[0]
    if first == last:
        return _spans(low[1:], high[1:], prefix + first)
    rest = len(low) - 1
    return [
        *_spans(low[1:], "9" * rest, prefix + first),
        *(prefix + str(digit) for digit in range(int(first) + 1, int(last))),
        *_spans("0" * rest, high[1:], prefix + last),
    ]


def _day_range(letter: str, low: str | None, high: str | None) -> str:
    """An FTS5 expression for the rows whose `letter` day tag lies in low..high (YYYY-MM-DD, inclusive)."""
    lo = _day_digits(low) if low is not None else "0" * 8
    hi = _day_digits(high) if high is not None else "9" * 8
    if len(lo) != 8 or len(hi) != 8 or lo > hi:  # years past 9999 are not dates SQLite's text compares
        return f'"{_IMPOSSIBLE}"'
    return "(" + " OR ".join(f'"{TAG}{letter}{prefix}"*' for prefix in _spans(lo, hi)) + ")"


def _possible(prefix: str) -> bool:
    """Whether some YYYYMMDD begins with `prefix` (no month from 20 on, no day from 40 on)."""
    return not ((len(prefix) > 4 and prefix[4] > "1") or (len(prefix) > 6 and prefix[6] > "3"))


def _still_closed(day: str) -> str:
    """Rows not open on `day` (closed or restricted): for ever, or until a later day.

    Exact tokens (each beginning of an opening day is a tag, see document_tags), as FTS5 sets
    up a prefix query far more slowly than a token, and this is part of every researcher's search.
    """
    after = f"{int(_day_digits(day)) + 1:08d}"
    later = [f'"{TAG}o{prefix}"' for prefix in _spans(after, "9" * 8) if _possible(prefix)] if len(after) == 8 else []
    return "(" + " OR ".join([f'"{_NEVER_OPENS}"', *later]) + ")"


@dataclass(frozen=True)
class TagFilters:
    """A query's filters and the viewer's visibility, as FTS5 expressions over the tags.

    `status` and `hidden` (the access status on the day, the roles) have SQL equivalents in
    `sql`, conditions on `d`: a probe of one row at a time (an index walk) uses those, as the
    closed-on-the-day expression costs a few milliseconds to set up each time it is used.
    """

    must: list[str]  # every one must match
    status: list[str]  # every one must match: the access filter
    hidden: list[str]  # none may match: closed on the day (for a researcher), files of other roles
    sql: list[str]  # status and hidden as conditions on `d`

    def expression(self, match: str) -> str:
        return restrict(match, [*self.must, *self.status], self.hidden)

    def probe(self, match: str) -> str:
        return restrict(match, self.must, [])


def tag_filters(query: SearchQuery, checked: Checked, plan: Plan) -> TagFilters:
    """The query's filters and the viewer's visibility as FTS5 expressions (and SQL, see TagFilters)."""
    day = str(plan.params["day"])
    must: list[str] = []
    status: list[str] = []
    hidden: list[str] = []
    sql: list[str] = []
    closed = _still_closed(day)
    masked = f'"{_MASKED}"'
    if checked.viewer.sees_closed:
        hidden.append(masked)  # staff see the records themselves, never their stand-ins
    else:
        # A record not open on the day is hidden; its stand-in shows until that day, and then it goes.
        hidden.extend([f"({closed}) NOT {masked}", f"{masked} NOT {closed}"])
    if checked.access is AccessStatus.OPEN:
        hidden.append(closed)
    elif checked.access is not None:
        status.extend([closed, f'"{tag("a", checked.access.value)}"'])
    visible = visible_to(checked.viewer)
    if visible is not None:
        sql.append(visible)
    if checked.access is not None:
        sql.append(f"{ACCESS_ON_DAY} = {plan.bind(checked.access.value)}")
    plain = (("p", query.puid), ("g", query.package), ("k", query.kind), ("v", query.validity),
             ("f", query.format_name), ("x", query.risk))  # fmt: skip
    must.extend(f'"{tag(letter, str(value))}"' for letter, value in plain if value is not None)
    if query.creator is not None:
        must.append(f'"{tag("c", language.fold_key(str(query.creator)))}"')
    if checked.date_from is not None or checked.date_to is not None:
        must.append(_day_range("d", checked.date_from, checked.date_to))
    # Packages have no role; a file counts when its role is asked for (no role: an original).
    unwanted = [f'"{tag("w", role)}"' for role in ALL_ROLES if role not in checked.roles]
    hidden.extend([*unwanted, f'"{_UNKNOWN_ROLE}"'])
    names = ", ".join(plan.bind(role) for role in checked.roles) or "NULL"
    # An empty role is an original, as document_tags (and Elasticsearch) read it.
    sql.append(f"(d.kind = 'package' OR coalesce(nullif(d.role, ''), '{FileRole.ORIGINAL.value}') IN ({names}))")
    return TagFilters(must=must, status=status, hidden=hidden, sql=sql)


def restrict(expression: str, must: list[str], must_not: list[str]) -> str:
    """`expression` AND every `must`, NOT any `must_not`."""
    restricted = "(" + " AND ".join(f"({part})" for part in [expression, *must]) + ")"
    if must_not:
        restricted += " NOT (" + " OR ".join(f"({part})" for part in must_not) + ")"
    return restricted


# The one place that says who sees what. A closed or restricted row counts as open from its
# opening date on (a NULL date never comes); a researcher gets the rows that count as open and
# the masked stand-ins of those that do not; staff get every row but the stand-ins. The same
# status is what the access filter, the access facet and SearchHit.access use.
ACCESS_ON_DAY = "(CASE WHEN d.access = 'open' OR d.opening_date <= :day THEN 'open' ELSE d.access END)"

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
    """The SQL condition on rows `viewer` may see (as tag_filters says it in FTS5)."""
    if viewer.sees_closed:
        return "d.masked = 0"
    return f"((d.masked = 0 AND {ACCESS_ON_DAY} = 'open') OR (d.masked = 1 AND {ACCESS_ON_DAY} <> 'open'))"


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


def _everything_but(node: language.Node) -> str:
    """`node` as an FTS5 expression, a bare exclusion read as "every row except" (the EVERYTHING tag)."""
    expression = _fts(node)
    if expression is not None:
        return expression
    if isinstance(node, language.Without):
        return f'("{EVERYTHING}" NOT ({_everything_but(node.part)}))'
    if isinstance(node, language.Any):
        return "(" + " OR ".join(f"({_everything_but(part)})" for part in node.parts) + ")"
    assert isinstance(node, language.All)  # a Term always has an FTS5 expression
    wanted = [_everything_but(part) for part in node.parts if not isinstance(part, language.Without)]
    unwanted = [_everything_but(part.part) for part in node.parts if isinstance(part, language.Without)]
    left = " AND ".join(f"({part})" for part in wanted) if wanted else f'"{EVERYTHING}"'
    if not unwanted:
        return f"({left})"
    return f"(({left}) NOT (" + " OR ".join(f"({part})" for part in unwanted) + "))"


@dataclass
class Plan:
    """The rows a query's words select, as one FTS5 expression (every query has one), with SQL parameters."""

    match: str = f'"{EVERYTHING}"'
    ranked: bool = False  # there are words to rank by (bm25); otherwise every match scores the same
    params: dict[str, object] = field(default_factory=dict)
    highlight: str | None = None  # an FTS5 expression of the positive terms only, for snippets and tiers

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def add_tree(self, tree: language.Node | None) -> None:
        if tree is None:
            return
        terms = language.positive_terms(tree)
        if terms:
            self.highlight = " OR ".join(phrase(term) for term in terms)
            self.ranked = True
        self.match = _everything_but(tree)


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
    basics = check_query_basics(query)
    return Checked(
        viewer=basics.viewer,
        access=basics.access,
        roles=basics.roles,
        after=None if query.after is None else read_cursor(query.after, query.sort),
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
    try:  # JSON may spell lone surrogates, which SQLite cannot be given
        package.encode()
        path.encode()
    except UnicodeEncodeError:
        raise refused from None
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
