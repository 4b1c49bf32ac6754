"""Strongroom's DROID-signature engine gives DROID 6.5.2's answers, file for file.

DROID runs once per session (profile mode, V122 + container-signature-20260119, archives not opened,
whole files scanned as `-Nr` does) over the shared sample corpus and the generated fixtures; the
engine must give the same PUIDs, the same method and the same extension-mismatch flag. The
parser and fixture tests run without DROID.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strongroom.formats.base import Identifier
from strongroom.model import Basis, Identification
from tests.conftest import CORPUS
from tests.formats.droid_fixtures import load_container_file, make_droid_fixtures, make_office_fixtures, render
from tests.formats.droid_oracle import (
    DroidAnswer,
    droid_lib,
    parse_no_profile,
    parse_profile_csv,
    run_droid,
    run_droid_no_profile,
    signature_files,
)

needs_droid = pytest.mark.skipif(droid_lib() is None, reason="DROID 6.5.2 is not installed: bash scripts/tools.sh")
METHODS = {"Signature": Basis.SIGNATURE, "Container": Basis.CONTAINER, "Extension": Basis.EXTENSION, None: Basis.NONE}


# --- without DROID -------------------------------------------------------------------------------------
COLUMNS = [
    *("ID", "PARENT_ID", "URI", "FILE_PATH", "NAME", "METHOD", "STATUS", "SIZE", "TYPE", "EXT", "LAST_MODIFIED"),
    *("EXTENSION_MISMATCH", "HASH", "FORMAT_COUNT", "PUID", "MIME_TYPE", "FORMAT_NAME", "FORMAT_VERSION"),
]


def _export_row(path: str, method: str, kind: str, mismatch: str, count: str, puid: str) -> str:
    """One row of DROID's -E export, as DROID 6.5.2 writes it (every field quoted)."""
    name = path.rsplit("/", 1)[-1]
    values = ["5", "2", f"file:{path}", path, name, method, "Done", "21", kind, name.rpartition(".")[2],
              "2026-11-24T08:38:41", mismatch, "", count, puid, "", "", ""]  # fmt: skip
    return ",".join(f'"{v}"' for v in values)


PROFILE_EXPORT = "\n".join(
    [
        ",".join(f'"{c}"' for c in COLUMNS),
        _export_row("/t", "", "Folder", "false", "", ""),
        _export_row("/t/a.pdf", "Signature", "File", "false", "1", "fmt/18"),
        _export_row("/t/c,1.doc", "Signature", "File", "true", "1", "fmt/18"),
        _export_row("/t/b.txt", "Extension", "File", "false", "1", "x-fmt/111"),
        _export_row("/t/x.docx", "Extension", "File", "false", "3", "fmt/494"),
        _export_row("/t/x.docx", "Extension", "File", "false", "3", "fmt/412"),
        _export_row("/t/x.docx", "Extension", "File", "false", "3", "fmt/1827"),
        _export_row("/t/g.gif", "", "File", "false", "0", ""),
    ]
)


def test_profile_export_is_read_per_file() -> None:
    answers = parse_profile_csv(PROFILE_EXPORT)
    assert answers == {
        Path("/t/a.pdf"): DroidAnswer(("fmt/18",), "Signature", False),
        Path("/t/c,1.doc"): DroidAnswer(("fmt/18",), "Signature", True),
        Path("/t/b.txt"): DroidAnswer(("x-fmt/111",), "Extension", False),
        Path("/t/x.docx"): DroidAnswer(("fmt/1827", "fmt/412", "fmt/494"), "Extension", False),
        Path("/t/g.gif"): DroidAnswer((), None, False),
    }


def test_no_profile_lines_are_read_per_file() -> None:
    text = (
        "2026-11-24T08:38:47,865  INFO [main] DroidCommandLine:140 - Starting DROID.\n"
        "/t/a,b.pdf,fmt/18\n/t/multi.bin,fmt/1925\n/t/multi.bin,fmt/1926\n/t/b.txt,Unknown\n"
    )
    assert parse_no_profile(text) == {
        Path("/t/a,b.pdf"): DroidAnswer(("fmt/18",), None),
        Path("/t/multi.bin"): DroidAnswer(("fmt/1925", "fmt/1926"), None),
        Path("/t/b.txt"): DroidAnswer((), None),
    }


def test_no_profile_rejects_lines_it_cannot_read() -> None:
    with pytest.raises(RuntimeError, match="unexpected DROID output line"):
        parse_no_profile("/t/a.pdf,something else\n")


def test_render_satisfies_pronom_syntax() -> None:
    filler = b"\x00"
    assert render("10 00 'Word.Document.' ['6'-'7'] 00", "min", filler) == b"\x10\x00Word.Document.6\x00"
    assert render("'office:version=' (22|27) '1.2' (22|27)", "max", filler) == b"office:version='1.2'"
    assert render("4D{2}5A[!00][30:39]", "min", b"\xaa") == b"M\xaa\xaaZ 0"
    assert render("41{2-4}42", "max", b"-") == b"A----B"
    assert render("[!&01][0000:1000]", "min", filler) == b"\x00\x00\x00"


def test_fixtures_are_varied_deterministic_and_quick(tmp_path: Path) -> None:
    start = time.perf_counter()
    first = make_droid_fixtures(tmp_path / "a")
    elapsed = time.perf_counter() - start
    second = make_droid_fixtures(tmp_path / "b")
    assert 300 <= len(first) <= 500
    assert elapsed < 10
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    groups = {p.parent.name for p in first}
    assert {"signatures", "eof-only", "truncated", "mismatch", "containers", "edge", "no-extension"} <= groups
    containers = {c.id for c in load_container_file(signature_files()[1]) if c.type == "ZIP"}
    made = {int(p.stem.split("-")[1]) for p in first if p.parent.name == "containers"}
    assert made <= containers and len(made) >= 40


# --- with DROID ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    root: Path
    files: list[Path]
    answers: dict[Path, DroidAnswer]


def _files(root: Path) -> list[Path]:
    return sorted(p.resolve() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="session")
def droid_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    if droid_lib() is None:
        pytest.skip("DROID 6.5.2 is not installed: bash scripts/tools.sh")
    root = tmp_path_factory.mktemp("droid-fixtures").resolve()
    make_droid_fixtures(root / "generated")
    make_office_fixtures(root / "office")
    yield Corpus(root, _files(root), run_droid(root))


@pytest.fixture(scope="session")
def droid_corpus() -> Corpus:
    if droid_lib() is None:
        pytest.skip("DROID 6.5.2 is not installed: bash scripts/tools.sh")
    if not CORPUS.is_dir():
        pytest.skip(f"the shared sample corpus is not at {CORPUS}")
    root = CORPUS.resolve()
    return Corpus(root, _files(root), run_droid(root))


@needs_droid
def test_oracle_reads_droid_itself(droid_fixtures: Corpus) -> None:
    by_name = {str(p.relative_to(droid_fixtures.root)): a for p, a in droid_fixtures.answers.items()}
    assert set(droid_fixtures.answers) == set(droid_fixtures.files)  # one answer per file, none invented
    if (droid_fixtures.root / "office").joinpath("text.docx").is_file():
        assert by_name["office/text.docx"] == DroidAnswer(("fmt/412",), "Container", False)
        assert by_name["office/sheet.xlsx"] == DroidAnswer(("fmt/214",), "Container", False)
        assert by_name["office/slides.pptx"] == DroidAnswer(("fmt/215",), "Container", False)
        assert by_name["office/text.doc"] == DroidAnswer(("fmt/40",), "Container", False)
    assert by_name["generated/edge/pdf-as.doc"] == DroidAnswer(("fmt/18",), "Signature", True)
    assert by_name["generated/edge/extension-only.txt"] == DroidAnswer(("x-fmt/111",), "Extension", False)
    assert by_name["generated/edge/unknown.zzq"] == DroidAnswer((), None, False)
    assert by_name["generated/edge/docx-as.zip"] == DroidAnswer(("fmt/412",), "Container", True)
    several = [a for a in droid_fixtures.answers.values() if len(a.puids) > 1]
    assert {a.method for a in several} >= {"Signature", "Extension"}


@needs_droid
def test_no_profile_mode_prints_puids_only(droid_fixtures: Corpus) -> None:
    edge = droid_fixtures.root / "generated" / "edge"
    answers = run_droid_no_profile(edge)
    assert set(answers) == set(_files(edge))
    assert answers[edge / "pdf-as.doc"] == DroidAnswer(("fmt/18",), None)
    assert answers[edge / "extension-only.txt"] == DroidAnswer((), None)  # no extension-only matches here
    assert answers[edge / "docx-minimal.docx"] == DroidAnswer(("fmt/412",), None)


def _describe(puids: tuple[str, ...], method: Basis, mismatch: bool) -> str:
    return f"[{', '.join(puids) or '-'}] {method.value}{' +mismatch' if mismatch else ''}"


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Identifier:
    try:
        from strongroom.formats.droid import DroidIdentifier
    except ImportError as exc:
        pytest.skip(f"strongroom.formats.droid.DroidIdentifier is not there yet: {exc}")
    # a private cache: the answers must not depend on what an earlier version left in the user's cache
    return DroidIdentifier(cache_dir=tmp_path_factory.mktemp("droid-cache"))


def _compare(corpus: Corpus, engine: Identifier) -> list[str]:
    differences = []
    for path in corpus.files:
        expected = corpus.answers.get(path)
        got: Identification = engine.identify(path)
        ours = (
            tuple(sorted(m.puid for m in got.matches)),
            got.basis,
            any("extension mismatch" in w for w in got.warnings),
        )
        theirs = (expected.puids, METHODS[expected.method], expected.extension_mismatch) if expected else None
        if ours != theirs:
            shown = _describe(*theirs) if theirs else "no answer from DROID"
            differences.append(f"{path.relative_to(corpus.root)}: DROID {shown} | Strongroom {_describe(*ours)}")
    return differences


@needs_droid
def test_engine_agrees_with_droid_on_the_fixtures(droid_fixtures: Corpus, engine: Identifier) -> None:
    differences = _compare(droid_fixtures, engine)
    assert not differences, f"{len(differences)} of {len(droid_fixtures.files)} files differ:\n" + "\n".join(
        differences
    )


@needs_droid
def test_engine_agrees_with_droid_on_the_corpus(droid_corpus: Corpus, engine: Identifier) -> None:
    differences = _compare(droid_corpus, engine)
    assert not differences, f"{len(differences)} of {len(droid_corpus.files)} files differ:\n" + "\n".join(differences)
