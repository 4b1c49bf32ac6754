"""The fido-fast engine turns FIDO's sys.exit on a bad signature file into a ConfigError a user can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.formats.engine import FastIdentifier
from strongroom.formats.fido_identifier import SignatureFiles
from strongroom.model import Basis


@pytest.mark.parametrize("content", ["<formats><format><puid>x-fmt/1</puid>", "not xml at all"])
def test_an_unparsable_signature_file_is_a_config_error_not_an_exit(tmp_path: Path, content: str) -> None:
    broken = tmp_path / "formats-v999.xml"
    broken.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:  # SystemExit (FIDO's own reaction) would fail this test
        FastIdentifier(SignatureFiles.bundled(broken))
    assert str(broken) in raised.value.message and "fido-fast" in raised.value.message
    assert any("formats-vNNN.xml" in d for d in raised.value.details)
    assert isinstance(raised.value.__cause__, SystemExit)


def test_a_well_formed_file_without_formats_identifies_nothing(tmp_path: Path) -> None:
    droid_file = tmp_path / "DROID_SignatureFile_V122.xml"  # FIDO parses it and finds no <format>
    droid_file.write_text("<FFSignatureFile Version='122'><InternalSignatureCollection/></FFSignatureFile>")
    target = tmp_path / "a.pdf"
    target.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert FastIdentifier(SignatureFiles.bundled(droid_file)).identify(target).basis is Basis.NONE


def test_a_missing_signature_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        FastIdentifier(SignatureFiles.bundled(tmp_path / "absent.xml"))
