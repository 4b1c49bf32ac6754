"""A realistic package for the METS tests: hostile names, every rights basis, DC at three levels."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from strongroom.metadata import MetsInput
from strongroom.model import (
    Agent,
    AgentType,
    Basis,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FormatMatch,
    Identification,
    Outcome,
    PackageDocument,
    RightsStatement,
    ToolOutcome,
    Validity,
)

PACKAGE = "3f2c9a4e-8b1d-4c6e-9f0a-1b2c3d4e5f60"
CREATED = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
# From the project's hostile-names habit: every character XML or URIs treat specially.
HOSTILE_FOLDER = "objects/hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠"
HOSTILE = f"{HOSTILE_FOLDER}/z.txt"
URI_HOSTILE = "objects/minutes/sub/deep/a#b#c [1] 100%.txt"
CONTROL = "objects/odd\x01name\x1f.txt"
UNDECODABLE = "objects/latin1-caf\udce9-\udcff.bin"  # os.fsdecode of non-UTF-8 bytes
NONCHARACTER = "objects/nonchar-\ufffe.txt"

ORGANISATION = Agent("repository code", "CA-XYZ", "Archives of Xyz & Co <Main>", AgentType.ORGANIZATION)
SYSTEM = Agent("preservation system", "Strongroom-0.1.0", "Strongroom 0.1.0", AgentType.SOFTWARE)
FIDO = Agent("software", "fido-1.6.1", "fido 1.6.1", AgentType.SOFTWARE, note="signatures: v120")
OPERATOR = Agent("local user", "jdoe", "Jane Doe", AgentType.PERSON)
AGENTS = (SYSTEM, FIDO, ORGANISATION, OPERATOR)

PDF = Identification(
    basis=Basis.SIGNATURE,
    matches=(
        FormatMatch("fmt/276", "Acrobat PDF 1.7 - Portable Document Format", "1.7", "application/pdf", "PDF 1.7"),
        FormatMatch("fmt/354", "Acrobat PDF/A - Portable Document Format", "1b", "application/pdf", "PDF/A-1b"),
    ),
    tool="fido",
    tool_version="1.6.1",
    signature_version="v120",
    warnings=("more than one format matched", "odd \x0b warning"),
)
TEXT = Identification(
    Basis.EXTENSION, (FormatMatch("x-fmt/111", "Plain Text File", None, "text/plain", "txt"),), "fido", "1.6.1", "v120"
)
UNIDENTIFIED = Identification(Basis.NONE, (), "fido", "1.6.1", "v120", ("no signature matched",))


def _file(n: int, path: str, size: int, role: FileRole, ident: Identification | None, **extra: object) -> FileRecord:
    uuid = f"00000000-0000-4000-8000-{n:012d}"
    name = path.rsplit("/", 1)[-1]
    modified = extra.get("modified", CREATED - timedelta(days=n))
    return FileRecord(
        uuid, path, name, size, f"{n:02x}" * 32, role, ident, modified,  # type: ignore[arg-type]
        validity=extra.get("validity"), characterisation=extra.get("characterisation", ()),  # type: ignore[arg-type]
    )  # fmt: skip


JHOVE_BROKEN = ToolOutcome(
    "JHOVE", "1.32.1", False, False, "PDF",
    ("Lexical error at byte 17 <&> \"quoted\"", "No PDF trailer \x07 control char", "ｗｉｄｅ ≠ ascii"),
)  # fmt: skip
EXIF = ToolOutcome("ExifTool", "12.57", None, None, "PDF", ())


FILES: tuple[FileRecord, ...] = tuple(
    sorted(
        (
            _file(1, "logs/ingest.log", 120, FileRole.LOG, TEXT),
            _file(2, "metadata/metadata.csv", 300, FileRole.METADATA, TEXT),
            _file(
                3, "metadata/submissionDocumentation/transfer form.pdf", 9000, FileRole.SUBMISSION_DOCUMENTATION, PDF
            ),
            _file(4, "objects/empty.txt", 0, FileRole.ORIGINAL, UNIDENTIFIED),
            _file(5, HOSTILE, 11, FileRole.ORIGINAL, TEXT),
            _file(
                6,
                "objects/minutes/1999.pdf",
                123456,
                FileRole.ORIGINAL,
                PDF,
                validity=Validity.INVALID,
                characterisation=(JHOVE_BROKEN, EXIF),
            ),
            _file(
                7,
                "objects/minutes/notes.txt",
                42,
                FileRole.ORIGINAL,
                None,
                modified=None,
                validity=Validity.NOT_CHECKED,
            ),
            _file(
                12 + 1,
                "objects/minutes/valid.pdf",
                70,
                FileRole.ORIGINAL,
                PDF,
                validity=Validity.VALID,
                characterisation=(ToolOutcome("JHOVE", "1.32.1", True, True, "PDF", ()),),
            ),
            _file(8, URI_HOSTILE, 5, FileRole.ORIGINAL, TEXT),
            _file(9, CONTROL, 7, FileRole.ORIGINAL, UNIDENTIFIED),
            _file(10, UNDECODABLE, 8, FileRole.ORIGINAL, UNIDENTIFIED),
            _file(11, NONCHARACTER, 9, FileRole.ORIGINAL, UNIDENTIFIED),
            _file(12, "objects/minutes/sub/deep/deeper/report.pdf", 777, FileRole.ORIGINAL, PDF),
        ),
        key=lambda record: record.path,
    )
)


def file_events(record: FileRecord) -> list[Event]:
    when = CREATED - timedelta(minutes=5)
    events = [
        Event(
            f"e-{record.uuid}-ingest", "ingestion", when, "Transfer received", Outcome.SUCCESS,
            f"original name: {record.original_name}", (SYSTEM.key, ORGANISATION.key, OPERATOR.key), record.uuid,
        ),
        Event(
            f"e-{record.uuid}-digest", "message digest calculation",
            when.astimezone(timezone(timedelta(hours=-5))),  # any zone in, UTC out
            'program="python hashlib"; algorithm=SHA-256', Outcome.SUCCESS, record.sha256, (SYSTEM.key,), record.uuid,
        ),
    ]  # fmt: skip
    if record.identification is not None:
        events.append(
            Event(
                f"e-{record.uuid}-format", "format identification", when, 'program="fido"', Outcome.WARNING,
                "tool said: \x1b[31mred\x1b[0m & <stuff>", (FIDO.key, SYSTEM.key), record.uuid,
            )
        )  # fmt: skip
    return events


PACKAGE_EVENTS = (
    Event("pe-1", "ingestion", CREATED, "Transfer ingested", Outcome.SUCCESS, "12 files", (SYSTEM.key, OPERATOR.key)),
    Event("pe-2", "validation", CREATED, "Bag validated", Outcome.FAILURE, "", (SYSTEM.key, ORGANISATION.key)),
)

RIGHTS = (
    RightsStatement(
        "r-copyright", "objects", "copyright", status="copyrighted", jurisdiction="ca", determination_date="2020-01-01",
        note="Crown copyright", terms="unmapped for copyright", start_date="1999", end_date="open",
        grant_act="disseminate", grant_restriction="allow", grant_start_date="2001-01-01", grant_end_date="open",
        grant_note="Reading room only", doc_id_type="URI", doc_id_value="https://example.org/c", doc_id_role="deed",
    ),
    RightsStatement(
        "r-license", "objects/minutes", "license", terms="CC BY 4.0", note="see licence", start_date="2000-01-01",
        grant_act="replicate", grant_restriction="conditional", doc_id_type="URI",
        doc_id_value="https://creativecommons.org/licenses/by/4.0/", status="unmapped status",
    ),
    RightsStatement(
        "r-statute", "objects/minutes/1999.pdf", "statute", jurisdiction="ca", terms="Privacy Act s. 8",
        determination_date="2021-06-30", note="personal information", grant_act="disseminate",
        grant_restriction="disallow", grant_start_date="2021-07-01", grant_end_date="2095-07-01",
    ),
    RightsStatement(
        "r-donor", HOSTILE_FOLDER, "donor", note="Donor agreement, box 3", terms="donor terms \x02",
        doc_id_type="local", doc_id_value="DA-1999-03", start_date="1999-03-01", grant_act="use",
    ),
    RightsStatement("r-policy", "objects/minutes/sub", "policy", note="Closed for 20 years", end_date="2044"),
    RightsStatement("r-other", "objects/minutes/sub", "other", note="Fair dealing", grant_note="only a note"),
    RightsStatement("r-nothing", "objects/no/such/folder", "license"),
)  # fmt: skip

DESCRIPTIONS = (
    DublinCore(
        "objects",
        {
            "title": ("Minutes of the Xyz Society & friends",),
            "subject": ("minutes", "societies", "Québec — 世界"),
            "date": ("1999/2001",),
            "Local Identifier": ("LI-7",),  # not Dublin Core: kept as strongroom:term
        },
    ),
    DublinCore("objects/minutes", {"title": ("Minutes",), "alternative": ("Procès-verbaux",), "extent": ("2 files",)}),
    DublinCore("objects/minutes/1999.pdf", {"creator": ("A. Smith", "B. Jones"), "description": ("Line\x0bbreak",)}),
    DublinCore(HOSTILE, {"title": ('"Quoted" <title>',)}),
    DublinCore("objects/no/such/file.txt", {"title": ("Not in the package",), "empty": ()}),
)

SOURCE_METADATA = {
    "Source-Organization": ("Xyz Society",),
    "Contact-Name": ("A. Smith", "B. Jones"),
    "Bag Group Identifier": ("Group 1 of 2",),
    "External-Description": ("Two lines\nof text & <markup>",),
    "xml-looking": ("reserved name",),
    "9 starts with a digit": ("x",),
}


@dataclass(frozen=True)
class Sample:
    document: MetsInput
    expected: PackageDocument
    calls: list[int]


def sample(files: Sequence[FileRecord] = FILES) -> Sample:
    calls: list[int] = []

    def iterate() -> Iterator[tuple[FileRecord, list[Event]]]:
        calls.append(1)
        for record in files:
            yield record, file_events(record)

    document = MetsInput(
        uuid=PACKAGE,
        name="Xyz minutes & <drafts>",
        created=CREATED,
        payload_sha256="ab" * 32,
        organisation=ORGANISATION,
        agents=AGENTS,
        package_events=PACKAGE_EVENTS,
        rights=RIGHTS,
        descriptions=DESCRIPTIONS,
        source_metadata=SOURCE_METADATA,
        files=iterate,
    )
    expected = PackageDocument(
        uuid=PACKAGE,
        name=document.name,
        created=CREATED,
        files=tuple(files),
        events=PACKAGE_EVENTS + tuple(e for record in files for e in file_events(record)),
        agents=AGENTS,
        rights=RIGHTS,
        descriptions=DESCRIPTIONS,
        source_metadata=dict(SOURCE_METADATA),
        payload_sha256="ab" * 32,
    )
    return Sample(document, expected, calls)
