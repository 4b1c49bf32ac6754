"""Per-file results of an ingest in progress, kept on disk rather than in memory.

A transfer may hold millions of files; their records go into a small SQLite
file in the staging folder as they are produced and are read back, sorted by
path, as often as the METS writer, the catalog and the index need them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from strongroom.catalog.codec import identification_from_json, identification_to_json
from strongroom.ingest.provenance import FileFacts
from strongroom.model import FileRecord, FileRole


class StagedFiles:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")  # scratch data: a crash discards the ingest anyway
        self._db.execute(
            """CREATE TABLE files (
                path TEXT PRIMARY KEY, uuid TEXT, original_name TEXT, size INTEGER, sha256 TEXT,
                role TEXT, identification TEXT, modified TEXT, supplied TEXT, renamed_from TEXT,
                processed_at TEXT)"""
        )
        self._db.execute("BEGIN")
        self.count = 0
        self.bytes = 0
        self.original_bytes = 0
        self.originals = 0

    def add(self, record: FileRecord, facts: FileFacts) -> None:
        self._db.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.path, record.uuid, record.original_name, record.size, record.sha256, record.role.value,
                identification_to_json(record.identification),
                record.modified.isoformat() if record.modified else None,
                json.dumps(facts.supplied), facts.renamed_from, facts.processed_at.isoformat(),
            ),
        )  # fmt: skip
        self.count += 1
        self.bytes += record.size
        if record.role is FileRole.ORIGINAL:
            self.originals += 1
            self.original_bytes += record.size

    def finish(self) -> None:
        self._db.execute("COMMIT")

    def __iter__(self) -> Iterator[tuple[FileRecord, FileFacts]]:
        # A separate cursor per pass, so passes can run one after another.
        for row in self._db.execute("SELECT * FROM files ORDER BY path"):
            yield (
                FileRecord(
                    uuid=row[1], path=row[0], original_name=row[2], size=row[3], sha256=row[4],
                    role=FileRole(row[5]), identification=identification_from_json(row[6]),
                    modified=datetime.fromisoformat(row[7]) if row[7] else None,
                ),
                FileFacts(
                    supplied=tuple(tuple(p) for p in json.loads(row[8])),
                    renamed_from=row[9],
                    processed_at=datetime.fromisoformat(row[10]),
                ),
            )  # fmt: skip

    def payload_digest(self) -> str:
        """One SHA-256 over the sorted (path, sha256) of the originals: equal payloads, equal digests."""
        import hashlib

        hasher = hashlib.sha256()
        for path, sha in self._db.execute("SELECT path, sha256 FROM files WHERE role = 'original' ORDER BY path"):
            hasher.update(f"{sha}  {path}\n".encode("utf-8", "surrogateescape"))
        return hasher.hexdigest()

    def close(self) -> None:
        self._db.close()
