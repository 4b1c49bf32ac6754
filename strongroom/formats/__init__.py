"""Format identification: engines behind the Identifier protocol, chosen by name.

"droid" (the default) gives DROID 6.5.2's answers from DROID signature files (the
current PRONOM release ships with Strongroom); "fido-fast" gives exactly FIDO's
answers from an indexed matcher; "fido" runs FIDO itself. The FIDO engines are
kept for comparison: FIDO's signatures are PRONOM v109 from 2020.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from strongroom.errors import ConfigError
from strongroom.formats.base import DEFAULT_ENGINE, Identifier, IdentifierSpec

__all__ = ["DEFAULT_ENGINE", "IdentifierDescription", "IdentifierSpec", "describe_identifier", "engines",
           "make_identifier"]  # fmt: skip


@dataclass(frozen=True)
class IdentifierDescription:
    """Who identified, for PREMIS agents and --json output; known without loading any signatures."""

    tool: str
    tool_version: str
    signature_version: str


def _check_droid_files(spec: IdentifierSpec) -> None:
    """A signature file named by a setting (or --signatures) that is gone or unreadable: say which setting."""
    for path, setting, what in (
        (spec.signature_file, "signature_file", "DROID signature file"),
        (spec.container_file, "container_signature_file", "container signature file"),
    ):
        if path is None:
            continue
        try:
            if not path.is_file():
                raise FileNotFoundError(2, "it does not exist, or is not a file")
            with path.open("rb"):
                pass
        except OSError as exc:
            raise ConfigError(
                f"The {what} {path} cannot be used: {exc.strerror or exc}.",
                details=[
                    f"Fix or remove [formats] {setting} in the archive home's strongroom.toml (or "
                    f"STRONGROOM_{setting.upper()}); without it the newest installed or bundled file is used.",
                    "For `strongroom identify`, check the file given with --signatures or --container-signatures.",
                ],
            ) from None


def _droid(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.droid.identifier import DroidIdentifier

    _check_droid_files(spec)
    return DroidIdentifier(spec.signature_file, spec.container_file)


def _droid_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.droid.identifier import DroidIdentifier, describe_signatures

    _check_droid_files(spec)
    versions = describe_signatures(spec.signature_file, spec.container_file)
    return IdentifierDescription(DroidIdentifier.tool, DroidIdentifier.tool_version, versions)


def _check_fido_file(path: Path | None, engine: str) -> None:
    """FIDO reads any XML and quietly identifies nothing with a file not in its format (say a DROID signature file
    given to --engine fido-fast): refuse one whose root element is not FIDO's <formats>."""
    from strongroom.formats.signature_store import read_root

    if path is None or not path.is_file():
        return  # none given (FIDO's own), or missing: SignatureFiles.bundled says so
    try:
        root = read_root(path)
    except OSError as exc:
        raise ConfigError(f"The PRONOM signature file {path} cannot be read: {exc.strerror}.") from None
    if root is not None and root.name == "formats":
        return
    droid_kinds = {
        "FFSignatureFile": "a DROID signature file",
        "ContainerSignatureMapping": "a container signature file",
    }
    if root is not None and root.name in droid_kinds:
        what = f"{droid_kinds[root.name]} (<{root.name}>), which the droid engine reads"
    else:
        what = "not in FIDO's format" + (f" (its root element is <{root.name}>)" if root else " (not XML FIDO reads)")
    raise ConfigError(
        f"The signature file {path} cannot be used by the {engine} engine: it is {what}, where the FIDO engines "
        "read FIDO's formats-vNNN.xml (root element <formats>).",
        details=[
            "Use it with the droid engine (the default; with --container-signatures for a container file), or "
            "give the FIDO engines a formats-vNNN.xml ([formats] pronom_signature_file, or --signatures).",
        ],
    )


def _fido_fast(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.engine import FastIdentifier
    from strongroom.formats.fido_identifier import SignatureFiles  # imported on use: FIDO pulls in `requests`

    _check_fido_file(spec.fido_signature_file, "fido-fast")
    return FastIdentifier(SignatureFiles.bundled(spec.fido_signature_file))


def _fido(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.fido_identifier import FidoIdentifier, SignatureFiles

    _check_fido_file(spec.fido_signature_file, "fido")
    return FidoIdentifier(SignatureFiles.bundled(spec.fido_signature_file))


def _fido_fast_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.engine import FastIdentifier
    from strongroom.formats.fido_identifier import SignatureFiles

    _check_fido_file(spec.fido_signature_file, "fido-fast")
    version = SignatureFiles.bundled(spec.fido_signature_file).version
    return IdentifierDescription(FastIdentifier.tool, FastIdentifier.tool_version, version)


def _fido_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.fido_identifier import FidoIdentifier, SignatureFiles

    _check_fido_file(spec.fido_signature_file, "fido")
    version = SignatureFiles.bundled(spec.fido_signature_file).version
    return IdentifierDescription(FidoIdentifier.tool, FidoIdentifier.tool_version, version)


_Entry = tuple[Callable[[IdentifierSpec], Identifier], Callable[[IdentifierSpec], IdentifierDescription]]
_ENGINES: Mapping[str, _Entry] = MappingProxyType(
    {"droid": (_droid, _droid_info), "fido-fast": (_fido_fast, _fido_fast_info), "fido": (_fido, _fido_info)}
)
# Names earlier releases used, still accepted in configuration files.
_ALIASES: Mapping[str, str] = MappingProxyType({"fast": "fido-fast"})


def engines() -> tuple[str, ...]:
    return tuple(_ENGINES)


def canonical_engine(engine: str) -> str:
    """The engine's current name; unknown names are refused with the list of known ones."""
    name = _ALIASES.get(engine, engine)
    if name not in _ENGINES:
        raise ConfigError(
            f"Unknown identification engine {engine!r}.", details=[f"Known engines: {', '.join(engines())}"]
        )
    return name


def make_identifier(spec: IdentifierSpec | None = None) -> Identifier:
    """A loaded identifier for `spec` (default: the DROID engine on the bundled signatures)."""
    spec = spec or IdentifierSpec()
    factory, _info = _ENGINES[canonical_engine(spec.engine)]
    return factory(spec)


def describe_identifier(spec: IdentifierSpec | None = None) -> IdentifierDescription:
    spec = spec or IdentifierSpec()
    _factory, info = _ENGINES[canonical_engine(spec.engine)]
    return info(spec)
