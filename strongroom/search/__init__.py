"""Search backends and the registry that opens one by name.

Adding a backend is one entry in `_FACTORIES` plus a test module that subclasses
`tests/contracts/search_contract.SearchContract`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from strongroom.errors import ConfigError
from strongroom.search.base import (
    FACETS,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    KINDS,
    FacetCount,
    Role,
    SearchDocument,
    SearchHit,
    SearchIndex,
    SearchQuery,
    SearchResults,
    role_named,
)

__all__ = [
    "FACETS",
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "KINDS",
    "FacetCount",
    "Role",
    "SearchDocument",
    "SearchHit",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "open_search",
    "role_named",
    "search_kinds",
]

SearchFactory = Callable[[Mapping[str, object]], SearchIndex]


def _sqlite(options: Mapping[str, object]) -> SearchIndex:
    # Imported here so that choosing one backend never imports another's dependencies.
    from strongroom.search.sqlite_fts import SqliteSearchIndex

    unknown = sorted(set(options) - {"path", "busy_timeout"})
    if unknown:
        raise ConfigError(
            f"Unknown option(s) for sqlite search: {', '.join(unknown)}. Known options: busy_timeout, path."
        )
    path = options.get("path")
    if not isinstance(path, str | Path) or not str(path):
        raise ConfigError("SQLite search needs a 'path' option: the file that holds the index.")
    timeout = options.get("busy_timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
        raise ConfigError("The sqlite search option 'busy_timeout' must be a number of seconds (0 or more).")
    return SqliteSearchIndex(Path(path).expanduser(), busy_timeout=float(timeout))


def _elasticsearch(options: Mapping[str, object]) -> SearchIndex:
    from strongroom.search.elastic import open_elastic

    return open_elastic("elasticsearch", options)


def _opensearch(options: Mapping[str, object]) -> SearchIndex:
    from strongroom.search.elastic import open_elastic

    return open_elastic("opensearch", options)


_FACTORIES: Mapping[str, SearchFactory] = MappingProxyType(
    {"sqlite": _sqlite, "elasticsearch": _elasticsearch, "opensearch": _opensearch}
)


def search_kinds() -> tuple[str, ...]:
    """Names accepted by open_search(), sorted."""
    return tuple(sorted(_FACTORIES))


def open_search(kind: str, options: Mapping[str, object]) -> SearchIndex:
    """Open the search backend registered as `kind` with its `options`.

    sqlite: `path` (the index file, required), `busy_timeout` (seconds to wait for
    another writer, default 30).
    elasticsearch, opensearch: `url` (http(s)://host:port, required; credentials in it or in
    STRONGROOM_SEARCH_USERNAME / STRONGROOM_SEARCH_PASSWORD), `index` (the alias and name
    prefix, default "strongroom"), `ca_certs` (a PEM file to trust), `timeout` (seconds, default 30).
    """
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigError(f"Unknown search type {kind!r}. Known types: {', '.join(search_kinds())}.")
    return factory(options)
