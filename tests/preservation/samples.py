"""Tiny files for the characterisation tests, written byte by byte (no Pillow or PDF library needed)."""

from __future__ import annotations

import struct
from pathlib import Path

PDF_A_XMP = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>1</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def pdf_bytes(text: str = "Hello", *, xmp: bytes | None = None) -> bytes:
    """A one-page PDF 1.4 with correct xref offsets; with `xmp`, a Metadata stream in the catalog."""
    content = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    catalog = b"<< /Type /Catalog /Pages 2 0 R" + (b" /Metadata 6 0 R" if xmp else b"") + b" >>"
    objects = [
        catalog,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if xmp:
        objects.append(b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(xmp) + xmp + b"\nendstream")
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
    return bytes(out)


def write_pdf(path: Path, text: str = "Hello") -> Path:
    path.write_bytes(pdf_bytes(text))
    return path


def write_broken_pdf(path: Path) -> Path:
    # Cut before the xref table and trailer: no startxref, no %%EOF.
    data = pdf_bytes("Broken")
    path.write_bytes(data[: data.index(b"xref")])
    return path


def write_damaged_pdf(path: Path) -> Path:
    # The page's content stream is cut out of the middle: the header, xref table and %%EOF stay, so DROID's PDF
    # signatures (which need %%EOF at the end) still name it, and JHOVE finds the object the xref points at broken.
    data = pdf_bytes("Damaged")
    start = data.index(b"4 0 obj")
    end = data.index(b"endobj\n", start) + len(b"endobj\n")
    path.write_bytes(data[:start] + data[end:])
    return path


def write_pdfa_claim(path: Path) -> Path:
    """Claims PDF/A-1b in its XMP but breaks it: font not embedded, no OutputIntent, no document ID."""
    path.write_bytes(pdf_bytes("Claims PDF/A", xmp=PDF_A_XMP))
    return path


def tiff_bytes(width: int = 8, height: int = 8) -> bytes:
    """A baseline little-endian 8-bit greyscale TIFF, uncompressed, one strip."""
    pixels = bytes((x * 32) % 256 for x in range(width * height))
    entries = 11
    ifd_offset = 8
    ifd_size = 2 + entries * 12 + 4
    res_offset = ifd_offset + ifd_size  # two RATIONALs (x, y resolution)
    strip_offset = res_offset + 16
    tags = [
        (256, 3, 1, width),  # ImageWidth
        (257, 3, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # PhotometricInterpretation: black is zero
        (273, 4, 1, strip_offset),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 3, 1, height),  # RowsPerStrip
        (279, 4, 1, len(pixels)),  # StripByteCounts
        (282, 5, 1, res_offset),  # XResolution
        (283, 5, 1, res_offset + 8),  # YResolution
    ]
    assert len(tags) == entries
    out = bytearray(b"II*\x00" + struct.pack("<I", ifd_offset))
    out += struct.pack("<H", entries)
    for tag, kind, count, value in tags:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, count) + packed
    out += struct.pack("<I", 0)  # no next IFD
    out += struct.pack("<IIII", 72, 1, 72, 1)
    out += pixels
    return bytes(out)


def write_tiff(path: Path) -> Path:
    path.write_bytes(tiff_bytes())
    return path


def write_truncated_tiff(path: Path) -> Path:
    # Cut inside the IFD: the tag entries and the image data it points to are gone.
    path.write_bytes(tiff_bytes()[:40])
    return path


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """16-bit mono PCM WAV of silence."""
    data = b"\x00\x00" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_wav(path: Path, seconds: float = 1.0) -> Path:
    path.write_bytes(wav_bytes(seconds))
    return path


def write_broken_wav(path: Path) -> Path:
    # The fmt chunk claims to be far longer than the file: the header cannot be read.
    data = bytearray(wav_bytes(0.1))
    data[16:20] = struct.pack("<I", 0x7FFFFF00)
    path.write_bytes(bytes(data))
    return path
