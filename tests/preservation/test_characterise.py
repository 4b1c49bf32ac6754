"""Characterisation with the real tools on files made here: good and broken PDF, TIFF and WAV, a false PDF/A claim."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.preservation.characterise import Characteriser, FileCharacterisation, load_policy
from strongroom.tools import CHARACTERISATION_PROBES, ToolStatus, find_tools
from tests.preservation import samples

PDF, PDFA_1B, TIFF, WAV, XML, TEXT = "fmt/18", "fmt/354", "fmt/353", "fmt/141", "fmt/101", "x-fmt/111"


@pytest.fixture(scope="module")
def checked(tools: list[ToolStatus], tmp_path_factory: pytest.TempPathFactory) -> dict[str, FileCharacterisation]:
    """One characterise call over every sample (a JVM per JHOVE module), shared by the tests below."""
    folder = tmp_path_factory.mktemp("samples") / "hostile name, é & 'x'"
    folder.mkdir()
    files = [
        (samples.write_pdf(folder / "good.pdf"), "good.pdf", PDF),
        (samples.write_broken_pdf(folder / "broken.pdf"), "broken.pdf", PDF),
        (samples.write_pdfa_claim(folder / "claims-pdfa.pdf"), "claims-pdfa.pdf", PDFA_1B),
        (samples.write_tiff(folder / "good.tif"), "good.tif", TIFF),
        (samples.write_truncated_tiff(folder / "truncated.tif"), "truncated.tif", TIFF),
        (samples.write_wav(folder / "good.wav", seconds=2.0), "good.wav", WAV),
        (samples.write_broken_wav(folder / "broken.wav"), "broken.wav", WAV),
        (folder / "unknown.bin", "unknown.bin", None),
        (folder / "external-dtd.xml", "external-dtd.xml", XML),
        (folder / "latin1.txt", "latin1.txt", TEXT),
    ]
    (folder / "unknown.bin").write_bytes(b"\x00\x01")
    # A DTD on a host that is never contacted: ingest must not fetch what depositors' files point at.
    (folder / "external-dtd.xml").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "http://192.0.2.1/r.dtd">\n<r/>\n'
    )
    (folder / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    seen: list[int] = []
    results = Characteriser(tools, load_policy()).characterise(files, progress=seen.append)
    assert [r.label for r in results] == [label for _, label, _ in files]
    assert seen[-1] == len(files) and seen == sorted(seen)
    return {r.label: r for r in results}


def result(item: FileCharacterisation, tool: str) -> dict[str, object]:
    found = [r for r in item.results if r.tool == tool]
    assert len(found) == 1, f"{item.label}: {tool} results {found}"
    return {"wf": found[0].well_formed, "valid": found[0].valid, "format": found[0].format_name,
            "messages": found[0].messages, "props": dict(found[0].properties), "version": found[0].version}  # fmt: skip


def test_pdf_well_formed_and_valid_and_a_broken_one_with_messages(checked: dict[str, FileCharacterisation]) -> None:
    good = result(checked["good.pdf"], "JHOVE")
    assert (good["wf"], good["valid"], good["format"]) == (True, True, "PDF 1.4")
    assert good["props"]["module"].startswith("PDF-hul")  # the module was forced, not BYTESTREAM
    assert checked["good.pdf"].verdict == "valid"
    broken = result(checked["broken.pdf"], "JHOVE")
    assert (broken["wf"], broken["valid"]) == (False, False)
    assert any("PDF-HUL" in m for m in broken["messages"])
    assert checked["broken.pdf"].verdict == "invalid"
    assert "PDF-HUL" in checked["broken.pdf"].reason


def test_tiff_valid_and_truncated(checked: dict[str, FileCharacterisation]) -> None:
    assert checked["good.tif"].verdict == "valid"
    assert result(checked["good.tif"], "JHOVE")["format"] == "TIFF 4.0"
    truncated = result(checked["truncated.tif"], "JHOVE")
    assert truncated["wf"] is False and any("TIFF-HUL" in m for m in truncated["messages"])
    assert checked["truncated.tif"].verdict == "invalid"


def test_a_false_pdfa_claim_is_not_compliant_by_verapdf(checked: dict[str, FileCharacterisation]) -> None:
    vera = result(checked["claims-pdfa.pdf"], "veraPDF")
    assert vera["valid"] is False and vera["format"] == "PDF/A-1b"
    assert vera["props"]["compliant"] == "no" and int(vera["props"]["failed_rules"]) >= 1
    assert any("font" in m.lower() for m in vera["messages"]), vera["messages"]  # Helvetica is not embedded
    assert result(checked["claims-pdfa.pdf"], "JHOVE")["valid"] is True  # a fine PDF, a false PDF/A
    assert checked["claims-pdfa.pdf"].verdict == "well-formed"
    # veraPDF runs only on PDF/A claims.
    assert [r.tool for r in checked["good.pdf"].results] == ["JHOVE", "ExifTool"]


def test_wav_broken_header_and_mediainfo_duration(checked: dict[str, FileCharacterisation]) -> None:
    assert checked["good.wav"].verdict == "valid"
    media = result(checked["good.wav"], "MediaInfo")
    assert float(media["props"]["duration_s"]) == pytest.approx(2.0)
    assert media["props"]["sampling_rate"] == "8000" and media["props"]["channels"] == "1"
    broken = result(checked["broken.wav"], "JHOVE")
    assert broken["wf"] is False and any("WAVE-HUL" in m for m in broken["messages"])
    assert checked["broken.wav"].verdict == "invalid"


def test_exiftool_properties(checked: dict[str, FileCharacterisation]) -> None:
    tiff = result(checked["good.tif"], "ExifTool")
    assert (tiff["props"]["ImageWidth"], tiff["props"]["ImageHeight"]) == ("8", "8")
    assert tiff["format"] == "TIFF" and tiff["wf"] is None  # metadata only: no judgement
    pdfa = result(checked["claims-pdfa.pdf"], "ExifTool")
    assert (pdfa["props"]["PDFVersion"], pdfa["props"]["Part"], pdfa["props"]["Conformance"]) == ("1.4", "1", "B")


def test_no_policy_no_network_and_wrong_encoding(checked: dict[str, FileCharacterisation]) -> None:
    assert checked["unknown.bin"].results == () and checked["unknown.bin"].verdict == "not checked"
    dtd = checked["external-dtd.xml"]
    assert dtd.verdict == "not checked" and "never downloads" in dtd.reason
    assert checked["latin1.txt"].verdict == "invalid"  # plain text is checked as UTF-8


def test_a_missing_tool_leaves_not_checked(tmp_path: Path) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    environ = {"PATH": str(empty), "HOME": str(tmp_path), "STRONGROOM_TOOLS_DIR": str(empty)}
    tools = find_tools(environ, probes=CHARACTERISATION_PROBES)
    assert {t.name: t.found for t in tools} == {"jhove": False, "verapdf": False, "mediainfo": False,
                                                "exiftool": False, "java": False}  # fmt: skip
    assert all(t.how_to_install == "bash scripts/tools.sh" and t.command is None for t in tools)
    pdf = samples.write_broken_pdf(tmp_path / "broken.pdf")
    [item] = Characteriser(tools, load_policy()).characterise([(pdf, "broken.pdf", PDF)])
    assert item.results == () and item.verdict == "not checked"


def test_jhove_missing_but_java_there(tools: list[ToolStatus], tmp_path: Path) -> None:
    environ = dict(os.environ, STRONGROOM_TOOLS_DIR=str(tmp_path))
    found = {t.name: t for t in find_tools(environ)}
    assert not found["jhove"].found and str(tmp_path) in (found["jhove"].note or "")
    assert found["java"].found and found["exiftool"].found
    pdf = samples.write_pdf(tmp_path / "good.pdf")
    [item] = Characteriser(list(found.values()), load_policy()).characterise([(pdf, "good.pdf", PDF)])
    assert [r.tool for r in item.results] == ["ExifTool"] and item.verdict == "not checked"


def counting(tool: ToolStatus, counter: Path) -> ToolStatus:
    """The same tool, started through a shell that appends a line to `counter` on every start."""
    assert tool.command is not None
    wrapper = ("/bin/sh", "-c", 'echo started >> "$0"; exec "$@"', str(counter))
    return replace(tool, command=(*wrapper, *tool.command))


def test_a_batch_of_20_runs_jhove_once_in_input_order(tools: list[ToolStatus], tmp_path: Path) -> None:
    counter = tmp_path / "jvm-starts"
    counted = [counting(t, counter) if t.name == "jhove" else t for t in tools]
    files = []
    for n in range(20):
        path = tmp_path / f"{n:02d}.pdf"
        (samples.write_broken_pdf if n % 3 == 0 else samples.write_pdf)(path)
        files.append((path, f"file {n}", PDF))
    started = time.monotonic()
    results = Characteriser(counted, load_policy()).characterise(files)
    elapsed = time.monotonic() - started
    assert counter.read_text().count("started") == 1
    assert [r.label for r in results] == [f"file {n}" for n in range(20)]
    assert [r.verdict for r in results] == ["invalid" if n % 3 == 0 else "valid" for n in range(20)]
    print(f"JHOVE + ExifTool on 20 PDFs: {elapsed:.2f} s")


FAKE_JHOVE = """
import json, sys, time
files = [a for a in sys.argv[1:] if a.startswith("/")]
if any("slow" in f for f in files):
    time.sleep(60)
infos = [{"uri": f, "status": "Well-Formed and valid", "format": "PDF", "version": "1.4",
          "reportingModule": {"name": "PDF-hul", "release": "0"}} for f in files]
print(json.dumps({"jhove": {"release": "fake", "repInfo": infos}}))
"""


def test_a_hanging_file_is_killed_and_the_rest_still_checked(tmp_path: Path) -> None:
    script = tmp_path / "fake_jhove.py"
    script.write_text(FAKE_JHOVE)
    fake = ToolStatus("jhove", "test", True, "fake", (sys.executable, str(script)), "")
    files = [(samples.write_pdf(tmp_path / name), name, PDF) for name in ("a.pdf", "slow.pdf", "c.pdf")]
    started = time.monotonic()
    results = Characteriser([fake], load_policy(), timeout_per_file=1.5).characterise(files)
    assert time.monotonic() - started < 15
    assert [r.verdict for r in results] == ["valid", "not checked", "valid"]
    assert results[1].reason.startswith("not checked: timed out")


def test_unreadable_output_is_a_result_not_an_exception(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text("import sys\nsys.stderr.write('Exception in thread main: boom\\n')\nsys.exit(3)\n")
    broken = ToolStatus("jhove", "test", True, "x", (sys.executable, str(script)), "")
    files = [(samples.write_pdf(tmp_path / f"{n}.pdf"), str(n), PDF) for n in range(2)]
    results = Characteriser([broken], load_policy(), timeout_per_file=10).characterise(files)
    assert [r.verdict for r in results] == ["not checked", "not checked"]
    assert "boom" in results[0].reason


def test_policy_is_data(tmp_path: Path) -> None:
    policy = load_policy()
    for puid in ("fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481"):
        checks = policy.checks_for(puid)
        assert checks is not None and checks.verapdf and checks.jhove_module == "PDF-hul"
    assert policy.checks_for("fmt/18").verapdf is False  # type: ignore[union-attr]
    wave = policy.checks_for(WAV)
    assert wave is not None and (wave.jhove_module, wave.mediainfo, wave.exiftool) == ("WAVE-hul", True, True)
    assert policy.checks_for(None) is None and policy.checks_for("fmt/999999") is None
    twice = tmp_path / "twice.toml"
    twice.write_text(
        '[groups.a]\njhove = "PDF-hul"\npuids = ["fmt/18"]\n[groups.b]\nexiftool = true\npuids = ["fmt/18"]\n'
    )
    with pytest.raises(ConfigError, match="keep it in one"):
        load_policy(twice)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[groups.a]\njhove = "PDF"\npuids = ["fmt/18"]\n')
    with pytest.raises(ConfigError, match="PDF-hul"):
        load_policy(wrong)


def test_doctor_json_and_require(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from strongroom.cli_doctor import register_doctor

    app = typer.Typer()
    app.callback()(lambda: None)
    register_doctor(app)
    runner = CliRunner()
    done = runner.invoke(app, ["doctor", "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    listed = {t["name"]: t for t in data["tools"]}
    assert set(listed) == {"jhove", "verapdf", "mediainfo", "exiftool", "java", "clamd", "pdfium", "pdftotext", "tika",
                           "libreoffice", "imagemagick", "compare", "identify", "ghostscript", "ffmpeg", "ffprobe",
                           "pdfinfo"}  # fmt: skip
    assert listed["jhove"]["found"] and listed["jhove"]["version"].startswith("1.")
    assert listed["pdfium"]["found"] and "+pypdfium2." in listed["pdfium"]["version"]
    monkeypatch.setenv("STRONGROOM_TOOLS_DIR", str(tmp_path))
    text = runner.invoke(app, ["doctor"])
    assert text.exit_code == 0 and "missing" in text.stdout and "bash scripts/tools.sh" in text.stdout
    required = runner.invoke(app, ["doctor", "--require", "jhove", "--require", "exiftool"])
    assert required.exit_code == 1 and "jhove" in required.stderr and "exiftool" not in required.stderr
    assert runner.invoke(app, ["doctor", "--require", "nosuch"]).exit_code == 2
