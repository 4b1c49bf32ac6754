"""The SearchIndex protocol: what any search backend (SQLite FTS5, Elasticsearch) offers."""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from strongroom.model import AccessStatus, FileRole

# Every backend marks matched words in SearchHit.snippet with these, so that callers
# can highlight them without knowing which backend answered. Not square brackets:
# rich would read `[word]` as markup.
HIGHLIGHT_START = "«"
HIGHLIGHT_END = "»"


class Role(enum.StrEnum):
    """Who is searching. What a role may see is decided here, once, for every backend."""

    RESEARCHER = "researcher"  # the public reading room: open records only
    ARCHIVIST = "archivist"
    ADMIN = "admin"

    @property
    def sees_closed(self) -> bool:
        return self is not Role.RESEARCHER


def role_named(name: str | None) -> Role:
    """The role called `name`; an unknown or missing name gets the least privileged role."""
    try:
        return Role((name or "").strip().lower())
    except ValueError:
        return Role.RESEARCHER


@dataclass(frozen=True)
class SearchDocument:
    """One thing a researcher can find: a whole package (`path` None) or one file of it.

    Fields are structured so that any backend can weight, filter and facet them; no
    document ever carries a whole METS file. `access` and `opening_date` decide who
    may see it: a closed document reaches only roles that see closed records, until
    its opening date (if it has one) has come.
    """

    package: str  # package UUID
    package_name: str
    path: str | None  # relative to the bag's data/ folder, e.g. objects/a/b.pdf
    title: str | None
    dublin_core: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # element -> values
    name: str | None = None  # the file's name as deposited (None for a package)
    puid: str | None = None
    format_name: str | None = None
    date: dt.date | None = None  # the record's date (Dublin Core date, else the file's modification date)
    version: int = 1  # the package version this document describes
    content: str = ""  # text extracted from the record itself (empty until extraction exists)
    access: AccessStatus = AccessStatus.OPEN
    opening_date: dt.date | None = None
    file_uuid: str | None = None
    # What the file is in its package (a FileRole value: original, metadata, ...); None for a
    # package document (a file with None counts as an original). Only records (ROLES_RECORDS)
    # are found unless a query asks for more.
    role: str | None = None
    validity: str | None = None  # a Validity value from characterisation; None: never characterised
    risk: str | None = None  # the format's preservation risk (a RiskLevel value); None for a package
    # A researcher's stand-in for a record not yet open (restricted, or closed with a redacted title):
    # it holds only the redacted title, the Dublin Core identifier and date; a researcher finds it
    # while the record is not open (and never the record), staff never find it. Its key is
    # (package, path, masked), so it lives beside the record's own document.
    masked: bool = False
    exemption: str | None = None  # the FOI/EIR section a closed or restricted record cites ("s.40")


# Searches describe records: the package's own METS, the depositor's metadata.csv and logs
# are housekeeping, found only when a query names their roles (ALL_ROLES: everything).
ROLES_RECORDS: tuple[str, ...] = (FileRole.ORIGINAL.value,)
ALL_ROLES: tuple[str, ...] = tuple(role.value for role in FileRole)


@dataclass(frozen=True)
class SearchQuery:
    """A search, always on behalf of a viewer: the default viewer sees open records only."""

    text: str
    viewer: Role = Role.RESEARCHER
    puid: str | None = None
    package: str | None = None
    kind: str | None = None  # one of KINDS, or None for both
    access: AccessStatus | None = None  # only documents with this status (within what the viewer may see)
    validity: str | None = None  # only files with this characterisation verdict (a Validity value)
    # Files whose role is one of these (None: ROLES_RECORDS); documents with no role, the
    # packages themselves, always count (kind="file" leaves them out).
    roles: tuple[str, ...] | None = None
    format_name: str | None = None  # only files of this format (PRONOM's name, exactly as in FACETS "format")
    risk: str | None = None  # only files whose format has this risk (a RiskLevel value)
    creator: str | None = None  # only documents with this Dublin Core creator (compared folded, see fold())
    date_from: dt.date | None = None  # only documents dated on or after this day (undated ones never match)
    date_to: dt.date | None = None  # ... and on or before this day
    facets: tuple[str, ...] = ()  # any of FACETS
    sort: str = "relevance"  # one of SORTS
    offset: int = 0  # for shallow pages; deep paging uses `after` (offset + limit may not pass MAX_WINDOW)
    limit: int = 20
    # The cursor a previous SearchResults.next_after gave: the page after that one, however deep
    # (with the same query otherwise; offset must then be 0).
    after: str | None = None
    today: dt.date | None = None  # the day opening dates are judged on; None means today (UTC)

    def day(self) -> dt.date:
        return self.today or dt.datetime.now(dt.UTC).date()

    def file_roles(self) -> tuple[str, ...]:
        """The roles of files this query finds (packages, which have none, always count)."""
        if self.roles is None:
            return ROLES_RECORDS
        return (self.roles,) if isinstance(self.roles, str) else tuple(self.roles)


# "format" counts format names, "access" as in SearchHit.access, "validity" characterisation verdicts,
# "risk" format risk levels, "creator" Dublin Core creators (as written; counted per document)
FACETS = ("package", "puid", "format", "access", "validity", "risk", "creator")
KINDS = ("package", "file")
# relevance: best first; newest / oldest: by SearchDocument.date, undated documents last. Ties
# (and every order) are broken by package then path, so a cursor always resumes in the same place.
SORTS = ("relevance", "newest", "oldest")
# The deepest offset + limit a query may ask for; deeper pages use the `after` cursor.
MAX_WINDOW = 10_000
# At most this many values per facet, the commonest first (ties by value).
FACET_SIZE = 100


@dataclass(frozen=True)
class SearchHit:
    """One document found, with what a results page shows of it.

    `access` is the status on the query's day, the same status the `access` filter and
    facet use: a closed or restricted document whose opening date has come is open;
    `opening_date` is the document's own.
    """

    package: str
    package_name: str
    path: str | None
    title: str | None
    puid: str | None
    format_name: str | None
    file_uuid: str | None
    score: float
    snippet: str | None = None
    version: int = 1
    access: AccessStatus = AccessStatus.OPEN
    opening_date: dt.date | None = None
    name: str | None = None
    date: dt.date | None = None
    dublin_core: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role: str | None = None  # as in SearchDocument.role
    validity: str | None = None  # as in SearchDocument.validity
    risk: str | None = None  # as in SearchDocument.risk
    masked: bool = False  # a stand-in (SearchDocument.masked): path, name and content are never shown
    exemption: str | None = None  # as in SearchDocument.exemption

    def __post_init__(self) -> None:
        # Every backend's snippet is cleaned here, once: extracted text carries form feeds (pdftotext's page
        # breaks) and other control characters that a terminal or browser shows as boxes or obeys.
        if self.snippet:
            object.__setattr__(self, "snippet", readable_snippet(self.snippet))


# C0 and C1 control characters but the line feed (which parts a record's fields). Those that separate words
# (tab, carriage return, page breaks, the information separators, NEL) become a space so that the words either
# side stay apart; the rest are dropped.
_SEPARATORS = "\t\v\f\r\x1c\x1d\x1e\x1f\x85"
_CONTROLS = {c: (" " if chr(c) in _SEPARATORS else None)
             for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c != 0x0A}  # fmt: skip
_SPACES = re.compile(r" {2,}")


def readable_snippet(snippet: str) -> str:
    """A snippet with no control characters but line feeds: separators become one space, the rest go."""
    cleaned = snippet.translate(_CONTROLS)
    return _SPACES.sub(" ", cleaned) if cleaned != snippet else snippet


@dataclass(frozen=True)
class FacetCount:
    value: str
    count: int


@dataclass(frozen=True)
class SearchResults:
    total: int  # every document the query matches that the viewer may see, not just this page
    hits: tuple[SearchHit, ...]
    facets: dict[str, tuple[FacetCount, ...]] = field(default_factory=dict)
    # Pass as SearchQuery.after for the next page; None when this page is the last.
    next_after: str | None = None


class SearchRebuild(Protocol):
    """A new, empty index filled beside the live one: searches keep answering from the live one until finish()."""

    def index(self, documents: Iterable[SearchDocument]) -> int: ...

    def finish(self) -> None:
        """Make the new index the live one in one step (an alias swap, a file rename)."""
        ...

    def abandon(self) -> None:
        """Drop the new index; the live one is untouched."""
        ...


@runtime_checkable
class SearchIndex(Protocol):
    name: str

    def index(self, documents: Iterable[SearchDocument]) -> int:
        """Add documents (replacing any with the same package+path); returns how many."""
        ...

    def delete_package(self, package: str) -> None:
        """Remove every document of a package."""
        ...

    def purge_package(self, package: str) -> None:
        """Remove every document of a package so that none of its text remains anywhere in the
        index's files (free pages, write-ahead log, deleted-but-unmerged segments): disposal."""
        ...

    def search(self, query: SearchQuery) -> SearchResults:
        """Run a query as `query.viewer`; SearchError with a plain message when the query is wrong.

        A document the viewer may not see counts nowhere: not as a hit, not in the
        total, not in any facet count, and no snippet shows its text.
        """
        ...

    def packages(self) -> set[str]:
        """UUIDs of every package with at least one document (to detect what needs catching up)."""
        ...

    def is_empty(self) -> bool:
        """True when the index holds no document at all (a new or replaced index, to be refilled); cheap."""
        ...

    def clear(self) -> None:
        """Remove everything."""
        ...

    def start_rebuild(self) -> SearchRebuild:
        """Begin filling a replacement index (used by `strongroom rebuild`) without taking search down."""
        ...

    def close(self) -> None: ...
