"""Retention schedules: load them from TOML or CSV (including the UK local-government guidance shape), versioned.

A schedule file is validated whole before anything is stored: every problem names its row
(CSV line or TOML `[[schedule]]` number) and field, and a file with any problem loads nothing.
Each schedule whose terms differ from its current version becomes a new version, journalled
first (the journal is the source of truth) and then catalogued; an unchanged one is left alone.

The guidance shape loads without editing. Its columns are matched by alias (`Reference` or
`Class` is the code, `Retention period` the period, `Action at end of retention` the action),
and its values are read as follows:
- a period in words: `6 years`, `18 months`, `6 years 3 months`; `Permanent`, `Retain permanently`
  or `Indefinitely` mean retain permanently (no period, never due); with a transfer action
  ("Permanent", "Transfer to archives") too, keeping the destination in transfer_to;
- a trigger written into the period: `Closure of file + 6 years` (closure), `Date of last action
  + 3 years` (last-record), `Date of creation + 1 year` (creation), `Current year + 6 years`
  (creation: Strongroom counts from the creation date, and a Dublin Core date given as a bare year
  counts as that year's end, which is what "current year" means; a full date counts from that day);
  any other phrase, `Termination of contract + 6 years`, is a named event
  (`event:termination-of-contract`) recorded per package with `strongroom retention event`; so is
  such a phrase in the trigger column (one unknown word there is refused as a likely misspelling);
- actions: `Destroy`, `Delete`, `Securely destroy`, `Secure disposal`, `Confidential waste` (destroy);
  `Transfer to archives`, `Offer to archives`, `Transfer to <place>` (transfer, to that place);
  `Review`, `Review for permanent preservation` (review); `Retain permanently` (retain).
Text that is not one of these is refused, naming the row and what would be accepted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strongroom.errors import StrongroomError
from strongroom.model import Event, Outcome
from strongroom.records.journal_data import SCHEDULE_EVENT, schedule_data
from strongroom.records.model import DisposalAction, Period, ScheduleVersion, Trigger
from strongroom.storage.journal import JournalRecord

if TYPE_CHECKING:
    from strongroom.archive import Archive

MAX_SCHEDULE_BYTES = 16 * 1024 * 1024
MAX_LISTED = 50
FIELDS = ("code", "title", "description", "authority", "period", "trigger", "action", "transfer_to")
_SEPARATORS = (",", ";", "\t")

# Header names as written in schedules, normalised by _header_key, to the field they fill.
HEADER_ALIASES: Mapping[str, str] = {
    "code": "code", "class": "code", "class code": "code", "reference": "code", "reference number": "code",
    "ref": "code", "ref no": "code", "reference no": "code", "schedule": "code", "series": "code",
    "title": "title", "record type": "title", "records": "title", "record series": "title", "name": "title",
    "description": "description", "description of record": "description", "function": "description",
    "notes": "description", "description of records": "description", "record description": "description",
    "function description of record": "description", "authority": "authority", "mandate": "authority",
    "legislation": "authority",
    "statutory authority": "authority", "legal authority": "authority", "authority legislation": "authority",
    "legislation regulation": "authority", "legislative reference": "authority", "source": "authority",
    "period": "period", "retention period": "period", "retention": "period", "minimum retention period": "period",
    "trigger": "trigger", "trigger event": "trigger", "retention trigger": "trigger", "event": "trigger",
    "action": "action", "disposal action": "action", "disposal": "action", "action at end of retention": "action",
    "action at the end of retention": "action", "action at end of retention period": "action",
    "action at end of administrative life": "action",
    "action at the end of the administrative life of the record": "action",
    "transfer to": "transfer_to", "transfer_to": "transfer_to", "destination": "transfer_to",
}  # fmt: skip

TRIGGER_ALIASES: Mapping[str, Trigger] = {
    "creation": Trigger.CREATION, "date of creation": Trigger.CREATION, "created": Trigger.CREATION,
    "creation of record": Trigger.CREATION, "current year": Trigger.CREATION,
    "current financial year": Trigger.CREATION, "end of current year": Trigger.CREATION,
    "last-record": Trigger.LAST_RECORD, "last record": Trigger.LAST_RECORD, "last action": Trigger.LAST_RECORD,
    "last action on file": Trigger.LAST_RECORD, "date of last action": Trigger.LAST_RECORD,
    "date of last entry": Trigger.LAST_RECORD, "last entry": Trigger.LAST_RECORD,
    "closure": Trigger.CLOSURE, "closure of file": Trigger.CLOSURE, "file closure": Trigger.CLOSURE,
    "file closed": Trigger.CLOSURE, "date of closure": Trigger.CLOSURE, "closure of case": Trigger.CLOSURE,
}  # fmt: skip

ACTION_ALIASES: Mapping[str, DisposalAction] = {
    "destroy": DisposalAction.DESTROY, "delete": DisposalAction.DESTROY, "securely destroy": DisposalAction.DESTROY,
    "secure destruction": DisposalAction.DESTROY, "secure disposal": DisposalAction.DESTROY,
    "confidential destruction": DisposalAction.DESTROY, "confidential waste": DisposalAction.DESTROY,
    "shred": DisposalAction.DESTROY, "dispose": DisposalAction.DESTROY, "destruction": DisposalAction.DESTROY,
    "review": DisposalAction.REVIEW, "review for permanent preservation": DisposalAction.REVIEW,
    "review for archival value": DisposalAction.REVIEW, "retain": DisposalAction.RETAIN,
    "retain permanently": DisposalAction.RETAIN, "permanent": DisposalAction.RETAIN,
    "permanent preservation": DisposalAction.RETAIN, "keep permanently": DisposalAction.RETAIN,
    "transfer": DisposalAction.TRANSFER,
}  # fmt: skip
PERMANENT = frozenset({"permanent", "permanently", "retain permanently", "permanent preservation", "indefinitely",
                       "keep permanently", "retain", "permanent retention"})  # fmt: skip
_TRANSFER = re.compile(r"(?:transfer|offer)(?:\s+to\s+(?:the\s+)?(.+))?", re.IGNORECASE)


@dataclass(frozen=True)
class LoadedSchedule:
    code: str
    version: int
    changed: bool  # False: a first version


@dataclass(frozen=True)
class LoadReport:
    loaded: tuple[LoadedSchedule, ...]  # new versions, in file order
    unchanged: int
    source_sha256: str
    notes: tuple[str, ...] = ()  # how values were read (named events made from phrases, columns ignored)


@dataclass(frozen=True)
class _Row:
    where: str  # "line 4" or "schedule 2"
    values: dict[str, str]


def load_schedules(archive: Archive, path: Path, *, reason: str | None, operator: str) -> LoadReport:
    """Validate a whole schedule file, then journal and catalog a new version of each changed schedule."""
    raw = _read(path)
    digest = hashlib.sha256(raw).hexdigest()
    rows, notes = _rows_of(path, raw)
    now = datetime.now(UTC)
    why = (reason or "").strip() or f"loaded from {path.name}"
    parsed = _parse_all(path, rows, now, why, notes)
    archive.prepare_to_write()
    with archive.catalog.lock("retention-schedules"):
        new: list[ScheduleVersion] = []
        loaded: list[LoadedSchedule] = []
        unchanged = 0
        for schedule in parsed:
            current = archive.catalog.schedule(schedule.code)
            if current is not None and current.same_terms(schedule):
                unchanged += 1
                continue
            version = replace(schedule, version=current.version + 1 if current else 1)
            new.append(version)
            loaded.append(LoadedSchedule(version.code, version.version, current is not None))
        agents = archive.system_agents(operator)
        records = []
        for i, schedule in enumerate(new):
            event = Event(
                str(uuid.uuid4()), SCHEDULE_EVENT, now, f'program="Strongroom"; source={path.name}', Outcome.SUCCESS,
                f"retention schedule {schedule.code} version {schedule.version} ({schedule.title}): "
                f"{_terms_text(schedule)}; {why}", tuple(a.key for a in agents),
            )  # fmt: skip
            new[i] = replace(schedule, event_uuid=event.uuid)
            records.append(JournalRecord("", event, agents, schedule_data(new[i], digest)))
        if records:
            archive.journal.append(records)
        for schedule in new:
            archive.catalog.add_schedule_version(schedule)
    return LoadReport(tuple(loaded), unchanged, digest, tuple(notes))


def _terms_text(s: ScheduleVersion) -> str:
    if s.action is DisposalAction.RETAIN and s.period is None:
        return "retain permanently"
    to = f" to {s.transfer_to}" if s.transfer_to else ""
    return f"{s.action.value}{to} {s.period.iso() if s.period else ''} after {s.trigger_text()}".replace("  ", " ")


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise StrongroomError(f"{path} is not a file.", details=["Give the path of a .toml or .csv schedule file."])
    if path.stat().st_size > MAX_SCHEDULE_BYTES:
        raise StrongroomError(f"{path.name} is larger than {MAX_SCHEDULE_BYTES // (1024 * 1024)} MiB.",
                              details=["A retention schedule is a few hundred rows; check the file."])  # fmt: skip
    return path.read_bytes()


def _text(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise StrongroomError(
            f"{path.name} is not UTF-8 text (bad byte at line {line}).",
            details=["Save it as UTF-8 (in Excel: 'CSV UTF-8') and load it again. Nothing was loaded."],
        ) from exc


def _rows_of(path: Path, raw: bytes) -> tuple[list[_Row], list[str]]:
    text = _text(path, raw)
    if path.suffix.lower() == ".toml":
        return _toml_rows(path, text), []
    return _csv_rows(path, text)


def _toml_rows(path: Path, text: str) -> list[_Row]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StrongroomError(f"{path.name} is not valid TOML: {exc}.", details=["Nothing was loaded."]) from exc
    extra = sorted(set(document) - {"schedule"})
    schedules = document.get("schedule")
    if extra or not isinstance(schedules, list) or not schedules:
        raise StrongroomError(
            f"{path.name} must hold [[schedule]] tables only"
            + (f"; found {', '.join(map(repr, extra))}" if extra else "") + ".",
            details=[f"Each [[schedule]] has the keys {', '.join(FIELDS)}. Nothing was loaded."],
        )  # fmt: skip
    rows: list[_Row] = []
    problems: list[str] = []
    for number, table in enumerate(schedules, start=1):
        where = f"[[schedule]] {number}"
        if not isinstance(table, dict):
            problems.append(f"{where} is not a table")
            continue
        values: dict[str, str] = {}
        for key, value in table.items():
            if key not in FIELDS:
                problems.append(f"{where}: unknown key {key!r} (the keys are {', '.join(FIELDS)})")
            elif not isinstance(value, str):
                problems.append(f"{where}: {key} must be text in quotes, not {type(value).__name__}")
            else:
                values[key] = value
        rows.append(_Row(where, values))
    _raise_problems(path, problems)
    return rows


def _header_key(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z_]+", " ", name.casefold()).split())


def _csv_rows(path: Path, text: str) -> tuple[list[_Row], list[str]]:
    first = text.split("\n", 1)[0]
    separator = max(_SEPARATORS, key=first.count) if any(s in first for s in _SEPARATORS) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise StrongroomError(f"{path.name} is empty.", details=["Nothing was loaded."]) from None
    except csv.Error as exc:
        raise StrongroomError(f"{path.name} line 1 cannot be read as CSV: {exc}.") from exc
    columns: dict[int, str] = {}
    notes: list[str] = []
    fields_of: dict[int, str] = {}
    for index, name in enumerate(header):
        key = _header_key(name)
        field_name = HEADER_ALIASES.get(key) or ("action" if key.startswith("action at") else None)
        if field_name is None:
            if name.strip():
                notes.append(f"column {name.strip()!r} is not a schedule field; ignored")
            continue
        fields_of[index] = field_name
    # A column named exactly for its field (Description) wins over one that only may mean it (Function);
    # otherwise the first one named wins (Class before Reference), and the other is ignored.
    exact = {f: i for i, f in fields_of.items() if _header_key(header[i]) == f.replace("_", " ")}
    functions = [i for i in fields_of if _header_key(header[i]) == "function"]
    if functions and "title" not in fields_of.values() and "description" in exact:
        fields_of[functions[0]] = "title"  # Function beside Description: the function is the better title
    for index, field_name in fields_of.items():
        chosen = exact.get(field_name, min(i for i, f in fields_of.items() if f == field_name))
        if index != chosen:
            notes.append(f"column {header[index].strip()!r} is a second {field_name} column; ignored")
            continue
        columns[index] = field_name
    missing = [f for f in ("code", "action") if f not in columns.values()]
    if "period" not in columns.values():
        missing.append("period")
    if missing:
        found = ", ".join(repr(h) for h in header) or "nothing"
        raise StrongroomError(
            f"{path.name} line 1 (the header) has no {' or '.join(missing)} column; found: {found}.",
            details=["The header is code,title,description,authority,period,trigger,action (and transfer_to); the "
                     "guidance's names (Reference, Retention period, Action at end of retention) are read too. "
                     "Nothing was loaded."],
        )  # fmt: skip
    rows: list[_Row] = []
    while True:
        line = reader.line_num + 1  # where the row starts (a quoted value may run over several lines)
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise StrongroomError(f"{path.name} line {reader.line_num} cannot be read as CSV: {exc}.",
                                  details=["Check the quoting on that line. Nothing was loaded."]) from exc  # fmt: skip
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
            raise StrongroomError(
                f"{path.name} line {line} has {len(values)} values but the header has {len(header)}.",
                details=[f"Values are separated by {separator!r}, as in the header. Nothing was loaded."],
            )
        cells = {columns[i]: v for i, v in enumerate(values) if i in columns}
        rows.append(_Row(f"line {line}", cells))
    return rows, notes


def _raise_problems(path: Path, problems: list[str]) -> None:
    if not problems:
        return
    shown = problems[:MAX_LISTED] + (
        [f"... and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else []
    )
    raise StrongroomError(
        f"{path.name} has {len(problems)} problem(s); nothing was loaded.",
        details=[*shown, "Correct the rows named above and load the file again."],
    )


def _parse_all(path: Path, rows: list[_Row], now: datetime, reason: str, notes: list[str]) -> list[ScheduleVersion]:
    problems: list[str] = []
    parsed: list[ScheduleVersion] = []
    seen: dict[str, str] = {}
    for row in rows:
        try:
            schedule = parse_row(row.values, now, reason, notes, row.where)
        except StrongroomError as err:
            problems.append(f"{row.where}: {err.message}")
            continue
        if schedule.code in seen:
            problems.append(f"{row.where}: code {schedule.code!r} is already given at {seen[schedule.code]}")
            continue
        seen[schedule.code] = row.where
        parsed.append(schedule)
    if not rows:
        problems.append("it holds no schedules")
    _raise_problems(path, problems)
    return parsed


def parse_row(values: Mapping[str, str], now: datetime, reason: str, notes: list[str], where: str) -> ScheduleVersion:
    """One schedule from its fields as written (version 1; the caller numbers it). StrongroomError names the field."""
    cell = {k: " ".join(v.split()) if k != "description" else v.strip() for k, v in values.items()}
    code = cell.get("code", "")
    if not code:
        raise StrongroomError("code is empty: every schedule needs a code (its class or reference)")
    action, transfer_to = parse_action(cell["action"]) if cell.get("action") else (None, None)
    if cell.get("transfer_to"):
        transfer_to = cell["transfer_to"]
    if action is None and not cell.get("period"):
        raise StrongroomError("action is empty: give destroy, review, retain or transfer")
    period, embedded = parse_period(cell.get("period", ""), notes, where)
    written = cell.get("trigger", "")
    trigger, event_name = _trigger_cell(written, notes, where) if written else (embedded or (None, None))
    if written and embedded and (trigger, event_name) != embedded:
        raise StrongroomError(
            f"trigger {written!r} differs from the one written in the period {cell.get('period')!r}; give one"
        )
    if period is None:
        if action is DisposalAction.TRANSFER:
            # The guidance's "Permanent, transfer to archives": kept for good; where they belong is kept too.
            notes.append(f"{where}: a permanent record with a transfer action is read as retain permanently "
                         f"(transfer_to {transfer_to or 'archives'!r} kept)")  # fmt: skip
            transfer_to = transfer_to or "archives"
        elif action not in (DisposalAction.RETAIN, None):
            raise StrongroomError(f"period {cell.get('period')!r} is permanent, but the action is {action.value}; "
                                  "a permanent record is retained (action: retain)")  # fmt: skip
        action = DisposalAction.RETAIN
    elif action is None:
        raise StrongroomError("action is empty: give destroy, review, retain or transfer")
    elif action is DisposalAction.RETAIN:
        raise StrongroomError(f"action {cell.get('action')!r} retains permanently, so the period must be empty "
                              f"or 'Permanent', not {cell.get('period')!r}")  # fmt: skip
    if trigger is None:
        if action is not DisposalAction.RETAIN:
            raise StrongroomError(
                "no trigger: give one in the trigger column (creation, last-record, closure or event:NAME) or in "
                "the period ('Closure of file + 6 years')"
            )
        trigger = Trigger.CREATION
    if action is not DisposalAction.TRANSFER and period is not None:
        transfer_to = None
    return ScheduleVersion(
        code=code, version=1, title=cell.get("title") or cell.get("description", "").split("\n")[0] or code,
        description=cell.get("description", ""), authority=cell.get("authority", ""), period=period, trigger=trigger,
        trigger_event=event_name, action=action, transfer_to=transfer_to, created=now, reason=reason,
    )  # fmt: skip


def _value_key(text: str) -> str:
    return " ".join(text.casefold().strip(" .;:").split())


def parse_action(text: str) -> tuple[DisposalAction, str | None]:
    """The disposal action and, for "Transfer to X", where to."""
    key = _value_key(text)
    if not key:
        raise StrongroomError("action is empty: give destroy, review, retain or transfer")
    if key in ACTION_ALIASES:
        return ACTION_ALIASES[key], None
    transfer = _TRANSFER.fullmatch(" ".join(text.split()).strip(" .;:"))
    if transfer:
        return DisposalAction.TRANSFER, transfer.group(1)
    prefixes = {"review": DisposalAction.REVIEW, "destroy": DisposalAction.DESTROY,
                "securely destroy": DisposalAction.DESTROY, "delete": DisposalAction.DESTROY}  # fmt: skip
    for prefix, action in prefixes.items():
        if key.startswith(prefix + " "):
            return action, None
    raise StrongroomError(
        f"action {text.strip()!r} is not one Strongroom knows: write destroy (or Delete, Securely destroy), "
        "review, retain (Retain permanently) or transfer (Transfer to archives)"
    )


def event_name(text: str) -> str:
    """A named event's canonical form: lower case, words joined by '-' ("Contract end" -> "contract-end")."""
    return "-".join(text.casefold().split())


def parse_trigger(text: str) -> tuple[Trigger, str | None]:
    """creation, last-record, closure or event:NAME, or one of their guidance wordings."""
    key = _value_key(text)
    if key.startswith("event:"):
        name = event_name(key.removeprefix("event:"))
        if not name:
            raise StrongroomError(f"trigger {text.strip()!r} names no event: write event:NAME")
        return Trigger.EVENT, name
    if key in TRIGGER_ALIASES:
        return TRIGGER_ALIASES[key], None
    raise StrongroomError(
        f"trigger {text.strip()!r} is not creation, last-record, closure or event:NAME (a named event, e.g. "
        "event:contract-end)"
    )


def _trigger_cell(text: str, notes: list[str], where: str) -> tuple[Trigger, str | None]:
    """A trigger column's value; a phrase of several words that is no known wording ("Termination of
    contract") is a named event, while one unknown word is refused (most likely a misspelling)."""
    try:
        return parse_trigger(text)
    except StrongroomError:
        if len(_value_key(text).split()) < 2:
            raise
    name = event_name(_value_key(text))
    notes.append(f"{where}: trigger {text.strip()!r} is read as the named event event:{name}")
    return Trigger.EVENT, name


def parse_period(text: str, notes: list[str], where: str) -> tuple[Period | None, tuple[Trigger, str | None] | None]:
    """The period (None: permanent) and a trigger written into it ("Closure of file + 6 years")."""
    cleaned = " ".join(text.split())
    key = _value_key(cleaned)
    if not key:
        return None, None  # an empty period is permanent only with a retain action: checked by the caller
    if key in PERMANENT:
        return None, None
    phrase, plus, rest = cleaned.rpartition("+")
    embedded: tuple[Trigger, str | None] | None = None
    if plus:
        cleaned = rest.strip()
        phrase_key = _value_key(phrase)
        if not phrase_key:
            raise StrongroomError(f"period {text.strip()!r} has nothing before '+'")
        if phrase_key in TRIGGER_ALIASES:
            embedded = (TRIGGER_ALIASES[phrase_key], None)
        elif phrase_key.startswith("event:"):
            embedded = parse_trigger(phrase_key)
        else:
            name = event_name(phrase_key)
            embedded = (Trigger.EVENT, name)
            notes.append(f"{where}: {phrase.strip()!r} is read as the named event event:{name}")
    try:
        period = Period.parse(cleaned)
    except StrongroomError:
        raise StrongroomError(
            f"period {text.strip()!r} is not a retention period: write P6Y, '6 years', 'Closure of file + 6 "
            "years' or Permanent"
        ) from None
    if period == Period():
        raise StrongroomError(f"period {text.strip()!r} is zero; give a length, or Permanent")
    return period, embedded


def schedule_json(schedule: ScheduleVersion) -> dict[str, Any]:
    """A schedule version as `retention list --json` shows it."""
    return {
        "code": schedule.code, "version": schedule.version, "title": schedule.title,
        "description": schedule.description, "authority": schedule.authority,
        "period": schedule.period.iso() if schedule.period else None, "trigger": schedule.trigger_text(),
        "action": schedule.action.value, "transfer_to": schedule.transfer_to,
        "created": schedule.created.isoformat(), "event": schedule.event_uuid,
    }  # fmt: skip
