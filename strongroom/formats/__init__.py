"""Format identification: engines behind the Identifier protocol, chosen by name.

"droid" (the default) gives DROID 6.5.2's answers from DROID signature files (the
current PRONOM release ships with Strongroom); "fido-fast" gives exactly FIDO's
answers from an indexed matcher; "fido" runs FIDO itself. The FIDO engines are
kept for comparison: FIDO's signatures are PRONOM v109 from 2020.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


def _droid(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.droid.identifier import DroidIdentifier

    return DroidIdentifier(spec.signature_file, spec.container_file)


def _droid_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.droid.identifier import DroidIdentifier, describe_signatures

    versions = describe_signatures(spec.signature_file, spec.container_file)
    return IdentifierDescription(DroidIdentifier.tool, DroidIdentifier.tool_version, versions)


def _fido_fast(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.engine import FastIdentifier
    from strongroom.formats.fido_identifier import SignatureFiles  # imported on use: FIDO pulls in `requests`

    return FastIdentifier(SignatureFiles.bundled(spec.fido_signature_file))


def _fido(spec: IdentifierSpec) -> Identifier:
    from strongroom.formats.fido_identifier import FidoIdentifier, SignatureFiles

    return FidoIdentifier(SignatureFiles.bundled(spec.fido_signature_file))


def _fido_fast_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.engine import FastIdentifier
    from strongroom.formats.fido_identifier import SignatureFiles

    version = SignatureFiles.bundled(spec.fido_signature_file).version
    return IdentifierDescription(FastIdentifier.tool, FastIdentifier.tool_version, version)


def _fido_info(spec: IdentifierSpec) -> IdentifierDescription:
    from strongroom.formats.fido_identifier import FidoIdentifier, SignatureFiles

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
