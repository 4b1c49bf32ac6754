"""The rows of the SQLite search index and what comes back out of them: a SearchDocument turned into its
`documents` row, its `texts` row and its creators (text normalised, undecodable text refused), and a hit's
columns turned back into a SearchHit. Kept apart from sqlite_fts.py, which holds the tables, the transactions
and the rebuild, because this is the mapping between documents and rows, with no SQL run here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from strongroom.errors import SearchError
from strongroom.model import AccessStatus
from strongroom.search import query as language
from strongroom.search.base import SearchDocument, SearchHit
from strongroom.search.checks import check_document, dublin_core_elements, key_path
from strongroom.search.sqlite_query import ACCESS_ON_DAY, ELEMENT_MARK, document_tags

# The columns of `documents` in the order of a row_of() row (and of sqlite_fts._UPSERT_DOCUMENT).
DOCUMENT_COLUMNS = (
    "package", "path", "kind", "puid", "format_name", "risk", "validity", "role", "date", "access", "opening_date",
    "masked", "exemption",
)  # fmt: skip

# What a page's rows are read with, in the order hit() unpacks them.
HIT_COLUMNS = (
    "d.id, d.package, t.package_name, d.path, t.title, t.name, d.puid, d.format_name, t.file_uuid, t.version, "
    f"d.date, {ACCESS_ON_DAY}, d.opening_date, t.dublin_core_json, d.role, d.validity, d.risk, d.masked, d.exemption"
)


# A document's row of `documents` and of `texts` (both in their columns' order), and its (creator, folded) pairs.
Row = tuple[tuple[object, ...], tuple[object, ...], list[tuple[str, str]]]


def row_of(document: SearchDocument) -> Row:
    """The documents row, the texts row and the (creator, folded) pairs of a document."""
    access = check_document(document)
    elements = dublin_core_elements(document.dublin_core)
    row: dict[str, object] = {
        "package": document.package,
        "path": key_path(document),
        "kind": "package" if document.path is None else "file",
        "puid": document.puid,
        "format_name": document.format_name,
        "risk": document.risk,
        "validity": document.validity,
        "role": document.role,
        "date": iso_day(document.date),
        "access": access.value,
        "opening_date": iso_day(document.opening_date),
        "masked": 1 if document.masked else 0,
        "exemption": document.exemption,
    }
    words = (
        _text(document.title),
        _text(document.name),
        None if document.masked else _text(document.path),
        _dublin_core_text(elements),
        _text(document.package_name),
        _text(document.format_name),
        _text(document.puid),
        _text(document.content) or "",
    )
    extra = (document.version, json.dumps(elements, ensure_ascii=False), document.file_uuid)
    for value in (*row.values(), *words, *extra):
        if isinstance(value, str) and not (value.isascii() or _encodable(value)):
            # Undecodable bytes (a file name read with surrogateescape) that SQLite cannot store.
            raise SearchError(
                f"The document {document.package!r} / {document.path!r} holds text that is not valid Unicode "
                f"(undecodable bytes, such as a file name in another encoding): {ascii(value)[:200]}."
            )
    creators = {value: language.fold_key(value) for value in elements.get("creator", [])}
    tags = document_tags(row, sorted(set(creators.values())))
    # In the columns' order: DOCUMENT_COLUMNS; sqlite_fts._TEXT_COLUMNS (FTS_COLUMNS, the tags last, then the rest).
    return tuple(row[column] for column in DOCUMENT_COLUMNS), (*words, tags, *extra), list(creators.items())


def _encodable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _text(value: str | None) -> str | None:
    # NFC, so an accent is part of its letter as query.fold() expects; the element mark is
    # a separator for query.fold(), so stored text must not hold it either.
    return None if value is None else language.normalise(value).replace(ELEMENT_MARK, " ")


def _dublin_core_text(elements: Mapping[str, list[str]]) -> str:
    lines: list[str] = []
    for element, values in elements.items():
        mark = ELEMENT_MARK + "".join(char for char in element if language.is_token_char(char))
        # A value cannot forge an element's mark; the mark between two values keeps a phrase in one value.
        lines.extend(f"{mark}: {_text(value)}" for value in values)
    return "\n".join(lines)


def iso_day(day: dt.date | None) -> str | None:
    if day is None:
        return None
    # A datetime is a date too; only its day counts, and it must compare as one.
    return (day.date() if isinstance(day, dt.datetime) else day).isoformat()


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def hit(row: tuple[Any, ...], score: float, snippet: str | None) -> SearchHit:
    (_, package, package_name, path, title, name, puid, format_name, file_uuid, version, date, access, opening_date,
     dublin_core, role, validity, risk, masked, exemption) = row  # fmt: skip
    return SearchHit(
        package=package,
        package_name=package_name,
        path=None if masked else path or None,
        title=title,
        puid=puid,
        format_name=format_name,
        file_uuid=file_uuid,
        score=score,
        snippet=snippet.replace(ELEMENT_MARK, "") if snippet else None,
        version=int(version),
        access=AccessStatus(access),
        opening_date=_day(opening_date),
        name=name,
        date=_day(date),
        dublin_core={element: tuple(values) for element, values in json.loads(dublin_core).items()},
        role=role,
        validity=validity,
        risk=risk,
        masked=bool(masked),
        exemption=exemption,
    )
