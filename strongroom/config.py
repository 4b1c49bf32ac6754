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
from strongroom.workers import default_workers

CONFIG_NAME = "strongroom.toml"

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

[formats]
# "fast" gives exactly FIDO's answers, much faster; "fido" runs FIDO itself.
engine = "fast"
# A newer PRONOM signature file in FIDO's format (formats-vNNN.xml), relative to the home:
# pronom_signature_file = "signatures/formats-v120.xml"

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
    pronom_signature_file: Path | None = None
    identifier_engine: str = "fast"
    parallel_from_files: int = 2000  # smaller transfers are hashed and identified in-process
    catalog_url_setting: str | None = None  # [catalog] url or STRONGROOM_CATALOG_URL; None: the embedded SQLite file

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


def load_settings(home: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `<home>/strongroom.toml` and apply STRONGROOM_* overrides from `environ`."""
    env = os.environ if environ is None else environ
    config_file = home / CONFIG_NAME
    if not config_file.is_file():
        raise ConfigError(
            f"No Strongroom archive at {home} (there is no {CONFIG_NAME}).",
            details=[f"Create one with: strongroom --home {home} init"],
        )
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
    catalog_url = env.get("STRONGROOM_CATALOG_URL") or catalog.get("url")
    if catalog_url is not None and (not isinstance(catalog_url, str) or not catalog_url.strip()):
        raise ConfigError(f"[catalog] url in {config_file} must be a database URL such as postgresql://host/db.")

    storage_kind = str(env.get("STRONGROOM_STORAGE_KIND", storage.pop("kind", "filesystem")))
    search_kind = str(env.get("STRONGROOM_SEARCH_KIND", search.pop("kind", "sqlite")))
    for options in (storage, search):
        if "path" in options:
            options["path"] = str((home / str(options["path"])).resolve())
    signature_file = env.get("STRONGROOM_PRONOM_SIGNATURE_FILE", formats.get("pronom_signature_file"))
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
        identifier_engine=str(env.get("STRONGROOM_IDENTIFIER", formats.get("engine", "fast"))),
        catalog_url_setting=catalog_url.strip() if catalog_url else None,
    )


def _table(data: Mapping[str, Any], name: str, source: Path) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] in {source} must be a table of settings.")
    return value
