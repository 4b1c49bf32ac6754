"""Generated files that exercise the PRONOM signature files broadly, for comparing an engine with DROID.

`make_droid_fixtures(root)` writes a few hundred small files in a second or two:

- **internal signatures**: for a stratified sample of the V122 InternalSignatures (plain BOF, EOF,
  variable, fragments, ranges and negations, several subsequences, formats with priorities), bytes
  that satisfy every ByteSequence, with gaps and wildcards filled deterministically; variants put
  every gap at its minimum or its maximum (far offsets, beyond DROID's 64 KiB scan window for some),
  truncate the file, keep only the EOF part, or give the file another format's extension;
- **container signatures**: a ZIP for a sample of the ZIP ContainerSignatures, one entry per File
  with bytes satisfying its BinarySignatures (so OOXML, ODF, EPUB and the rest of the container file);
- **edge cases**: empty and one-byte files, unknown bytes, extension-only names, extension mismatches,
  truncated and malformed PDF/PNG/GIF/ZIP/OLE2 files, damaged OOXML.

`make_office_fixtures(root)` adds real .doc/.xls/.ppt/.docx/.xlsx/.pptx/.odt/.ods/.odp files from
LibreOffice (a private -env:UserInstallation profile; about 1 s per target format), when soffice exists.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from tests.formats.droid_oracle import signature_files

NS = "{http://www.nationalarchives.gov.uk/pronom/SignatureFile}"
GAP_CAP = 2048  # longest gap written where a signature allows more (or any)
FAR_CAP = 200_000  # the "max" variant may go this far, past DROID's 64 KiB scan window


# --- byte patterns -------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"\s+|'(?P<text>[^']*)'|(?P<hex>[0-9A-Fa-f]{2})|\[(?P<set>[^\]]*)\]|\{(?P<gap>[^}]*)\}|(?P<star>\*)"
    r"|(?P<any>\?\?)|(?P<alt>\()"
)


def _byte_value(text: str) -> int:
    text = text.strip()
    if text.startswith("'"):
        return ord(text.strip("'"))
    return int(text, 16)


def _set_bytes(body: str, choice: str) -> bytes:
    """Bytes for a `[...]` set: a range, a negation, or a bitmask (`&`/`~`), as PRONOM writes them."""
    negate = body.startswith("!")
    body = body.lstrip("!")
    if body.startswith(("&", "~")):  # bitmask: bits that must (not) all be set
        mask = int(body[1:], 16)
        return bytes([0x00 if negate else mask])
    match = re.fullmatch(r"\s*('.'|(?:[0-9A-Fa-f]{2})+)\s*[:-]\s*('.'|(?:[0-9A-Fa-f]{2})+)\s*", body)
    if match:  # a range of one byte, or of several read big-endian ([0000:1000])
        width = 1 if match.group(1).startswith("'") else len(match.group(1)) // 2
        low, high = _byte_value(match.group(1)), _byte_value(match.group(2))
        low, high = min(low, high), max(low, high)
        if not negate:
            return {"min": low, "max": high}.get(choice, (low + high) // 2).to_bytes(width, "big")
        outside = [b for b in (0x20, 0x00, 0x7F, 0xFF, 0x41) if not low <= b <= high]
        return outside[0].to_bytes(width, "big")
    excluded = bytes.fromhex(body.replace(" ", ""))
    if not negate:
        return excluded
    # a sequence that differs from the excluded one in its first byte
    first = next(b for b in (0x20, 0x41, 0x00, 0xFF) if b != excluded[0])
    return bytes([first]) + excluded[1:]


def _split_alternatives(text: str, start: int) -> tuple[list[str], int]:
    """The `|`-separated alternatives of the group opening at text[start] == '(' and the index after it."""
    depth, parts, current, i = 0, [], [], start
    while i < len(text):
        ch = text[i]
        if ch == "'":
            end = text.index("'", i + 1)
            current.append(text[i : end + 1])
            i = end + 1
            continue
        if ch == "(":
            depth += 1
            if depth > 1:
                current.append(ch)
        elif ch == ")":
            depth -= 1
            if depth == 0:
                parts.append("".join(current))
                return parts, i + 1
            current.append(ch)
        elif ch == "|" and depth == 1:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    raise ValueError(f"unbalanced ( in {text!r}")


def render(text: str, choice: str, filler: bytes) -> bytes:
    """Bytes that satisfy a PRONOM byte-sequence expression; `choice` ("min", "mid", "max") picks gaps and ranges."""
    out = bytearray()
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise ValueError(f"cannot read byte sequence {text!r} at {i}")
        if m.group("alt") is not None:
            alternatives, i = _split_alternatives(text, i)
            pick = {"min": 0, "max": len(alternatives) - 1}.get(choice, len(alternatives) // 2)
            out += render(alternatives[pick], choice, filler)
            continue
        if m.group("text") is not None:
            out += m.group("text").encode("latin-1")
        elif m.group("hex") is not None:
            out += bytes.fromhex(m.group("hex"))
        elif m.group("set") is not None:
            out += _set_bytes(m.group("set"), choice)
        elif m.group("any") is not None:
            out += filler[:1]
        elif m.group("gap") is not None:
            low_text, _, high_text = m.group("gap").partition("-")
            low = int(low_text)
            high = low if not high_text else (low + GAP_CAP if high_text == "*" else int(high_text))
            out += _fill(_gap(low, high, choice), filler, len(out))
        elif m.group("star") is not None:
            out += _fill(_gap(0, GAP_CAP, choice), filler, len(out))
        i = m.end()
    return bytes(out)


def _gap(low: int, high: int | None, choice: str, cap: int = GAP_CAP) -> int:
    if high is None or high - low > cap:
        high = low + (cap if choice == "max" else 16)
    return {"min": low, "max": high}.get(choice, (low + high) // 2)


def _fill(count: int, filler: bytes, start: int = 0) -> bytes:
    if count <= 0:
        return b""
    reps = (start % len(filler)) + count
    block = filler * (reps // len(filler) + 1)
    return block[start % len(filler) : start % len(filler) + count]


# --- the compiled DROID signature file -----------------------------------------------------------------
@dataclass(frozen=True)
class Fragment:
    position: int
    min_offset: int
    max_offset: int
    text: str


@dataclass(frozen=True)
class SubSeq:
    position: int
    min_offset: int
    max_offset: int | None
    sequence: str
    left: tuple[Fragment, ...]
    right: tuple[Fragment, ...]


@dataclass(frozen=True)
class ByteSeq:
    reference: str  # "BOFoffset", "EOFoffset" or "" (variable)
    subsequences: tuple[SubSeq, ...]


@dataclass(frozen=True)
class Signature:
    id: int
    sequences: tuple[ByteSeq, ...]
    puids: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    has_priority: bool = False

    @property
    def kinds(self) -> set[str]:
        found = {s.reference or "variable" for s in self.sequences}
        subs = [sub for s in self.sequences for sub in s.subsequences]
        if any(sub.left or sub.right for sub in subs):
            found.add("fragments")
        if any("[" in f.text for sub in subs for f in sub.left + sub.right):
            found.add("sets")
        if any(len(s.subsequences) > 1 for s in self.sequences):
            found.add("multi")
        if any(sub.max_offset is None or (sub.max_offset - sub.min_offset) > 0 for sub in subs):
            found.add("window")
        return found


@dataclass
class SignatureFile:
    signatures: list[Signature]
    extensions: dict[str, list[str]] = field(default_factory=dict)  # PUID -> extensions
    no_signature_extensions: set[str] = field(default_factory=set)


def _int(value: str | None, default: int | None = 0) -> int | None:
    return default if not value else int(value)


def load_signature_file(path: Path) -> SignatureFile:
    root = ElementTree.parse(path).getroot()
    formats = root.findall(f"{NS}FileFormatCollection/{NS}FileFormat")
    owners: dict[int, list[ElementTree.Element]] = {}
    for fmt in formats:
        for sig_id in fmt.findall(f"{NS}InternalSignatureID"):
            owners.setdefault(int(sig_id.text or 0), []).append(fmt)
    extensions = {f.get("PUID", ""): [e.text or "" for e in f.findall(f"{NS}Extension")] for f in formats}
    unsigned = {
        (e.text or "").lower()
        for f in formats
        if not f.findall(f"{NS}InternalSignatureID")
        for e in f.findall(f"{NS}Extension")
    }
    signatures = []
    for sig in root.findall(f"{NS}InternalSignatureCollection/{NS}InternalSignature"):
        sequences = []
        for bs in sig.findall(f"{NS}ByteSequence"):
            subs = []
            for sub in bs.findall(f"{NS}SubSequence"):
                frags = {
                    side: tuple(
                        Fragment(
                            int(fr.get("Position", "1")),
                            _int(fr.get("MinOffset")) or 0,
                            _int(fr.get("MaxOffset")) or 0,
                            fr.text or "",
                        )
                        for fr in sub.findall(f"{NS}{side}Fragment")
                    )
                    for side in ("Left", "Right")
                }
                subs.append(
                    SubSeq(
                        int(sub.get("Position", "1")),
                        _int(sub.get("SubSeqMinOffset")) or 0,
                        _int(sub.get("SubSeqMaxOffset"), None),
                        sub.findtext(f"{NS}Sequence") or "",
                        frags["Left"],
                        frags["Right"],
                    )
                )
            sequences.append(ByteSeq(bs.get("Reference", ""), tuple(sorted(subs, key=lambda s: s.position))))
        number = int(sig.get("ID", "0"))
        fmts = owners.get(number, [])
        signatures.append(
            Signature(
                number,
                tuple(sequences),
                tuple(f.get("PUID", "") for f in fmts),
                tuple(ext for f in fmts for ext in extensions.get(f.get("PUID", ""), [])),
                any(f.findall(f"{NS}HasPriorityOverFileFormatID") for f in fmts),
            )
        )
    return SignatureFile(signatures, extensions, unsigned)


def _fragment_run(frags: tuple[Fragment, ...], choice: str, filler: bytes, leftwards: bool) -> bytes:
    """Fragments on one side of a Sequence: position 1 is next to it; each gap is its Min..MaxOffset."""
    out = b""
    for position in sorted({f.position for f in frags}):
        options = [f for f in frags if f.position == position]
        pick = options[{"min": 0, "max": len(options) - 1}.get(choice, len(options) // 2)]
        gap = _fill(_gap(pick.min_offset, pick.max_offset, choice), filler)
        body = render(pick.text, choice, filler)
        out = body + gap + out if leftwards else out + gap + body
    return out


def _subsequence(sub: SubSeq, choice: str, filler: bytes) -> bytes:
    return (
        _fragment_run(sub.left, choice, filler, leftwards=True)
        + render(sub.sequence, choice, filler)
        + _fragment_run(sub.right, choice, filler, leftwards=False)
    )


def _offset(sub: SubSeq, choice: str) -> int:
    cap = FAR_CAP if choice == "max" else GAP_CAP
    return _gap(sub.min_offset, sub.max_offset, choice, cap)


def synthesise(sig: Signature, choice: str, filler: bytes) -> bytes:
    """A file whose bytes satisfy every ByteSequence of `sig`: BOF part, then variable parts, then EOF part."""
    bof, middle, eof = b"", b"", b""
    for seq in sig.sequences:
        if seq.reference == "EOFoffset":  # position 1 is nearest the end; offsets count back from it
            part = b""
            for sub in seq.subsequences:
                part = _subsequence(sub, choice, filler) + _fill(_offset(sub, choice), filler) + part
            eof = part + eof
        else:
            part = bof if seq.reference == "BOFoffset" else b""
            start = len(bof) + len(middle)
            for sub in seq.subsequences:
                gap = _offset(sub, choice)
                if seq.reference != "BOFoffset" and sub.position == 1:
                    gap = max(sub.min_offset - start, 0) + 8  # variable: float it a little
                part += _fill(gap, filler, start + len(part)) + _subsequence(sub, choice, filler)
            if seq.reference == "BOFoffset":
                bof = part
            else:
                middle += part
    return bof + middle + eof


# --- containers ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerSig:
    id: int
    type: str
    description: str
    files: tuple[tuple[str, tuple[tuple[str, str, int, int | None], ...]], ...]  # path, (ref, seq, min, max)
    puids: tuple[str, ...]


def load_container_file(path: Path) -> list[ContainerSig]:
    root = ElementTree.parse(path).getroot()
    mapping: dict[int, list[str]] = {}
    for fmt in root.iter("FileFormatMapping"):
        mapping.setdefault(int(fmt.get("signatureId", "0")), []).append(fmt.get("Puid", ""))
    found = []
    for cs in root.iter("ContainerSignature"):
        files = []
        for file in cs.iter("File"):
            seqs = []
            for bs in file.iter("ByteSequence"):
                for sub in bs.iter("SubSequence"):
                    seqs.append(
                        (
                            bs.get("Reference", ""),
                            sub.findtext("Sequence") or "",
                            _int(sub.get("SubSeqMinOffset")) or 0,
                            _int(sub.get("SubSeqMaxOffset"), None),
                        )
                    )
            files.append((file.findtext("Path") or "", tuple(seqs)))
        sig_id = int(cs.get("Id", "0"))
        found.append(
            ContainerSig(
                sig_id, cs.get("ContainerType", ""), cs.findtext("Description") or "", tuple(files),
                tuple(mapping.get(sig_id, [])),
            )
        )  # fmt: skip
    return found


def _entry_bytes(seqs: tuple[tuple[str, str, int, int | None], ...], filler: bytes) -> bytes:
    head, tail = b"", b""
    for ref, text, low, high in seqs:
        offset = _gap(low, high, "min")
        body = render(text, "min", filler)
        if ref == "EOFoffset":
            tail = body + _fill(offset, filler) + tail
        elif ref == "BOFoffset":
            head += _fill(max(offset - len(head), 0), filler) + body
        else:
            head += _fill(8, filler) + body
    return head + b"\n" + tail


def _zip(entries: list[tuple[str, bytes]], *, mimetype_stored: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            stored = mimetype_stored and name == "mimetype"
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 19, 12, 0, 0))  # fixed: the same bytes every run
            zf.writestr(info, data, compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


# --- the fixture set -----------------------------------------------------------------------------------
FILLERS = (b"\x00", b" ", b"\x13\x57\x9b\xdf\x24\x68\xac\xe0\x31\x75\xb9\xfd")


def _stratified(signatures: list[Signature], per_kind: int) -> list[Signature]:
    """Up to `per_kind` signatures of each kind, spread evenly over the file (deterministic)."""
    chosen: dict[int, Signature] = {}
    kinds = ("BOFoffset", "EOFoffset", "variable", "fragments", "sets", "multi", "window")
    for kind in kinds:
        pool = [s for s in signatures if kind in s.kinds and s.puids]
        step = max(len(pool) // per_kind, 1)
        for sig in pool[::step][:per_kind]:
            chosen.setdefault(sig.id, sig)
    priority = [s for s in signatures if s.has_priority and s.puids]
    for sig in priority[:: max(len(priority) // per_kind, 1)][:per_kind]:
        chosen.setdefault(sig.id, sig)
    return sorted(chosen.values(), key=lambda s: s.id)


def _safe_ext(sig: Signature) -> str:
    ext = next((e for e in sig.extensions if re.fullmatch(r"[A-Za-z0-9_+-]{1,12}", e)), "")
    return f".{ext}" if ext else ""


def _signature_files(sigfile: SignatureFile, per_kind: int) -> Iterator[tuple[str, bytes]]:
    sample = _stratified(sigfile.signatures, per_kind)
    for n, sig in enumerate(sample):
        filler = FILLERS[n % len(FILLERS)]
        ext = _safe_ext(sig)
        data = synthesise(sig, "min", filler)
        yield f"signatures/sig{sig.id}-min{ext}", data
        if n % 3 == 0:
            yield f"signatures/sig{sig.id}-max{ext}", synthesise(sig, "max", FILLERS[(n + 1) % len(FILLERS)])
        if n % 4 == 1:
            yield f"signatures/sig{sig.id}-mid{ext}", synthesise(sig, "mid", FILLERS[(n + 2) % len(FILLERS)])
        if n % 5 == 2 and len(data) > 2:
            yield f"truncated/sig{sig.id}-half{ext}", data[: len(data) // 2]
        if n % 6 == 3:
            yield f"mismatch/sig{sig.id}.wrongext", data
            yield f"mismatch/sig{sig.id}.txt", data
        if n % 7 == 4:
            yield f"no-extension/sig{sig.id}", data
        if "EOFoffset" in sig.kinds and "BOFoffset" in sig.kinds:
            eof_only = Signature(sig.id, tuple(s for s in sig.sequences if s.reference == "EOFoffset"))
            yield f"eof-only/sig{sig.id}{ext}", _fill(64, filler) + synthesise(eof_only, "min", filler)


def _container_files(containers: list[ContainerSig], every: int) -> Iterator[tuple[str, bytes]]:
    zips = [c for c in containers if c.type == "ZIP" and all(p and "*" not in p for p, _ in c.files)]
    for n, cs in enumerate(zips[::every]):
        filler = FILLERS[n % 2 + 1]
        entries = [(path, _entry_bytes(seqs, filler)) for path, seqs in cs.files]
        entries.sort(key=lambda e: (e[0] != "mimetype", e[0]))  # ODF and EPUB: mimetype first
        ext = "zip" if n % 5 == 4 else "bin"  # the container, not the extension, must decide
        yield f"containers/zip-{cs.id}.{ext}", _zip(entries)


def _ole2_header_only() -> bytes:
    header = bytearray(512)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    header[0x18:0x1C] = bytes.fromhex("3E000300")
    header[0x1C:0x1E] = b"\xfe\xff"
    header[0x1E:0x20] = b"\x09\x00"
    return bytes(header)


def _edge_cases(sigfile: SignatureFile) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(12)
    unknown = bytes(rng.randrange(1, 256) for _ in range(700))
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17) + b"IEND\xaeB`\x82"
    docx_types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'wordprocessingml.document.main+xml"/></Types>'
    )
    docx = _zip([("[Content_Types].xml", docx_types), ("_rels/.rels", b"<Relationships/>"),
                 ("word/document.xml", b"<w:document/>")])  # fmt: skip
    yield from {
        "edge/empty": b"",
        "edge/empty.txt": b"",
        "edge/empty.pdf": b"",
        "edge/one-byte.bin": b"\x00",
        "edge/one-byte.txt": b"A",
        "edge/two-bytes": b"PK",
        "edge/unknown.zzq": unknown,
        "edge/unknown-no-extension": unknown,
        "edge/extension-only.txt": b"Plain words, no signature.\n",
        "edge/extension-only.csv": b"a,b\n1,2\n",
        "edge/EXTENSION-UPPER.TXT": b"Upper-case extension.\n",
        "edge/double.tar.gz.txt": b"not a tar\n",
        "edge/trailing-dot.": b"nothing\n",
        "edge/pdf-as.doc": pdf,
        "edge/pdf-as.jpg": pdf,
        "edge/pdf.pdf": pdf,
        "edge/pdf-no-eof.pdf": pdf[:20],
        "edge/pdf-offset.pdf": b"\n\n" + pdf,
        "edge/png.png": png,
        "edge/png-truncated.png": png[:12],
        "edge/png-as.gif": png,
        "edge/gif-no-trailer.gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
        "edge/gif-trailer.gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + bytes(10) + b";",
        "edge/zip-local-only.zip": b"PK\x03\x04" + bytes(40),
        "edge/zip-empty.zip": _zip([]),
        "edge/zip-plain.zip": _zip([("a.txt", b"alpha"), ("b/c.txt", b"gamma")]),
        "edge/docx-minimal.docx": docx,
        "edge/docx-as.zip": docx,
        "edge/docx-truncated.docx": docx[: len(docx) // 2],
        "edge/docx-no-central-directory.docx": docx[: docx.rfind(b"PK\x01\x02")],
        "edge/odt-mimetype-deflated.odt": _zip(
            [("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<office:document-content/>")],
            mimetype_stored=False,
        ),
        "edge/odt-minimal.odt": _zip(
            [
                ("mimetype", b"application/vnd.oasis.opendocument.text"),
                ("content.xml", b'<office:document-content office:version="1.2"/>'),
                ("META-INF/manifest.xml", b"<manifest:manifest/>"),
            ]
        ),
        "edge/ole2-header-only.doc": _ole2_header_only(),
        "edge/ole2-garbage.xls": _ole2_header_only()[:8] + unknown,
        "edge/ole2-truncated.ppt": _ole2_header_only()[:100],
        "edge/xml.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n<root/>\n',
        "edge/html.html": b"<!DOCTYPE html><html><head><title>t</title></head><body></body></html>",
        "edge/rtf.rtf": b"{\\rtf1\\ansi\\deff0 Hello}",
        "edge/far-pdf.pdf": b"%PDF-1.4\n" + bytes(150_000) + b"%%EOF\n",
        "edge/far-tail.bin": bytes(140_000) + b"%%EOF\n",
    }.items()
    # an extension that only formats without an internal signature use, and one that several share
    for ext in sorted(sigfile.no_signature_extensions)[::97][:6]:
        if re.fullmatch(r"[a-z0-9]{1,8}", ext):
            yield f"extension-only/sample.{ext}", b"no signature here\n"


def make_droid_fixtures(root: Path, *, per_kind: int = 18, container_every: int = 3) -> list[Path]:
    """Write the generated fixtures under `root` and return their paths."""
    binary, container = signature_files()
    sigfile = load_signature_file(binary)
    containers = load_container_file(container)
    written = []
    for rel, data in [*_signature_files(sigfile, per_kind), *_container_files(containers, container_every),
                      *_edge_cases(sigfile)]:  # fmt: skip
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


# --- LibreOffice ---------------------------------------------------------------------------------------
_FODP = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2"
 office:mimetype="application/vnd.oasis.opendocument.presentation"><office:body><office:presentation>
<draw:page draw:name="p1"><draw:frame svg:x="1cm" svg:y="1cm" svg:width="10cm" svg:height="3cm"><draw:text-box>
<text:p>Strongroom fixture slide</text:p></draw:text-box></draw:frame></draw:page></office:presentation></office:body>
</office:document>
"""
OFFICE_TARGETS = {"text.txt": ("doc", "docx", "odt", "rtf"), "sheet.csv": ("xls", "xlsx", "ods"),
                  "slides.fodp": ("ppt", "pptx", "odp")}  # fmt: skip


def make_office_fixtures(root: Path, timeout: float = 120) -> list[Path]:
    """Real office documents from LibreOffice (one soffice run per target format); [] without soffice."""
    soffice = shutil.which("soffice")
    if soffice is None:
        return []
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="strongroom-lo-") as tmp:
        work = Path(tmp)
        sources = {"text.txt": "Strongroom fixture document.\n", "sheet.csv": "a,b\n1,2\n", "slides.fodp": _FODP}
        for name, text in sources.items():
            (work / name).write_text(text, encoding="utf-8")
        for name, targets in OFFICE_TARGETS.items():
            for target in targets:
                subprocess.run(
                    [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
                     "--convert-to", target, "--outdir", str(root), str(work / name)],
                    capture_output=True, timeout=timeout, check=True,
                )  # fmt: skip
    return sorted(p for p in root.iterdir() if p.is_file())
