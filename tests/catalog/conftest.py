"""Fixtures for the catalog tests: fresh SQLite files and fresh PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.catalog import sqlite_url
from tests.services import fresh_postgresql_database


@pytest.fixture(scope="module")
def postgresql_module_url() -> Iterator[str]:
    """A database of this test module's own on the test server (so modules and workers can run in parallel)."""
    with fresh_postgresql_database() as url:
        yield url


@pytest.fixture
def postgresql_fresh_url() -> Iterator[str]:
    """An empty database for one test."""
    with fresh_postgresql_database() as url:
        yield url


@pytest.fixture
def sqlite_fresh_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "catalog.sqlite")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty catalog on each backend in turn."""
    name = "sqlite_fresh_url" if request.param == "sqlite" else "postgresql_fresh_url"
    return str(request.getfixturevalue(name))
