"""STREAMS and AV_PROPERTIES: audio and video kept exactly (lossless targets) or within tolerance (lossy ones).

Lossless: every audio and video stream of the source is decoded, in the source's order, and its md5 compared with the
output's (ffmpeg's streamhash muxer). Both sides are decoded to the same sample format, chosen from the source:
32-bit integer PCM for integer audio (so 24-bit WAV, decoded as s32, and its FLAC copy hash alike, and 16-bit audio
is not confused by FLAC's own sample format) and 64-bit float for float audio (which FLAC cannot hold: such a
"lossless" copy fails, rightly); video in the source's pixel format. Cover pictures attached to audio files are not
streams of the recording and are left out.

Lossy: ffprobe's duration within the rule's tolerance, and per stream the channels and sample rate (audio) and the
frame size (video).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from strongroom.preservation.actions import CheckKind, CheckResult, CheckStatus
from strongroom.preservation.significant import CheckContext, failed

_FLOAT_FORMATS = {"flt", "fltp", "dbl", "dblp"}


@dataclass(frozen=True)
class Stream:
    index: int  # ffmpeg's stream index in the file
    kind: str  # "audio" or "video"
    codec: str
    sample_format: str | None
    channels: int | None
    sample_rate: int | None
    width: int | None
    height: int | None
    pixel_format: str | None


@dataclass(frozen=True)
class Probe:
    duration: float | None
    streams: tuple[Stream, ...]  # audio and video
    others: tuple[str, ...] = ()  # the kinds of every other stream (subtitle, data, attachment), one entry each

    def of(self, kind: str) -> list[Stream]:
        return [s for s in self.streams if s.kind == kind]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def probe(ctx: CheckContext, side: str) -> Probe:
    report = ctx.folder("ffprobe") / "probe.json"
    ctx.run("check-ffprobe", ["-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                              str(ctx.safe(side))], stdout=report)  # fmt: skip
    try:
        data = json.loads(report.read_text("utf-8", "replace"))
    except ValueError:
        raise failed(f"ffprobe wrote no readable description of the {side}", "ffprobe",
                     ctx.version("check-ffprobe")) from None  # fmt: skip
    streams = []
    others: list[str] = []
    for raw in data.get("streams", []):
        kind = raw.get("codec_type")
        if (raw.get("disposition") or {}).get("attached_pic"):
            continue  # a cover picture is tagging, not content
        if kind not in ("audio", "video"):
            others.append(str(kind or "unknown"))
            continue
        streams.append(Stream(_int(raw.get("index")) or 0, kind, str(raw.get("codec_name")), raw.get("sample_fmt"),
                              _int(raw.get("channels")), _int(raw.get("sample_rate")), _int(raw.get("width")),
                              _int(raw.get("height")), raw.get("pix_fmt")))  # fmt: skip
    duration = _float((data.get("format") or {}).get("duration"))
    if duration is None:
        durations = [_float(raw.get("duration")) for raw in data.get("streams", [])]
        duration = max((d for d in durations if d is not None), default=None)
    return Probe(duration, tuple(streams), tuple(others))


def _hashes(ctx: CheckContext, side: str, streams: list[Stream], reference: list[Stream]) -> list[str]:
    """md5 of each stream's decoded data, decoded to the reference (source) stream's sample or pixel format."""
    args = ["-nostdin", "-loglevel", "error", "-i", str(ctx.safe(side))]
    for stream in streams:
        args += ["-map", f"0:{stream.index}"]
    for position, (stream, like) in enumerate(zip(streams, reference, strict=True)):
        if stream.kind == "audio":
            codec = "pcm_f64le" if (like.sample_format or "") in _FLOAT_FORMATS else "pcm_s32le"
            args += [f"-c:{position}", codec]
        else:
            args += [f"-c:{position}", "rawvideo"]
            if like.pixel_format:
                args += [f"-pix_fmt:{position}", like.pixel_format]
    args += ["-fps_mode", "passthrough", "-f", "streamhash", "-hash", "md5", "-"]
    report = ctx.folder("ffmpeg") / "hashes.txt"
    ctx.run("check-ffmpeg", args, stdout=report)
    found: dict[int, str] = {}
    for line in report.read_text("utf-8", "replace").splitlines():
        parts = line.split(",", 2)  # "0,a,MD5=<hex>": output stream, kind, digest
        if len(parts) == 3 and parts[0].isdigit() and parts[2].startswith("MD5="):
            found[int(parts[0])] = parts[2].removeprefix("MD5=")
    if len(found) != len(streams):
        raise failed(f"ffmpeg hashed {len(found)} of the {side}'s {len(streams)} streams", "ffmpeg",
                     ctx.version("check-ffmpeg"))  # fmt: skip
    return [found[position] for position in range(len(streams))]


def check_streams(ctx: CheckContext) -> CheckResult:
    version = ctx.version("check-ffmpeg")
    source, output = probe(ctx, "source"), probe(ctx, "output")
    if not source.streams:
        return CheckResult(CheckKind.STREAMS, CheckStatus.NOT_CHECKED, "ffprobe found no audio or video stream in "
                           "the source", "ffmpeg", version)  # fmt: skip
    missing = [f"{len(source.of(k))} {k} stream(s) in the source, {len(output.of(k))} in the output"
               for k in ("audio", "video") if len(source.of(k)) != len(output.of(k))]  # fmt: skip
    # A lossless master keeps everything: subtitles or a timecode track left behind is a loss, said as one.
    missing += [f"{source.others.count(k)} {k} stream(s) in the source, {output.others.count(k)} in the output"
                for k in sorted(set(source.others)) if output.others.count(k) < source.others.count(k)]  # fmt: skip
    if missing:
        return CheckResult(CheckKind.STREAMS, CheckStatus.FAILED, "; ".join(missing), "ffmpeg", version)
    reference = [s for k in ("audio", "video") for s in source.of(k)]
    compared = [s for k in ("audio", "video") for s in output.of(k)]
    before = _hashes(ctx, "source", reference, reference)
    after = _hashes(ctx, "output", compared, reference)
    same, differ = [], []
    for stream, a, b in zip(reference, before, after, strict=True):
        number = source.of(stream.kind).index(stream) + 1
        name = stream.kind if len(source.of(stream.kind)) == 1 else f"{stream.kind} stream {number}"
        if a == b:
            same.append(f"decoded {name} md5 equal: {a}")
        else:
            differ.append(f"decoded {name} md5 {a} in the source, {b} in the output")
    if differ:
        return CheckResult(CheckKind.STREAMS, CheckStatus.FAILED, "; ".join(differ), "ffmpeg", version)
    return CheckResult(CheckKind.STREAMS, CheckStatus.PASSED, "; ".join(same), "ffmpeg", version)


def _same_frame(source: Stream, output: Stream) -> bool:
    if None in (source.width, source.height, output.width, output.height):
        return (source.width, source.height) == (output.width, output.height)
    assert source.width is not None and source.height is not None  # for mypy: checked just above
    assert output.width is not None and output.height is not None
    return 0 <= source.width - output.width <= source.width % 2 and 0 <= source.height - output.height <= (
        source.height % 2
    )


def check_av_properties(ctx: CheckContext) -> CheckResult:
    version = ctx.version("check-ffprobe")
    tolerance = ctx.conversion.rule.duration_tolerance
    source, output = probe(ctx, "source"), probe(ctx, "output")
    if not source.streams:
        return CheckResult(CheckKind.AV_PROPERTIES, CheckStatus.NOT_CHECKED, "ffprobe found no audio or video "
                           "stream in the source", "ffprobe", version)  # fmt: skip
    problems: list[str] = []
    said: list[str] = []
    if source.duration is None or output.duration is None:
        problems.append(f"no duration for the {'source' if source.duration is None else 'output'}")
    else:
        difference = abs(source.duration - output.duration)
        text = f"duration {source.duration:.3f} s vs {output.duration:.3f} s (tolerance {tolerance:g} s)"
        (problems if difference > tolerance else said).append(text)
    for kind in ("audio", "video"):
        ours, theirs = source.of(kind), output.of(kind)
        if len(ours) != len(theirs):
            problems.append(f"{len(ours)} {kind} stream(s) in the source, {len(theirs)} in the output")
            continue
        for a, b in zip(ours, theirs, strict=True):
            if kind == "audio":
                if a.channels != b.channels:
                    problems.append(f"{a.channels} channels became {b.channels}")
                if a.sample_rate != b.sample_rate:
                    problems.append(f"{a.sample_rate} Hz became {b.sample_rate} Hz")
                said.append(f"{a.channels} channel{'' if a.channels == 1 else 's'}; {a.sample_rate} Hz")
            else:
                # H.264 needs even frame sizes, so an access copy may lose the last row or column, never more.
                if not _same_frame(a, b):
                    problems.append(f"{a.width}x{a.height} became {b.width}x{b.height}")
                rounded = (a.width, a.height) != (b.width, b.height)
                said.append(f"{a.width}x{a.height}" + (f" (as {b.width}x{b.height}: H.264 needs even sizes)"
                                                       if rounded else ""))  # fmt: skip
    if problems:
        return CheckResult(CheckKind.AV_PROPERTIES, CheckStatus.FAILED, "; ".join(problems), "ffprobe", version)
    return CheckResult(CheckKind.AV_PROPERTIES, CheckStatus.PASSED, "; ".join(said), "ffprobe", version)
