"""The static preservation report: index.html and a page per section, with the dashboard's SVG charts and tables.

Self-contained: no JavaScript, no server; the web app's stylesheet is copied beside the pages when it is
installed (without it the pages are plain HTML, still complete). Written into a temporary folder beside
the destination and renamed into place, so a reader never sees half a report; an earlier report in the
destination is replaced, any other folder with files in it is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from strongroom import __version__, views
from strongroom.errors import StorageError, StrongroomError
from strongroom.reports.dashboard import Dashboard, build_dashboard, migration_proposals
from strongroom.web.charts import dashboard_charts, human_bytes

if TYPE_CHECKING:
    from strongroom.archive import Archive

WEB = Path(__file__).resolve().parent.parent / "web"
TEMPLATES = WEB / "templates"
STYLESHEET = WEB / "static" / "strongroom.css"
MARKER = ".strongroom-report"  # marks a folder as a report this module wrote, so it may be replaced

SECTIONS = (
    ("index.html", "Overview"),
    ("formats.html", "Formats and risk"),
    ("growth.html", "Growth"),
    ("audits.html", "Storage and audits"),
    ("retention.html", "Retention due"),
)


@dataclass(frozen=True)
class WrittenReport:
    folder: Path
    files: tuple[str, ...]  # names written into the folder
    stylesheet: bool  # whether the stylesheet was copied in
    dashboard: Dashboard


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                       trim_blocks=True, lstrip_blocks=True)  # fmt: skip


def render_pages(archive: Archive, dashboard: Dashboard, stylesheet: str | None) -> dict[str, str]:
    """Each page's name and HTML."""
    env = _environment()
    charts = dashboard_charts(dashboard)
    _version, proposals = migration_proposals(archive, dashboard.formats)
    locations = [views.location_json(s) for s in archive.location_statuses()]
    common: dict[str, Any] = {
        "organisation": archive.settings.organisation_name, "as_of": dashboard.as_of, "sections": SECTIONS,
        "stylesheet": stylesheet, "version": __version__, "registry_version": dashboard.profile.registry_version,
        "human_bytes": human_bytes, "dashboard": dashboard, "charts": charts, "locations": [], "proposals": None,
        "waiting": 0,
    }  # fmt: skip
    pages: dict[str, tuple[str, dict[str, Any]]] = {
        "index.html": ("report/index.html", {}),
        "formats.html": ("report/section.html", {"shown": [charts["risk"], charts["format_files"],
                                                           charts["format_bytes"]], "proposals": proposals}),
        "growth.html": ("report/section.html", {"shown": [charts["growth_packages"], charts["growth_bytes"]]}),
        "audits.html": ("report/section.html", {"shown": [charts["audit"]], "locations": locations}),
        "retention.html": ("report/section.html", {"shown": [charts["retention"]],
                                                   "waiting": dashboard.waiting_for_trigger}),
    }  # fmt: skip
    titles = dict(SECTIONS)
    return {
        name: env.get_template(template).render({**common, **extra, "title": titles[name], "current": name})
        for name, (template, extra) in pages.items()
    }


def write_report(archive: Archive, folder: Path, now: datetime | None = None) -> WrittenReport:
    """Write the report into `folder` (made, or replacing an earlier report there)."""
    folder = folder.expanduser().absolute()
    _check_destination(folder)
    dashboard = build_dashboard(archive, now or datetime.now(UTC))
    has_css = STYLESHEET.is_file()
    pages = render_pages(archive, dashboard, "strongroom.css" if has_css else None)
    if not folder.parent.is_dir():
        raise StorageError(f"Cannot write the report into {folder}: the folder {folder.parent} does not exist.",
                           details=["Create it first, or choose another place."])  # fmt: skip
    try:
        partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    except OSError as exc:
        raise StorageError(f"Cannot write the report into {folder}: {exc.strerror or exc}.",
                           details=["Check the folder's permissions and free space."]) from exc  # fmt: skip
    try:
        for name, text in pages.items():
            (partial / name).write_text(text, encoding="utf-8")
        if has_css:
            shutil.copyfile(STYLESHEET, partial / "strongroom.css")
        (partial / MARKER).write_text(f"Strongroom {__version__} preservation report\n", encoding="utf-8")
        os.chmod(partial, 0o755)  # mkdtemp makes it private; a report is meant to be read
        _swap_in(partial, folder)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise StorageError(f"Cannot write the report into {folder}: {exc.strerror or exc}.",
                           details=["Check the folder's permissions and free space."]) from exc  # fmt: skip
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    files = (*pages, *(("strongroom.css",) if has_css else ()))
    return WrittenReport(folder, tuple(files), has_css, dashboard)


def _check_destination(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise StrongroomError(f"{folder} is a file, not a folder.", details=["Give a folder for the report."])
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise StrongroomError(
            f"{folder} already holds files that are not a Strongroom report.",
            details=["Give a new or empty folder; an earlier report's folder is replaced."],
        )


def _swap_in(partial: Path, folder: Path) -> None:
    """Rename the finished report into place; an earlier one is moved aside first and removed after."""
    old: Path | None = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    try:
        partial.rename(folder)
    except OSError:
        if old is not None:
            old.rename(folder)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
