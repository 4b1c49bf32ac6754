"""Per-file results of an ingest in progress, kept on disk rather than in memory.

A transfer may hold millions of files; their records go into a small SQLite
file in the staging folder as they are produced and are read back, sorted by
path, as often as the METS writer, the catalog and the index need them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from strongroom.catalog.codec import (
    characterisation_from_json,
    characterisation_to_json,
    identification_from_json,
    identification_to_json,
)
from strongroom.ingest.provenance import FileFacts, TextFinding, VirusFinding, text_event_uuid
from strongroom.metadata.premis import Derivation
from strongroom.model import FileRecord, FileRole, ToolOutcome, Validity


class StagedFiles:
    """`existing`: open a file written earlier (a chunk's results) to read it, rather than start a new one."""

    def __init__(self, path: Path, *, existing: bool = False) -> None:
        if existing and not path.is_file():
            raise FileNotFoundError(path)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")  # scratch data: a crash discards the ingest anyway
        self.count = 0
        self.bytes = 0
        self.original_bytes = 0
        self.originals = 0
        if existing:
            self._recount()
            return
        self._db.execute(
            """CREATE TABLE files (
                path TEXT PRIMARY KEY, uuid TEXT, original_name TEXT, size INTEGER, sha256 TEXT,
                role TEXT, identification TEXT, modified TEXT, supplied TEXT, renamed_from TEXT,
                processed_at TEXT, validity TEXT, characterisation TEXT, virus TEXT, text TEXT, source TEXT)"""
        )
        self._db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.execute("BEGIN")

    @classmethod
    def merged(cls, path: Path, parts: Sequence[Path]) -> StagedFiles:
        """A new file at `path` (replacing any there) holding the files of `parts`, each a finished StagedFiles."""
        path.unlink(missing_ok=True)
        staged = cls(path)
        staged.finish()
        for part in parts:
            staged._db.execute("ATTACH DATABASE ? AS part", (str(part),))
            try:
                staged._db.execute("INSERT INTO files SELECT * FROM part.files")
            finally:
                staged._db.execute("DETACH DATABASE part")
        staged._recount()
        return staged

    def _recount(self) -> None:
        self.count, self.bytes, self.originals, self.original_bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(role = 'original'), 0), "
            "COALESCE(SUM(CASE WHEN role = 'original' THEN size ELSE 0 END), 0) FROM files"
        ).fetchone()

    def set_meta(self, key: str, value: Any) -> None:
        """Keep a JSON value beside the files (what a chunk found besides them: problems, check outcomes)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return json.loads(row[0])

    def add(self, record: FileRecord, facts: FileFacts) -> None:
        self._db.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,NULL,?,?)",
            (
                record.path, record.uuid, record.original_name, record.size, record.sha256, record.role.value,
                identification_to_json(record.identification),
                record.modified.isoformat() if record.modified else None,
                json.dumps(facts.supplied), facts.renamed_from, facts.processed_at.isoformat(),
                _text_json(facts.text), facts.derived_from,
            ),
        )  # fmt: skip
        self.count += 1
        self.bytes += record.size
        if record.role is FileRole.ORIGINAL:
            self.originals += 1
            self.original_bytes += record.size

    def finish(self) -> None:
        self._db.execute("COMMIT")

    def set_virus_finding(self, path: str, finding: VirusFinding) -> None:
        value = json.dumps([finding.status, finding.signature, finding.detail, finding.scanner])
        self._db.execute("UPDATE files SET virus = ? WHERE path = ?", (value, path))

    def set_characterisation(self, path: str, validity: Validity, outcomes: tuple[ToolOutcome, ...]) -> None:
        self._db.execute(
            "UPDATE files SET validity = ?, characterisation = ? WHERE path = ?",
            (validity.value, characterisation_to_json(outcomes), path),
        )

    def set_text_finding(self, path: str, finding: TextFinding) -> None:
        self._db.execute("UPDATE files SET text = ? WHERE path = ?", (_text_json(finding), path))

    def originals_after(self, after: str | None, limit: int = 512) -> list[tuple[str, str, str, FileRecord]]:
        """The next originals in path order after `after`: (path, uuid, name, record), a page at a time.

        Paged rather than one open cursor, so files can be added (text derivatives) while they are read.
        """
        rows = self._db.execute(
            "SELECT * FROM files WHERE role = ? AND path > ? ORDER BY path LIMIT ?",
            (FileRole.ORIGINAL.value, after or "", limit),
        ).fetchall()
        records = [_record(row) for row in rows]
        return [(r.path, r.uuid, r.original_name, r) for r in records]

    def derivation(self, record: FileRecord) -> Derivation | None:
        """A text derivative's source and the event that made it, for its PREMIS relationship."""
        if record.role is not FileRole.TEXT:
            return None
        row = self._db.execute("SELECT source FROM files WHERE path = ?", (record.path,)).fetchone()
        if row is None or row[0] is None:
            return None
        return Derivation(row[0], text_event_uuid(row[0]))

    def remove(self, path: str) -> None:
        """Take a file out of the package (quarantined): it is not stored, listed or counted."""
        row = self._db.execute("SELECT size, role FROM files WHERE path = ?", (path,)).fetchone()
        if row is None:
            return
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))
        self.count -= 1
        self.bytes -= row[0]
        if row[1] == FileRole.ORIGINAL.value:
            self.originals -= 1
            self.original_bytes -= row[0]

    def paths(self) -> Iterator[tuple[str, str, str | None]]:
        """(path, role, PUID) of every file, in path order."""
        for path, role, ident in self._db.execute("SELECT path, role, identification FROM files ORDER BY path"):
            identification = identification_from_json(ident)
            yield path, role, identification.puid if identification else None

    def __iter__(self) -> Iterator[tuple[FileRecord, FileFacts]]:
        # A separate cursor per pass, so passes can run one after another.
        for row in self._db.execute("SELECT * FROM files ORDER BY path"):
            yield (
                _record(row),
                FileFacts(
                    supplied=tuple(tuple(p) for p in json.loads(row[8])),
                    renamed_from=row[9],
                    processed_at=datetime.fromisoformat(row[10]),
                    virus=VirusFinding(*json.loads(row[13])) if row[13] else None,
                    text=_text_from_json(row[14]),
                    derived_from=row[15],
                ),
            )  # fmt: skip

    def records(self) -> Iterator[FileRecord]:
        """The FileRecord of every file, in path order: what iterating gives without its facts, decoded faster."""
        for row in self._db.execute("SELECT * FROM files ORDER BY path"):
            yield _record(row)

    def digests(self) -> Iterator[tuple[str, str, int]]:
        """(path, sha256, size) of every file, in path order: what the manifests need, nothing decoded."""
        yield from self._db.execute("SELECT path, sha256, size FROM files ORDER BY path")

    def payload_digest(self) -> str:
        """One SHA-256 over the sorted (path, sha256) of the originals: equal payloads, equal digests."""
        import hashlib

        hasher = hashlib.sha256()
        for path, sha in self._db.execute("SELECT path, sha256 FROM files WHERE role = 'original' ORDER BY path"):
            hasher.update(f"{sha}  {path}\n".encode("utf-8", "surrogateescape"))
        return hasher.hexdigest()

    def close(self) -> None:
        self._db.close()


def _record(row: tuple[Any, ...]) -> FileRecord:
    return FileRecord(
        uuid=row[1], path=row[0], original_name=row[2], size=row[3], sha256=row[4],
        role=FileRole(row[5]), identification=identification_from_json(row[6]),
        modified=datetime.fromisoformat(row[7]) if row[7] else None,
        validity=Validity(row[11]) if row[11] else None,
        characterisation=characterisation_from_json(row[12]),
    )  # fmt: skip


def _text_json(finding: TextFinding | None) -> str | None:
    if finding is None:
        return None
    return json.dumps([finding.status, finding.tool, finding.version, finding.detail, finding.derivative,
                       finding.when.isoformat()])  # fmt: skip


def _text_from_json(value: str | None) -> TextFinding | None:
    if value is None:
        return None
    status, tool, version, detail, derivative, when = json.loads(value)
    return TextFinding(status, tool, version, detail, derivative, datetime.fromisoformat(when))
