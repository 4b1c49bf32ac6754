"""What every request of one app shares: the home, its settings, templates, the job runner, open archives.

There is no module-level state: `create_app` builds one WebContext and keeps it on `app.state.ctx`.
Requests run on a thread pool; each thread opens its own Archive once and keeps it (the SQLite
search index serialises callers of one connection, and opening an archive per request would cost
more than most requests). Everything an Archive reads is read fresh from the catalog and index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

from strongroom.archive import Archive
from strongroom.config import Settings, load_settings
from strongroom.web.settings import WebSettings, load_web_settings

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates

    from strongroom.jobs.base import JobRunner


@dataclass
class ArchivePool:
    """One open Archive per thread, all closed together when the app stops."""

    home: Path
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[Archive] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> Archive:
        archive: Archive | None = getattr(self._local, "archive", None)
        if archive is None:
            archive = Archive.open(self.home)
            self._local.archive = archive
            with self._guard:
                self._opened.append(archive)
        return archive

    def close(self) -> None:
        with self._guard:
            opened, self._opened = self._opened, []
        for archive in opened:
            archive.close()


@dataclass
class WebContext:
    home: Path
    settings: Settings
    web: WebSettings
    templates: Jinja2Templates
    archives: ArchivePool
    jobs: JobRunner

    @contextmanager
    def archive(self) -> Iterator[Archive]:
        """The calling thread's Archive (open for the app's life; do not close it)."""
        yield self.archives.get()

    @property
    def organisation(self) -> str:
        return self.settings.organisation_name


def load_contexts(home: Path) -> tuple[Settings, WebSettings]:
    return load_settings(home), load_web_settings(home)


def context_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.ctx
    return ctx
