"""Bring a catalog's schema to this code's revision when it is opened: create, upgrade, or refuse.

The schema's history is the numbered Alembic revisions in migrations/versions. Opening an
up-to-date catalog costs two small queries and never imports Alembic (CLI start-up time
counts); Alembic is imported only to create or upgrade a catalog, and the whole upgrade is
one transaction (on SQLite under BEGIN IMMEDIATE, on PostgreSQL under an advisory lock), so
two processes opening an old catalog at once upgrade it once, and a failed upgrade changes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.errors import CatalogError

# Every revision this code knows, oldest first; the last is the one it works with.
# tests/catalog/test_migrations.py checks these against the migration scripts.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008")
HEAD = REVISIONS[-1]
LEGACY = "0001"  # a catalog of Strongroom 0.1 (no alembic_version table) has this revision's schema
LEGACY_TABLES = frozenset({"packages", "files", "events", "agents", "descriptions"})
MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises upgrades between processes opening one PostgreSQL catalog at once.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"strongroom catalog migration").digest()[:8], "big", signed=True)


def current_revision(conn: Connection) -> str | None:
    """The revision the database is stamped with; LEGACY for a 0.1 catalog; None for an empty database."""
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" in tables:
        stamped = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if stamped is not None:
            return str(stamped)
    if "packages" not in tables:
        return None
    if tables >= LEGACY_TABLES:
        return LEGACY
    return "unknown"


def ensure_schema(engine: Engine, write_engine: Engine, url: str) -> None:
    """Make the catalog at `url` ready for this code, or raise CatalogError saying what to do.

    `write_engine` begins transactions that exclude other writers (BEGIN IMMEDIATE on SQLite).
    Driver errors while reading the revision propagate (the caller explains opening failures).
    """
    with engine.connect() as conn:
        revision = current_revision(conn)
    if revision == HEAD:
        return
    _refuse_unknown(revision, url)
    try:
        with write_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.literal(MIGRATION_LOCK_KEY, sa.BigInteger))))
            revision = current_revision(conn)  # another process may have upgraded it meanwhile
            if revision == HEAD:
                return
            _refuse_unknown(revision, url)
            _upgrade(conn, stamp=LEGACY if revision == LEGACY and not _stamped(conn) else None)
            if current_revision(conn) != HEAD:
                raise CatalogError(f"The catalog at {url} did not reach revision {HEAD} after its upgrade.")
    except (sa.exc.DBAPIError, ValueError, KeyError, TypeError) as exc:
        # Driver errors, and rows of an old catalog that its upgrade cannot read (a damaged time, JSON...).
        cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
        reason = " ".join(str(cause).split())
        action = "created" if revision is None else f"upgraded from revision {revision}"
        raise CatalogError(
            f"The catalog at {url} could not be {action}: {reason}.",
            details=[
                "Nothing was changed: the upgrade runs as one transaction.",
                "Check that the database is writable and has space, then retry; "
                "or move the catalog aside and run: strongroom rebuild",
            ],
        ) from exc


def _stamped(conn: Connection) -> bool:
    return sa.inspect(conn).has_table("alembic_version")


def _refuse_unknown(revision: str | None, url: str) -> None:
    if revision is None or revision in REVISIONS:
        return
    if revision == "unknown":
        raise CatalogError(
            f"The database at {url} holds a 'packages' table that Strongroom did not make.",
            details=["Give Strongroom a database (or file) of its own, then run: strongroom rebuild"],
        )
    raise CatalogError(
        f"The catalog at {url} was made by a newer version of Strongroom (revision {revision}; "
        f"this version knows revisions up to {HEAD}).",
        details=["Upgrade Strongroom, or move the catalog aside and run: strongroom rebuild"],
    )


def _upgrade(conn: Connection, *, stamp: str | None) -> None:
    # Imported here: Alembic costs start-up time and is needed only when the schema changes.
    from alembic import command
    from alembic.config import Config

    config = Config()
    # Config values go through configparser interpolation, where % is special.
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    if stamp is not None:
        command.stamp(config, stamp)
    command.upgrade(config, "head")
