"""Text of PDF files with PDFium, in long-lived helper processes (strongroom/fulltext/pdfium_helper.py).

pdftotext costs a process start per file, about 5 ms of CPU before it reads a byte, and then reads a
real report 5-10 times slower than PDFium. Here each extracting thread borrows a helper that stays up
between files, so a file costs one round trip on a pipe. PDFium still never runs in Strongroom's own
process: a helper that crashes, runs out of memory or passes the time limit is killed, the file is a
failure with the reason, and the next file gets a new helper.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from strongroom.fulltext.limits import ExtractionFailed, Limits, RawText, TimeLimitReached, ToolMissing

HELPER = Path(__file__).with_name("pdfium_helper.py")
MEMORY_LIMIT = 2 << 30  # bytes of address space a helper may use: PDFium needs far less for any sane PDF
START_TIME_LIMIT = 30.0  # seconds for a helper to start and say hello
_NUMBER = struct.Struct(">Q")
_READ = 256 * 1024
INSTALL = "install it with: pip install pypdfium2 (it is one of Strongroom's own requirements)"


@dataclass(frozen=True)
class _Answer:
    kind: bytes
    flag: int
    payload: bytes


class _NotDelivered(ExtractionFailed):
    """Internal: the helper was gone before it could be given the file."""


class _Helper:
    """One helper process, used by one thread at a time."""

    def __init__(self, python: str, memory_limit: int) -> None:
        self.owner = os.getpid()  # a forked child must not share a parent's pipes
        try:
            self.process = subprocess.Popen(
                [python, "-I", str(HELPER), str(memory_limit)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            raise ToolMissing(f"PDFium's helper could not be started: {exc.strerror or exc}") from None
        self.broken = False

    def stop(self) -> None:
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self.broken = True

    def hello(self) -> _Answer:
        return self._read_answer(Limits.starting_now(0, START_TIME_LIMIT), "starting", 64 * 1024)

    def ask(self, path: Path, limits: Limits) -> _Answer:
        assert self.process.stdin is not None
        name = os.fsencode(os.path.abspath(path))
        try:
            self.process.stdin.write(_NUMBER.pack(len(name)) + name + _NUMBER.pack(limits.max_bytes))
            self.process.stdin.flush()
        except OSError:
            self.broken = True
            raise _NotDelivered(f"PDFium stopped before reading the file ({self._how_it_ended()})") from None
        return self._read_answer(limits, "reading the file", limits.max_bytes + 64 * 1024)

    def _read_answer(self, limits: Limits, doing: str, most: int) -> _Answer:
        """Read one answer within the time limit; any fault leaves the helper broken (to be stopped)."""
        assert self.process.stdout is not None
        buffer = bytearray()
        wanted = 17
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.process.stdout, selectors.EVENT_READ)
                while len(buffer) < wanted:
                    remaining = limits.remaining()
                    if remaining <= 0:
                        self.broken = True
                        raise TimeLimitReached(f"PDFium took longer than the time limit of {limits.time_limit:g} s")
                    if not selector.select(remaining):
                        continue
                    chunk = os.read(self.process.stdout.fileno(), min(_READ, max(wanted - len(buffer), 17)))
                    if not chunk:
                        self.broken = True
                        raise ExtractionFailed(f"PDFium stopped while {doing} ({self._how_it_ended()})")
                    buffer += chunk
                    if len(buffer) >= 17 and wanted == 17:
                        length = _NUMBER.unpack_from(buffer, 9)[0]
                        if length > most:
                            self.broken = True
                            raise ExtractionFailed(f"PDFium's helper gave an answer of {length} bytes while {doing}")
                        wanted = 17 + length
        except OSError as exc:
            self.broken = True
            raise ExtractionFailed(f"PDFium's helper could not be read: {exc.strerror or exc}") from None
        return _Answer(bytes(buffer[:1]), _NUMBER.unpack_from(buffer, 1)[0], bytes(buffer[17:wanted]))

    def _how_it_ended(self) -> str:
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"it was killed by {signal.Signals(-code).name}: it crashed or ran out of memory"
        return f"exit status {code}"


class PdfiumHelpers:
    """The helpers of one TextExtractor: each extracting thread borrows one; `close()` stops them all."""

    def __init__(self, python: str | None = None, memory_limit: int = MEMORY_LIMIT) -> None:
        self._python = python or sys.executable
        self._memory_limit = memory_limit
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []
        self._version: str | None = None
        self._problem: str | None = None  # set once PDFium is known to be missing: not asked again per file

    @property
    def version(self) -> str:
        return self._version or ""

    def extract(self, path: Path, limits: Limits) -> RawText:
        for attempt in (1, 2):
            helper = self._borrow()
            # The time limit is the file's: a helper's start (about 50 ms, once per thread) is not counted in it.
            limits = Limits.starting_now(limits.size, limits.time_limit)
            try:
                answer = helper.ask(path, limits)
                break
            except _NotDelivered:
                if attempt == 2:
                    raise
                # An idle helper that died just before it was given the file: the file is not to blame.
            finally:
                self._give_back(helper)
        if answer.kind == b"T":
            return RawText(answer.payload.decode("utf-8", "replace"), (), bool(answer.flag))
        if answer.kind == b"E":
            raise ExtractionFailed(answer.payload.decode("utf-8", "replace"))
        raise ExtractionFailed(f"PDFium's helper gave an answer of unknown kind {answer.kind!r}")

    def start_check(self) -> str:
        """Start a helper (kept for the next file) and return PDFium's version; raises ToolMissing."""
        self._give_back(self._borrow())
        return self.version

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for helper in idle:
            if helper.owner == os.getpid():
                helper.stop()

    def _borrow(self) -> _Helper:
        with self._lock:
            if self._problem is not None:
                raise ToolMissing(self._problem)
            while self._idle:
                helper = self._idle.pop()
                if helper.owner == os.getpid() and helper.process.poll() is None:
                    return helper
                if helper.owner == os.getpid():
                    helper.stop()
        helper = _Helper(self._python, self._memory_limit)
        try:
            hello = helper.hello()
        except ExtractionFailed as failed:
            helper.stop()
            raise ToolMissing(f"PDFium's helper did not start: {failed.reason}") from None
        if hello.kind != b"Y":
            helper.stop()
            problem = hello.payload.decode("utf-8", "replace") + "; " + INSTALL
            with self._lock:
                self._problem = problem
            raise ToolMissing(problem)
        self._version = hello.payload.decode("utf-8", "replace")
        return helper

    def _give_back(self, helper: _Helper) -> None:
        if helper.broken:
            helper.stop()
            return
        with self._lock:
            self._idle.append(helper)
