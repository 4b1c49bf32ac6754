"""PDF text with PDFium (pypdfium2): the long-lived helper process strongroom.fulltext.pdfium starts.

Run as a script with `python -I` and no strongroom import, so a start costs the interpreter and PDFium
only. It reads requests on stdin and answers on stdout until stdin closes; every number is 8 bytes,
big-endian:

    hello    b"Y" len version        PDFium and pypdfium2 are there
             b"N" len message        pypdfium2 could not be imported
    request  len path-bytes max-bytes
    answer   b"T" more len text      text as UTF-8, cut at max-bytes (more = 1: the file had more)
             b"E" 0 len message      PDFium could not read the file

PDFium runs in this process, not in the caller's, because a hostile PDF may crash it, exhaust its
memory (the address space is capped, argv[1] bytes) or never finish: the caller kills this process at
its time limit and starts another for the next file.
"""

from __future__ import annotations

import os
import resource
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

_NUMBER = struct.Struct(">Q")
# pdftotext's conventions, so snippets and the search read the same whichever tool made the text: lines
# end in "\n", each page ends in a form feed, and a word PDFium marks as hyphenated at a line end keeps
# its hyphen (PDFium gives "\x02" or U+FFFE there).
_CLEAN = str.maketrans({"\x02": "-", "\ufffe": "-", "\x00": None})


def _send(out: BinaryIO, kind: bytes, flag: int, payload: bytes) -> None:
    out.write(kind + _NUMBER.pack(flag) + _NUMBER.pack(len(payload)) + payload)
    out.flush()


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _watch_parent(parent: int) -> None:
    """Exit once the caller is gone, even in the middle of a file (stdin closing is seen only between files)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def _text(pdfium: Any, path: bytes, max_bytes: int) -> tuple[bytes, bool]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        # PDFium opens the file itself (no copy into memory); /proc/self/fd spares it any odd bytes in the name.
        document = pdfium.PdfDocument(f"/proc/self/fd/{fd}")
        try:
            parts: list[bytes] = []
            size = 0
            for index in range(len(document)):
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        text = textpage.get_text_bounded()
                    finally:
                        textpage.close()
                finally:
                    page.close()
                text = text.translate(_CLEAN).replace("\r\n", "\n").replace("\r", "\n") + "\f"
                data = text.encode("utf-8", "replace")
                parts.append(data)
                size += len(data)
                if size > max_bytes:
                    return b"".join(parts)[:max_bytes], True
            return b"".join(parts), False
        finally:
            document.close()
    finally:
        os.close(fd)


def main() -> int:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    if len(sys.argv) > 1 and int(sys.argv[1]) > 0:
        limit = int(sys.argv[1])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:
        import pypdfium2 as pdfium
    except ImportError as exc:
        _send(stdout, b"N", 0, f"the Python package pypdfium2 is not installed ({exc})".encode())
        return 0
    version = f"{pdfium.PDFIUM_INFO.tag}+pypdfium2.{pdfium.PYPDFIUM_INFO.tag}"
    _send(stdout, b"Y", 0, version.encode())
    while True:
        header = _read_exactly(stdin, 8)
        if header is None:
            return 0
        (length,) = _NUMBER.unpack(header)
        path = _read_exactly(stdin, length)
        limit_bytes = _read_exactly(stdin, 8)
        if path is None or limit_bytes is None:
            return 0
        (max_bytes,) = _NUMBER.unpack(limit_bytes)
        try:
            text, more = _text(pdfium, path, max_bytes)
        except pdfium.PdfiumError as exc:
            _send(stdout, b"E", 0, f"PDFium could not read the file: {exc}".encode("utf-8", "replace"))
        except OSError as exc:
            _send(stdout, b"E", 0, f"the file could not be read: {exc.strerror or exc}".encode("utf-8", "replace"))
        except MemoryError:
            _send(stdout, b"E", 0, b"PDFium ran out of memory on the file")
            return 1  # memory may be left in any state: the next file gets a fresh process
        else:
            _send(stdout, b"T", int(more), text)


if __name__ == "__main__":
    raise SystemExit(main())
