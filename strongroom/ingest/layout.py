"""Walk a transfer folder and decide where each file goes in the package.

The transfer conventions follow Archivematica: a transfer may hold `objects/`,
`metadata/` (metadata.csv, rights.csv, checksum.*, submissionDocumentation/)
and `logs/`; a plain folder of records is all objects. Paths here are
relative to the bag's `data/` folder and always use `/`.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from strongroom.errors import TransferError
from strongroom.model import FileRole

CONTROL_OR_INVALID = {chr(c) for c in range(0x20)} | {"\x7f"}

# Files an operating system leaves in folders it has shown, not records: Finder's
# .DS_Store, its custom-icon file `Icon\r` and the __MACOSX/ folder (with its `._*`
# AppleDouble files) of a zip made on a Mac, Windows Explorer's Thumbs.db and desktop.ini.
SYSTEM_FILE_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "icon\r"})
SYSTEM_FOLDER_NAMES = frozenset({"__macosx"})


def is_system_file(name: str) -> bool:
    """True for a file name that operating systems make on their own (compared without case)."""
    return name.lower() in SYSTEM_FILE_NAMES


@dataclass(frozen=True)
class TransferEntry:
    source: Path
    dest: str  # relative to data/, e.g. objects/a/b.pdf
    role: FileRole
    original_name: str  # as deposited; percent-escaped where it was not valid text
    renamed: bool = False
    system: bool = False  # made by an operating system (see is_system_file), not by the depositor


@dataclass
class TransferLayout:
    entries: list[TransferEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (original, stored)

    def by_dest(self) -> dict[str, TransferEntry]:
        return {e.dest: e for e in self.entries}

    def leave_out_system_files(self, keep: set[str]) -> list[TransferEntry]:
        """Drop system files whose path is not in `keep`; returns those dropped."""
        dropped = [e for e in self.entries if e.system and e.dest not in keep]
        if dropped:
            gone = {id(e) for e in dropped}
            self.entries = [e for e in self.entries if id(e) not in gone]
            left = {e.dest for e in dropped}
            self.renamed = [(original, stored) for original, stored in self.renamed if stored not in left]
        return dropped


def portable_name(name: str) -> tuple[str, bool]:
    """A name that can be stored, indexed and written to XML, and whether it had to change.

    Bytes that are not UTF-8 (surrogate escapes from os.fsdecode) and control
    characters become %XX; an existing `%` is escaped too when the name changes,
    so the original bytes can always be read back from the stored name.
    """
    if not any(_needs_escape(ch) for ch in name):
        return name, False
    out: list[str] = []
    for ch in name:
        if "\udc80" <= ch <= "\udcff":
            out.append(f"%{ord(ch) - 0xDC00:02X}")
        elif ch in CONTROL_OR_INVALID or ch == "%":
            out.append(f"%{ord(ch):02X}")
        elif _needs_escape(ch):
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            out.append(ch)
    return "".join(out), True


def _needs_escape(ch: str) -> bool:
    code = ord(ch)
    return ch in CONTROL_OR_INVALID or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF)


def describe_original(name: str) -> str:
    """The deposited name as readable text, showing raw bytes where they were not UTF-8."""
    raw = os.fsencode(name)
    return repr(raw)[2:-1]


def plan_layout(root: Path, *, payload_root: Path | None = None, tag_metadata: Path | None = None) -> TransferLayout:
    """Plan where every file of a transfer goes.

    `root` is a transfer folder; for a bag, `payload_root` is its data/ folder and
    `tag_metadata` an optional metadata/ tag folder beside data/.
    """
    layout = TransferLayout()
    base = payload_root or root
    if (base / "objects").is_dir():
        for child in sorted(base.iterdir()):
            if child.name == "metadata" and child.is_dir():
                _walk(child, "metadata", layout, root)
            elif child.name == "logs" and child.is_dir():
                _walk(child, "logs", layout, root)
            elif child.name == "objects":
                _walk(child, "objects", layout, root)
            else:
                _walk_one(child, "objects", layout, root)
    else:
        for child in sorted(base.iterdir()):
            if child.name == "metadata" and child.is_dir() and payload_root is None:
                _walk(child, "metadata", layout, root)
            else:
                _walk_one(child, "objects", layout, root)
    if tag_metadata is not None and tag_metadata.is_dir():
        _walk(tag_metadata, "metadata", layout, root)
    _warn_normalisation_collisions(layout)
    return layout


def plan_folder(folder: Path, prefix: str) -> TransferLayout:
    """The files under `folder` as entries whose paths start with `prefix` (an unpacked inner archive)."""
    layout = TransferLayout()
    _walk(folder, prefix, layout, folder)
    return layout


def require_records(layout: TransferLayout, name: str) -> None:
    if not any(e.role is FileRole.ORIGINAL for e in layout.entries):
        raise TransferError(
            f"The transfer {name} holds no records to preserve (no files outside metadata/ and logs/).",
            details=["Check that you gave the right folder."],
        )


def _role_for(dest: str) -> FileRole:
    if dest.startswith("metadata/submissionDocumentation/"):
        return FileRole.SUBMISSION_DOCUMENTATION
    if dest.startswith("metadata/"):
        return FileRole.METADATA
    if dest.startswith("logs/"):
        return FileRole.LOG
    return FileRole.ORIGINAL


def _walk_one(path: Path, prefix: str, layout: TransferLayout, root: Path, system: bool = False) -> None:
    name, renamed = portable_name(path.name)
    dest = f"{prefix}/{name}"
    if renamed:
        layout.renamed.append((describe_original(path.name), dest))
    kind = _classify(path, root, layout)
    if kind == "dir":
        _walk(path, dest, layout, root, system or path.name.lower() in SYSTEM_FOLDER_NAMES)
    elif kind == "file":
        system = system or is_system_file(path.name)
        layout.entries.append(TransferEntry(path, dest, _role_for(dest), name, renamed, system))


def _walk(folder: Path, prefix: str, layout: TransferLayout, root: Path, system: bool = False) -> None:
    try:
        children = sorted(folder.iterdir())
    except PermissionError as exc:
        raise TransferError(
            f"The folder {folder} cannot be read ({exc.strerror}); nothing was ingested.",
            details=["Give the account running Strongroom read access to the whole transfer and retry."],
        ) from exc
    if not children and prefix.startswith("objects") and not system:
        layout.empty_folders.append(prefix)
    for child in children:
        _walk_one(child, prefix, layout, root, system)


def _classify(path: Path, root: Path, layout: TransferLayout) -> str:
    """'file', 'dir' or 'skip' for one entry; refuses links that leave the transfer."""
    st = path.lstat()
    shown = path.relative_to(root).as_posix()
    if stat.S_ISLNK(st.st_mode):
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            raise TransferError(
                f"{shown} is a symbolic link to {os.readlink(path)}, outside the transfer; nothing was ingested.",
                details=["Replace the link with the file itself, or remove it, and retry."],
            )
        layout.warnings.append(f"{shown}: symbolic link inside the transfer, skipped (its target is kept)")
        return "skip"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    layout.warnings.append(f"{shown}: device, pipe or socket, skipped (not a record)")
    return "skip"


def _warn_normalisation_collisions(layout: TransferLayout) -> None:
    seen: dict[str, str] = {}
    for entry in layout.entries:
        key = unicodedata.normalize("NFC", entry.dest)
        other = seen.setdefault(key, entry.dest)
        if other != entry.dest:
            layout.warnings.append(
                f"{other!r} and {entry.dest!r} differ only in Unicode normalisation: both kept as deposited "
                "(they may collide on systems that normalise names, such as macOS)"
            )


def iter_files(folder: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(dirpath) / name
