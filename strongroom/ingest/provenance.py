"""PREMIS agents and events of an ingest.

Per-file events are derived from the file's record with name-based UUIDs, so
they can be produced again, identically, whenever the METS document or the
catalog needs them, without holding every file's events in memory.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from strongroom import __version__
from strongroom.formats import IdentifierDescription
from strongroom.model import Agent, AgentType, Basis, Event, FileRecord, FileRole, Outcome, Validity

EVENT_NAMESPACE = uuid.UUID("6f1d7c55-3c1e-4b53-9b43-6b0d3f1f0a11")
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


@dataclass(frozen=True)
class IngestAgents:
    system: Agent
    identifier: Agent
    organisation: Agent
    operator: Agent
    checkers: tuple[Agent, ...] = ()  # the virus scanner, characterisation and text extraction tools that ran

    def all(self) -> tuple[Agent, ...]:
        return (self.system, self.identifier, self.organisation, self.operator, *self.checkers)

    def checker(self, name: str) -> str | None:
        """The key of the checking tool agent whose name starts with `name` (ClamAV, JHOVE, pdftotext...)."""
        return next((a.key for a in self.checkers if a.name.startswith(name)), None)


def tool_agent(name: str, version: str, note: str | None = None) -> Agent:
    return Agent("software", f"{name}-{version}", f"{name} {version}", AgentType.SOFTWARE, note=note)


def make_agents(
    organisation_name: str, organisation_id: str, operator: str, identifier: IdentifierDescription
) -> IngestAgents:
    return IngestAgents(
        system=Agent(
            "preservation system", f"Strongroom-{__version__}", f"Strongroom {__version__}", AgentType.SOFTWARE
        ),
        identifier=Agent(
            "software",
            f"{identifier.tool}-{identifier.tool_version}",
            f"{identifier.tool} {identifier.tool_version}",
            AgentType.SOFTWARE,
            note=f"signatures: {identifier.signature_version}",
        ),
        organisation=Agent("repository code", organisation_id, organisation_name, AgentType.ORGANIZATION),
        operator=Agent("local user", operator, operator, AgentType.PERSON),
    )


def _event_uuid(file_uuid: str, kind: str) -> str:
    """uuid.uuid5(EVENT_NAMESPACE, "<file uuid>/<kind>"), computed without its two UUID objects: an ingest makes
    four or five per file, twice (for the METS and for the catalog)."""
    name = _NAMESPACE_BYTES + f"{file_uuid}/{kind}".encode()
    raw = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# The Library of Congress eventType for making the text derivative: a new object created from the
# original ("migration" and "normalization" would claim the text preserves the record; it does not).
TEXT_EVENT = "creation"


def text_event_uuid(original_uuid: str) -> str:
    """The UUID of the event that made (or failed to make) an original's text derivative."""
    return _event_uuid(original_uuid, "text")


@dataclass(frozen=True)
class TextFinding:
    """One original's text extraction, for its PREMIS event.

    `status` is a strongroom.fulltext TextStatus value; `derivative` the path of the text kept
    (None when nothing was kept); `detail` the event's outcome detail.
    """

    status: str
    tool: str
    version: str
    detail: str
    derivative: str | None
    when: datetime


@dataclass(frozen=True)
class VirusFinding:
    """One file's virus check: "clean", "infected" or "not scanned", and by which scanner."""

    status: str
    signature: str | None
    detail: str
    scanner: str  # e.g. "ClamAV 1.0.9, database 27000 (...)": the event's detail names it


@dataclass(frozen=True)
class FileFacts:
    """What the per-file events say beyond the FileRecord itself."""

    supplied: tuple[tuple[str, str], ...]  # (algorithm, source) pairs verified for this file
    renamed_from: str | None
    processed_at: datetime
    virus: VirusFinding | None = None
    text: TextFinding | None = None  # an original's text extraction
    derived_from: str | None = None  # a text derivative's original (its UUID)


def _text_outcome(status: str) -> Outcome:
    if status in ("extracted", "empty"):
        return Outcome.SUCCESS
    return Outcome.FAILURE if status == "failed" else Outcome.WARNING  # cut, or not extracted (no tool)


def text_event(record: FileRecord, finding: TextFinding, agents: IngestAgents, version: int = 1) -> Event:
    """The event on an original that says how its text was extracted, kept, cut, or why not."""
    detail = f'program="{finding.tool}"' + (f'; version="{finding.version}"' if finding.version else "")
    keys = tuple(k for k in (agents.checker(finding.tool), agents.system.key) if k)
    return Event(
        text_event_uuid(record.uuid), TEXT_EVENT, finding.when, detail, _text_outcome(finding.status),
        finding.detail, keys, record.uuid, version,
    )  # fmt: skip


def derivative_events(record: FileRecord, facts: FileFacts, agents: IngestAgents, version: int = 1) -> list[Event]:
    """A text derivative's own event: its digest (its making is the creation event of its original)."""
    return [
        Event(
            _event_uuid(record.uuid, "digest"), "message digest calculation", facts.processed_at,
            "program=\"python hashlib\"; algorithm=SHA-256", Outcome.SUCCESS, record.sha256,
            (agents.system.key,), record.uuid, version,
        )
    ]  # fmt: skip


def file_events(record: FileRecord, facts: FileFacts, agents: IngestAgents, ingest_time: datetime) -> list[Event]:
    if record.role is FileRole.TEXT:
        return derivative_events(record, facts, agents)
    # Every event is about version 1, the one an ingest makes.
    base = (agents.system.key, agents.organisation.key, agents.operator.key)
    events = [
        Event(
            _event_uuid(record.uuid, "ingestion"), "ingestion", ingest_time, "Transfer received by Strongroom",
            Outcome.SUCCESS, f"original name: {record.original_name}", base, record.uuid, 1,
        ),
        Event(
            _event_uuid(record.uuid, "digest"), "message digest calculation", facts.processed_at,
            "program=\"python hashlib\"; algorithm=SHA-256", Outcome.SUCCESS, record.sha256,
            (agents.system.key,), record.uuid, 1,
        ),
    ]  # fmt: skip
    if facts.supplied:
        sources = "; ".join(f"{alg} from {src}" for alg, src in facts.supplied)
        events.append(
            Event(
                _event_uuid(record.uuid, "fixity"), "fixity check", facts.processed_at,
                "Checksums supplied with the transfer compared with the received bytes", Outcome.SUCCESS,
                f"match: {sources}", (agents.system.key,), record.uuid, 1,
            )
        )  # fmt: skip
    ident = record.identification
    if ident is not None:
        outcome = Outcome.SUCCESS if ident.basis in (Basis.SIGNATURE, Basis.CONTAINER) else Outcome.WARNING
        detail = f"{ident.puid} ({ident.format_name}) by {ident.basis.value}" if ident.puid else "format not identified"
        if ident.warnings:
            detail += "; " + "; ".join(ident.warnings)
        events.append(
            Event(
                _event_uuid(record.uuid, "format"), "format identification", facts.processed_at,
                f"program=\"{ident.tool}\"; version=\"{ident.tool_version}\"; signatures=\"{ident.signature_version}\"",
                outcome, detail, (agents.identifier.key, agents.system.key), record.uuid, 1,
            )
        )  # fmt: skip
    if facts.virus is not None:
        virus = facts.virus
        outcome = {"clean": Outcome.SUCCESS, "infected": Outcome.FAILURE}.get(virus.status, Outcome.WARNING)
        keys = tuple(k for k in (agents.checker("ClamAV"), agents.system.key) if k)
        events.append(
            Event(
                _event_uuid(record.uuid, "virus"), "virus check", facts.processed_at,
                f"program=\"{virus.scanner}\"", outcome, virus.detail, keys, record.uuid, 1,
            )
        )  # fmt: skip
    if record.validity is not None:
        outcome = {Validity.INVALID: Outcome.FAILURE, Validity.NOT_CHECKED: Outcome.WARNING}.get(
            record.validity, Outcome.SUCCESS
        )
        tools = "; ".join(f'program="{o.tool}"; version="{o.version}"' for o in record.characterisation)
        judged = [o for o in record.characterisation if o.well_formed is not None or o.valid is not None]
        notes = [m for o in judged for m in o.messages[:3]]
        keys = tuple(k for k in (*(agents.checker(o.tool) for o in record.characterisation), agents.system.key) if k)
        events.append(
            Event(
                _event_uuid(record.uuid, "validation"), "validation", facts.processed_at,
                tools or "no characterisation tool for this format", outcome,
                f"{record.validity.value}" + (f": {'; '.join(notes)}" if notes else ""), tuple(dict.fromkeys(keys)),
                record.uuid, 1,
            )
        )  # fmt: skip
    if facts.text is not None:
        events.append(text_event(record, facts.text, agents))
    if facts.renamed_from is not None:
        events.append(
            Event(
                _event_uuid(record.uuid, "rename"), "filename change", facts.processed_at,
                "Name held bytes or characters that cannot be stored as text; escaped as %XX", Outcome.SUCCESS,
                f"original name bytes: {facts.renamed_from}; stored as: {record.path}", (agents.system.key,),
                record.uuid, 1,
            )
        )  # fmt: skip
    return events


def package_event(
    kind: str,
    when: datetime,
    detail: str,
    outcome: Outcome,
    outcome_detail: str,
    agents: tuple[str, ...],
    version: int | None = 1,
) -> Event:
    return Event(str(uuid.uuid4()), kind, when, detail, outcome, outcome_detail, agents, None, version)
