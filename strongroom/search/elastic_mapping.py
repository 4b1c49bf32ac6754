"""What a document looks like in an Elasticsearch/OpenSearch index: the mapping and the source.

Accent-insensitive on every node, also one without the analysis-common module (the
Elasticsearch 8.19 integ-test build has only core analysis, so no asciifolding filter):
the text fields receive `fold(normalise(text))`, the same length-preserving folding the
query side and SQLite use, and are analysed by the core `standard` analyzer, which
lowercases. Since fold() already turned every separator into a space, the standard
tokenizer splits where SQLite's unicode61 does. The original text goes under `shown`
(stored, never indexed) for display and for mapping highlights back onto it.

Each document's id is derived from its package and path, so indexing the same document
again replaces it (re-indexing is idempotent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from strongroom.errors import ConfigError
from strongroom.model import FileRole
from strongroom.search.base import MAX_WINDOW, SearchDocument
from strongroom.search.checks import TEXT_WEIGHTS, check_document, dublin_core_elements, key_path
from strongroom.search.query import fold, fold_key, normalise

# Bumped whenever the mapping changes: an index made for another version is not converted
# (it is derived data) but replaced by an empty one, which `strongroom rebuild` fills.
MAPPING_VERSION = 2  # 2: restricted records, masked stand-ins and exemptions

# The text fields a query searches, with their relevance weights: the same for every backend.
TEXT_FIELDS = TEXT_WEIGHTS
# The order in which a snippet is looked for: the record's own words read best.
SNIPPET_FIELDS = ("content", "dublin_core", "title", "name", "path", "package_name", "format_name", "puid")

_KEYWORD = {"type": "keyword"}
# Lucene refuses a term over 32766 bytes; a longer value (4 bytes a character at worst) is
# kept in the source but not indexed, rather than failing the whole document.
_LONG_KEYWORD = {"type": "keyword", "ignore_above": 8191}
_DAY = {"type": "date", "format": "strict_date"}


def _text(offsets: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"type": "text", "analyzer": "standard"}
    if offsets:
        # Offsets in the postings let the highlighter find words in long texts without
        # analysing them again (and without the max_analyzed_offset limit).
        field["index_options"] = "offsets"
    return field


MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        # Filters, facets and the tie-breaking sort key.
        "package": _KEYWORD,
        "path": _LONG_KEYWORD,  # "" for the package document itself, so it sorts first
        "kind": _KEYWORD,
        "puid": _KEYWORD,
        "format_name": _LONG_KEYWORD,
        "risk": _KEYWORD,
        "validity": _KEYWORD,
        "role": _KEYWORD,  # a file's role, "original" when it has none; absent on packages
        "access": _KEYWORD,
        "creator": _LONG_KEYWORD,  # Dublin Core creators as written: what the facet shows
        "creator_key": _LONG_KEYWORD,  # ... and folded (fold_key): what the filter compares
        "date": _DAY,
        "opening_date": _DAY,
        "masked": {"type": "boolean"},  # a researcher's stand-in (SearchDocument.masked)
        "exemption": _KEYWORD,
        # The folded words.
        "text": {"properties": {name: _text(offsets=name in ("content", "dublin_core")) for name, _ in TEXT_FIELDS}},
        # The document as given, for hits and snippets; never indexed.
        "shown": {"type": "object", "enabled": False},
    },
}


def index_body() -> dict[str, Any]:
    """Settings and mappings of a new index (explicit: nothing is left to dynamic mapping)."""
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,  # one shard: relevance statistics are exact, facet counts too
                "auto_expand_replicas": "0-1",  # a copy elsewhere on a cluster, none on a single node
                # One beyond the deepest page, so the backend can ask for limit + 1 hits to see
                # whether another page follows.
                "max_result_window": MAX_WINDOW + 1,
                "highlight": {"max_analyzed_offset": 50_000_000},
            }
        },
        "mappings": MAPPINGS,
    }


# --- index names ------------------------------------------------------------------------

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,199}$")
_VERSIONED = re.compile(r"^(?P<prefix>.+)-v(?P<version>\d+)-(?P<stamp>\d{20})$")


def check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or prefix in (".", ".."):
        raise ConfigError(
            f"The search option 'index' must be a lower-case name for the index (letters, digits, '-', '_', '.'; "
            f"starting with a letter or digit), not {prefix!r}."
        )
    return prefix


def versioned_name(prefix: str, now: dt.datetime | None = None) -> str:
    """`<prefix>-v<N>-<UTC timestamp to the microsecond>`: a new index's name."""
    moment = now or dt.datetime.now(dt.UTC)
    return f"{prefix}-v{MAPPING_VERSION}-{moment.strftime('%Y%m%d%H%M%S%f')}"


def mapping_version_of(name: str, prefix: str) -> int | None:
    """The mapping version of an index named by versioned_name(prefix), None for any other name."""
    match = _VERSIONED.match(name)
    if match is None or match.group("prefix") != prefix:
        return None
    return int(match.group("version"))


# --- documents --------------------------------------------------------------------------


def document_id(package: str, path: str | None, masked: bool = False) -> str:
    """A stable id: the same package and path always give the same document (a stand-in its own, "#masked")."""
    digest = hashlib.sha1(f"{package}\x00{path or ''}".encode(), usedforsecurity=False).hexdigest()
    return f"{digest}#masked" if masked else digest


def _folded(text: str | None) -> str | None:
    return None if text is None else fold(normalise(text))


def _day(value: dt.date | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def source_of(document: SearchDocument) -> dict[str, Any]:
    """The JSON source of `document`, checked; SearchError naming the document when it is wrong.

    `shown` keeps every value exactly as given (hits round-trip it); the folded text is made
    from its NFC form, which is what snippets are mapped back onto.
    """
    access = check_document(document)
    elements = dublin_core_elements(document.dublin_core)
    values = [value for element_values in elements.values() for value in element_values]
    creators = elements.get("creator", [])
    is_file = document.path is not None
    shown_path = None if document.masked else document.path  # a stand-in never gives away its record's path
    shown = {
        "package_name": document.package_name,
        "path": shown_path,
        "title": document.title,
        "name": document.name,
        "puid": document.puid,
        "format_name": document.format_name,
        "dublin_core": elements,
        "content": document.content or "",
        "version": document.version,
        "file_uuid": document.file_uuid,
        "role": document.role,
        "risk": document.risk,
        "validity": document.validity,
    }
    source: dict[str, Any] = {
        "package": document.package,
        "path": key_path(document),
        "kind": "file" if is_file else "package",
        "puid": document.puid,
        "format_name": document.format_name,
        "risk": document.risk,
        "validity": document.validity,
        "role": (document.role or FileRole.ORIGINAL.value) if is_file else None,
        "access": access.value,
        "creator": creators,
        "creator_key": sorted({key for key in (fold_key(value) for value in creators) if key}),
        "date": _day(document.date),
        "opening_date": _day(document.opening_date),
        "masked": bool(document.masked),
        "exemption": document.exemption,
        "text": {
            "title": _folded(document.title),
            "name": _folded(document.name),
            "path": _folded(shown_path),
            "dublin_core": [fold(normalise(value)) for value in values],
            "package_name": _folded(document.package_name),
            "format_name": _folded(document.format_name),
            "puid": _folded(document.puid),
            "content": fold(normalise(document.content or "")),
        },
        "shown": shown,
    }
    return source
