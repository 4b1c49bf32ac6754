"""Significant-property checks on real files made by the real tools: each check passes a faithful conversion and
fails a deliberately broken one (a pixel altered, a page dropped, words lost, a sample changed, a clip cut short)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.formats import make_identifier
from strongroom.formats.droid.identifier import DroidIdentifier
from strongroom.model import Identification
from strongroom.preservation.actions import (
    CheckKind,
    CheckResult,
    CheckStatus,
    Conversion,
    MigrationRule,
    Purpose,
    ToolRun,
)
from strongroom.preservation.significant import CHECK_TOOLS, VERAPDF_MISSING, verify
from strongroom.preservation.toolrun import ToolRunner
from tests.preservation import media

IM = "convert-im6.q16"
TIFF = ("fmt/353",)


def _run(*argv: str, cwd: Path | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr[-1500:]}"


def soffice(folder: Path, target: str, *sources: Path) -> None:
    """One LibreOffice call converting `sources` to `target` in `folder`, with a profile of its own."""
    profile = folder / "lo-profile"
    _run("soffice", "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", target,
         "--outdir", str(folder), *map(str, sources))  # fmt: skip


@pytest.fixture(scope="module")
def runner() -> ToolRunner:
    # The check tools as the checks define them, so tool versions are asked once for the whole module.
    return ToolRunner(dict(CHECK_TOOLS), concurrency=2)


@pytest.fixture(scope="module")
def identify() -> Iterator[object]:
    yield make_identifier().identify


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sample.doc/.odt (3 pages), a 2-page ODT (the third page lost), a PDF/A-2b of the text, a plain 3-page PDF."""
    folder = tmp_path_factory.mktemp("docs")
    made = media.make_office_documents(folder, ("doc", "odt"))
    full = media.flat_text()
    last = full.index('<text:h text:style-name="Break" text:outline-level="1">Cormorant')
    short = folder / "short.fodt"
    short.write_text(full[:last] + full[full.index("</office:text>") :], "utf-8")
    (folder / "pdfa.fodt").write_text(full, "utf-8")
    soffice(folder, "odt", short)
    soffice(folder, 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}', folder / "pdfa.fodt")
    made["short.odt"] = folder / "short.odt"
    made["pdfa"] = folder / "pdfa.pdf"
    made["pdf"] = media.make_pdf(folder)
    return made


def conversion(source: Path, output: Path | None, *checks: CheckKind, extension: str = "tif",
               output_puids: tuple[str, ...] = TIFF, **fields: object) -> Conversion:  # fmt: skip
    rule = MigrationRule(id="test-rule", purpose=Purpose.PRESERVATION, puids=("x-fmt/test",), tool="test",
                         args=("{input}", "{output}"), extension=extension, output_puids=output_puids,
                         checks=checks, time_limit=120.0, **fields)  # type: ignore[arg-type]  # fmt: skip
    run = ToolRun("test", "1", ("test",), 0, 0.1, "")
    return Conversion(rule, source, output, run)


def check(conv: Conversion, runner: ToolRunner, identify: object, workdir: Path, **kw: object) -> CheckResult:
    done = verify(conv, None, runner, identify, workdir, **kw)  # type: ignore[arg-type]
    assert len(done.checks) == len(conv.rule.checks)
    return done.checks[0]


# -- PIXELS ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return media.make_images(tmp_path_factory.mktemp("images"), ("bmp", "bmp3", "pcx", "tga", "pict", "gif", "png"))


@pytest.mark.parametrize("kind", ["bmp", "bmp3", "pcx", "tga", "pict", "gif", "png"])
def test_lossless_tiff_of_each_raster_format_passes(kind: str, images: dict[str, Path], runner: ToolRunner,
                                                     identify: object, tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    _run(IM, str(images[kind]), "-compress", "LZW", str(out))
    result = check(conversion(images[kind], out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.PASSED, result.detail
    width, height = media.IMAGE_SIZE
    assert result.detail.startswith(f"AE 0 of {width * height} pixels; {width}x{height}, ")
    assert result.tool == "imagemagick" and result.version and result.version[0].isdigit()


def test_one_altered_pixel_fails(images: dict[str, Path], runner: ToolRunner, identify: object,
                                 tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    _run(IM, str(images["bmp"]), "-fill", "#010203", "-draw", "point 5,7", "-compress", "LZW", str(out))
    result = check(conversion(images["bmp"], out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.FAILED
    assert result.detail.startswith("AE 1 of ")


def test_changed_bit_depth_fails_even_with_equal_pixels(images: dict[str, Path], runner: ToolRunner,
                                                        identify: object, tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    _run(IM, str(images["bmp"]), "-depth", "16", "-compress", "LZW", str(out))  # 8-bit BMP, 16-bit TIFF
    result = check(conversion(images["bmp"], out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.FAILED
    assert "8-bit became 16-bit" in result.detail


def test_palette_index_narrowed_by_the_writer_passes_with_a_note(runner: ToolRunner, identify: object,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    # A 16-colour TGA palette is read with an 8-bit index; the TIFF writer stores it in 4 bits: same pixels.
    source = tmp_path / "p16.tga"
    _run(IM, "-size", "32x24", "plasma:fractal", "-seed", "3", "-colors", "16", "-type", "Palette", str(source))
    out = tmp_path / "output.tif"
    _run(IM, str(source), "-compress", "LZW", str(out))
    result = check(conversion(source, out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.PASSED, result.detail
    assert "palette index 8-bit stored as 4-bit" in result.detail


def test_lost_alpha_fails(runner: ToolRunner, identify: object, tmp_path: Path) -> None:
    source = tmp_path / "alpha.png"
    _run(IM, "-size", "20x10", "xc:#ff000080", str(source))
    out = tmp_path / "output.tif"
    _run(IM, str(source), "-alpha", "off", str(out))
    result = check(conversion(source, out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.FAILED
    assert "alpha channel lost" in result.detail


@pytest.fixture(scope="module")
def animation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gif")
    _run(IM, "-size", "16x12", "xc:red", "xc:green", "xc:blue", "-loop", "0", "anim.gif", cwd=folder)
    return folder / "anim.gif"


def test_each_frame_of_an_animation_is_compared(animation: Path, runner: ToolRunner, identify: object,
                                                tmp_path: Path) -> None:  # fmt: skip
    good = tmp_path / "good.tif"
    _run(IM, str(animation), "-compress", "LZW", str(good))
    passed = check(conversion(animation, good, CheckKind.PIXELS), runner, identify, tmp_path / "a")
    assert passed.status is CheckStatus.PASSED, passed.detail
    assert "in 3 frames" in passed.detail

    # The second frame altered: `compare` alone would look at the first frame only and call it equal.
    bad = tmp_path / "bad.tif"
    _run(IM, f"{animation}[0]", "(", f"{animation}[1]", "-fill", "white", "-draw", "point 1,1", "-alpha", "off", ")",
         f"{animation}[2]", "-compress", "LZW", str(bad))  # fmt: skip
    failed = check(conversion(animation, bad, CheckKind.PIXELS), runner, identify, tmp_path / "b")
    assert failed.status is CheckStatus.FAILED
    assert "frame 2: 1" in failed.detail and "frame 1" not in failed.detail

    dropped = tmp_path / "dropped.tif"
    _run(IM, f"{animation}[0,1]", "-compress", "LZW", str(dropped))
    lost = check(conversion(animation, dropped, CheckKind.PIXELS), runner, identify, tmp_path / "c")
    assert lost.status is CheckStatus.FAILED
    assert lost.detail == "3 frames in the source, 2 in the output"


def test_optimised_animation_composed_by_coalesce_is_compared_composed(runner: ToolRunner, identify: object,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    # Frames 2 and 3 are small patches on the canvas; `-coalesce` (the GIF rule) writes whole composed frames.
    source = tmp_path / "optimised.gif"
    red, blue = ("-fill", "red", "-draw", "rectangle 5,5 10,10"), ("-fill", "blue", "-draw", "rectangle 20,15 25,20")
    _run(IM, "-size", "40x30", "xc:white", "(", "+clone", *red, ")", "(", "+clone", *blue, ")", "-layers", "optimize",
         str(source))  # fmt: skip
    good = tmp_path / "good.tif"
    _run(IM, str(source), "-coalesce", "-compress", "LZW", str(good))
    passed = check(conversion(source, good, CheckKind.PIXELS), runner, identify, tmp_path / "a")
    assert passed.status is CheckStatus.PASSED, passed.detail
    assert "frames compared as composed on the animation's canvas" in passed.detail

    bad = tmp_path / "bad.tif"  # composed, but the last frame's patch painted one pixel too far
    _run(IM, str(source), "-coalesce", "(", "+clone", "-fill", "blue", "-draw", "point 26,15", ")", "-delete", "2",
         "-compress", "LZW", str(bad))  # fmt: skip
    failed = check(conversion(source, bad, CheckKind.PIXELS), runner, identify, tmp_path / "b")
    assert failed.status is CheckStatus.FAILED
    assert "frame 3: 1" in failed.detail


def test_an_opaque_alpha_channel_dropped_is_no_loss(images: dict[str, Path], runner: ToolRunner, identify: object,
                                                    tmp_path: Path) -> None:  # fmt: skip
    # ImageMagick's BMP v4 carries an alpha channel that is opaque everywhere; its PNG writer leaves it out.
    out = tmp_path / "output.png"
    _run(IM, str(images["bmp"]), str(out))
    result = check(conversion(images["bmp"], out, CheckKind.PIXELS, extension="png"), runner, identify, tmp_path)
    assert result.status is CheckStatus.PASSED, result.detail


def test_an_output_the_tool_cannot_read_fails_with_why(images: dict[str, Path], runner: ToolRunner,
                                                       identify: object, tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    out.write_bytes(b"II*\x00 this is not really a TIFF")
    result = check(conversion(images["bmp"], out, CheckKind.PIXELS), runner, identify, tmp_path)
    assert result.status is CheckStatus.FAILED
    assert "identify" in result.detail and "failed" in result.detail


def test_hostile_source_names_never_reach_the_tools(images: dict[str, Path], runner: ToolRunner,
                                                    identify: object, tmp_path: Path) -> None:  # fmt: skip
    # ImageMagick would read "[0-1]" as a frame range and "*" as a wildcard; ffmpeg "x:" as a protocol.
    source = tmp_path / "x: -rf *[0-1] %d é.bmp"
    shutil.copyfile(images["bmp"], source)
    out = tmp_path / "output.tif"
    _run(IM, str(images["bmp"]), "-compress", "LZW", str(out))
    result = check(conversion(source, out, CheckKind.PIXELS), runner, identify, tmp_path / "w")
    assert result.status is CheckStatus.PASSED, result.detail


# -- FORMAT ------------------------------------------------------------------------------------------------------


def test_format_is_the_expected_puid_or_fails(images: dict[str, Path], runner: ToolRunner, identify: object,
                                              tmp_path: Path) -> None:  # fmt: skip
    tif = tmp_path / "output.tif"
    _run(IM, str(images["bmp"]), "-compress", "LZW", str(tif))
    done = verify(conversion(images["bmp"], tif, CheckKind.FORMAT), None, runner, identify, tmp_path / "a")  # type: ignore[arg-type]
    assert done.checks[0].status is CheckStatus.PASSED, done.checks[0].detail
    assert done.identification is not None and done.identification.puid == "fmt/353"
    # The check names the identifier that proved the format: the default DROID engine.
    assert (done.checks[0].tool, done.checks[0].version) == (DroidIdentifier.tool, DroidIdentifier.tool_version)

    png = tmp_path / "output.png"  # a tool that wrote PNG where TIFF was asked for
    _run(IM, str(images["bmp"]), str(png))
    wrong = verify(conversion(images["bmp"], png, CheckKind.FORMAT), None, runner, identify, tmp_path / "b")  # type: ignore[arg-type]
    assert wrong.checks[0].status is CheckStatus.FAILED
    assert wrong.checks[0].detail.startswith("identified as fmt/11 ")
    assert wrong.checks[0].detail.endswith("expected fmt/353")
    assert not wrong.ok


# -- PAGES and TEXT ------------------------------------------------------------------------------------------------


def test_pdf_with_a_page_dropped_fails_pages(docs: dict[str, Path], runner: ToolRunner, identify: object,
                                             tmp_path: Path) -> None:  # fmt: skip
    whole, short = tmp_path / "whole.pdf", tmp_path / "short.pdf"
    _run("gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", f"-sOutputFile={whole}", str(docs["pdf"]))
    _run("gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", "-sPageList=1-2", f"-sOutputFile={short}",
         str(docs["pdf"]))  # fmt: skip
    kw = {"extension": "pdf", "output_puids": ("fmt/276",)}
    good = check(conversion(docs["pdf"], whole, CheckKind.PAGES, **kw), runner, identify, tmp_path / "a")  # type: ignore[arg-type]
    assert good.status is CheckStatus.PASSED, good.detail
    assert good.detail == "3 pages in the source and in the output"
    bad = check(conversion(docs["pdf"], short, CheckKind.PAGES, **kw), runner, identify, tmp_path / "b")  # type: ignore[arg-type]
    assert bad.status is CheckStatus.FAILED
    assert bad.detail.startswith("3 pages in the source but 2 in the output")


def test_doc_against_odt_pages_and_text_by_independent_rendering(docs: dict[str, Path], runner: ToolRunner,
                                                                 identify: object, tmp_path: Path) -> None:  # fmt: skip
    kw = {"extension": "odt", "output_puids": ("fmt/291",)}
    good = verify(conversion(docs["doc"], docs["odt"], CheckKind.PAGES, CheckKind.TEXT, **kw), None, runner,  # type: ignore[arg-type]
                  identify, tmp_path / "a")  # type: ignore[arg-type]  # fmt: skip
    pages, text = good.checks
    assert pages.status is CheckStatus.PASSED, pages.detail
    assert pages.detail == "3 pages in the source's LibreOffice rendering and in the output's LibreOffice rendering"
    assert pages.tool == "libreoffice+pdfinfo" and pages.version and pages.version.startswith("7.")
    assert text.status is CheckStatus.PASSED, text.detail
    assert text.detail.startswith(f"100% of the source's {len(media.DOC_WORDS)} distinct words found")

    bad = check(conversion(docs["doc"], docs["short.odt"], CheckKind.PAGES, **kw), runner, identify,  # type: ignore[arg-type]
                tmp_path / "b")  # fmt: skip
    assert bad.status is CheckStatus.FAILED
    assert bad.detail.startswith("3 pages in the source but 2 in the output")


def test_text_with_most_words_removed_fails(docs: dict[str, Path], runner: ToolRunner, identify: object,
                                            tmp_path: Path) -> None:  # fmt: skip
    full = check(conversion(docs["pdf"], docs["pdfa"], CheckKind.TEXT, extension="pdf", output_puids=("fmt/476",)),
                 runner, identify, tmp_path / "a")  # fmt: skip
    assert full.status is CheckStatus.PASSED, full.detail

    text = tmp_path / "output.txt"
    text.write_text("Aardvark Bluebell Cormorant\n", "utf-8")
    result = check(conversion(docs["pdf"], text, CheckKind.TEXT, extension="txt", output_puids=("x-fmt/111",)),
                   runner, identify, tmp_path / "b")  # fmt: skip
    assert result.status is CheckStatus.FAILED
    share = 3 / len(media.DOC_WORDS)
    assert result.detail.startswith(f"{share * 100:.1f}% of the source's {len(media.DOC_WORDS)} distinct words")
    assert "(minimum 90%;" in result.detail


def test_a_source_without_words_is_not_checked(runner: ToolRunner, identify: object, tmp_path: Path) -> None:
    drawing = tmp_path / "drawing.pdf"
    _run("gs", "-q", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pdfwrite", f"-sOutputFile={drawing}", "-c",
         "newpath 100 100 moveto 300 300 lineto stroke showpage")  # fmt: skip
    result = check(conversion(drawing, drawing, CheckKind.TEXT, extension="pdf", output_puids=("fmt/276",)),
                   runner, identify, tmp_path)  # fmt: skip
    assert result.status is CheckStatus.NOT_CHECKED
    assert result.detail.startswith("the source has no words to compare")


# -- PDFA --------------------------------------------------------------------------------------------------------


def test_pdfa_by_verapdf(docs: dict[str, Path], runner: ToolRunner, identify: object, tmp_path: Path) -> None:
    kw = {"extension": "pdf", "output_puids": ("fmt/476",)}
    good = check(conversion(docs["doc"], docs["pdfa"], CheckKind.PDFA, **kw), runner, identify, tmp_path / "a")  # type: ignore[arg-type]
    if good.status is CheckStatus.NOT_CHECKED:
        pytest.fail(f"veraPDF is needed for this test: {good.detail}")
    assert good.status is CheckStatus.PASSED, good.detail
    assert good.detail == f"veraPDF {good.version}: PDF/A-2b compliant"
    assert good.version and good.version.startswith("1.")

    bad = check(conversion(docs["doc"], docs["pdf"], CheckKind.PDFA, **kw), runner, identify, tmp_path / "b")  # type: ignore[arg-type]
    assert bad.status is CheckStatus.FAILED
    assert "not PDF/A-2b compliant" in bad.detail and "rules failed" in bad.detail
    assert "6.2.11.4.1" in bad.detail  # Helvetica is not embedded


def test_pdfa_without_verapdf_is_not_checked(docs: dict[str, Path], identify: object, tmp_path: Path) -> None:
    import os

    empty = tmp_path / "no-tools"
    empty.mkdir()
    env = {**os.environ, "STRONGROOM_TOOLS_DIR": str(empty)}
    result = check(conversion(docs["doc"], docs["pdfa"], CheckKind.PDFA, extension="pdf"), ToolRunner({}),
                   identify, tmp_path, environ=env)  # fmt: skip
    assert result.status is CheckStatus.NOT_CHECKED
    assert result.detail == VERAPDF_MISSING == "veraPDF is not installed (bash scripts/tools.sh)"


# -- STREAMS and AV_PROPERTIES -------------------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args)


@pytest.fixture(scope="module")
def av(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return media.make_av(tmp_path_factory.mktemp("av"), ("wav", "avi"))


def test_flac_of_wav_keeps_the_decoded_audio(av: dict[str, Path], runner: ToolRunner, identify: object,
                                             tmp_path: Path) -> None:  # fmt: skip
    flac = tmp_path / "output.flac"
    ffmpeg("-i", str(av["wav"]), "-c:a", "flac", "-compression_level", "8", str(flac))
    result = check(conversion(av["wav"], flac, CheckKind.STREAMS, extension="flac"), runner, identify, tmp_path / "a")
    assert result.status is CheckStatus.PASSED, result.detail
    assert result.detail.startswith("decoded audio md5 equal: ") and result.tool == "ffmpeg"

    # One sample changed: the first sample's value nudged by a volume filter on the first few samples only.
    changed = tmp_path / "changed.flac"
    ffmpeg("-i", str(av["wav"]), "-af", "volume=enable='lt(n,1)':volume=0.5", "-c:a", "flac", str(changed))
    bad = check(conversion(av["wav"], changed, CheckKind.STREAMS, extension="flac"), runner, identify, tmp_path / "b")
    assert bad.status is CheckStatus.FAILED
    assert bad.detail.startswith("decoded audio md5 ") and "in the source" in bad.detail


def test_24_bit_pcm_and_its_flac_hash_alike(runner: ToolRunner, identify: object, tmp_path: Path) -> None:
    wav, flac = tmp_path / "s24.wav", tmp_path / "output.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=0.5", "-ac", "2", "-c:a", "pcm_s24le", str(wav))
    ffmpeg("-i", str(wav), "-c:a", "flac", str(flac))
    result = check(conversion(wav, flac, CheckKind.STREAMS, extension="flac"), runner, identify, tmp_path)
    assert result.status is CheckStatus.PASSED, result.detail


def test_ffv1_master_keeps_video_and_audio(av: dict[str, Path], runner: ToolRunner, identify: object,
                                           tmp_path: Path) -> None:  # fmt: skip
    mkv = tmp_path / "output.mkv"
    ffmpeg("-i", str(av["avi"]), "-map", "0:v", "-map", "0:a?", "-c:v", "ffv1", "-level", "3", "-g", "1",
           "-c:a", "flac", str(mkv))  # fmt: skip
    result = check(conversion(av["avi"], mkv, CheckKind.STREAMS, extension="mkv"), runner, identify, tmp_path / "a")
    assert result.status is CheckStatus.PASSED, result.detail
    assert "decoded audio md5 equal" in result.detail and "decoded video md5 equal" in result.detail

    silent = tmp_path / "silent.mkv"  # the audio lost
    ffmpeg("-i", str(av["avi"]), "-map", "0:v", "-c:v", "ffv1", str(silent))
    lost = check(conversion(av["avi"], silent, CheckKind.STREAMS, extension="mkv"), runner, identify, tmp_path / "b")
    assert lost.status is CheckStatus.FAILED
    assert lost.detail == "1 audio stream(s) in the source, 0 in the output"


def test_mp3_access_copy_within_tolerance_and_a_cut_one_fails(av: dict[str, Path], runner: ToolRunner,
                                                              identify: object, tmp_path: Path) -> None:  # fmt: skip
    mp3 = tmp_path / "output.mp3"
    ffmpeg("-i", str(av["wav"]), "-c:a", "libmp3lame", "-b:a", "128k", str(mp3))
    good = check(conversion(av["wav"], mp3, CheckKind.AV_PROPERTIES, extension="mp3"), runner, identify,
                 tmp_path / "a")  # fmt: skip
    assert good.status is CheckStatus.PASSED, good.detail
    assert good.detail.startswith("duration 1.000 s vs 1.0") and "2 channels; 44100 Hz" in good.detail

    cut = tmp_path / "cut.mp3"
    ffmpeg("-i", str(av["wav"]), "-t", "0.5", "-c:a", "libmp3lame", str(cut))
    short = check(conversion(av["wav"], cut, CheckKind.AV_PROPERTIES, extension="mp3"), runner, identify,
                  tmp_path / "b")  # fmt: skip
    assert short.status is CheckStatus.FAILED
    assert "(tolerance 0.1 s)" in short.detail and "vs 0.5" in short.detail

    mono = tmp_path / "mono.mp3"
    ffmpeg("-i", str(av["wav"]), "-ac", "1", "-ar", "22050", "-c:a", "libmp3lame", str(mono))
    down = check(conversion(av["wav"], mono, CheckKind.AV_PROPERTIES, extension="mp3"), runner, identify,
                 tmp_path / "c")  # fmt: skip
    assert down.status is CheckStatus.FAILED
    assert "2 channels became 1" in down.detail and "44100 Hz became 22050 Hz" in down.detail


# -- verify() as a whole -------------------------------------------------------------------------------------------


def test_a_failed_run_is_returned_unchanged(images: dict[str, Path], runner: ToolRunner, identify: object,
                                            tmp_path: Path) -> None:  # fmt: skip
    conv = conversion(images["bmp"], None, CheckKind.PIXELS, CheckKind.FORMAT)
    broken = Conversion(conv.rule, conv.source, None, ToolRun("test", "1", ("test",), 1, 0.1, "boom", "exit status 1"))
    assert verify(broken, None, runner, identify, tmp_path) is broken  # type: ignore[arg-type]


def test_missing_check_tools_are_not_checked_naming_the_package(images: dict[str, Path], identify: object,
                                                                tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    _run(IM, str(images["bmp"]), "-compress", "LZW", str(out))
    empty = tmp_path / "bin"
    empty.mkdir()
    conv = conversion(images["bmp"], out, CheckKind.PIXELS, CheckKind.STREAMS, CheckKind.PAGES)
    done = verify(conv, None, ToolRunner({}), identify, tmp_path / "w", environ={"PATH": str(empty)})  # type: ignore[arg-type]
    assert [c.status for c in done.checks] == [CheckStatus.NOT_CHECKED] * 3
    pixels, streams, pages = (c.detail for c in done.checks)
    # PAGES of a source that is not a PDF needs its LibreOffice rendering first
    assert "imagemagick" in pixels and "ffmpeg" in streams and "libreoffice-writer-nogui" in pages
    assert [c.tool for c in done.checks] == ["imagemagick", "ffprobe", "libreoffice"]
    assert done.ok  # nothing failed: the checks could not be made, and say so


def test_every_kind_once_in_the_rules_order(images: dict[str, Path], runner: ToolRunner, identify: object,
                                            tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "output.tif"
    _run(IM, str(images["gif"]), "-compress", "LZW", str(out))
    conv = conversion(images["gif"], out, CheckKind.PIXELS, CheckKind.FORMAT, CheckKind.PIXELS)
    done = verify(conv, "fmt/4", runner, identify, tmp_path / "w")  # type: ignore[arg-type]
    assert [c.kind for c in done.checks] == [CheckKind.PIXELS, CheckKind.FORMAT]
    assert all(c.status is CheckStatus.PASSED for c in done.checks), done.checks
    assert done.ok and isinstance(done.identification, Identification)


def test_a_tool_failing_on_the_output_fails_the_check_with_why(docs: dict[str, Path], runner: ToolRunner,
                                                               identify: object, tmp_path: Path) -> None:  # fmt: skip
    garbage = tmp_path / "output.pdf"
    garbage.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    conv = conversion(docs["pdf"], garbage, CheckKind.PAGES, CheckKind.TEXT, extension="pdf")
    done = verify(conv, None, runner, identify, tmp_path / "w")  # type: ignore[arg-type]
    pages, text = done.checks
    assert pages.status is CheckStatus.FAILED and pages.detail.startswith("pdfinfo failed: exited with status 1")
    assert pages.tool == "pdfinfo" and pages.version and pages.version[0].isdigit()
    assert text.status is CheckStatus.FAILED and text.detail.startswith("pdftotext failed: exited with status 1")
    assert not done.ok
