"""convert() and render_pdf() with the real tools: one real file per default rule, and the ways tools fail."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from strongroom.formats import make_identifier
from strongroom.formats.base import Identifier
from strongroom.model import Basis
from strongroom.preservation import convert as convert_module
from strongroom.preservation.actions import MigrationRule
from strongroom.preservation.convert import convert, find_icc_profile, pdfa_definition, render_pdf
from strongroom.preservation.policy import load_policy
from strongroom.preservation.toolrun import ToolRunner
from tests.preservation.media import DOC_PAGES, DOC_WORDS, WP_PAGES, WP_WORDS

POLICY = load_policy(None)

# The media kind (tests/preservation/media.py) each default rule is tried on. A new rule fails
# test_every_rule_has_a_sample until it is given one here.
SAMPLE_FOR_RULE = {
    "word-processing-to-odt": "doc",
    "spreadsheet-to-ods": "xls",
    "presentation-to-odp": "ppt",
    "word-processing-to-pdfa": "wpd",
    "spreadsheet-to-pdfa": "xlsx",
    "presentation-to-pdfa": "pptx",
    "pdf-to-pdfa": "pdf-plain",
    "raster-to-tiff": "pcx",
    "gif-to-tiff": "gif",
    "tiff-to-tiff-lzw": "tiff",
    "raster-to-png-access": "tga",
    "audio-to-flac": "aiff",
    "audio-to-mp3-access": "wma",
    "video-to-ffv1-mkv": "avi",
    "video-to-h264-mp4-access": "wmv",
}


@pytest.fixture(scope="module")
def identifier() -> Identifier:
    return make_identifier()


@pytest.fixture(scope="module")
def runner() -> ToolRunner:
    return ToolRunner(POLICY.tools)


def test_every_rule_has_a_sample() -> None:
    assert set(SAMPLE_FOR_RULE) == {rule.id for rule in POLICY.rules}


@pytest.mark.parametrize("rule", POLICY.rules, ids=lambda rule: rule.id)
def test_each_sample_is_a_format_its_rule_applies_to(
    rule: MigrationRule, media: dict[str, Path], identifier: Identifier
) -> None:
    kind = SAMPLE_FOR_RULE[rule.id]
    found = identifier.identify(media[kind])
    assert found.puid in rule.puids, f"{kind} sample identifies as {found.puid}, which {rule.id} does not take"
    # By content: the planner never converts a file known by its name only.
    assert found.basis in (Basis.SIGNATURE, Basis.CONTAINER), (kind, found.basis)


@pytest.mark.parametrize("rule", POLICY.rules, ids=lambda rule: rule.id)
def test_each_default_rule_converts_a_real_file(
    rule: MigrationRule, media: dict[str, Path], tmp_path: Path, runner: ToolRunner, identifier: Identifier
) -> None:
    source = media[SAMPLE_FOR_RULE[rule.id]]
    workdir = tmp_path / "work"
    conversion = convert(rule, source, workdir, runner)
    assert conversion.run.ok, f"{conversion.run.error}\n{conversion.run.stderr}"
    assert conversion.output == workdir / f"output.{rule.extension}"
    assert conversion.output.is_file() and conversion.output.stat().st_size > 0
    found = identifier.identify(conversion.output)
    assert found.puid in rule.output_puids, f"{rule.id} made {found.puid} ({found.format_name})"
    run = conversion.run
    assert run.tool == rule.tool and run.exit_status == 0 and run.version != "unknown"
    assert Path(run.argv[0]).is_absolute() and run.argv[1:] != rule.args  # placeholders were filled
    assert not any("{input}" in a or "{output}" in a or "{outdir}" in a for a in run.argv)
    assert conversion.checks == () and conversion.source == source
    # Only the output is left: the staged input, LibreOffice's outdir and the private run folder are gone.
    assert sorted(p.name for p in workdir.iterdir()) == [conversion.output.name]
    assert source.is_file()


def test_libreoffice_exit_0_without_output_is_a_failure(media: dict[str, Path], tmp_path: Path,
                                                        runner: ToolRunner) -> None:  # fmt: skip
    # Writer's ODT export cannot take a presentation: soffice says "no export filter" and exits 0.
    conversion = convert(POLICY.rule("word-processing-to-odt"), media["odp"], tmp_path, runner)
    assert conversion.run.exit_status == 0
    assert conversion.output is None and not conversion.ok
    assert conversion.run.error is not None and "made no odt file" in conversion.run.error
    assert "no export filter" in conversion.run.stderr


@pytest.mark.parametrize(
    ("rule_id", "content", "name"),
    [
        ("gif-to-tiff", b"GIF89a\x10\x00", "truncated.gif"),
        ("audio-to-flac", bytes(range(256)) * 20, "noise.wav"),
        # Ghostscript exits 0 here and writes a blank page: what it says is what gives it away.
        ("pdf-to-pdfa", b"%PDF-1.4\nthis is not a PDF at all\n", "broken.pdf"),
    ],
)
def test_a_tool_failing_on_a_broken_file_leaves_no_output(
    rule_id: str, content: bytes, name: str, tmp_path: Path, runner: ToolRunner
) -> None:
    source = tmp_path / name
    source.write_bytes(content)
    conversion = convert(POLICY.rule(rule_id), source, tmp_path / "work", runner)
    assert not conversion.ok and conversion.output is None
    assert conversion.run.error is not None
    assert not (tmp_path / "work" / f"output.{POLICY.rule(rule_id).extension}").exists()
    assert conversion.run.stderr.strip(), "the tool's complaint is kept for the event"


def test_hostile_source_names_never_reach_the_tool(media: dict[str, Path], tmp_path: Path, runner: ToolRunner,
                                                   identifier: Identifier) -> None:  # fmt: skip
    folder = tmp_path / "in"
    folder.mkdir()
    names = {
        "raster-to-tiff": b"-density 9999 msl:evil[0].pcx",
        "gif-to-tiff": b"--help\n\xff\xfe.gif",
        "word-processing-to-odt": b"-env:UserInstallation=file:%2F%2Ftmp --cat.doc",
        "audio-to-flac": b"-y -i concat:x|y.aiff",
    }
    kinds = {"raster-to-tiff": "pcx", "gif-to-tiff": "gif", "word-processing-to-odt": "doc", "audio-to-flac": "aiff"}
    for rule_id, raw in names.items():
        source = folder / Path(raw.decode("utf-8", "surrogateescape"))
        shutil.copyfile(media[kinds[rule_id]], source)
        rule = POLICY.rule(rule_id)
        conversion = convert(rule, source, tmp_path / rule_id, runner)
        assert conversion.ok and conversion.output is not None, conversion.run.error
        assert identifier.identify(conversion.output).puid in rule.output_puids
        assert all(str(source.name) not in arg for arg in conversion.run.argv)
        assert source.read_bytes() == media[kinds[rule_id]].read_bytes()  # the original is untouched


def test_source_already_in_the_workdir_under_the_staged_name_is_kept(media: dict[str, Path], tmp_path: Path,
                                                                     runner: ToolRunner) -> None:  # fmt: skip
    source = tmp_path / "input.gif"
    shutil.copyfile(media["gif"], source)
    conversion = convert(POLICY.rule("gif-to-tiff"), source, tmp_path, runner)
    assert conversion.ok and source.read_bytes() == media["gif"].read_bytes()


def test_time_limit_stops_a_real_conversion(media: dict[str, Path], tmp_path: Path, runner: ToolRunner) -> None:
    from dataclasses import replace

    rule = replace(POLICY.rule("word-processing-to-pdfa"), time_limit=0.05)
    conversion = convert(rule, media["doc"], tmp_path / "work", runner)
    assert conversion.output is None and conversion.run.exit_status is None
    assert conversion.run.error is not None and "time limit" in conversion.run.error
    assert [p.name for p in (tmp_path / "work").iterdir()] == []


def test_without_an_icc_profile_ghostscript_is_not_run(media: dict[str, Path], tmp_path: Path, runner: ToolRunner,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(convert_module, "ICC_CANDIDATES", (str(tmp_path / "nowhere" / "srgb.icc"),))
    conversion = convert(POLICY.rule("pdf-to-pdfa"), media["pdf-plain"], tmp_path / "work", runner)
    assert conversion.output is None and conversion.run.exit_status is None
    assert conversion.run.error is not None and "libgs-common" in conversion.run.error


def test_pdfa_definition_points_at_the_profile_with_postscript_escapes() -> None:
    icc = find_icc_profile()
    assert icc is not None and icc.is_file()
    text = pdfa_definition(Path("/odd (dir)\\x/srgb.icc"))
    assert "/ICCProfile (/odd \\(dir\\)\\\\x/srgb.icc) def" in text
    assert "/OutputIntents" in text and "/Title" not in text


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _words(pdf: Path) -> set[str]:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    return {w.strip(".,").lower() for w in text.split()}


def test_render_pdf_keeps_pages_and_words(media: dict[str, Path], tmp_path: Path, runner: ToolRunner) -> None:
    run, pdf = render_pdf(media["doc"], tmp_path, runner)
    assert run.ok and pdf is not None and pdf.parent.parent == tmp_path
    assert _pages(pdf) == DOC_PAGES and _words(pdf) >= DOC_WORDS
    # A second rendering in the same folder does not overwrite the first (source and migrated copy side by side).
    run2, wpd_pdf = render_pdf(media["wpd"], tmp_path, runner)
    assert run2.ok and wpd_pdf is not None and wpd_pdf != pdf and pdf.is_file()
    assert _pages(wpd_pdf) == WP_PAGES and _words(wpd_pdf) >= {w.lower() for w in WP_WORDS}
    assert not list(tmp_path.glob("*/input*")), "the staged source is removed"
