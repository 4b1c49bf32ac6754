"""The SQLite catalog: the catalog contract on a real file, plus what only SQLite has."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from strongroom.catalog import open_catalog, sqlite_url
from strongroom.catalog.base import Catalog
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import CatalogError, ConfigError
from strongroom.model import AccessRule, AccessStatus, DublinCore
from tests.contracts.catalog_accounts_contract import AccountsContract
from tests.contracts.catalog_contract import (
    CatalogContract,
    add,
    identification,
    make_event,
    make_file,
    make_summary,
)
from tests.contracts.catalog_copies_contract import CopiesContract
from tests.contracts.catalog_jobs_contract import JobsContract, JobStepsContract
from tests.contracts.catalog_records_contract import RecordsContract, make_stub
from tests.contracts.catalog_validity_contract import ValidityContract


class TestSqliteContract(
    CatalogContract,
    CopiesContract,
    ValidityContract,
    RecordsContract,
    AccountsContract,
    JobsContract,
    JobStepsContract,
):
    @pytest.fixture
    def catalog(self, tmp_path: Path) -> Iterator[Catalog]:
        catalog = open_catalog(sqlite_url(tmp_path / "catalog.sqlite"))
        yield catalog
        catalog.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "catalog.sqlite"


@pytest.fixture
def catalog(path: Path) -> Iterator[SqlCatalog]:
    catalog = open_catalog(sqlite_url(path))
    assert isinstance(catalog, SqlCatalog)
    yield catalog
    catalog.close()


def pragma(catalog: SqlCatalog, name: str) -> object:
    with catalog._engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_connections_use_wal_full_sync_foreign_keys_and_a_long_busy_timeout(catalog: SqlCatalog) -> None:
    assert pragma(catalog, "journal_mode") == "wal"
    assert pragma(catalog, "synchronous") == 2  # FULL
    assert pragma(catalog, "foreign_keys") == 1
    assert pragma(catalog, "busy_timeout") == 60_000
    assert pragma(catalog, "secure_delete") == 1  # deleted rows are zeroed, not left in free pages


def test_url_is_the_absolute_path_verbatim(tmp_path: Path) -> None:
    home = tmp_path / "a home ≠ with %20 and ? and #"
    home.mkdir()
    url = sqlite_url(home / "catalog.sqlite")
    assert url == f"sqlite://{home}/catalog.sqlite"
    catalog = open_catalog(url)
    try:
        assert catalog.url == url
        assert (home / "catalog.sqlite").is_file()
    finally:
        catalog.close()
    # extra slashes are tolerated: SQLAlchemy's own spelling of an absolute path has four
    again = open_catalog(f"sqlite:////{home}/catalog.sqlite")
    assert again.url == url
    again.close()


@pytest.mark.parametrize("url", ["sqlite://relative/catalog.sqlite", "sqlite://", "sqlite:///", "sqlite:"])
def test_a_url_without_an_absolute_path_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"absolute path|Unknown kind"):
        open_catalog(url)


def test_lock_files_sit_beside_the_database(catalog: SqlCatalog, path: Path) -> None:
    with catalog.lock("journal") as held:
        assert held
    name = hashlib.sha256(b"journal").hexdigest()[:32]
    assert (path.parent / "catalog.sqlite.locks" / f"{name}.lock").is_file()


def test_a_damaged_file_is_refused_with_what_to_do(path: Path) -> None:
    path.write_bytes(b"this is not an SQLite database, just some bytes " * 100)
    with pytest.raises(CatalogError) as raised:
        open_catalog(sqlite_url(path))
    message = str(raised.value)
    assert "damaged" in message and "strongroom rebuild" in message and str(path) in message


def test_a_missing_folder_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="Check that the folder"):
        open_catalog(sqlite_url(tmp_path / "no such folder" / "catalog.sqlite"))


def test_a_writer_waits_for_another_writer_instead_of_failing(catalog: SqlCatalog, path: Path) -> None:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(1.0, other.execute, args=("COMMIT",)).start()
    started = time.monotonic()
    summary = make_summary()
    add(catalog, summary, [make_file("objects/a.txt")])
    assert time.monotonic() - started >= 0.8
    assert catalog.package_uuids() == {summary.uuid}
    other.close()


def test_naive_times_are_refused(catalog: SqlCatalog) -> None:
    summary = make_summary(created=datetime(2024, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        add(catalog, summary)
    assert catalog.packages() == []


def test_ten_thousand_files_and_thirty_thousand_events_go_in_quickly(catalog: SqlCatalog) -> None:
    # The ingest benchmark runs at ~500 files/s end to end; the catalog's share must stay small.
    summary = make_summary()
    ident = identification("fmt/276", "fmt/354", warnings=("w",))
    files = [make_file(f"objects/folder {i // 100:03}/file {i:05}.pdf", ident=ident) for i in range(10_000)]
    kinds = ("message digest calculation", "format identification", "ingestion")
    events = [make_event(kind, file_uuid=f.uuid) for f in files for kind in kinds]
    started = time.perf_counter()
    add(catalog, summary, iter(files), iter(events))
    elapsed = time.perf_counter() - started
    print(f"add_package: 10,000 files + 30,000 events in {elapsed:.2f} s")
    assert len(catalog.events(summary.uuid)) == 30_000
    assert elapsed < 10, f"add_package took {elapsed:.1f} s"


def test_a_disposed_package_leaves_no_trace_in_the_database_file_or_its_wal(catalog: SqlCatalog, path: Path) -> None:
    secret = "Zebedee-Quartermaine-7f3a"  # in the title, a path, an event, a description and an access rule
    summary = make_summary(name=f"{secret}-name", title=f"{secret} title")
    files = [make_file(f"objects/{secret}/{i:04}.pdf") for i in range(300)]  # several pages of rows
    events = [make_event(detail=f"{secret} event {i}") for i in range(300)]
    description = DublinCore("objects", {"dc.title": (f"{secret} described",)})
    add(catalog, summary, files, events, descriptions=[description], stored_in=["primary"])
    catalog.set_access(AccessRule(summary.uuid, None, AccessStatus.CLOSED, f"{secret} reason"))
    kept = make_summary(name="kept")
    add(catalog, kept, [make_file("objects/kept.txt")])
    wal = Path(f"{path}.wal") if Path(f"{path}.wal").exists() else Path(f"{path}-wal")
    assert secret.encode() in path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    catalog.dispose_package(make_stub(summary.uuid))
    assert catalog.find_package(summary.uuid) is None
    assert catalog.find_package(kept.uuid) is not None
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
    assert secret.encode() not in path.read_bytes()
