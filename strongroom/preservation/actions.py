"""Preservation actions: the shared shapes of a migration, from policy rule to verified result.

A *rule* (policy as data, `strongroom/data/migration-policy.toml` with the archive's
`<home>/migration-policy.toml` on top) says, for source formats (PUIDs) and one purpose, which
tool makes the derivative, with which argument list, what format the result must be and which
significant-property checks prove it faithful. A *conversion* is one rule run on one file: the
tool run (argv, exit status, time, stderr) and every check's verdict. Only a conversion whose
run succeeded and whose checks all passed (or could not be run, said so) is kept; a failed one
leaves the original as the preservation master and is recorded as a failed migration event.

Derivatives live beside the originals in the package, at paths that follow from the original's:
`preservation/<original path>.<ext>` and `access/<original path>.<ext>` under the bag's data/
(the original's own extension kept, so `a.doc` and `a.rtf` never collide), with UUIDs derived
from the original's and the rule's, so a re-run after an interruption makes the same files.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from strongroom.model import FileRole, Identification

_NAMESPACE = uuid.UUID("6f1c2b8e-3d4a-4e0f-9a57-b1c2d3e4f5a6")

# PREMIS eventType values (Library of Congress event type vocabulary).
MIGRATION_EVENT = "migration"  # a preservation master made later (strongroom migrate)
NORMALIZATION_EVENT = "normalization"  # a derivative made as part of ingest ([preservation] migrate_on_ingest)
VALIDATION_EVENT = "validation"  # the significant-property checks of one conversion
ACCESS_COPY_EVENT = "creation"  # an access copy (LoC has no narrower term; the detail says "access copy")


class Purpose(enum.StrEnum):
    """What a derivative is for (the policy's rule groups; METS fileGrp USE values)."""

    PRESERVATION = "preservation"  # the master kept for the long term in place of an at-risk original
    ACCESS = "access"  # what researchers are given (DIPs): PDF/A, MP4, MP3, ...
    TEXT = "text"  # plain text for full-text search (same place as the text extracted at ingest)

    @property
    def role(self) -> FileRole:
        return {Purpose.PRESERVATION: FileRole.PRESERVATION, Purpose.ACCESS: FileRole.ACCESS,
                Purpose.TEXT: FileRole.TEXT}[self]  # fmt: skip


class CheckKind(enum.StrEnum):
    """Significant-property checks a rule can ask for (beyond the exit status, which is always checked)."""

    FORMAT = "format"  # the output re-identified as one of the rule's expected PUIDs
    PIXELS = "pixels"  # images: `compare -metric AE` is 0, dimensions and bit depth kept
    PAGES = "pages"  # documents: the same page count as the source (rendered where it is not a PDF)
    STREAMS = "streams"  # audio/video: decoded stream hashes equal (lossless targets)
    AV_PROPERTIES = "av-properties"  # audio/video: duration, channels, sample rate, frame size within tolerance
    TEXT = "text"  # documents: the words of the output cover the source's (overlap >= the rule's minimum)
    PDFA = "pdfa"  # veraPDF says the output conforms to the PDF/A flavour (when veraPDF is installed)


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not checked"  # the tool for the check is missing, or the check does not apply; detail says which


@dataclass(frozen=True)
class MigrationRule:
    """One policy rule: source formats -> tool + arguments -> expected format, with checks.

    `args` is the argument list after the tool's executable, with placeholders the converter
    fills: {input}, {output}, {outdir}, {profile} (a private LibreOffice profile URL),
    {pdfa_def} (Ghostscript's PDF/A definition file), {icc_dir}. Never run through a shell.
    """

    id: str  # e.g. "word-processing-to-odt"; named in the events it makes
    purpose: Purpose
    puids: tuple[str, ...]  # source formats the rule applies to
    tool: str  # a tool name from the policy's [tools] table: libreoffice, imagemagick, ghostscript, ffmpeg, ...
    args: tuple[str, ...]
    extension: str  # the output's file extension, without the dot: "odt"
    output_puids: tuple[str, ...]  # any of these is the expected result (PRONOM names versions apart)
    checks: tuple[CheckKind, ...]
    description: str = ""  # what the rule does and whose guidance it follows, for people and events
    time_limit: float = 600.0  # seconds one run may take
    memory_limit: int | None = None  # bytes of address space, where the tool tolerates a limit (not JVMs)
    max_size: int | None = None  # sources larger than this are left alone (e.g. FFV1 masters of long videos)
    optional: bool = False  # applied only when the archive's policy enables optional rules
    text_overlap: float = 0.9  # the TEXT check's minimum share of the source's words found in the output
    duration_tolerance: float = 0.1  # seconds, for AV_PROPERTIES
    pdfa_flavour: str = "2b"  # for PDFA


@dataclass(frozen=True)
class ToolRun:
    """One run of an external tool: exactly what ran and what it said."""

    tool: str  # the policy's tool name
    version: str  # as the tool reports it ("unknown" if it would not say)
    argv: tuple[str, ...]  # the full argument list, executable first, as run (no shell)
    exit_status: int | None  # None: killed at the time limit or could not start
    seconds: float
    stderr: str  # cut to a bounded length, kept in the event detail
    error: str | None = None  # why the run failed, in words (time limit, missing output, exit status ...)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class CheckResult:
    kind: CheckKind
    status: CheckStatus
    detail: str  # what was compared and found: "12 pages in both", "AE 0; 640x480 8-bit kept"
    tool: str | None = None  # the tool that made the measurement, if any
    version: str | None = None


@dataclass(frozen=True)
class Conversion:
    """One rule applied to one file: the run, the output (if any) and every check."""

    rule: MigrationRule
    source: Path
    output: Path | None  # None when the run failed
    run: ToolRun
    checks: tuple[CheckResult, ...] = ()
    identification: Identification | None = None  # the output's, from the FORMAT check

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is CheckStatus.FAILED)

    @property
    def ok(self) -> bool:
        """Kept only when the tool ran cleanly, made its output and no check failed."""
        return self.run.ok and self.output is not None and not self.failures


@dataclass(frozen=True)
class PolicySettings:
    """The policy's [settings] table: archive-wide choices that are not rules."""

    optional_rules: bool = False  # apply rules marked optional (size-aware FFV1 video masters)
    access_fit: tuple[str, ...] = ()  # PUIDs an original may be given out as it is (no access copy needed)
    concurrency: int = 0  # tool runs at once; 0: one per allowed CPU
    extra: Mapping[str, object] = field(default_factory=dict)


def derivative_path(purpose: Purpose, original: str, extension: str) -> str:
    """Where the derivative of `original` (a path under data/) is kept, relative to data/."""
    if purpose is Purpose.TEXT:
        from strongroom.fulltext.paths import text_path

        return text_path(original)
    return f"{purpose.value}/{original}.{extension}"


def derivative_source(path: str) -> tuple[Purpose, str] | None:
    """The purpose and the original's path of a derivative's path; None for any other path."""
    for purpose in (Purpose.PRESERVATION, Purpose.ACCESS):
        prefix = f"{purpose.value}/"
        if path.startswith(prefix):
            original, dot, _extension = path[len(prefix) :].rpartition(".")
            if dot and original:
                return purpose, original
    from strongroom.fulltext.paths import source_path

    original_of_text = source_path(path)
    return (Purpose.TEXT, original_of_text) if original_of_text else None


def derivative_uuid(original_uuid: str, purpose: Purpose) -> str:
    """The derivative's UUID: the same whenever the same original is migrated for the same purpose."""
    if purpose is Purpose.TEXT:
        from strongroom.fulltext.paths import text_uuid

        return text_uuid(original_uuid)
    return str(uuid.uuid5(_NAMESPACE, f"{original_uuid}/{purpose.value}"))


def derivation_event_uuid(original_uuid: str, purpose: Purpose, output_sha256: str, kind: str = MIGRATION_EVENT) -> str:
    """The UUID of the event that made a derivative (`kind` migration/normalization/creation) or validated it
    (`kind` validation): fixed by the original, the purpose and the derivative's digest, so a re-run after a crash
    writes the same events, and a later version's METS can name the event from the derivative's record alone."""
    if kind in (NORMALIZATION_EVENT, ACCESS_COPY_EVENT):
        kind = MIGRATION_EVENT  # one event makes a derivative, whatever its type is called
    return str(uuid.uuid5(_NAMESPACE, f"{original_uuid}/{purpose.value}/{output_sha256}/{kind}"))


def failed_attempt_uuid(
    original_uuid: str, purpose: Purpose, rule_id: str, source_sha256: str, tool_version: str
) -> str:
    """The UUID of a failed migration's event: the same failure (same source, rule and tool version) is recorded
    once however often it is retried; a new tool version is a new attempt."""
    return str(
        uuid.uuid5(_NAMESPACE, f"{original_uuid}/{purpose.value}/{rule_id}/{source_sha256}/{tool_version}/failed")
    )
