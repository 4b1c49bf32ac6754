"""Format identification: engines behind the Identifier protocol, chosen by name.

"fast" (the default) gives exactly FIDO's answers from an indexed matcher;
"fido" runs FIDO itself, kept as the reference and as a fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from strongroom.errors import ConfigError
from strongroom.formats.base import Identifier

if TYPE_CHECKING:  # imported on use: FIDO's import pulls in `requests`, which every command would pay for
    from strongroom.formats.fido_identifier import SignatureFiles


def _fast(signatures: SignatureFiles) -> Identifier:
    from strongroom.formats.engine import FastIdentifier

    return FastIdentifier(signatures)


def _fido(signatures: SignatureFiles) -> Identifier:
    from strongroom.formats.fido_identifier import FidoIdentifier

    return FidoIdentifier(signatures)


def _fast_info() -> tuple[str, str]:
    from strongroom.formats.engine import FastIdentifier

    return FastIdentifier.tool, FastIdentifier.tool_version


def _fido_info() -> tuple[str, str]:
    from strongroom.formats.fido_identifier import FidoIdentifier

    return FidoIdentifier.tool, FidoIdentifier.tool_version


_ENGINES: Mapping[str, tuple[Callable[[SignatureFiles], Identifier], Callable[[], tuple[str, str]]]] = MappingProxyType(
    {"fast": (_fast, _fast_info), "fido": (_fido, _fido_info)}
)


def engines() -> tuple[str, ...]:
    return tuple(sorted(_ENGINES))


def _entry(engine: str) -> tuple[Callable[[SignatureFiles], Identifier], Callable[[], tuple[str, str]]]:
    try:
        return _ENGINES[engine]
    except KeyError:
        raise ConfigError(
            f"Unknown identification engine {engine!r}.", details=[f"Known engines: {', '.join(engines())}"]
        ) from None


def make_identifier(engine: str = "fast", signature_file: Path | None = None) -> Identifier:
    """An identifier; `signature_file` replaces FIDO's bundled PRONOM signatures (formats-vNNN.xml)."""
    from strongroom.formats.fido_identifier import SignatureFiles

    factory, _info = _entry(engine)
    return factory(SignatureFiles.bundled(signature_file))


def describe_identifier(engine: str = "fast", signature_file: Path | None = None) -> tuple[str, str, str]:
    """(tool, tool version, signature version) for PREMIS agents, without loading the signatures."""
    from strongroom.formats.fido_identifier import SignatureFiles

    _factory, info = _entry(engine)
    tool, version = info()
    return tool, version, SignatureFiles.bundled(signature_file).version
