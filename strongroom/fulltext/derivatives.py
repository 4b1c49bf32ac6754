"""The text of a package's originals, kept in the package as derivatives: `data/text/<original path>.txt`.

Each text is UTF-8, a file of its own with the role `text` (METS fileGrp USE="text"), linked to its
original by a PREMIS relationship (derivation / has source). The original gets a `creation` event
naming the tool and its version, whatever happened: success, a warning when the text was cut or
the tool is not installed, a failure when the tool failed or ran out of time (then nothing is kept).
Search indexes read these stored texts, so rebuilding an index never runs an extractor again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from strongroom import __version__
from strongroom.fulltext.extract import Extractor, TextExtractor, TextResult, TextSettings, TextStatus
from strongroom.fulltext.paths import text_path, text_uuid
from strongroom.ingest.provenance import FileFacts, TextFinding, tool_agent
from strongroom.ingest.staged_files import StagedFiles
from strongroom.model import Agent, Basis, FileRecord, FileRole, FormatMatch, Identification

Progress = Callable[[str, int, int | None], None]
MAX_NAMED = 20
# Tools whose runs get a PREMIS agent of their own; the Python readers are part of Strongroom (the system agent).
_EXTERNAL_TOOLS = ("PDFium", "pdftotext", "Apache Tika")


def text_identification() -> Identification:
    """What the derivative is, known because Strongroom wrote it: plain text in UTF-8."""
    match = FormatMatch("x-fmt/111", "Plain Text File", None, "text/plain", "UTF-8 text written by Strongroom")
    return Identification(Basis.EXTENSION, (match,), "Strongroom", __version__, "fulltext")


@dataclass
class TextOutcome:
    """What extracting the text of a package's originals did, in sum."""

    extracted: int = 0
    cut: list[str] = field(default_factory=list)
    empty: int = 0
    failed: list[str] = field(default_factory=list)  # "path: reason"
    not_extracted: list[str] = field(default_factory=list)  # "path: reason"
    agents: list[Agent] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # extractor -> seconds spent, summed over files

    @property
    def warnings(self) -> list[str]:
        said: list[str] = []
        for what, paths in (
            ("text cut at the size limit ([ingest] text_size_limit)", self.cut),
            ("text extraction failed (nothing kept; the event says why)", self.failed),
            ("text not extracted", self.not_extracted),
        ):
            if paths:
                shown = "; ".join(paths[:MAX_NAMED]) + (f"; ... and {len(paths) - MAX_NAMED} more"
                                                       if len(paths) > MAX_NAMED else "")  # fmt: skip
                said.append(f"{len(paths)} file(s): {what}: {shown}")
        return said

    def to_json(self) -> dict[str, Any]:
        from strongroom.ingest.checks import agent_to_json

        return {"extracted": self.extracted, "cut": self.cut, "empty": self.empty, "failed": self.failed,
                "not_extracted": self.not_extracted, "agents": [agent_to_json(a) for a in self.agents],
                "seconds": self.seconds}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TextOutcome:
        from strongroom.ingest.checks import agent_from_json

        return cls(data["extracted"], list(data["cut"]), data["empty"], list(data["failed"]),
                   list(data["not_extracted"]), [agent_from_json(a) for a in data["agents"]],
                   dict(data["seconds"]))  # fmt: skip

    @classmethod
    def merged(cls, parts: Iterable[TextOutcome]) -> TextOutcome:
        """One outcome of many (chunks, in order): counts added, lists joined, each agent once."""
        out = cls()
        for part in parts:
            out.extracted += part.extracted
            out.cut += part.cut
            out.empty += part.empty
            out.failed += part.failed
            out.not_extracted += part.not_extracted
            out.agents += [a for a in part.agents if a.key not in {b.key for b in out.agents}]
            for tool, seconds in part.seconds.items():
                out.seconds[tool] = out.seconds.get(tool, 0.0) + seconds
        return out


def _detail(result: TextResult, kept_as: str | None, size_limit: int) -> str:
    notes = "".join(f"; {note}" for note in result.notes)
    if result.status is TextStatus.EXTRACTED:
        return f"text kept as {kept_as}: {len(result.text)} characters{notes}"
    if result.status is TextStatus.CUT:
        gave = f"{result.found} characters" if result.found is not None else "more"
        return f"text cut at the size limit of {size_limit} characters (the tool gave {gave}); kept as {kept_as}{notes}"
    if result.status is TextStatus.EMPTY:
        return f"no text found in the file; nothing kept{notes}"
    if result.status is TextStatus.FAILED:
        return f"{result.reason}; nothing kept"
    return f"not extracted: {result.reason}"


def _pending(staged: StagedFiles, extractor: TextExtractor,
             skip: Collection[str] = ()) -> Iterator[tuple[FileRecord, Path, Extractor]]:  # fmt: skip
    after: str | None = None
    while page := staged.originals_after(after):
        for path, _uuid, name, record in page:
            if path in skip:
                continue
            ident = record.identification
            chosen = extractor.choose(ident.puid if ident else None, ident.mime if ident else None, name)
            if chosen is not None:
                yield record, Path(path), chosen
        after = page[-1][0]


def count_pending(staged: StagedFiles, extractor: TextExtractor, skip: Collection[str] = ()) -> int:
    return sum(1 for _ in _pending(staged, extractor, skip))


def extract_staged(
    settings: TextSettings, staged: StagedFiles, data_dir: Path, progress: Progress | None = None, workers: int = 2,
    *, skip: Collection[str] = (), extractor: TextExtractor | None = None,
) -> TextOutcome:  # fmt: skip
    """Extract the text of every staged original whose format has text; keep each as a derivative.

    The derivatives are written under `data_dir`/text/ and added to `staged` (role text); each
    original gets its finding, from which its creation event is made. `skip`: paths left alone
    (infected files, on their way out). `extractor`: one kept open over many calls (a worker's
    chunks share its Tika server); by default one is opened and closed here.
    """
    outcome = TextOutcome()
    used: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if extractor is None:
            extractor = stack.enter_context(TextExtractor(settings))
        total = count_pending(staged, extractor, skip)
        if progress:
            progress("Extracting text", 0, total)
        items = _pending(staged, extractor, skip)
        results = extractor.extract_many(items, lambda item: (data_dir / item[1], item[2]), workers)
        for done, ((record, _path, chosen), result) in enumerate(results, start=1):
            _keep(record, result, data_dir, staged, settings, outcome)
            outcome.seconds[chosen.value] = outcome.seconds.get(chosen.value, 0.0) + result.seconds
            if result.status is not TextStatus.NOT_EXTRACTED and result.status is not TextStatus.FAILED:
                used.setdefault(result.tool, result.version or "")
            if progress:
                progress("Extracting text", done, total)
    # The tools that ran on these files (an extractor kept open may have served other files before).
    for tool, version in used.items():
        if tool in _EXTERNAL_TOOLS:
            outcome.agents.append(tool_agent(tool, version or "unknown"))
    return outcome


def _keep(
    record: FileRecord, result: TextResult, data_dir: Path, staged: StagedFiles, settings: TextSettings,
    outcome: TextOutcome,
) -> None:  # fmt: skip
    now = datetime.now(UTC)
    kept_as: str | None = None
    if result.kept:
        kept_as = text_path(record.path)
        target = data_dir / kept_as
        data = result.text.encode("utf-8", "replace")  # "replace": a lone surrogate cannot be UTF-8
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A new file renamed over any older one, never a rewrite in place: a job's finalize may have
            # hard-linked the older one into storage (storage/sources.LinkableSources).
            temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
            try:
                temp.write_bytes(data)
                os.replace(temp, target)
            finally:
                temp.unlink(missing_ok=True)
        except OSError as exc:  # e.g. a name already at the file system's length limit, plus ".txt"
            result = TextResult(TextStatus.FAILED, result.tool, result.version,
                                reason=f"the text could not be kept as {kept_as}: {exc.strerror or exc}")  # fmt: skip
            kept_as = None
        else:
            derivative = FileRecord(
                uuid=text_uuid(record.uuid), path=kept_as, original_name=Path(kept_as).name, size=len(data),
                sha256=hashlib.sha256(data).hexdigest(), role=FileRole.TEXT, identification=text_identification(),
                modified=now,
            )  # fmt: skip
            staged.add(derivative, FileFacts(supplied=(), renamed_from=None, processed_at=now,
                                             derived_from=record.uuid))  # fmt: skip
    finding = TextFinding(result.status.value, result.tool, result.version, _detail(result, kept_as,
                          settings.size_limit), kept_as, now)  # fmt: skip
    staged.set_text_finding(record.path, finding)
    if result.status is TextStatus.EXTRACTED:
        outcome.extracted += 1
    elif result.status is TextStatus.CUT:
        outcome.extracted += 1
        outcome.cut.append(record.path)
    elif result.status is TextStatus.EMPTY:
        outcome.empty += 1
    elif result.status is TextStatus.FAILED:
        outcome.failed.append(f"{record.path}: {result.reason}")
    else:
        outcome.not_extracted.append(f"{record.path}: {result.reason}")


# --- for text extracted after ingest (fulltext/job.py: `strongroom text`) ----------------------------


def finding_detail(result: TextResult, kept_as: str | None, size_limit: int) -> str:
    """The outcome detail of an original's text event, worded as ingest words it."""
    return _detail(result, kept_as, size_limit)


def runs_as_agent(tool: str) -> bool:
    """Whether a text tool gets a PREMIS agent of its own (the Python readers are the system agent)."""
    return tool in _EXTERNAL_TOOLS
