"""The operational catalog: packages, files, events and agents in SQLite.

Storage is the source of truth; everything here can be rebuilt from the stored
packages. One writer at a time (WAL, busy timeout, short transactions), so two
ingests running at once queue for the write lock instead of corrupting it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from strongroom.errors import StrongroomError
from strongroom.model import (
    Agent,
    AgentType,
    Basis,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FormatMatch,
    Identification,
    Outcome,
    PackageSummary,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS packages (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    payload_sha256 TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    title TEXT,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS packages_payload ON packages(payload_sha256);
CREATE TABLE IF NOT EXISTS files (
    uuid TEXT PRIMARY KEY,
    package TEXT NOT NULL REFERENCES packages(uuid) ON DELETE CASCADE,
    path TEXT NOT NULL,
    original_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    role TEXT NOT NULL,
    puid TEXT,
    format_name TEXT,
    identification TEXT,
    modified TEXT,
    UNIQUE (package, path)
);
CREATE INDEX IF NOT EXISTS files_puid ON files(puid);
CREATE TABLE IF NOT EXISTS agents (
    key TEXT PRIMARY KEY,
    identifier_type TEXT NOT NULL,
    identifier_value TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS events (
    uuid TEXT PRIMARY KEY,
    package TEXT NOT NULL REFERENCES packages(uuid) ON DELETE CASCADE,
    file_uuid TEXT,
    type TEXT NOT NULL,
    datetime TEXT NOT NULL,
    detail TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_detail TEXT NOT NULL,
    agents TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_package ON events(package, datetime);
CREATE TABLE IF NOT EXISTS descriptions (
    package TEXT NOT NULL REFERENCES packages(uuid) ON DELETE CASCADE,
    target TEXT NOT NULL,
    elements TEXT NOT NULL,
    PRIMARY KEY (package, target)
);
"""


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


class Catalog:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StrongroomError(
                f"The catalog {path} cannot be opened: {exc}.",
                details=["If it is damaged, move it aside and run: strongroom rebuild"],
            ) from exc
        self._db.row_factory = sqlite3.Row

    def close(self) -> None:
        self._db.close()

    # --- writing -----------------------------------------------------------------------

    def add_package(
        self,
        summary: PackageSummary,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore] = (),
    ) -> None:
        """Record a stored package in one transaction: all of it or none of it."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM packages WHERE uuid = ?", (summary.uuid,))
            db.execute(
                "INSERT INTO packages VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    summary.uuid, summary.name, summary.created.isoformat(), summary.files, summary.bytes,
                    summary.payload_sha256, summary.storage_key, summary.title, int(summary.indexed),
                ),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        f.uuid, summary.uuid, f.path, f.original_name, f.size, f.sha256, f.role.value,
                        f.identification.puid if f.identification else None,
                        f.identification.format_name if f.identification else None,
                        identification_to_json(f.identification),
                        f.modified.isoformat() if f.modified else None,
                    )
                    for f in files
                ),
            )  # fmt: skip
            self._insert_agents(agents)
            self._insert_events(summary.uuid, events)
            db.executemany(
                "INSERT OR REPLACE INTO descriptions VALUES (?,?,?)",
                (
                    (summary.uuid, d.target, json.dumps({k: list(v) for k, v in d.elements.items()}))
                    for d in descriptions
                ),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _insert_agents(self, agents: Iterable[Agent]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO agents VALUES (?,?,?,?,?,?)",
            ((a.key, a.identifier_type, a.identifier_value, a.name, a.type.value, a.note) for a in agents),
        )

    def _insert_events(self, package: str, events: Iterable[Event]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?)",
            (
                (
                    e.uuid, package, e.file_uuid, e.type, e.datetime.isoformat(), e.detail, e.outcome.value,
                    e.outcome_detail, json.dumps(list(e.agents)),
                )
                for e in events
            ),
        )  # fmt: skip

    def record_events(self, package: str, events: Iterable[Event], agents: Iterable[Agent]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            self._insert_agents(agents)
            self._insert_events(package, events)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def set_indexed(self, package: str, indexed: bool) -> None:
        self._db.execute("UPDATE packages SET indexed = ? WHERE uuid = ?", (int(indexed), package))

    def clear(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("descriptions", "events", "files", "agents", "packages"):
                db.execute(f"DELETE FROM {table}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- reading -----------------------------------------------------------------------

    def packages(self) -> list[PackageSummary]:
        rows = self._db.execute("SELECT * FROM packages ORDER BY created, name").fetchall()
        return [_summary(r) for r in rows]

    def package_uuids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT uuid FROM packages")}

    def unindexed(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT uuid FROM packages WHERE indexed = 0")]

    def find_package(self, ref: str) -> PackageSummary | None:
        """By UUID, a unique UUID prefix (8+ characters) or an exact name."""
        row = self._db.execute("SELECT * FROM packages WHERE uuid = ?", (ref,)).fetchone()
        if row is None and len(ref) >= 8:
            rows = self._db.execute(
                "SELECT * FROM packages WHERE uuid LIKE ? ESCAPE '\\'", (_like_prefix(ref),)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            rows = self._db.execute("SELECT * FROM packages WHERE name = ?", (ref,)).fetchall()
            if len(rows) > 1:
                raise StrongroomError(
                    f"{len(rows)} packages are named {ref!r}.", details=[f"Use the UUID: {r['uuid']}" for r in rows]
                )
            row = rows[0] if rows else None
        return _summary(row) if row is not None else None

    def with_payload(self, payload_sha256: str) -> list[PackageSummary]:
        rows = self._db.execute("SELECT * FROM packages WHERE payload_sha256 = ?", (payload_sha256,)).fetchall()
        return [_summary(r) for r in rows]

    def files(self, package: str) -> Iterator[FileRecord]:
        cursor = self._db.execute("SELECT * FROM files WHERE package = ? ORDER BY path", (package,))
        for row in cursor:
            yield FileRecord(
                uuid=row["uuid"],
                path=row["path"],
                original_name=row["original_name"],
                size=row["size"],
                sha256=row["sha256"],
                role=FileRole(row["role"]),
                identification=identification_from_json(row["identification"]),
                modified=datetime.fromisoformat(row["modified"]) if row["modified"] else None,
            )

    def events(self, package: str, *, file_uuid: str | None = None) -> list[Event]:
        sql = "SELECT * FROM events WHERE package = ?"
        params: tuple[str, ...] = (package,)
        if file_uuid is not None:
            sql += " AND file_uuid = ?"
            params = (package, file_uuid)
        rows = self._db.execute(sql + " ORDER BY datetime, type", params).fetchall()
        return [
            Event(
                uuid=r["uuid"],
                type=r["type"],
                datetime=datetime.fromisoformat(r["datetime"]),
                detail=r["detail"],
                outcome=Outcome(r["outcome"]),
                outcome_detail=r["outcome_detail"],
                agents=tuple(json.loads(r["agents"])),
                file_uuid=r["file_uuid"],
            )
            for r in rows
        ]

    def descriptions(self, package: str) -> list[DublinCore]:
        rows = self._db.execute(
            "SELECT target, elements FROM descriptions WHERE package = ? ORDER BY target", (package,)
        ).fetchall()
        return [DublinCore(r[0], {k: tuple(v) for k, v in json.loads(r[1]).items()}) for r in rows]

    def agents(self) -> list[Agent]:
        rows = self._db.execute("SELECT * FROM agents ORDER BY key").fetchall()
        return [
            Agent(r["identifier_type"], r["identifier_value"], r["name"], AgentType(r["type"]), r["note"]) for r in rows
        ]

    def format_counts(self, package: str | None = None) -> list[sqlite3.Row]:
        sql = "SELECT puid, format_name, COUNT(*) AS files, SUM(size) AS bytes FROM files WHERE role = 'original'"
        params: tuple[str, ...] = ()
        if package:
            sql += " AND package = ?"
            params = (package,)
        return self._db.execute(sql + " GROUP BY puid, format_name ORDER BY files DESC", params).fetchall()

    def original_format_counts(self, package: str | None = None) -> list[sqlite3.Row]:
        """Originals counted per (package, puid, format name, version): the raw figures of a collection profile."""
        sql = (
            "SELECT f.package AS package, p.name AS package_name, f.puid AS puid, f.format_name AS format_name,"
            " json_extract(f.identification, '$.matches[0].version') AS format_version,"
            " COUNT(*) AS files, COALESCE(SUM(f.size), 0) AS bytes"
            " FROM files f JOIN packages p ON p.uuid = f.package WHERE f.role = 'original'"
        )
        params: tuple[str, ...] = ()
        if package:
            sql += " AND f.package = ?"
            params = (package,)
        sql += " GROUP BY f.package, f.puid, f.format_name, format_version ORDER BY p.name, f.package"
        return self._db.execute(sql, params).fetchall()


def _like_prefix(ref: str) -> str:
    return ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _summary(row: sqlite3.Row) -> PackageSummary:
    return PackageSummary(
        uuid=row["uuid"],
        name=row["name"],
        created=datetime.fromisoformat(row["created"]),
        files=row["files"],
        bytes=row["bytes"],
        payload_sha256=row["payload_sha256"],
        storage_key=row["storage_key"],
        title=row["title"],
        indexed=bool(row["indexed"]),
    )
