"""The depositor's metadata: metadata.csv, rights.csv and checksum files (Archivematica conventions)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from strongroom.errors import TransferError
from strongroom.metadata.dublincore import DCTERMS_TERMS
from strongroom.model import DublinCore, RightsStatement
from strongroom.preservation.fixity import ExpectedDigest

DC_ELEMENTS = (
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
    "format", "identifier", "source", "language", "relation", "coverage", "rights",
)  # fmt: skip
CHECKSUM_ALGORITHMS = ("md5", "sha1", "sha256", "sha512")
MAX_CSV_BYTES = 256 * 1024 * 1024
# Spreadsheets saved in many European locales separate values with ';', some tools with tabs.
SEPARATORS = (",", ";", "\t")
_TERMS_BY_LOWER = {term.lower(): term for term in DCTERMS_TERMS}


@dataclass
class TransferMetadata:
    descriptions: list[DublinCore] = field(default_factory=list)
    rights: list[RightsStatement] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    retention: str | None = None  # the `retention` column of the whole-transfer (objects) row: a schedule code


@dataclass(frozen=True)
class CsvTable:
    """A depositor's CSV: its header (as written) and rows keyed by normalised column names."""

    header: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]

    def require(self, path: Path, *columns: str) -> None:
        """A clear error pointing at the header when it has none of `columns`."""
        if not self.rows or any(column in self.keys() for column in columns):
            return
        found = ", ".join(repr(h) for h in self.header) or "nothing"
        named = " or ".join(repr(c) for c in columns)
        raise TransferError(
            f"{path.name} line 1 (the header) has no {named} column; found: {found}.",
            details=[f"Name the first column {columns[0]!r} (any case) and separate columns with ',', ';' or tabs."],
        )

    def keys(self) -> set[str]:
        return {column_key(h) for h in self.header}


def column_key(name: str) -> str:
    """A header name as looked up: plain columns in lower case, `dc.`/`dcterms.` prefixes too.

    The term after a prefix keeps its case, as DCMI terms are camelCase (`dcterms.rightsHolder`).
    """
    name = name.strip()
    prefix, dot, term = name.partition(".")
    if dot and prefix.lower() in ("dc", "dcterms"):
        return f"{prefix.lower()}.{term}"
    return name.lower()


def _separator(header_line: str) -> str:
    # The header names columns and rarely holds a separator inside a name: count outside quotes.
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _read_csv(path: Path) -> CsvTable:
    """Rows of a CSV with the line each starts on; a clear error on bad encoding or shape."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise TransferError(f"{path.name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it and retry.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TransferError(
            f"{path.name} is not UTF-8 text (bad byte at line {line}).",
            details=["Save the file as UTF-8 (in Excel: 'CSV UTF-8') and retry."],
        ) from exc
    separator = _separator(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return CsvTable((), [])
    except csv.Error as exc:
        raise TransferError(f"{path.name} line 1 cannot be read as CSV: {exc}.") from exc
    header = [h.strip() for h in header]
    rows: list[tuple[int, dict[str, str]]] = []
    while True:
        line = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TransferError(
                f"{path.name} line {reader.line_num} cannot be read as CSV: {exc}.",
                details=["Check the quoting on that line (a quote inside a value must be doubled)."],
            ) from exc
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise TransferError(
                f"{path.name} line {line} has {len(values)} values but the header has {len(header)} columns.",
                details=[f"Values are read as separated by {separator!r}, as in the header line."],
            )
        rows.append((line, _pairs(header, values)))
    return CsvTable(tuple(header), rows)


def _pairs(header: list[str], values: list[str]) -> dict[str, str]:
    # Repeated columns (dc.subject, dc.subject) are kept apart with a NUL-separated suffix.
    out: dict[str, str] = {}
    for index, (name, value) in enumerate(zip(header, values, strict=False)):
        name = column_key(name)
        key = name if name not in out else f"{name}\x00{index}"
        out[key] = value
    return out


def _element(column: str) -> tuple[str | None, bool]:
    """The Dublin Core key a `dc.`/`dcterms.` column fills, and whether it is a known term.

    Known DCMI terms get their canonical name (`dcterms.Spatial` -> `spatial`); any other
    qualified column keeps its name, so the METS holds it as an extra term, not nothing.
    """
    prefix, _, term = column.partition(".")
    if prefix not in ("dc", "dcterms") or not term.strip():
        return None, False
    term = term.strip()
    if term.lower() in DC_ELEMENTS:
        return term.lower(), True
    if prefix == "dcterms" and term.lower() in _TERMS_BY_LOWER:
        return _TERMS_BY_LOWER[term.lower()], True
    return column, False


def normalise_target(name: str) -> str:
    """Turn a metadata.csv `filename` value into a data/-relative path."""
    target = name.strip().replace("\\", "/").strip("/")
    while target.startswith("./"):
        target = target[2:]
    if not target.startswith("objects") and not target.startswith("metadata/"):
        target = f"objects/{target}" if target else "objects"
    return target


def parse_metadata_csv(path: Path, known_paths: set[str], known_folders: set[str]) -> TransferMetadata:
    result = TransferMetadata()
    table = _read_csv(path)
    table.require(path, "filename", "parts")
    unknown_columns: set[str] = set()
    for line, row in table.rows:
        name = row.get("filename") or row.get("parts") or ""
        if not name.strip():
            raise TransferError(f"{path.name} line {line} has no filename (the first column must be 'filename').")
        target = normalise_target(name)
        if target not in known_paths and target not in known_folders:
            result.warnings.append(f"{path.name} line {line}: {name!r} is not in the transfer; row ignored")
            continue
        retention = (row.get("retention") or "").strip()
        if retention and target != "objects":
            result.warnings.append(
                f"{path.name} line {line}: a retention schedule applies to the whole transfer (the 'objects' row); "
                f"{retention!r} given for {name!r} is ignored"
            )
        elif retention:
            if result.retention is not None and result.retention != retention:
                raise TransferError(
                    f"{path.name} line {line} gives the whole transfer retention schedule {retention!r}, but an "
                    f"earlier row gives {result.retention!r}. Nothing was stored.",
                    details=["Give the transfer one retention schedule."],
                )
            result.retention = retention
        elements: dict[str, list[str]] = {}
        for key, value in row.items():
            column = key.split("\x00")[0]
            element, known = _element(column)
            if element is None or not value.strip():
                continue
            if not known:
                unknown_columns.add(column)
            elements.setdefault(element, []).append(value.strip())
        result.descriptions.append(DublinCore(target=target, elements={k: tuple(v) for k, v in elements.items()}))
    for column in sorted(unknown_columns):
        result.warnings.append(
            f"{path.name}: column {column!r} is not a Dublin Core term; kept in the METS under that name"
        )
    return result


_BASES = {"copyright", "license", "statute", "donor", "policy", "other"}


def parse_rights_csv(path: Path, known_paths: set[str], known_folders: set[str]) -> TransferMetadata:
    result = TransferMetadata()
    table = _read_csv(path)
    table.require(path, "file", "filename")
    table.require(path, "basis")
    for line, row in table.rows:
        name = row.get("file") or row.get("filename") or ""
        basis = (row.get("basis") or "").strip().lower()
        if not name.strip():
            raise TransferError(f"{path.name} line {line} has no file (the first column must be 'file').")
        if basis not in _BASES:
            raise TransferError(
                f"{path.name} line {line}: basis {basis or '(empty)'!r} is not one of {', '.join(sorted(_BASES))}."
            )
        target = normalise_target(name)
        if target not in known_paths and target not in known_folders:
            result.warnings.append(f"{path.name} line {line}: {name!r} is not in the transfer; row ignored")
            continue

        def cell(column: str, row: dict[str, str] = row) -> str | None:
            value = (row.get(column) or "").strip()
            return value or None

        result.rights.append(
            RightsStatement(
                uuid=str(uuid.uuid4()),
                file_path=target,
                basis=basis,
                status=cell("status"),
                jurisdiction=cell("jurisdiction"),
                determination_date=cell("determination_date"),
                note=cell("note"),
                terms=cell("citation") if basis == "statute" and cell("citation") else cell("terms"),
                start_date=cell("start_date"),
                end_date=cell("end_date"),
                grant_act=cell("grant_act"),
                grant_restriction=cell("grant_restriction"),
                grant_start_date=cell("grant_start_date"),
                grant_end_date=cell("grant_end_date"),
                grant_note=cell("grant_note"),
                doc_id_type=cell("doc_id_type"),
                doc_id_value=cell("doc_id_value"),
                doc_id_role=cell("doc_id_role"),
            )
        )
    return result


def parse_checksum_lines(text: str, source: str) -> Iterable[tuple[int, str, str]]:
    """(line, digest, path) from `md5sum`-style lines: `<digest>  <path>` or `<digest> *<path>`."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise TransferError(f"{source} line {number} is not '<checksum> <path>': {line[:80]!r}")
        digest, path = parts[0].lower(), parts[1].lstrip("*")
        if not all(c in "0123456789abcdef" for c in digest):
            raise TransferError(f"{source} line {number}: {parts[0][:80]!r} is not a hexadecimal checksum.")
        yield number, digest, path


def read_transfer_checksums(metadata_dir: Path) -> list[ExpectedDigest]:
    """Digests from metadata/checksum.<algorithm> files; their paths are relative to objects/."""
    expected: list[ExpectedDigest] = []
    for algorithm in CHECKSUM_ALGORITHMS:
        path = metadata_dir / f"checksum.{algorithm}"
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TransferError(f"metadata/checksum.{algorithm} is not UTF-8 text.") from exc
        for _line, digest, name in parse_checksum_lines(text, f"metadata/checksum.{algorithm}"):
            target = name.strip().removeprefix("./").removeprefix("../")
            target = target if target.startswith("objects/") else f"objects/{target}"
            expected.append(ExpectedDigest(target, algorithm, digest, f"metadata/checksum.{algorithm}"))
    return expected
