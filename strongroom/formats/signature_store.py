"""The PRONOM signature files an archive home identifies with: installed, listed and chosen.

Which DROID signature file and which container signature file are used, for each kind the first found:
1. "configured": [formats] signature_file / container_signature_file in the home's strongroom.toml,
   or the STRONGROOM_SIGNATURE_FILE / STRONGROOM_CONTAINER_SIGNATURE_FILE variables;
2. else the highest version among the files in <home>/signatures (put there by `install`) and the files
   shipped with Strongroom in strongroom/data/pronom ("installed" or "bundled"; a tie goes to the bundled
   file), so a release that bundles a newer file than the one installed uses it.
An older file is installed only with allow_older, and is then used only where a setting names it.

A file from outside is untrusted until it has passed what the engine itself does with it: it must be
a regular file of sane size, XML with no DTD (so no entity can expand), with the root element of one of
the two kinds (and a version its first bytes agree on, so no edited header misleads a tool), defining at least 90% of
the formats and signatures the bundled file of its kind defines (an empty file would otherwise win for
good and identify nothing), and it must load and compile (the compiled form is cached, so the next ingest starts at
once). Only then is it renamed into place; one bad file in a batch installs none.

Only the standard library (and defusedxml) is imported here at first: load_settings reads the installed files'
root elements on every command, and the engine (Hyperscan) is imported only when a file is checked or an
installed file has to be compared with the bundled one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.errors import ConfigError, StrongroomError
from strongroom.formats.base import IdentifierSpec

if TYPE_CHECKING:
    from strongroom.config import Settings

SIGNATURES_DIR = "signatures"
# PRONOM's DROID signature file is 3.7 MB in 2026 (and has grown ~0.1 MB a year); the container file 0.3 MB.
MAX_FILE_BYTES = 64 * 1024 * 1024
# V122 has 53,748 elements. The cap bounds the memory the engine's parser needs for a file within the size limit
# (64 MB of "<a/>" would take some 1.4 GB as a tree).
MAX_ELEMENTS = 500_000
_HEAD_BYTES = 4096  # how much of a file must agree with its root element on kind and version
# A new file must define at least this share of the bundled file's formats and signatures: TNA's files grow.
MIN_COVERAGE = 0.9
_TEMP_PREFIX = ".install-"
_DOWNLOADS = "https://www.nationalarchives.gov.uk/aboutapps/pronom/droid-signature-files.htm"


class SignatureKind(StrEnum):
    DROID = "droid"  # DROID_SignatureFile_VNNN.xml, root <FFSignatureFile Version="NNN">
    CONTAINER = "container"  # container-signature-YYYYMMDD.xml, root <ContainerSignatureMapping signatureVersion="N">

    @property
    def label(self) -> str:
        return "DROID signature file" if self is SignatureKind.DROID else "container signature file"


class Source(StrEnum):
    CONFIGURED = "configured"
    INSTALLED = "installed"
    BUNDLED = "bundled"


class InstallOutcome(StrEnum):
    INSTALLED = "installed"
    ALREADY_INSTALLED = "already installed"  # the same file (same bytes) is in <home>/signatures
    BUNDLED = "bundled"  # the same file ships with Strongroom: nothing to install


class SignatureInstallError(StrongroomError):
    """A signature file was refused; nothing was installed."""


_ROOTS = {"FFSignatureFile": SignatureKind.DROID, "ContainerSignatureMapping": SignatureKind.CONTAINER}
_VERSION_ATTRIBUTE = {SignatureKind.DROID: "Version", SignatureKind.CONTAINER: "signatureVersion"}
# What a file of each kind is made of, counted to refuse a near-empty one: (collection, item) element names.
_ITEMS = {
    SignatureKind.DROID: (("FileFormatCollection", "FileFormat", "formats"),
                          ("InternalSignatureCollection", "InternalSignature", "internal signatures")),
    SignatureKind.CONTAINER: (("ContainerSignatures", "ContainerSignature", "container signatures"),),
}  # fmt: skip
# Kind and version as a reader of the first bytes would find them: an installed file must give the same answers
# read that way as parsed.
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(FFSignatureFile|ContainerSignatureMapping)\b")
_VERSION = {
    SignatureKind.DROID: re.compile(rb"<FFSignatureFile\b[^>]*?\bVersion=\"(\d+)\""),
    SignatureKind.CONTAINER: re.compile(rb"<ContainerSignatureMapping\b[^>]*?\bsignatureVersion=\"(\d+)\""),
}
_ISO_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)")
_NAME_DATE = re.compile(r"(20\d\d)(\d\d)(\d\d)")  # TNA names container files container-signature-YYYYMMDD.xml


@dataclass(frozen=True)
class SignatureInfo:
    """One signature file: what it is, where it is and where it came from."""

    kind: SignatureKind
    path: Path
    version: int | None  # None: the file could not be read (see `problem`)
    date: str | None  # YYYY-MM-DD: a DROID file's DateCreated; a container file's date from its name
    source: Source
    problem: str | None = None  # why this file cannot be used (only for a configured one: missing, wrong kind)

    @property
    def label(self) -> str:
        """E.g. "DROID signature file V122", "container signature file 40", as PREMIS names them."""
        if self.version is None:
            return f"{self.kind.label} {self.path.name}"
        return f"{self.kind.label} {'V' if self.kind is SignatureKind.DROID else ''}{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "version": self.version, "date": self.date, "source": self.source.value,
                "path": str(self.path), "label": self.label, "problem": self.problem}  # fmt: skip


@dataclass(frozen=True)
class SignaturesInUse:
    """The DROID engine's files (used only when it is the engine), and the engine that identifies."""

    droid: SignatureInfo
    container: SignatureInfo
    engine: str = "droid"  # [formats] engine: "droid", "fido-fast" or "fido"
    fido_signatures: str | None = None  # for a FIDO engine: the FIDO signature files it reads
    fido_problem: str | None = None  # for a FIDO engine: why its files cannot be used

    @property
    def droid_files_used(self) -> bool:
        """False for the FIDO engines, which read FIDO's own signature files and not these."""
        return self.engine == "droid"

    def of(self, kind: SignatureKind) -> SignatureInfo:
        return self.droid if kind is SignatureKind.DROID else self.container

    def to_json(self) -> dict[str, Any]:
        return {"engine": self.engine, "droid_files_used": self.droid_files_used,
                "fido_signatures": self.fido_signatures, "fido_problem": self.fido_problem,
                "droid": self.droid.to_json(), "container": self.container.to_json()}  # fmt: skip


@dataclass(frozen=True)
class SignatureListing:
    folder: Path  # <home>/signatures
    in_use: SignaturesInUse
    available: tuple[SignatureInfo, ...]  # installed, then bundled; each kind newest first

    def is_in_use(self, info: SignatureInfo) -> bool:
        return self.in_use.droid_files_used and info.path == self.in_use.of(info.kind).path

    def to_json(self) -> dict[str, Any]:
        available = [info.to_json() | {"in_use": self.is_in_use(info)} for info in self.available]
        return {"folder": str(self.folder), "in_use": self.in_use.to_json(), "available": available}


@dataclass(frozen=True)
class InstalledSignature:
    kind: SignatureKind
    version: int
    date: str | None
    given: Path  # the file named on the command line
    path: Path  # where it now is (for BUNDLED: the bundled file)
    outcome: InstallOutcome
    older_than: str | None = None  # installed with allow_older: the newer file it is older than
    in_use: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "version": self.version, "date": self.date, "given": str(self.given),
                "path": str(self.path), "outcome": self.outcome.value, "older_than": self.older_than,
                "in_use": self.in_use}  # fmt: skip


@dataclass(frozen=True)
class InstallReport:
    files: tuple[InstalledSignature, ...]
    warnings: tuple[str, ...]
    in_use: SignaturesInUse

    def to_json(self) -> dict[str, Any]:
        return {"files": [f.to_json() for f in self.files], "warnings": list(self.warnings),
                "in_use": self.in_use.to_json()}  # fmt: skip


# --- reading what is there ----------------------------------------------------------------------------


def signatures_dir(home: Path) -> Path:
    return home / SIGNATURES_DIR


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_HEAD_BYTES)


@dataclass(frozen=True)
class RootElement:
    name: str  # the local name: "FFSignatureFile", "ContainerSignatureMapping", FIDO's "formats", ...
    attributes: Mapping[str, str]


def read_root(path: Path) -> RootElement | None:
    """The file's root element (comments and processing instructions before it are skipped), read as a stream
    that stops there; None when the file is not XML up to its root, or has a DTD. OSError when unreadable."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    with path.open("rb") as handle:
        try:
            for _event, element in iterparse(handle, events=("start",), forbid_dtd=True):
                return RootElement(element.tag.rsplit("}", 1)[-1], dict(element.attrib))
        except (ParseError, DefusedXmlException):
            return None
    return None


def _version(kind: SignatureKind, attributes: Mapping[str, str]) -> int | None:
    value = attributes.get(_VERSION_ATTRIBUTE[kind], "").strip()
    return int(value) if value.isdigit() else None


def _date(kind: SignatureKind, attributes: Mapping[str, str], name: str) -> str | None:
    found = _ISO_DATE.match(attributes.get("DateCreated", "").strip()) if kind is SignatureKind.DROID else None
    if found:
        return "-".join(found.groups())
    by_name = _NAME_DATE.search(name)
    return "-".join(by_name.groups()) if by_name else None


def read_info(path: Path, source: Source) -> SignatureInfo | None:
    """What the file at `path` is, from its root element; None when it is neither kind. OSError when unreadable."""
    root = read_root(path)
    kind = _ROOTS.get(root.name) if root is not None else None
    if root is None or kind is None:
        return None
    return SignatureInfo(kind, path, _version(kind, root.attributes), _date(kind, root.attributes, path.name), source)


def installed_signatures(home: Path) -> list[SignatureInfo]:
    """Every DROID and container signature file in <home>/signatures, each kind newest first.

    Other files there (a FIDO formats-vNNN.xml a setting names, notes) are left alone; a file that cannot be
    read is an error, as ingest would otherwise quietly identify with older signatures.
    """
    folder = signatures_dir(home)
    if not folder.is_dir():
        return []
    found: list[SignatureInfo] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() != ".xml" or not path.is_file():
            continue
        try:
            info = read_info(path.resolve(), Source.INSTALLED)
        except OSError as exc:
            raise ConfigError(
                f"Cannot read the installed signature file {path}: {exc.strerror}.",
                details=["Make it readable, or remove it from the signatures folder."],
            ) from exc
        if info is not None and info.version is not None:
            found.append(info)
    return sorted(found, key=lambda i: (list(SignatureKind).index(i.kind), -(i.version or 0), i.path.name))


def newest_installed(home: Path, kind: SignatureKind) -> Path | None:
    """The installed file of `kind` with the highest version (None: none installed)."""
    return next((info.path for info in installed_signatures(home) if info.kind is kind), None)


def newer_than_bundled(home: Path) -> dict[SignatureKind, Path]:
    """For each kind, the newest installed file when its version is higher than the bundled file's (a tie goes to
    the bundled file); load_settings uses these, and the bundled files for the kinds left out."""
    newest: dict[SignatureKind, SignatureInfo] = {}
    for info in installed_signatures(home):  # each kind newest first
        newest.setdefault(info.kind, info)
    if not newest:
        return {}  # the usual case: nothing installed, and the engine's module is not imported
    bundled = _bundled_paths()
    chosen: dict[SignatureKind, Path] = {}
    for kind, info in newest.items():
        shipped = read_info(bundled[kind], Source.BUNDLED)
        if shipped is None or shipped.version is None or (info.version or 0) > shipped.version:
            chosen[kind] = info.path
    return chosen


def _bundled_paths() -> dict[SignatureKind, Path]:
    from strongroom.formats.droid.identifier import BUNDLED_CONTAINER, BUNDLED_SIGNATURES

    return {SignatureKind.DROID: BUNDLED_SIGNATURES, SignatureKind.CONTAINER: BUNDLED_CONTAINER}


def bundled_signatures() -> list[SignatureInfo]:
    found = [read_info(path, Source.BUNDLED) for path in _bundled_paths().values()]
    return [info for info in found if info is not None]


def _configured_info(kind: SignatureKind, path: Path) -> SignatureInfo:
    try:
        info = read_info(path, Source.CONFIGURED)
    except OSError as exc:
        return SignatureInfo(kind, path, None, None, Source.CONFIGURED, f"cannot be read: {exc.strerror}")
    if info is None or info.kind is not kind:
        return SignatureInfo(kind, path, None, None, Source.CONFIGURED, f"is not a {kind.label}")
    return info


def in_use_for(settings: Settings) -> SignaturesInUse:
    """The signature files `settings` identify with, and where each came from: the DROID engine's, and for a
    FIDO engine the FIDO files it reads instead."""
    bundled = _bundled_paths()
    chosen: dict[SignatureKind, SignatureInfo] = {}
    for kind, path, configured in (
        (SignatureKind.DROID, settings.droid_signature_file, settings.signature_file_configured),
        (SignatureKind.CONTAINER, settings.container_signature_file, settings.container_signature_file_configured),
    ):
        if path is not None and configured:
            chosen[kind] = _configured_info(kind, path)
            continue
        source = Source.INSTALLED if path is not None else Source.BUNDLED
        info = read_info(path or bundled[kind], source)
        if info is None:  # a file load_settings chose by its first bytes changed since: say so, do not guess
            info = SignatureInfo(kind, path or bundled[kind], None, None, source, f"is no longer a {kind.label}")
        chosen[kind] = info
    engine = settings.identifier_engine
    fido_signatures = fido_problem = None
    if engine != "droid":
        from strongroom.formats import describe_identifier

        try:
            fido_signatures = describe_identifier(settings.identifier_spec).signature_version
        except StrongroomError as exc:
            fido_problem = exc.message
    return SignaturesInUse(
        chosen[SignatureKind.DROID], chosen[SignatureKind.CONTAINER], engine, fido_signatures, fido_problem
    )


def signatures_in_use(home: Path, environ: Mapping[str, str] | None = None) -> SignaturesInUse:
    """The signature files ingest, update and migrate at `home` use; ConfigError when it is not an archive."""
    from strongroom.config import load_settings

    return in_use_for(load_settings(home, environ))


def in_use_at(home: Path | None, environ: Mapping[str, str] | None = None) -> SignaturesInUse:
    """The signature files in use at `home` when it is an archive home, else the bundled ones."""
    from strongroom.config import CONFIG_NAME

    if home is not None and (home / CONFIG_NAME).is_file():
        return signatures_in_use(home, environ)
    bundled = {info.kind: info for info in bundled_signatures()}
    return SignaturesInUse(bundled[SignatureKind.DROID], bundled[SignatureKind.CONTAINER])


def list_signatures(home: Path, environ: Mapping[str, str] | None = None) -> SignatureListing:
    """The signature files in use at `home`, with every installed and bundled one."""
    from strongroom.config import load_settings

    settings = load_settings(home, environ)
    return SignatureListing(
        signatures_dir(home), in_use_for(settings), (*installed_signatures(home), *bundled_signatures())
    )


def spec_for_identify(
    home: Path | None,
    engine: str,
    signatures: Path | None = None,
    container_signatures: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> IdentifierSpec:
    """What `strongroom identify` identifies with: the files given, else (when `home` is an archive home) that
    home's signatures in use, else the bundled ones. `identify` needs no home, so a folder that holds no
    strongroom.toml is simply not used; a home whose strongroom.toml is broken is an error, as it would be for
    ingest there."""
    from strongroom.formats import canonical_engine
    from strongroom.home import CONFIG_NAME

    engine = canonical_engine(engine)
    signatures = signatures.expanduser().absolute() if signatures is not None else None
    if container_signatures is not None:
        container_signatures = container_signatures.expanduser().absolute()
    settings = None
    if home is not None and (home / CONFIG_NAME).is_file():
        from strongroom.config import load_settings  # imported only for an archive home: it is not light

        settings = load_settings(home, environ)
    if engine == "droid":
        return IdentifierSpec(
            engine,
            signatures or (settings.droid_signature_file if settings else None),
            container_signatures or (settings.container_signature_file if settings else None),
        )
    if container_signatures is not None:
        raise ConfigError(
            f"--container-signatures is for the droid engine, not {engine}.",
            details=["Leave it out, or use --engine droid."],
        )
    return IdentifierSpec(
        engine, fido_signature_file=signatures or (settings.pronom_signature_file if settings else None)
    )
