"""The event journal on a real FilesystemStorage: round trips, the hash chain, and tampering."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import multiprocessing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType

import pytest

from strongroom.errors import JournalError
from strongroom.model import Agent, AgentType, Event, Outcome
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.journal import GENESIS, Journal, JournalEntry, JournalRecord, entry_from_json, entry_to_json

PACKAGE = "2f6b1c58-3f0e-4a52-9c33-0d7c6c1f8a11"
HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt\nsecond line\r\n\u2028\u0085\t%00 \\ 📁"
ARCHIVIST = Agent("preservation system", "test-archivist", "Test Archivist", AgentType.PERSON, note=HOSTILE)
SOFTWARE = Agent("preservation system", "Strongroom 1.0", "Strongroom", AgentType.SOFTWARE)


def record(n: int = 0, *, package: str = PACKAGE, outcome: Outcome = Outcome.SUCCESS) -> JournalRecord:
    event = Event(
        uuid=str(uuid.UUID(int=n + 1)),
        type="fixity check",
        datetime=datetime(2024, 5, 1, 12, 0, n % 60, 123456, tzinfo=UTC),
        detail=f"check {n}: {HOSTILE}",
        outcome=outcome,
        outcome_detail="all 3 files match",
        agents=(ARCHIVIST.key, SOFTWARE.key),
        file_uuid=None,
        version=1,
    )
    return JournalRecord(package, event, (ARCHIVIST, SOFTWARE), {"n": n, "files": ["a", HOSTILE]})


@pytest.fixture
def backend(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


@pytest.fixture
def journal(backend: FilesystemStorage) -> Journal:
    return Journal(backend)


def fill(journal: Journal, batches: tuple[int, ...] = (3, 3, 3)) -> list[JournalEntry]:
    entries: list[JournalEntry] = []
    for size in batches:
        entries += journal.append([record(len(entries) + i) for i in range(size)])
    return entries


def batch_path(backend: FilesystemStorage, first: int) -> Path:
    return backend.root / "journal" / f"{first:012d}.jsonl"


def rewrite_line(path: Path, line: int, change: dict[str, object], *, recompute: bool = False) -> None:
    """Change fields of one entry on disk, optionally recomputing its digest as a careful forger would."""
    lines = path.read_bytes().split(b"\n")
    entry = json.loads(lines[line - 1])
    entry.update(change)
    if recompute:
        del entry["digest"]
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        entry["digest"] = hashlib.sha256(canonical.encode()).hexdigest()
    lines[line - 1] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    path.write_bytes(b"\n".join(lines))


# --- round trips ------------------------------------------------------------------------------


def test_append_and_read_back_every_field(journal: Journal, backend: FilesystemStorage) -> None:
    closed = JournalRecord(
        "other-package",
        Event(
            uuid="e-2",
            type="access change",
            datetime=datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
            detail="closed for data protection",
            outcome=Outcome.WARNING,
            outcome_detail="",
            agents=(ARCHIVIST.key,),
            file_uuid="f-1",
            version=None,
        ),
        (ARCHIVIST,),
        {"path": "objects/minutes/1999.pdf", "status": "closed", "reason": HOSTILE, "opening_date": "2030-01-01"},
    )
    written = journal.append([record(0), closed])
    assert [e.sequence for e in written] == [1, 2]
    assert written[0].previous == GENESIS and written[0].key == "journal/000000000001.jsonl"
    assert [e.line for e in written] == [1, 2]

    read = list(journal.entries())
    assert read == written
    for entry, original in zip(read, [record(0), closed], strict=True):
        assert entry.package == original.package
        assert entry.event == original.event
        assert entry.agents == original.agents
        assert entry.data == original.data
    assert read[1].event.datetime.utcoffset() == timedelta(hours=-5)
    assert list(journal.entries(package="other-package")) == [written[1]]
    # One line per entry, whatever the text holds.
    assert len(batch_path(backend, 1).read_bytes().split(b"\n")) == 3
    assert journal.append([]) == []


def test_entries_kept_as_json_by_a_job_come_back_whole_and_a_damaged_one_is_refused(journal: Journal) -> None:
    entries = fill(journal, (2, 1))
    kept = json.loads(json.dumps([entry_to_json(e) for e in entries]))  # as a job's scratch file holds them
    assert [entry_from_json(k) for k in kept] == entries
    assert {k["key"] for k in kept} == {e.key for e in entries} and kept[2]["line"] == 1
    damaged = {**kept[0], "event": {**kept[0]["event"], "outcome": "maybe"}}
    with pytest.raises(JournalError, match="kept as JSON cannot be read") as err:
        entry_from_json(damaged)
    assert err.value.details
    with pytest.raises(JournalError, match="where in the journal"):
        entry_from_json({k: v for k, v in kept[0].items() if k != "line"})


def test_sequences_are_contiguous_across_batches_and_verify_clean(journal: Journal, backend: FilesystemStorage) -> None:
    entries = fill(journal, (1, 4, 2))
    assert [e.sequence for e in entries] == list(range(1, 8))
    assert sorted(p.name for p in (backend.root / "journal").iterdir()) == [
        "000000000001.jsonl",
        "000000000002.jsonl",
        "000000000006.jsonl",
    ]
    report = journal.verify()
    assert report.ok and report.problems == ()
    assert report.entries == 7 and report.head == entries[-1].digest
    assert Journal(backend).verify().head == entries[-1].digest
    empty = Journal(FilesystemStorage(backend.root.parent / "empty")).verify()
    assert (empty.entries, empty.problems, empty.head) == (0, (), None)


def test_records_that_cannot_be_written_are_refused(journal: Journal) -> None:
    naive = JournalRecord(PACKAGE, dataclasses.replace(record(0).event, datetime=datetime(2024, 1, 1)))
    with pytest.raises(JournalError, match="time zone"):
        journal.append([naive])
    with pytest.raises(JournalError, match="plain JSON"):
        journal.append([JournalRecord(PACKAGE, record(0).event, data={"when": datetime.now(UTC)})])
    with pytest.raises(JournalError, match="plain JSON"):
        journal.append([JournalRecord(PACKAGE, record(0).event, data={"x": "lone \ud800 surrogate"})])
    with pytest.raises(JournalError, match="would not read back"):
        journal.append([JournalRecord(PACKAGE, dataclasses.replace(record(0).event, detail=42))])  # type: ignore[arg-type]
    assert list(journal.entries()) == []


# --- tampering --------------------------------------------------------------------------------


def test_an_edited_line_is_named(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    path = batch_path(backend, 4)
    # The first match in the batch file: line 1 of the batch, entry 4.
    path.write_bytes(path.read_bytes().replace(b'"outcome":"success"', b'"outcome":"failure"', 1))
    problems = journal.verify().problems
    first = problems[0]
    assert (first.sequence, first.key, first.line, first.kind) == (4, "journal/000000000004.jsonl", 1, "edited")
    assert first.describe().startswith("entry 4 (journal/000000000004.jsonl, line 1): edited: ")
    assert "replica" in first.describe()


def test_an_edit_with_a_recomputed_digest_breaks_the_chain_at_the_next_entry(
    journal: Journal, backend: FilesystemStorage
) -> None:
    fill(journal)
    rewrite_line(batch_path(backend, 4), 2, {"data": {"n": 999}}, recompute=True)
    problems = journal.verify().problems
    assert [(p.sequence, p.line, p.kind) for p in problems] == [(6, 3, "broken chain")]
    # Across a batch boundary too: the last entry of a batch, then the first of the next.
    rewrite_line(batch_path(backend, 1), 3, {"data": {"n": 999}}, recompute=True)
    problems = journal.verify().problems
    assert (problems[0].sequence, problems[0].key, problems[0].kind) == (
        4,
        "journal/000000000004.jsonl",
        "broken chain",
    )


def test_swapped_lines_are_reported(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    path = batch_path(backend, 4)
    lines = path.read_bytes().split(b"\n")
    lines[0], lines[1] = lines[1], lines[0]
    path.write_bytes(b"\n".join(lines))
    problems = journal.verify().problems
    assert [(p.sequence, p.line, p.kind) for p in problems] == [(5, 1, "reordered"), (4, 2, "reordered")]
    assert "swapped" in problems[0].describe()


def test_a_deleted_batch_is_missing(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    batch_path(backend, 4).unlink()
    problems = journal.verify().problems
    assert [(p.sequence, p.key, p.line, p.kind) for p in problems] == [(4, "journal/000000000007.jsonl", 1, "missing")]
    assert "entries 4 to 6 are missing" in problems[0].describe()


def test_a_deleted_line_is_reported(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    path = batch_path(backend, 4)
    lines = path.read_bytes().split(b"\n")
    del lines[1]
    path.write_bytes(b"\n".join(lines))
    problems = journal.verify().problems
    assert [(p.sequence, p.line, p.kind) for p in problems] == [(5, 2, "missing")]
    assert "entry 5 is missing before entry 6" in problems[0].describe()
    # The first line of a batch: the gap shows as well.
    path = batch_path(backend, 7)
    path.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[1:]))
    assert [(p.sequence, p.kind) for p in journal.verify().problems] == [(5, "missing"), (7, "missing")]


def test_a_renamed_batch_is_reported(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    batch_path(backend, 4).rename(batch_path(backend, 5))
    problems = journal.verify().problems
    assert [(p.sequence, p.key, p.kind) for p in problems] == [(4, "journal/000000000005.jsonl", "missing")]


def test_unreadable_lines_are_reported_and_stop_reading(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal)
    path = batch_path(backend, 4)
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'{"sequence": 5, "half a line'
    path.write_bytes(b"\n".join(lines))
    (backend.root / "journal" / "notes.txt").write_text("a stray file")
    problems = journal.verify().problems
    assert [(p.sequence, p.key, p.line, p.kind) for p in problems] == [
        (None, "journal/000000000004.jsonl", 2, "unreadable"),
        (None, "journal/notes.txt", None, "unreadable"),
    ]
    assert problems[0].describe().startswith("journal/000000000004.jsonl, line 2: unreadable: ")
    with pytest.raises(JournalError, match="Line 2 of the journal batch"):
        list(journal.entries())


def test_appending_onto_an_unreadable_last_batch_is_refused(journal: Journal, backend: FilesystemStorage) -> None:
    fill(journal, (2,))
    batch_path(backend, 1).write_bytes(b"garbage\n")
    with pytest.raises(JournalError, match="cannot be read"):
        journal.append([record(9)])


# --- two processes ----------------------------------------------------------------------------


class FileLock:
    """An exclusive fcntl lock on a file: what the catalog's cross-process lock provides."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> FileLock:
        self.file = open(self.path, "a")
        fcntl.flock(self.file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()


def append_batches(store: str, lock: str, worker: int) -> None:
    journal = Journal(FilesystemStorage(Path(store)), lock=lambda: FileLock(Path(lock)))
    for n in range(50):
        journal.append([record(worker * 1000 + n * 2), record(worker * 1000 + n * 2 + 1)])


def test_concurrent_appends_from_two_processes_make_one_chain(backend: FilesystemStorage, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    lock = tmp_path / "journal.lock"
    workers = [context.Process(target=append_batches, args=(str(backend.root), str(lock), w)) for w in (1, 2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    journal = Journal(backend)
    report = journal.verify()
    assert report.ok, [p.describe() for p in report.problems]
    entries = list(journal.entries())
    assert [e.sequence for e in entries] == list(range(1, 201))
    assert len({e.key for e in entries}) == 100
    assert {e.data["n"] // 1000 for e in entries} == {1, 2}


class ListingStorage(FilesystemStorage):
    """Records every listing, to show how much of the journal an append lists."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.listed: list[str] = []

    def list(self, prefix: str = ""):  # type: ignore[no-untyped-def]
        self.listed.append(prefix)
        return super().list(prefix)


def test_an_append_with_the_catalogs_anchor_lists_one_block_not_the_whole_journal(tmp_path: Path) -> None:
    from strongroom.model import JournalAnchor

    storage = ListingStorage(tmp_path / "store")
    anchor: list[JournalAnchor | None] = [None]
    journal = Journal(storage, head_hint=lambda: anchor[0])
    for n in range(5):
        storage.listed.clear()
        entry = journal.append([record(n)])[-1]
        if n:  # the first append has no anchor yet and lists the (empty) journal
            assert storage.listed == ["journal/000000000"], storage.listed
        anchor[0] = JournalAnchor(entry.sequence, entry.digest)
    # A stale anchor (an append whose anchor update was lost) is noticed: the whole journal is listed instead.
    anchor[0] = JournalAnchor(3, [e for e in journal.entries()][2].digest)
    storage.listed.clear()
    assert journal.append([record(9)])[-1].sequence == 6
    assert "journal/" in storage.listed
    # A wrong digest is never trusted either.
    anchor[0] = JournalAnchor(6, "0" * 64)
    assert journal.append([record(10)])[-1].sequence == 7
    report = journal.verify()
    assert report.ok and report.entries == 7
