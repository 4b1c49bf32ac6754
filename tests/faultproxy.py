"""A fault-injecting HTTP proxy in front of the real test S3 server, for retry and timeout tests.

The faults are injected by this proxy, placed between the S3 client and the REAL server (MinIO),
because MinIO cannot produce them on demand: it cannot be told to answer the next request with
503 SlowDown or 500 InternalError, to stall past a client's read timeout, or to drop a
connection. Everything the proxy does not fault is forwarded byte for byte to MinIO, which does
the real work; the proxy records every request it saw, so tests can count the retries.

    with FaultProxy(endpoint) as proxy:
        proxy.inject(SLOW_DOWN, times=2, match=lambda method, path: method == "PUT")
        storage = S3Storage(bucket, endpoint_url=proxy.endpoint, ...)

SigV4 signs the Host header, so the proxy forwards it unchanged (MinIO checks the signature
against the Host the client used, which names the proxy; that is fine, it only has to match).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

# The faults. SLOW_DOWN and INTERNAL_ERROR answer with a proper S3 XML error; DELAY holds the
# request without answering for `delay` seconds and then closes; DROP closes the connection at once.
SLOW_DOWN = "503 SlowDown"
INTERNAL_ERROR = "500 InternalError"
DELAY = "delay"
DROP = "drop"
_MESSAGES = {
    SLOW_DOWN: "Please reduce your request rate.",
    INTERNAL_ERROR: "We encountered an internal error, please try again.",
}
# Not forwarded: they describe one hop, not the request.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "expect"}
)

Matcher = Callable[[str, str], bool]  # (method, path with query) -> whether a fault applies


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it: `fault` is what it did instead of forwarding, or None."""

    method: str
    path: str
    at: float  # time.monotonic() when the request (headers and body) had arrived
    fault: str | None


@dataclass
class _Injection:
    fault: str
    left: int | None  # None: until cleared
    match: Matcher
    delay: float


def any_request(method: str, path: str) -> bool:
    return True


def part_uploads(method: str, path: str) -> bool:
    """UploadPart requests: PUT with a partNumber (so create and complete of a multipart upload pass)."""
    return method == "PUT" and "partNumber=" in path


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of `upstream` (an http:// URL); see the module docstring."""

    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname or not parsed.port:
            raise ValueError(f"FaultProxy needs an http://host:port upstream, not {upstream!r}")
        self.upstream = (parsed.hostname, parsed.port)
        self._lock = threading.Lock()
        self._injections: list[_Injection] = []
        self._seen: list[Seen] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def inject(self, fault: str, *, times: int | None = 1, match: Matcher = any_request, delay: float = 0.0) -> None:
        """Apply `fault` to the next `times` requests that `match` (all of them while `times` is None)."""
        if fault not in (SLOW_DOWN, INTERNAL_ERROR, DELAY, DROP):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._injections.append(_Injection(fault, times, match, delay))

    def clear(self) -> None:
        """Inject nothing more: every request is forwarded from now on."""
        with self._lock:
            self._injections.clear()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests(self, match: Matcher = any_request) -> list[Seen]:
        return [item for item in self.seen if match(item.method, item.path)]

    def close(self) -> None:
        self.stopping.set()  # releases requests held by DELAY
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _take(self, method: str, path: str) -> _Injection | None:
        """Record the request and return the fault to apply to it, if any (using one of its `times`)."""
        with self._lock:
            chosen = None
            for injection in self._injections:
                if injection.left != 0 and injection.match(method, path):
                    chosen = injection
                    if injection.left is not None:
                        injection.left -= 1
                    break
            self._seen.append(Seen(method, path, time.monotonic(), chosen.fault if chosen else None))
            return chosen


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False  # kept-alive connections would otherwise hold close() until the client lets go
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up mid-answer is expected here
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" is answered as the client expects
    timeout = 60  # an idle kept-alive connection's thread ends eventually
    server: _Server
    _upstream: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests read proxy.seen instead

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def finish(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
        super().finish()

    def _handle(self) -> None:
        body = self._read_body()
        injection = self.server.proxy._take(self.command, self.path)
        if injection is None:
            self._forward(body)
        elif injection.fault in (SLOW_DOWN, INTERNAL_ERROR):
            self._s3_error(injection.fault)
        else:
            if injection.fault == DELAY:
                self.server.proxy.stopping.wait(injection.delay)
            self.close_connection = True  # no answer at all
            with contextlib.suppress(OSError):  # the client may have given up and closed already
                self.connection.shutdown(socket.SHUT_RDWR)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _s3_error(self, fault: str) -> None:
        status, code = fault.split(" ", 1)
        resource = urllib.parse.urlsplit(self.path).path
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{_MESSAGES[fault]}</Message>"
            f"<Resource>{resource}</Resource><RequestId>faultproxy</RequestId></Error>"
        ).encode()
        self.send_response(int(status))
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes) -> None:
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        try:
            response = self._send_upstream(headers, body)
        except OSError:
            self.close_connection = True  # the real server is gone: the client sees a dropped connection
            return
        chunked = response.chunked or (response.length is None and response.status not in (204, 304))
        payload = response.read() if chunked else None  # re-sent with a length: rare, and small (S3 XML)
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and not (payload is not None and name.lower() == "content-length"):
                self.send_header(name, value)
        if payload is not None:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload is not None:
            self.wfile.write(payload)
            return
        while block := response.read(1024 * 1024):
            self.wfile.write(block)

    def _send_upstream(self, headers: dict[str, str], body: bytes) -> http.client.HTTPResponse:
        for attempt in (1, 2):  # a kept-alive upstream connection the server closed meanwhile: reconnect once
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(*self.server.proxy.upstream, timeout=60)
            try:
                self._upstream.request(self.command, self.path, body=body or None, headers=headers)
                return self._upstream.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._upstream.close()
                self._upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
