"""Search documents of a package: what the index holds, derived from the catalog's records.

Each package gives one document for itself and one per file, with structured fields
(Dublin Core, names, formats, a date, the version) and the access status that decides
who may see it. Documents never carry a whole METS file. An original's document carries
its full text, read from the text derivative stored in the package (never extracted
again here); the derivative itself is no document: it is found through its original.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime

from strongroom.commit import object_id
from strongroom.errors import StrongroomError
from strongroom.fulltext.paths import TEXT_FOLDER, text_path
from strongroom.model import AccessRule, AccessStatus, DublinCore, FileRecord, FileRole, PackageSummary
from strongroom.preservation.actions import derivative_source
from strongroom.records.closure import masked_title
from strongroom.search.base import SearchDocument
from strongroom.search.query import normalise
from strongroom.storage.ocfl import OcflStore

PACKAGE_TARGET = "objects"
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def effective_access(rules: Sequence[AccessRule], path: str | None) -> AccessRule | None:
    """The rule that governs `path` (None: the package): the most specific one wins.

    A derivative (text/objects/a.doc.txt, preservation/objects/a.doc.odt, access/objects/a.doc.pdf) is as closed
    as its original at least: the text or copy of a closed record is as closed as the record. A rule set on the
    derivative's own path (an access copy not yet cleared) counts too, and the stricter of the two governs.
    """
    by_path = {rule.path: rule for rule in rules}
    if path is None:
        return by_path.get(None)
    derived = derivative_source(path)
    if derived is None:
        return _most_specific(by_path, path) or by_path.get(None)
    return _stricter(_most_specific(by_path, path), _most_specific(by_path, derived[1]) or by_path.get(None))


def _most_specific(by_path: Mapping[str | None, AccessRule], path: str) -> AccessRule | None:
    """The rule on `path` or its nearest folder that has one (not the package's)."""
    candidate: str | None = path
    while candidate:
        if candidate in by_path:
            return by_path[candidate]
        candidate = candidate.rpartition("/")[0] or None
    return None


def _stricter(one: AccessRule | None, other: AccessRule | None) -> AccessRule | None:
    """Closed or restricted beats open; of two closures, the one without an opening date, else the later
    date, else the closed one (a researcher sees nothing of it, not even a stand-in)."""
    if one is None or other is None:
        return one or other

    def closure(rule: AccessRule) -> tuple[int, date, bool]:
        if rule.status is AccessStatus.OPEN:
            return (0, date.min, False)
        closed = rule.status is AccessStatus.CLOSED
        return (2, date.max, closed) if rule.opening_date is None else (1, rule.opening_date, closed)

    return one if closure(one) >= closure(other) else other


def record_date(description: Mapping[str, tuple[str, ...]]) -> date | None:
    """The first Dublin Core date that reads as a date (YYYY, YYYY-MM or YYYY-MM-DD)."""
    for value in description.get("date", ()):
        match = _DATE.match(value.strip())
        if match:
            year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
            try:
                return date(int(year), int(month), int(day))
            except ValueError:
                continue
    return None


def _merged(*descriptions: DublinCore | None) -> dict[str, tuple[str, ...]]:
    merged: dict[str, list[str]] = {}
    for description in descriptions:
        if description is None:
            continue
        for element, values in description.elements.items():
            bucket = merged.setdefault(element, [])
            bucket.extend(v for v in values if v not in bucket)
    return {k: tuple(v) for k, v in merged.items()}


def search_documents(
    summary: PackageSummary,
    files: Iterable[FileRecord],
    descriptions: Iterable[DublinCore],
    rules: Sequence[AccessRule],
    risk_of: Callable[[str | None], str | None] | None = None,
    text_of: Callable[[FileRecord], str] | None = None,
    today: date | None = None,
) -> Iterator[SearchDocument]:
    """The package's own document, then one per file (streamed from `files`).

    `risk_of` gives a file's format risk (a RiskLevel value) from its PUID; `text_of` an
    original's full text ("" when it has none). Text derivatives give no document.

    A package that is not open on `today` (default: today, UTC) is one record to a researcher: its
    own stand-in at most, never one per file, which would give away how many files it holds, their
    references and their dates, and (for a closed package) that it exists at all. Its files get their
    stand-ins when it is indexed again after it opens (any write to it, or `strongroom rebuild`); until
    then a researcher finds less of it, never more.
    """
    by_target = {d.target: d for d in descriptions}
    folders = sorted((t for t in by_target if t != PACKAGE_TARGET), key=len)
    package_dc = _merged(by_target.get(PACKAGE_TARGET))
    package_rule = effective_access(rules, None)
    package_document = SearchDocument(
        package=summary.uuid, package_name=summary.name, path=None, title=summary.title or summary.name,
        dublin_core=package_dc, date=record_date(package_dc) or summary.created.date(), version=summary.version,
        access=package_rule.status if package_rule else AccessStatus.OPEN,
        opening_date=package_rule.opening_date if package_rule else None,
        exemption=package_rule.exemption if package_rule else None,
    )  # fmt: skip
    yield package_document
    if has_stand_in(package_rule):
        yield masked_document(package_document, package_rule, None)  # it names no package: its title stands in
    day = today or datetime.now(UTC).date()
    file_stand_ins = package_rule is None or package_rule.is_open_on(day)
    for record in files:
        if record.role in DERIVATIVE_ROLES:
            continue  # never a hit of its own: a text's words are in its original's content; copies are its record
        own = by_target.get(record.path)
        inherited = [by_target[t] for t in folders if record.path.startswith(t + "/")]
        dc = _merged(own, *reversed(inherited))
        rule = effective_access(rules, record.path)
        ident = record.identification
        document = SearchDocument(
            package=summary.uuid, package_name=summary.name, path=record.path,
            title=own.first("title") if own and own.first("title") else record.original_name,
            dublin_core=dc, name=record.original_name.rpartition("/")[2],
            puid=ident.puid if ident else None, format_name=ident.format_name if ident else None,
            date=record_date(dc) or (record.modified.date() if record.modified else None),
            version=summary.version, access=rule.status if rule else AccessStatus.OPEN,
            opening_date=rule.opening_date if rule else None, file_uuid=record.uuid, role=str(record.role),
            validity=record.validity.value if record.validity else None,
            risk=risk_of(ident.puid if ident else None) if risk_of else None,
            content=text_of(record) if text_of is not None and record.role is FileRole.ORIGINAL else "",
            exemption=rule.exemption if rule else None,
        )  # fmt: skip
        yield document
        if file_stand_ins and rule is not package_rule and has_stand_in(rule):
            yield masked_document(document, rule, summary.name)  # the package is open: its name may show


def has_stand_in(rule: AccessRule | None) -> bool:
    """Whether a record under `rule` has a researcher's stand-in: restricted, or closed with a redacted title.

    Whether the stand-in shows is judged at query time (until the opening date, never after), so a
    record opens by itself with no re-indexing."""
    if rule is None or rule.status is AccessStatus.OPEN:
        return False
    return rule.status is AccessStatus.RESTRICTED or rule.redacted_title is not None


def masked_document(document: SearchDocument, rule: AccessRule | None, package_name: str | None) -> SearchDocument:
    """The stand-in of `document`: its redacted title, Dublin Core identifier and date, and nothing else."""
    title = masked_title(rule.redacted_title if rule else None)
    kept = {k: v for k, v in document.dublin_core.items() if k in _STAND_IN_ELEMENTS}
    return SearchDocument(
        package=document.package, package_name=package_name or title, path=document.path, title=title,
        dublin_core=kept, date=document.date, version=document.version, access=document.access,
        opening_date=document.opening_date, role=document.role, masked=True, exemption=document.exemption,
    )  # fmt: skip


_STAND_IN_ELEMENTS = ("identifier", "date")


# Files made from an original (text, migrated master, access copy): found through the original, never on their own.
DERIVATIVE_ROLES = (FileRole.TEXT, FileRole.PRESERVATION, FileRole.ACCESS)


class StoredText:
    """Reads the text derivatives of one package's head version from storage, for its search documents.

    The inventory is read once and only the texts' content keys are kept from it (a package of 100,000
    files has an inventory of some 100 MB in memory, which would otherwise stay for the whole indexing);
    each text is then one read of its content file, cut at `limit` characters. A derivative that is
    missing or cannot be read gives "": indexing goes on, and a fixity check is what reports damaged storage.
    """

    def __init__(self, ocfl: OcflStore, package: str, limit: int) -> None:
        self.ocfl = ocfl
        self.package = package
        self.limit = limit
        self._keys: Mapping[str, str] | None = None

    def _text_keys(self) -> Mapping[str, str]:
        """Logical path of each text derivative in the head version -> the backend key of its content."""
        if self._keys is None:
            prefix = f"data/{TEXT_FOLDER}/"
            try:
                inventory = self.ocfl.inventory(object_id(self.package))
                state = inventory.version().state
                self._keys = {
                    logical: inventory.content_key(digest)
                    for logical, digest in state.items()
                    if logical.startswith(prefix)
                }
            except (StrongroomError, OSError):
                self._keys = {}
        return self._keys

    def __call__(self, record: FileRecord) -> str:
        key = self._text_keys().get(f"data/{text_path(record.path)}")
        if key is None:
            return ""
        try:
            with self.ocfl.backend.open(key) as stream:
                data = stream.read(self.limit * 4 + 4)
        except (StrongroomError, OSError):
            return ""
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)
        return normalise(text[: self.limit])
