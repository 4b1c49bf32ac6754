"""The catalog's schema history: new catalogs, Strongroom 0.1 catalogs, newer ones, and no needless work."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from strongroom.catalog import open_catalog, schema, sqlite_url, tables
from strongroom.catalog.backends import sqlite_path
from strongroom.catalog.codec import identification_to_json
from strongroom.catalog.sql import SqlCatalog
from strongroom.catalog.tables import metadata
from strongroom.errors import CatalogError, ConfigError, DuplicateTransferError
from strongroom.model import (
    AccessRule,
    AccessStatus,
    CopyRecord,
    FileRole,
    FormatCount,
    LocationUsage,
    Outcome,
    VersionRecord,
)
from strongroom.records.model import RetentionAssignment
from tests.contracts.catalog_contract import _open_in_process, add, identification, make_summary
from tests.contracts.catalog_records_contract import make_stub
from tests.services import REPO

# The catalog schema of Strongroom 0.1 (strongroom/catalog/sqlite.py before migrations), kept as history.
SCHEMA_0_1 = """
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

OLD_A = "aaaaaaaa-0000-4000-8000-000000000001"  # the first package of a payload: it gets the claim
OLD_B = "bbbbbbbb-0000-4000-8000-000000000002"  # ingested later with --allow-duplicate
OLD_C = "cccccccc-0000-4000-8000-000000000003"
PAYLOAD = "d" * 64
CREATED_A = datetime(2024, 1, 2, 10, 0, tzinfo=UTC)
CREATED_B = datetime(2024, 1, 3, 10, 0, 0, 500000, tzinfo=UTC)
CREATED_C = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def make_0_1_catalog(path: Path, *, event_time: str | None = None) -> None:
    """A catalog as Strongroom 0.1 wrote it: its schema, isoformat() times, its JSON."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_0_1)
    for uuid, created, payload in (
        (OLD_A, CREATED_A, PAYLOAD),
        (OLD_B, CREATED_B, PAYLOAD),
        (OLD_C, CREATED_C, "e" * 64),
    ):
        db.execute(
            "INSERT INTO packages VALUES (?,?,?,?,?,?,?,?,?)",
            (uuid, f"name-{uuid[:4]}", created.isoformat(), 2, 30, payload, f"key-{uuid}", "Title ≠", 1),
        )
        ident = identification_to_json(identification("fmt/18", "fmt/276"))
        pdf = json.loads(ident or "{}")
        pdf["matches"][0]["version"] = "1.4"
        db.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (f"{uuid[:8]}-f1", uuid, "objects/a.pdf", "a.pdf", 10, "1" * 64, "original", "fmt/18", "PDF",
             json.dumps(pdf), datetime(2023, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))).isoformat()),
        )  # fmt: skip
        db.execute(
            "INSERT INTO files VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (f"{uuid[:8]}-f2", uuid, "logs/x.log", "x.log", 20, "2" * 64, "log", None, None, None, None),
        )
        db.execute(
            "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)",
            (f"{uuid[:8]}-e1", uuid, None, "ingestion", event_time or created.isoformat(), "d", "success", "",
             json.dumps(["software:strongroom 0.1"])),
        )  # fmt: skip
        db.execute(
            "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)",
            (f"{uuid[:8]}-e2", uuid, f"{uuid[:8]}-f1", "fixity check",
             (created + timedelta(hours=3)).astimezone(timezone(timedelta(hours=5))).isoformat(), "d", "success", "",
             json.dumps([])),
        )  # fmt: skip
        db.execute(
            "INSERT OR REPLACE INTO descriptions VALUES (?,?,?)",
            (uuid, "objects", json.dumps({"dc.title": ["Old", "Title"]})),
        )
    db.execute(
        "INSERT INTO agents VALUES (?,?,?,?,?,?)",
        ("software:strongroom 0.1", "software", "strongroom 0.1", "Strongroom", "software", None),
    )
    db.commit()
    db.close()


def tables_of(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()


def same_ddl_type(
    context: object,
    inspected_column: object,
    metadata_column: object,
    inspected: sa.types.TypeEngine[object],
    declared: sa.types.TypeEngine[object],
) -> bool:
    """Alembic's compare_type: differ when the DDL differs (our TypeDecorators store as their dialect's text)."""
    dialect = context.dialect  # type: ignore[attr-defined]
    if isinstance(declared, sa.types.TypeDecorator):
        declared = declared.load_dialect_impl(dialect)
    return bool(inspected.compile(dialect) != declared.compile(dialect))


def test_the_known_revisions_are_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    config.set_main_option("path_separator", "os")
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [schema.HEAD]
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == list(schema.REVISIONS)


def test_a_new_catalog_is_made_at_the_latest_revision_with_exactly_the_tables(fresh_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    catalog = open_catalog(fresh_url)
    try:
        assert isinstance(catalog, SqlCatalog)
        with catalog._engine.connect() as conn:
            assert schema.current_revision(conn) == schema.HEAD
            context = MigrationContext.configure(conn, opts={"compare_type": same_ddl_type})
            differences = compare_metadata(context, metadata)
        assert differences == []
    finally:
        catalog.close()


def test_a_strongroom_0_1_catalog_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    make_0_1_catalog(path)
    catalog = open_catalog(sqlite_url(path))
    try:
        assert [p.uuid for p in catalog.packages()] == [OLD_C, OLD_A, OLD_B]
        a = catalog.find_package(OLD_A)
        assert a is not None
        assert (a.version, a.created, a.updated, a.indexed, a.title) == (1, CREATED_A, CREATED_A, True, "Title ≠")
        assert catalog.versions(OLD_B) == [
            VersionRecord(OLD_B, 1, CREATED_B, "ingest", files=2, bytes=30, new_files=2, new_bytes=30)
        ]
        # the oldest package of each payload holds the claim; the later duplicate stays unclaimed
        with pytest.raises(DuplicateTransferError, match=OLD_A):
            add(catalog, make_summary(payload=PAYLOAD))
        with pytest.raises(DuplicateTransferError, match=OLD_C):
            add(catalog, make_summary(payload="e" * 64))
        assert [p.uuid for p in catalog.with_payload(PAYLOAD)] == [OLD_A, OLD_B]
        files = list(catalog.files(OLD_A))
        assert [f.path for f in files] == ["logs/x.log", "objects/a.pdf"]
        assert files[1].role is FileRole.ORIGINAL
        assert files[1].modified == datetime(2023, 6, 1, 10, 0, tzinfo=UTC)
        assert files[1].identification is not None and files[1].identification.format_version == "1.4"
        assert FormatCount(OLD_A, "name-aaaa", "fmt/18", "PDF", "1.4", 1, 10) in catalog.format_counts()
        events = catalog.events(OLD_A)
        assert [(e.type, e.datetime) for e in events] == [
            ("ingestion", CREATED_A),
            ("fixity check", CREATED_A + timedelta(hours=3)),
        ]
        assert events[0].agents == ("software:strongroom 0.1",)
        assert catalog.descriptions(OLD_A)[0].elements == {"dc.title": ("Old", "Title")}
        assert [a.key for a in catalog.agents()] == ["software:strongroom 0.1"]
    finally:
        catalog.close()
    assert {"alembic_version", "versions", "access_rules"} <= tables_of(path)


def test_a_failed_upgrade_of_a_0_1_catalog_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    make_0_1_catalog(path, event_time="not a time")
    before = tables_of(path)
    with pytest.raises(CatalogError, match="could not be upgraded from revision 0001") as raised:
        open_catalog(sqlite_url(path))
    assert "Nothing was changed" in str(raised.value)
    assert tables_of(path) == before
    db = sqlite3.connect(path)
    assert "version" not in {r[1] for r in db.execute("PRAGMA table_info(packages)")}
    db.close()


def test_a_catalog_of_a_newer_strongroom_is_refused(fresh_url: str) -> None:
    catalog = open_catalog(fresh_url)
    assert isinstance(catalog, SqlCatalog)
    with catalog._write_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999_from_the_future'"))
    catalog.close()
    with pytest.raises(CatalogError) as raised:
        open_catalog(fresh_url)
    message = str(raised.value)
    assert "was made by a newer version of Strongroom (revision 0999_from_the_future" in message
    assert "Upgrade Strongroom, or move the catalog aside and run: strongroom rebuild" in message


def test_a_foreign_packages_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE packages (id INTEGER PRIMARY KEY, label TEXT)")
    db.close()
    with pytest.raises(CatalogError, match="that Strongroom did not make"):
        open_catalog(sqlite_url(path))


def test_reopening_an_up_to_date_catalog_runs_no_migration(fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    open_catalog(fresh_url).close()

    def no_upgrade(*args: object, **kwargs: object) -> None:
        raise AssertionError("a migration ran on an up-to-date catalog")

    monkeypatch.setattr(schema, "_upgrade", no_upgrade)
    open_catalog(fresh_url).close()


def test_opening_an_up_to_date_catalog_does_not_import_alembic(fresh_url: str) -> None:
    open_catalog(fresh_url).close()
    code = (
        "import sys; from strongroom.catalog import open_catalog; "
        f"open_catalog({fresh_url!r}).close(); print('alembic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_processes_opening_a_new_catalog_at_once_make_it_once(fresh_url: str) -> None:
    start_at = time.time() + 3
    with ProcessPoolExecutor(max_workers=4, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_open_in_process, fresh_url, start_at) for _ in range(4)]
        assert [f.result(timeout=120) for f in futures] == [[]] * 4
    catalog = open_catalog(fresh_url)
    assert isinstance(catalog, SqlCatalog)
    with catalog._engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    catalog.close()


@pytest.mark.parametrize(
    "url", ["mysql://user:s3cret@host/db", "file:///tmp/catalog.sqlite", "/tmp/catalog.sqlite", "catalog.sqlite", ""]
)
def test_an_unknown_kind_of_url_lists_the_known_ones(url: str) -> None:
    with pytest.raises(ConfigError) as raised:
        open_catalog(url)
    message = str(raised.value)
    assert "sqlite:///abs/path/catalog.sqlite" in message and "postgresql://" in message
    assert "s3cret" not in message


# --- 0004: copies -------------------------------------------------------------------------------


def test_a_0_1_catalog_gets_a_primary_copy_of_every_package(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    make_0_1_catalog(path)
    db = sqlite3.connect(path)
    plus_five = timezone(timedelta(hours=5))
    a_earlier = datetime(2024, 1, 3, 10, 0, tzinfo=UTC)
    a_later = datetime(2024, 1, 3, 12, 0, tzinfo=UTC)
    b_check = datetime(2024, 2, 1, 8, 30, tzinfo=UTC)
    events = [
        # As 0.1 wrote them, the earlier check's text sorts after the later one's: only the time must count.
        ("a-check-1", OLD_A, None, "fixity check", a_earlier.astimezone(plus_five).isoformat(), "success"),
        ("a-check-2", OLD_A, None, "fixity check", a_later.isoformat(), "failure"),
        ("a-file", OLD_A, f"{OLD_A[:8]}-f1", "fixity check", "2024-03-01T00:00:00+00:00", "success"),  # one file
        ("a-other", OLD_A, None, "virus check", "2024-03-02T00:00:00+00:00", "success"),
        ("b-check", OLD_B, None, "fixity check", b_check.isoformat(), "success"),
    ]
    for uuid, package, file_uuid, kind, when, outcome in events:
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)",
                   (uuid, package, file_uuid, kind, when, "d", outcome, "", "[]"))  # fmt: skip
    db.commit()
    db.close()
    catalog = open_catalog(sqlite_url(path))
    try:
        assert catalog.copies() == [
            CopyRecord(OLD_A, "primary", 1, CREATED_A, a_later, Outcome.FAILURE, 1),
            CopyRecord(OLD_B, "primary", 1, CREATED_B, b_check, Outcome.SUCCESS, 0),
            CopyRecord(OLD_C, "primary", 1, CREATED_C),  # never checked
        ]
        assert catalog.last_checked("primary") == {OLD_A: a_later, OLD_B: b_check}
        assert catalog.location_usage() == [
            LocationUsage("primary", packages=3, current=3, bytes=90, oldest_check=None, newest_check=b_check,
                          failing=1)
        ]  # fmt: skip
    finally:
        catalog.close()


def _at_revision(url: str, revision: str) -> sa.Engine:
    """An engine on the database at `url`, its schema made up to `revision` (not beyond)."""
    from alembic import command
    from alembic.config import Config

    if url.startswith("sqlite"):
        engine = sa.create_engine(sa.URL.create("sqlite+pysqlite", database=str(sqlite_path(url))))
    else:
        engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS))
    config.set_main_option("path_separator", "os")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return engine


def test_a_revision_0003_catalog_gets_its_copies_in_primary(fresh_url: str) -> None:
    engine = _at_revision(fresh_url, "0003")
    updated, unchanged, unchecked = (make_summary(name=n, created=CREATED_A) for n in ("updated", "unchanged", "no"))
    checked = CREATED_A + timedelta(days=40)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(tables.packages),
                [
                    {"uuid": updated.uuid, "name": "updated", "created": CREATED_A, "files": 1, "bytes": 5,
                     "payload_sha256": "1" * 64, "storage_key": "k1", "version": 2, "updated": CREATED_B},
                    {"uuid": unchanged.uuid, "name": "unchanged", "created": CREATED_C, "files": 1, "bytes": 5,
                     "payload_sha256": "2" * 64, "storage_key": "k2", "version": 1, "updated": None},
                    {"uuid": unchecked.uuid, "name": "no", "created": CREATED_A, "files": 1, "bytes": 5,
                     "payload_sha256": "3" * 64, "storage_key": "k3", "version": 1, "updated": CREATED_A},
                ],
            )  # fmt: skip
            conn.execute(
                sa.insert(tables.versions),
                [
                    {"package": package, "number": number, "created": CREATED_A, "message": "m", "files": 1,
                     "bytes": 5, "new_files": 1, "new_bytes": size}
                    for package, number, size in ((updated.uuid, 1, 100), (updated.uuid, 2, 10),
                                                  (unchanged.uuid, 1, 1000), (unchecked.uuid, 1, 1))
                ],
            )  # fmt: skip
            conn.execute(
                sa.insert(tables.events),
                [
                    {"uuid": uuid, "package": package, "file_uuid": None, "type": "fixity check", "datetime": when,
                     "detail": "d", "outcome": outcome, "outcome_detail": "", "agents": "[]", "version": None}
                    for uuid, package, when, outcome in (
                        ("e1", updated.uuid, checked - timedelta(days=1), "failure"),
                        ("e2", updated.uuid, checked, "success"),
                        # two checks at one instant: the failure is taken as the last word
                        ("e3", unchanged.uuid, checked, "success"),
                        ("e4", unchanged.uuid, checked, "failure"),
                        ("e5", unchanged.uuid, checked, "success"),
                    )
                ],
            )  # fmt: skip
    finally:
        engine.dispose()
    catalog = open_catalog(fresh_url)
    try:
        assert sorted(catalog.copies(), key=lambda c: c.stored) == [
            CopyRecord(unchanged.uuid, "primary", 1, CREATED_C, checked, Outcome.FAILURE, 1),  # stored: created
            CopyRecord(unchecked.uuid, "primary", 1, CREATED_A),
            CopyRecord(updated.uuid, "primary", 2, CREATED_B, checked, Outcome.SUCCESS, 0),  # stored: updated
        ]
        assert catalog.location_usage() == [
            LocationUsage("primary", packages=3, current=3, bytes=1111, oldest_check=None, newest_check=checked,
                          failing=1)
        ]  # fmt: skip
        assert catalog.last_checked("primary") == {updated.uuid: checked, unchanged.uuid: checked}
    finally:
        catalog.close()


# --- 0006: records management --------------------------------------------------------------------


def test_a_revision_0005_catalog_gains_the_records_tables_and_keeps_its_rows(fresh_url: str) -> None:
    engine = _at_revision(fresh_url, "0005")
    summary = make_summary(name="old ≠ package", created=CREATED_A)
    rule_changed = CREATED_A + timedelta(days=1)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(tables.packages),
                {"uuid": summary.uuid, "name": summary.name, "created": CREATED_A, "files": 1, "bytes": 5,
                 "payload_sha256": "1" * 64, "storage_key": "k1", "version": 1, "updated": CREATED_A},
            )  # fmt: skip
            conn.execute(
                sa.insert(tables.versions),
                {"package": summary.uuid, "number": 1, "created": CREATED_A, "message": "m", "files": 1, "bytes": 5,
                 "new_files": 1, "new_bytes": 5},
            )  # fmt: skip
            # The access rule as 0005 knew it: no closure columns yet.
            old_rules = sa.table("access_rules", *(sa.column(n) for n in ("package", "path", "status", "reason")),
                                 sa.column("opening_date"), sa.column("changed"), sa.column("event_uuid"))  # fmt: skip
            conn.execute(
                sa.insert(old_rules),
                {"package": summary.uuid, "path": "", "status": "closed", "reason": "data protection",
                 "opening_date": "2090-01-01", "changed": rule_changed.isoformat(timespec="microseconds"),
                 "event_uuid": "e-1"},
            )  # fmt: skip
    finally:
        engine.dispose()
    catalog = open_catalog(fresh_url)
    try:
        assert catalog.access_rules(summary.uuid) == [
            AccessRule(summary.uuid, None, AccessStatus.CLOSED, "data protection", opening_date=date(2090, 1, 1),
                       changed=rule_changed, event_uuid="e-1")  # closure fields: None
        ]  # fmt: skip
        assert catalog.find_package(summary.uuid) is not None
        assert catalog.holds() == [] and catalog.stubs() == [] and catalog.schedules() == []
        # the new tables work on the upgraded catalog, and disposal takes the old rows with it
        catalog.assign_retention(RetentionAssignment(summary.uuid, "FIN-01", 1, CREATED_B, "upgrade", "manual"))
        stub = make_stub(summary.uuid)
        catalog.dispose_package(stub)
        assert catalog.find_package(summary.uuid) is None
        assert catalog.access_rules(summary.uuid) == [] and catalog.versions(summary.uuid) == []
        assert catalog.stub(summary.uuid) == stub
        assert catalog.retention(summary.uuid) is not None
    finally:
        catalog.close()


def test_a_revision_0006_catalog_gains_the_accounts_and_jobs_tables_and_keeps_its_rows(fresh_url: str) -> None:
    from strongroom.accounts.model import User, UserRole
    from strongroom.jobs.model import JobRecord, JobState

    engine = _at_revision(fresh_url, "0006")
    summary = make_summary(name="kept ≠", created=CREATED_A)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(tables.packages),
                {"uuid": summary.uuid, "name": summary.name, "created": CREATED_A, "files": 1, "bytes": 5,
                 "payload_sha256": "2" * 64, "storage_key": "k2", "version": 1, "updated": CREATED_A},
            )  # fmt: skip
            assert not sa.inspect(conn).has_table("users")
    finally:
        engine.dispose()
    catalog = open_catalog(fresh_url)
    try:
        assert catalog.find_package(summary.uuid) is not None
        assert catalog.users() == [] and catalog.jobs() == []
        catalog.add_user(User("Ann", "ann", UserRole.ADMIN, "hash", CREATED_B))
        catalog.add_job(JobRecord("j-1", "audit", "Audit", "ann", {"all": True}, JobState.QUEUED, CREATED_B))
        catalog.clear()  # rebuild empties what storage can restore, not accounts or jobs
        assert catalog.user("ann") is not None and catalog.job("j-1") is not None
    finally:
        catalog.close()
