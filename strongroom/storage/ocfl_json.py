"""The JSON of an OCFL storage root as OcflStore writes and reads it: an inventory (or layout file) written
byte for byte as json.dumps(indent=2, ensure_ascii=False) would write it but with the C string encoder, JSON read
back refusing duplicate keys and anything that is not UTF-8, and the RFC 3339 times a version records. Kept apart
from ocfl.py, which holds the store itself (layout, versions, checks of an inventory's content), because this is
text encoding with no OCFL rules in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring as _encode_string
from typing import Any

from strongroom.errors import IntegrityError


def rfc3339(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z"


def json_bytes(document: Mapping[str, Any]) -> bytes:
    """json.dumps(document, indent=2, ensure_ascii=False) and a newline, byte for byte.

    With an indent json.dumps runs its pure-Python encoder, a large part of writing a version of many files;
    an inventory is dicts, lists and strings, written here with the C string encoder. Anything else
    falls back to json.dumps itself. The pieces are joined and encoded every few thousand: held all at
    once, the small strings of an inventory of 100,000 files took four times the inventory's size (the
    peak memory of an ingest)."""
    sink = _Sink()
    try:
        _encode_plain(document, "\n", sink)
    except _NotPlain:
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    sink.parts.append("\n")
    return sink.joined()


_FLUSH_AT = 8192  # pieces held before they are joined into bytes


class _Sink:
    """The JSON being written: pieces not yet joined, and the bytes of those that were."""

    __slots__ = ("done", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.done: list[bytes] = []

    def flush(self) -> None:
        self.done.append("".join(self.parts).encode("utf-8"))
        self.parts.clear()  # in place: _encode_plain holds the list

    def joined(self) -> bytes:
        self.flush()
        return b"".join(self.done)


class _NotPlain(Exception):
    """Internal: a value _encode_plain() leaves to json.dumps."""


def _encode_plain(value: object, newline: str, sink: _Sink) -> None:
    """Append `value` as json.dumps(indent=2, ensure_ascii=False) writes it at the depth of `newline`."""
    parts = sink.parts
    if isinstance(value, str):
        parts.append(_encode_string(value))
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotPlain  # json.dumps turns numbers and the like into keys its own way
            parts.append(separator)
            parts.append(_encode_string(key))
            parts.append(": ")
            _encode_plain(item, inner, sink)
            separator = "," + inner
            if len(parts) > _FLUSH_AT:
                sink.flush()
        parts.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _encode_plain(item, inner, sink)
            separator = "," + inner
            if len(parts) > _FLUSH_AT:
                sink.flush()
        parts.append(newline + "]")
    elif value is None or isinstance(value, bool | int | float):
        parts.append(json.dumps(value))
    else:
        raise _NotPlain


def loads(raw: bytes, key: str) -> Any:
    """Parse JSON read from storage, refusing duplicate keys and anything that is not UTF-8 JSON."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                raise ValueError(f"the key {name!r} appears twice in one object")
            result[name] = value
        return result

    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=unique)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise IntegrityError(
            f"{key!r} is not valid JSON ({err}). It was damaged or replaced: restore it from a replica."
        ) from None
