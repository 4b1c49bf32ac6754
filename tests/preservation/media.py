"""Small REAL test files for the migration tests and benchmarks, made with the real tools.

Office documents come from hand-written flat OpenDocument files that LibreOffice converts (one soffice call per
target format: LibreOffice takes one --convert-to per call); images from ImageMagick; audio and video from
ffmpeg's lavfi test sources; the WordPerfect 5.1 file is written byte by byte (LibreOffice reads WordPerfect
through libwpd but cannot write it). Every maker returns {kind: path}; the kinds are the keys of `SOURCES`.

    from tests.preservation.media import make_all
    files = make_all(Path("/tmp/samples"))   # about 15 s on 2 cores, most of it LibreOffice

The documents have known content, so checks can be tested against it: `DOC_PAGES` pages holding the words
`DOC_WORDS` (every page starts with its own heading word), `SHEETS` sheets and `SLIDES` slides.
"""

from __future__ import annotations

import queue
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

DOC_PAGES = 3
SHEETS = 2
SLIDES = 3
IMAGE_SIZE = (61, 37)  # odd sizes: encoders that need even dimensions must be dealt with
VIDEO_SIZE = (96, 64)
SECONDS = 1.0  # audio and video length

_PAGE_WORDS = (
    ("Aardvark", "the archive keeps every version of every record safely"),
    ("Bluebell", "preservation masters sit beside the originals they came from"),
    ("Cormorant", "access copies open in any browser without special software"),
)
DOC_WORDS = frozenset(w.lower() for heading, text in _PAGE_WORDS for w in (heading, *text.split()))
WP_WORDS = ("Hello", "WordPerfect", "alpha", "beta", "gamma", "delta", "epsilon")
WP_PAGES = 2

LIBREOFFICE = ("soffice", "libreoffice")
IMAGEMAGICK = ("convert-im6.q16", "convert")  # a stand-in `convert` may come first on PATH
FFMPEG = ("ffmpeg",)
TIME_LIMIT = 120.0


class MediaError(RuntimeError):
    """A test file could not be made (tool missing or failed): the message says which and why."""


def _which(names: Iterable[str]) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise MediaError(f"none of {', '.join(names)} is on PATH; install the tools with: bash scripts/tools.sh")


def _run(argv: list[str], cwd: Path, env: Mapping[str, str] | None = None) -> None:
    done = subprocess.run(
        argv, cwd=cwd, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, errors="replace", timeout=TIME_LIMIT, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise MediaError(f"{' '.join(argv)} exited with {done.returncode}: {done.stderr[-2000:]}")


# --- office documents --------------------------------------------------------------------------------------

_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'office:version="1.2"'
)


def flat_text() -> str:
    """A flat ODT of DOC_PAGES pages: each page a heading word and a sentence, pages split by hard breaks."""
    body = []
    for number, (heading, text) in enumerate(_PAGE_WORDS):
        style = "Break" if number else "Standard"
        body.append(f'<text:h text:style-name="{style}" text:outline-level="1">{escape(heading)}</text:h>')
        body.append(f"<text:p>{escape(text)}</text:p>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {_ODF_NS} office:mimetype="application/vnd.oasis.opendocument.text">
 <office:automatic-styles>
  <style:style style:name="Break" style:family="paragraph"><style:paragraph-properties fo:break-before="page"/>
  </style:style>
 </office:automatic-styles>
 <office:body><office:text>{"".join(body)}</office:text></office:body>
</office:document>
"""


def flat_spreadsheet() -> str:
    """A flat ODS of SHEETS sheets, each a few rows of words and numbers."""
    sheets = []
    for number in range(SHEETS):
        heading, text = _PAGE_WORDS[number]
        rows = [f'<table:table-row><table:table-cell office:value-type="string"><text:p>{escape(heading)}</text:p>'
                f'</table:table-cell><table:table-cell office:value-type="string"><text:p>{escape(text)}</text:p>'
                "</table:table-cell></table:table-row>"]  # fmt: skip
        for row in range(1, 6):
            cells = "".join(f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p>'
                            "</table:table-cell>" for v in (row, row * 7))  # fmt: skip
            rows.append(f"<table:table-row>{cells}</table:table-row>")
        sheets.append(f'<table:table table:name="Sheet{number + 1}">{"".join(rows)}</table:table>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {_ODF_NS} office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
 <office:body><office:spreadsheet>{"".join(sheets)}</office:spreadsheet></office:body>
</office:document>
"""


def flat_presentation() -> str:
    """A flat ODP of SLIDES slides, each a text box with a heading word and a sentence."""
    pages = []
    for number, (heading, text) in enumerate(_PAGE_WORDS[:SLIDES]):
        pages.append(
            f'<draw:page draw:name="Slide{number + 1}" draw:master-page-name="Default">'
            '<draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="6cm"><draw:text-box>'
            f"<text:p>{escape(heading)}</text:p><text:p>{escape(text)}</text:p></draw:text-box></draw:frame>"
            "</draw:page>"
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {_ODF_NS} office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:master-styles><style:master-page style:name="Default"/></office:master-styles>
 <office:body><office:presentation>{"".join(pages)}</office:presentation></office:body>
</office:document>
"""


# kind -> (flat source, soffice --convert-to target); a PDF made without the PDF/A options is plain PDF 1.x
_OFFICE = {
    "doc": ("text.fodt", "doc:MS Word 97"),
    "docx": ("text.fodt", "docx:MS Word 2007 XML"),
    "rtf": ("text.fodt", "rtf:Rich Text Format"),
    "odt": ("text.fodt", "odt"),
    "pdf": ("text.fodt", "pdf:writer_pdf_Export"),
    "xls": ("sheet.fods", "xls:MS Excel 97"),
    "xlsx": ("sheet.fods", "xlsx:Calc MS Excel 2007 XML"),
    "ods": ("sheet.fods", "ods"),
    "ppt": ("slides.fodp", "ppt:MS PowerPoint 97"),
    "pptx": ("slides.fodp", "pptx:Impress MS PowerPoint 2007 XML"),
    "odp": ("slides.fodp", "odp"),
}
OFFICE_KINDS = tuple(_OFFICE)


def make_office_documents(folder: Path, kinds: Iterable[str] = OFFICE_KINDS, *, workers: int = 2) -> dict[str, Path]:
    """doc, docx, rtf, odt, pdf (DOC_PAGES pages, DOC_WORDS), xls, xlsx, ods (SHEETS sheets), ppt, pptx, odp
    (SLIDES slides), named sample.<kind> in `folder`. LibreOffice converts to one format per call, so the calls
    run `workers` at a time, each with its own profile (a shared profile makes concurrent calls fail)."""
    soffice = _which(LIBREOFFICE)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(kinds)
    with tempfile.TemporaryDirectory(prefix="media-office-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "text.fodt").write_text(flat_text(), "utf-8")
        (scratch / "sheet.fods").write_text(flat_spreadsheet(), "utf-8")
        (scratch / "slides.fodp").write_text(flat_presentation(), "utf-8")

        homes: queue.SimpleQueue[Path] = queue.SimpleQueue()
        for slot in range(workers):
            (scratch / f"home-{slot}").mkdir()
            homes.put(scratch / f"home-{slot}")

        def convert(kind: str) -> Path:
            source, target = _OFFICE[kind]
            home = homes.get()  # a profile no other running call uses
            out = scratch / f"out-{kind}"
            argv = [soffice, "--headless", "--norestore", "--nologo", f"-env:UserInstallation={home.as_uri()}/profile",
                    "--convert-to", target, "--outdir", str(out), str(scratch / source)]  # fmt: skip
            try:
                _run(argv, scratch, {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"})
            finally:
                homes.put(home)
            made = out / f"{Path(source).stem}.{kind}"
            if not made.is_file() or made.stat().st_size == 0:
                raise MediaError(f"soffice made no {kind} from {source}")
            final = folder / f"sample.{kind}"
            shutil.move(made, final)
            return final

        with ThreadPoolExecutor(max_workers=workers) as pool:
            made = list(pool.map(convert, wanted))
    return dict(zip(wanted, made, strict=True))


def make_wordperfect(folder: Path) -> Path:
    """A WordPerfect 5.1 document (PRONOM x-fmt/394), written by hand: the 16-byte prefix (0xFF "WPC", the
    offset of the text, product 1 = WordPerfect, file type 10 = document, version 0.1, no encryption) and
    WP_PAGES pages of WP_WORDS, split by a hard page (0x0C) with hard returns (0x0A) between paragraphs."""
    half = len(WP_WORDS) // 2
    pages = [" ".join(WP_WORDS[:half]), " ".join(WP_WORDS[half:])]
    text = b"\x0c".join(page.encode("ascii") + b".\x0a" for page in pages)
    prefix = b"\xffWPC" + struct.pack("<I", 16) + bytes([1, 0x0A, 0, 1]) + b"\x00\x00\x00\x00"
    path = folder / "sample.wpd"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(prefix + text)
    return path


# --- images --------------------------------------------------------------------------------------------------

# kind -> ImageMagick output options and file name; the picture is a colour gradient with a drawn shape
_IMAGES = {
    "bmp": ((), "sample.bmp"),
    "bmp3": ((), "bmp3:sample-v3.bmp"),
    "pcx": ((), "sample.pcx"),
    "tga": ((), "sample.tga"),
    "pict": ((), "sample.pict"),
    "gif": ((), "sample.gif"),
    "tiff": (("-compress", "None"), "sample.tif"),
    "png": ((), "sample.png"),
    "jpeg": (("-quality", "90"), "sample.jpg"),
}
IMAGE_KINDS = tuple(_IMAGES)


def make_images(folder: Path, kinds: Iterable[str] = IMAGE_KINDS) -> dict[str, Path]:
    """bmp (Windows Bitmap v5, as ImageMagick writes it), bmp3, pcx, tga, pict, gif, uncompressed tiff, png, jpeg:
    IMAGE_SIZE pixels."""
    magick = _which(IMAGEMAGICK)
    folder.mkdir(parents=True, exist_ok=True)
    width, height = IMAGE_SIZE
    made: dict[str, Path] = {}
    for kind in kinds:
        options, target = _IMAGES[kind]
        picture = ["-size", f"{width}x{height}", "gradient:#d04010-#1060c0", "-fill", "#20a040",
                   "-draw", f"circle {width // 2},{height // 2} {width // 2 + 9},{height // 2}"]  # fmt: skip
        if kind == "gif":
            picture += ["-colors", "64"]  # a palette the GIF keeps exactly (no dithering surprises)
        _run([magick, *picture, *options, target], folder)
        made[kind] = folder / target.split(":", 1)[-1]
    return made


# --- PDF -----------------------------------------------------------------------------------------------------


def make_pdf(folder: Path, pages: int = DOC_PAGES, name: str = "plain.pdf") -> Path:
    """A plain (not PDF/A) PDF 1.4 of `pages` pages with text, written by hand: Helvetica not embedded, no
    OutputIntent, no XMP, so it fails PDF/A as many real-world PDFs do."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for number in range(pages):
        heading, text = _PAGE_WORDS[number % len(_PAGE_WORDS)]
        content = f"BT /F1 18 Tf 72 720 Td ({heading}) Tj 0 -30 Td /F1 12 Tf ({text}) Tj ET".encode()
        page_obj, content_obj = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_obj} 0 R")
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
                       b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (content_obj, 3 + 2 * pages))  # fmt: skip
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(bytes(out))
    return path


# --- audio and video -----------------------------------------------------------------------------------------

_AUDIO_IN = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SECONDS}",
             "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=44100:duration={SECONDS}",
             "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]"]  # fmt: skip
_VIDEO_IN = ["-f", "lavfi", "-i", f"testsrc=size={VIDEO_SIZE[0]}x{VIDEO_SIZE[1]}:rate=25:duration={SECONDS}",
             "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={SECONDS}"]  # fmt: skip

# kind -> (inputs, output options, file name)
_AV: dict[str, tuple[list[str], list[str], str]] = {
    "wav": (_AUDIO_IN, ["-c:a", "pcm_s16le"], "sample.wav"),
    "aiff": (_AUDIO_IN, ["-c:a", "pcm_s16be"], "sample.aiff"),
    "mp3": (_AUDIO_IN, ["-c:a", "libmp3lame", "-b:a", "128k"], "sample.mp3"),
    "wma": (_AUDIO_IN, ["-c:a", "wmav2", "-b:a", "128k"], "sample.wma"),
    "m4a": (_AUDIO_IN, ["-c:a", "aac", "-b:a", "128k"], "sample.m4a"),
    "avi": (_VIDEO_IN, ["-c:v", "mpeg4", "-q:v", "5", "-c:a", "pcm_s16le"], "sample.avi"),
    "mpg": (_VIDEO_IN, ["-c:v", "mpeg1video", "-b:v", "400k", "-c:a", "mp2", "-f", "mpeg"], "sample.mpg"),
    "wmv": (_VIDEO_IN, ["-c:v", "wmv2", "-b:v", "400k", "-c:a", "wmav2"], "sample.wmv"),
    "mov": (_VIDEO_IN, ["-c:v", "mjpeg", "-q:v", "5", "-c:a", "pcm_s16le"], "sample.mov"),
    "mp4": (_VIDEO_IN, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "sample.mp4"),
}
AUDIO_KINDS = ("wav", "aiff", "mp3", "wma", "m4a")
VIDEO_KINDS = ("avi", "mpg", "wmv", "mov", "mp4")


def make_av(folder: Path, kinds: Iterable[str] = AUDIO_KINDS + VIDEO_KINDS) -> dict[str, Path]:
    """wav, aiff (stereo 16-bit PCM), mp3, wma, m4a (AAC); avi (MPEG-4 part 2 + PCM), mpg (MPEG-1 + MP2),
    wmv (WMV2 + WMA), mov (Motion JPEG + PCM), mp4 (H.264 + AAC): SECONDS long, VIDEO_SIZE frames."""
    ffmpeg = _which(FFMPEG)
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, Path] = {}
    for kind in kinds:
        inputs, options, name = _AV[kind]
        _run([ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs, *options,
              "-shortest", "-fflags", "+bitexact", name], folder)  # fmt: skip
        made[kind] = folder / name
    return made


# --- everything ----------------------------------------------------------------------------------------------


def make_all(folder: Path) -> dict[str, Path]:
    """Every kind this module makes, in `folder`: office documents, WordPerfect, images, PDF, audio, video."""
    made: dict[str, Path] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        office = pool.submit(make_office_documents, folder / "office")
        made.update(make_images(folder / "images"))
        made.update(make_av(folder / "av"))
        made["wpd"] = make_wordperfect(folder / "office")
        made["pdf-plain"] = make_pdf(folder / "pdf")
        made.update(office.result())
    return made
