"""PDFium's helper processes on real PDFs: text, failures, time and size limits, crashes, a missing pypdfium2,
hostile names, and a helper never outliving the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.fulltext.extract import Extractor, TextExtractor, TextSettings, TextStatus
from strongroom.fulltext.limits import ExtractionFailed, Limits, ToolMissing
from strongroom.fulltext.pdfium import PdfiumHelpers
from tests.conftest import requires_corpus
from tests.fulltext.conftest import ARTICLE, LONG_REPORT

pytestmark = requires_corpus()

BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 8


def helper_pids() -> set[int]:
    """The PDFium helpers now running whose parent is this test process."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"pdfium_helper.py" in command and parent == os.getpid():
            found.add(int(entry.name))
    return found


@pytest.fixture
def pdfium() -> Iterator[TextExtractor]:
    with TextExtractor(TextSettings(enabled=True, time_limit=60.0, size_limit=10_000_000)) as extractor:
        yield extractor


def test_pdfium_reads_the_article_page_by_page(pdfium: TextExtractor) -> None:
    result = pdfium.extract(ARTICLE, Extractor.PDFIUM)
    assert result.status is TextStatus.EXTRACTED and result.tool == "PDFium"
    major, _, wrapper = result.version.partition("+pypdfium2.")
    assert major.split(".")[0].isdigit() and wrapper.split(".")[0].isdigit()
    words = " ".join(result.text.split())
    assert "Significant Properties of Digital Research" in words
    # pdftotext's conventions, so snippets read alike: "\n" line ends and a form feed after each page.
    assert "\r" not in result.text and result.text.endswith("\f") and result.text.count("\f") >= 2
    assert "\x02" not in result.text and "\ufffe" not in result.text
    assert pdfium.tools_used == {"PDFium": result.version}


def test_a_long_report_reads_the_same_as_pdftotext_word_for_word(pdfium: TextExtractor) -> None:
    ours = pdfium.extract(LONG_REPORT, Extractor.PDFIUM)
    poppler = pdfium.extract(LONG_REPORT, Extractor.PDFTOTEXT)
    assert ours.status is poppler.status is TextStatus.EXTRACTED
    assert ours.text.count("\f") == poppler.text.count("\f") == 57
    # Layout differs (spaces, where a column breaks), the words do not: nearly every word of one is in the other.
    mine, theirs = set(ours.text.split()), set(poppler.text.split())
    assert len(mine & theirs) / len(theirs) > 0.95, sorted(theirs - mine)[:40]


def test_a_corrupt_pdf_fails_that_file_only_and_the_helper_goes_on(pdfium: TextExtractor, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(BROKEN_PDF)
    result = pdfium.extract(broken, Extractor.PDFIUM)
    assert result.status is TextStatus.FAILED and "PDFium could not read the file" in result.reason
    assert not result.text
    running = helper_pids()
    assert len(running) == 1
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED
    assert helper_pids() == running  # the same helper read the next file: no process per file
    missing = pdfium.extract(tmp_path / "gone.pdf", Extractor.PDFIUM)
    assert missing.status is TextStatus.FAILED and "No such file or directory" in missing.reason


def test_a_password_protected_pdf_is_a_failure_that_says_so(pdfium: TextExtractor, tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    made = subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-sOwnerPassword=owner", "-sUserPassword=secret",
         f"-sOutputFile={locked}", str(ARTICLE)], capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr  # Ghostscript: installed by scripts/install.sh
    result = pdfium.extract(locked, Extractor.PDFIUM)
    assert result.status is TextStatus.FAILED
    assert (
        result.reason == "PDFium could not read the file: Failed to load document (PDFium: Incorrect password error)."
    )


def test_the_time_limit_kills_the_helper_and_the_next_file_gets_a_new_one(
    pdfium: TextExtractor, tmp_path: Path
) -> None:
    # A named pipe with no writer: the helper's open() waits for ever, as a PDF that never finishes would.
    never = tmp_path / "never.pdf"
    os.mkfifo(never)
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED
    first = helper_pids()
    started = time.monotonic()
    slow = pdfium.extract(never, Extractor.PDFIUM, time_limit=0.5)
    assert slow.status is TextStatus.FAILED and "PDFium took longer than the time limit of 0.5 s" in slow.reason
    assert time.monotonic() - started < 3.0
    assert not helper_pids() & first  # killed, and reaped
    after = pdfium.extract(LONG_REPORT, Extractor.PDFIUM)
    assert after.status is TextStatus.EXTRACTED and after.text.count("\f") == 57


def test_a_helper_that_dies_on_a_file_fails_that_file_with_how_it_died(pdfium: TextExtractor, tmp_path: Path) -> None:
    never = tmp_path / "stuck.pdf"
    os.mkfifo(never)
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED
    (helper,) = helper_pids()
    results = []
    reading = threading.Thread(target=lambda: results.append(pdfium.extract(never, Extractor.PDFIUM)))
    reading.start()
    time.sleep(0.3)  # the helper is now blocked opening the pipe, as one stuck inside PDFium would be
    os.kill(helper, signal.SIGKILL)  # what a crash or the kernel's out-of-memory killer does
    reading.join(10)
    (crashed,) = results
    assert crashed.status is TextStatus.FAILED and "PDFium stopped while reading the file" in crashed.reason
    assert "killed by SIGKILL" in crashed.reason
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED


def test_an_idle_helper_that_died_is_replaced_before_the_next_file(pdfium: TextExtractor) -> None:
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED
    (helper,) = helper_pids()
    os.kill(helper, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while helper in helper_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pdfium.extract(ARTICLE, Extractor.PDFIUM).status is TextStatus.EXTRACTED


def test_a_helper_that_died_just_before_it_was_given_a_file_does_not_fail_that_file() -> None:
    helpers = PdfiumHelpers()
    try:
        helpers.start_check()
        (idle,) = helpers._idle  # white box: the one helper, waiting for a file
        os.kill(idle.process.pid, signal.SIGKILL)
        idle.process.wait()
        idle.process.poll = lambda: None  # type: ignore[method-assign]  # as if it died after the check for it
        raw = helpers.extract(ARTICLE, Limits.starting_now(100_000, 60))
    finally:
        helpers.close()
    assert "Significant Properties of Digital Research" in " ".join(raw.text.split())


def test_the_size_limit_cuts_the_text_and_stops_reading(tmp_path: Path) -> None:
    with TextExtractor(TextSettings(enabled=True, size_limit=500)) as small:
        result = small.extract(ARTICLE, Extractor.PDFIUM)
        huge = small.extract(LONG_REPORT, Extractor.PDFIUM)
    assert result.status is TextStatus.CUT and len(result.text) == 500 and result.found is None
    assert huge.status is TextStatus.CUT and len(huge.text) == 500
    helpers = PdfiumHelpers()
    try:
        raw = helpers.extract(LONG_REPORT, Limits.starting_now(500, 60))
    finally:
        helpers.close()
    assert raw.more and len(raw.text.encode()) <= Limits.starting_now(500, 60).max_bytes


def test_hostile_names_are_read(pdfium: TextExtractor, tmp_path: Path) -> None:
    for name in (b"-opw x.pdf", b"line\nbreak.pdf", b"caf\xe9-not-utf8.pdf", b"\xe2\x80\xaereversed.pdf"):
        path = Path(os.fsdecode(bytes(tmp_path) + b"/" + name))
        path.write_bytes(ARTICLE.read_bytes())
        result = pdfium.extract(path, Extractor.PDFIUM)
        assert result.status is TextStatus.EXTRACTED, (name, result.reason)


def test_threads_each_borrow_a_helper_and_close_stops_them_all(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(BROKEN_PDF)
    items = [ARTICLE, broken, LONG_REPORT] * 6
    with TextExtractor(TextSettings(enabled=True)) as extractor:
        results = list(extractor.extract_many(items, lambda p: (p, Extractor.PDFIUM), workers=3))
        assert 1 <= len(helper_pids()) <= 3
    assert [path for path, _ in results] == items  # in order
    statuses = [r.status for _, r in results]
    assert statuses == [TextStatus.EXTRACTED, TextStatus.FAILED, TextStatus.EXTRACTED] * 6
    assert helper_pids() == set()


def test_without_pypdfium2_pdfs_are_not_extracted_and_the_reason_says_what_to_install(tmp_path: Path) -> None:
    bare = "/usr/bin/python3"
    if not Path(bare).exists() or subprocess.run([bare, "-I", "-c", "import pypdfium2"],
                                                 capture_output=True).returncode == 0:  # fmt: skip
        pytest.skip("no Python without pypdfium2 on this machine")
    helpers = PdfiumHelpers(python=bare)
    try:
        with pytest.raises(ToolMissing, match=r"pypdfium2 is not installed.*pip install pypdfium2"):
            helpers.extract(ARTICLE, Limits.starting_now(1000, 10))
        assert helper_pids() == set()  # nothing left running
        with pytest.raises(ToolMissing):  # known now: no helper started again for each file
            helpers.extract(ARTICLE, Limits.starting_now(1000, 10))
        assert helper_pids() == set()
    finally:
        helpers.close()
    nowhere = PdfiumHelpers(python=str(tmp_path / "no-python"))
    with pytest.raises(ToolMissing, match="could not be started"):
        nowhere.extract(ARTICLE, Limits.starting_now(1000, 10))


def test_a_helper_exits_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    stuck = tmp_path / "stuck.pdf"
    os.mkfifo(stuck)
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from strongroom.fulltext.pdfium import PdfiumHelpers\n"
        "from strongroom.fulltext.limits import Limits\n"
        "helpers = PdfiumHelpers()\n"
        "print('ready', flush=True)\n"
        "helpers.extract(Path(sys.argv[1]), Limits.starting_now(1000, 600))\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(stuck)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        helpers: list[int] = []
        while not helpers and time.monotonic() < deadline:
            helpers = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _child_of(p, parent.pid)]
            time.sleep(0.05)
        assert helpers, "no helper started"
        time.sleep(0.3)  # the helper is blocked on the pipe, mid-file
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in helpers):
            assert time.monotonic() < deadline, "a PDFium helper outlived the process that started it"
            time.sleep(0.1)
    finally:
        parent.kill()
        parent.wait()


def _child_of(entry: Path, parent: int) -> bool:
    try:
        return (
            b"pdfium_helper.py" in (entry / "cmdline").read_bytes()
            and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent
        )
    except (OSError, ValueError, IndexError):
        return False


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def test_extraction_failed_is_the_only_failure_a_file_can_raise(tmp_path: Path) -> None:
    helpers = PdfiumHelpers()
    try:
        broken = tmp_path / "broken.pdf"
        broken.write_bytes(BROKEN_PDF)
        with pytest.raises(ExtractionFailed, match="PDFium could not read the file"):
            helpers.extract(broken, Limits.starting_now(1000, 10))
    finally:
        helpers.close()
