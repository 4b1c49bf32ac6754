"""Prove a conversion faithful: every significant-property check its rule asks for, with real tools.

`verify` takes a `Conversion` (one rule run on one file, strongroom/preservation/convert.py) and returns a copy
with one `CheckResult` per kind in `rule.checks`: the output re-identified (FORMAT), images pixel-exact (PIXELS,
significant_image.py), the same page count (PAGES), the source's words found in the output (TEXT), decoded audio and
video equal or within tolerance (STREAMS, AV_PROPERTIES, significant_av.py) and PDF/A valid by veraPDF (PDFA).

The reference side of every comparison is measured independently of the rule's own tool: a Word document's pages are
counted in a rendering by the real LibreOffice of this machine (`CHECK_TOOLS`), never by whatever program the rule
ran, so a broken or tampered converter that drops a page cannot vouch for itself. A check that cannot run (its tool
is missing) is NOT_CHECKED and names the Debian package; a tool that fails on the output makes the check FAILED, with
why. Every run has a time limit (the rule's own), and nothing here raises: a check that breaks is FAILED.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from strongroom.errors import StrongroomError
from strongroom.model import Basis, Identification
from strongroom.preservation.actions import CheckKind, CheckResult, CheckStatus, Conversion, ToolRun
from strongroom.preservation.convert import media_inputs_only, render_pdf
from strongroom.preservation.toolrun import MissingToolError, ToolRunner, ToolSpec
from strongroom.search.query import tokens
from strongroom.tools import CHARACTERISATION_PROBES, INSTALL_HINT, find_tools, tool_named

# The tools the checks measure with. Named apart from the policy's conversion tools on purpose: the reference
# measurement must come from the real program, whatever executable a rule's "libreoffice" or "imagemagick" names.
CHECK_TOOLS: Mapping[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("check-compare", ("compare-im6.q16", "compare"), "imagemagick", ("-version",),
                 r"ImageMagick ([0-9][^\s]*)", "compares images pixel by pixel (PIXELS)"),
        ToolSpec("check-identify", ("identify-im6.q16", "identify"), "imagemagick", ("-version",),
                 r"ImageMagick ([0-9][^\s]*)", "reads image dimensions, bit depth and frames (PIXELS)"),
        ToolSpec("check-convert", ("convert-im6.q16", "convert"), "imagemagick", ("-version",),
                 r"ImageMagick ([0-9][^\s]*)", "composes animation frames for the pixel check (PIXELS)"),
        ToolSpec("check-ffmpeg", ("ffmpeg",), "ffmpeg", ("-version",), r"ffmpeg version ([^\s]+)",
                 "decodes audio and video streams to hash them (STREAMS)"),
        ToolSpec("check-ffprobe", ("ffprobe",), "ffmpeg", ("-version",), r"ffprobe version ([^\s]+)",
                 "reads duration, channels, sample rate and frame size (STREAMS, AV_PROPERTIES)"),
        ToolSpec("check-pdfinfo", ("pdfinfo",), "poppler-utils", ("-v",), r"pdfinfo version ([0-9][0-9.]*)",
                 "counts the pages of PDFs (PAGES)"),
        ToolSpec("check-pdftotext", ("pdftotext",), "poppler-utils", ("-v",), r"pdftotext version ([0-9][0-9.]*)",
                 "extracts the text of PDFs (TEXT)"),
        # "libreoffice" as convert.render_pdf names it: the real LibreOffice, whatever a policy's rule runs
        ToolSpec("libreoffice", ("soffice", "libreoffice"),
                 "libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui", ("--version",),
                 r"LibreOffice ([0-9][0-9.]*)", "renders office documents to PDF to count their pages (PAGES, TEXT)"),
    )
}  # fmt: skip
MAX_TEXT = 64 * 1024 * 1024  # characters of extracted text read per side; more is not needed to compare vocabularies
VERAPDF_MISSING = f"veraPDF is not installed ({INSTALL_HINT})"

Identify = Callable[[Path], Identification]


class CheckProblem(Exception):
    """Ends one check early with a verdict: FAILED (the output or the measurement is wrong) or NOT_CHECKED."""

    def __init__(self, status: CheckStatus, detail: str, tool: str | None = None, version: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.tool, self.version = status, detail, tool, version


def failed(detail: str, tool: str | None = None, version: str | None = None) -> CheckProblem:
    return CheckProblem(CheckStatus.FAILED, detail, tool, version)


@dataclass
class CheckContext:
    """What the checks of one verify() call share: the tools, a scratch folder and measurements made once."""

    conversion: Conversion
    source_puid: str | None
    runner: ToolRunner
    workdir: Path
    environ: Mapping[str, str]
    identify: Identify
    renderings: dict[str, Path] = field(default_factory=dict)  # "source"/"output" -> LibreOffice's PDF of it
    links: dict[str, Path] = field(default_factory=dict)
    _counter: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def time_limit(self) -> float:
        """What is left of the rule's time limit: it bounds all of one verify() (an animation of thousands of frames
        compared frame by frame included), not each tool run."""
        left = self.conversion.rule.time_limit - (time.monotonic() - self.started)
        if left <= 0:
            raise self.out_of_time()
        return left

    def out_of_time(self) -> CheckProblem:
        limit = self.conversion.rule.time_limit
        return failed(f"the checks did not finish within the rule's time limit of {limit:g} s")

    @property
    def output(self) -> Path:
        assert self.conversion.output is not None  # verify() checks only conversions that made an output
        return self.conversion.output

    def folder(self, name: str) -> Path:
        """A fresh scratch folder under the checks' workdir."""
        self._counter += 1
        path = self.workdir / f"{self._counter:02d}-{name}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def safe(self, side: str) -> Path:
        """The source or output under a plain name (a link): ImageMagick reads `[`, `*`, `%` and `fmt:` in names, and
        ffmpeg reads `proto:`, so a depositor's file name never reaches a tool's argument list as it is."""
        if side not in self.links:
            original = self.conversion.source if side == "source" else self.output
            suffix = original.suffix.lower()
            suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""  # coders without magic need it (TGA)
            link = self.workdir / f"{side}{suffix}"
            link.unlink(missing_ok=True)
            try:
                link.symlink_to(original.resolve())
            except OSError:
                shutil.copyfile(original, link)
            self.links[side] = link
        return self.links[side]

    def version(self, name: str) -> str:
        try:
            return self.runner.version(name)
        except MissingToolError:
            return "unknown"

    def run(
        self, name: str, args: list[str], *, stdout: Path | None = None, ok_status: tuple[int, ...] = (0,)
    ) -> ToolRun:
        """Run a check tool; MissingToolError becomes NOT_CHECKED, a run that fails or times out FAILED."""
        args = list(media_inputs_only(name, tuple(args)))  # never an HLS/concat playlist's files
        try:
            run = self.runner.run(name, args, workdir=self.folder(name), time_limit=self.time_limit, stdout=stdout)
        except MissingToolError as err:
            raise CheckProblem(CheckStatus.NOT_CHECKED, err.message, tool_label(name)) from None
        if run.exit_status is None and time.monotonic() - self.started >= self.conversion.rule.time_limit:
            raise self.out_of_time()  # the run was cut short by what was left of the whole verify()'s time
        if run.exit_status is None or run.exit_status not in ok_status:
            why = run.error or f"exit status {run.exit_status}"
            raise failed(f"{_program(run)} failed: {why}{_said(run.stderr)}", tool_label(name), run.version)
        return run


def tool_label(name: str) -> str:
    """The tool a CheckResult names for one of `CHECK_TOOLS`: "imagemagick", "ffprobe", "pdfinfo" ..."""
    spec = CHECK_TOOLS.get(name)
    return spec.debian_package if spec and spec.debian_package == "imagemagick" else name.removeprefix("check-")


def _program(run: ToolRun) -> str:
    return Path(run.argv[0]).name if run.argv else run.tool


def _said(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    return f" ({'; '.join(lines[-3:])[:400]})" if lines else ""


def is_pdf(path: Path) -> bool:
    """True when the file starts (within its first KiB, as readers allow) with the PDF header."""
    try:
        with path.open("rb") as handle:
            return b"%PDF-" in handle.read(1024)
    except OSError:
        return False


def _is_plain_text(ctx: CheckContext, side: str) -> bool:
    return side == "output" and ctx.conversion.rule.extension.lower() == "txt"


# -- FORMAT ------------------------------------------------------------------------------------------------------


def _check_format(ctx: CheckContext) -> tuple[CheckResult, Identification | None]:
    expected = ctx.conversion.rule.output_puids
    try:
        found = ctx.identify(ctx.output)
    except (StrongroomError, OSError) as err:
        return CheckResult(CheckKind.FORMAT, CheckStatus.FAILED, f"the output could not be identified: {err}"), None
    if found.puid is None:
        detail = f"the output was not identified as any format; expected {_one_of(expected)}"
        return CheckResult(CheckKind.FORMAT, CheckStatus.FAILED, detail, found.tool, found.tool_version), found
    name = f"{found.puid} ({found.format_name})" if found.format_name else found.puid
    if found.puid in expected and found.basis in (Basis.EXTENSION, Basis.NONE):
        # Random bytes named output.flac are "FLAC" by extension: only the content's signature proves the format.
        status, detail = CheckStatus.FAILED, f"named like {name}, but its content matches no signature of that format"
    elif found.puid in expected:
        status, detail = CheckStatus.PASSED, f"identified as {name} by its {found.basis.value}, as expected"
    else:
        status, detail = CheckStatus.FAILED, f"identified as {name}; expected {_one_of(expected)}"
    return CheckResult(CheckKind.FORMAT, status, detail, found.tool, found.tool_version), found


def _one_of(puids: tuple[str, ...]) -> str:
    return puids[0] if len(puids) == 1 else "one of " + ", ".join(puids)


# -- PAGES and TEXT ----------------------------------------------------------------------------------------------


def rendering(ctx: CheckContext, side: str) -> Path:
    """LibreOffice's PDF of an office document (the source or the output), made once per verify()."""
    if side in ctx.renderings:
        return ctx.renderings[side]
    folder = ctx.folder(f"render-{side}")
    try:
        run, pdf = render_pdf(ctx.safe(side), folder, ctx.runner, time_limit=ctx.time_limit)
    except MissingToolError as err:
        raise CheckProblem(CheckStatus.NOT_CHECKED, err.message, "libreoffice") from None
    if pdf is None or not run.ok:
        why = run.error or "it made no PDF"
        raise failed(f"LibreOffice could not render the {side} to count and read it: {why}{_said(run.stderr)}",
                     "libreoffice", run.version)  # fmt: skip
    ctx.renderings[side] = pdf
    return pdf


def _page_count(ctx: CheckContext, side: str) -> tuple[int, str]:
    """The page count of the source or output and how it was measured."""
    path = ctx.safe(side)
    how = "pdfinfo"
    if not is_pdf(path):
        path, how = rendering(ctx, side), "its LibreOffice rendering"
    report = ctx.folder("pdfinfo") / "info.txt"
    ctx.run("check-pdfinfo", [str(path)], stdout=report)
    match = re.search(r"^Pages:\s+(\d+)\s*$", report.read_text("utf-8", "replace"), re.MULTILINE)
    if match is None:
        raise failed(f"pdfinfo did not report a page count for the {side}", "pdfinfo", ctx.version("check-pdfinfo"))
    return int(match.group(1)), how


def _check_pages(ctx: CheckContext) -> CheckResult:
    source, source_how = _page_count(ctx, "source")
    output, output_how = _page_count(ctx, "output")
    tools = {source_how, output_how}
    tool, version = ("pdfinfo", ctx.version("check-pdfinfo"))
    if "pdfinfo" not in tools or len(tools) > 1:
        tool, version = "libreoffice+pdfinfo", f"{ctx.version('libreoffice')}+{ctx.version('check-pdfinfo')}"
    where = _where(source_how, output_how)
    if source == output:
        return CheckResult(CheckKind.PAGES, CheckStatus.PASSED, f"{_pages(source)} in {where}", tool, version)
    detail = f"{_pages(source)} in the source but {output} in the output ({_how(source_how, output_how)})"
    return CheckResult(CheckKind.PAGES, CheckStatus.FAILED, detail, tool, version)


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def _where(source_how: str, output_how: str) -> str:
    source = "the source's LibreOffice rendering" if source_how != "pdfinfo" else "the source"
    output = "the output's LibreOffice rendering" if output_how != "pdfinfo" else "the output"
    return f"{source} and in {output}"


def _how(source_how: str, output_how: str) -> str:
    return f"source: {source_how}; output: {output_how}"


def _text_of(ctx: CheckContext, side: str) -> tuple[str, str]:
    """The text of one side and how it was extracted: pdftotext on a PDF or on LibreOffice's rendering of an office
    document (one rendering serves PAGES and TEXT, and works for spreadsheets and slides, which LibreOffice's text
    export does not), or the file itself when the output is plain text."""
    path = ctx.safe(side)
    if _is_plain_text(ctx, side):
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_TEXT), "read as UTF-8 text"
    how = "pdftotext"
    if not is_pdf(path):
        path, how = rendering(ctx, side), "pdftotext of its LibreOffice rendering"
    text_file = ctx.folder("pdftotext") / "text.txt"
    ctx.run("check-pdftotext", ["-q", "-enc", "UTF-8", str(path), str(text_file)])
    try:
        with text_file.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(MAX_TEXT), how
    except FileNotFoundError:
        raise failed(f"pdftotext wrote no text for the {side}", "pdftotext", ctx.version("check-pdftotext")) from None


def _check_text(ctx: CheckContext) -> CheckResult:
    rule = ctx.conversion.rule
    source_text, source_how = _text_of(ctx, "source")
    source_words = set(tokens(source_text))
    tool = "pdftotext"
    version = ctx.version("check-pdftotext")
    if "LibreOffice" in source_how:
        tool, version = "libreoffice+pdftotext", f"{ctx.version('libreoffice')}+{version}"
    if not source_words:
        detail = f"the source has no words to compare ({source_how} found none: a scan without a text layer?)"
        return CheckResult(CheckKind.TEXT, CheckStatus.NOT_CHECKED, detail, tool, version)
    output_text, output_how = _text_of(ctx, "output")
    found = len(source_words & set(tokens(output_text)))
    share = found / len(source_words)
    status = CheckStatus.PASSED if share >= rule.text_overlap else CheckStatus.FAILED
    detail = (f"{_percent(share)} of the source's {len(source_words)} distinct words found in the output "
              f"(minimum {_percent(rule.text_overlap)}; source: {source_how}; output: {output_how})")  # fmt: skip
    return CheckResult(CheckKind.TEXT, status, detail, tool, version)


def _percent(share: float) -> str:
    # Never round a failing share up to the minimum it failed ("90%" below 90%): whole percent only when exact.
    whole = round(share * 100)
    return f"{whole}%" if abs(share * 100 - whole) < 1e-9 else f"{share * 100:.1f}%"


# -- PDFA --------------------------------------------------------------------------------------------------------


def _check_pdfa(ctx: CheckContext) -> CheckResult:
    flavour = ctx.conversion.rule.pdfa_flavour
    probes = tuple(probe for probe in CHARACTERISATION_PROBES if probe.__name__ == "_probe_verapdf")
    verapdf = tool_named(find_tools(ctx.environ, probes=probes), "verapdf")
    if verapdf is None or verapdf.command is None:
        return CheckResult(CheckKind.PDFA, CheckStatus.NOT_CHECKED, VERAPDF_MISSING, "verapdf")
    version = verapdf.version or "unknown"
    if not is_pdf(ctx.output):
        return CheckResult(CheckKind.PDFA, CheckStatus.FAILED, "the output is not a PDF", "verapdf", version)
    report = ctx.folder("verapdf") / "report.json"
    spec = ToolSpec(
        "check-verapdf",
        (verapdf.command[0],),
        "default-jre-headless",
        ("-version",),
        r'version "([^"]+)"',
        "validates PDF/A (veraPDF, a Java program)",
        "veraPDF",
    )
    runner = ToolRunner({spec.name: spec}, ctx.environ, concurrency=1)
    args = [*verapdf.command[1:], "--format", "json", "--maxfailuresdisplayed", "3", "-f", flavour, str(ctx.output)]
    try:
        run = runner.run(spec.name, args, workdir=ctx.folder("verapdf-run"), time_limit=ctx.time_limit, stdout=report)
    except MissingToolError as err:
        return CheckResult(CheckKind.PDFA, CheckStatus.NOT_CHECKED, err.message, "verapdf", version)
    if run.exit_status not in (0, 1):  # 0 compliant, 1 not compliant; anything else is veraPDF's own failure
        why = run.error or f"exit status {run.exit_status}"
        raise failed(f"veraPDF {version} failed: {why}{_said(run.stderr)}", "verapdf", version)
    return _pdfa_verdict(report, flavour, version)


def _pdfa_verdict(report: Path, flavour: str, version: str) -> CheckResult:
    try:
        job = json.loads(report.read_text("utf-8", "replace"))["report"]["jobs"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise failed(f"veraPDF {version} wrote no readable report", "verapdf", version) from None
    results = job.get("validationResult") or []
    results = results if isinstance(results, list) else [results]
    if not results:
        why = job.get("taskException") or job.get("taskResult") or "no validation result"
        raise failed(f"veraPDF {version} could not validate the output: {_short(why)}", "verapdf", version)
    result = results[0]
    label = f"PDF/A-{flavour}"
    if result.get("compliant") is True:
        return CheckResult(CheckKind.PDFA, CheckStatus.PASSED, f"veraPDF {version}: {label} compliant", "verapdf",
                           version)  # fmt: skip
    rules = [r for r in result.get("details", {}).get("ruleSummaries", []) if r.get("status") == "failed"]
    count = result.get("details", {}).get("failedRules", len(rules))
    listed = "; ".join(f"{r.get('clause')}-{r.get('testNumber')} {_short(r.get('description', ''), 90)}"
                       for r in rules[:5])  # fmt: skip
    detail = f"veraPDF {version}: not {label} compliant, {count} rule{'s' if count != 1 else ''} failed: {listed}"
    return CheckResult(CheckKind.PDFA, CheckStatus.FAILED, detail, "verapdf", version)


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- verify ------------------------------------------------------------------------------------------------------


def checks_runner(environ: Mapping[str, str] | None = None) -> ToolRunner:
    """The runner the checks measure with: the real tools of this machine (`CHECK_TOOLS`), never the caller's
    table, where a policy may point "libreoffice" or "imagemagick" at another executable that must not vouch for
    its own output. One run at a time: a verify() call is one step of the caller's own bounded work."""
    return ToolRunner(CHECK_TOOLS, environ, concurrency=1)


def verify(
    conversion: Conversion,
    source_puid: str | None,
    runner: ToolRunner,
    identify: Identify,
    workdir: Path,
    environ: Mapping[str, str] | None = None,
) -> Conversion:
    """`conversion` with one CheckResult per kind its rule asks for and the output's identification.

    A conversion whose run failed or made no output is returned as it is: there is nothing to check.
    `runner` is the one that made the conversion; the checks measure with a runner of their own over
    `CHECK_TOOLS` (see `checks_runner`), so a tool named in the policy never checks its own work. `environ`
    (default: this process's) is where those tools and veraPDF are looked for.
    """
    if not conversion.run.ok or conversion.output is None:
        return conversion
    env = dict(os.environ if environ is None else environ)
    folder = workdir / "checks"
    folder.mkdir(parents=True, exist_ok=True)
    ctx = CheckContext(conversion, source_puid, checks_runner(env), folder, env, identify)
    results: list[CheckResult] = []
    identification: Identification | None = conversion.identification
    for kind in dict.fromkeys(conversion.rule.checks):  # each kind once, in the rule's order
        if kind is CheckKind.FORMAT:
            result, identification = _check_format(ctx)
        else:
            result = run_check(ctx, kind)
        results.append(result)
    return replace(conversion, checks=tuple(results), identification=identification)


def run_check(ctx: CheckContext, kind: CheckKind) -> CheckResult:
    """One check's verdict; every way it can go wrong becomes a result, never an exception."""
    from strongroom.preservation.significant_av import check_av_properties, check_streams
    from strongroom.preservation.significant_image import check_pixels

    checks: dict[CheckKind, Callable[[CheckContext], CheckResult]] = {
        CheckKind.PIXELS: check_pixels, CheckKind.PAGES: _check_pages, CheckKind.TEXT: _check_text,
        CheckKind.STREAMS: check_streams, CheckKind.AV_PROPERTIES: check_av_properties, CheckKind.PDFA: _check_pdfa,
    }  # fmt: skip
    try:
        return checks[kind](ctx)
    except CheckProblem as problem:
        return CheckResult(kind, problem.status, problem.detail, problem.tool, problem.version)
    except (OSError, ValueError, StrongroomError) as err:  # a measurement that broke proves nothing: not kept
        return CheckResult(kind, CheckStatus.FAILED, f"the check could not be completed: {err}")
