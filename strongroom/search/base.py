"""The SearchIndex protocol: what any search backend (SQLite FTS5, Elasticsearch) offers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

# Every backend marks matched words in SearchHit.snippet with these, so that callers
# can highlight them without knowing which backend answered. Not square brackets:
# rich would read `[word]` as markup.
HIGHLIGHT_START = "«"
HIGHLIGHT_END = "»"


@dataclass(frozen=True)
class SearchDocument:
    """One thing a researcher can find: a whole package (`path` None) or one file of it."""

    package: str  # package UUID
    package_name: str
    path: str | None  # relative to the bag's data/ folder, e.g. objects/a/b.pdf
    title: str | None
    text: str  # everything else worth matching: DC fields, names, format names
    puid: str | None = None
    format_name: str | None = None
    file_uuid: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    text: str
    puid: str | None = None
    package: str | None = None
    kind: str | None = None  # "package" or "file" or None for both
    facets: tuple[str, ...] = ()  # any of "puid", "package"
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True)
class SearchHit:
    package: str
    package_name: str
    path: str | None
    title: str | None
    puid: str | None
    format_name: str | None
    file_uuid: str | None
    score: float
    snippet: str | None = None


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResults:
    total: int
    hits: tuple[SearchHit, ...]
    facets: dict[str, tuple[FacetCount, ...]] = field(default_factory=dict)


@runtime_checkable
class SearchIndex(Protocol):
    name: str

    def index(self, documents: Iterable[SearchDocument]) -> int:
        """Add documents (replacing any with the same package+path); returns how many."""
        ...

    def delete_package(self, package: str) -> None:
        """Remove every document of a package."""
        ...

    def search(self, query: SearchQuery) -> SearchResults:
        """Run a query; SearchError with a plain message when the query syntax is wrong."""
        ...

    def packages(self) -> set[str]:
        """UUIDs of every package with at least one document (to detect what needs catching up)."""
        ...

    def clear(self) -> None:
        """Remove everything (used by rebuild)."""
        ...

    def close(self) -> None: ...
