"""The event journal: an append-only, hash-chained record of every event after a version is written.

It lives beside the OCFL storage root in the same StorageBackend, one object per
append batch, never rewritten:
    journal/000000000001.jsonl    entries 1 .. k (the name is the batch's first sequence number)
    journal/000000000042.jsonl    entries 42 .. ...

Each line is one entry in canonical JSON (sorted keys, no spaces, UTF-8): the PREMIS
event, the full records of its agents, the package (and version) it concerns and a
free `data` mapping, plus `previous` (SHA-256 of the previous entry's line) and
`digest` (SHA-256 of the entry without `digest`). Editing, reordering or deleting
any entry therefore shows in verify(); the catalog can be rebuilt from the journal
and the OCFL objects alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from strongroom.errors import JournalError, NotFound, StorageError
from strongroom.model import Agent, AgentType, Event, JournalAnchor, Outcome
from strongroom.storage.base import StorageBackend
from strongroom.storage.keys import key_problem

GENESIS = "0" * 64  # the "previous" of the first entry
# Batches hold the events of one operation; a fixity run over a large package is the
# biggest, at a few hundred bytes per file.
MAX_BATCH_BYTES = 256 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ENTRY_KEYS = frozenset({"sequence", "previous", "package", "event", "agents", "data", "digest"})
_EVENT_KEYS = frozenset(
    {"uuid", "type", "datetime", "detail", "outcome", "outcome_detail", "agents", "file_uuid", "version"}
)
_AGENT_KEYS = frozenset({"identifier_type", "identifier_value", "name", "type", "note"})


@dataclass(frozen=True)
class JournalRecord:
    """One event to append: what happened, who took part, and machine-readable details."""

    package: str
    event: Event
    agents: tuple[Agent, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JournalEntry:
    """A record as stored: its place in the journal and its links in the chain."""

    sequence: int
    key: str  # the batch object holding it
    line: int  # 1-based line within the batch
    package: str
    event: Event
    agents: tuple[Agent, ...]
    data: Mapping[str, Any]
    previous: str
    digest: str


@dataclass(frozen=True)
class JournalProblem:
    """Something verify() found wrong; `kind` is edited, reordered, missing, unreadable or broken chain."""

    sequence: int | None
    key: str
    line: int | None
    kind: str
    detail: str

    def describe(self) -> str:
        where = self.key if self.line is None else f"{self.key}, line {self.line}"
        subject = f"entry {self.sequence} ({where})" if self.sequence is not None else where
        return f"{subject}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class JournalReport:
    entries: int
    problems: tuple[JournalProblem, ...]
    head: str | None  # digest of the last entry

    @property
    def ok(self) -> bool:
        return not self.problems


class _Unreadable(Exception):
    """Internal: why a line is not a journal entry."""


@dataclass(frozen=True)
class _Line:
    raw: bytes
    number: int
    hash: str  # sha256 of the raw line: what the next entry's "previous" names
    entry: JournalEntry | None
    error: str | None  # why it could not be read
    edited: str | None  # why its content does not match its digest


_RESTORE = "Restore the journal from a replica before trusting or rebuilding from it."


class Journal:
    """The journal under `prefix` of `backend`.

    `lock` serialises appends across processes (the catalog's lock); without one, a
    lock of this object serialises the threads of this process only.
    """

    def __init__(
        self,
        backend: StorageBackend,
        *,
        prefix: str = "journal",
        lock: Callable[[], AbstractContextManager[object]] | None = None,
        head_hint: Callable[[], JournalAnchor | None] | None = None,
    ) -> None:
        problem = key_problem(prefix)
        if problem is not None:
            raise JournalError(f"Invalid journal prefix {prefix!r}: {problem}.")
        self.backend = backend
        self.prefix = prefix
        self._head_hint = head_hint
        self._batch_name = re.compile(rf"{re.escape(prefix)}/([0-9]{{12}})\.jsonl")
        if lock is None:
            local = threading.Lock()
            self._lock: Callable[[], AbstractContextManager[object]] = lambda: local
        else:
            self._lock = lock

    def __repr__(self) -> str:
        return f"Journal({self.backend!r}, prefix={self.prefix!r})"

    # --- writing ------------------------------------------------------------------------------

    def append(self, records: Sequence[JournalRecord]) -> list[JournalEntry]:
        """Append `records` as one new batch; returns them as stored ([] for no records)."""
        if not records:
            return []
        bodies = [_record_body(record) for record in records]  # refuse bad records before locking
        with self._lock():
            sequence, previous = self._head()
            first = sequence + 1
            key = f"{self.prefix}/{first:012d}.jsonl"
            lines: list[bytes] = []
            for offset, body in enumerate(bodies):
                entry = {**body, "sequence": first + offset, "previous": previous}
                entry["digest"] = _sha256(_canonical(entry))
                line = _canonical(entry)
                lines.append(line)
                previous = _sha256(line)
            stored = [_read_line(line, key, number) for number, line in enumerate(lines, 1)]
            for line_read, record in zip(stored, records, strict=True):
                if line_read.entry is None:
                    raise JournalError(
                        f"The event {record.event.uuid!r} ({record.event.type!r}) would not read back from the "
                        f"journal: {line_read.error}. Nothing was written; pass text where the model expects text."
                    )
            batch = b"".join(line + b"\n" for line in lines)
            try:
                self.backend.stat(key)
            except NotFound:
                pass
            else:
                raise JournalError(
                    f"The journal batch {key!r} already exists although the journal ends before it. Another "
                    "process appended without the shared lock; run a journal check before recording more events."
                )
            with tempfile.TemporaryDirectory(prefix="strongroom-journal-") as folder:
                path = Path(folder, "batch.jsonl")
                path.write_bytes(batch)
                self.backend.put(key, path, _sha256(batch))
        return [line_read.entry for line_read in stored if line_read.entry is not None]

    def _head(self) -> tuple[int, str]:
        """(sequence, hash of the line) of the last entry; (0, GENESIS) for an empty journal."""
        hinted = self._hinted_head()
        if hinted is not None:
            return hinted
        last = None
        for last in self._batch_keys():  # noqa: B007 - only the last one is wanted
            pass
        if last is None:
            return 0, GENESIS
        lines = self._lines(last)
        final = lines[-1] if lines else None
        if final is None or final.entry is None:
            why = "it is empty" if final is None else final.error
            raise JournalError(
                f"The last journal batch {last!r} cannot be read ({why}), so new events cannot be chained to it. "
                "Check the journal and restore that batch from a replica before recording more events."
            )
        return final.entry.sequence, final.hash

    def _hinted_head(self) -> tuple[int, str] | None:
        """The head found from where the hint says it is, without listing the whole journal; None to list.

        Listing every batch costs one request per thousand batches on S3, on every append. The hint
        (the catalog's anchor: the last entry appended) names the sequence; only the batches of its
        block of a thousand are listed, and the hint is used only if its entry is there, is the last
        one of its batch, has the recorded digest, and no batch follows it.
        """
        anchor = self._head_hint() if self._head_hint is not None else None
        if anchor is None or anchor.sequence < 1:
            return None
        block = f"{self.prefix}/{anchor.sequence:012d}"[:-3]
        keys = [k for k in self.backend.list(block) if self._batch_name.fullmatch(k)]
        candidates = [k for k in keys if int(k[len(self.prefix) + 1 : -6]) <= anchor.sequence]
        if not candidates or any(int(k[len(self.prefix) + 1 : -6]) > anchor.sequence for k in keys):
            return None
        try:
            self.backend.stat(f"{self.prefix}/{anchor.sequence + 1:012d}.jsonl")
        except NotFound:
            pass
        else:
            return None  # the anchor is behind (an append whose anchor update was interrupted)
        lines = self._lines(candidates[-1])
        final = lines[-1] if lines else None
        if final is None or final.entry is None:
            return None
        if final.entry.sequence != anchor.sequence or final.entry.digest != anchor.digest:
            return None
        return final.entry.sequence, final.hash

    # --- reading ------------------------------------------------------------------------------

    def entries(self, *, package: str | None = None) -> Iterator[JournalEntry]:
        """Every entry in order (only those of `package` if given); JournalError on an unreadable line.

        This reads; it does not check the chain. verify() does.
        """
        for key in self._batch_keys():
            for line in self._lines(key):
                if line.entry is None:
                    raise JournalError(
                        f"Line {line.number} of the journal batch {key!r} cannot be read: {line.error}. "
                        f"Run a journal check to see all the damage. {_RESTORE}"
                    )
                if package is None or line.entry.package == package:
                    yield line.entry

    def verify(self, anchor: JournalAnchor | None = None) -> JournalReport:
        """Walk the whole journal and report every problem, the first first. Never raises on damage.

        `anchor` is the newest entry another place (the catalog) saw appended: a journal that
        ends before it, or holds a different entry at its sequence, lost or rewrote its end.
        """
        problems: list[JournalProblem] = []
        expected = 1  # the next sequence number
        before: str | None = GENESIS  # hash of the entry before; None after an unreadable line
        hashes: dict[int, str | None] = {}  # line hashes by sequence: this batch's, and the last of the one before
        count = 0
        head: str | None = None
        anchored: tuple[str, str, int] | None = None  # (digest, key, line) of the anchor's entry
        for key in self._batch_keys(strays=problems):
            try:
                lines = self._lines(key)
            except StorageError as err:
                problems.append(JournalProblem(None, key, None, "unreadable", f"{err} {_RESTORE}"))
                continue
            if not lines:
                problems.append(JournalProblem(None, key, None, "unreadable", f"the batch is empty. {_RESTORE}"))
                continue
            first = lines[0].entry
            named = int(key.rpartition("/")[2].partition(".")[0])
            # A renamed batch; a gap or reordering is reported by the line checks below.
            if first is not None and first.sequence != named and first.sequence == expected:
                problems.append(
                    JournalProblem(
                        first.sequence,
                        key,
                        1,
                        "missing",
                        f"the batch is named for entry {named} but starts with entry {first.sequence}; it was "
                        f"renamed, or entries were removed from it. {_RESTORE}",
                    )
                )
            hashes = {expected - 1: before}
            later = {line.entry.sequence for line in lines if line.entry is not None}
            for line in lines:
                count += 1
                problem = _check_line(line, key, expected, before, hashes, later)
                if problem is not None:
                    problems.append(problem)
                if line.entry is not None:
                    expected = max(expected, line.entry.sequence + 1)
                    hashes[line.entry.sequence] = line.hash
                    head = line.entry.digest
                    before = line.hash
                    if anchor is not None and line.entry.sequence == anchor.sequence:
                        anchored = (line.entry.digest, key, line.number)
                else:
                    # Most likely it held the next entry, whose hash is now unknown: the chain check of
                    # the entry after it would only repeat this problem.
                    expected += 1
                    before = None
        if anchor is not None:
            problems.extend(_anchor_problems(anchor, anchored, expected - 1, self.prefix))
        return JournalReport(entries=count, problems=tuple(problems), head=head)

    # --- helpers ------------------------------------------------------------------------------

    def _batch_keys(self, strays: list[JournalProblem] | None = None) -> Iterator[str]:
        for key in self.backend.list(f"{self.prefix}/"):
            if self._batch_name.fullmatch(key):
                yield key
            elif strays is not None:
                strays.append(
                    JournalProblem(
                        None,
                        key,
                        None,
                        "unreadable",
                        "this is not a journal batch (journal/<12 digits>.jsonl); move it out of the journal.",
                    )
                )

    def _lines(self, key: str) -> list[_Line]:
        data = bytearray()
        with self.backend.open(key) as handle:
            while chunk := handle.read(1024 * 1024):
                data += chunk
                if len(data) > MAX_BATCH_BYTES:
                    raise JournalError(
                        f"The journal batch {key!r} is larger than {MAX_BATCH_BYTES} bytes, far more than "
                        f"Strongroom writes; it was probably replaced. {_RESTORE}"
                    )
        raw_lines = bytes(data).split(b"\n")
        if raw_lines[-1] == b"":
            raw_lines.pop()  # the newline that ends the last line
        # Split on b"\n" only: canonical JSON keeps U+2028 and other line separators inside strings.
        return [_read_line(raw, key, number) for number, raw in enumerate(raw_lines, 1)]


def _anchor_problems(
    anchor: JournalAnchor, anchored: tuple[str, str, int] | None, last: int, prefix: str
) -> list[JournalProblem]:
    if anchored is None:
        if last < anchor.sequence:
            return [
                JournalProblem(
                    last + 1, f"{prefix}/", None, "missing",
                    f"the journal ends at entry {last}, but the catalog saw entry {anchor.sequence} appended: "
                    f"entries {last + 1} to {anchor.sequence} were removed from its end. {_RESTORE}",
                )
            ]  # fmt: skip
        return []  # the anchor's own line is unreadable: reported already
    digest, key, line = anchored
    if digest != anchor.digest:
        return [
            JournalProblem(
                anchor.sequence, key, line, "edited",
                f"this is not the entry {anchor.sequence} the catalog saw appended (its digest was "
                f"{anchor.digest[:16]}…, now {digest[:16]}…): the journal was rewritten from here on. {_RESTORE}",
            )
        ]  # fmt: skip
    return []


# --- serialising ------------------------------------------------------------------------------


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record_body(record: JournalRecord) -> dict[str, Any]:
    """The entry fields a record supplies, after checking that they survive canonical JSON."""
    event = record.event
    if event.datetime.tzinfo is None or event.datetime.utcoffset() is None:
        raise JournalError(
            f"The event {event.uuid} ({event.type}) has a date and time without a time zone; give it one."
        )
    body = {
        "package": record.package,
        "event": _event_json(event),
        "agents": [_agent_json(agent) for agent in record.agents],
        "data": dict(record.data),
    }
    try:
        _canonical(body)
    except (TypeError, ValueError) as err:  # UnicodeEncodeError is a ValueError
        raise JournalError(
            f"The event {event.uuid} ({event.type}) cannot be written to the journal: {err}. Its data must be "
            "plain JSON (strings, numbers, true/false/null, lists and objects with string keys)."
        ) from err
    return body


def _event_json(event: Event) -> dict[str, Any]:
    return {
        "uuid": event.uuid,
        "type": event.type,
        "datetime": event.datetime.isoformat(),
        "detail": event.detail,
        "outcome": Outcome(event.outcome).value,
        "outcome_detail": event.outcome_detail,
        "agents": list(event.agents),
        "file_uuid": event.file_uuid,
        "version": event.version,
    }


def _agent_json(agent: Agent) -> dict[str, Any]:
    return {
        "identifier_type": agent.identifier_type,
        "identifier_value": agent.identifier_value,
        "name": agent.name,
        "type": AgentType(agent.type).value,
        "note": agent.note,
    }


def entry_to_json(entry: JournalEntry) -> dict[str, Any]:
    """An entry as JSON (for a job's working files): the fields of its journal line, and where it stands."""
    return {
        "key": entry.key,
        "line": entry.line,
        "sequence": entry.sequence,
        "previous": entry.previous,
        "package": entry.package,
        "event": _event_json(entry.event),
        "agents": [_agent_json(agent) for agent in entry.agents],
        "data": dict(entry.data),
        "digest": entry.digest,
    }


def entry_from_json(data: Mapping[str, Any]) -> JournalEntry:
    """The entry entry_to_json wrote, checked as a journal line is."""
    fields = {name: value for name, value in data.items() if name not in ("key", "line")}
    key, line = data.get("key"), data.get("line")
    try:
        if not isinstance(key, str) or type(line) is not int:
            raise _Unreadable("it does not say where in the journal it stands (key and line)")
        return _entry_from(fields, key, line)
    except _Unreadable as err:
        raise JournalError(
            f"A journal entry kept as JSON cannot be read: {err}.",
            details=["Read it from the journal again (for a job: submit the job again)."],
        ) from err


def _read_line(raw: bytes, key: str, number: int) -> _Line:
    line_hash = _sha256(raw)
    try:
        value = json.loads(raw.decode("utf-8"))
        entry = _entry_from(value, key, number)
    except (UnicodeDecodeError, ValueError, RecursionError, _Unreadable) as err:
        return _Line(raw, number, line_hash, None, str(err) or type(err).__name__, None)
    without_digest = {name: part for name, part in value.items() if name != "digest"}
    edited = None
    if _sha256(_canonical(without_digest)) != entry.digest:
        edited = "its digest does not match its content: the entry was altered after it was written"
    elif _canonical(value) != raw:
        edited = "its bytes are not the canonical form of its content: the line was rewritten after it was written"
    return _Line(raw, number, line_hash, entry, None, edited)


def _entry_from(value: Any, key: str, number: int) -> JournalEntry:
    if not isinstance(value, dict) or set(value) != _ENTRY_KEYS:
        raise _Unreadable("it is not a journal entry (a JSON object with exactly the journal's fields)")
    sequence = value["sequence"]
    if type(sequence) is not int or sequence < 1:
        raise _Unreadable(f"its sequence number {sequence!r} is not a positive whole number")
    for name in ("previous", "digest"):
        if not isinstance(value[name], str) or not _SHA256.fullmatch(value[name]):
            raise _Unreadable(f"its {name!r} is not a SHA-256 digest")
    agents = value["agents"]
    if not isinstance(agents, list) or not isinstance(value["data"], dict):
        raise _Unreadable("its agents are not a list or its data is not an object")
    return JournalEntry(
        sequence=sequence,
        key=key,
        line=number,
        package=_text(value, "package"),
        event=_event_from(value["event"]),
        agents=tuple(_agent_from(agent) for agent in agents),
        data=value["data"],
        previous=value["previous"],
        digest=value["digest"],
    )


def _event_from(value: Any) -> Event:
    if not isinstance(value, dict) or set(value) != _EVENT_KEYS:
        raise _Unreadable("its event does not have exactly the fields of a PREMIS event")
    try:
        moment = datetime.fromisoformat(_text(value, "datetime"))
        outcome = Outcome(value["outcome"])
    except ValueError as err:
        raise _Unreadable(f"its event has a bad date or outcome: {err}") from None
    if moment.tzinfo is None:
        raise _Unreadable("its event date has no time zone")
    agents = value["agents"]
    if not isinstance(agents, list) or not all(isinstance(a, str) for a in agents):
        raise _Unreadable("its event's agents are not a list of agent keys")
    version = value["version"]
    if version is not None and (type(version) is not int or version < 1):
        raise _Unreadable(f"its event's version {version!r} is not a version number")
    file_uuid = value["file_uuid"]
    if file_uuid is not None and not isinstance(file_uuid, str):
        raise _Unreadable("its event's file_uuid is not a string")
    return Event(
        uuid=_text(value, "uuid"),
        type=_text(value, "type"),
        datetime=moment,
        detail=_text(value, "detail"),
        outcome=outcome,
        outcome_detail=_text(value, "outcome_detail"),
        agents=tuple(agents),
        file_uuid=file_uuid,
        version=version,
    )


def _agent_from(value: Any) -> Agent:
    if not isinstance(value, dict) or set(value) != _AGENT_KEYS:
        raise _Unreadable("one of its agents does not have exactly the fields of a PREMIS agent")
    note = value["note"]
    if note is not None and not isinstance(note, str):
        raise _Unreadable("an agent's note is not a string")
    try:
        agent_type = AgentType(value["type"])
    except ValueError:
        raise _Unreadable(f"an agent has the unknown type {value['type']!r}") from None
    return Agent(
        identifier_type=_text(value, "identifier_type"),
        identifier_value=_text(value, "identifier_value"),
        name=_text(value, "name"),
        type=agent_type,
        note=note,
    )


def _text(value: dict[str, Any], name: str) -> str:
    text = value[name]
    if not isinstance(text, str):
        raise _Unreadable(f"its {name!r} is not a string")
    return text


# --- verifying --------------------------------------------------------------------------------


def _check_line(
    line: _Line,
    key: str,
    expected: int,
    before: str | None,
    hashes: Mapping[int, str | None],
    later: set[int],
) -> JournalProblem | None:
    """The one problem of a line (the most specific), or None."""
    entry = line.entry
    if entry is None:
        return JournalProblem(None, key, line.number, "unreadable", f"{line.error}. {_RESTORE}")
    if line.edited is not None:
        return JournalProblem(entry.sequence, key, line.number, "edited", f"{line.edited}. {_RESTORE}")
    if entry.sequence < expected:
        return JournalProblem(
            entry.sequence,
            key,
            line.number,
            "reordered",
            f"it comes after entry {expected - 1}: lines were swapped, moved or copied. {_RESTORE}",
        )
    if entry.sequence > expected:
        if expected in later:
            return JournalProblem(
                entry.sequence,
                key,
                line.number,
                "reordered",
                f"it comes before entry {expected}: lines were swapped or moved. {_RESTORE}",
            )
        gone = (
            f"entry {expected} is"
            if entry.sequence == expected + 1
            else f"entries {expected} to {entry.sequence - 1} are"
        )
        return JournalProblem(
            expected,
            key,
            line.number,
            "missing",
            f"{gone} missing before entry {entry.sequence}: a line or a whole batch was deleted. {_RESTORE}",
        )
    # Chained to the entry before it by sequence, so one swap is reported once, not at every neighbour.
    chained_to = hashes.get(entry.sequence - 1, before)
    if chained_to is not None and entry.previous != chained_to:
        return JournalProblem(
            entry.sequence,
            key,
            line.number,
            "broken chain",
            "its 'previous' does not match the entry before it: that entry was altered (and its digest "
            f"recomputed) or replaced. {_RESTORE}",
        )
    return None
