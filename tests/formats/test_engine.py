"""The fast engine gives exactly FIDO's answers: same PUIDs, same order, same basis."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fido import CONFIG_DIR
from fido.fido import Fido

from strongroom.formats.engine import FastIdentifier, Limits
from strongroom.formats.fido_identifier import SignatureFiles
from strongroom.model import Basis
from tests.conftest import CORPUS
from tests.formats.fixtures import make_fixtures

Answer = tuple[tuple[tuple[str, str], ...], str]


class FidoReference:
    """fido.fido.Fido.identify_file itself, its answers captured from its callback."""

    def __init__(self, signatures: SignatureFiles) -> None:
        self.last: Answer | None = None
        files = [str(signatures.pronom)] + ([str(signatures.extensions)] if signatures.extensions else [])
        self.fido = Fido(quiet=True, handle_matches=self._collect, conf_dir=CONFIG_DIR, format_files=files)

    def _collect(self, name: str, matches: list[tuple[ET.Element, str]], delta: float, matchtype: str = "") -> None:
        self.last = (tuple((m[0].findtext("puid") or "", m[1]) for m in matches), matchtype if matches else "none")

    def answer(self, path: Path) -> Answer:
        self.last = None
        self.fido.identify_file(str(path))
        assert self.last is not None
        return self.last


def fast_answer(engine: FastIdentifier, path: Path) -> Answer:
    ident = engine.identify(path)
    return tuple((m.puid, m.signature) for m in ident.matches), ident.basis.value


def compare(paths: list[Path], signatures: SignatureFiles | None = None) -> list[str]:
    signatures = signatures or SignatureFiles.bundled()
    fast = FastIdentifier(signatures)
    reference = FidoReference(signatures)
    differences = []
    for path in paths:
        ours, theirs = fast_answer(fast, path), reference.answer(path)
        if ours != theirs:
            differences.append(f"{path}: strongroom {ours} != fido {theirs}")
    return differences


def corpus_files() -> Iterator[Path]:
    for dirpath, _dirs, names in os.walk(CORPUS):
        for name in sorted(names):
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared sample transfers not present at {CORPUS}")
def test_every_corpus_file_matches_fido() -> None:
    paths = sorted(corpus_files())
    assert len(paths) > 300
    assert compare(paths) == []


@pytest.mark.slow
def test_generated_fixtures_match_fido(tmp_path: Path) -> None:
    paths = make_fixtures(tmp_path)
    assert compare(paths) == []
    fast = FastIdentifier()
    answers = {p.name: fast.identify(p) for p in paths}
    assert answers["image.png"].puid == "fmt/11" and answers["image.png"].basis is Basis.SIGNATURE
    assert answers["word.docx"].basis is Basis.CONTAINER and answers["word.docx"].puid == "fmt/412"
    assert answers["text.odt"].puid == "fmt/290"  # ODF by its stored mimetype entry
    assert answers["plain.txt"].basis is Basis.EXTENSION and answers["plain.txt"].puid == "x-fmt/111"
    assert answers["random.qqq"].basis is Basis.NONE and "format not identified" in answers["random.qqq"].warnings
    assert "zero-byte file" in answers["empty.txt"].warnings
    assert any("extension mismatch" in w for w in answers["image-named.jpg"].warnings)
    assert any("extension mismatch" in w for w in answers["word-named.zip"].warnings)


@pytest.mark.slow
def test_a_newer_signature_file_is_used(tmp_path: Path) -> None:
    bundled = SignatureFiles.bundled()
    tree = ET.parse(bundled.pronom)
    root = tree.getroot()
    extra = ET.SubElement(root, "format")
    for tag, text in (("puid", "test-fmt/1"), ("name", "Strongroom test format"), ("version", "9"),
                      ("mime", "application/x-strongroom-test"), ("extension", "srt9")):  # fmt: skip
        ET.SubElement(extra, tag).text = text
    signature = ET.SubElement(extra, "signature")
    ET.SubElement(signature, "name").text = "Strongroom test signature"
    pattern = ET.SubElement(signature, "pattern")
    ET.SubElement(pattern, "position").text = "BOF"
    ET.SubElement(pattern, "regex").text = r"(?s)\ASTRONGROOM-TEST.{2}MAGIC"
    newer = tmp_path / "formats-v999.xml"
    tree.write(newer, encoding="utf-8", xml_declaration=True)
    sample = tmp_path / "sample.bin"
    sample.write_bytes(b"STRONGROOM-TEST\x00\x01MAGIC and more")
    signatures = SignatureFiles.bundled(newer)
    assert "formats-v999.xml" in signatures.version
    fast = FastIdentifier(signatures)
    ident = fast.identify(sample)
    assert (ident.puid, ident.format_version, ident.basis) == ("test-fmt/1", "9", Basis.SIGNATURE)
    assert "formats-v999.xml" in ident.signature_version
    assert compare([sample, *make_fixtures(tmp_path / "fixtures")], signatures) == []


def test_time_limit_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(256 * 1024))
    ident = FastIdentifier(limits=Limits(seconds=1e-6)).identify(path)
    assert ident.basis is Basis.NONE
    assert any("time limit reached" in w for w in ident.warnings)


def test_container_byte_limit_is_recorded(tmp_path: Path) -> None:
    docx = next(p for p in make_fixtures(tmp_path) if p.name == "word.docx")
    ident = FastIdentifier(limits=Limits(container_bytes=100)).identify(docx)
    assert ident.basis is Basis.SIGNATURE  # the container was not read: FIDO's plain signature answer
    assert any("over the 100-byte limit" in w for w in ident.warnings)


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [1, 4096, 128 * 1024 - 1, 128 * 1024, 1024 * 1024])
def test_buffers_kept_while_copying_give_the_same_answers(tmp_path: Path, chunk: int) -> None:
    from strongroom.formats.engine import TailKeeper, read_buffers

    fast = FastIdentifier()
    for path in make_fixtures(tmp_path):
        kept = TailKeeper()
        with path.open("rb") as handle:
            while data := handle.read(chunk if path.stat().st_size < 400_000 or chunk > 1000 else 65536):
                kept.feed(data)
        assert kept.buffers() == read_buffers(path), path.name
        assert fast.identify(path, buffers=kept.buffers()) == fast.identify(path), path.name
