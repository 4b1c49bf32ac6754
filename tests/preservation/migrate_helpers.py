"""What the migration tests share: archives made on the spot, tool wrappers that misbehave, METS link checks."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import bagit
import pytest

from strongroom.metadata import read_mets
from strongroom.metadata.validate import MetsValidator
from strongroom.model import FileRole
from strongroom.preservation.actions import derivative_source
from tests.conftest import Home

DERIVATIVE_ROLES = (FileRole.TEXT, FileRole.PRESERVATION, FileRole.ACCESS)


@contextmanager
def archive_env() -> Iterator[pytest.MonkeyPatch]:
    """The environment of the `home` fixture, for module-scoped archives (one ingest and migration shared)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STRONGROOM_WORKERS", "2")
        mp.setenv("STRONGROOM_OPERATOR", "test-archivist")
        mp.setenv("STRONGROOM_CHARACTERISE", "0")
        mp.setenv("STRONGROOM_VIRUS_SCAN", "off")
        mp.setenv("STRONGROOM_EXTRACT_TEXT", "0")
        mp.delenv("STRONGROOM_CATALOG_URL", raising=False)
        mp.delenv("STRONGROOM_MIGRATE_ON_INGEST", raising=False)
        yield mp


def imagemagick() -> str:
    for name in ("convert-im6.q16", "magick", "convert"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("ImageMagick is not installed; install the tools with: bash scripts/tools.sh")


def tool_wrapper(folder: Path, name: str, real: str, *, negate: bool = False, sleep: float = 0.0) -> Path:
    """An executable that stands in for `real`: it may sleep first, and may negate the picture it writes (the
    last argument is the output), so its result is wrong in a way only a pixel comparison sees. Each run leaves
    its process id in folder/pids, so a test can make sure none outlives it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pids").mkdir(exist_ok=True)
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        f"open(os.path.join({str(folder / 'pids')!r}, str(os.getpid())), 'w').close()\n"
        f"real = {real!r}\n"
        "args = sys.argv[1:]\n"
        "if args and args[0].lstrip('-') == 'version':\n"
        "    os.execv(real, [real, *args])\n"
        f"time.sleep({sleep!r})\n"
        f"if {negate!r} and args:\n"
        "    args = [*args[:-1], '-negate', args[-1]]\n"
        "os.execv(real, [real, *args])\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def reap_wrappers(folder: Path) -> None:
    """Kill any wrapper run still alive (a SIGKILLed migrate leaves its tool runs behind in their own sessions)."""
    for pid_file in (folder / "pids").glob("*") if (folder / "pids").is_dir() else []:
        try:
            cmdline = Path(f"/proc/{int(pid_file.name)}/cmdline").read_bytes()
        except (OSError, ValueError):
            continue  # gone already
        # Only a process that is still the wrapper or the tool it became (a pid may have been reused since).
        if str(folder).encode() in cmdline or b"input." in cmdline:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid_file.name), signal.SIGKILL)


def policy_override(home: Home, text: str) -> None:
    (home.path / "migration-policy.toml").write_text(text, encoding="utf-8")


def export_and_check(home: Home, package: str, dest: Path) -> Path:
    """Export the head version, validate the bag and the METS, and check every derivation link resolves.

    Returns the exported bag's folder.
    """
    home.ok("export", package, str(dest))
    (bag_dir,) = list(dest.iterdir())
    bagit.Bag(str(bag_dir)).validate()
    mets = bag_dir / "data" / f"METS.{package}.xml"
    assert MetsValidator().validate(mets) == []
    assert_links_resolve(mets)
    return bag_dir


def assert_links_resolve(mets: Path) -> int:
    """Every derivative names an original of the METS as its source and an event of the METS that made it."""
    document = read_mets(mets)
    files = {f.uuid: f for f in document.files}
    events = {e.uuid: e for e in document.events}
    derived = 0
    for record in document.files:
        if record.role not in DERIVATIVE_ROLES:
            continue
        link = _derivation_of(mets, record.uuid)
        assert link is not None, f"{record.path} has no derivation relationship"
        source, event = link
        assert source in files and files[source].role is FileRole.ORIGINAL, f"{record.path}: source {source}"
        found = derivative_source(record.path)
        assert found is not None and found[1] == files[source].path, f"{record.path} is not at its source's path"
        assert event is not None and event in events, f"{record.path}: event {event} is not in the METS"
        assert events[event].file_uuid == source, f"{record.path}: the event that made it is not on its source"
        derived += 1
    return derived


def _derivation_of(mets: Path, file_uuid: str) -> tuple[str, str | None] | None:
    """(source UUID, event UUID) of a file's PREMIS derivation relationship, read straight from the XML."""
    from lxml import etree

    premis = "http://www.loc.gov/premis/v3"
    tree = etree.parse(str(mets))
    for obj in tree.iter(f"{{{premis}}}object"):
        ids = [v.text for v in obj.iterfind(f"{{{premis}}}objectIdentifier/{{{premis}}}objectIdentifierValue")]
        if file_uuid not in ids:
            continue
        for rel in obj.iterfind(f"{{{premis}}}relationship"):
            if rel.findtext(f"{{{premis}}}relationshipType") != "derivation":
                continue
            source = rel.findtext(f"{{{premis}}}relatedObjectIdentifier/{{{premis}}}relatedObjectIdentifierValue")
            event = rel.findtext(f"{{{premis}}}relatedEventIdentifier/{{{premis}}}relatedEventIdentifierValue")
            if source:
                return source, event
        return None
    return None
