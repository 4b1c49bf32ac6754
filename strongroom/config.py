"""Settings of one archive home: `<home>/strongroom.toml`, overridden by STRONGROOM_* variables.

Settings are loaded once by the caller and passed down; nothing reads them globally.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.errors import ConfigError
from strongroom.formats import DEFAULT_ENGINE, IdentifierSpec, canonical_engine
from strongroom.formats.signature_store import SignatureKind, newer_than_bundled
from strongroom.home import CONFIG_NAME as CONFIG_NAME  # re-exported, like default_home
from strongroom.home import default_home as default_home  # re-exported: callers have long imported it from here
from strongroom.locations import PRIMARY, LocationSpec, parse_locations
from strongroom.workers import default_workers

DEFAULT_CONFIG = """\
# Strongroom archive settings. Every value can be overridden by an environment
# variable: STRONGROOM_ORGANISATION_NAME, STRONGROOM_WORKERS, ...

[organisation]
# The repository that holds the packages; recorded as a PREMIS agent on every event.
name = "{organisation}"
identifier = "{organisation_id}"

[ingest]
# Worker processes for hashing and identification (0 = one per core).
workers = 0
# Starting workers costs about a second: transfers with fewer files run in-process.
parallel_from_files = 2000
# .DS_Store, Thumbs.db, desktop.ini, Icon\\r and __MACOSX/ are left out of packages (a PREMIS
# event lists each one) unless a bag manifest or checksum file names them; true keeps them all.
keep_system_files = false
# Virus scanning with ClamAV (clamd): "required" refuses to ingest without a scanner; "if-available"
# scans when clamd answers and otherwise records "not scanned" with a warning; "off" never scans.
virus_scan = "if-available"
# clamd's socket (default: STRONGROOM_CLAMD_SOCKET, else Debian's /var/run/clamav/clamd.ctl).
# clamd_socket = "/var/run/clamav/clamd.ctl"
# An infected file refuses the whole transfer ("refuse"), or is moved to <home>/quarantine ("quarantine").
infected = "refuse"
# Characterise and validate originals with JHOVE, veraPDF, MediaInfo and ExifTool where installed
# (bash scripts/tools.sh; strongroom doctor lists them). An invalid file is stored and flagged.
characterise = true
# Archives (zip, tar, 7z) and ISO 9660 disk images among the records are always stored as received;
# true also unpacks their files into a sibling <name>.contents/ folder, as records of their own.
unpack_archives = false
unpack_disk_images = false

[formats]
# "droid" gives DROID's answers from the current PRONOM signature files (the newest of those bundled and
# those added with `strongroom signatures install`); "fido-fast" and "fido" give FIDO's (PRONOM v109,
# 2020). engine = "fast", which `init` in earlier releases wrote as the default, means "droid".
engine = "droid"
# Particular DROID signature files instead (e.g. to go back to an older one), relative to the home:
# signature_file = "signatures/DROID_SignatureFile_V123.xml"
# container_signature_file = "signatures/container-signature-20260301.xml"
# For the FIDO engines, a PRONOM signature file in FIDO's format (formats-vNNN.xml):
# pronom_signature_file = "signatures/formats-v120.xml"

[preservation]
# Migrate at-risk formats as part of every ingest (a second version, right after the one holding the
# originals as received), by the rules of migration-policy.toml; otherwise run `strongroom migrate`.
migrate_on_ingest = false

[storage]
kind = "filesystem"
# Relative paths are taken from the archive home.
path = "storage"

[search]
kind = "sqlite"
path = "search.sqlite"

[catalog]
# The embedded default is a SQLite file in the home. For several users or machines, use
# PostgreSQL (pip install 'strongroom[postgresql]'):
# url = "postgresql://strongroom@db.example.org:5432/strongroom"
# STRONGROOM_CATALOG_URL overrides this; a password is best given there or in ~/.pgpass.
"""


@dataclass(frozen=True)
class Settings:
    home: Path
    organisation_name: str = "Strongroom archive"
    organisation_id: str = "strongroom"
    workers: int = 0
    storage_kind: str = "filesystem"
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    search_kind: str = "sqlite"
    search_options: Mapping[str, Any] = field(default_factory=dict)
    pronom_signature_file: Path | None = None  # FIDO's format, for the FIDO engines
    identifier_engine: str = "droid"
    droid_signature_file: Path | None = None  # [formats] signature_file, else the newest installed; None: bundled
    container_signature_file: Path | None = None  # [formats] container_signature_file; likewise
    signature_file_configured: bool = False  # droid_signature_file came from the setting, not <home>/signatures
    container_signature_file_configured: bool = False  # likewise for container_signature_file
    parallel_from_files: int = 2000  # smaller transfers are hashed and identified in-process
    catalog_url_setting: str | None = None  # [catalog] url or STRONGROOM_CATALOG_URL; None: the embedded SQLite file
    keep_system_files: bool = False  # [ingest] keep_system_files or STRONGROOM_KEEP_SYSTEM_FILES
    locations: tuple[LocationSpec, ...] = ()  # [locations.NAME] tables; empty: [storage] is the one location
    virus_scan: str = "if-available"  # [ingest] virus_scan: "required" | "if-available" | "off"
    clamd_socket: Path | None = None  # [ingest] clamd_socket or STRONGROOM_CLAMD_SOCKET; None: the system's
    infected: str = "refuse"  # [ingest] infected: "refuse" | "quarantine"
    characterise: bool = True  # [ingest] characterise: run JHOVE, veraPDF, MediaInfo, ExifTool where installed
    unpack_archives: bool = False  # [ingest] unpack_archives
    unpack_disk_images: bool = False  # [ingest] unpack_disk_images
    extract_text: bool = True  # [ingest] extract_text: keep the records' text in the package, for full-text search
    text_time_limit: float = 60.0  # [ingest] text_time_limit: seconds one file's text extraction may take
    text_size_limit: int = 10_000_000  # [ingest] text_size_limit: characters of text kept per file (more: cut)
    migrate_on_ingest: bool = False  # [preservation] migrate_on_ingest or STRONGROOM_MIGRATE_ON_INGEST
    # [records] open_on_new_year: a computed opening date moves to the 1 January after it (the UK rule)
    open_on_new_year: bool = False

    @property
    def identifier_spec(self) -> IdentifierSpec:
        return IdentifierSpec(
            self.identifier_engine, self.droid_signature_file, self.container_signature_file, self.pronom_signature_file
        )

    @property
    def all_locations(self) -> tuple[LocationSpec, ...]:
        """Every storage location, the primary first."""
        return self.locations or (LocationSpec(PRIMARY, self.storage_kind, self.storage_options),)

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    @property
    def catalog_url(self) -> str:
        from strongroom.catalog import sqlite_url

        return self.catalog_url_setting or sqlite_url(self.catalog_path)

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else default_workers()


def write_default_config(home: Path, organisation: str, organisation_id: str) -> Path:
    path = home / CONFIG_NAME
    text = DEFAULT_CONFIG.format(
        organisation=organisation.replace('"', "'"), organisation_id=organisation_id.replace('"', "'")
    )
    path.write_text(text, encoding="utf-8")
    return path


def _engine(env: Mapping[str, str], formats: Mapping[str, Any]) -> str:
    """[formats] engine, or STRONGROOM_IDENTIFIER. "fast" in strongroom.toml is what `init` wrote as the default
    before the DROID engine was (the FIDO-exact engine's old name), not a user's choice: it means the default now.
    Who wants FIDO's answers writes "fido-fast"."""
    if "STRONGROOM_IDENTIFIER" in env:
        return canonical_engine(str(env["STRONGROOM_IDENTIFIER"]))
    configured = str(formats.get("engine", DEFAULT_ENGINE))
    return DEFAULT_ENGINE if configured == "fast" else canonical_engine(configured)


def load_settings(home: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `<home>/strongroom.toml` and apply STRONGROOM_* overrides from `environ`."""
    env = os.environ if environ is None else environ
    config_file = home / CONFIG_NAME
    if not config_file.is_file():
        raise _no_archive(home)
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_file} is not valid TOML: {exc}", details=["Fix the file and retry."]) from exc

    organisation = _table(data, "organisation", config_file)
    ingest = _table(data, "ingest", config_file)
    storage = dict(_table(data, "storage", config_file))
    search = dict(_table(data, "search", config_file))
    formats = _table(data, "formats", config_file)
    catalog = _table(data, "catalog", config_file)
    preservation = _table(data, "preservation", config_file)
    records = _table(data, "records", config_file)
    catalog_url = env.get("STRONGROOM_CATALOG_URL") or catalog.get("url")
    if catalog_url is not None and (not isinstance(catalog_url, str) or not catalog_url.strip()):
        raise ConfigError(f"[catalog] url in {config_file} must be a database URL such as postgresql://host/db.")

    locations: tuple[LocationSpec, ...] = ()
    if "locations" in data:
        if "storage" in data:
            raise ConfigError(
                f"{config_file} has both [storage] and [locations]: the [storage] table is the older way to name "
                "the one storage location.",
                details=["Move its settings into [locations.primary] (with kind = ...) and remove [storage]."],
            )
        locations = parse_locations(data["locations"], home, config_file)
        storage = dict(locations[0].options)
        storage_kind = locations[0].kind
    else:
        storage_kind = str(env.get("STRONGROOM_STORAGE_KIND", storage.pop("kind", "filesystem")))
    search_url = env.get("STRONGROOM_SEARCH_URL") or search.pop("url", None)
    if search_url:
        search_kind = _search_url_kind(str(search_url), config_file)
        search.pop("kind", None)
        search.pop("path", None)
        search["url"] = str(search_url).split("+", 1)[1]
        if env.get("STRONGROOM_SEARCH_INDEX"):
            search["index"] = env["STRONGROOM_SEARCH_INDEX"]
    else:
        search_kind = str(env.get("STRONGROOM_SEARCH_KIND", search.pop("kind", "sqlite")))
    for options in (storage, search):
        if "path" in options:
            given = home / str(options["path"])
            # The folder is resolved, not the name itself: a rebuilt search index is a symbolic link to its
            # new file, and following it would make the next rebuild link the link (a chain that grows).
            options["path"] = str(given.parent.resolve() / given.name)
    signature_file = env.get("STRONGROOM_PRONOM_SIGNATURE_FILE", formats.get("pronom_signature_file"))
    droid_file = env.get("STRONGROOM_SIGNATURE_FILE", formats.get("signature_file"))
    container_file = env.get("STRONGROOM_CONTAINER_SIGNATURE_FILE", formats.get("container_signature_file"))
    installed = newer_than_bundled(home) if not (droid_file and container_file) else {}
    workers_text = env.get("STRONGROOM_WORKERS", ingest.get("workers", 0))
    try:
        workers = int(workers_text)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"workers must be a whole number, not {workers_text!r}.") from exc
    return Settings(
        home=home,
        organisation_name=str(env.get("STRONGROOM_ORGANISATION_NAME", organisation.get("name", "Strongroom"))),
        organisation_id=str(env.get("STRONGROOM_ORGANISATION_ID", organisation.get("identifier", "strongroom"))),
        workers=workers,
        storage_kind=storage_kind,
        storage_options=storage,
        search_kind=search_kind,
        search_options=search,
        pronom_signature_file=(home / str(signature_file)).resolve() if signature_file else None,
        parallel_from_files=int(env.get("STRONGROOM_PARALLEL_FROM_FILES", ingest.get("parallel_from_files", 2000))),
        identifier_engine=_engine(env, formats),
        # Not configured: the newest installed with `strongroom signatures install`, when newer than the bundled
        # file (None: the bundled one).
        droid_signature_file=((home / str(droid_file)).resolve() if droid_file else installed.get(SignatureKind.DROID)),
        container_signature_file=(
            (home / str(container_file)).resolve() if container_file else installed.get(SignatureKind.CONTAINER)
        ),
        signature_file_configured=bool(droid_file),
        container_signature_file_configured=bool(container_file),
        catalog_url_setting=catalog_url.strip() if catalog_url else None,
        keep_system_files=_flag(
            env.get("STRONGROOM_KEEP_SYSTEM_FILES", ingest.get("keep_system_files", False)), "keep_system_files"
        ),
        locations=locations,
        virus_scan=str(env.get("STRONGROOM_VIRUS_SCAN", ingest.get("virus_scan", "if-available"))),
        clamd_socket=_clamd_socket(env, ingest, home),
        infected=str(env.get("STRONGROOM_INFECTED", ingest.get("infected", "refuse"))),
        characterise=_flag(env.get("STRONGROOM_CHARACTERISE", ingest.get("characterise", True)), "characterise"),
        unpack_archives=_flag(
            env.get("STRONGROOM_UNPACK_ARCHIVES", ingest.get("unpack_archives", False)), "unpack_archives"
        ),
        unpack_disk_images=_flag(
            env.get("STRONGROOM_UNPACK_DISK_IMAGES", ingest.get("unpack_disk_images", False)), "unpack_disk_images"
        ),
        extract_text=_flag(env.get("STRONGROOM_EXTRACT_TEXT", ingest.get("extract_text", True)), "extract_text"),
        text_time_limit=_number(
            env.get("STRONGROOM_TEXT_TIME_LIMIT", ingest.get("text_time_limit", 60.0)), "text_time_limit", float
        ),
        text_size_limit=int(
            _number(
                env.get("STRONGROOM_TEXT_SIZE_LIMIT", ingest.get("text_size_limit", 10_000_000)), "text_size_limit", int
            )
        ),
        migrate_on_ingest=_flag(
            env.get("STRONGROOM_MIGRATE_ON_INGEST", preservation.get("migrate_on_ingest", False)), "migrate_on_ingest"
        ),
        open_on_new_year=_flag(
            env.get("STRONGROOM_OPEN_ON_NEW_YEAR", records.get("open_on_new_year", False)), "open_on_new_year"
        ),
    )


# `[search] url` schemes: which backend, and the scheme the server itself speaks.
SEARCH_URL_SCHEMES = {
    "elasticsearch+http": "elasticsearch",
    "elasticsearch+https": "elasticsearch",
    "opensearch+http": "opensearch",
    "opensearch+https": "opensearch",
}


def _search_url_kind(url: str, source: Path) -> str:
    scheme = url.partition("://")[0].lower()
    kind = SEARCH_URL_SCHEMES.get(scheme)
    if kind is None or "://" not in url:
        raise ConfigError(
            f"The search url {_shown_url(url)!r} (in {source} or STRONGROOM_SEARCH_URL) does not say which "
            "server it is.",
            details=[
                "Write elasticsearch+http://host:9200 for Elasticsearch 8 or 9, or opensearch+http://host:9200 "
                "for OpenSearch 2 or 3 (+https for TLS). Leave url out for the embedded SQLite index."
            ],
        )
    return kind


def _shown_url(url: str) -> str:
    """`url` safe to print: a password in it (scheme://user:password@host) is never shown."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # no scheme at all: user:password@host may still be there
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _number(value: object, name: str, kind: type[int] | type[float]) -> float:
    """A positive number setting from TOML or the environment (text)."""
    try:
        number = kind(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number <= 0:
        raise ConfigError(f"{name} must be a number above 0, not {value!r}.")
    return float(number)


def _clamd_socket(env: Mapping[str, str], ingest: Mapping[str, Any], home: Path) -> Path | None:
    given = env.get("STRONGROOM_CLAMD_SOCKET") or ingest.get("clamd_socket")
    if given:
        return (home / str(given)).resolve()
    from strongroom.ingest.virus import default_socket

    return default_socket({})


def _no_archive(home: Path) -> ConfigError:
    """Say which path was tried; suggest `init` only where it cannot start a second archive beside the real one."""
    check = "If the archive is elsewhere, name its folder with --home or the STRONGROOM_HOME variable."
    if not home.exists():
        return ConfigError(
            f"No Strongroom archive at {home}: that folder does not exist.",
            details=[check, f"To start a new, empty archive there: strongroom --home {home} init"],
        )
    if not home.is_dir():
        return ConfigError(f"No Strongroom archive at {home}: that is a file, not a folder.", details=[check])
    # A folder one level down that holds an archive is the likeliest intended home (e.g. --home ~ for ~/archive).
    try:
        below = sorted(p.parent for p in home.glob(f"*/{CONFIG_NAME}"))[:3]
    except OSError:
        below = []
    hints = [f"Did you mean --home {p}?" for p in below]
    return ConfigError(
        f"No Strongroom archive at {home}: the folder exists but holds no {CONFIG_NAME}.",
        details=[
            *hints,
            "Check --home and STRONGROOM_HOME: they must name the folder that holds "
            f"{CONFIG_NAME} (the one `strongroom init` made).",
        ],
    )


def _flag(value: object, name: str) -> bool:
    """A true/false setting from TOML (a boolean) or the environment (text)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}.")


def _table(data: Mapping[str, Any], name: str, source: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] in {source} must be a table of settings.")
    return value


@dataclass(frozen=True)
class PolicyFile:
    """A policy read as TOML: its tables, and how to name where they came from in an error."""

    data: dict[str, Any]
    where: str


def read_policy(packaged_name: str, path: Path | None, what: str) -> PolicyFile:
    """The policy packaged as `strongroom/data/<packaged_name>`, or the one at `path` (same layout).

    ConfigError saying which file and what is wrong when it cannot be read or is not TOML.
    """
    if path is None:
        from importlib import resources

        text = resources.files("strongroom").joinpath(f"data/{packaged_name}").read_text("utf-8")
        where = f"the packaged {packaged_name}"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}.") from exc
        where = str(path)
    try:
        return PolicyFile(tomllib.loads(text), where)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}. Fix the file and run again.") from exc
