"""What differs between the SQLite and PostgreSQL catalogs: engines, locks and opening failures.

SQLite (the embedded default, a file in the archive home): WAL, synchronous=FULL, a 60 s busy
timeout, foreign keys on, secure_delete (a destroyed package's rows are zeroed, not left in
free pages), and BEGIN IMMEDIATE for every write transaction, so writers queue for
the one write lock instead of failing halfway; `lock()` is an flock on a file beside the database.
PostgreSQL (psycopg 3): a small pool; `lock()` is a session advisory lock on a dedicated connection,
so it holds across machines and goes away with the session if the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from strongroom.catalog import sqlite_url
from strongroom.catalog.schema import ensure_schema
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import CatalogError, ConfigError

SQLITE_BUSY_SECONDS = 60
WRITE = "strongroom_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def lock_digest(name: str) -> bytes:
    return hashlib.sha256(name.encode("utf-8")).digest()


# --- SQLite -------------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///abs/path/catalog.sqlite` URL: everything after `sqlite://`, verbatim."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest.startswith("/") or rest.strip("/") == "":
        raise ConfigError(
            f"The SQLite catalog URL {url!r} does not name a file by its absolute path.",
            details=["Write it as sqlite:///abs/path/catalog.sqlite (three slashes, then the path from /)."],
        )
    return Path("/" + rest.lstrip("/"))


def _sqlite_engines(path: Path) -> tuple[Engine, Engine]:
    engine = sa.create_engine(
        sa.URL.create("sqlite+pysqlite", database=str(path)),
        connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # SQLAlchemy, not sqlite3, emits BEGIN (the pysqlite recipe), so that writes can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Deleted rows are overwritten with zeros, not left in free pages: a disposed package's
            # titles and paths must not stay readable in the file.
            cursor.execute("PRAGMA secure_delete = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # A write takes the write lock at once (waiting up to the busy timeout) rather than failing
        # with "database is locked" when a deferred transaction tries to upgrade to a writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE) else "BEGIN")

    return engine, engine.execution_options(**{WRITE: True})


class FileLocks:
    """Catalog.lock() for SQLite: flock on `<catalog>.locks/<sha256(name)[:32]>.lock` (host-local, as the file is)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def lock(self, name: str, *, wait: bool) -> Iterator[bool]:
        path = self.folder / f"{lock_digest(name).hex()[:32]}.lock"
        try:
            self.folder.mkdir(exist_ok=True)
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise CatalogError(
                f"Cannot create the lock file {path}: {exc.strerror or exc}.",
                details=[f"Check that you may write to {self.folder.parent}."],
            ) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                held = False
            yield held
        finally:
            os.close(fd)  # releases the lock; the kernel does the same if the process dies

    def close(self) -> None:
        pass


def open_sqlite(url: str) -> SqlCatalog:
    path = sqlite_path(url)
    shown = sqlite_url(path)
    engine, write_engine = _sqlite_engines(path)
    try:
        ensure_schema(engine, write_engine, shown)
    except (sa.exc.DBAPIError, sqlite3.Error) as exc:
        engine.dispose()
        raise _sqlite_open_error(shown, path, exc) from exc
    except BaseException:
        engine.dispose()
        raise
    return SqlCatalog(engine, url=shown, write_engine=write_engine, locks=FileLocks(Path(f"{path}.locks")))


def _sqlite_open_error(url: str, path: Path, exc: Exception) -> CatalogError:
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    reason = " ".join(str(orig).split())
    if "not a database" in reason or "malformed" in reason:
        return CatalogError(
            f"The catalog at {url} is damaged or is not an SQLite database ({reason}).",
            details=[f"Move {path} aside (keep it for inspection), then run: strongroom rebuild"],
        )
    if "unable to open" in reason or "readonly" in reason or "read-only" in reason:
        return CatalogError(
            f"Cannot open the catalog at {url} ({reason}).",
            details=[f"Check that the folder {path.parent} exists and that you may write to it and to {path.name}."],
        )
    if "locked" in reason or "busy" in reason:
        return CatalogError(
            f"The catalog at {url} stayed locked by another process for {SQLITE_BUSY_SECONDS} s.",
            details=["Wait for the other Strongroom command to finish, then retry."],
        )
    return CatalogError(
        f"Cannot open the catalog at {url}: {reason}.",
        details=["If the file is damaged, move it aside and run: strongroom rebuild"],
    )


# --- PostgreSQL ---------------------------------------------------------------------------------

POSTGRESQL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class AdvisoryLocks:
    """Catalog.lock() for PostgreSQL: pg_advisory_lock on a connection of its own, closed at exit."""

    def __init__(self, engine: Engine, url: str) -> None:
        self._engine = engine  # NullPool, autocommit: closing a connection ends its session
        self._url = url

    @contextmanager
    def lock(self, name: str, *, wait: bool) -> Iterator[bool]:
        key = sa.literal(int.from_bytes(lock_digest(name)[:8], "big", signed=True), sa.BigInteger)
        try:
            conn = self._engine.connect()
        except sa.exc.DBAPIError as exc:
            raise _postgresql_error(self._url, exc, None) from exc
        try:
            if wait:
                conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
                held = True
            else:
                held = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
            yield held
            if held:
                # Released here, at once: the server ends a closed session's locks only when it notices
                # the disconnection, so another process could still find the lock taken a moment later.
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
        finally:
            # Closing the session releases its advisory locks, whatever state it is in (also after an error).
            conn.close()

    def close(self) -> None:
        self._engine.dispose()


def open_postgresql(url: str) -> SqlCatalog:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            "The PostgreSQL catalog URL cannot be read.",
            details=["Write it as postgresql://user:password@host:port/database"],
        ) from exc
    if parsed.drivername not in POSTGRESQL_SCHEMES:
        raise ConfigError(
            f"Strongroom talks to PostgreSQL through psycopg 3, not {parsed.drivername}.",
            details=["Write the catalog URL as postgresql://user:password@host:port/database"],
        )
    shown = parsed.set(drivername="postgresql").render_as_string(hide_password=True)
    if not parsed.database:
        raise ConfigError(
            f"The catalog URL {shown} names no database.",
            details=["Write it as postgresql://user:password@host:port/database"],
        )
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy loads; checked here for a clear message)
    except ImportError as exc:
        raise CatalogError(
            "A PostgreSQL catalog needs the psycopg driver, which is not installed.",
            details=["Install it with: pip install 'strongroom[postgresql]'"],
        ) from exc
    target = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {"application_name": "strongroom"}
    if "connect_timeout" not in target.query:
        connect_args["connect_timeout"] = 10
    engine = sa.create_engine(
        target, pool_size=4, max_overflow=4, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args
    )
    lock_engine = sa.create_engine(
        target, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args
    )
    try:
        ensure_schema(engine, engine, shown)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise _postgresql_error(shown, exc, parsed) from exc
    except BaseException:
        engine.dispose()
        raise
    return SqlCatalog(engine, url=shown, write_engine=engine, locks=AdvisoryLocks(lock_engine, shown))


def _postgresql_error(url: str, exc: sa.exc.DBAPIError, parsed: sa.URL | None) -> CatalogError:
    reason = " ".join(str(exc.orig or exc).split())
    password = parsed.password if parsed is not None else None
    if password:
        reason = reason.replace(str(password), "***")
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}" if parsed is not None else "the server"
    if "does not exist" in reason and "database" in reason and parsed is not None:
        return CatalogError(
            f"The database {parsed.database!r} does not exist on the PostgreSQL server at {where}.",
            details=[
                f"Create it (createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432} "
                f"-U {parsed.username or 'postgres'} {parsed.database}), or correct the catalog URL {url}."
            ],
        )
    if "password authentication failed" in reason or "no password supplied" in reason:
        return CatalogError(
            f"The PostgreSQL server at {where} refused the login of the catalog URL {url}: {reason}.",
            details=["Check the user and password in the catalog URL."],
        )
    if "role" in reason and "does not exist" in reason:
        return CatalogError(
            f"The PostgreSQL server at {where} has no user of that name: {reason}.",
            details=[f"Create the user, or correct the catalog URL {url}."],
        )
    if any(s in reason for s in ("Connection refused", "could not connect", "timeout expired", "Name or service")):
        return CatalogError(
            f"Cannot reach the PostgreSQL server of the catalog {url}: {reason}.",
            details=[
                f"Check that PostgreSQL is running and accepts connections at {where}.",
                "For the test server: bash scripts/services.sh start postgresql",
            ],
        )
    return CatalogError(
        f"Cannot open the catalog at {url}: {reason}.",
        details=["Check the catalog URL and the PostgreSQL server's log."],
    )
