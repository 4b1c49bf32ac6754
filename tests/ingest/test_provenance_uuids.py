"""Per-file event UUIDs are name-based (uuid5), so that the METS and the catalog, made apart, name each event alike."""

from __future__ import annotations

import uuid

from strongroom.ingest.provenance import EVENT_NAMESPACE, _event_uuid, text_event_uuid


def test_event_uuids_are_uuid5_of_the_file_and_kind() -> None:
    for n in range(200):
        file_uuid = str(uuid.uuid4())
        for kind in ("ingestion", "digest", "fixity", "format", "virus", "validation", "rename", f"é{n}"):
            expected = str(uuid.uuid5(EVENT_NAMESPACE, f"{file_uuid}/{kind}"))
            assert _event_uuid(file_uuid, kind) == expected
    assert text_event_uuid("x") == str(uuid.uuid5(EVENT_NAMESPACE, "x/text"))
    assert uuid.UUID(_event_uuid("a", "b")).version == 5
