"""Characterisation and validation with external tools, chosen by PUID from a policy kept as data.

JHOVE (module forced), veraPDF (PDF/A claims), MediaInfo (audio and video) and ExifTool (embedded metadata) each
run once per batch of files — one JVM for many files — with the batches in parallel. A batch gets an optimistic
time budget; one that overruns it (a file that hangs the tool) is killed and its files run one by one, each with
the per-file limit, so only the slow file ends "not checked: timed out". A missing tool leaves its results out; an
invalid file is a result, never an exception.

The policy ships in strongroom/data/characterisation.toml (see its header for the layout).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.config import read_policy
from strongroom.errors import ConfigError
from strongroom.tools import ToolStatus, tool_named

JHOVE_MODULES = frozenset(
    {"PDF-hul", "TIFF-hul", "JPEG-hul", "JPEG2000-hul", "GIF-hul", "WAVE-hul", "AIFF-hul", "XML-hul", "HTML-hul",
     "UTF8-hul"}
)  # fmt: skip
TOOL_NAMES = {"jhove": "JHOVE", "verapdf": "veraPDF", "mediainfo": "MediaInfo", "exiftool": "ExifTool"}
MAX_MESSAGES = 20  # per tool and file: a broken TIFF can make JHOVE write thousands
BATCH_SIZE = {"jhove": 50, "verapdf": 20, "mediainfo": 100, "exiftool": 200}
PER_FILE_ALLOWANCE = 5.0  # seconds each extra file adds to a batch's budget (capped by the per-file limit)


# --- policy -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormatChecks:
    """The tools run on one format."""

    group: str
    jhove_module: str | None = None
    verapdf: bool = False
    mediainfo: bool = False
    exiftool: bool = False


@dataclass(frozen=True)
class Policy:
    version: str
    by_puid: Mapping[str, FormatChecks]

    def checks_for(self, puid: str | None) -> FormatChecks | None:
        return self.by_puid.get(puid) if puid else None


def load_policy(path: Path | None = None) -> Policy:
    """The packaged policy, or the one at `path` (same layout)."""
    policy = read_policy("characterisation.toml", path, "characterisation policy")
    data, where = policy.data, policy.where
    by_puid: dict[str, FormatChecks] = {}
    for name, group in data.get("groups", {}).items():
        module = group.get("jhove")
        if module is not None and module not in JHOVE_MODULES:
            raise ConfigError(f"{where}: group {name!r} names JHOVE module {module!r}; use one of "
                              + ", ".join(sorted(JHOVE_MODULES)) + ".")  # fmt: skip
        unknown = set(group) - {"description", "jhove", "verapdf", "mediainfo", "exiftool", "puids"}
        if unknown:
            raise ConfigError(f"{where}: group {name!r} has unknown keys {sorted(unknown)}.")
        checks = FormatChecks(name, module, bool(group.get("verapdf")), bool(group.get("mediainfo")),
                              bool(group.get("exiftool")))  # fmt: skip
        for puid in group.get("puids", []):
            if puid in by_puid:
                raise ConfigError(f"{where}: {puid} is in groups {by_puid[puid].group!r} and {name!r}; keep it in one.")
            by_puid[puid] = checks
    return Policy(str(data.get("policy", {}).get("version", "")), by_puid)


# --- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolResult:
    tool: str  # JHOVE, veraPDF, MediaInfo, ExifTool
    version: str
    well_formed: bool | None  # None: this tool does not judge it (metadata only), or could not run
    valid: bool | None
    format_name: str | None
    messages: tuple[str, ...]
    properties: Mapping[str, str] = field(default_factory=dict)


_RANK = {"invalid": 0, "well-formed": 1, "valid": 2}


@dataclass(frozen=True)
class FileCharacterisation:
    label: str
    results: tuple[ToolResult, ...]

    @property
    def verdict(self) -> str:
        """The worst judgement of any validating tool, on JHOVE's scale: "invalid" (not well-formed),
        "well-formed" (but not valid, or validity not checked), "valid"; "not checked" when no tool judged it."""
        verdicts = [_judge(r) for r in self.results]
        judged = [v for v in verdicts if v is not None]
        return min(judged, key=_RANK.__getitem__) if judged else "not checked"

    @property
    def reason(self) -> str:
        """One line for people: the verdict and what led to it."""
        verdict = self.verdict
        if verdict == "not checked":
            notes = [m for r in self.results for m in r.messages if m.startswith("not checked")]
            return notes[0] if notes else "not checked: no validating tool for this format, or none installed"
        tools = [r.tool for r in self.results if _judge(r) == verdict]
        firsts = [r.messages[0] for r in self.results if _judge(r) == verdict and r.messages]
        return f"{verdict} ({', '.join(tools)})" + (f": {firsts[0]}" if firsts and verdict != "valid" else "")


def _judge(result: ToolResult) -> str | None:
    if result.well_formed is False:
        return "invalid"
    if result.valid is False:
        return "well-formed"
    if result.valid is True:
        return "valid"
    return "well-formed" if result.well_formed else None


def _not_checked(tool: str, version: str | None, why: str) -> ToolResult:
    return ToolResult(TOOL_NAMES[tool], version or "", None, None, None, (f"not checked: {why}",), {})


def _skipped(tool: str, version: str) -> ToolResult:
    return _not_checked(tool, version, f"{TOOL_NAMES[tool]} could not read the file")


def _capped(messages: list[str]) -> tuple[str, ...]:
    if len(messages) <= MAX_MESSAGES:
        return tuple(messages)
    return (*messages[:MAX_MESSAGES], f"... and {len(messages) - MAX_MESSAGES} more")


# --- running tools ----------------------------------------------------------------------------------


class _Unreadable(Exception):
    """The tool's output could not be read (crashed, killed, or not the expected shape)."""


@dataclass(frozen=True)
class _Batch:
    tool: str
    module: str | None
    indices: tuple[int, ...]


@dataclass(frozen=True)
class _Run:
    stdout: bytes
    stderr: bytes
    timed_out: bool


def _execute(argv: Sequence[str], limit: float) -> _Run:
    """Run argv with output to temp files (no pipe can fill up); kill its whole process group at the limit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        timed_out = False
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        out.seek(0)
        err.seek(0)
        return _Run(out.read(), err.read(), timed_out)


class Characteriser:
    """Runs the policy's tools over files; build one per ingest with the tools `find_tools` found."""

    def __init__(self, tools: Sequence[ToolStatus], policy: Policy, *, timeout_per_file: float = 120.0) -> None:
        self._tools = {name: tool_named(tools, name) for name in TOOL_NAMES}
        self._policy = policy
        self._timeout = timeout_per_file

    def characterise(
        self,
        files: Sequence[tuple[Path, str, str | None]],
        *,
        workers: int = 2,
        progress: Callable[[int], None] | None = None,
    ) -> list[FileCharacterisation]:
        """(path, label, puid) in; one FileCharacterisation per file, in input order. `progress` gets the number
        of files finished so far."""
        paths = [Path(os.path.abspath(path)) for path, _, _ in files]
        batches = self._plan([puid for _, _, puid in files])
        results: list[list[ToolResult]] = [[] for _ in files]
        pending = [0] * len(files)
        for batch in batches:
            for index in batch.indices:
                pending[index] += 1
        done = sum(1 for count in pending if count == 0)
        reported = 0
        if progress and done:
            reported = done
            progress(done)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures: dict[Future[list[ToolResult]], _Batch] = {
                pool.submit(self._run_batch, batch, [paths[i] for i in batch.indices]): batch for batch in batches
            }
            for future in as_completed(futures):
                batch = futures[future]
                for index, result in zip(batch.indices, future.result(), strict=True):
                    results[index].append(result)
                    pending[index] -= 1
                    done += pending[index] == 0
                if progress and done > reported:
                    reported = done
                    progress(done)
        order = list(TOOL_NAMES.values())  # a stable order of results whatever batch finished first
        return [
            FileCharacterisation(label, tuple(sorted(results[i], key=lambda r: order.index(r.tool))))
            for i, (_, label, _) in enumerate(files)
        ]

    def _plan(self, puids: Sequence[str | None]) -> list[_Batch]:
        groups: dict[tuple[str, str | None], list[int]] = {}
        for index, puid in enumerate(puids):
            checks = self._policy.checks_for(puid)
            if checks is None:
                continue
            wanted: list[tuple[str, str | None]] = []
            if checks.jhove_module:
                wanted.append(("jhove", checks.jhove_module))
            wanted += [(tool, None) for tool in ("verapdf", "mediainfo", "exiftool") if getattr(checks, tool)]
            for key in wanted:
                if self._tools[key[0]] is not None:  # a missing tool: its results are simply absent
                    groups.setdefault(key, []).append(index)
        batches = []
        for (tool, module), indices in groups.items():
            size = BATCH_SIZE[tool]
            batches += [_Batch(tool, module, tuple(indices[i : i + size])) for i in range(0, len(indices), size)]
        # The JVM tools first: they take longest, so the quick ones fill in around them.
        return sorted(batches, key=lambda b: b.tool not in ("jhove", "verapdf"))

    def _budget(self, count: int) -> float:
        if count == 1:
            return self._timeout
        return self._timeout + min(self._timeout, PER_FILE_ALLOWANCE) * count

    def _run_batch(self, batch: _Batch, paths: list[Path]) -> list[ToolResult]:
        tool = self._tools[batch.tool]
        assert tool is not None and tool.command is not None  # _plan only batches tools that were found
        argv = [*tool.command, *_ARGS[batch.tool](batch.module), *(str(p) for p in paths)]
        run = _execute(argv, self._budget(len(paths)))
        if not run.timed_out:
            try:
                return _PARSERS[batch.tool](run.stdout, paths, tool.version or "")
            except _Unreadable as exc:
                problem = str(exc) or _tail(run.stderr)
        else:
            problem = f"timed out after {self._budget(len(paths)):.0f} s"
        if len(paths) > 1:  # one file spoiled the batch: run each alone, with the per-file limit
            return [result for path in paths for result in self._run_batch(batch, [path])]
        if run.timed_out:
            return [_not_checked(batch.tool, tool.version, f"timed out after {self._timeout:.0f} s")]
        return [_not_checked(batch.tool, tool.version, f"{TOOL_NAMES[batch.tool]} failed: {problem}")]


def _tail(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def _load_json(stdout: bytes) -> Any:
    if not stdout.strip():
        raise _Unreadable("")  # the caller reports the last line of stderr instead
    try:
        return json.loads(stdout.decode("utf-8", "replace"))
    except ValueError as exc:
        raise _Unreadable("its output was not JSON") from exc


def _match(entries: list[dict[str, Any]], paths: list[Path], name_of: Callable[[dict[str, Any]], Any]) -> list[Any]:
    """Each path's entry (None if the tool skipped it): by the file name the tool echoes, else by position."""
    by_name = {str(name_of(entry)): entry for entry in entries}
    matched = [by_name.get(str(path)) for path in paths]
    if sum(entry is not None for entry in matched) == len(entries):
        return matched  # every report found its file; a file with none was skipped (e.g. unreadable)
    if len(entries) != len(paths):
        raise _Unreadable(f"it reported on {len(entries)} of {len(paths)} files")
    return list(entries)


# JHOVE -----------------------------------------------------------------------------------------------

_JHOVE_STATUS = {
    "well-formed and valid": (True, True),
    "well-formed, but not valid": (True, False),
    "well-formed": (True, None),
    "not well-formed": (False, False),
}
# How JHOVE reports an external DTD or schema it was not allowed to fetch (JAXP limit, or the closed proxy).
_EXTERNAL_BLOCKED = ("access is not allowed due to restriction", "java.net.")


def _jhove_args(module: str | None) -> list[str]:
    return ["-m", module or "BYTESTREAM", "-h", "json"]


def _parse_jhove(stdout: bytes, paths: list[Path], version: str) -> list[ToolResult]:
    data = _load_json(stdout)
    try:
        release = str(data["jhove"].get("release") or version)
        infos = list(data["jhove"]["repInfo"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise _Unreadable("its JSON had no jhove.repInfo") from exc
    matched = _match(infos, paths, lambda info: info.get("uri"))
    return [_jhove_result(info, release) if info else _skipped("jhove", release) for info in matched]


def _jhove_result(info: dict[str, Any], release: str) -> ToolResult:
    status = str(info.get("status", ""))
    well_formed, valid = _JHOVE_STATUS.get(status.lower(), (None, None))
    messages = []
    errors = []
    for message in info.get("messages") or []:
        text = str(message.get("message", ""))
        if message.get("subMessage"):
            text += f" ({message['subMessage']})"
        code = message.get("id")
        severity = str(message.get("severity", "")).lower()
        messages.append(f"{code}: {text}" if code else text)
        if severity == "error":
            errors.append(text)
    if well_formed is False and errors and all(any(b in e for b in _EXTERNAL_BLOCKED) for e in errors):
        # Only an external DTD or schema it was not allowed to fetch: that is not the file's fault.
        well_formed, valid = None, None
        messages.insert(0, "not checked: needs an external DTD or schema (Strongroom never downloads them)")
    module = info.get("reportingModule") or {}
    properties = {"status": status, "module": f"{module.get('name', '')} {module.get('release', '')}".strip()}
    for key, name in (("version", "format_version"), ("mimeType", "mime_type")):
        if info.get(key):
            properties[name] = str(info[key])
    if info.get("profiles"):
        properties["profiles"] = "; ".join(str(p) for p in info["profiles"])
    format_name = " ".join(str(info[k]) for k in ("format", "version") if info.get(k)) or None
    return ToolResult("JHOVE", release, well_formed, valid, format_name, _capped(messages), properties)


# veraPDF ---------------------------------------------------------------------------------------------


def _verapdf_args(module: str | None) -> list[str]:
    # -f 0: the flavour the file claims; --nonpdfext: transfers keep their own names, .pdf or not.
    return ["--format", "json", "-f", "0", "--nonpdfext", "--maxfailuresdisplayed", "1"]


def _parse_verapdf(stdout: bytes, paths: list[Path], version: str) -> list[ToolResult]:
    data = _load_json(stdout)
    try:
        report = data["report"]
        jobs = list(report["jobs"])
        releases = report.get("buildInformation", {}).get("releaseDetails", [])
    except (KeyError, TypeError, AttributeError) as exc:
        raise _Unreadable("its JSON had no report.jobs") from exc
    release = next((str(r.get("version")) for r in releases if r.get("id") == "apps"), version)
    matched = _match(jobs, paths, lambda job: (job.get("itemDetails") or {}).get("name"))
    return [_verapdf_result(job, release) if job else _skipped("verapdf", release) for job in matched]


def _verapdf_result(job: dict[str, Any], release: str) -> ToolResult:
    if job.get("taskException") or not job.get("validationResult"):
        problem = job.get("taskException") or {}
        text = str(problem.get("exceptionMessage") or problem.get("exception") or "could not be parsed")
        return ToolResult("veraPDF", release, False, False, None, (f"not a readable PDF: {text}",),
                          {"compliant": "no"})  # fmt: skip
    results = job["validationResult"]
    compliant = all(bool(r.get("compliant")) for r in results)
    messages = []
    profiles = []
    failed = 0
    for result in results:
        profiles.append(str(result.get("profileName", "")).replace(" validation profile", ""))
        details = result.get("details") or {}
        failed += int(details.get("failedRules") or 0)
        for rule in details.get("ruleSummaries") or []:
            if str(rule.get("status", "")).lower() != "failed":
                continue
            checks = rule.get("checks") or []
            error = checks[0].get("errorMessage") if checks else None
            where = f"{rule.get('specification', '')} clause {rule.get('clause', '')}-{rule.get('testNumber', '')}"
            messages.append(f"{where}: {error or rule.get('description', '')}")
    properties = {
        "profile": "; ".join(profiles),
        "compliant": "yes" if compliant else "no",
        "failed_rules": str(failed),
    }
    return ToolResult("veraPDF", release, True, compliant, "; ".join(profiles) or None, _capped(messages), properties)


# MediaInfo -------------------------------------------------------------------------------------------

_MEDIAINFO_FIELDS = {
    "General": {"Format": "format", "Duration": "duration_s", "OverallBitRate": "bit_rate"},
    "Audio": {"Format": "audio_format", "Channels": "channels", "SamplingRate": "sampling_rate",
              "BitDepth": "bit_depth"},
    "Video": {"Format": "video_format", "Width": "width", "Height": "height", "FrameRate": "frame_rate",
              "Duration": "video_duration_s"},
}  # fmt: skip


def _mediainfo_args(module: str | None) -> list[str]:
    return ["--Output=JSON"]


def _parse_mediainfo(stdout: bytes, paths: list[Path], version: str) -> list[ToolResult]:
    data = _load_json(stdout)
    entries = data if isinstance(data, list) else [data]  # one file: an object, not a list
    try:
        medias = [entry["media"] or {} for entry in entries]
    except (KeyError, TypeError) as exc:
        raise _Unreadable("its JSON had no media") from exc
    results = []
    for media in _match(medias, paths, lambda media: media.get("@ref")):
        if media is None:
            results.append(_skipped("mediainfo", version))
            continue
        properties: dict[str, str] = {}
        for track in media.get("track") or []:
            for key, name in _MEDIAINFO_FIELDS.get(str(track.get("@type")), {}).items():
                if key in track and name not in properties:
                    properties[name] = str(track[key])
        messages = () if "duration_s" in properties else ("no duration found",)
        results.append(ToolResult("MediaInfo", version, None, None, properties.get("format"), messages, properties))
    return results


# ExifTool --------------------------------------------------------------------------------------------

_EXIF_TAGS = (
    "MIMEType", "ImageWidth", "ImageHeight", "BitsPerSample", "Compression", "PhotometricInterpretation",
    "ColorSpace", "XResolution", "YResolution", "Orientation", "Make", "Model", "Software", "Artist", "Copyright",
    "DateTimeOriginal", "CreateDate", "ModifyDate", "PDFVersion", "PageCount", "Producer", "Creator", "Author",
    "Title", "Linearized", "Encryption", "Part", "Conformance", "Duration", "SampleRate", "NumChannels",
)  # fmt: skip


def _exiftool_args(module: str | None) -> list[str]:
    # -G: group names, so "PDF:Producer" and "XMP:Producer" can be told apart; utf8 file names both ways.
    return ["-json", "-G", "-charset", "filename=utf8", "-api", "largefilesupport=1"]


def _parse_exiftool(stdout: bytes, paths: list[Path], version: str) -> list[ToolResult]:
    data = _load_json(stdout)
    if not isinstance(data, list):
        raise _Unreadable("its JSON was not a list")
    results = []
    for entry in _match(data, paths, lambda entry: entry.get("SourceFile")):
        if entry is None:
            results.append(_skipped("exiftool", version))
            continue
        properties: dict[str, str] = {}
        messages = []
        tool_version = str(entry.get("ExifTool:ExifToolVersion") or version)
        for key, value in entry.items():
            group, _, tag = key.rpartition(":")
            if group == "ExifTool" and tag in ("Warning", "Error"):
                messages.append(f"{tag}: {value}")
            elif tag in _EXIF_TAGS and tag not in properties:
                properties[tag] = str(value)
        file_type = entry.get("File:FileType")
        results.append(ToolResult("ExifTool", tool_version, None, None, str(file_type) if file_type else None,
                                  _capped(messages), properties))  # fmt: skip
    return results


_ARGS: dict[str, Callable[[str | None], list[str]]] = {
    "jhove": _jhove_args, "verapdf": _verapdf_args, "mediainfo": _mediainfo_args, "exiftool": _exiftool_args,
}  # fmt: skip
_PARSERS: dict[str, Callable[[bytes, list[Path], str], list[ToolResult]]] = {
    "jhove": _parse_jhove, "verapdf": _parse_verapdf, "mediainfo": _parse_mediainfo, "exiftool": _parse_exiftool,
}  # fmt: skip
