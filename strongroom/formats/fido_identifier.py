"""Format identification with FIDO's PRONOM signatures, in process.

FIDO reports matches through a callback and writes its own problems to stderr;
this wrapper collects both into one typed Identification per file, so nothing
is parsed from FIDO's command-line output.
"""

from __future__ import annotations

import contextlib
import io
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from fido import CONFIG_DIR
from fido import __version__ as fido_version
from fido.fido import Fido
from fido.versions import get_local_versions

from strongroom.errors import ConfigError
from strongroom.formats.base import extension_of
from strongroom.model import Basis, FormatMatch, Identification

# FIDO's match types, as it passes them to its callback.
_BASIS_BY_MATCHTYPE = {
    "signature": Basis.SIGNATURE,
    "container": Basis.CONTAINER,
    "extension": Basis.EXTENSION,
}


@dataclass(frozen=True)
class SignatureFiles:
    """Which signature files an identifier loads, and how they are named in PREMIS."""

    pronom: Path
    container: Path
    extensions: Path | None

    @property
    def version(self) -> str:
        parts = [self.pronom.name, self.container.name]
        if self.extensions is not None:
            parts.append(self.extensions.name)
        return ", ".join(parts)

    @classmethod
    def bundled(cls, pronom_override: Path | None = None) -> SignatureFiles:
        """FIDO's own signature files, optionally with a newer PRONOM file from the user."""
        conf = Path(CONFIG_DIR)
        versions = get_local_versions(str(conf))
        pronom = conf / versions.pronom_signature
        if pronom_override is not None:
            if not pronom_override.is_file():
                raise ConfigError(
                    f"The PRONOM signature file {pronom_override} does not exist.",
                    details=["Give the path of a FIDO-format signature file (formats-vNNN.xml)."],
                )
            pronom = pronom_override
        return cls(
            pronom=pronom,
            container=conf / versions.pronom_container_signature,
            extensions=conf / versions.fido_extension_signature,
        )


class FidoIdentifier:
    """Identifier backed by FIDO's matcher; one instance per process (it is not thread-safe)."""

    tool = "FIDO"
    tool_version = fido_version

    def __init__(self, signatures: SignatureFiles | None = None) -> None:
        self.signatures = signatures or SignatureFiles.bundled()
        self.signature_version = self.signatures.version
        format_files = [str(self.signatures.pronom)]
        if self.signatures.extensions is not None:
            format_files.append(str(self.signatures.extensions))
        self._last: tuple[list[tuple[ET.Element, str]], str] | None = None
        try:
            self._fido = Fido(
                quiet=True,
                handle_matches=self._collect,
                conf_dir=str(self.signatures.container.parent),
                format_files=format_files,
            )
        except SystemExit as exc:  # FIDO exits on an unparsable signature file
            raise ConfigError(
                f"FIDO could not load its signature files ({self.signature_version}).",
                details=["Check that the signature file is a FIDO formats XML file."],
            ) from exc
        # FIDO reads the container file name from a module default, not its argument.
        self._fido.containersignature_file = self.signatures.container.name

    def _collect(
        self, fullname: str, matches: list[tuple[ET.Element, str]], delta_t: float, matchtype: str = ""
    ) -> None:
        self._last = (list(matches), matchtype)

    def identify(self, path: Path, name: str | None = None) -> Identification:
        deposited_name = name or path.name
        warnings: list[str] = []
        self._last = None
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            try:
                self._fido.identify_file(os.fsdecode(path))
            except (ValueError, KeyError, IndexError, OSError, EOFError, AttributeError) as exc:
                # FIDO's container readers (zipfile, olefile) fail on malformed containers;
                # the file is then identified as far as the failure allows.
                warnings.append(f"identification stopped early: {type(exc).__name__}: {exc}")
        for line in stderr.getvalue().splitlines():
            line = line.strip()
            if line.startswith("FIDO: Zero byte file"):
                warnings.append("zero-byte file")
            elif line:
                warnings.append(line.removeprefix("FIDO: "))
        matches: list[tuple[ET.Element, str]] = []
        basis = Basis.NONE
        if self._last is not None:
            matches, matchtype = self._last
            if matches:
                basis = _BASIS_BY_MATCHTYPE.get(matchtype, Basis.SIGNATURE)
        format_matches = tuple(_to_match(element, signature) for element, signature in matches)
        if not format_matches:
            warnings.append("format not identified")
        elif basis in (Basis.SIGNATURE, Basis.CONTAINER):
            mismatch = _extension_mismatch(deposited_name, matches[0][0])
            if mismatch:
                warnings.append(mismatch)
        # FIDO matched the extension of the stored name; say so if it differs from the deposited one.
        if basis is Basis.EXTENSION and extension_of(deposited_name) != extension_of(path.name):
            warnings.append("extension taken from the stored name, not the deposited one")
        return Identification(
            basis=basis,
            matches=format_matches,
            tool=self.tool,
            tool_version=self.tool_version,
            signature_version=self.signature_version,
            warnings=tuple(warnings),
        )


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _to_match(element: ET.Element, signature: str) -> FormatMatch:
    return FormatMatch(
        puid=_text(element, "puid") or "",
        name=_text(element, "name") or "",
        version=_text(element, "version"),
        mime=_text(element, "mime"),
        signature=signature,
    )


def _extension_mismatch(name: str, element: ET.Element) -> str | None:
    expected = [e.text.strip().lower() for e in element.findall("extension") if e.text and e.text.strip()]
    if not expected:
        return None
    found = extension_of(name)
    if found in expected:
        return None
    shown = f".{found}" if found else "no extension"
    return (
        f"extension mismatch: {shown} but the content is {_text(element, 'name')} "
        f"({_text(element, 'puid')}), usually .{', .'.join(expected)}"
    )
