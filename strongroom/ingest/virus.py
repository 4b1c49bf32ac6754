"""Virus scanning with ClamAV's daemon (clamd), spoken to directly over its unix socket.

clamd keeps its signatures loaded, so each file costs one connection and one INSTREAM: the bytes are
sent in chunks and clamd answers `stream: OK`, `stream: <signature> FOUND` or `... ERROR`. Nothing is
ever a silent pass: a file over one of clamd's limits, a file that cannot be read, or an answer that
cannot be understood is NOT_SCANNED with the reason, never CLEAN.

    scanner, warning = open_scanner(VirusScanMode.IF_AVAILABLE, default_socket(os.environ))
    if scanner:
        results = scanner.scan_many([(path, "objects/report.pdf"), ...])

A ClamdScanner holds no connection and no mutable state beyond a cached version, so one instance may be
shared by any number of threads; clamd scans the connections in parallel (MaxThreads, default 10).
"""

from __future__ import annotations

import enum
import os
import socket
import struct
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import ConfigError

CHUNK = 1024 * 1024
# libclamav cannot scan a file of 2 GiB or more whatever clamd's settings say; such files are reported
# without streaming gigabytes first.
ENGINE_MAX_BYTES = 2**31 - 1
# Allowance for clamd's scan of a big stream, on top of the per-operation timeout (a slow shared machine
# scans at least ~10 MiB/s).
SCAN_SECONDS_PER_BYTE = 1 / (10 * 1024 * 1024)
DEBIAN_SOCKET = Path("/var/run/clamav/clamd.ctl")
SOCKET_ENV = "STRONGROOM_CLAMD_SOCKET"
LIMIT_PREFIX = "Heuristics.Limits.Exceeded."
SIZE_LIMITS = ("MaxFileSize", "MaxScanSize", "StreamMaxLength")

HOW_TO_SET_UP = (
    "Install ClamAV's daemon with `sudo apt-get install clamav-daemon`; for real use download the signatures with "
    "`sudo freshclam` and start it with `sudo systemctl start clamav-daemon` (its socket is "
    f'{DEBIAN_SOCKET}); for a test setup run `eval "$(bash scripts/services.sh start clamd)"`. '
    f"Point Strongroom at the socket with [ingest] clamd_socket in strongroom.toml or {SOCKET_ENV}."
)


class VirusScanMode(enum.StrEnum):
    REQUIRED = "required"
    IF_AVAILABLE = "if-available"
    OFF = "off"


class ScanStatus(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    NOT_SCANNED = "not scanned"


@dataclass(frozen=True)
class ScannerInfo:
    """What clamd's VERSION says: engine, and the official database's version and date when one is loaded.

    With only hand-written (unofficial) signature files clamd reports no database version: then
    database_version is "unknown" and database_date None.
    """

    engine: str
    engine_version: str
    database_version: str
    database_date: str | None

    def describe(self) -> str:
        """One line for an event's agent or a log: 'ClamAV 1.4.6, database 27000 (Tue Nov 19 09:33:23 2024)'."""
        date = f" ({self.database_date})" if self.database_date else ""
        return f"{self.engine} {self.engine_version}, database {self.database_version}{date}"


@dataclass(frozen=True)
class ScanResult:
    path: str  # the transfer-relative path the caller gave as label
    status: ScanStatus
    signature: str | None  # the signature's name as clamd gives it (".UNOFFICIAL" for a local database)
    detail: str  # for people: "no virus found", "virus found: X", or why the file was not scanned


class ScannerUnavailableError(ConfigError):
    """clamd cannot be reached (no socket, refused, gone in the middle of a transfer); `reason` says why, briefly."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def parse_version(answer: str) -> ScannerInfo:
    """Parse clamd's VERSION answer: 'ClamAV 1.0.7/27000/Tue Nov 19 09:33:23 2024' or just 'ClamAV 1.4.6'."""
    parts = answer.strip().split("/", 2)
    engine, _, engine_version = parts[0].strip().partition(" ")
    engine_version = engine_version.strip()
    if not engine or not engine_version[:1].isdigit():
        raise ScannerUnavailableError(f"clamd's VERSION answer cannot be understood: {answer!r}. {HOW_TO_SET_UP}")
    database_version = parts[1].strip() if len(parts) > 1 and parts[1].strip() else "unknown"
    database_date = parts[2].strip() if len(parts) > 2 and parts[2].strip() else None
    return ScannerInfo(engine, engine_version, database_version, database_date)


def parse_answer(label: str, answer: str) -> ScanResult:
    """Turn clamd's answer to one INSTREAM into a ScanResult; anything unexpected is NOT_SCANNED."""
    text = answer.strip()
    if text == "stream: OK":
        return ScanResult(label, ScanStatus.CLEAN, None, "no virus found")
    if text.startswith("stream: ") and text.endswith(" FOUND"):
        name = text[len("stream: ") : -len(" FOUND")].strip()
        if name.startswith(LIMIT_PREFIX):
            # AlertExceedsMax: clamd says it stopped at a limit. That is "not (fully) scanned", not a virus.
            limit = name[len(LIMIT_PREFIX) :]
            if limit in SIZE_LIMITS:
                return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"too large for the scanner's limit ({limit})")
            return ScanResult(
                label, ScanStatus.NOT_SCANNED, None, f"not fully scanned: the scanner's limit {limit} was reached"
            )
        return ScanResult(label, ScanStatus.INFECTED, name, f"virus found: {name}")
    if "size limit exceeded" in text:
        return ScanResult(label, ScanStatus.NOT_SCANNED, None, "too large for the scanner's limit (StreamMaxLength)")
    if text.endswith("ERROR"):
        reason = text.removeprefix("stream:").removesuffix("ERROR").strip()
        return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"the scanner failed: {reason}")
    if not text:
        return ScanResult(label, ScanStatus.NOT_SCANNED, None, "clamd closed the connection without an answer")
    return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"clamd's answer cannot be understood: {text!r}")


class ClamdScanner:
    """A client of one clamd on a unix socket. Thread-safe: every call opens a connection of its own.

    `timeout` bounds each socket operation (connecting, each send, waiting for the answer); waiting for
    the answer to a big file is given extra time in proportion to its size.
    """

    def __init__(self, socket_path: Path, *, timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._info: ScannerInfo | None = None
        self._info_lock = threading.Lock()

    def info(self) -> ScannerInfo:
        """Engine and database versions (zVERSION), asked once and then cached."""
        with self._info_lock:
            if self._info is None:
                self._info = parse_version(self._command(b"zVERSION\0"))
            return self._info

    def ping(self) -> bool:
        """True when clamd answers PONG."""
        try:
            return self._command(b"zPING\0").strip() == "PONG"
        except ScannerUnavailableError:
            return False

    def scan(self, path: Path, label: str) -> ScanResult:
        """Scan one file. A file that cannot be read, or that clamd will not take whole, is NOT_SCANNED.

        Raises ScannerUnavailableError when clamd cannot be reached at all.
        """
        try:
            size = path.stat().st_size
            if size > ENGINE_MAX_BYTES:
                return ScanResult(
                    label,
                    ScanStatus.NOT_SCANNED,
                    None,
                    "too large for the scanner's limit (ClamAV cannot scan files of 2 GiB or more)",
                )
            handle = path.open("rb")
        except OSError as exc:
            return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"could not be read: {exc.strerror or exc}")
        with handle, self._connect() as conn:
            try:
                conn.sendall(b"zINSTREAM\0")
            except OSError as exc:
                raise self._unavailable(f"the connection failed ({exc.strerror or exc})") from exc
            buffer = bytearray(CHUNK)
            view = memoryview(buffer)
            sent_all = True
            while True:
                try:
                    count = handle.readinto(buffer)
                except OSError as exc:
                    # Leave clamd an unfinished stream: it drops it when the connection closes.
                    return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"could not be read: {exc.strerror or exc}")
                try:
                    conn.sendall(struct.pack("!L", count))
                    if not count:
                        break
                    conn.sendall(view[:count])
                except TimeoutError:
                    return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"clamd took no data for {self.timeout:g} s")
                except OSError:
                    # clamd closes the connection when the stream passes StreamMaxLength; its answer is waiting.
                    sent_all = False
                    break
            conn.settimeout(self.timeout + size * SCAN_SECONDS_PER_BYTE)
            try:
                answer = _read_answer(conn)
            except TimeoutError:
                return ScanResult(
                    label, ScanStatus.NOT_SCANNED, None, f"clamd gave no answer in {conn.gettimeout():.0f} s"
                )
            except OSError as exc:
                if sent_all:
                    return ScanResult(label, ScanStatus.NOT_SCANNED, None, f"the connection to clamd failed: {exc}")
                raise self._unavailable(f"the connection broke while sending ({exc.strerror or exc})") from exc
        if not answer and not sent_all:
            raise self._unavailable("clamd closed the connection while the file was being sent")
        return parse_answer(label, answer)

    def scan_many(
        self,
        files: Sequence[tuple[Path, str]],
        *,
        workers: int = 4,
        progress: Callable[[int], None] | None = None,
    ) -> list[ScanResult]:
        """Scan (path, label) pairs on `workers` threads; results come back in the order given.

        progress(done) is called from the calling thread after each file with the number finished so far.
        A ScannerUnavailableError from any file stops the rest and is raised.
        """
        if not files:
            return []
        results: list[ScanResult | None] = [None] * len(files)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(files))), thread_name_prefix="clamd") as pool:
            pending: dict[Future[ScanResult], int] = {
                pool.submit(self.scan, path, label): index for index, (path, label) in enumerate(files)
            }
            done_count = 0
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    index = pending.pop(future)
                    error = future.exception()
                    if error is not None:
                        for other in pending:
                            other.cancel()
                        raise error
                    results[index] = future.result()
                    done_count += 1
                    if progress:
                        progress(done_count)
        return [result for result in results if result is not None]

    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(self.timeout)
        try:
            conn.connect(os.fspath(self.socket_path))
        except OSError as exc:
            conn.close()
            raise self._unavailable(_connect_reason(exc)) from exc
        return conn

    def _command(self, command: bytes) -> str:
        with self._connect() as conn:
            try:
                conn.sendall(command)
                return _read_answer(conn)
            except OSError as exc:
                name = command.strip(b"z\0").decode()
                raise self._unavailable(f"it did not answer {name} ({exc.strerror or exc})") from exc

    def _unavailable(self, reason: str) -> ScannerUnavailableError:
        reason = f"clamd at {self.socket_path}: {reason}"
        return ScannerUnavailableError(f"ClamAV's daemon ({reason}). {HOW_TO_SET_UP}", reason=reason)


def _read_answer(conn: socket.socket) -> str:
    """Read a z-command's answer: up to the NUL that ends it, or to the end of the connection."""
    data = bytearray()
    while b"\0" not in data:
        block = conn.recv(4096)
        if not block:
            break
        data += block
    return data.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _connect_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no socket there (is clamd running?)"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing listens on the socket (clamd has stopped)"
    if isinstance(exc, PermissionError):
        return "permission denied (add this user to clamd's group, or set LocalSocketMode)"
    if isinstance(exc, TimeoutError):
        return "no answer (clamd is busy or hung)"
    return f"cannot connect ({exc.strerror or exc})"


def default_socket(environ: Mapping[str, str]) -> Path | None:
    """The clamd socket from STRONGROOM_CLAMD_SOCKET, else Debian's /var/run/clamav/clamd.ctl if it exists."""
    given = environ.get(SOCKET_ENV, "").strip()
    if given:
        return Path(given)
    return DEBIAN_SOCKET if DEBIAN_SOCKET.exists() else None


def open_scanner(
    mode: VirusScanMode, socket_path: Path | None, *, timeout: float = 60.0
) -> tuple[ClamdScanner | None, str | None]:
    """(scanner, warning) for an ingest in `mode`.

    OFF gives (None, None). When no clamd answers, IF_AVAILABLE gives (None, "not scanned: ...") and
    REQUIRED raises ScannerUnavailableError (a ConfigError) saying how to install and start clamd.
    The returned scanner has answered VERSION, so info() is ready.
    """
    if mode is VirusScanMode.OFF:
        return None, None
    if socket_path is None:
        reason = "no clamd socket is configured and none was found at the Debian default " + str(DEBIAN_SOCKET)
    else:
        scanner = ClamdScanner(socket_path, timeout=timeout)
        try:
            scanner.info()
            return scanner, None
        except ScannerUnavailableError as exc:
            reason = exc.reason
    if mode is VirusScanMode.REQUIRED:
        raise ScannerUnavailableError(
            f'Virus scanning is required ([ingest] virus_scan = "required") but no virus scanner answers: {reason}. '
            f'{HOW_TO_SET_UP} Or set [ingest] virus_scan = "if-available" to ingest without scanning.'
        )
    return None, f"not scanned: no virus scanner answers ({reason}). {HOW_TO_SET_UP}"
