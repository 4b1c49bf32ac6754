"""Installing PRONOM signature files into an archive home: every check a file from outside must pass.

Which files are used is decided in signature_store.py. A file is installed only after it has passed what the
engine itself does with it (the module docstring there lists the checks), and one bad file in a batch
installs none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from strongroom.errors import StrongroomError
from strongroom.formats.signature_store import (
    _DOWNLOADS,
    _HEAD_BYTES,
    _ITEMS,
    _ROOT,
    _ROOTS,
    _TEMP_PREFIX,
    _VERSION,
    _VERSION_ATTRIBUTE,
    MAX_ELEMENTS,
    MAX_FILE_BYTES,
    MIN_COVERAGE,
    InstalledSignature,
    InstallOutcome,
    InstallReport,
    RootElement,
    SignatureInfo,
    SignatureInstallError,
    SignatureKind,
    Source,
    _bundled_paths,
    _date,
    _head,
    _version,
    bundled_signatures,
    in_use_for,
    installed_signatures,
    read_info,
    signatures_dir,
)
from strongroom.storage.filesystem import fsync_dir

if TYPE_CHECKING:
    from strongroom.config import Settings
    from strongroom.formats.droid.identifier import CompiledDroid


# --- installing ---------------------------------------------------------------------------------------


@dataclass
class _Staged:
    """A file copied into the signatures folder under a temporary name, not yet checked or in place."""

    given: Path
    temp: Path
    sha256: str
    kind: SignatureKind = SignatureKind.DROID
    version: int = 0
    date: str | None = None
    final: Path = field(default_factory=Path)


def _refuse(given: Path, why: str, *hints: str) -> SignatureInstallError:
    return SignatureInstallError(
        f"{given} was not installed: {why}. Nothing was installed.",
        details=[*hints] or [f"Download the current files from The National Archives: {_DOWNLOADS}"],
    )


def _stage(given: Path, folder: Path, max_bytes: int) -> _Staged:
    """Copy `given` into `folder` under a temporary name (fsync'd), reading at most `max_bytes` + 1 bytes."""
    try:
        # O_NONBLOCK: a FIFO named by mistake must not hang the command; it is refused below as not a file.
        fd = os.open(given, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise _refuse(given, "no such file", "Check the path.") from None
    except OSError as exc:
        raise _refuse(given, f"cannot be read ({exc.strerror})", "Check the path and its permissions.") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise _refuse(given, f"it is {what}", "Name the signature file itself (an .xml file).")
    with os.fdopen(fd, "rb") as source:
        if info.st_size > max_bytes:
            raise _refuse(given, f"it is {info.st_size:,} bytes; a signature file is a few MB (the limit is "
                          f"{max_bytes:,} bytes)", "Check that this is a PRONOM signature file.")  # fmt: skip
        # Not mkstemp: its 0600 would outlive the rename; the user's umask decides, as for the home's other files.
        temp = folder / f"{secrets.token_hex(8)}.part"
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := source.read(1024 * 1024):
                    size += len(chunk)
                    if size > max_bytes:  # it grew while being read
                        raise _refuse(given, f"it is over the limit of {max_bytes:,} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:  # the source unreadable half-way, or the home's disk full
            temp.unlink(missing_ok=True)
            hint = "Check the file, and the free space and permissions of the archive home."
            raise _refuse(given, f"copying it into {folder} failed ({exc.strerror})", hint) from None
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    return _Staged(given, temp, digest.hexdigest())


def _screen(staged: _Staged) -> None:
    """Which kind the staged file is and its version, before the engine sees it: XML with no DTD, a known root
    whose version its first bytes agree on, a bounded number of elements, and about as many formats and
    signatures as the bundled file (read as a stream, so a hostile file costs no memory here)."""
    counts = _walk(staged.temp, staged.given, lambda root: _check_root(staged, root))
    _check_coverage(staged, counts)


def _walk(path: Path, given: Path, on_root: Callable[[RootElement], None] | None = None) -> dict[str, int]:
    """Stream `path`, calling `on_root` with its root element; how many of each kind's items (_ITEMS) it has."""
    from xml.etree.ElementTree import Element, ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    items = {(collection, item): label for pairs in _ITEMS.values() for collection, item, label in pairs}
    counts = dict.fromkeys(items.values(), 0)
    root: Element | None = None
    collection = ""  # the local name of the root's child being read
    depth = elements = 0
    try:
        for event, element in iterparse(str(path), events=("start", "end"), forbid_dtd=True):
            if event == "end":
                depth -= 1
                if depth == 1 and root is not None:
                    root.clear()  # a child of the root is read: keep nothing of it
                continue
            if root is None:
                root = element
                if on_root is not None:
                    on_root(RootElement(root.tag.rsplit("}", 1)[-1], dict(root.attrib)))
            depth += 1
            elements += 1
            if elements > MAX_ELEMENTS:
                raise _refuse(given, f"it has over {MAX_ELEMENTS:,} XML elements, where PRONOM's DROID signature "
                              "file has some 54,000 (2026)")  # fmt: skip
            if depth == 2:
                collection = element.tag.rsplit("}", 1)[-1]
            elif depth == 3 and (label := items.get((collection, element.tag.rsplit("}", 1)[-1]))):
                counts[label] += 1
    except DefusedXmlException:
        raise _refuse(given, "it has a DTD (<!DOCTYPE ...>), which PRONOM's signature files never have; its "
                      "entities could expand a small file to gigabytes") from None  # fmt: skip
    except ParseError as exc:
        raise _refuse(given, f"it is not XML, or not all of it ({exc})") from None
    if root is None:
        raise _refuse(given, "it is empty")
    return counts


def _check_root(staged: _Staged, root: RootElement) -> None:
    given = staged.given
    local = root.name
    if local not in _ROOTS:
        raise _refuse(
            given,
            f"its root element is <{local}>, where a DROID signature file has <FFSignatureFile> and a container "
            "signature file <ContainerSignatureMapping>",
            "FIDO's formats-vNNN.xml files go to [formats] pronom_signature_file, not here.",
            f"DROID_SignatureFile_VNNN.xml and container-signature-YYYYMMDD.xml come from {_DOWNLOADS}",
        )
    kind = _ROOTS[local]
    attribute = _VERSION_ATTRIBUTE[kind]
    version = _version(kind, root.attributes)
    head = _head(staged.temp)
    first = _ROOT.search(head)
    if first is not None and first.group(1).decode() != local:
        # E.g. <!-- <ContainerSignatureMapping signatureVersion="999"> --> before the real root: an edited file, and
        # Strongroom code that read kind and version from the first bytes (until this change) would be fooled.
        raise _refuse(
            given,
            f"its first bytes name a <{first.group(1).decode()}> element (in a comment?) before its root element "
            f"<{local}>, which tools that read the first bytes would take for the file's kind",
            "Use the file as published by The National Archives, unedited.",
        )
    in_head = _VERSION[kind].search(head)
    if version is None or in_head is None or int(in_head.group(1)) != version:
        found = root.attributes.get(attribute, "")
        raise _refuse(
            given,
            f'its <{local}> element has no {attribute}="NUMBER" attribute that its first {_HEAD_BYTES:,} bytes agree '
            f"on (the root element has {found!r}, the first bytes "
            f"{in_head.group(1).decode() if in_head else 'none'!r}); a tool reading the first bytes would see another",
        )
    staged.kind, staged.version = kind, version
    staged.date = _date(kind, root.attributes, given.name)


def _check_coverage(staged: _Staged, counts: Mapping[str, int]) -> None:
    """Refuse a file defining under MIN_COVERAGE of what the bundled file of its kind defines: installed, a newer
    version would win over the bundled file and identify (next to) nothing."""
    bundled_path = _bundled_paths()[staged.kind]
    bundled = _walk(bundled_path, bundled_path)
    bundled_info = read_info(bundled_path, Source.BUNDLED)
    name = bundled_info.label if bundled_info is not None else bundled_path.name
    for _collection, _item, label in _ITEMS[staged.kind]:
        if counts[label] < MIN_COVERAGE * bundled[label]:
            raise _refuse(
                staged.given,
                f"it defines {counts[label]:,} {label}, where the bundled {name} defines {bundled[label]:,}; a "
                f"file with fewer than {MIN_COVERAGE:.0%} of them would identify less than the one shipped, and "
                "(being newer) would be used instead of it",
                f"Check that it is the complete file as published by The National Archives: {_DOWNLOADS}",
            )


def _final_name(staged: _Staged) -> str:
    if staged.kind is SignatureKind.DROID:
        return f"DROID_SignatureFile_V{staged.version}.xml"
    # Keep TNA's date when the name has one: container-signature-20260301-V41.xml.
    date = staged.date.replace("-", "") + "-" if staged.date else ""
    return f"container-signature-{date}V{staged.version}.xml"


def _compile(signature_file: Path, container_file: Path, item: _Staged) -> CompiledDroid:
    """Load and compile as identification will (and cache it for the first ingest); refusals name `item`."""
    from strongroom.formats.droid.identifier import load_compiled

    try:
        return load_compiled(signature_file, container_file)
    except StrongroomError as exc:
        raise _refuse(item.given, exc.message.replace(str(item.temp), str(item.given)), *exc.details) from None
    except (ValueError, RecursionError, UnicodeError) as exc:  # what an odd but well-formed file can provoke
        raise _refuse(item.given, f"the engine cannot load it ({type(exc).__name__}: {exc})") from None


def _lacking(compiled: CompiledDroid) -> list[str]:
    """PUIDs the container signatures give (or trigger on) that the DROID signature file does not define."""
    if compiled.containers is None:
        return []
    wanted = compiled.containers.mapped_puids | frozenset(compiled.containers.trigger_puids)
    return sorted(wanted - frozenset(compiled.binary.signatures.by_puid))


@contextlib.contextmanager
def _home_problem(folder: Path) -> Iterator[None]:
    """An OSError on the home's signatures folder itself (read-only home, a file where the folder should be) as
    an install error saying what to fix."""
    try:
        yield
    except OSError as exc:
        if folder.exists() and not folder.is_dir():
            hint = f"{folder} is not a folder: move that file away (installed signature files go in that folder)."
        else:
            hint = f"Make {folder.parent} and {folder} writable by the user running strongroom, or free some space."
        raise SignatureInstallError(
            f"Signature files cannot be installed into {folder}: {exc.strerror or exc}. Nothing was installed.",
            details=[hint],
        ) from None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One install at a time per home (a lock on the folder itself, so no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def install(
    home: Path,
    files: Sequence[Path],
    *,
    allow_older: bool = False,
    environ: Mapping[str, str] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> InstallReport:
    """Check `files` (DROID and container signature files, told apart by content) and install them all into
    <home>/signatures, or none: SignatureInstallError says which file was refused and why."""
    from strongroom.config import load_settings

    settings = load_settings(home, environ)  # ConfigError when `home` is not an archive home
    if not files:
        raise SignatureInstallError("No files given.", details=[f"Name one or more signature files; see {_DOWNLOADS}"])
    folder = signatures_dir(home)
    made_folder = not folder.exists()
    with _home_problem(folder):
        folder.mkdir(parents=True, exist_ok=True)
    # A hidden folder of this install's own: files are checked there under their final names, since the name is
    # part of what PREMIS records and of what the compiled-signature cache keeps.
    staging = folder / f"{_TEMP_PREFIX}{secrets.token_hex(8)}"
    staged: list[_Staged] = []
    try:
        with contextlib.ExitStack() as lock:
            with _home_problem(folder):
                lock.enter_context(_locked(folder))
                for leftover in folder.glob(f"{_TEMP_PREFIX}*"):  # from an install that was interrupted
                    if leftover.is_dir():
                        shutil.rmtree(leftover)
                    else:
                        leftover.unlink(missing_ok=True)
                staging.mkdir()
            for given in files:
                staged.append(_stage(given, staging, max_bytes))
                _screen(staged[-1])
            report = _install_staged(home, settings, staged, allow_older, environ)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if made_folder:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if nothing was installed: rmdir refuses a folder with files
    return report


def _install_staged(
    home: Path, settings: Settings, staged: list[_Staged], allow_older: bool, environ: Mapping[str, str] | None
) -> InstallReport:
    installed = installed_signatures(home)
    bundled = bundled_signatures()
    outcomes: list[InstalledSignature] = []
    to_install: list[_Staged] = []
    for item in staged:
        same = [i for i in (*installed, *bundled) if i.kind is item.kind and i.version == item.version]
        twin = [t for t in to_install if t.kind is item.kind and t.version == item.version]
        if same or twin:
            there = same[0].path if same else twin[0].given
            if _sha256(there) != item.sha256:
                raise _refuse(
                    item.given,
                    f"a different {item.kind.label} with the same version ({item.version}) is already there: {there}",
                    "Check which of the two is TNA's; to replace an installed one, delete it from the signatures "
                    "folder first.",
                )
            if same:
                outcome = (
                    InstallOutcome.BUNDLED if same[0].source is Source.BUNDLED else InstallOutcome.ALREADY_INSTALLED
                )
                outcomes.append(InstalledSignature(item.kind, item.version, item.date, item.given, there, outcome))
            continue
        known = [i for i in (*installed, *bundled) if i.kind is item.kind and i.version is not None]
        newest = max(known, key=lambda i: i.version or 0, default=None)
        older_than = None
        if newest is not None and (newest.version or 0) > item.version:
            older_than = f"{newest.source.value} {newest.label}"
            if not allow_older:
                raise _refuse(
                    item.given,
                    f"it is {item.kind.label} {item.version}, older than the {older_than}",
                    "To install an older file all the same, add --allow-older. The newest file is still used; to "
                    "go back to an older one, name it in [formats] signature_file (or container_signature_file) "
                    "in strongroom.toml.",
                )
        item.final = signatures_dir(home).resolve() / _final_name(item)
        if item.final.exists():
            raise _refuse(item.given, f"{item.final} exists and is not the same version",
                          "Move that file out of the signatures folder and try again.")  # fmt: skip
        outcomes.append(
            InstalledSignature(
                item.kind, item.version, item.date, item.given, item.final, InstallOutcome.INSTALLED, older_than
            )
        )
        named = item.temp.with_name(item.final.name)  # still in the staging folder
        os.replace(item.temp, named)
        item.temp = named
        to_install.append(item)

    warnings = _check_staged(settings, installed, to_install)
    with _home_problem(signatures_dir(home)):
        for item in to_install:
            os.replace(item.temp, item.final)
        if to_install:
            fsync_dir(signatures_dir(home))
    from strongroom.config import load_settings

    in_use = in_use_for(load_settings(home, environ))
    done = tuple(
        InstalledSignature(
            o.kind,
            o.version,
            o.date,
            o.given,
            o.path,
            o.outcome,
            o.older_than,
            in_use.droid_files_used and in_use.of(o.kind).path == o.path,
        )
        for o in outcomes
    )
    for o in done:
        if o.outcome is InstallOutcome.INSTALLED and not o.in_use and in_use.droid_files_used:
            current = in_use.of(o.kind)
            warnings.append(f"{o.kind.label} {o.version} is installed but not in use: the {current.source.value} "
                            f"{current.label} is ({current.path}).")  # fmt: skip
        if o.outcome is InstallOutcome.INSTALLED and o.older_than and not o.in_use:
            warnings.append(_going_back_hint(home, o))
    return InstallReport(done, tuple(warnings), in_use)


def _going_back_hint(home: Path, item: InstalledSignature) -> str:
    """The newest file of each kind is used; an older one only where a setting names it."""
    from strongroom.config import CONFIG_NAME

    setting = "signature_file" if item.kind is SignatureKind.DROID else "container_signature_file"
    relative = item.path.relative_to(home.resolve()) if item.path.is_relative_to(home.resolve()) else item.path
    return (f"To go back to {item.kind.label} {item.version}, set it in {home / CONFIG_NAME}: under [formats], "
            f'{setting} = "{relative}" (remove that line to use the newest file again).')  # fmt: skip


def _after(settings: Settings, installed: list[SignatureInfo], new: list[_Staged], kind: SignatureKind) -> Path:
    """The file of `kind` in use once `new` is installed: the setting, else the newest installed or bundled one
    (a tie goes to the bundled file), as load_settings will choose."""
    configured = _configured(settings, kind)
    current = settings.droid_signature_file if kind is SignatureKind.DROID else settings.container_signature_file
    if configured and current is not None:
        return current
    bundled = _bundled_paths()[kind]
    shipped = read_info(bundled, Source.BUNDLED)
    candidates = [(shipped.version if shipped and shipped.version is not None else 0, 1, bundled)]
    candidates += [(i.version or 0, 0, i.path) for i in installed if i.kind is kind]
    candidates += [(s.version, 0, s.temp) for s in new if s.kind is kind]
    return max(candidates, key=lambda c: (c[0], c[1]))[2]


def _configured(settings: Settings, kind: SignatureKind) -> bool:
    if kind is SignatureKind.DROID:
        return settings.signature_file_configured
    return settings.container_signature_file_configured


def _check_staged(settings: Settings, installed: list[SignatureInfo], new: list[_Staged]) -> list[str]:
    """Compile each new file with the partner it will be used with; warn about the pair that will be used."""
    droid_after = _after(settings, installed, new, SignatureKind.DROID)
    container_after = _after(settings, installed, new, SignatureKind.CONTAINER)
    warnings: list[str] = []
    compiled_with: set[Path] = set()  # container files already compiled with a new DROID file
    for item in sorted(new, key=lambda s: s.kind is SignatureKind.CONTAINER):  # DROID files first
        if item.kind is SignatureKind.DROID:
            pair = (item.temp, container_after)
            compiled_with.add(container_after)
        elif item.temp in compiled_with:
            continue
        else:
            pair = (droid_after, item.temp)
        compiled = _compile(*pair, item)
        dropped = compiled.binary.signatures.invalid if item.kind is SignatureKind.DROID else []
        if dropped:
            warnings.append(f"{len(dropped)} signature(s) in {item.given.name} do not compile and are left out, as "
                            f"DROID leaves them out: {dropped[0]}" + (" ..." if len(dropped) > 1 else ""))  # fmt: skip
        lacking = _lacking(compiled) if pair == (droid_after, container_after) else []
        if lacking:
            shown = ", ".join(lacking[:8]) + (f" and {len(lacking) - 8} more" if len(lacking) > 8 else "")
            warnings.append(
                f"The container signature file in use maps {len(lacking)} PUID(s) that the DROID signature file in "
                f"use does not define ({shown}): files of those formats get a PUID with no name. Install the DROID "
                "signature file published with the container file."
            )
    for kind, setting in (
        (SignatureKind.DROID, "signature_file"),
        (SignatureKind.CONTAINER, "container_signature_file"),
    ):
        if _configured(settings, kind) and any(s.kind is kind for s in new):
            warnings.append(f"[formats] {setting} (or STRONGROOM_{setting.upper()}) chooses "
                            f"{_after(settings, installed, [], kind)}: it stays in use until that setting is "
                            "removed.")  # fmt: skip
    if settings.identifier_engine != "droid":
        warnings.append(f"This home identifies with the {settings.identifier_engine} engine ([formats] engine): "
                        'DROID signature files are used only with engine = "droid".')  # fmt: skip
    return warnings


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
