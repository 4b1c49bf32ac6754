"""What every search backend checks the same way: a query's parts, a document's fields, the text weights.

Kept in one place so that SQLite, Elasticsearch and OpenSearch refuse the same queries and
documents with the same words, and weigh the same fields alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from strongroom.errors import SearchError
from strongroom.model import AccessStatus, FileRole
from strongroom.search import query as language
from strongroom.search.base import FACETS, KINDS, MAX_WINDOW, SORTS, Role, SearchDocument, SearchQuery, role_named

# The text fields a query searches, with their relevance weights: a word in the title, the
# file's name or its path says more about a document than the same word in its Dublin Core,
# and that more than one deep in its content.
TEXT_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("title", 10.0),
    ("name", 6.0),
    ("path", 5.0),
    ("dublin_core", 3.0),
    ("package_name", 2.0),
    ("format_name", 2.0),
    ("puid", 2.0),
    ("content", 1.0),
)


@dataclass(frozen=True)
class QueryBasics:
    """The parts of a query every backend needs, once they are known to make sense."""

    viewer: Role
    access: AccessStatus | None
    roles: tuple[str, ...]


def check_query_basics(query: SearchQuery) -> QueryBasics:
    """SearchError with a plain message for a query no backend can run (a cursor is the backend's to read)."""
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
    unknown = [facet for facet in query.facets if facet not in FACETS]
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
    if query.after is not None and query.offset:
        raise SearchError("A search that pages on with a cursor (--page-after) starts at offset 0.")
    # Whatever the viewer field holds, anything but a known role sees as little as possible.
    viewer = role_named(query.viewer if isinstance(query.viewer, str) else None)
    return QueryBasics(viewer, access, tuple(roles))


def check_document(document: SearchDocument) -> AccessStatus:
    """A document's access status, once its fields make sense; SearchError naming the document otherwise."""
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
    if document.masked and (document.content or document.name):
        raise SearchError(f"The {where} is a masked stand-in, which may carry no content and no file name.")
    if isinstance(document.version, bool) or not isinstance(document.version, int) or document.version < 1:
        raise SearchError(f"The {where} has version {document.version!r}; versions are whole numbers from 1.")
    return access


def dublin_core_elements(dublin_core: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Each element's values as a list of text; a lone string is one value, not a sequence of one-letter values."""
    return {
        str(element): [values] if isinstance(values, str) else [str(value) for value in values]
        for element, values in dublin_core.items()
    }


def key_path(document: SearchDocument) -> str:
    """The path a backend stores and sorts by: the document's own, or for a masked stand-in an opaque one.

    A stand-in must not give away its record's path, and the path is part of every cursor (the
    tie-break of each order); a digest of package and path keeps the key stable when it is indexed again.
    """
    if not document.masked:
        return document.path or ""
    digest = hashlib.sha256(f"{document.package}\x00{document.path or ''}".encode("utf-8", "surrogatepass"))
    return f"{language.RESERVED_MARK}masked/{digest.hexdigest()[:32]}"
