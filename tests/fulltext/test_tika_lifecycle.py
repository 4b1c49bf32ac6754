"""The Tika server's life around failures: nothing left running after an interrupted start, a broken answer is a
failed file (never an exception out of the extractor). A shell script stands in for `java` where a JVM's start is
not what is tested; a small socket server stands in for a Tika whose child JVM dies mid-answer."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strongroom.fulltext.limits import ExtractionFailed, Limits
from strongroom.fulltext.tika import TikaServer


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_interrupted_start_leaves_no_process_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The "server" starts a child that ignores SIGTERM, as a forked JVM busy with a file may not stop at once.
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\nsh -c 'trap \"\" TERM; exec sleep 300' &\nexec sleep 300\n")
    java.chmod(0o755)
    server = TikaServer(str(java), tmp_path / "tika-server.jar", 10.0)
    seen: list[int] = []

    def interrupted(self: TikaServer, timeout: float) -> str | None:
        assert self._process is not None
        seen.append(self._process.pid)
        time.sleep(0.3)  # the child is running by now
        raise KeyboardInterrupt

    monkeypatch.setattr(TikaServer, "_wait_ready", interrupted)
    with pytest.raises(KeyboardInterrupt):
        server.start(timeout=5)
    assert seen, "the server process was never started"
    deadline = time.monotonic() + 5
    while _group_alive(seen[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(seen[0]), "a process of the Tika server's group outlived the interrupted start"
    assert server._process is None and server._folder is None


@pytest.fixture
def broken_tika() -> Iterator[int]:
    """A server on 127.0.0.1 that promises a chunked text answer and hangs up half-way through it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                received = b""
                while b"\r\n\r\n" not in received:
                    received += conn.recv(65536)
                head, _, body = received.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"400\r\nonly the beginning"
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_an_answer_that_breaks_off_fails_the_file(broken_tika: int, tmp_path: Path) -> None:
    record = tmp_path / "minutes.doc"
    record.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 2048)
    server = TikaServer("java", tmp_path / "tika-server.jar", 10.0)
    server.port = broken_tika
    with pytest.raises(ExtractionFailed, match="broke off"):
        server.extract(record, Limits.starting_now(1000, 10.0))


def test_a_stranger_on_the_port_is_not_taken_for_tika(tmp_path: Path) -> None:
    # Anything that answers 200 on /version but is not Tika: the start waits for Tika's own answer.
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\nexec sleep 300\n")
    java.chmod(0o755)
    server = TikaServer(str(java), tmp_path / "tika-server.jar", 10.0)

    class Stranger(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"some other service 1.0")

        def log_message(self, *_args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Stranger)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        server.port = int(httpd.server_address[1])
        server._process = subprocess.Popen([str(java)], start_new_session=True)
        assert server._wait_ready(1.0) is None
    finally:
        server.stop()
        httpd.shutdown()
        httpd.server_close()
