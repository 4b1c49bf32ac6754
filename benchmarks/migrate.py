"""Migration throughput per default rule, with the tool's own time beside it (what share is Strongroom's).

    .venv/bin/python benchmarks/migrate.py [--files N] [--rule ID ...] [--no-end-to-end] [--json]

For each rule of the packaged migration policy, N small real files of a format the rule takes are made with
tests/preservation/media.py (LibreOffice, ImageMagick, ffmpeg), then timed three ways:
  - tool: the bare tool command, one process per file, exactly the argument list the rule gives (a private
    LibreOffice profile per call, a PDFA_def.ps for Ghostscript): the tool's own time, the floor;
  - convert+verify: strongroom.preservation.convert.convert() and significant.verify() in process (staging,
    the sandboxed run, identification of the output and every check the rule asks for, which for documents
    means LibreOffice renders of source and output to count pages);
  - end to end: a fresh archive home, `strongroom ingest` of the N files (not timed), then
    `strongroom migrate --json --purpose P --puid X` as a user runs it (start-up, plan, convert, verify, a new
    OCFL version, catalog and index), timed; optional rules are switched on for it in the home's policy.
Printed: files/s for each, and the share of the end-to-end time the tool itself took.
A rule whose sample our identifier names otherwise (PowerPoint 97-2003 reads as OLE2, fmt/111, with FIDO) cannot
be selected by PUID end to end and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.preservation.media makes the sample files

from strongroom.formats import make_identifier  # noqa: E402
from strongroom.preservation.actions import MigrationRule  # noqa: E402
from strongroom.preservation.convert import convert, find_icc_profile, pdfa_definition  # noqa: E402
from strongroom.preservation.policy import load_policy  # noqa: E402
from strongroom.preservation.significant import verify  # noqa: E402
from strongroom.preservation.toolrun import ToolRunner  # noqa: E402
from tests.preservation.media import make_all  # noqa: E402

BIN = Path(sys.executable).parent
SAMPLE_FOR_RULE = {
    "word-processing-to-odt": "doc", "spreadsheet-to-ods": "xls", "presentation-to-odp": "ppt",
    "word-processing-to-pdfa": "doc", "spreadsheet-to-pdfa": "xlsx", "presentation-to-pdfa": "pptx",
    "pdf-to-pdfa": "pdf-plain", "raster-to-tiff": "bmp3", "gif-to-tiff": "gif", "tiff-to-tiff-lzw": "tiff",
    "raster-to-png-access": "tga", "audio-to-flac": "wav", "audio-to-mp3-access": "wma",
    "video-to-ffv1-mkv": "avi", "video-to-h264-mp4-access": "mpg",
}  # fmt: skip
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass
class Row:
    rule: str
    tool: str
    files: int
    tool_seconds: float
    convert_verify_seconds: float
    convert_verify_ok: int
    end_to_end_seconds: float | None = None
    end_to_end_kept: int | None = None
    end_to_end_tool_seconds: float | None = None  # what `strongroom migrate` reports as time in tools
    note: str = ""

    @staticmethod
    def rate(files: int, seconds: float | None) -> str:
        return f"{files / seconds:7.2f}" if seconds else "      -"


def bare_tool(rule: MigrationRule, runner: ToolRunner, files: list[Path], scratch: Path) -> float:
    """Seconds the tool alone takes for `files`, one process per file, with the rule's argument list."""
    executable = runner.require(rule.tool)
    icc = find_icc_profile()
    total = 0.0
    for number, source in enumerate(files):
        folder = scratch / f"bare-{rule.id}-{number}"
        private = folder / "private"
        (private / "home").mkdir(parents=True)
        shutil.copyfile(source, folder / f"input{source.suffix}")
        (folder / "outdir").mkdir()
        if icc is not None:
            (private / "pdfa_def.ps").write_text(pdfa_definition(icc))
        values = {
            "input": f"input{source.suffix}", "output": f"output.{rule.extension}", "outdir": "outdir",
            "profile": f"{private.as_uri()}/profile", "pdfa_def": str(private / "pdfa_def.ps"),
            "icc_dir": str(icc.parent) if icc else "", "private": str(private), "private_url": private.as_uri(),
        }  # fmt: skip
        argv = [executable, *_fill(rule.args, values)]
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(private / "home"), "LANG": "C.UTF-8"}
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        total += time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{rule.id}: the bare tool failed: {done.stderr.decode(errors='replace')[-500:]}")
        shutil.rmtree(folder)
    return total


def _fill(args: tuple[str, ...], values: dict[str, str]) -> list[str]:
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], a) for a in args]


def in_process(rule: MigrationRule, runner: ToolRunner, files: list[Path], scratch: Path) -> tuple[float, int]:
    identifier = make_identifier()
    source_puid = identifier.identify(files[0]).puid
    ok = 0
    start = time.perf_counter()
    for number, source in enumerate(files):
        workdir = scratch / f"cv-{rule.id}-{number}"
        conversion = convert(rule, source, workdir, runner)
        checked = verify(conversion, source_puid, runner, identifier.identify, workdir / "checks")
        ok += checked.ok
        shutil.rmtree(workdir, ignore_errors=True)
    return time.perf_counter() - start, ok


def end_to_end(rule: MigrationRule, files: list[Path], puid: str, scratch: Path) -> tuple[float, int, float]:
    home = scratch / f"home-{rule.id}"
    transfer = scratch / f"transfer-{rule.id}"
    transfer.mkdir()
    for source in files:
        shutil.copyfile(source, transfer / source.name)
    env = {**os.environ, "STRONGROOM_HOME": str(home), "STRONGROOM_EXTRACT_TEXT": "0", "STRONGROOM_CHARACTERISE": "0",
           "STRONGROOM_VIRUS_SCAN": "off"}  # fmt: skip
    strongroom = str(BIN / "strongroom")
    subprocess.run([strongroom, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    (home / "migration-policy.toml").write_text("[settings]\noptional_rules = true\n")
    subprocess.run([strongroom, "ingest", str(transfer), "--json"], env=env, check=True, stdout=subprocess.DEVNULL)
    command = [strongroom, "migrate", "--json", "--purpose", rule.purpose.value, "--puid", puid]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"{rule.id}: strongroom migrate said: {done.stderr[-800:]}") from None
    totals = report.get("totals", {})
    shutil.rmtree(home, ignore_errors=True)
    return seconds, int(totals.get("kept", 0)), float(totals.get("tool_seconds", 0.0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3, help="files per rule (default 3)")
    parser.add_argument("--rule", action="append", help="only this rule (repeatable)")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the `strongroom migrate` runs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    policy = load_policy(None)
    runner = ToolRunner(policy.tools, concurrency=1)  # one file at a time, as the bare tool runs
    identifier = make_identifier()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as scratch_name:
        scratch = Path(scratch_name)
        made = make_all(scratch / "media")
        for rule in policy.rules:
            if args.rule and rule.id not in args.rule:
                continue
            sample = made[SAMPLE_FOR_RULE[rule.id]]
            files = []
            for number in range(args.files):
                copy = scratch / "files" / rule.id / f"{sample.stem}-{number}{sample.suffix}"
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sample, copy)
                files.append(copy)
            convert(rule, files[0], scratch / "warm" / rule.id, runner)  # page cache and font cache warm for all
            tool_seconds = bare_tool(rule, runner, files, scratch)
            cv_seconds, cv_ok = in_process(rule, runner, files, scratch)
            row = Row(rule.id, rule.tool, len(files), tool_seconds, cv_seconds, cv_ok)
            puid = identifier.identify(sample).puid
            if args.no_end_to_end:
                row.note = "end to end not run"
            elif puid not in rule.puids:
                row.note = f"sample identifies as {puid}: not selectable by PUID end to end"
            else:
                row.end_to_end_seconds, row.end_to_end_kept, row.end_to_end_tool_seconds = end_to_end(
                    rule, files, puid or "", scratch
                )
            rows.append(row)
            print(f"  {rule.id}: done", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    print(f"{'rule':26} {'tool':11} {'n':>2} {'tool f/s':>8} {'conv+ver':>8} {'e2e f/s':>8} {'kept':>4} "
          f"{'tool share':>10}  note")  # fmt: skip
    for r in rows:
        share = f"{100 * r.tool_seconds / r.end_to_end_seconds:9.0f}%" if r.end_to_end_seconds else "         -"
        kept = "-" if r.end_to_end_kept is None else str(r.end_to_end_kept)
        print(f"{r.rule:26} {r.tool:11} {r.files:>2} {Row.rate(r.files, r.tool_seconds):>8} "
              f"{Row.rate(r.files, r.convert_verify_seconds):>8} {Row.rate(r.files, r.end_to_end_seconds):>8} "
              f"{kept:>4} {share}  {r.note}")  # fmt: skip
    print("files/s: the bare tool (one process per file), convert()+verify() in process, and `strongroom migrate` end "
          "to end; tool share: the bare tool's time as a share of the end-to-end time.")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
