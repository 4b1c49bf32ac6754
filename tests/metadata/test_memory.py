"""write_mets streams: memory stays flat however many files a package has."""

from __future__ import annotations

import dataclasses
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.metadata import write_mets
from strongroom.model import Event, FileRecord, FileRole, Outcome
from tests.metadata import sample as s

pytestmark = pytest.mark.slow

FILES = 20_000
REPO = Path(__file__).resolve().parents[2]


def _files() -> Iterator[tuple[FileRecord, list[Event]]]:
    """Made on the fly, as the ingest's staging database gives them: nothing is kept."""
    for i in range(FILES):
        uuid = f"00000000-0000-4000-8000-{i:012d}"
        path = f"objects/series-{i // 2000:02d}/box-{i // 100:03d}/item-{i:06d}.txt"
        record = FileRecord(
            uuid, path, path.rsplit("/", 1)[1], 1000 + i, f"{i:064x}", FileRole.ORIGINAL,
            s.TEXT if i % 2 else None, s.CREATED,
        )  # fmt: skip
        event = Event(f"e-{uuid}", "ingestion", s.CREATED, "received", Outcome.SUCCESS, "ok", (s.SYSTEM.key,), uuid)
        yield record, [event]


def measure(dest: str) -> None:
    """Run in a child process: the only way ru_maxrss says something about this write alone."""
    document = dataclasses.replace(s.sample().document, rights=(), files=_files)
    write_mets(Path(dest).with_suffix(".warm"), dataclasses.replace(document, files=lambda: iter(())))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    tracemalloc.start()
    write_mets(Path(dest), document)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    print(json.dumps({"peak": peak, "rss_growth": rss_growth, "seconds": time.perf_counter() - started}))


def test_writing_20k_files_keeps_memory_flat(tmp_path: Path) -> None:
    dest = tmp_path / "METS.xml"
    child = subprocess.run(
        [sys.executable, "-c", f"from tests.metadata.test_memory import measure; measure({str(dest)!r})"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(child.stdout)
    size = dest.stat().st_size
    # A parsed or built tree costs more than its serialised text, so `size` is a floor for it.
    assert size > 50_000_000, "the document is smaller than the test assumes"
    assert figures["peak"] < 20_000_000, figures  # Python heap: tens of MB at most
    assert figures["peak"] < size / 50, figures
    assert figures["rss_growth"] < 64_000_000, figures  # libxml2 too, which tracemalloc cannot see
    assert figures["rss_growth"] < size / 4, figures

    content = dest.read_bytes()  # complete, every file in (read_mets is tested on small documents)
    assert content.rstrip().endswith(b"</mets:mets>")
    assert content.count(b"<mets:fptr ") == content.count(b' ID="amdSec-') == FILES
