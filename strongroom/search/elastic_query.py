"""A SearchQuery as an Elasticsearch/OpenSearch request, and the answer as SearchResults.

The words go through `query.parse()`, the one reading of a query every backend shares,
and its tree becomes a bool query: a Term is a phrase within ONE text field (multi_match
of type phrase), All is `must`, Any is `should` with one required, Without is `must_not`.

Who may see what is one clause (`visible_on`) in the bool query's filter, built from the
viewer and the query's day: the hits, the total, every aggregation and every highlight are
computed over what that filter lets through, never trimmed afterwards. No scripts are used
(the Elasticsearch integ-test build has no painless): the status on the day is a `filters`
aggregation over the same clause.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strongroom.errors import SearchError
from strongroom.model import AccessStatus
from strongroom.search.base import (
    FACET_SIZE,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    FacetCount,
    Role,
    SearchHit,
    SearchQuery,
    SearchResults,
)
from strongroom.search.checks import check_query_basics
from strongroom.search.elastic_mapping import SNIPPET_FIELDS, TEXT_FIELDS
from strongroom.search.query import Any as AnyOf
from strongroom.search.query import Node, Term, Without, fold, fold_key, normalise, parse, positive_terms

# The keyword field each facet counts ("access" is computed per query, see _facet_aggregation).
FACET_FIELDS: Mapping[str, str] = {
    "package": "package",
    "puid": "puid",
    "format": "format_name",
    "validity": "validity",
    "risk": "risk",
    "creator": "creator",
}
_FIELDS = [f"text.{name}^{weight:g}" for name, weight in TEXT_FIELDS]
# A phrase ending in a prefix expands to at most this many words (a single-word prefix
# has no such limit: it is a `prefix` query).
_MAX_EXPANSIONS = 1024
_FRAGMENT_SIZE = 120
_CURSOR_KEY = b"strongroom search cursor v1"


@dataclass(frozen=True)
class Checked:
    """A query found to make sense: the viewer's role, the access filter, the file roles."""

    viewer: Role
    access: AccessStatus | None
    roles: tuple[str, ...]
    tree: Node | None
    after: list[Any] | None


def check_query(query: SearchQuery) -> Checked:
    """SearchError with a plain message for a query that cannot be run."""
    basics = check_query_basics(query)
    after = None if query.after is None else decode_cursor(query.after, query.sort)
    return Checked(basics.viewer, basics.access, basics.roles, parse(query.text), after)


# --- the words ----------------------------------------------------------------------------


def term_query(term: Term) -> dict[str, Any]:
    """The words next to each other, in order, within one of the text fields."""
    text = " ".join(term.tokens)
    if term.prefix and len(term.tokens) == 1 and text.isascii():
        # One word's beginning: every word it begins, however many (a `prefix` query is not
        # analysed, so it gets the folded, lower-case word the index holds).
        return {
            "bool": {
                "should": [
                    {"prefix": {f"text.{name}": {"value": text, "boost": weight}}} for name, weight in TEXT_FIELDS
                ],
                "minimum_should_match": 1,
            }
        }
    kind = "phrase_prefix" if term.prefix else "phrase"
    query: dict[str, Any] = {"query": text, "type": kind, "fields": _FIELDS, "tie_breaker": 0.3}
    if term.prefix:
        query["max_expansions"] = _MAX_EXPANSIONS
    return {"multi_match": query}


def tree_query(node: Node) -> dict[str, Any]:
    if isinstance(node, Term):
        return term_query(node)
    if isinstance(node, Without):
        return {"bool": {"must_not": [tree_query(node.part)]}}
    if isinstance(node, AnyOf):
        return {"bool": {"should": [tree_query(part) for part in node.parts], "minimum_should_match": 1}}
    must = [tree_query(part) for part in node.parts if not isinstance(part, Without)]
    must_not = [tree_query(part.part) for part in node.parts if isinstance(part, Without)]
    clause: dict[str, Any] = {}
    if must:
        clause["must"] = must
    if must_not:
        clause["must_not"] = must_not  # with no `must`, everything else: match_all minus these
    return {"bool": clause}


# --- who sees what, and the filters ---------------------------------------------------------


def visible_on(day: dt.date) -> dict[str, Any]:
    """Documents open on `day`: open, or closed or restricted with an opening date that has come."""
    return {
        "bool": {
            "should": [
                {"term": {"access": AccessStatus.OPEN.value}},
                {"range": {"opening_date": {"lte": day.isoformat()}}},
            ],
            "minimum_should_match": 1,
        }
    }


def visible_to(viewer: Role, day: dt.date) -> dict[str, Any]:
    """What `viewer` may find on `day`: staff every record but no stand-in; a researcher the records open on
    the day and the masked stand-ins of those that are not."""
    masked = {"term": {"masked": True}}
    if viewer.sees_closed:
        return _not(masked)
    visible = visible_on(day)
    return {
        "bool": {
            "should": [
                {"bool": {"must": [visible], "must_not": [masked]}},
                {"bool": {"must": [masked], "must_not": [visible]}},
            ],
            "minimum_should_match": 1,
        }
    }


def _not(clause: dict[str, Any]) -> dict[str, Any]:
    return {"bool": {"must_not": [clause]}}


def filters(query: SearchQuery, checked: Checked) -> list[dict[str, Any]]:
    day = query.day()
    found: list[dict[str, Any]] = []
    found.append(visible_to(checked.viewer, day))  # the one clause that keeps closed records from a researcher
    if checked.access is AccessStatus.OPEN:
        found.append(visible_on(day))
    elif checked.access is not None:
        found.extend([_not(visible_on(day)), {"term": {"access": checked.access.value}}])
    for field, value in (
        ("puid", query.puid),
        ("package", query.package),
        ("kind", query.kind),
        ("validity", query.validity),
        ("format_name", query.format_name),
        ("risk", query.risk),
    ):
        if value is not None:
            found.append({"term": {field: value}})
    if query.creator is not None:
        found.append({"term": {"creator_key": fold_key(query.creator)}})
    dates: dict[str, str] = {}
    if query.date_from is not None:
        dates["gte"] = _iso(query.date_from)
    if query.date_to is not None:
        dates["lte"] = _iso(query.date_to)
    if dates:
        found.append({"range": {"date": dates}})
    # Packages always count; files only when their role is asked for (no role: a record).
    found.append(
        {
            "bool": {
                "should": [{"term": {"kind": "package"}}, {"terms": {"role": list(checked.roles)}}],
                "minimum_should_match": 1,
            }
        }
    )
    return found


def _iso(day: dt.date) -> str:
    return (day.date() if isinstance(day, dt.datetime) else day).isoformat()


# --- the request ------------------------------------------------------------------------------


def _sort(sort: str) -> list[Any]:
    ties = [{"package": "asc"}, {"path": "asc"}]
    if sort == "relevance":
        return [{"_score": "desc"}, *ties]
    order = "desc" if sort == "newest" else "asc"
    return [{"date": {"order": order, "missing": "_last"}}, *ties]


def _facet_aggregation(facet: str, day: dt.date) -> dict[str, Any]:
    if facet == "access":
        visible = visible_on(day)
        buckets = {AccessStatus.OPEN.value: visible}
        for status in (AccessStatus.CLOSED, AccessStatus.RESTRICTED):
            buckets[status.value] = {"bool": {"must": [{"term": {"access": status.value}}], "must_not": [visible]}}
        return {"filters": {"filters": buckets}}
    return {
        "terms": {
            "field": FACET_FIELDS[facet],
            "size": FACET_SIZE,
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
    }


def request_body(query: SearchQuery, checked: Checked) -> dict[str, Any]:
    bool_query: dict[str, Any] = {"filter": filters(query, checked)}
    if checked.tree is not None:
        bool_query["must"] = [tree_query(checked.tree)]
    body: dict[str, Any] = {
        "query": {"bool": bool_query},
        "track_total_hits": True,
        "track_scores": True,
        # One more than the page, to know whether another page follows.
        "size": query.limit + 1 if query.limit else 0,
        "from": query.offset,
        "sort": _sort(query.sort),
        # A record's whole text (up to [ingest] text_size_limit) comes back only to map a snippet onto it.
        "_source": {
            "includes": ["shown", "access", "opening_date", "date", "package", "masked", "exemption"],
            "excludes": ["shown.content"],
        },
    }
    if checked.after is not None:
        body["search_after"] = checked.after
    if query.facets:
        day = query.day()
        body["aggs"] = {facet: _facet_aggregation(facet, day) for facet in dict.fromkeys(query.facets)}
    terms = positive_terms(checked.tree)
    if terms and query.limit:
        body["_source"]["excludes"] = []
        body["highlight"] = {
            "pre_tags": [HIGHLIGHT_START],
            "post_tags": [HIGHLIGHT_END],
            "require_field_match": True,
            "highlight_query": {"bool": {"should": [term_query(term) for term in terms]}},
            "fields": {
                f"text.{name}": {"number_of_fragments": 1, "fragment_size": _FRAGMENT_SIZE, "no_match_size": 0}
                for name in SNIPPET_FIELDS
            },
        }
    return body


# --- the cursor --------------------------------------------------------------------------------


def encode_cursor(sort: str, values: Sequence[Any]) -> str:
    payload = json.dumps([sort, list(values)], ensure_ascii=False, separators=(",", ":")).encode()
    check = hashlib.blake2b(payload, key=_CURSOR_KEY, digest_size=8).hexdigest()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + check


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    """The sort values a cursor holds; SearchError when it is not one this backend gave for `sort`."""
    wrong = SearchError(
        "The page cursor is not one this search gave (it was changed, or made for another sort or backend); "
        "start again from the first page."
    )
    if not isinstance(cursor, str) or "." not in cursor or len(cursor) > 100_000:
        raise wrong
    encoded, check = cursor.rsplit(".", 1)
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        decoded = json.loads(payload)
    except (binascii.Error, ValueError):
        raise wrong from None
    if hashlib.blake2b(payload, key=_CURSOR_KEY, digest_size=8).hexdigest() != check:
        raise wrong
    if not (isinstance(decoded, list) and len(decoded) == 2 and decoded[0] == sort and isinstance(decoded[1], list)):
        raise wrong
    values = decoded[1]
    first_ok = (
        (isinstance(values[0], int | float) if sort == "relevance" else isinstance(values[0], int))
        if len(values) == 3
        else False
    )
    if not (first_ok and not isinstance(values[0], bool) and all(isinstance(v, str) for v in values[1:])):
        raise wrong
    return values


# --- the answer -------------------------------------------------------------------------------


def results_of(answer: Mapping[str, Any], query: SearchQuery, checked: Checked) -> SearchResults:
    raw_hits = answer["hits"]["hits"]
    total = int(answer["hits"]["total"]["value"])
    day = query.day()
    page = raw_hits[: query.limit]
    next_after = None
    if query.limit and len(raw_hits) > query.limit:
        next_after = encode_cursor(query.sort, page[-1]["sort"])
    facets: dict[str, tuple[FacetCount, ...]] = {}
    aggregations = answer.get("aggregations", {})
    for facet in query.facets:
        facets[facet] = _facet_counts(aggregations[facet])
    return SearchResults(total=total, hits=tuple(_hit(raw, day) for raw in page), facets=facets, next_after=next_after)


def _facet_counts(aggregation: Mapping[str, Any]) -> tuple[FacetCount, ...]:
    buckets = aggregation["buckets"]
    if isinstance(buckets, Mapping):  # a filters aggregation: one bucket per status
        pairs = [(str(name), int(bucket["doc_count"])) for name, bucket in buckets.items()]
    else:
        pairs = [(str(bucket["key"]), int(bucket["doc_count"])) for bucket in buckets]
    pairs = sorted((pair for pair in pairs if pair[1] > 0), key=lambda pair: (-pair[1], pair[0]))
    return tuple(FacetCount(value=value, count=count) for value, count in pairs)


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _hit(raw: Mapping[str, Any], day: dt.date) -> SearchHit:
    source = raw["_source"]
    shown = source["shown"]
    opening_date = _day(source.get("opening_date"))
    opened = opening_date is not None and opening_date <= day
    access = (
        AccessStatus.OPEN if source["access"] == AccessStatus.OPEN.value or opened else AccessStatus(source["access"])
    )
    masked = bool(source.get("masked"))
    score = raw.get("_score")
    return SearchHit(
        package=source["package"],
        package_name=shown["package_name"],
        path=shown["path"],
        title=shown["title"],
        puid=shown["puid"],
        format_name=shown["format_name"],
        file_uuid=shown["file_uuid"],
        score=float(score) if isinstance(score, int | float) else 0.0,
        snippet=None if masked else _snippet(raw.get("highlight") or {}, shown),
        version=int(shown["version"]),
        access=access,
        opening_date=opening_date,
        name=shown["name"],
        date=_day(source.get("date")),
        dublin_core={element: tuple(values) for element, values in shown["dublin_core"].items()},
        role=shown["role"],
        validity=shown["validity"],
        risk=shown["risk"],
        masked=masked,
        exemption=source.get("exemption"),
    )


def _snippet(highlight: Mapping[str, Sequence[str]], shown: Mapping[str, Any]) -> str | None:
    for name in SNIPPET_FIELDS:
        fragments = highlight.get(f"text.{name}")
        if not fragments:
            continue
        value = shown.get(name)
        if name == "dublin_core":
            originals = [v for values in (value or {}).values() for v in values]
        else:
            originals = [] if value is None else [str(value)]
        return unfold_fragment(fragments[0], originals)
    return None


def unfold_fragment(fragment: str, originals: Sequence[str]) -> str:
    """The highlighted `fragment` of folded text, shown in the original text it came from.

    fold() keeps length, so the fragment's characters (without the marks, which fold()
    never leaves in a text) sit at the same place in fold(original) as in the original:
    copy the original's characters and put the marks back between them. When the fragment
    cannot be found (an original changed since), the folded fragment is shown as it is.
    """
    plain = fragment.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_END, "")
    for original in originals:
        text = normalise(original)
        at = fold(text).find(plain)
        if at < 0:
            continue
        shown: list[str] = []
        for char in fragment:
            if char in (HIGHLIGHT_START, HIGHLIGHT_END):
                shown.append(char)
            else:
                shown.append(text[at])
                at += 1
        return "".join(shown)
    return fragment
