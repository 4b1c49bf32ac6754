"""Text forms of the records the catalog keeps in single columns: JSON and timestamps.

Kept free of SQLAlchemy so that the ingest's scratch files can share the same JSON.
The JSON is the one Strongroom 0.1 wrote, so old catalogs read back unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from strongroom.model import Basis, FormatMatch, Identification, ToolOutcome


def identification_to_json(ident: Identification | None) -> str | None:
    if ident is None:
        return None
    return json.dumps(
        {
            "basis": ident.basis.value,
            "tool": ident.tool,
            "tool_version": ident.tool_version,
            "signature_version": ident.signature_version,
            "warnings": list(ident.warnings),
            "matches": [
                {"puid": m.puid, "name": m.name, "version": m.version, "mime": m.mime, "signature": m.signature}
                for m in ident.matches
            ],
        }
    )


def identification_from_json(text: str | None) -> Identification | None:
    if not text:
        return None
    data = json.loads(text)
    return Identification(
        basis=Basis(data["basis"]),
        matches=tuple(FormatMatch(**m) for m in data["matches"]),
        tool=data["tool"],
        tool_version=data["tool_version"],
        signature_version=data["signature_version"],
        warnings=tuple(data["warnings"]),
    )


def strings_to_json(values: Iterable[str]) -> str:
    return json.dumps(list(values))


def strings_from_json(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def elements_to_json(elements: Mapping[str, Iterable[str]]) -> str:
    """Dublin Core elements, each with its values in order (repeated values survive)."""
    return json.dumps({name: list(values) for name, values in elements.items()})


def elements_from_json(text: str) -> dict[str, tuple[str, ...]]:
    return {name: tuple(values) for name, values in json.loads(text).items()}


def time_to_text(value: datetime) -> str:
    """A fixed-width UTC ISO 8601 form, so that text order is time order on every database.

    The instant round-trips exactly; it comes back in UTC. A naive datetime is refused:
    which instant it means depends on the machine that made it.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"The catalog stores timezone-aware times only, not {value!r} (a bug in the caller).")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def time_from_text(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    # Strongroom 0.1 wrote whatever offset it was given; read every time back in UTC.
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def date_to_text(value: date) -> str:
    return value.isoformat()


def date_from_text(text: str) -> date:
    return date.fromisoformat(text)


def characterisation_to_json(outcomes: Iterable[ToolOutcome]) -> str | None:
    listed = [
        {"tool": o.tool, "version": o.version, "well_formed": o.well_formed, "valid": o.valid,
         "format_name": o.format_name, "messages": list(o.messages)}
        for o in outcomes
    ]  # fmt: skip
    return json.dumps(listed) if listed else None


def characterisation_from_json(text: str | None) -> tuple[ToolOutcome, ...]:
    if not text:
        return ()
    return tuple(
        ToolOutcome(d["tool"], d["version"], d["well_formed"], d["valid"], d.get("format_name"), tuple(d["messages"]))
        for d in json.loads(text)
    )
