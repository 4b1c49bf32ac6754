"""DroidIdentifier: DROID 6.5.2's answers from DROID signature files, behind the Identifier protocol.

The steps are DROID's own (command line, `-Ns SIG -Nc CONTAINER`):
1. internal signatures (matcher.py), one hit per PUID, in DROID's order;
   With container signatures, as in DROID's profile mode, the formats a container
   signature maps to lose their internal signatures first (drop_overridden);
2. if a hit is a container trigger (TriggerPuids: OLE2, ZIP), the container
   check (container.py); when it gives PUIDs they replace the binary hits;
3. DROID's priority rule (HasPriorityOverFileFormatID) on what is left;
4. nothing at all: extension-only matches, reported with basis EXTENSION.
   DROID's profile default ("tentative"): only formats that have no internal
   signature; "all": every format with the extension; "none": as the
   no-profile command line prints it, Unknown.
Settings mirror DROID's: `max_bytes_to_scan` None is DROID's -1 (whole file,
the command line's default); a number bounds the searches as DROID does (its
GUI/profile default is 65536), so each setting agrees with DROID run the same way.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from strongroom import __version__ as strongroom_version
from strongroom.formats.base import TimeLimitExceeded, per_file_deadline
from strongroom.formats.droid import cache as cache_module
from strongroom.formats.droid.container import ContainerSignatureError, ContainerSignatures
from strongroom.formats.droid.matcher import (
    BinaryMatcher,
    extension_matches,
    extension_mismatch,
    remove_lower_priority,
)
from strongroom.formats.droid.signatures import SignatureFile, SignatureFileError, drop_overridden, load_signature_file
from strongroom.model import Basis, FormatMatch, Identification

_PACKAGE_DATA = Path(__file__).resolve().parent.parent.parent / "data" / "pronom"
BUNDLED_SIGNATURES = _PACKAGE_DATA / "DROID_SignatureFile_V122.xml"
BUNDLED_CONTAINER = _PACKAGE_DATA / "container-signature-20260119.xml"
_READ_WHOLE = 16 * 1024 * 1024  # smaller files are read into memory; larger ones are mapped


@dataclass(frozen=True)
class DroidSettings:
    max_bytes_to_scan: int | None = None  # DROID's -1: scan whole files (its command line's default)
    extensions: Literal["tentative", "all", "none"] = "tentative"
    seconds: float = 30.0  # wall time for one file; 0 disables (enforced in a process's main thread)


@dataclass
class CompiledDroid:
    """What the cache holds: everything needed to identify, nothing tied to a process."""

    binary: BinaryMatcher
    containers: ContainerSignatures | None
    # The root elements' attributes (versions, dates) of the signature file and the container file (None
    # without one): PREMIS names them, and keeping them here spares each process an XML parser.
    signature_root: dict[str, str] = field(default_factory=dict)
    container_root: dict[str, str] | None = None


_SIGNATURE_ROOT = "FFSignatureFile"
_CONTAINER_ROOT = "ContainerSignatureMapping"


def _root_attributes(path: Path, name: str) -> dict[str, str]:
    """The attributes of the file's root element (read as far as the root only); none when it is not `name`."""
    from strongroom.formats.signature_store import read_root

    root = read_root(path)
    return dict(root.attributes) if root is not None and root.name == name else {}


def describe_signatures(signature_file: Path | None, container_file: Path | None, containers: bool = True) -> str:
    """The signature versions PREMIS events name, from the files' root elements (read as far as the root only),
    e.g. "DROID signature file V122 (2026-01-19); container signature file 40 (container-signature-20260119.xml)"."""
    signature_file = signature_file or BUNDLED_SIGNATURES
    container_file = (container_file or BUNDLED_CONTAINER) if containers else None
    found = _root_attributes(container_file, _CONTAINER_ROOT) if container_file is not None else None
    return _describe(signature_file, _root_attributes(signature_file, _SIGNATURE_ROOT), container_file, found)


def _describe(
    signature_file: Path, attributes: dict[str, str], container_file: Path | None, found: dict[str, str] | None
) -> str:
    """describe_signatures' text from root attributes already read; the files are named as they are now."""
    created = attributes.get("DateCreated", "")[:10]
    text = f"DROID signature file V{attributes.get('Version') or '?'} ({created or signature_file.name})"
    if container_file is not None:
        version = (found or {}).get("signatureVersion") or "?"
        text += f"; container signature file {version} ({container_file.name})"
    return text


def compile_droid(signature_file: Path, container_file: Path | None) -> CompiledDroid:
    signatures = load_signature_file(signature_file)
    containers = ContainerSignatures.load(container_file) if container_file is not None else None
    if containers is not None:
        # DROID's profile mode: container signatures override the binary ones of the PUIDs they map to.
        signatures = drop_overridden(signatures, containers.mapped_puids)
    return CompiledDroid(
        BinaryMatcher.build(signatures),
        containers,
        _root_attributes(signature_file, _SIGNATURE_ROOT),
        _root_attributes(container_file, _CONTAINER_ROOT) if container_file is not None else None,
    )


def load_compiled(
    signature_file: Path, container_file: Path | None, cache_dir: Path | None = None, use_cache: bool = True
) -> CompiledDroid:
    """Compiled signatures from the cache when the files are unchanged, else compiled (and cached)."""
    if not use_cache:
        return compile_droid(signature_file, container_file)
    directory = cache_dir or cache_module.default_cache_dir()
    key = cache_module.key_for([signature_file, container_file])
    cached = cache_module.load(directory, key)
    if isinstance(cached, CompiledDroid) and _usable(cached):
        return cached
    compiled = compile_droid(signature_file, container_file)
    cache_module.store(directory, key, compiled)
    return compiled


_PROBES = (b"PK\x03\x04" + bytes(60), b"%PDF-1.4\n%%EOF\n", bytes(range(256)))


def _usable(compiled: CompiledDroid) -> bool:
    """A loaded cache must work: one from a different shape of these classes fails here, not mid-ingest."""
    try:
        compiled.binary.check()
        for probe in _PROBES:
            compiled.binary.match(probe)
        if compiled.containers is not None:
            compiled.containers.triggers("x-fmt/263")
        if not isinstance(compiled.signature_root, dict) or not isinstance(compiled.container_root, dict | None):
            return False
    except Exception:  # whatever a stale object raises, the answer is "rebuild"
        return False
    return True


def _check_exists(signature_file: Path, container_file: Path | None) -> None:
    if not signature_file.is_file():
        raise SignatureFileError(
            f"The DROID signature file {signature_file} does not exist.",
            details=["Give the path of a DROID signature file (DROID_SignatureFile_VNNN.xml)."],
        )
    if container_file is not None and not container_file.is_file():
        raise ContainerSignatureError(
            f"The container signature file {container_file} does not exist.",
            details=["Give the path of a DROID container signature file (container-signature-YYYYMMDD.xml)."],
        )


@contextmanager
def _content(path: Path, data: bytes | None = None) -> Iterator[Any]:
    """The whole content: read in one call when small enough, else mapped (DROID's default looks at all of it)."""
    if data is not None:
        yield data
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        size = os.fstat(fd).st_size
        if size <= _READ_WHOLE:
            yield _read_all(fd, size)
            return
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        try:
            yield mapped
        finally:
            # A time limit raised mid-scan leaves views of the map in its traceback's frames, and closing a map
            # with views raises BufferError, which would replace the time-limit error; it is then freed with
            # the last view instead.
            with contextlib.suppress(BufferError):
                mapped.close()
    finally:
        os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    """Everything in the file (which may have grown or shrunk since fstat): one read for the usual case."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    parts = [data]
    while chunk := os.read(fd, 1 << 20):
        parts.append(chunk)
    return b"".join(parts)


class DroidIdentifier:
    """DROID's answers. One instance per process; not thread-safe (the time limit uses SIGALRM)."""

    tool = "Strongroom DROID engine"
    tool_version = f"{strongroom_version} (DROID 6.5.2 rules)"

    def __init__(
        self,
        signature_file: Path | None = None,
        container_file: Path | None = None,
        settings: DroidSettings | None = None,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        no_containers: bool = False,
    ) -> None:
        self.signature_file = signature_file or BUNDLED_SIGNATURES
        self.container_file = None if no_containers else (container_file or BUNDLED_CONTAINER)
        self.settings = settings or DroidSettings()
        _check_exists(self.signature_file, self.container_file)
        self.compiled = load_compiled(self.signature_file, self.container_file, cache_dir, use_cache)
        # The versions from the cache (keyed by the files' content, so they are these files'), the names as the
        # files are called now: the same content under another file name must be named as it is now.
        compiled = self.compiled
        self.signature_version = _describe(
            self.signature_file, compiled.signature_root, self.container_file, compiled.container_root
        )

    @property
    def signatures(self) -> SignatureFile:
        return self.compiled.binary.signatures

    def binary_hits(self, path: Path) -> list[str]:
        """PUIDs of the internal signatures that match, in DROID's order (no containers, no priorities)."""
        with _content(path) as data:
            hits = self.compiled.binary.match(data, self.settings.max_bytes_to_scan)
        return [self.signatures.formats[i].puid for i in hits]

    def identify(self, path: Path, name: str | None = None, data: bytes | None = None) -> Identification:
        """`data`, when given, is the whole content of `path` already in memory (ingest has just copied it);
        the file is then opened only if a container signature needs to look inside it."""
        deposited = name or path.name
        warnings: list[str] = []
        try:
            with per_file_deadline(self.settings.seconds):
                basis, hits = self._identify(path, deposited, warnings, data)
        except TimeLimitExceeded:
            basis, hits = Basis.NONE, []
            warnings.append(f"time limit reached: identification stopped after {self.settings.seconds:g} s")
        except OSError as exc:
            basis, hits = Basis.NONE, []
            warnings.append(f"file could not be read: {exc}")
        formats = self.signatures.formats
        method = {Basis.SIGNATURE: "Signature", Basis.CONTAINER: "Container", Basis.EXTENSION: "Extension"}
        matches = tuple(
            FormatMatch(formats[i].puid, formats[i].name, formats[i].version, formats[i].mime, method.get(basis, ""))
            for i in hits
        )
        if not matches:
            basis = Basis.NONE
            warnings.append("format not identified")
        elif basis in (Basis.SIGNATURE, Basis.CONTAINER) and extension_mismatch(self.signatures, hits, deposited):
            warnings.append(f"extension mismatch: {deposited!r} is not named like {matches[0].puid}")
        return Identification(
            basis=basis,
            matches=matches,
            tool=self.tool,
            tool_version=self.tool_version,
            signature_version=self.signature_version,
            warnings=tuple(warnings),
        )

    def _identify(
        self, path: Path, deposited: str, warnings: list[str], known: bytes | None
    ) -> tuple[Basis, list[int]]:
        signatures = self.signatures
        with _content(path, known) as data:
            size = len(data)
            hits = self.compiled.binary.match(data, self.settings.max_bytes_to_scan)
        if size == 0:
            warnings.append("zero-byte file")
        basis = Basis.SIGNATURE
        containers = self.compiled.containers
        if hits and containers is not None:
            puids = containers.results_for(path, [signatures.formats[i].puid for i in hits], warnings)
            container_hits: list[int] = []
            for puid in dict.fromkeys(puids):  # DROID's result collection keeps one result per PUID
                index = signatures.by_puid.get(puid)
                if index is None:
                    warnings.append(f"container signature names {puid}, which the signature file lacks")
                    continue
                container_hits.append(index)
            if container_hits:
                hits, basis = container_hits, Basis.CONTAINER
        if hits:
            return basis, remove_lower_priority(signatures, hits)
        if self.settings.extensions == "none":
            return Basis.NONE, []
        return Basis.EXTENSION, extension_matches(signatures, deposited, self.settings.extensions == "all")
