"""The Hyperscan prefilter of the DROID engine never drops a signature that DROID's algorithm matches.

The oracle here is the engine's own port of DROID's algorithm run on every signature (no prefilter):
windows at their very edges, files shorter and longer than each scanned band (reversed and forward
tail scans), matches that lie only in the middle of a file larger than the head and tail the
prefilter reads near each end, byte classes in anchors, and fragments near their reach.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from strongroom.formats.droid import DroidIdentifier
from strongroom.formats.droid.matcher import BinaryMatcher, hyperscan_regex
from strongroom.formats.droid.sequence import match_internal_signature
from strongroom.formats.droid.signatures import SignatureFile, load_signature_file
from tests.conftest import CORPUS


def _sig(number: int, *sequences: str) -> str:
    return f'<InternalSignature ID="{number}" Specificity="Specific">{"".join(sequences)}</InternalSignature>'


def _seq(reference: str, *subsequences: tuple[str, int, int, str]) -> str:
    subs = "".join(
        f'<SubSequence Position="{n}" SubSeqMinOffset="{low}" SubSeqMaxOffset="{high}">'
        f"<Sequence>{text}</Sequence>{fragments}</SubSequence>"
        for n, (text, low, high, fragments) in enumerate(subsequences, start=1)
    )
    return (
        f'<ByteSequence Reference="{reference}">{subs}</ByteSequence>'
        if reference
        else f"<ByteSequence>{subs}</ByteSequence>"
    )


SIGNATURES = [
    _sig(1, _seq("BOFoffset", ("'WIN'", 10, 20, ""))),  # near BOF band
    _sig(2, _seq("EOFoffset", ("'EWIN'", 5, 9000, ""))),  # far EOF band
    _sig(3, _seq("EOFoffset", ("'NEAR'", 0, 3, ""))),  # near EOF band
    _sig(
        4,
        _seq(
            "BOFoffset",
            ("'FRG'", 0, 50, '<RightFragment MaxOffset="6" MinOffset="2" Position="1">5859</RightFragment>'),
        ),
    ),
    _sig(5, _seq("BOFoffset", ("'HDR'", 0, 0, ""), ("'MIDDLE'", 0, 0, ""))),  # second part anywhere
    _sig(6, _seq("", ("'MARKER'", 0, 0, ""))),  # variable only
    _sig(7, _seq("BOFoffset", ("434C[41:43]??5A", 0, 100, ""))),  # byte classes in the anchor
    _sig(8, _seq("BOFoffset", ("'FAR'", 6000, 7000, "")), _seq("EOFoffset", ("'END'", 0, 0, ""))),  # far BOF
    _sig(
        9,
        _seq(
            "EOFoffset", ("'TL'", 0, 100, '<LeftFragment MaxOffset="40" MinOffset="0" Position="1">5151</LeftFragment>')
        ),
    ),
    _sig(10, _seq("BOFoffset", ("'HD2'", 0, 0, "")), _seq("", ("'VAR'", 0, 0, ""))),  # anchored and variable
]
SIGNATURE_FILE = (
    '<?xml version="1.0" encoding="UTF-8"?><FFSignatureFile DateCreated="2026-01-01T00:00:00" Version="3" '
    'xmlns="http://www.nationalarchives.gov.uk/pronom/SignatureFile"><InternalSignatureCollection>'
    + "".join(SIGNATURES)
    + "</InternalSignatureCollection><FileFormatCollection>"
    + "".join(
        f'<FileFormat ID="{n}" Name="F{n}" PUID="test/{n}"><InternalSignatureID>{n}</InternalSignatureID></FileFormat>'
        for n in range(1, len(SIGNATURES) + 1)
    )
    + "</FileFormatCollection></FFSignatureFile>"
)


def every_hit(signatures: SignatureFile, data: bytes) -> list[int]:
    """DROID's algorithm on every signature, no prefilter: format indices in hit order, one per PUID."""
    hits: list[int] = []
    seen: set[str] = set()
    if not data:
        return hits
    for position, signature in enumerate(signatures.signatures):
        if match_internal_signature(signature, data):
            for index in signatures.signature_formats[position]:
                if signatures.formats[index].puid not in seen:
                    seen.add(signatures.formats[index].puid)
                    hits.append(index)
    return hits


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> BinaryMatcher:
    path = tmp_path_factory.mktemp("prefilter") / "DROID_SignatureFile_V3.xml"
    path.write_text(SIGNATURE_FILE, encoding="utf-8")
    return BinaryMatcher.build(load_signature_file(path))


def _placed(size: int, pieces: list[tuple[int, bytes]]) -> bytes:
    """`size` filler bytes with each piece written at its offset (negative: from the end)."""
    data = bytearray(b"." * size)
    for offset, piece in pieces:
        start = offset if offset >= 0 else size + offset
        data[start : start + len(piece)] = piece
    return bytes(data)


def test_the_prefilter_builds_bands_for_both_ends(matcher: BinaryMatcher) -> None:
    ends = {(band.end, band.size) for band in matcher.bands}
    assert (0, 4096) in ends and (1, 4096) in ends  # near bands
    assert max(size for end, size in ends if end == 0) > 4096 and max(size for end, size in ends if end == 1) > 4096
    assert not matcher.windows  # every anchor went into Hyperscan


SIZES = [1, 3, 7, 30, 100, 4095, 4096, 4097, 7100, 9012, 9013, 9014, 20000, 300_000]


@pytest.mark.parametrize("size", SIZES)
def test_anchors_at_and_beyond_their_window_edges(matcher: BinaryMatcher, size: int) -> None:
    layouts = [
        [(10, b"WIN")], [(20, b"WIN")], [(9, b"WIN")], [(21, b"WIN")],  # BOF window [10, 20]
        [(-9, b"EWIN")], [(-9004, b"EWIN")], [(-9005, b"EWIN")], [(-8, b"EWIN")],  # EOF distance [9, 9004]
        [(-4, b"NEAR")], [(-7, b"NEAR")], [(-8, b"NEAR")],
        [(50, b"FRG"), (55, b"XY")], [(50, b"FRG"), (59, b"XY")], [(50, b"FRG"), (60, b"XY")], [(51, b"FRG")],
        [(0, b"HDR"), (size // 2, b"MIDDLE")], [(0, b"HDR")], [(size // 2, b"MARKER")],
        [(100, b"CLB\xffZ")], [(100, b"CLD\xffZ")], [(101, b"CLA\x00Z")],
        [(6000, b"FAR"), (-3, b"END")], [(7000, b"FAR"), (-3, b"END")], [(7001, b"FAR"), (-3, b"END")],
        [(-102, b"TL"), (-142, b"QQ")], [(-102, b"TL"), (-145, b"QQ")], [(-103, b"TL"), (-110, b"QQ")],
        [(0, b"HD2"), (size // 2, b"VAR")], [(0, b"HD2")],
    ]  # fmt: skip
    checked = 0
    for pieces in layouts:
        if any((o if o >= 0 else size + o) < 0 or (o if o >= 0 else size + o) + len(p) > size for o, p in pieces):
            continue
        data = _placed(size, pieces)
        assert matcher.match(data) == every_hit(matcher.signatures, data), pieces
        checked += 1
    assert checked or size < 30


def test_random_files_agree_with_every_signature_run(matcher: BinaryMatcher) -> None:
    rng = random.Random(12)
    pieces = [b"WIN", b"EWIN", b"NEAR", b"FRG", b"XY", b"HDR", b"MIDDLE", b"MARKER", b"CLBxZ", b"FAR", b"END",
              b"TL", b"QQ", b"HD2", b"VAR"]  # fmt: skip
    matched = 0
    for _ in range(400):
        size = rng.choice([rng.randrange(1, 200), rng.randrange(200, 12000), rng.randrange(12000, 40000)])
        data = bytearray(rng.choice(b".\x00Q") for _ in range(size))
        for _ in range(rng.randrange(0, 6)):
            piece = rng.choice(pieces)
            at = rng.choice([rng.randrange(0, 120), size - rng.randrange(0, 9100), rng.randrange(0, size)])
            if 0 <= at <= size - len(piece):
                data[at : at + len(piece)] = piece
        expected = every_hit(matcher.signatures, bytes(data))
        assert matcher.match(bytes(data)) == expected
        matched += bool(expected)
    assert matched > 50  # the layouts do exercise matches, not just misses


def test_hyperscan_expressions_match_what_the_python_patterns_match() -> None:
    import hyperscan

    rng = random.Random(5)
    for _ in range(40):
        classes = tuple(
            frozenset(rng.sample(range(256), rng.choice([1, 1, 2, 5, 40, 255, 256])))
            for _ in range(rng.randrange(1, 9))
        )
        expression = hyperscan_regex(classes)
        assert b"\x00" not in expression
        python = re.compile(b"".join(b"[" + b"".join(re.escape(bytes([v])) for v in sorted(c)) + b"]" for c in classes),
                            re.DOTALL)  # fmt: skip
        data = bytes(rng.choice(sorted(set().union(*classes))) for _ in range(3000))
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(expressions=[expression], ids=[0], elements=1, flags=[0])
        ends: set[int] = set()
        database.scan(data, match_event_handler=lambda i, s, end, f, c, ends=ends: ends.add(end))
        expected = {m + len(classes) for m in range(len(data) - len(classes) + 1) if python.match(data, m)}
        assert ends == expected


def test_a_match_only_in_the_middle_of_a_large_file_is_found(tmp_path: Path) -> None:
    ident = DroidIdentifier(no_containers=True)
    head, tail = ident.compiled.binary.head_bytes, ident.compiled.binary.tail_bytes
    # PNG: signature header, IEND at the end, an sRGB chunk (fmt/12's second SubSequence) only in the middle
    size = 4 * (head + tail)
    data = bytearray(size)
    data[:16] = bytes.fromhex("89504E470D0A1A0A0000000D49484452")
    data[-12:] = bytes.fromhex("0000000049454E44AE426082")
    without = tmp_path / "plain.png"
    without.write_bytes(bytes(data))
    data[size // 2 : size // 2 + 4] = b"sRGB"
    middle = tmp_path / "middle.png"
    middle.write_bytes(bytes(data))
    formats = ident.signatures.formats
    for path in (without, middle):
        content = path.read_bytes()
        assert ident.compiled.binary.match(content) == every_hit(ident.signatures, content)
    assert "fmt/12" in [formats[i].puid for i in ident.compiled.binary.match(middle.read_bytes())]
    assert "fmt/12" in [m.puid for m in ident.identify(middle).matches]
    assert "fmt/12" not in [m.puid for m in ident.identify(without).matches]


def test_bundled_signatures_prefilter_keeps_every_match_on_the_corpus() -> None:
    """V122 on a sample of the shared corpus: the engine's hits equal every signature run one by one."""
    if not CORPUS.is_dir():
        pytest.skip("the shared sample corpus is not here")
    ident = DroidIdentifier(no_containers=True)
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.is_symlink() and p.stat().st_size < 300_000)
    sample = files[:: max(1, len(files) // 40)]
    assert len(sample) >= 20
    for path in sample:
        data = path.read_bytes()
        assert ident.compiled.binary.match(data) == every_hit(ident.signatures, data), path
