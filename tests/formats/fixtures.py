"""Files of many kinds made on the spot, for comparing identification engines."""

from __future__ import annotations

import gzip
import io
import random
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(width * 3) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _zip(entries: dict[str, bytes], stored_first: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if stored_first is not None:
            zf.writestr(zipfile.ZipInfo(stored_first), entries.pop(stored_first), compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            zf.writestr(name, data)
    return buffer.getvalue()


CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/'
    b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def make_fixtures(root: Path, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    files: dict[str, bytes] = {
        "empty.txt": b"",
        "empty": b"",
        "one-byte.bin": b"\x00",
        "plain.txt": b"The quick brown fox.\n" * 50,
        "no-extension": b"Just some words without a name ending.\n",
        "notes.md": b"# Heading\n\nSome *markdown* text.\n",
        "table.csv": b"id,name\n1,alpha\n2,beta\n",
        "page.html": b"<!DOCTYPE html><html><head><title>t</title></head><body>x</body></html>",
        "page-upper.HTM": b"<HTML><HEAD><TITLE>t</TITLE></HEAD><BODY>x</BODY></HTML>",
        "data.xml": b'<?xml version="1.0" encoding="UTF-8"?><root><a>1</a></root>',
        "drawing.svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
        "image.png": _png(4, 4),
        "image-named.jpg": _png(4, 4),  # extension mismatch
        "photo.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(300) + b"\xff\xd9",
        "anim.gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        "old.gif": b"GIF87a\x01\x00\x01\x00\x80\x00\x00" + bytes(20) + b";",
        "bitmap.bmp": b"BM"
        + struct.pack("<IHHI", 70, 0, 0, 54)
        + struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, 16, 0, 0, 0, 0)
        + bytes(16),
        "doc.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "doc17.pdf": b"%PDF-1.7\n" + bytes(200) + b"\n%%EOF",
        "pdfa.pdf": b"%PDF-1.4\n<x:xmpmeta><pdfaid:part>1</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>"
        b"</x:xmpmeta>\n%%EOF\n",
        "postscript.ps": b"%!PS-Adobe-3.0\n%%EOF\n",
        "rich.rtf": b"{\\rtf1\\ansi Hello}",
        "audio.wav": b"RIFF"
        + struct.pack("<I", 36)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
        + b"data"
        + struct.pack("<I", 0),
        "song.mp3": b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(500),
        "archive.zip": _zip({"a.txt": b"alpha", "b/c.txt": b"gamma"}),
        "word.docx": _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"}),
        "word-named.zip": _zip({"[Content_Types].xml": CONTENT_TYPES, "word/document.xml": b"<w:document/>"}),
        "text.odt": _zip(
            {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document-content/>"},
            stored_first="mimetype",
        ),
        "broken.zip": b"PK\x03\x04" + bytes(40),
        "compressed.gz": gzip.compress(b"hello " * 100),
        "random.qqq": rng.randbytes(5000),
        "random-big.dat": rng.randbytes(300_000),
        "exact-buffer.bin": rng.randbytes(128 * 1024),
        "buffer-plus-one.bin": rng.randbytes(128 * 1024 + 1),
        "png-padded.png": _png(64, 64) + rng.randbytes(200_000),
        "utf16.txt": "Unicode text".encode("utf-16"),
        "hostile name ? & < > ≠ 世界.txt": b"hostile",
        ".hidden": b"dotfile",
    }
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tf:
        info = tarfile.TarInfo("inside.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    files["bundle.tar"] = tar_buffer.getvalue()
    for i in range(20):  # random prefixes of real signatures, to probe near misses
        base = rng.choice([files["image.png"], files["doc.pdf"], files["anim.gif"], files["word.docx"]])
        files[f"truncated-{i}.bin"] = base[: rng.randint(1, len(base))]
    paths = []
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths
