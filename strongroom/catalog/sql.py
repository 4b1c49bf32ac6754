"""The Catalog protocol implemented once with SQLAlchemy Core, for SQLite and PostgreSQL alike.

What differs between the backends is set up in backends.py and handed in: the engines (on
SQLite, writes begin with BEGIN IMMEDIATE, so there is one writer at a time), and the lock.
Here every write method is one transaction; large inputs (files, events) are generators that
are consumed once and inserted in chunks, so memory stays flat however big the package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from itertools import islice
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from strongroom.catalog import tables as t
from strongroom.catalog.accounts_sql import AccountsSql
from strongroom.catalog.codec import (
    characterisation_from_json,
    characterisation_to_json,
    elements_from_json,
    elements_to_json,
    identification_from_json,
    identification_to_json,
    strings_from_json,
    strings_to_json,
)
from strongroom.catalog.jobs_sql import JobsSql
from strongroom.catalog.jobs_steps_sql import JobStepsSql
from strongroom.catalog.records_sql import RecordsSql
from strongroom.errors import CatalogError, DuplicateTransferError, NotFound, StrongroomError
from strongroom.model import (
    AccessRule,
    AccessStatus,
    Agent,
    AgentType,
    CopyRecord,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FormatCount,
    JournalAnchor,
    LocationUsage,
    Outcome,
    PackageSummary,
    Validity,
    ValidityCount,
    VersionRecord,
)

CHUNK = 1000  # rows per executemany: large enough to be fast, small enough to keep memory flat
PREFIX_MIN = 8  # a UUID prefix shorter than this is not looked up (too likely to be ambiguous)

T = TypeVar("T")
Values = dict[str, Any]


class Locks(Protocol):
    """How a backend provides Catalog.lock(): file locks beside SQLite, advisory locks on PostgreSQL."""

    def lock(self, name: str, *, wait: bool) -> AbstractContextManager[bool]: ...

    def close(self) -> None: ...


def chunks(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class SqlCatalog(RecordsSql, AccountsSql, JobsSql, JobStepsSql):
    """A catalog in an SQL database; open one with strongroom.catalog.open_catalog(url)."""

    def __init__(self, engine: Engine, *, url: str, write_engine: Engine, locks: Locks) -> None:
        self.url = url
        self._engine = engine
        self._write_engine = write_engine
        self._locks = locks
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"SqlCatalog supports SQLite and PostgreSQL, not {dialect}")
        # Both dialects' INSERT constructs offer on_conflict_do_nothing/do_update with the same arguments.
        # Imported by name: an SQLite catalog need not load the PostgreSQL dialect (start-up time).
        self._insert: Callable[[sa.Table], Any]
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            self._insert = sqlite_insert
        else:
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            self._insert = postgresql_insert

    def __repr__(self) -> str:
        return f"SqlCatalog({self.url!r})"

    def close(self) -> None:
        self._locks.close()
        self._engine.dispose()

    # --- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _database_errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into a CatalogError that says what failed and what to do."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
            if isinstance(exc, sa.exc.IntegrityError):
                raise CatalogError(
                    f"The catalog at {self.url} refused to {action}: {reason}.",
                    details=["Nothing was written. This is most likely a bug in Strongroom; please report it."],
                ) from exc
            raise CatalogError(
                f"The catalog at {self.url} could not {action}: {reason}.",
                details=[
                    "Nothing was written by this step.",
                    "Check that the database is reachable and has space, then retry.",
                ],
            ) from exc
        except sa.exc.StatementError as exc:
            # A value the catalog cannot store (a naive datetime): the caller's bug, raised as itself.
            if isinstance(exc.orig, ValueError):
                raise exc.orig from exc
            raise

    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if anything raises."""
        with self._database_errors(action), self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with self._database_errors(action), self._engine.connect() as conn:
            yield conn

    def _upsert(self, table: sa.Table, keys: Iterable[str], *, update: bool) -> Any:
        stmt = self._insert(table)
        key_list = list(keys)
        if not update:
            return stmt.on_conflict_do_nothing(index_elements=key_list)
        changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in key_list}
        return stmt.on_conflict_do_update(index_elements=key_list, set_=changes)

    def _require_package(self, conn: Connection, package: str) -> None:
        if conn.execute(sa.select(t.packages.c.uuid).where(t.packages.c.uuid == package)).first() is None:
            raise NotFound(
                f"Package {package} is not in the catalog at {self.url}.",
                details=["If it is in storage, run: strongroom rebuild"],
            )

    # --- writing --------------------------------------------------------------------------------

    def add_package(
        self,
        summary: PackageSummary,
        version: VersionRecord,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore],
        *,
        claim_payload: bool,
        stored_in: Sequence[str] = (),
    ) -> None:
        _check_version_of(summary, version)
        with self._write(f"record package {summary.uuid}") as conn:
            # A package catalogued again (recovery, rebuild) is replaced whole; its rows go with it.
            conn.execute(sa.delete(t.packages).where(t.packages.c.uuid == summary.uuid))
            row = _package_values(summary, version)
            row["payload_claim"] = summary.payload_sha256 if claim_payload else None
            # The unique index on payload_claim is the duplicate check: of two transactions claiming
            # one digest, the second waits for the first and then inserts nothing.
            stmt = self._insert(t.packages).on_conflict_do_nothing(index_elements=["payload_claim"])
            if conn.execute(stmt.execution_options(preserve_rowcount=True), row).rowcount != 1:
                raise self._duplicate(conn, summary)
            conn.execute(sa.insert(t.versions), _version_values(version))
            self._write_contents(conn, summary.uuid, files, events, agents, descriptions)
            self._write_copies(conn, summary.uuid, stored_in, version.number, version.created)

    def _duplicate(self, conn: Connection, summary: PackageSummary) -> DuplicateTransferError:
        holder = conn.execute(
            sa.select(t.packages.c.uuid, t.packages.c.name).where(t.packages.c.payload_claim == summary.payload_sha256)
        ).first()
        named = f"package {holder.name} ({holder.uuid})" if holder is not None else "another package"
        return DuplicateTransferError(
            f"The same payload (SHA-256 {summary.payload_sha256}) is already stored as {named}.",
            details=["To keep a second copy on purpose, ingest with --allow-duplicate."],
        )

    def add_version(
        self,
        summary: PackageSummary,
        version: VersionRecord,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore],
        *,
        stored_in: Sequence[str] = (),
    ) -> None:
        _check_version_of(summary, version)
        package = summary.uuid
        with self._write(f"record version {version.number} of package {package}") as conn:
            self._require_package(conn, package)
            # The payload claim stays as it was: it records which transfer was ingested.
            conn.execute(
                sa.update(t.packages).where(t.packages.c.uuid == package).values(**_package_values(summary, version))
            )
            conn.execute(self._upsert(t.versions, ("package", "number"), update=True), _version_values(version))
            conn.execute(sa.delete(t.files).where(t.files.c.package == package))
            conn.execute(sa.delete(t.descriptions).where(t.descriptions.c.package == package))
            self._write_contents(conn, package, files, events, agents, descriptions)
            self._write_copies(conn, package, stored_in, version.number, version.created)

    def _write_contents(
        self,
        conn: Connection,
        package: str,
        files: Iterable[FileRecord],
        events: Iterable[Event],
        agents: Iterable[Agent],
        descriptions: Iterable[DublinCore],
    ) -> None:
        insert_files = sa.insert(t.files)
        for chunk in chunks(_file_values(package, f) for f in files):
            conn.execute(insert_files, chunk)
        self._write_agents(conn, agents)
        self._write_events(conn, package, events)
        upsert_descriptions = self._upsert(t.descriptions, ("package", "target"), update=True)
        for described in chunks(descriptions):
            # Within one statement a target may appear once (PostgreSQL refuses to update a row twice);
            # the last description of a target wins, as it would row by row.
            by_target = {d.target: d for d in described}
            conn.execute(
                upsert_descriptions,
                [{"package": package, "target": d.target, "elements": elements_to_json(d.elements)}
                 for d in by_target.values()],
            )  # fmt: skip

    def _write_agents(self, conn: Connection, agents: Iterable[Agent]) -> None:
        by_key = {a.key: a for a in agents}  # few: the tools and organisations of a package
        if by_key:
            conn.execute(self._upsert(t.agents, ("key",), update=True), [_agent_values(a) for a in by_key.values()])

    def _write_events(self, conn: Connection, package: str, events: Iterable[Event]) -> None:
        # An event already recorded (same UUID) is left as it is.
        stmt = self._upsert(t.events, ("uuid",), update=False)
        for chunk in chunks(_event_values(package, e) for e in events):
            conn.execute(stmt, chunk)

    def record_events(self, package: str, events: Iterable[Event], agents: Iterable[Agent]) -> None:
        with self._write(f"record events of package {package}") as conn:
            self._require_package(conn, package)
            self._write_agents(conn, agents)
            self._write_events(conn, package, events)

    def set_access(self, rule: AccessRule) -> None:
        with self._write(f"set access to package {rule.package}") as conn:
            self._require_package(conn, rule.package)
            conn.execute(
                self._upsert(t.access_rules, ("package", "path"), update=True),
                {
                    "package": rule.package,
                    "path": rule.path or "",
                    "status": rule.status.value,
                    "reason": rule.reason,
                    "opening_date": rule.opening_date,
                    "changed": rule.changed,
                    "event_uuid": rule.event_uuid,
                    "closure_start": rule.closure_start,
                    "closure_period": rule.closure_period,
                    "exemption": rule.exemption,
                    "redacted_title": rule.redacted_title,
                },
            )

    def _write_copies(
        self, conn: Connection, package: str, locations: Iterable[str], version: int, stored: datetime
    ) -> None:
        c = t.copies.c
        stmt = self._insert(t.copies)
        # A lower version than the recorded one changes nothing; the last check is never touched here.
        newer = stmt.excluded.version >= c.version
        upsert = stmt.on_conflict_do_update(
            index_elements=["package", "location"],
            set_={"version": stmt.excluded.version, "stored": stmt.excluded.stored},
            where=newer,
        )
        # Each location once: PostgreSQL refuses to update one row twice in a statement.
        rows = [{"package": package, "location": loc, "version": version, "stored": stored}
                for loc in dict.fromkeys(locations)]  # fmt: skip
        if rows:
            conn.execute(upsert, rows)

    def record_copy(self, package: str, location: str, version: int, stored: datetime) -> None:
        if version < 1:
            raise ValueError(f"Versions are numbered from 1, not {version} (a bug in the caller).")
        with self._write(f"record the copy of package {package} in location {location!r}") as conn:
            self._require_package(conn, package)
            self._write_copies(conn, package, [location], version, stored)

    def record_copy_check(
        self, package: str, location: str, checked: datetime, outcome: Outcome, problems: int
    ) -> bool:
        if problems < 0:
            raise ValueError(f"A fixity check cannot find {problems} problems (a bug in the caller).")
        c = t.copies.c
        stmt = (
            sa.update(t.copies)
            .where(c.package == package, c.location == location)
            .values(checked=checked, outcome=Outcome(outcome).value, problems=problems)
        )
        with self._write(f"record the check of package {package} in location {location!r}") as conn:
            return bool(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)

    def forget_location(self, location: str) -> int:
        stmt = sa.delete(t.copies).where(t.copies.c.location == location)
        with self._write(f"forget the copies in location {location!r}") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)

    def set_indexed(self, package: str, indexed: bool) -> None:
        with self._write(f"mark package {package} as indexed") as conn:
            conn.execute(sa.update(t.packages).where(t.packages.c.uuid == package).values(indexed=indexed))

    def advance_journal_anchor(self, anchor: JournalAnchor) -> None:
        a = t.journal_anchor.c
        with self._write("record the journal's newest entry") as conn:
            current = conn.execute(sa.select(a.sequence).where(a.id == 1)).scalar()
            if current is None:
                conn.execute(sa.insert(t.journal_anchor).values(id=1, sequence=anchor.sequence, digest=anchor.digest))
            elif current < anchor.sequence:
                conn.execute(
                    sa.update(t.journal_anchor).where(a.id == 1).values(sequence=anchor.sequence, digest=anchor.digest)
                )

    def journal_anchor(self) -> JournalAnchor | None:
        a = t.journal_anchor.c
        with self._read("read the journal anchor") as conn:
            row = conn.execute(sa.select(a.sequence, a.digest).where(a.id == 1)).first()
        return JournalAnchor(int(row[0]), str(row[1])) if row is not None else None

    def clear(self) -> None:
        with self._write("clear the catalog") as conn:
            for table in t.ALL_TABLES:
                conn.execute(sa.delete(table))

    # --- reading --------------------------------------------------------------------------------

    def packages(self) -> list[PackageSummary]:
        p = t.packages.c
        with self._read("list packages") as conn:
            rows = conn.execute(sa.select(t.packages).order_by(p.created, p.name, p.uuid)).all()
        return [_summary(r) for r in rows]

    def package_uuids(self) -> set[str]:
        with self._read("list packages") as conn:
            return set(conn.execute(sa.select(t.packages.c.uuid)).scalars())

    def unindexed(self) -> list[str]:
        p = t.packages.c
        query = sa.select(p.uuid).where(p.indexed == sa.false()).order_by(p.created, p.uuid)
        with self._read("list unindexed packages") as conn:
            return list(conn.execute(query).scalars())

    def find_package(self, ref: str) -> PackageSummary | None:
        p = t.packages.c
        with self._read(f"look up package {ref!r}") as conn:
            row = conn.execute(sa.select(t.packages).where(p.uuid == ref)).first()
            if row is not None:
                return _summary(row)
            by_prefix: list[Row[Any]] = []
            if len(ref) >= PREFIX_MIN:
                # substr, not LIKE: a reference holding % or _ matches only itself.
                query = sa.select(t.packages).where(sa.func.substr(p.uuid, 1, len(ref)) == ref).order_by(p.uuid)
                by_prefix = list(conn.execute(query.limit(50)).all())
                if len(by_prefix) == 1:
                    return _summary(by_prefix[0])
            by_name = list(conn.execute(sa.select(t.packages).where(p.name == ref).order_by(p.created, p.uuid)).all())
        if len(by_name) == 1:
            return _summary(by_name[0])
        candidates = by_name or by_prefix
        if not candidates:
            return None
        what = "are named" if by_name else "have UUIDs starting with"
        raise StrongroomError(
            f"{len(candidates)} packages {what} {ref!r}; give the UUID of the one you mean.",
            details=[f"{r.uuid}  {r.name}  ({r.created:%Y-%m-%d %H:%M} UTC)" for r in candidates],
        )

    def with_payload(self, payload_sha256: str) -> list[PackageSummary]:
        p = t.packages.c
        query = sa.select(t.packages).where(p.payload_sha256 == payload_sha256).order_by(p.created, p.uuid)
        with self._read("look up a payload digest") as conn:
            return [_summary(r) for r in conn.execute(query).all()]

    def files(self, package: str) -> Iterator[FileRecord]:
        f = t.files.c
        query = sa.select(t.files).where(f.package == package).order_by(f.path)
        # Streamed, so a package of a million files never sits in memory at once.
        with self._read(f"list the files of package {package}") as conn:
            for row in conn.execution_options(yield_per=CHUNK).execute(query):
                yield _file(row)

    def events(self, package: str, *, file_uuid: str | None = None) -> list[Event]:
        e = t.events.c
        query = sa.select(t.events).where(e.package == package)
        if file_uuid is not None:
            query = query.where(e.file_uuid == file_uuid)
        with self._read(f"list the events of package {package}") as conn:
            rows = conn.execute(query.order_by(e.datetime, e.type, e.uuid)).all()
        return [_event(r) for r in rows]

    def last_checked(self, location: str) -> dict[str, datetime]:
        c = t.copies.c
        query = sa.select(c.package, c.checked).where(c.location == location, c.checked.is_not(None))
        with self._read(f"find when the copies in location {location!r} were last checked") as conn:
            return {str(package): when for package, when in conn.execution_options(yield_per=CHUNK).execute(query)}

    def copies(self, package: str | None = None, location: str | None = None) -> list[CopyRecord]:
        c = t.copies.c
        query = sa.select(t.copies).order_by(c.package, c.location)
        if package is not None:
            query = query.where(c.package == package)
        if location is not None:
            query = query.where(c.location == location)
        with self._read("list the copies of packages") as conn:
            rows = conn.execute(query).all()
        return [
            CopyRecord(
                package=r.package, location=r.location, version=r.version, stored=r.stored, checked=r.checked,
                outcome=Outcome(r.outcome) if r.outcome is not None else None, problems=r.problems,
            )
            for r in rows
        ]  # fmt: skip

    def location_usage(self) -> list[LocationUsage]:
        c, p, v = t.copies.c, t.packages.c, t.versions.c

        def count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
            return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

        # Bytes per location: each copy holds its package's versions up to its own.
        held = (
            sa.select(c.location, sa.func.sum(v.new_bytes).label("bytes"))
            .join_from(t.copies, t.versions, sa.and_(v.package == c.package, v.number <= c.version))
            .group_by(c.location)
            .subquery()
        )
        counts = (
            sa.select(
                c.location,
                sa.func.count().label("packages"),
                count_where(c.version == p.version).label("current"),
                count_where(c.checked.is_(None)).label("unchecked"),
                sa.func.min(c.checked).label("oldest"),  # min()/max() keep the column's type: datetimes
                sa.func.max(c.checked).label("newest"),
                count_where(c.outcome == Outcome.FAILURE.value).label("failing"),
            )
            .join_from(t.copies, t.packages, p.uuid == c.package)
            .group_by(c.location)
            .subquery()
        )
        query = (
            sa.select(counts, sa.func.coalesce(held.c.bytes, 0).label("bytes"))
            .outerjoin_from(counts, held, held.c.location == counts.c.location)
            .order_by(counts.c.location)
        )
        with self._read("count what each location holds") as conn:
            rows = conn.execute(query).all()
        return [
            LocationUsage(
                location=r.location, packages=int(r.packages), current=int(r.current), bytes=int(r.bytes),
                oldest_check=r.oldest if not r.unchecked else None, newest_check=r.newest, failing=int(r.failing),
            )
            for r in rows
        ]  # fmt: skip

    def descriptions(self, package: str) -> list[DublinCore]:
        d = t.descriptions.c
        query = sa.select(d.target, d.elements).where(d.package == package).order_by(d.target)
        with self._read(f"read the descriptions of package {package}") as conn:
            return [DublinCore(r.target, elements_from_json(r.elements)) for r in conn.execute(query)]

    def agents(self) -> list[Agent]:
        with self._read("list agents") as conn:
            rows = conn.execute(sa.select(t.agents).order_by(t.agents.c.key)).all()
        return [Agent(r.identifier_type, r.identifier_value, r.name, AgentType(r.type), r.note) for r in rows]

    def versions(self, package: str) -> list[VersionRecord]:
        v = t.versions.c
        query = sa.select(t.versions).where(v.package == package).order_by(v.number)
        with self._read(f"list the versions of package {package}") as conn:
            rows = conn.execute(query).all()
        return [
            VersionRecord(
                package=r.package, number=r.number, created=r.created, message=r.message, files=r.files,
                bytes=r.bytes, new_files=r.new_files, new_bytes=r.new_bytes, operator=r.operator,
            )
            for r in rows
        ]  # fmt: skip

    def access_rules(self, package: str) -> list[AccessRule]:
        a = t.access_rules.c
        # The package-level rule has path '', which sorts first.
        query = sa.select(t.access_rules).where(a.package == package).order_by(a.path)
        with self._read(f"read the access rules of package {package}") as conn:
            rows = conn.execute(query).all()
        return [
            AccessRule(
                package=r.package, path=r.path or None, status=AccessStatus(r.status), reason=r.reason,
                opening_date=r.opening_date, changed=r.changed, event_uuid=r.event_uuid,
                closure_start=r.closure_start, closure_period=r.closure_period, exemption=r.exemption,
                redacted_title=r.redacted_title,
            )
            for r in rows
        ]  # fmt: skip

    def validity_counts(self, package: str | None = None) -> list[ValidityCount]:
        f = t.files.c
        query = (
            sa.select(f.validity, f.puid, sa.func.count().label("files"), sa.func.coalesce(sa.func.sum(f.size), 0))
            .where(f.role == FileRole.ORIGINAL.value)
            .group_by(f.validity, f.puid)
        )
        if package is not None:
            query = query.where(f.package == package)
        with self._read("count files by validity") as conn:
            rows = conn.execute(query).all()
        return [ValidityCount(Validity(r[0]) if r[0] else None, r[1] or None, int(r[2]), int(r[3])) for r in rows]

    def format_counts(self, package: str | None = None) -> list[FormatCount]:
        f, p = t.files.c, t.packages.c
        keys = (f.package, p.name, f.puid, f.format_name, f.format_version)
        query = (
            sa.select(*keys, sa.func.count().label("files"), sa.func.coalesce(sa.func.sum(f.size), 0).label("bytes"))
            .join_from(t.files, t.packages, f.package == p.uuid)
            .where(f.role == FileRole.ORIGINAL.value)
            .group_by(*keys)
        )
        if package is not None:
            query = query.where(f.package == package)
        with self._read("count formats") as conn:
            rows = conn.execute(query).all()
        counts = [
            FormatCount(
                package=r.package, package_name=r.name, puid=r.puid, format_name=r.format_name,
                format_version=r.format_version, files=int(r.files), bytes=int(r.bytes),
            )
            for r in rows
        ]  # fmt: skip
        # Sorted here rather than in SQL: the backends disagree on where NULLs go.
        return sorted(counts, key=_format_count_order)

    # --- coordination ---------------------------------------------------------------------------

    def lock(self, name: str, *, wait: bool = True) -> AbstractContextManager[bool]:
        return self._locks.lock(name, wait=wait)


# --- records <-> rows ---------------------------------------------------------------------------


def _check_version_of(summary: PackageSummary, version: VersionRecord) -> None:
    if version.package != summary.uuid:
        raise ValueError(f"Version {version.number} belongs to package {version.package}, not {summary.uuid}")


def _package_values(summary: PackageSummary, version: VersionRecord) -> Values:
    return {
        "uuid": summary.uuid,
        "name": summary.name,
        "created": summary.created,
        "files": summary.files,
        "bytes": summary.bytes,
        "payload_sha256": summary.payload_sha256,
        "storage_key": summary.storage_key,
        "title": summary.title,
        "indexed": summary.indexed,
        "version": version.number,
        "updated": summary.updated or version.created,
    }


def _summary(row: Row[Any]) -> PackageSummary:
    return PackageSummary(
        uuid=row.uuid, name=row.name, created=row.created, files=row.files, bytes=row.bytes,
        payload_sha256=row.payload_sha256, storage_key=row.storage_key, title=row.title, indexed=bool(row.indexed),
        version=row.version, updated=row.updated,
    )  # fmt: skip


def _version_values(version: VersionRecord) -> Values:
    return {
        "package": version.package,
        "number": version.number,
        "created": version.created,
        "message": version.message,
        "files": version.files,
        "bytes": version.bytes,
        "new_files": version.new_files,
        "new_bytes": version.new_bytes,
        "operator": version.operator,
    }


def _file_values(package: str, record: FileRecord) -> Values:
    ident = record.identification
    return {
        "uuid": record.uuid,
        "package": package,
        "path": record.path,
        "original_name": record.original_name,
        "size": record.size,
        "sha256": record.sha256,
        "role": record.role.value,
        # An identifier's "" (no name, no version) is counted as none.
        "puid": (ident.puid or None) if ident else None,
        "format_name": (ident.format_name or None) if ident else None,
        "format_version": (ident.format_version or None) if ident else None,
        "identification": identification_to_json(ident),
        "modified": record.modified,
        "validity": record.validity.value if record.validity else None,
        "characterisation": characterisation_to_json(record.characterisation),
    }


def _file(row: Row[Any]) -> FileRecord:
    return FileRecord(
        uuid=row.uuid, path=row.path, original_name=row.original_name, size=row.size, sha256=row.sha256,
        role=FileRole(row.role), identification=identification_from_json(row.identification), modified=row.modified,
        validity=Validity(row.validity) if row.validity else None,
        characterisation=characterisation_from_json(row.characterisation),
    )  # fmt: skip


def _agent_values(agent: Agent) -> Values:
    return {
        "key": agent.key,
        "identifier_type": agent.identifier_type,
        "identifier_value": agent.identifier_value,
        "name": agent.name,
        "type": agent.type.value,
        "note": agent.note,
    }


def _event_values(package: str, event: Event) -> Values:
    return {
        "uuid": event.uuid,
        "package": package,
        "file_uuid": event.file_uuid,
        "version": event.version,
        "type": event.type,
        "datetime": event.datetime,
        "detail": event.detail,
        "outcome": event.outcome.value,
        "outcome_detail": event.outcome_detail,
        "agents": strings_to_json(event.agents),
    }


def _event(row: Row[Any]) -> Event:
    return Event(
        uuid=row.uuid, type=row.type, datetime=row.datetime, detail=row.detail, outcome=Outcome(row.outcome),
        outcome_detail=row.outcome_detail, agents=strings_from_json(row.agents), file_uuid=row.file_uuid,
        version=row.version,
    )  # fmt: skip


def _format_count_order(c: FormatCount) -> tuple[Any, ...]:
    return (c.package_name, c.package, c.puid is None, c.puid or "", c.format_name or "", c.format_version or "")


__all__ = ["CHUNK", "Locks", "SqlCatalog", "chunks"]
