"""Typed records shared by every stage of the pipeline.

Stages pass these around instead of tuples or dicts, so that a field added
later is one edit here and the type checker finds every place that needs it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime


class Basis(enum.StrEnum):
    """How a format identification was reached (FIDO's match types)."""

    SIGNATURE = "signature"
    CONTAINER = "container"
    EXTENSION = "extension"
    NONE = "none"


@dataclass(frozen=True)
class FormatMatch:
    """One PRONOM format that a file matched."""

    puid: str
    name: str
    version: str | None
    mime: str | None
    signature: str


@dataclass(frozen=True)
class Identification:
    """The answer an identifier gives for one file.

    `matches` keeps every format in the identifier's own order; `puid` and the
    other top-level fields describe the first, which is what PREMIS records as
    the format designation.
    """

    basis: Basis
    matches: tuple[FormatMatch, ...]
    tool: str
    tool_version: str
    signature_version: str
    warnings: tuple[str, ...] = ()

    @property
    def first(self) -> FormatMatch | None:
        return self.matches[0] if self.matches else None

    @property
    def puid(self) -> str | None:
        return self.matches[0].puid if self.matches else None

    @property
    def format_name(self) -> str | None:
        return self.matches[0].name if self.matches else None

    @property
    def format_version(self) -> str | None:
        return self.matches[0].version if self.matches else None

    @property
    def mime(self) -> str | None:
        return self.matches[0].mime if self.matches else None


class FileRole(enum.StrEnum):
    """Where a file sits in the package, as METS fileGrp USE values."""

    ORIGINAL = "original"
    SUBMISSION_DOCUMENTATION = "submissionDocumentation"
    METADATA = "metadata"
    LOG = "log"
    TEXT = "text"  # the text of an original, extracted at ingest for full-text search (data/text/...)
    PRESERVATION = "preservation"  # a migrated preservation master of an at-risk original (data/preservation/...)
    ACCESS = "access"  # an access copy of an original for researchers and DIPs (data/access/...)


class Validity(enum.StrEnum):
    """What characterisation tools made of a file, as one word (the strictest tool's verdict)."""

    VALID = "valid"
    WELL_FORMED = "well-formed"  # well-formed, but validity not established
    INVALID = "invalid"  # not well-formed or not valid: stored and flagged, never refused
    NOT_CHECKED = "not checked"  # no tool for its format, a tool missing, or a time limit reached


@dataclass(frozen=True)
class ToolOutcome:
    """One characterisation or validation tool's findings on a file (PREMIS objectCharacteristics)."""

    tool: str
    version: str
    well_formed: bool | None
    valid: bool | None
    format_name: str | None = None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True)
class FileRecord:
    """One stored file of a package.

    `path` is relative to the bag's `data/` folder, always with `/` separators
    (for example `objects/minutes/1999.pdf`).
    """

    uuid: str
    path: str
    original_name: str
    size: int
    sha256: str
    role: FileRole
    identification: Identification | None
    modified: datetime | None = None
    validity: Validity | None = None  # None: never characterised (packages from before characterisation)
    characterisation: tuple[ToolOutcome, ...] = ()


class AgentType(enum.StrEnum):
    SOFTWARE = "software"
    ORGANIZATION = "organization"
    PERSON = "person"


@dataclass(frozen=True)
class Agent:
    """A PREMIS agent: who or what took part in an event."""

    identifier_type: str
    identifier_value: str
    name: str
    type: AgentType
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.identifier_type}:{self.identifier_value}"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Event:
    """A PREMIS event about one file (`file_uuid`) or the whole package (None)."""

    uuid: str
    type: str
    datetime: datetime
    detail: str
    outcome: Outcome
    outcome_detail: str
    agents: tuple[str, ...]  # Agent.key values
    file_uuid: str | None = None
    version: int | None = None  # the package version the event concerns, where it concerns one


@dataclass(frozen=True)
class RightsStatement:
    """One row of the depositor's rights.csv, as PREMIS rights."""

    uuid: str
    file_path: str
    basis: str  # copyright, license, statute, donor, policy, other
    status: str | None = None
    jurisdiction: str | None = None
    determination_date: str | None = None
    note: str | None = None
    terms: str | None = None  # license terms, statute citation, donor agreement ...
    start_date: str | None = None
    end_date: str | None = None  # 'open' means no end
    grant_act: str | None = None  # disseminate, replicate, migrate, modify, use, delete
    grant_restriction: str | None = None  # allow, disallow, conditional
    grant_start_date: str | None = None
    grant_end_date: str | None = None
    grant_note: str | None = None
    doc_id_type: str | None = None
    doc_id_value: str | None = None
    doc_id_role: str | None = None


@dataclass(frozen=True)
class DublinCore:
    """Dublin Core fields for one file, folder or the whole package.

    `target` is a path relative to the bag's `data/` folder (`objects/a/b.pdf`,
    `objects/a`) or `objects` for the package as a whole. Each element keeps its
    values in order, so repeated `dc.subject` columns survive.
    """

    target: str
    elements: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def first(self, element: str) -> str | None:
        values = self.elements.get(element)
        return values[0] if values else None


class AccessStatus(enum.StrEnum):
    """Who may see a record: everyone (open), or only staff until its opening date.

    CLOSED: a researcher sees nothing of it (its redacted title only, where one is set).
    RESTRICTED: a researcher sees a stand-in (the redacted title, or "Restricted record",
    with its reference, dates and exemption) but no content, name or real title.
    """

    OPEN = "open"
    CLOSED = "closed"
    RESTRICTED = "restricted"


@dataclass(frozen=True)
class AccessRule:
    """The access status of a whole package (`path` None) or of one file or folder of it.

    `path` is relative to the bag's `data/` folder (`objects/minutes/1999.pdf` or a
    folder such as `objects/minutes`). A closed record with an `opening_date` opens by
    itself on that day; without one it stays closed until someone opens it.
    """

    package: str
    path: str | None
    status: AccessStatus
    reason: str
    opening_date: date | None = None
    changed: datetime | None = None
    event_uuid: str | None = None  # the journal event that set it
    closure_start: date | None = None  # the closure period runs from here (opening_date = start + period)
    closure_period: str | None = None  # ISO 8601 duration text, e.g. "P20Y"
    exemption: str | None = None  # FOI/EIR section, normalised: "s.40", "s.41", "reg.13"
    redacted_title: str | None = None  # shown instead of the real title while not open

    def is_open_on(self, day: date) -> bool:
        return self.status is AccessStatus.OPEN or (self.opening_date is not None and self.opening_date <= day)


@dataclass(frozen=True)
class PackageSummary:
    """What the catalog and `strongroom list` know of a stored package (its latest version)."""

    uuid: str
    name: str
    created: datetime
    files: int
    bytes: int
    payload_sha256: str  # digest over sorted (path, sha256) of the originals
    storage_key: str  # the OCFL object's path inside the storage root
    title: str | None = None
    indexed: bool = True
    version: int = 1  # the head (latest) version number
    updated: datetime | None = None  # when the head version was written


@dataclass(frozen=True)
class VersionRecord:
    """One OCFL version of a package: its number, when, why, and how much it holds."""

    package: str
    number: int  # 1, 2, ...
    created: datetime
    message: str  # why the version was made: "ingest", "metadata update: ...", ...
    files: int  # files in the version's logical state (payload and METS; not the bag's tag files)
    bytes: int
    new_files: int  # content files stored for this version (the rest are referenced from earlier ones)
    new_bytes: int
    operator: str | None = None


@dataclass(frozen=True)
class ValidityCount:
    """Original files counted per validity verdict and format."""

    validity: Validity | None
    puid: str | None
    files: int
    bytes: int


@dataclass(frozen=True)
class FormatCount:
    """Original files of one package counted per format: the raw figures of a collection profile."""

    package: str
    package_name: str
    puid: str | None
    format_name: str | None
    format_version: str | None
    files: int
    bytes: int


@dataclass(frozen=True)
class PackageDocument:
    """Everything the METS document of a package says, read back or about to be written."""

    uuid: str
    name: str
    created: datetime
    files: tuple[FileRecord, ...]
    events: tuple[Event, ...]
    agents: tuple[Agent, ...]
    rights: tuple[RightsStatement, ...]
    descriptions: tuple[DublinCore, ...]
    source_metadata: dict[str, tuple[str, ...]]  # bag-info.txt of a supplied bag
    payload_sha256: str


# --- Fixity and validation problems ---------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    path: str
    algorithm: str
    expected: str
    found: str
    kind: str = "mismatch"

    def describe(self) -> str:
        return f"{self.path}: {self.algorithm} expected {self.expected}, found {self.found}"


@dataclass(frozen=True)
class Missing:
    path: str
    source: str  # which manifest or checksum file named it
    kind: str = "missing"

    def describe(self) -> str:
        return f"{self.path}: named in {self.source} but not present"


@dataclass(frozen=True)
class Unexpected:
    path: str
    source: str
    kind: str = "unexpected"

    def describe(self) -> str:
        return f"{self.path}: present but not listed in {self.source}"


FixityProblem = Mismatch | Missing | Unexpected


@dataclass(frozen=True)
class JournalAnchor:
    """The newest journal entry the catalog has seen appended: an outside copy of the journal's head.

    The hash chain shows an edited, reordered or removed entry anywhere but at the end; this
    anchor, kept in another place (the catalog database), shows entries removed from the end.
    """

    sequence: int
    digest: str


@dataclass(frozen=True)
class CopyRecord:
    """One package's copy in one storage location, as the catalog knows it.

    `version` is the highest version stored whole there (written and read back); `checked`
    and `outcome` are the last fixity check of that copy (None before the first).
    """

    package: str
    location: str
    version: int
    stored: datetime
    checked: datetime | None = None
    outcome: Outcome | None = None
    problems: int = 0


@dataclass(frozen=True)
class LocationUsage:
    """What the catalog knows a storage location holds."""

    location: str
    packages: int  # packages with a copy there (any version)
    current: int  # of those, copies at the package's head version
    bytes: int  # stored bytes of the versions held there (sum of each held version's new bytes)
    oldest_check: datetime | None  # the least recent fixity check of a copy there (None: some never checked)
    newest_check: datetime | None
    failing: int  # copies whose last check failed
