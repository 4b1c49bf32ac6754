"""Virus scanning against a real clamd that loads only the tests' own signatures (tests/services.py)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from strongroom.errors import ConfigError, StrongroomError
from strongroom.ingest.virus import (
    DEBIAN_SOCKET,
    ClamdScanner,
    ScannerUnavailableError,
    ScanResult,
    ScanStatus,
    VirusScanMode,
    default_socket,
    open_scanner,
    parse_answer,
    parse_version,
)
from tests.services import (
    CLAMD_TEST_HASH_SAMPLE,
    CLAMD_TEST_HASH_SIGNATURE,
    CLAMD_TEST_MARKER,
    CLAMD_TEST_MARKER_SIGNATURE,
    clamd_socket,
    private_clamd,
)


@pytest.fixture(scope="module")
def scanner() -> ClamdScanner:
    return ClamdScanner(clamd_socket(), timeout=30)


@pytest.fixture
def samples(tmp_path: Path) -> dict[str, Path]:
    """An MD5-signature match, a marker-signature match (inside other text), a harmless file and an empty one."""
    files = {
        "hash.txt": CLAMD_TEST_HASH_SAMPLE,
        "marker.bin": b"some bytes before " + CLAMD_TEST_MARKER + b" and after\n",
        "clean.txt": b"An ordinary letter about the parish council minutes.\n",
        "empty.txt": b"",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    return {name: tmp_path / name for name in files}


def test_signatures_found_and_harmless_files_clean(scanner: ClamdScanner, samples: dict[str, Path]) -> None:
    hashed = scanner.scan(samples["hash.txt"], "objects/hash.txt")
    assert hashed == ScanResult(
        "objects/hash.txt", ScanStatus.INFECTED, CLAMD_TEST_HASH_SIGNATURE, f"virus found: {CLAMD_TEST_HASH_SIGNATURE}"
    )
    marked = scanner.scan(samples["marker.bin"], "objects/sub dir/marker.bin")
    assert (marked.path, marked.status, marked.signature) == (
        "objects/sub dir/marker.bin",
        ScanStatus.INFECTED,
        CLAMD_TEST_MARKER_SIGNATURE,
    )
    for name in ("clean.txt", "empty.txt"):
        result = scanner.scan(samples[name], name)
        assert (result.status, result.signature, result.detail) == (ScanStatus.CLEAN, None, "no virus found")


def test_a_signature_inside_a_zip_is_found(scanner: ClamdScanner, tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("inner/readme.txt", b"fine\n")
        bundle.writestr("inner/payload.dat", b"x" * 5000 + CLAMD_TEST_MARKER)
    result = scanner.scan(archive, "bundle.zip")
    assert (result.status, result.signature) == (ScanStatus.INFECTED, CLAMD_TEST_MARKER_SIGNATURE)


def test_info_gives_engine_and_database(scanner: ClamdScanner) -> None:
    info = scanner.info()
    assert info.engine == "ClamAV"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", info.engine_version), info
    clamd = shutil.which("clamd") or "/usr/sbin/clamd"
    assert info.engine_version in subprocess.run([clamd, "--version"], capture_output=True, text=True).stdout
    # Only hand-written signatures are loaded, and clamd reports no database version for those.
    assert (info.database_version, info.database_date) == ("unknown", None)
    assert scanner.info() is info  # cached
    assert scanner.ping() is True


def test_version_answers_with_an_official_database_are_parsed() -> None:
    info = parse_version("ClamAV 1.0.7/27000/Tue Nov 19 09:33:23 2024\n")
    assert (info.engine, info.engine_version, info.database_version, info.database_date) == (
        "ClamAV",
        "1.0.7",
        "27000",
        "Tue Nov 19 09:33:23 2024",
    )
    assert info.describe() == "ClamAV 1.0.7, database 27000 (Tue Nov 19 09:33:23 2024)"
    with pytest.raises(ScannerUnavailableError, match="cannot be understood"):
        parse_version("UNKNOWN COMMAND")


@pytest.mark.parametrize(
    ("answer", "status", "signature", "detail"),
    [
        ("stream: OK", ScanStatus.CLEAN, None, "no virus found"),
        (
            "stream: Win.Test.EICAR_HDB-1 FOUND",
            ScanStatus.INFECTED,
            "Win.Test.EICAR_HDB-1",
            "virus found: Win.Test.EICAR_HDB-1",
        ),
        (
            "INSTREAM size limit exceeded. ERROR",
            ScanStatus.NOT_SCANNED,
            None,
            "too large for the scanner's limit (StreamMaxLength)",
        ),
        (
            "stream: Heuristics.Limits.Exceeded.MaxScanSize FOUND",
            ScanStatus.NOT_SCANNED,
            None,
            "too large for the scanner's limit (MaxScanSize)",
        ),
        (
            "stream: Heuristics.Limits.Exceeded.MaxRecursion FOUND",
            ScanStatus.NOT_SCANNED,
            None,
            "not fully scanned: the scanner's limit MaxRecursion was reached",
        ),
        (
            "stream: Can't create temporary file ERROR",
            ScanStatus.NOT_SCANNED,
            None,
            "the scanner failed: Can't create temporary file",
        ),
        ("", ScanStatus.NOT_SCANNED, None, "clamd closed the connection without an answer"),
        ("PONG", ScanStatus.NOT_SCANNED, None, "clamd's answer cannot be understood: 'PONG'"),
    ],
)
def test_answers_are_parsed_and_nothing_unclear_counts_as_clean(
    answer: str, status: ScanStatus, signature: str | None, detail: str
) -> None:
    assert parse_answer("a.txt", answer) == ScanResult("a.txt", status, signature, detail)


def test_a_file_over_the_limit_is_not_scanned_never_clean(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(CLAMD_TEST_MARKER.rjust(3 * 1024 * 1024, b"\0"))  # infected, but past the 1 MiB limit
    small = tmp_path / "small.txt"
    small.write_bytes(CLAMD_TEST_MARKER)
    with private_clamd(stream_max="1M") as socket_path:
        limited = ClamdScanner(socket_path, timeout=30)
        result = limited.scan(big, "objects/big.bin")
        assert (result.status, result.signature) == (ScanStatus.NOT_SCANNED, None)
        assert result.detail == "too large for the scanner's limit (StreamMaxLength)"
        # The connection clamd cut does not spoil the next scan.
        assert limited.scan(small, "small.txt").status is ScanStatus.INFECTED
    # Stopped with the context: nothing answers there any more.
    assert not socket_path.exists() or not ClamdScanner(socket_path, timeout=5).ping()


def test_unreadable_or_vanished_files_are_not_scanned(scanner: ClamdScanner, tmp_path: Path) -> None:
    gone = scanner.scan(tmp_path / "vanished.txt", "objects/vanished.txt")
    assert (gone.path, gone.status, gone.signature) == ("objects/vanished.txt", ScanStatus.NOT_SCANNED, None)
    assert gone.detail.startswith("could not be read: No such file")
    folder = scanner.scan(tmp_path, "objects")
    assert folder.status is ScanStatus.NOT_SCANNED
    assert folder.detail.startswith("could not be read")


def test_scan_many_keeps_input_order_and_reports_progress(scanner: ClamdScanner, tmp_path: Path) -> None:
    files: list[tuple[Path, str]] = []
    expected: list[tuple[str, ScanStatus]] = []
    for index in range(24):
        path = tmp_path / f"f{index:02d}.bin"
        kind = index % 3
        content = [b"plain %d\n" % index, CLAMD_TEST_HASH_SAMPLE, b"%d " % index + CLAMD_TEST_MARKER][kind]
        path.write_bytes(content)
        files.append((path, f"objects/{path.name}"))
        expected.append((f"objects/{path.name}", ScanStatus.CLEAN if kind == 0 else ScanStatus.INFECTED))
    seen: list[int] = []
    caller = threading.get_ident()
    threads: set[int] = set()

    def progress(done: int) -> None:
        seen.append(done)
        threads.add(threading.get_ident())

    results = scanner.scan_many(files, workers=4, progress=progress)
    assert [(r.path, r.status) for r in results] == expected
    assert [r.signature for r in results[1:3]] == [CLAMD_TEST_HASH_SIGNATURE, CLAMD_TEST_MARKER_SIGNATURE]
    assert seen == list(range(1, 25))
    assert threads == {caller}
    assert scanner.scan_many([]) == []


def test_scan_many_raises_when_clamd_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    with pytest.raises(ScannerUnavailableError, match="no socket there") as caught:
        ClamdScanner(tmp_path / "none.sock").scan_many([(path, "a.txt")] * 3)
    assert "apt-get install clamav-daemon" in str(caught.value)


def test_open_scanner_off_gives_nothing() -> None:
    assert open_scanner(VirusScanMode.OFF, None) == (None, None)
    assert open_scanner(VirusScanMode.OFF, Path("/nowhere/clamd.sock")) == (None, None)


def _dead_socket(tmp_path: Path) -> Path:
    """A socket file where nothing listens any more (clamd stopped without cleaning up)."""
    path = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.close()
    return path


def test_open_scanner_if_available_warns_when_nothing_answers(tmp_path: Path) -> None:
    dead = _dead_socket(tmp_path)
    scanner, warning = open_scanner(VirusScanMode.IF_AVAILABLE, dead)
    assert scanner is None
    assert warning is not None and warning.startswith("not scanned: ")
    assert str(dead) in warning and "nothing listens" in warning
    assert "scripts/services.sh start clamd" in warning and "STRONGROOM_CLAMD_SOCKET" in warning
    scanner, warning = open_scanner(VirusScanMode.IF_AVAILABLE, None)
    assert scanner is None and warning is not None and "no clamd socket is configured" in warning


def test_open_scanner_required_without_clamd_says_what_to_install(tmp_path: Path) -> None:
    for socket_path in (None, _dead_socket(tmp_path), tmp_path / "missing.sock"):
        with pytest.raises(ConfigError) as caught:
            open_scanner(VirusScanMode.REQUIRED, socket_path)
        message = str(caught.value)
        assert isinstance(caught.value, StrongroomError)
        for needed in (
            'virus_scan = "required"',
            "apt-get install clamav-daemon",
            "freshclam",
            "systemctl start clamav-daemon",
            "bash scripts/services.sh start clamd",
            "[ingest] clamd_socket",
            "STRONGROOM_CLAMD_SOCKET",
        ):
            assert needed in message, (needed, message)


def test_open_scanner_gives_a_ready_scanner_when_clamd_answers() -> None:
    socket_path = clamd_socket()
    for mode in (VirusScanMode.REQUIRED, VirusScanMode.IF_AVAILABLE):
        scanner, warning = open_scanner(mode, socket_path)
        assert warning is None
        assert scanner is not None and scanner.socket_path == socket_path
        assert scanner.info().engine == "ClamAV"


def test_default_socket() -> None:
    assert default_socket({"STRONGROOM_CLAMD_SOCKET": "/run/x/clamd.sock"}) == Path("/run/x/clamd.sock")
    expected = DEBIAN_SOCKET if DEBIAN_SOCKET.exists() else None
    assert default_socket({}) == expected
    assert default_socket({"STRONGROOM_CLAMD_SOCKET": "  "}) == expected


def test_services_script_reports_status_of_the_test_clamd() -> None:
    socket_path = clamd_socket()
    status = subprocess.run(
        ["bash", "scripts/services.sh", "status", "clamd"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout
    assert status.startswith("clamd: running (PID ")
    assert str(socket_path) in status and "clamd-test-db" in status
