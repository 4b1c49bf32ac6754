"""DroidIdentifier on a small hand-written DROID signature file and on the bundled V122 one.

The hand-written file exercises DROID's result rules: a format's signatures are
any-of, priorities remove beaten formats, extension-only matches when nothing
matched, EOF sequences, empty and truncated files. When DROID 6.5.2 is
installed (scripts/tools.sh), the same files also go through DROID itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.formats.droid import DroidIdentifier, DroidSettings
from strongroom.formats.droid import cache as cache_module
from strongroom.formats.droid.cache import code_digest, default_cache_dir
from strongroom.formats.droid.identifier import BUNDLED_CONTAINER, BUNDLED_SIGNATURES, compile_droid
from strongroom.formats.droid.signatures import SignatureFileError
from strongroom.model import Basis

SIGNATURES = """<?xml version="1.0" encoding="UTF-8"?>
<FFSignatureFile DateCreated="2026-01-01T00:00:00" Version="7"
    xmlns="http://www.nationalarchives.gov.uk/pronom/SignatureFile">
  <InternalSignatureCollection>
    <InternalSignature ID="1" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'AAA1'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="2" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'AAA2'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="3" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'AAA'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="4" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'TAIL'</Sequence></SubSequence>
      </ByteSequence>
      <ByteSequence Reference="EOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'END!'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="5" Specificity="Specific">
      <ByteSequence>
        <SubSequence Position="1" SubSeqMinOffset="0"><Sequence>'MARKER'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="6" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>01{2-3}</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
    <InternalSignature ID="7" Specificity="Specific">
      <ByteSequence Reference="BOFoffset">
        <SubSequence Position="1" SubSeqMinOffset="0" SubSeqMaxOffset="0"><Sequence>'TAIL'</Sequence></SubSequence>
      </ByteSequence>
    </InternalSignature>
  </InternalSignatureCollection>
  <FileFormatCollection>
    <FileFormat ID="10" Name="Either" PUID="test/1" Version="1">
      <InternalSignatureID>1</InternalSignatureID>
      <InternalSignatureID>2</InternalSignatureID>
      <Extension>one</Extension>
      <HasPriorityOverFileFormatID>11</HasPriorityOverFileFormatID>
    </FileFormat>
    <FileFormat ID="11" Name="Generic" PUID="test/2">
      <InternalSignatureID>3</InternalSignatureID>
      <Extension>gen</Extension>
      <HasPriorityOverFileFormatID>13</HasPriorityOverFileFormatID>
    </FileFormat>
    <FileFormat ID="12" Name="Tail" PUID="test/3" MIMEType="application/x-tail">
      <InternalSignatureID>4</InternalSignatureID>
      <Extension>tl</Extension>
    </FileFormat>
    <FileFormat ID="13" Name="Marked" PUID="test/4">
      <InternalSignatureID>5</InternalSignatureID>
    </FileFormat>
    <FileFormat ID="14" Name="Broken" PUID="test/5">
      <InternalSignatureID>6</InternalSignatureID>
      <Extension>brk</Extension>
    </FileFormat>
    <FileFormat ID="15" Name="Head only" PUID="test/6">
      <InternalSignatureID>7</InternalSignatureID>
      <Extension>tl</Extension>
    </FileFormat>
    <FileFormat ID="16" Name="Named only" PUID="test/7">
      <Extension>one</Extension>
      <Extension>txt</Extension>
    </FileFormat>
  </FileFormatCollection>
</FFSignatureFile>
"""


@pytest.fixture(scope="module")
def sigfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sigs") / "DROID_SignatureFile_V7.xml"
    path.write_text(SIGNATURES, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ident(sigfile: Path, tmp_path_factory: pytest.TempPathFactory) -> DroidIdentifier:
    return DroidIdentifier(sigfile, no_containers=True, cache_dir=tmp_path_factory.mktemp("cache"))


# name, content, expected PUIDs, expected basis
CASES: list[tuple[str, bytes, list[str], Basis]] = [
    ("first.one", b"AAA1 rest", ["test/1"], Basis.SIGNATURE),  # test/2 also matches; test/1 beats it
    ("second.one", b"AAA2 rest", ["test/1"], Basis.SIGNATURE),  # the other signature of the same format
    ("generic.gen", b"AAA9", ["test/2"], Basis.SIGNATURE),
    ("chain.bin", b"AAA1 MARKER", ["test/1"], Basis.SIGNATURE),  # 1 beats 2, 2 beats 4: both go (DROID)
    ("generic-marked.bin", b"AAA9 MARKER", ["test/2"], Basis.SIGNATURE),
    ("marker.bin", b"xx" * 3000 + b"MARKER" + b"yy", ["test/4"], Basis.SIGNATURE),
    # No priority between them; DROID tries BOF-only signatures before BOF+EOF ones.
    ("tail.tl", b"TAIL middle END!", ["test/6", "test/3"], Basis.SIGNATURE),
    ("cut.tl", b"TAIL middle EN", ["test/6"], Basis.SIGNATURE),  # truncated: EOF sequence lost
    ("nothing.one", b"zzzz", ["test/7"], Basis.EXTENSION),  # only formats without signatures
    ("nothing.gen", b"zzzz", [], Basis.NONE),  # test/2 has a signature: not tentative
    ("NOTHING.TXT", b"zzzz", ["test/7"], Basis.EXTENSION),  # case-insensitive
    ("empty.one", b"", ["test/7"], Basis.EXTENSION),  # DROID runs no signature on an empty file
    ("broken.brk", b"\x01\x01\x01", [], Basis.NONE),  # signature 6 does not compile: dropped
    (".one", b"zzzz", [], Basis.NONE),  # a dotfile has no extension for DROID
]


@pytest.mark.parametrize(("name", "content", "expected", "basis"), CASES, ids=[c[0] for c in CASES])
def test_droid_result_rules(
    ident: DroidIdentifier, tmp_path: Path, name: str, content: bytes, expected: list[str], basis: Basis
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = ident.identify(path)
    assert [m.puid for m in result.matches] == expected
    assert result.basis is basis
    if not content:
        assert "zero-byte file" in result.warnings
    if basis is Basis.EXTENSION:
        assert all(m.signature == "Extension" for m in result.matches)


def test_invalid_signature_is_reported_not_used(ident: DroidIdentifier) -> None:
    assert any(reason.startswith("signature 6 (test/5) dropped") for reason in ident.signatures.invalid)
    assert 6 not in [s.id for s in ident.signatures.signatures]


def test_extension_settings(sigfile: Path, tmp_path: Path) -> None:
    path = tmp_path / "nothing.gen"
    path.write_bytes(b"zzzz")
    every = DroidIdentifier(sigfile, no_containers=True, cache_dir=tmp_path, settings=DroidSettings(extensions="all"))
    assert [m.puid for m in every.identify(path).matches] == ["test/2"]
    none = DroidIdentifier(sigfile, no_containers=True, cache_dir=tmp_path, settings=DroidSettings(extensions="none"))
    assert none.identify(tmp_path.joinpath("nothing.gen")).matches == ()


def test_extension_mismatch_warning(ident: DroidIdentifier, tmp_path: Path) -> None:
    good = tmp_path / "right.one"
    bad = tmp_path / "wrong.gen"
    for path in (good, bad):
        path.write_bytes(b"AAA1")
    assert not any("extension mismatch" in w for w in ident.identify(good).warnings)
    assert any("extension mismatch" in w for w in ident.identify(bad).warnings)


def test_deposited_name_decides_the_extension(ident: DroidIdentifier, tmp_path: Path) -> None:
    staged = tmp_path / "staged-object"
    staged.write_bytes(b"zzzz")
    assert [m.puid for m in ident.identify(staged, name="letter.txt").matches] == ["test/7"]


def test_not_a_signature_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.xml"
    bogus.write_text("<html/>")
    with pytest.raises(SignatureFileError) as raised:
        DroidIdentifier(bogus, no_containers=True, use_cache=False)
    assert raised.value.details


# --- the bundled V122 file ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> DroidIdentifier:
    return DroidIdentifier(cache_dir=tmp_path_factory.mktemp("v122"), settings=DroidSettings(extensions="none"))


REAL: list[tuple[str, bytes, str]] = [
    ("a.gif", b"GIF89a" + b"\x00" * 40 + b";", "fmt/4"),
    ("a.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 30 + b"\x00\x00\x00\x00IEND\xaeB`\x82", "fmt/11"),
    ("a.pdf", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "fmt/18"),
]


@pytest.mark.parametrize(("name", "content", "puid"), REAL, ids=[r[0] for r in REAL])
def test_bundled_signatures_identify_real_headers(
    bundled: DroidIdentifier, tmp_path: Path, name: str, content: bytes, puid: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert puid in [m.puid for m in bundled.identify(path).matches]


def test_bundled_files_are_v122_and_2026(bundled: DroidIdentifier) -> None:
    assert bundled.signatures.version == "122"
    assert "V122" in bundled.signature_version
    assert BUNDLED_SIGNATURES.is_file() and BUNDLED_CONTAINER.is_file()
    assert (BUNDLED_SIGNATURES.parent / "NOTICE").read_text().count("Open Government Licence") >= 1


def test_container_formats_lose_their_internal_signatures_as_in_droid_profile_mode(
    bundled: DroidIdentifier, tmp_path: Path
) -> None:
    # DROID's profile mode drops the binary signatures of every PUID a container signature maps to.
    signatures = bundled.signatures
    odt = signatures.by_puid["fmt/290"]
    assert signatures.formats[odt].signature_ids  # V122 has internal signatures for ODT ...
    assert all(odt not in bound for bound in signatures.signature_formats)  # ... which are not used
    plain = DroidIdentifier(no_containers=True, cache_dir=tmp_path, settings=DroidSettings(extensions="none"))
    assert any(odt in bound for bound in plain.signatures.signature_formats)  # -Nr keeps them
    # DROID looks the tentative lists up by the extension as written ("odt"), keys being upper case:
    # nothing is removed there, so a container-only format like fmt/412 stays an extension match.
    docx = signatures.by_puid["fmt/412"]
    assert not signatures.formats[docx].signature_ids
    assert docx in signatures.tentative_extensions["DOCX"]
    # an ODF header alone is no longer ODT: without a ZIP around it nothing matches
    fake = tmp_path / "fake.odt"
    fake.write_bytes(b"PK\x03\x04" + bytes(26) + b"mimetypeapplication/vnd.oasis.opendocument.text")
    assert "fmt/290" not in [m.puid for m in bundled.identify(fake).matches]
    assert "fmt/290" in plain.binary_hits(fake)


# --- the cache ---------------------------------------------------------------------------------------

_LOAD = """
import sys, time
from pathlib import Path
start = time.perf_counter()
from strongroom.formats.droid import DroidIdentifier
DroidIdentifier(cache_dir=Path(sys.argv[1]))
print(time.perf_counter() - start)
"""


def _load_seconds(cache: Path) -> float:
    out = subprocess.run([sys.executable, "-c", _LOAD, str(cache)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.serial
def test_second_load_comes_from_the_cache_fast(tmp_path: Path) -> None:
    cold = _load_seconds(tmp_path)
    cached = min(_load_seconds(tmp_path) for _ in range(3))
    assert list(tmp_path.glob("droid-*.pickle"))
    # The load-time goal (well under 0.2 s) is measured by benchmarks/identify.py, not asserted in a timed test;
    # this proves the second load skips parsing and compiling, whatever the machine's load.
    assert cached < cold / 3, f"cached load took {cached:.3f} s, cold {cold:.3f} s"


def test_changed_signature_file_invalidates_the_cache(sigfile: Path, tmp_path: Path) -> None:
    copy = tmp_path / "sigs.xml"
    shutil.copy(sigfile, copy)
    cache = tmp_path / "cache"
    first = DroidIdentifier(copy, no_containers=True, cache_dir=cache)
    assert first.signatures.version == "7"
    copy.write_text(SIGNATURES.replace('Version="7"', 'Version="8"'), encoding="utf-8")
    second = DroidIdentifier(copy, no_containers=True, cache_dir=cache)
    assert second.signatures.version == "8"
    assert len(list(cache.glob("droid-*.pickle"))) == 2


def test_corrupt_cache_is_ignored_and_rebuilt(sigfile: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    DroidIdentifier(sigfile, no_containers=True, cache_dir=cache)
    (stored,) = cache.glob("droid-*.pickle")
    stored.write_bytes(stored.read_bytes()[:100])  # truncated
    again = DroidIdentifier(sigfile, no_containers=True, cache_dir=cache)
    assert again.signatures.version == "7"
    assert stored.stat().st_size > 100  # rewritten whole
    stored.write_bytes(b"not a pickle at all")
    assert DroidIdentifier(sigfile, no_containers=True, cache_dir=cache).signatures.version == "7"


def test_cache_left_by_an_older_engine_is_rebuilt_not_a_crash(sigfile: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    key = cache_module.key_for([sigfile, None])
    stale = compile_droid(sigfile, None)
    # a shape an earlier matcher.py might have pickled: conditions naming signatures that do not exist
    stale.binary.owner = [10**6 for _ in stale.binary.owner]
    stored = cache_module.store(cache, key, stale)
    assert stored is not None
    before = stored.read_bytes()
    ident = DroidIdentifier(sigfile, no_containers=True, cache_dir=cache)
    (tmp_path / "a.one").write_bytes(b"AAA1 rest")
    assert [m.puid for m in ident.identify(tmp_path / "a.one").matches] == ["test/1"]
    assert stored.read_bytes() != before  # rewritten with the working form
    assert cache_module.load(cache, key) is not None


def test_cache_is_keyed_on_the_engine_code(sigfile: Path, tmp_path: Path) -> None:
    package = Path(cache_module.__file__).parent
    assert cache_module.key_for([sigfile]) == cache_module.key_for([sigfile])
    assert cache_module.key_for([sigfile]).code == code_digest(package)
    changed = tmp_path / "pkg"
    shutil.copytree(package, changed, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_digest(changed) == code_digest(package)
    matcher = changed / "matcher.py"
    matcher.write_text(matcher.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert code_digest(changed) != code_digest(package)
    assert cache_module.key_for([sigfile], code_digest(changed)).filename != cache_module.key_for([sigfile]).filename


def test_cache_written_by_someone_else_is_not_trusted(sigfile: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    DroidIdentifier(sigfile, no_containers=True, cache_dir=cache)
    (stored,) = cache.glob("droid-*.pickle")
    stored.chmod(0o666)  # writable by anyone: never unpickled
    before = stored.stat().st_mtime_ns
    time.sleep(0.01)
    DroidIdentifier(sigfile, no_containers=True, cache_dir=cache)
    (rewritten,) = cache.glob("droid-*.pickle")
    assert rewritten.stat().st_mtime_ns != before and not rewritten.stat().st_mode & 0o022


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "strongroom" / "droid"


# --- DROID itself, when installed ------------------------------------------------------------------


def _droid_lib() -> Path | None:
    base = Path(os.environ.get("STRONGROOM_TOOLS_DIR", Path.home() / ".local/share/strongroom/tools"))
    lib = base / "droid" / "lib"
    return lib if shutil.which("java") and any(lib.glob("droid-command-line-*.jar")) else None


@pytest.mark.slow
def test_hand_made_files_agree_with_droid(sigfile: Path, tmp_path: Path) -> None:
    lib = _droid_lib()
    if lib is None:
        pytest.skip("DROID 6.5.2 is not installed (scripts/tools.sh)")
    folder = tmp_path / "files"
    folder.mkdir()
    for name, content, _expected, _basis in CASES:
        (folder / name).write_bytes(content)
    command = [
        "java",
        f"-Duser.home={tmp_path}",
        "-cp",
        f"{lib}/*",
        "uk.gov.nationalarchives.droid.command.DroidCommandLine",
    ]
    out = subprocess.run(
        [*command, "-Nr", str(folder), "-Ns", str(sigfile), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # DROID may leave a derby.log in its working directory
    ).stdout
    droid: dict[str, list[str]] = {}
    for line in out.splitlines():
        path, _, puid = line.rpartition(",")
        if path:
            droid.setdefault(Path(path).name, []).extend([] if puid == "Unknown" else [puid])
    ours = DroidIdentifier(sigfile, no_containers=True, cache_dir=tmp_path, settings=DroidSettings(extensions="none"))
    mine = {name: [m.puid for m in ours.identify(folder / name).matches] for name, *_ in CASES}
    assert mine == droid


def test_old_caches_are_pruned_and_the_one_in_use_kept(tmp_path: Path) -> None:
    import os

    from strongroom.formats.droid import cache

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for n in range(6):
        old = folder / f"droid-old{n}.pickle"
        old.write_bytes(b"x")
        os.utime(old, (1_000_000 + n, 1_000_000 + n))
    key = cache.key_for([], code="test")
    stored = cache.store(folder, key, {"compiled": True})
    assert stored is not None and cache.load(folder, key) == {"compiled": True}
    left = sorted(p.name for p in folder.glob("droid-*.pickle"))
    assert len(left) == cache.KEEP_CACHES and stored.name in left
    assert {"droid-old5.pickle", "droid-old4.pickle", "droid-old3.pickle"} <= set(left)  # the newest old ones stay


def test_the_time_limit_on_a_mapped_file_is_a_warning_not_an_error(tmp_path: Path) -> None:
    # Files over 16 MB are memory-mapped; a limit reached mid-scan must not turn into BufferError on closing.
    big = tmp_path / "big.pdf"
    with big.open("wb") as out:
        out.write(b"%PDF-1.4\n")
        for _ in range(40):
            out.write(os.urandom(1024 * 1024))
        out.write(b"\n%%EOF\n")
    for seconds in (0.0005, 0.001, 0.002):
        found = DroidIdentifier(settings=DroidSettings(seconds=seconds), cache_dir=tmp_path / "cache").identify(big)
        assert any("time limit reached" in w for w in found.warnings), (seconds, found.warnings)
