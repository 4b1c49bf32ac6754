"""RecordsCatalog (records_base.py) in SQL: schedules, assignments, holds, disposal batches and stubs.

A mixin of SqlCatalog (sql.py), written with its helpers: `_write` (one transaction),
`_read`, `_insert` (the dialect's INSERT with ON CONFLICT). The two rules the database
itself enforces, so that racing processes cannot break them: one approval per person and
batch (the key (batch, name_key)), and one assignment per package (the key package).
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from strongroom.catalog import tables as t
from strongroom.catalog.codec import strings_from_json, strings_to_json
from strongroom.errors import ApprovalError, CatalogError, NotFound, StrongroomError
from strongroom.records.model import (
    Approval,
    BatchStatus,
    DestructionStub,
    DisposalAction,
    DisposalBatch,
    DisposalItem,
    Hold,
    HoldType,
    ItemOutcome,
    Period,
    RetentionAssignment,
    Review,
    ReviewDecision,
    ScheduleVersion,
    Trigger,
    TriggerEvent,
    name_key,
)

PREFIX_MIN = 8  # as for packages: a shorter prefix of an id is not looked up
# The tables holding a package's own rows, children first (all cascade from `packages`, but a
# catalog whose foreign keys were ever off must not keep a disposed package's rows either).
PACKAGE_ROWS = (t.copies, t.access_rules, t.descriptions, t.events, t.files, t.versions)

Values = dict[str, Any]


class RecordsSql:
    """The records tables of an SqlCatalog (mixed into it; uses its connections and helpers)."""

    url: str
    _engine: Engine
    _insert: Callable[[sa.Table], Any]

    if TYPE_CHECKING:

        def _write(self, action: str) -> AbstractContextManager[Connection]: ...

        def _read(self, action: str) -> AbstractContextManager[Connection]: ...

    # --- schedules ------------------------------------------------------------------------------

    def add_schedule_version(self, schedule: ScheduleVersion) -> None:
        stmt = self._insert(t.schedules).on_conflict_do_nothing(index_elements=["code", "version"])
        with self._write(f"record version {schedule.version} of schedule {schedule.code!r}") as conn:
            added = conn.execute(stmt.execution_options(preserve_rowcount=True), _schedule_values(schedule)).rowcount
        if added != 1:
            raise CatalogError(
                f"Schedule {schedule.code!r} already has a version {schedule.version} in the catalog at {self.url}.",
                details=["A changed schedule is stored as a new version; nothing was written."],
            )

    def schedules(self, *, all_versions: bool = False) -> list[ScheduleVersion]:
        s = t.schedules.c
        query = sa.select(t.schedules).order_by(s.code, s.version)
        if not all_versions:
            newer = t.schedules.alias("newer")
            query = query.where(
                ~sa.exists().where(newer.c.code == s.code, newer.c.version > s.version).correlate(t.schedules)
            )
        with self._read("list retention schedules") as conn:
            return [_schedule(r) for r in conn.execute(query).all()]

    def schedule(self, code: str, version: int | None = None) -> ScheduleVersion | None:
        s = t.schedules.c
        query = sa.select(t.schedules).where(s.code == code).order_by(s.version.desc()).limit(1)
        if version is not None:
            query = query.where(s.version == version)
        with self._read(f"look up schedule {code!r}") as conn:
            row = conn.execute(query).first()
        return _schedule(row) if row is not None else None

    # --- assignments, trigger events, reviews ---------------------------------------------------

    def assign_retention(self, assignment: RetentionAssignment) -> None:
        stmt = _replace(self._insert(t.retention), t.retention, ("package",))
        with self._write(f"assign a retention schedule to package {assignment.package}") as conn:
            conn.execute(stmt, _retention_values(assignment))

    def retention(self, package: str) -> RetentionAssignment | None:
        query = sa.select(t.retention).where(t.retention.c.package == package)
        with self._read(f"read the retention of package {package}") as conn:
            row = conn.execute(query).first()
        return _retention(row) if row is not None else None

    def retention_assignments(self) -> list[RetentionAssignment]:
        query = sa.select(t.retention).order_by(t.retention.c.package)
        with self._read("list retention assignments") as conn:
            return [_retention(r) for r in conn.execute(query).all()]

    def record_trigger(self, trigger: TriggerEvent) -> None:
        stmt = _replace(self._insert(t.retention_triggers), t.retention_triggers, ("package", "name"))
        values = {"package": trigger.package, "name": trigger.name, "date": trigger.date,
                  "recorded": trigger.recorded, "reason": trigger.reason, "event_uuid": trigger.event_uuid}  # fmt: skip
        with self._write(f"record the event {trigger.name!r} of package {trigger.package}") as conn:
            conn.execute(stmt, values)

    def triggers(self, package: str | None = None) -> list[TriggerEvent]:
        c = t.retention_triggers.c
        query = sa.select(t.retention_triggers).order_by(c.package, c.name)
        if package is not None:
            query = query.where(c.package == package)
        with self._read("list retention trigger events") as conn:
            rows = conn.execute(query).all()
        return [TriggerEvent(r.package, r.name, r.date, r.recorded, r.reason, r.event_uuid) for r in rows]

    def record_review(self, review: Review) -> None:
        if not review.event_uuid:
            raise ValueError(f"A review of package {review.package} needs its journal event's UUID (a bug).")
        values = {
            "event_uuid": review.event_uuid, "package": review.package, "decision": review.decision.value,
            "reason": review.reason, "decided": review.decided, "by": review.by, "new_due": review.new_due,
            "new_code": review.new_code, "new_version": review.new_version,
        }  # fmt: skip
        stmt = self._insert(t.reviews).on_conflict_do_nothing(index_elements=["event_uuid"])
        with self._write(f"record a review of package {review.package}") as conn:
            conn.execute(stmt, values)

    def reviews(self, package: str) -> list[Review]:
        c = t.reviews.c
        query = sa.select(t.reviews).where(c.package == package).order_by(c.decided, c.event_uuid)
        with self._read(f"list the reviews of package {package}") as conn:
            rows = conn.execute(query).all()
        return [
            Review(r.package, ReviewDecision(r.decision), r.reason, r.decided, r.by, r.new_due, r.new_code,
                   r.new_version, r.event_uuid)
            for r in rows
        ]  # fmt: skip

    # --- holds ----------------------------------------------------------------------------------

    def place_hold(self, hold: Hold) -> None:
        packages = list(dict.fromkeys(hold.packages))  # each once: (hold, package) is the key
        with self._write(f"record hold {hold.id}") as conn:
            conn.execute(sa.delete(t.hold_packages).where(t.hold_packages.c.hold == hold.id))
            conn.execute(sa.delete(t.holds).where(t.holds.c.id == hold.id))
            conn.execute(sa.insert(t.holds), _hold_values(hold))
            for chunk in _chunks(enumerate(packages)):
                conn.execute(
                    sa.insert(t.hold_packages), [{"hold": hold.id, "package": p, "position": i} for i, p in chunk]
                )

    def release_hold(self, hold: str, released: datetime, by: str, reason: str, event_uuid: str | None) -> None:
        h = t.holds.c
        stmt = (
            sa.update(t.holds)
            .where(h.id == hold, h.released.is_(None))
            .values(released=released, released_by=by, release_reason=reason, release_event=event_uuid)
        )
        with self._write(f"release hold {hold}") as conn:
            if conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1:
                return
            row = conn.execute(sa.select(h.released, h.released_by).where(h.id == hold)).first()
        if row is None:
            raise NotFound(f"There is no hold {hold} in the catalog.", details=["List the holds: strongroom hold list"])
        raise StrongroomError(
            f"Hold {hold} was already released on {row.released:%Y-%m-%d %H:%M} UTC by {row.released_by}.",
            details=["Nothing was changed. To hold the packages again, place a new hold."],
        )

    def holds(self, *, package: str | None = None, active_only: bool = False) -> list[Hold]:
        h = t.holds.c
        query = sa.select(t.holds).order_by(h.placed, h.id)
        if package is not None:
            hp = t.hold_packages.c
            query = query.where(h.id.in_(sa.select(hp.hold).where(hp.package == package)))
        if active_only:
            query = query.where(h.released.is_(None))
        with self._read("list holds") as conn:
            return self._holds(conn, conn.execute(query).all())

    def _holds(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Hold]:
        hp = t.hold_packages.c
        packages: dict[str, list[str]] = defaultdict(list)
        for chunk in _chunks(r.id for r in rows):
            query = sa.select(hp.hold, hp.package).where(hp.hold.in_(chunk)).order_by(hp.hold, hp.position)
            for hold, package in conn.execute(query):
                packages[hold].append(package)
        return [_hold(r, packages[r.id]) for r in rows]

    def find_hold(self, ref: str) -> Hold | None:
        with self._read(f"look up hold {ref!r}") as conn:
            rows = _by_ref(conn, t.holds, ref)
            if len(rows) > 1:
                raise _ambiguous("holds", ref, [f"{r.id}  {r.type}  {r.reference or ''}" for r in rows])
            return self._holds(conn, rows)[0] if rows else None

    def held_packages(self) -> set[str]:
        h, hp = t.holds.c, t.hold_packages.c
        query = sa.select(hp.package).join_from(t.hold_packages, t.holds, h.id == hp.hold).where(h.released.is_(None))
        with self._read("list held packages") as conn:
            return set(conn.execute(query.distinct()).scalars())

    # --- disposal -------------------------------------------------------------------------------

    def add_disposal_batch(self, batch: DisposalBatch) -> None:
        items = {item.package: item for item in batch.items}  # (batch, package) is the key
        approvals = {a.key: a for a in batch.approvals}
        if len(approvals) < len(batch.approvals):
            raise _same_person(batch.id, batch.approvals[-1].name)
        with self._write(f"record disposal batch {batch.id}") as conn:
            # The same batch again (a replay) replaces it whole, its items and approvals with it.
            for table in (t.disposal_approvals, t.disposal_items):
                conn.execute(sa.delete(table).where(table.c.batch == batch.id))
            conn.execute(sa.delete(t.disposal_batches).where(t.disposal_batches.c.id == batch.id))
            conn.execute(sa.insert(t.disposal_batches), _batch_values(batch))
            for chunk in _chunks(enumerate(items.values())):
                conn.execute(sa.insert(t.disposal_items), [_item_values(batch.id, i, item) for i, item in chunk])
            if approvals:
                conn.execute(
                    sa.insert(t.disposal_approvals), [_approval_values(batch.id, a) for a in approvals.values()]
                )

    def add_approval(self, batch: str, approval: Approval) -> None:
        # ON CONFLICT DO NOTHING on the key (batch, name_key): of two processes approving as the same
        # person at once, the second waits for the first's transaction and then inserts nothing.
        stmt = self._insert(t.disposal_approvals).on_conflict_do_nothing(index_elements=["batch", "name_key"])
        with self._write(f"record an approval of disposal batch {batch}") as conn:
            _require_batch(conn, batch)
            inserted = conn.execute(stmt.execution_options(preserve_rowcount=True), _approval_values(batch, approval))
            if inserted.rowcount == 1:
                return
            a = t.disposal_approvals.c
            earlier = conn.execute(sa.select(a.name).where(a.batch == batch, a.name_key == approval.key)).scalar()
        raise _same_person(batch, earlier or approval.name)

    def set_batch_status(
        self,
        batch: str,
        status: BatchStatus,
        *,
        executed: datetime | None = None,
        certificate_sha256: Mapping[str, str] | None = None,
    ) -> None:
        values: Values = {"status": BatchStatus(status).value}
        if executed is not None:
            values["executed"] = executed
        if certificate_sha256 is not None:
            values["certificate_sha256"] = _digests_to_json(certificate_sha256)
        stmt = sa.update(t.disposal_batches).where(t.disposal_batches.c.id == batch).values(**values)
        with self._write(f"set the status of disposal batch {batch}") as conn:
            if conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount != 1:
                raise _no_batch(batch)

    def set_item_outcome(
        self, batch: str, package: str, outcome: ItemOutcome, why: str | None, pending: Sequence[str] = ()
    ) -> None:
        i = t.disposal_items.c
        stmt = (
            sa.update(t.disposal_items)
            .where(i.batch == batch, i.package == package)
            .values(outcome=ItemOutcome(outcome).value, why=why, pending=strings_to_json(pending))
        )
        with self._write(f"record the outcome of package {package} in disposal batch {batch}") as conn:
            if conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount != 1:
                raise NotFound(
                    f"Package {package} is not an item of disposal batch {batch}.",
                    details=[f"See the batch's items: strongroom disposal show {batch}"],
                )

    def disposal_batch(self, ref: str) -> DisposalBatch | None:
        with self._read(f"look up disposal batch {ref!r}") as conn:
            rows = _by_ref(conn, t.disposal_batches, ref)
            if len(rows) > 1:
                raise _ambiguous("disposal batches", ref, [f"{r.id}  {r.status}  as of {r.as_of}" for r in rows])
            return self._batches(conn, rows)[0] if rows else None

    def disposal_batches(self) -> list[DisposalBatch]:
        b = t.disposal_batches.c
        with self._read("list disposal batches") as conn:
            return self._batches(conn, conn.execute(sa.select(t.disposal_batches).order_by(b.proposed, b.id)).all())

    def _batches(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[DisposalBatch]:
        i, a = t.disposal_items.c, t.disposal_approvals.c
        items: dict[str, list[DisposalItem]] = defaultdict(list)
        approvals: dict[str, list[Approval]] = defaultdict(list)
        for chunk in _chunks(r.id for r in rows):
            for r in conn.execute(sa.select(t.disposal_items).where(i.batch.in_(chunk)).order_by(i.batch, i.position)):
                items[r.batch].append(_item(r))
            query = sa.select(t.disposal_approvals).where(a.batch.in_(chunk)).order_by(a.batch, a.approved, a.name_key)
            for r in conn.execute(query):
                approvals[r.batch].append(Approval(r.name, r.operator, r.approved, r.event_uuid))
        return [
            DisposalBatch(
                id=r.id, as_of=r.as_of, proposed=r.proposed, proposed_by=r.proposed_by, items=tuple(items[r.id]),
                approvals=tuple(approvals[r.id]), status=BatchStatus(r.status), executed=r.executed,
                certificate_sha256=json.loads(r.certificate_sha256),
            )
            for r in rows
        ]  # fmt: skip

    # --- destroyed packages ---------------------------------------------------------------------

    def dispose_package(self, stub: DestructionStub) -> None:
        package = stub.package
        with self._write(f"remove the catalog rows of package {package}") as conn:
            for table in PACKAGE_ROWS:
                conn.execute(sa.delete(table).where(table.c.package == package))
            conn.execute(sa.delete(t.packages).where(t.packages.c.uuid == package))
            conn.execute(_replace(self._insert(t.destruction_stubs), t.destruction_stubs, ("package",)),
                         _stub_values(stub))  # fmt: skip
        if self._engine.dialect.name == "sqlite":
            self._checkpoint()

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and empty it: the deleted rows' old pages leave the WAL file.

        (secure_delete, set on every connection, zeroes them in the database itself.) Best effort:
        a reader still open elsewhere keeps the WAL, and a later checkpoint finishes the job.
        """
        raw = self._engine.raw_connection()  # the driver's own: no BEGIN around the PRAGMA
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.fetchall()
            finally:
                cursor.close()
        except sqlite3.Error:
            pass  # the rows are gone already; WAL frames left by a busy checkpoint go at the next one
        finally:
            raw.close()

    def add_stub(self, stub: DestructionStub) -> None:
        stmt = _replace(self._insert(t.destruction_stubs), t.destruction_stubs, ("package",))
        with self._write(f"record the destruction stub of package {stub.package}") as conn:
            conn.execute(stmt, _stub_values(stub))

    def stubs(self, *, unpurged_only: bool = False) -> list[DestructionStub]:
        s = t.destruction_stubs.c
        query = sa.select(t.destruction_stubs).order_by(s.destroyed, s.package)
        if unpurged_only:
            query = query.where(s.index_purged == sa.false())
        with self._read("list destruction stubs") as conn:
            return [_stub(r) for r in conn.execute(query).all()]

    def stub(self, package: str) -> DestructionStub | None:
        query = sa.select(t.destruction_stubs).where(t.destruction_stubs.c.package == package)
        with self._read(f"read the destruction stub of package {package}") as conn:
            row = conn.execute(query).first()
        return _stub(row) if row is not None else None

    def mark_stub_purged(self, package: str) -> None:
        s = t.destruction_stubs.c
        stmt = sa.update(t.destruction_stubs).where(s.package == package).values(index_purged=True)
        with self._write(f"mark the search documents of package {package} purged") as conn:
            if conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount != 1:
                raise NotFound(f"Package {package} has no destruction stub in the catalog at {self.url}.")


# --- helpers --------------------------------------------------------------------------------------


def _chunks(items: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    # 500: well under SQLite's limit of bound parameters per statement, for IN (...) lists.
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _replace(stmt: Any, table: sa.Table, keys: tuple[str, ...]) -> Any:
    """INSERT, or on the key's conflict overwrite every other column."""
    changes = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)


def _by_ref(conn: Connection, table: sa.Table, ref: str) -> list[Row[Any]]:
    """The row whose id is `ref`, else the rows whose id starts with it (at least PREFIX_MIN characters)."""
    ident = table.c.id
    row = conn.execute(sa.select(table).where(ident == ref)).first()
    if row is not None:
        return [row]
    if len(ref) < PREFIX_MIN:
        return []
    # substr, not LIKE: a reference holding % or _ matches only itself.
    query = sa.select(table).where(sa.func.substr(ident, 1, len(ref)) == ref).order_by(ident).limit(50)
    return list(conn.execute(query).all())


def _ambiguous(what: str, ref: str, candidates: list[str]) -> StrongroomError:
    return StrongroomError(
        f"{len(candidates)} {what} have ids starting with {ref!r}; give the id of the one you mean.",
        details=candidates,
    )


def _require_batch(conn: Connection, batch: str) -> None:
    if conn.execute(sa.select(t.disposal_batches.c.id).where(t.disposal_batches.c.id == batch)).first() is None:
        raise _no_batch(batch)


def _no_batch(batch: str) -> NotFound:
    return NotFound(f"There is no disposal batch {batch}.", details=["List the batches: strongroom disposal list"])


def _same_person(batch: str, name: str) -> ApprovalError:
    return ApprovalError(
        f"{name} has already approved disposal batch {batch}; a second, different person must approve it.",
        details=["Nothing was written. Ask another authorised person to run: strongroom disposal approve"],
    )


def _digests_to_json(digests: Mapping[str, str]) -> str:
    return json.dumps(dict(digests), sort_keys=True)


def _schedule_values(s: ScheduleVersion) -> Values:
    return {
        "code": s.code, "version": s.version, "title": s.title, "description": s.description,
        "authority": s.authority, "period": s.period.iso() if s.period is not None else None,
        "trigger": s.trigger.value, "trigger_event": s.trigger_event, "action": s.action.value,
        "transfer_to": s.transfer_to, "created": s.created, "reason": s.reason, "event_uuid": s.event_uuid,
    }  # fmt: skip


def _schedule(r: Row[Any]) -> ScheduleVersion:
    return ScheduleVersion(
        code=r.code, version=r.version, title=r.title, description=r.description, authority=r.authority,
        period=Period.parse(r.period) if r.period is not None else None, trigger=Trigger(r.trigger),
        trigger_event=r.trigger_event, action=DisposalAction(r.action), transfer_to=r.transfer_to,
        created=r.created, reason=r.reason, event_uuid=r.event_uuid,
    )  # fmt: skip


def _retention_values(a: RetentionAssignment) -> Values:
    return {"package": a.package, "code": a.code, "version": a.version, "assigned": a.assigned, "reason": a.reason,
            "how": a.how, "due_override": a.due_override, "event_uuid": a.event_uuid}  # fmt: skip


def _retention(r: Row[Any]) -> RetentionAssignment:
    return RetentionAssignment(r.package, r.code, r.version, r.assigned, r.reason, r.how, r.due_override, r.event_uuid)


def _hold_values(h: Hold) -> Values:
    return {
        "id": h.id, "type": HoldType(h.type).value, "reason": h.reason, "authority": h.authority,
        "reference": h.reference, "query": h.query, "placed": h.placed, "placed_by": h.placed_by,
        "released": h.released, "released_by": h.released_by, "release_reason": h.release_reason,
        "place_event": h.place_event, "release_event": h.release_event,
    }  # fmt: skip


def _hold(r: Row[Any], packages: list[str]) -> Hold:
    return Hold(
        id=r.id, type=HoldType(r.type), reason=r.reason, authority=r.authority, reference=r.reference, query=r.query,
        packages=tuple(packages), placed=r.placed, placed_by=r.placed_by, released=r.released,
        released_by=r.released_by, release_reason=r.release_reason, place_event=r.place_event,
        release_event=r.release_event,
    )  # fmt: skip


def _batch_values(b: DisposalBatch) -> Values:
    return {"id": b.id, "as_of": b.as_of, "proposed": b.proposed, "proposed_by": b.proposed_by,
            "status": BatchStatus(b.status).value, "executed": b.executed,
            "certificate_sha256": _digests_to_json(b.certificate_sha256)}  # fmt: skip


def _item_values(batch: str, position: int, i: DisposalItem) -> Values:
    return {
        "batch": batch, "package": i.package, "position": position, "action": DisposalAction(i.action).value,
        "code": i.code, "version": i.version, "due": i.due, "head_version": i.head_version,
        "outcome": ItemOutcome(i.outcome).value, "why": i.why, "pending": strings_to_json(i.pending_locations),
    }  # fmt: skip


def _item(r: Row[Any]) -> DisposalItem:
    return DisposalItem(
        package=r.package, action=DisposalAction(r.action), code=r.code, version=r.version, due=r.due,
        head_version=r.head_version, outcome=ItemOutcome(r.outcome), why=r.why,
        pending_locations=strings_from_json(r.pending),
    )  # fmt: skip


def _approval_values(batch: str, a: Approval) -> Values:
    return {"batch": batch, "name_key": name_key(a.name), "name": a.name, "operator": a.operator,
            "approved": a.approved, "event_uuid": a.event_uuid}  # fmt: skip


def _stub_values(s: DestructionStub) -> Values:
    return {
        "package": s.package, "identifier": s.identifier, "title": s.title, "code": s.code, "version": s.version,
        "authority": s.authority, "action": DisposalAction(s.action).value, "date_from": s.date_from,
        "date_to": s.date_to, "batch": s.batch, "approved_by": strings_to_json(s.approved_by),
        "destroyed": s.destroyed, "files": s.files, "bytes": s.bytes, "payload_sha256": s.payload_sha256,
        "transferred_to": s.transferred_to, "index_purged": s.index_purged, "event_uuid": s.event_uuid,
    }  # fmt: skip


def _stub(r: Row[Any]) -> DestructionStub:
    return DestructionStub(
        package=r.package, identifier=r.identifier, title=r.title, code=r.code, version=r.version,
        authority=r.authority, action=DisposalAction(r.action), date_from=r.date_from, date_to=r.date_to,
        batch=r.batch, approved_by=strings_from_json(r.approved_by), destroyed=r.destroyed, files=r.files,
        bytes=r.bytes, payload_sha256=r.payload_sha256, transferred_to=r.transferred_to,
        index_purged=bool(r.index_purged), event_uuid=r.event_uuid,
    )  # fmt: skip


__all__ = ["RecordsSql"]
