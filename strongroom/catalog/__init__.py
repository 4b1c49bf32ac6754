"""The catalog: open one by URL.

    open_catalog("sqlite:///abs/path/catalog.sqlite")        the embedded default, a file in the archive home
    open_catalog("postgresql://user:password@host:5432/db")   a shared PostgreSQL database (psycopg 3)

Adding a backend is one entry in `_OPENERS` plus a test module that subclasses
`tests/contracts/catalog_contract.CatalogContract`. This module stays cheap to import
(the ingest's scratch files use codec.py): SQLAlchemy is imported when a catalog is opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from strongroom.catalog.base import Catalog
from strongroom.errors import ConfigError

__all__ = ["Catalog", "catalog_schemes", "open_catalog", "sqlite_url"]


def _sqlite(url: str) -> Catalog:
    from strongroom.catalog.backends import open_sqlite

    return open_sqlite(url)


def _postgresql(url: str) -> Catalog:
    from strongroom.catalog.backends import open_postgresql

    return open_postgresql(url)


_OPENERS: Mapping[str, Callable[[str], Catalog]] = MappingProxyType(
    {
        "sqlite": _sqlite,
        "sqlite+pysqlite": _sqlite,
        "postgresql": _postgresql,
        "postgres": _postgresql,
        "postgresql+psycopg": _postgresql,
    }
)
_EXAMPLES = {
    "sqlite": "sqlite:///abs/path/catalog.sqlite",
    "postgresql": "postgresql://user:password@host:5432/database",
}


def catalog_schemes() -> tuple[str, ...]:
    """The kinds of catalog open_catalog() knows, sorted."""
    return tuple(sorted(_EXAMPLES))


def sqlite_url(path: Path) -> str:
    """The URL of the SQLite catalog in the file `path` (made absolute; no %-escapes: the path is verbatim)."""
    return "sqlite://" + str(path.absolute())


def open_catalog(url: str) -> Catalog:
    """Open (creating or upgrading its schema if needed) the catalog at `url`.

    ConfigError for a URL of an unknown kind; CatalogError when the database cannot be opened,
    is damaged, or was made by a newer Strongroom, with what to do next.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise ConfigError(
            f"Unknown kind of catalog URL: {redact(url)!r}.",
            details=[f"{kind}: {_EXAMPLES[kind]}" for kind in catalog_schemes()],
        )
    return opener(url)


def redact(url: str) -> str:
    """The URL without its password (user:password@host -> user:***@host)."""
    return re.sub(r"^([^:/?#]+://[^/?#@:]*):[^/?#@]*@", r"\1:***@", url)
