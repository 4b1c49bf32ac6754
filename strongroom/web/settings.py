"""The `[web]` table of strongroom.toml: what the web service allows and where it keeps uploads.

[web]
upload_limit = "20 GiB"            # the largest transfer one upload may be
session_hours = 12                 # a session ends this long after sign-in
idle_minutes = 60                  # ... or after this long without a request
sign_in_failures = 5               # failures per account in sign_in_window_minutes before it waits
sign_in_client_failures = 20       # failures per client address in the same window
sign_in_window_minutes = 15
job_workers = 1                    # jobs run at once by the embedded runner
secure_cookies = true              # browsers keep Secure cookies on http://127.0.0.1 and localhost too

[web.transfer_sources]             # folders archivists may pick transfers from, by name
accessions = "/srv/transfers/accessions"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.config import CONFIG_NAME
from strongroom.errors import ConfigError

_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip


@dataclass(frozen=True)
class WebSettings:
    home: Path
    upload_limit: int = 20 * 1024**3
    session_hours: int = 12
    idle_minutes: int = 60
    sign_in_failures: int = 5
    sign_in_client_failures: int = 20
    sign_in_window_minutes: int = 15
    job_workers: int = 1
    request_threads: int = 4
    secure_cookies: bool = True
    transfer_sources: Mapping[str, Path] = field(default_factory=dict)

    @property
    def uploads_dir(self) -> Path:
        """Where uploads are assembled (inside the home, so on the same disk as staging)."""
        return self.home / "uploads"


def parse_size(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if match is None or match.group(2).lower() not in _UNITS or float(match.group(1)) <= 0:
        raise ConfigError(f'{where} must be a size such as "20 GiB" or "500 MB", not {value!r}.')
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _positive_int(table: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"[web] {key} in {where} must be a whole number of at least 1, not {value!r}.")
    return value


def load_web_settings(home: Path) -> WebSettings:
    config_file = home / CONFIG_NAME
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {config_file}: {exc}", details=["Fix the file and retry."]) from exc
    table = data.get("web", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[web] in {config_file} must be a table.")
    where = str(config_file)
    sources_table = table.get("transfer_sources", {})
    if not isinstance(sources_table, dict):
        raise ConfigError(f'[web.transfer_sources] in {where} must be a table of name = "/folder".')
    sources: dict[str, Path] = {}
    for name, folder in sources_table.items():
        if not isinstance(folder, str) or not folder.strip():
            raise ConfigError(f"[web.transfer_sources] {name} in {where} must be a folder path.")
        path = Path(folder) if Path(folder).is_absolute() else home / folder
        sources[str(name)] = path.resolve()
    secure = table.get("secure_cookies", True)
    if not isinstance(secure, bool):
        raise ConfigError(f"[web] secure_cookies in {where} must be true or false.")
    return WebSettings(
        home=home,
        upload_limit=parse_size(table.get("upload_limit", 20 * 1024**3), f"[web] upload_limit in {where}"),
        session_hours=_positive_int(table, "session_hours", 12, where),
        idle_minutes=_positive_int(table, "idle_minutes", 60, where),
        sign_in_failures=_positive_int(table, "sign_in_failures", 5, where),
        sign_in_client_failures=_positive_int(table, "sign_in_client_failures", 20, where),
        sign_in_window_minutes=_positive_int(table, "sign_in_window_minutes", 15, where),
        job_workers=_positive_int(table, "job_workers", 1, where),
        request_threads=_positive_int(table, "request_threads", 4, where),
        secure_cookies=secure,
        transfer_sources=sources,
    )
