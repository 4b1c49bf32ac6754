"""Apply one migration rule to one file with the real tool; checking the result is `significant.verify`'s job.

The source is hard-linked (or copied, across file systems) into the work folder as `input.<extension>` and the
tool runs there on relative names, so no file name — leading dashes, newlines, bytes that are not UTF-8, an
ImageMagick coder prefix such as `msl:` or a frame suffix such as `[0]` — ever reaches a tool's parser.
The output is `workdir/output.<rule extension>`; LibreOffice names its output after the input inside
`--outdir`, so it writes into a folder of its own and the file is moved into place.

Never trusted: an exit status of 0 with no output (LibreOffice does that when it cannot load a file) is a
failure, and so is an exit status of 0 beside a message that says nothing was converted (Ghostscript writes a
blank one-page PDF when it cannot open the source at all: `_FATAL_DESPITE_SUCCESS`). An output in the wrong
format, or a source that was not what its name said (LibreOffice reads random bytes named .doc as plain text and
writes a fine ODT of them), is for identification and verification to catch, not for this module.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from strongroom.preservation.actions import Conversion, MigrationRule, ToolRun
from strongroom.preservation.toolrun import ToolRunner

# Where Debian (libgs-common), upstream Ghostscript and colord put an sRGB ICC profile, best first.
ICC_CANDIDATES = (
    "/usr/share/color/icc/ghostscript/srgb.icc",
    "/usr/share/ghostscript/*/iccprofiles/srgb.icc",
    "/usr/local/share/ghostscript/*/iccprofiles/srgb.icc",
    "/usr/share/color/icc/colord/sRGB.icc",
    "/usr/share/color/icc/sRGB.icc",
)
ICC_PACKAGE = "libgs-common"  # Debian's home of srgb.icc (ghostscript depends on it)

# Messages after which a tool exits 0 although it converted nothing (its output, if any, is a blank stand-in).
_FATAL_DESPITE_SUCCESS = {
    "ghostscript": ("Couldn't initialise file", "No pages will be processed"),
    "libreoffice": ("source file could not be loaded", "no export filter"),
}

_SAFE_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_PROFILE = "{private_url}/profile"
_PDFA_DEF = "{private}/pdfa_def.ps"

# LibreOffice's profile for one run: no macros, no links fetched from the network or the disk while converting
# (a depositor's document could otherwise make the archive fetch URLs or read files).
_LIBREOFFICE_CHOICES = (
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),  # very high: run none
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "0"),  # Writer: never update links
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "1"),  # Calc: never (its own numbering)
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "false"),
)
_LIBREOFFICE_SETTINGS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    + "".join(f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>\n'
              for path, name, value in _LIBREOFFICE_CHOICES)
    + "</oor:items>\n"
)  # fmt: skip


def convert(rule: MigrationRule, source: Path, workdir: Path, runner: ToolRunner) -> Conversion:
    """Run `rule` on `source`; the output is `workdir/output.<rule.extension>`, or None with `run.error` set.

    Raises MissingToolError when the rule's tool is not installed (nothing was tried, so nothing failed).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / f"output.{rule.extension}"
    with _staged(source, workdir, "input") as input_name:
        _remove(output)
        run = _run_rule(rule.tool, rule.args, runner, workdir, input_name, output.name, rule.time_limit,
                        rule.memory_limit)  # fmt: skip
    if run.ok and (not output.is_file() or output.stat().st_size == 0):
        run = dataclasses.replace(run, error=f"{rule.tool} exited with status 0 but made no {rule.extension} file "
                                  "(it could not read the source, or wrote something else)")  # fmt: skip
    run = _fatal_despite_success(run)
    if not run.ok:
        _remove(output)
        return Conversion(rule, source, None, run)
    return Conversion(rule, source, output, run)


def render_pdf(source: Path, workdir: Path, runner: ToolRunner, time_limit: float = 300) -> tuple[ToolRun, Path | None]:
    """LibreOffice's PDF rendering of an office document (its pages, for the page-count check).

    Each call works in a new folder under `workdir`, so a source and its migrated copy can be rendered side by
    side; the PDF is left there for the caller (removed with `workdir`).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="render-", dir=workdir))
    output = folder / "rendered.pdf"
    args = ("--headless", "--norestore", "--nologo", "--nolockcheck", f"-env:UserInstallation={_PROFILE}",
            "--convert-to", "pdf", "--outdir", "{outdir}", "{input}")  # fmt: skip
    with _staged(source, folder, "input") as input_name:
        run = _run_rule("libreoffice", args, runner, folder, input_name, output.name, time_limit, None)
    if run.ok and (not output.is_file() or output.stat().st_size == 0):
        run = dataclasses.replace(run, error="LibreOffice exited with status 0 but rendered no PDF")
    run = _fatal_despite_success(run)
    return (run, output) if run.ok else (run, None)


def find_icc_profile() -> Path | None:
    """The sRGB ICC profile Ghostscript's PDF/A output intent points at, or None."""
    for pattern in ICC_CANDIDATES:
        for found in sorted(glob.glob(pattern), reverse=True):  # newest Ghostscript version first
            if Path(found).is_file():
                return Path(found)
    return None


def pdfa_definition(icc_profile: Path) -> str:
    """Ghostscript's PDFA_def.ps with an sRGB output intent (and no /Title, which Ghostscript's shipped copy
    sets to a placeholder): without the output intent, veraPDF rejects the result."""
    path = str(icc_profile).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"""%!
% Written by Strongroom for one Ghostscript run: the PDF/A output intent (sRGB).
/ICCProfile ({path}) def
[/_objdef {{icc_PDFA}} /type /stream /OBJ pdfmark
[{{icc_PDFA}} << /N 3 >> /PUT pdfmark
[{{icc_PDFA}} ICCProfile (r) file /PUT pdfmark
[/_objdef {{OutputIntent_PDFA}} /type /dict /OBJ pdfmark
[{{OutputIntent_PDFA}} <<
  /Type /OutputIntent
  /S /GTS_PDFA1
  /DestOutputProfile {{icc_PDFA}}
  /OutputConditionIdentifier (sRGB)
>> /PUT pdfmark
[{{Catalog}} << /OutputIntents [ {{OutputIntent_PDFA}} ] >> /PUT pdfmark
"""


# --- internals -------------------------------------------------------------------------------------------


# The demuxers FFmpeg may use on a depositor's file. A text file named .avi can be an HLS or concat playlist that
# pulls any readable media file on the machine (another package's closed recording) into the output, through the
# `file` protocol that every input needs; image sequences read sibling files. Naming the demuxers shuts all of that.
MEDIA_DEMUXERS = ",".join((
    "avi", "mov", "matroska", "webm", "mpeg", "mpegts", "mpegvideo", "m4v", "h264", "hevc", "asf", "wav", "w64",
    "aiff", "flac", "mp3", "ogg", "aac", "ac3", "eac3", "rm", "dv", "flv", "mxf", "gxf", "nut", "wv", "ape",
    "tta", "au", "amr", "voc", "caf", "mpc", "mpc8", "dts", "truehd", "mlp", "yuv4mpegpipe", "ivf", "smk", "bink",
))  # fmt: skip
_FFMPEG_FAMILY = ("ffmpeg", "ffprobe", "check-ffmpeg", "check-ffprobe")
# Output may grow this much beyond the source (FFV1 masters are 10-30 times their source), and at least this much.
OUTPUT_GROWTH = 100
OUTPUT_FLOOR = 1 << 30


def media_inputs_only(tool: str, args: tuple[str, ...]) -> tuple[str, ...]:
    """FFmpeg and ffprobe arguments with the demuxer whitelist before every input, unless the rule sets its own."""
    if tool not in _FFMPEG_FAMILY or "-format_whitelist" in args:
        return args
    guarded: list[str] = []
    for arg in args:
        if arg == "-i":
            guarded += ["-format_whitelist", MEDIA_DEMUXERS]
        guarded.append(arg)
    if tool in ("ffprobe", "check-ffprobe") and "-i" not in args:
        guarded = ["-format_whitelist", MEDIA_DEMUXERS, *guarded]
    return tuple(guarded)


def output_limit(source: Path) -> int:
    """The largest file a tool may write for this source (RLIMIT_FSIZE): a few-KB file must not fill the disk."""
    try:
        size = source.stat().st_size
    except OSError:
        size = 0
    return max(OUTPUT_FLOOR, size * OUTPUT_GROWTH)


def _fatal_despite_success(run: ToolRun) -> ToolRun:
    if not run.ok:
        return run
    for phrase in _FATAL_DESPITE_SUCCESS.get(run.tool, ()):
        if phrase in run.stderr:
            return dataclasses.replace(run, error=f"{run.tool} exited with status 0 but said {phrase!r}: "
                                       "it converted nothing")  # fmt: skip
    return run


def _run_rule(
    tool: str, args: tuple[str, ...], runner: ToolRunner, workdir: Path, input_name: str, output_name: str,
    time_limit: float, memory_limit: int | None,
) -> ToolRun:  # fmt: skip
    named = {m.group(1) for a in args for m in _PLACEHOLDER.finditer(a)}
    values = {"input": input_name, "output": output_name, "profile": _PROFILE, "pdfa_def": _PDFA_DEF,
              "private": "{private}", "private_url": "{private_url}"}  # fmt: skip
    icc: Path | None = None
    if named & {"icc_dir", "pdfa_def"}:
        icc = find_icc_profile()
        if icc is None:
            # Asked before running anything, so the event says exactly what to install.
            return ToolRun(tool, runner.version(tool), (runner.require(tool), *args), None, 0.0, "",
                           f"no sRGB ICC profile found for the PDF/A output intent (looked for "
                           f"{', '.join(ICC_CANDIDATES)}); install the Debian package {ICC_PACKAGE}")  # fmt: skip
        values["icc_dir"] = str(icc.parent)
    outdir: Path | None = None
    if "outdir" in named:
        outdir = workdir / "outdir"
        shutil.rmtree(outdir, ignore_errors=True)
        outdir.mkdir()
        values["outdir"] = outdir.name
    # One pass: a value that happens to contain "{output}" is never expanded again.
    final = media_inputs_only(tool, tuple(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), a)
                                          for a in args))  # fmt: skip
    uses_profile = any(_PROFILE in a for a in final)
    uses_pdfa = any(_PDFA_DEF in a for a in final)

    def prepare(private: Path) -> None:
        if uses_profile:
            user = private / "profile" / "user"
            user.mkdir(parents=True)
            (user / "registrymodifications.xcu").write_text(_LIBREOFFICE_SETTINGS, "utf-8")
        if uses_pdfa and icc is not None:
            (private / "pdfa_def.ps").write_text(pdfa_definition(icc), "utf-8")

    try:
        run = runner.run(tool, final, workdir=workdir, time_limit=time_limit, memory_limit=memory_limit,
                         prepare=prepare, output_limit=output_limit(workdir / input_name))  # fmt: skip
        if outdir is not None:
            _collect(outdir, input_name, output_name, workdir)
        return run
    finally:
        if outdir is not None:
            shutil.rmtree(outdir, ignore_errors=True)


def _collect(outdir: Path, input_name: str, output_name: str, workdir: Path) -> None:
    """Move the file a tool wrote into `outdir` (named after the input, with the output's extension) into place."""
    stem = input_name.split(".", 1)[0]
    extension = output_name.rsplit(".", 1)[-1]
    made = outdir / f"{stem}.{extension}"
    if made.is_file():
        os.replace(made, workdir / output_name)


@contextlib.contextmanager
def _staged(source: Path, workdir: Path, stem: str) -> Iterator[str]:
    """`source` under a safe relative name in `workdir` for the length of the block."""
    suffix = source.suffix if _SAFE_EXTENSION.match(source.suffix) else ""
    name = f"{stem}{suffix.lower()}"
    target = workdir / name
    if target.exists() and _same_file(source, target):
        yield name  # the source already sits there under that name: never remove it
        return
    _remove(target)
    _link_or_copy(source, target)
    try:
        yield name
    finally:
        _remove(target)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP):
            raise
        shutil.copyfile(source, target)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
