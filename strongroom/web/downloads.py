"""Streaming a stored file out of storage: never whole in memory, checked as it goes, with safe headers.

- Content-Length from storage; an ETag of the file's SHA-256; `Accept-Ranges: bytes` and one byte range
  (206, or 416 when it cannot be satisfied; several ranges, or an If-Range that no longer matches, get the
  whole file, as RFC 9110 allows).
- A whole-file answer is hashed as it is sent and its last chunk is held back until the hash is known: a
  damaged stored copy ends the response short (the client sees an incomplete download), never as a
  complete file with the wrong bytes.
- Content-Disposition: attachment with an ASCII fallback name and RFC 6266 / 5987 `filename*` for the real
  name, so no name (quotes, CR/LF, `;`, unicode) can add or break a header; Content-Type only from a
  well-formed media type, else application/octet-stream; nosniff and a sandboxing CSP, so a stored HTML or
  SVG file never runs as a page of this service.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from strongroom.storage.base import StorageBackend
from strongroom.storage.ocfl import CHUNK_SIZE
from strongroom.web.viewing_packages import Content, StoredFile

log = logging.getLogger("strongroom.web")

_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9!#$&+.^_`|~ ()\[\]{}@,=-]")


def content_type(mime: str | None) -> str:
    return mime if mime and _MEDIA_TYPE.match(mime) else "application/octet-stream"


def content_disposition(name: str) -> str:
    """`attachment` with a plain ASCII fallback and the exact name as RFC 5987 UTF-8 (every byte of it
    percent-encoded except unreserved characters: no quote, CR, LF or `;` can reach the header)."""
    name = name.replace("\x00", "") or "download"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = _UNSAFE_ASCII.sub("_", ascii_name).strip(" .") or "download"
    encoded = quote(name.encode("utf-8", "surrogateescape"), safe="")
    return f"attachment; filename=\"{fallback[:150]}\"; filename*=UTF-8''{encoded}"


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """A single byte range that lies wholly past the end of the file (416)."""


def byte_range(header: str | None, size: int) -> ByteRange | None:
    """The one range `header` asks for within `size` bytes; None for the whole file (no header, several
    ranges, or a header that cannot be read, which RFC 9110 says to ignore); Unsatisfiable when past the end."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - count), size - 1) if size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # invalid: ignore the header
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, end)


def _whole(stream: BinaryIO, expected: str, what: str) -> Iterator[bytes]:
    """The stream's chunks, the last one held back until the SHA-256 of everything is known to be right."""
    hasher = hashlib.sha256()
    try:
        held = stream.read(CHUNK_SIZE)
        while held:
            hasher.update(held)
            following = stream.read(CHUNK_SIZE)
            if not following:
                break
            yield held
            held = following
        if hasher.hexdigest() != expected:
            log.error("download of %s stopped: stored bytes have SHA-256 %s, not %s", what, hasher.hexdigest(),
                      expected)  # fmt: skip
            raise OSError(f"the stored copy of {what} is damaged; run strongroom verify")
        if held:
            yield held
    finally:
        stream.close()


def _part(stream: BinaryIO, chosen: ByteRange) -> Iterator[bytes]:
    try:
        if stream.seekable():
            stream.seek(chosen.start)
        else:
            skip = chosen.start
            while skip:
                dropped = stream.read(min(CHUNK_SIZE, skip))
                if not dropped:
                    return
                skip -= len(dropped)
        left = chosen.length
        while left > 0:
            chunk = stream.read(min(CHUNK_SIZE, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        stream.close()


def download_response(request: Request, backend: StorageBackend, stored: StoredFile, content: Content) -> Response:
    """The answer to GET or HEAD of one stored file's bytes."""
    size = content.size
    etag = f'"{stored.sha256}"'
    headers = {
        "Content-Disposition": content_disposition(stored.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-store" if stored.closed_today else "private, max-age=0, must-revalidate",
    }
    media = content_type(stored.mime)
    if_range = request.headers.get("if-range")
    try:
        chosen = byte_range(request.headers.get("range"), size) if if_range in (None, etag) else None
    except Unsatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers, media_type=media)
    status = 200
    length = size
    if chosen is not None:
        status, length = 206, chosen.length
        headers["Content-Range"] = f"bytes {chosen.start}-{chosen.end}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media)
    stream = backend.open(content.key)
    body = _part(stream, chosen) if chosen is not None else _whole(stream, stored.sha256, stored.path)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media)
