"""PIXELS: an image migrated to a lossless format must keep every pixel, its frames, dimensions and bit depth.

ImageMagick's `compare -metric AE` counts the pixels that differ (it prints the count on stderr; exit status 0 same,
1 different, 2 error). It looks at the first frame only, so each frame of an animated GIF or a multi-page TIFF is
compared on its own (`file[i]`). Pixels are compared, not encodings: ImageMagick's writers store a grey image as grey
and may narrow a palette's index (an 8-bit TGA palette of 16 colours comes back 4-bit), so for palette images the
index width is reported, not judged; the pixels prove the colours kept; likewise an alpha channel that is opaque
everywhere (PNG's writer drops it, BMP v4's adds one) is an encoding. Direct-colour images must keep their bit
depth, their transparency and whether they are CMYK. An optimised animation (partial frames on a canvas) written
with its frames composed (`-coalesce`) is compared with the source's frames composed the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from strongroom.preservation.actions import CheckKind, CheckResult, CheckStatus
from strongroom.preservation.significant import CheckContext, failed

_FORMAT = "%w %h %z %A %[opaque] %W %H %X %Y %[colorspace] %r\\n"
_AE = re.compile(r"([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Frame:
    width: int
    height: int
    depth: int
    alpha: bool  # an alpha channel with some transparency in it
    canvas: tuple[int, int]  # the page (animation canvas) the frame sits on
    partial: bool  # smaller than its canvas or offset on it: an optimised animation frame, not a whole picture
    colorspace: str
    palette: bool  # PseudoClass: the depth ImageMagick reports is the palette index's width

    @property
    def cmyk(self) -> bool:
        return self.colorspace.upper() == "CMYK"


def _frames(ctx: CheckContext, path: Path, what: str) -> list[Frame]:
    report = ctx.folder("identify") / "frames.txt"
    ctx.run("check-identify", ["-format", _FORMAT, str(path)], stdout=report)
    frames = []
    for line in report.read_text("utf-8", "replace").splitlines():
        parts = line.split()
        if len(parts) < 11 or not all(re.fullmatch(r"[+-]?\d+", p) for p in parts[:3] + parts[5:9]):
            continue
        width, height, depth, canvas_w, canvas_h, x, y = (int(p) for p in parts[:3] + parts[5:9])
        partial = (width, height) != (canvas_w, canvas_h) or (x, y) != (0, 0)
        # An alpha channel that is opaque everywhere holds nothing: writers may drop it (PNG) or add it (BMP v4).
        alpha = parts[3].lower() not in ("false", "undefined") and parts[4].lower() == "false"
        frames.append(Frame(width, height, depth, alpha, (canvas_w, canvas_h), partial, parts[9],
                            parts[10] == "PseudoClass"))  # fmt: skip
    if not frames:
        raise failed(f"ImageMagick found no image in the {what}", "imagemagick", ctx.version("check-identify"))
    return frames


def _differing_pixels(ctx: CheckContext, reference: Path, index: int) -> float:
    output = ctx.safe("output")
    run = ctx.run("check-compare", ["-metric", "AE", f"{reference}[{index}]", f"{output}[{index}]", "null:"],
                  ok_status=(0, 1))  # fmt: skip
    match = _AE.search(run.stderr.strip())
    if match is None:
        raise failed(f"compare gave no pixel count for frame {index + 1}{'' if not run.stderr else ': '}"
                     f"{run.stderr.strip()[-200:]}", "imagemagick", run.version)  # fmt: skip
    return float(match.group(1))


def _composed(ctx: CheckContext, source: list[Frame], output: list[Frame]) -> bool:
    """True when the output holds an optimised animation's frames composed onto its canvas (`-coalesce`), so they
    must be compared with the source's composed frames, not its partial ones."""
    return (len(source) == len(output) > 1 and any(f.partial for f in source) and not any(f.partial for f in output)
            and all((o.width, o.height) == s.canvas for s, o in zip(source, output, strict=True)))  # fmt: skip


def _coalesced(ctx: CheckContext) -> Path:
    """The source's frames composed onto their canvas, as ImageMagick's lossless MIFF."""
    composed = ctx.folder("coalesce") / "coalesced.miff"
    ctx.run("check-convert", [str(ctx.safe("source")), "-coalesce", str(composed)])
    return composed


def check_pixels(ctx: CheckContext) -> CheckResult:
    version = ctx.version("check-compare")

    def verdict(status: CheckStatus, detail: str) -> CheckResult:
        return CheckResult(CheckKind.PIXELS, status, detail, "imagemagick", version)

    reference = ctx.safe("source")
    source, output = _frames(ctx, reference, "source"), _frames(ctx, ctx.safe("output"), "output")
    if len(source) != len(output):
        return verdict(CheckStatus.FAILED, f"{len(source)} frames in the source, {len(output)} in the output")
    notes: list[str] = []
    if _composed(ctx, source, output):
        reference = _coalesced(ctx)
        source = _frames(ctx, reference, "source's composed frames")
        notes.append("frames compared as composed on the animation's canvas")
    problems: list[str] = []
    for number, (a, b) in enumerate(zip(source, output, strict=True), start=1):
        where = f"frame {number}: " if len(source) > 1 else ""
        if (a.width, a.height) != (b.width, b.height):
            problems.append(f"{where}{a.width}x{a.height} became {b.width}x{b.height}")
        if a.depth != b.depth:
            if a.palette or b.palette:
                notes.append(f"{where}palette index {a.depth}-bit stored as {b.depth}-bit")
            else:
                problems.append(f"{where}{a.depth}-bit became {b.depth}-bit")
        if a.alpha != b.alpha:
            problems.append(f"{where}alpha channel {'lost' if a.alpha else 'added'}")
        if a.cmyk != b.cmyk:
            problems.append(f"{where}{a.colorspace} became {b.colorspace}")
        elif a.colorspace != b.colorspace:
            notes.append(f"{where}{a.colorspace} stored as {b.colorspace}")
    if problems:
        return verdict(CheckStatus.FAILED, "; ".join(problems[:6]))
    differing = [_differing_pixels(ctx, reference, index) for index in range(len(source))]
    pixels = sum(frame.width * frame.height for frame in source)
    first = source[0]
    kept = f"{first.width}x{first.height}, {first.depth}-bit, {first.colorspace}{', alpha' if first.alpha else ''}"
    frames = f" in {len(source)} frames" if len(source) > 1 else ""
    extra = f" ({'; '.join(dict.fromkeys(notes))})" if notes else ""
    total = sum(differing)
    if total == 0:
        return verdict(CheckStatus.PASSED, f"AE 0 of {pixels} pixels{frames}; {kept} kept{extra}")
    worst = [f"frame {i + 1}: {_count(n)}" for i, n in enumerate(differing) if n][:5] if len(source) > 1 else []
    detail = f"AE {_count(total)} of {pixels} pixels differ{frames}{' (' + '; '.join(worst) + ')' if worst else ''}"
    return verdict(CheckStatus.FAILED, detail)


def _count(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"
