"""Which original each derivative was made from, and by which event: the METS derivation links.

One function for every writer of METS after ingest (metadata updates, migrations), so a new
version keeps the link of every text, preservation and access derivative, however it was made:
a derivative made by a migration rule or by `strongroom text` (the derivation event named by the original,
the purpose and the derivative's own digest), else text extracted at ingest (its original's text event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from strongroom.ingest.provenance import text_event_uuid
from strongroom.metadata.premis import Derivation
from strongroom.model import Event, FileRecord, FileRole
from strongroom.preservation.actions import Purpose, derivation_event_uuid, derivative_source

DERIVATIVE_ROLES = (FileRole.TEXT, FileRole.PRESERVATION, FileRole.ACCESS)


def derivations_of(files: Sequence[FileRecord], events: Sequence[Event]) -> Callable[[FileRecord], Derivation | None]:
    """For METS: each derivative's source (the original at its path) and the event that made it.

    The event is named only when it is among `events` (those the METS will hold); a derivative whose
    original is missing gets None, so the PREMIS writer refuses it rather than writing a dangling link.
    """
    originals = {f.path: f.uuid for f in files if f.role is FileRole.ORIGINAL}
    known = {e.uuid for e in events}

    def derivation(record: FileRecord) -> Derivation | None:
        if record.role not in DERIVATIVE_ROLES:
            return None
        found = derivative_source(record.path)
        if found is None:
            return None
        purpose, original_path = found
        if purpose.role is not record.role:
            return None  # a path under preservation/ whose record says otherwise: not a derivative of ours
        source = originals.get(original_path)
        if source is None:
            return None
        # The event made for this very derivative (its digest) first: an original whose ingest logged its text
        # as not extracted, and whose text `strongroom text` made later, holds both events.
        candidates = [derivation_event_uuid(source, purpose, record.sha256)]
        if purpose is Purpose.TEXT:
            candidates.append(text_event_uuid(source))
        event = next((c for c in candidates if c in known), None)
        return Derivation(source, event)

    return derivation
