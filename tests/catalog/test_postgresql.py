"""The PostgreSQL catalog: the catalog contract on a real server, plus what only PostgreSQL has.

The server is started by scripts/services.sh (tests/services.py); this module works in a
database of its own, emptied before each test.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.errors import CatalogError, ConfigError
from tests.contracts.catalog_accounts_contract import AccountsContract
from tests.contracts.catalog_contract import HOSTILE_PATHS, CatalogContract, add, make_file, make_summary
from tests.contracts.catalog_copies_contract import CopiesContract
from tests.contracts.catalog_jobs_contract import JobsContract, JobStepsContract
from tests.contracts.catalog_records_contract import RecordsContract
from tests.contracts.catalog_validity_contract import ValidityContract
from tests.services import postgresql_url


class TestPostgresqlContract(
    CatalogContract,
    CopiesContract,
    ValidityContract,
    RecordsContract,
    AccountsContract,
    JobsContract,
    JobStepsContract,
):
    @pytest.fixture
    def catalog(self, postgresql_module_url: str) -> Iterator[Catalog]:
        catalog = open_catalog(postgresql_module_url)
        catalog.clear()
        yield catalog
        catalog.close()


def with_parts(url: str, **parts: Any) -> str:
    return sa.make_url(url).set(**parts).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_url_never_shows_the_password(postgresql_module_url: str) -> None:
    url = with_parts(postgresql_module_url, password="s3cret-pw")
    catalog = open_catalog(url)  # the test server trusts local logins, whatever the password
    try:
        assert "s3cret-pw" not in catalog.url
        assert catalog.url.startswith("postgresql://postgres:***@127.0.0.1:")
    finally:
        catalog.close()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg"])
def test_other_spellings_of_the_scheme_open_the_same_catalog(postgresql_module_url: str, scheme: str) -> None:
    catalog = open_catalog(with_parts(postgresql_module_url, drivername=scheme))
    try:
        assert catalog.url.startswith("postgresql://")
        catalog.packages()
    finally:
        catalog.close()


def test_another_driver_is_refused() -> None:
    with pytest.raises(ConfigError, match="Unknown kind of catalog URL"):
        open_catalog("postgresql+psycopg2://postgres@127.0.0.1/db")


def test_a_server_that_is_not_running_is_explained() -> None:
    url = f"postgresql://someone:hidden-pw@127.0.0.1:{free_port()}/strongroom"
    with pytest.raises(CatalogError) as raised:
        open_catalog(url)
    message = str(raised.value)
    assert "Cannot reach the PostgreSQL server" in message and "is running" in message
    assert "hidden-pw" not in message


def test_a_missing_database_is_explained(postgresql_module_url: str) -> None:
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(CatalogError) as raised:
        open_catalog(with_parts(postgresql_module_url, database=missing, password="hidden-pw"))
    message = str(raised.value)
    assert f"The database '{missing}' does not exist" in message and "createdb" in message
    assert "hidden-pw" not in message


def test_an_unknown_user_is_explained(postgresql_module_url: str) -> None:
    with pytest.raises(CatalogError, match="no user of that name") as raised:
        open_catalog(with_parts(postgresql_module_url, username="nobody_here", password="hidden-pw"))
    assert "hidden-pw" not in str(raised.value)


def test_a_url_without_a_database_is_refused() -> None:
    with pytest.raises(ConfigError, match="names no database"):
        open_catalog("postgresql://postgres@127.0.0.1:5432")


def test_a_lock_is_a_session_advisory_lock(postgresql_module_url: str) -> None:
    catalog = open_catalog(postgresql_module_url)
    try:
        with catalog.lock("journal") as held, psycopg.connect(postgresql_url()) as conn:
            assert held
            rows = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()
            assert rows is not None and rows[0] >= 1
    finally:
        catalog.close()


@pytest.fixture
def icu_database_url() -> Iterator[str]:
    """A database whose default collation is en-US (ICU), where punctuation and case sort unlike code points."""
    base = postgresql_url()
    name = f"strongroom_icu_{uuid.uuid4().hex[:10]}"
    admin = with_parts(base, database="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            " LOCALE 'C.UTF-8'"
        )
    try:
        yield with_parts(base, database=name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_text_sorts_by_code_point_whatever_the_database_collation(icu_database_url: str) -> None:
    catalog = open_catalog(icu_database_url)
    try:
        summary = make_summary()
        add(catalog, summary, [make_file(p) for p in HOSTILE_PATHS])
        assert [f.path for f in catalog.files(summary.uuid)] == sorted(HOSTILE_PATHS)
    finally:
        catalog.close()
