"""Read a package's METS document back into typed records.

The document comes from storage and is not trusted: the parser resolves no
entities, loads no DTD, never touches the network and keeps libxml2's size
limits; a document with a DOCTYPE at all is refused. Parsing streams section
by section and frees each one, so a package with many files does not need the
whole tree in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from lxml import etree

from strongroom.errors import MetadataError
from strongroom.metadata import dublincore, premis
from strongroom.metadata.xmlsupport import (
    ESCAPED_ATTR,
    PACKAGE_AMDSEC,
    TARGET_ATTR,
    XLINK,
    Unescaper,
    has_doctype,
    m,
    p,
    parse_datetime,
    sr,
)
from strongroom.model import (
    Agent,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    PackageDocument,
    RightsStatement,
)

_SECTIONS = (m("mets"), m("metsHdr"), m("dmdSec"), m("amdSec"), m("fileGrp"), m("file"), m("structMap"), m("div"))
_MD_SECS = (m("techMD"), m("rightsMD"), m("sourceMD"), m("digiprovMD"))


def read_mets(path: Path) -> PackageDocument:
    """Read a METS document written by `write_mets` back into typed records."""
    return MetsReader(path).read()


class MetsReader:
    """One reading of one document; collects the records as sections stream past."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._checked = False
        self._uuid: str | None = None
        self._name: str | None = None
        self._created: datetime | None = None
        self._payload: str | None = None
        self._package_seen = False
        self._descriptions: list[DublinCore] = []
        self._rights: list[RightsStatement] = []
        self._source: dict[str, tuple[str, ...]] = {}
        self._package_events: list[Event] = []
        self._agents: list[Agent] = []
        # Per file amdSec, in document order (the writer's file order).
        self._file_facts: dict[str, tuple[premis.FileFacts, list[Event]]] = {}
        self._placement: dict[str, tuple[str, FileRole]] = {}
        self._role: str | None = None

    def read(self) -> PackageDocument:
        try:
            context = etree.iterparse(
                str(self.path),
                events=("start", "end"),
                tag=_SECTIONS,
                resolve_entities=False,
                no_network=True,
                load_dtd=False,
                huge_tree=False,
                remove_comments=True,
                remove_pis=True,
            )
            for event, element in context:
                self._check_document(element)
                self._handle(event, element)
            root = context.root
        except etree.XMLSyntaxError as exc:
            raise MetadataError(f"{self.path.name} is not well-formed XML: {exc}") from None
        except OSError as exc:
            raise MetadataError(f"Cannot read {self.path}: {exc.strerror or exc}") from None
        if root is not None:
            self._check_document(root)
        return self._document()

    def _check_document(self, element: etree._Element) -> None:
        if self._checked:
            return
        root = element.getroottree().getroot()
        if has_doctype(root):
            raise MetadataError(
                f"{self.path.name} has a DOCTYPE; a METS document needs none, and it is refused "
                "because entities are how XML attacks work."
            )
        if root.tag != m("mets"):
            raise MetadataError(f"{self.path.name} is not a METS document (its root is {root.tag}).")
        self._checked = True

    def _handle(self, event: str, element: etree._Element) -> None:
        tag = element.tag
        if event == "start":
            if tag == m("mets"):
                unescape = Unescaper(element.get(ESCAPED_ATTR))
                self._uuid = element.get("OBJID")
                label = element.get("LABEL")
                self._name = None if label is None else unescape("mets@LABEL", label)
            elif tag == m("fileGrp"):
                self._role = element.get("USE")
            return
        if tag == m("metsHdr"):
            self._created = parse_datetime(element.get("CREATEDATE"), "metsHdr CREATEDATE")
        elif tag == m("dmdSec"):
            self._read_dmdsec(element)
        elif tag == m("amdSec"):
            if element.get("ID") == PACKAGE_AMDSEC:
                self._read_package_amdsec(element)
            else:
                self._read_file_amdsec(element)
        elif tag == m("file"):
            self._read_file(element)
        elif tag == m("mets"):
            return
        _release(element)

    def _read_dmdsec(self, section: etree._Element) -> None:
        raw_target = section.get(TARGET_ATTR)
        if raw_target is None:
            return  # not one of ours: nothing says what it describes
        unescape = Unescaper(section.get(ESCAPED_ATTR))
        container = _xml_data(section).find(sr("dublincore"))
        if container is None:
            raise MetadataError(f"Line {section.sourceline}: dmdSec {section.get('ID')} holds no Dublin Core.")
        self._descriptions.append(dublincore.read_description(container, unescape("@target", raw_target), unescape))

    def _read_package_amdsec(self, section: etree._Element) -> None:
        self._package_seen = True
        for md, data, unescape in _md_sections(section):
            if md.tag == m("techMD"):
                obj = data.find(p("object"))
                if obj is not None:
                    uuid, self._payload = premis.read_package_object(obj, unescape)
                    if self._uuid is not None and uuid != self._uuid:
                        raise MetadataError(f"Line {obj.sourceline}: package object {uuid} is not OBJID {self._uuid}.")
            elif md.tag == m("rightsMD"):
                raw_target = md.get(TARGET_ATTR)
                statement = data.find(p("rightsStatement"))
                if raw_target is None or statement is None:
                    raise MetadataError(f"Line {md.sourceline}: package rightsMD without a target or a statement.")
                extra = data.find(sr("rightsExtra"))
                target = unescape("@target", raw_target)
                self._rights.append(premis.read_rights(statement, extra, unescape, target))
            elif md.tag == m("sourceMD"):
                container = data.find(dublincore.TRANSFER_METADATA)
                if container is not None:
                    self._source.update(dublincore.read_source_metadata(container, unescape))
            else:
                event = data.find(p("event"))
                agent = data.find(p("agent"))
                if event is not None:
                    self._package_events.append(premis.read_event(event, unescape, file_level=False))
                elif agent is not None:
                    self._agents.append(premis.read_agent(agent, unescape))

    def _read_file_amdsec(self, section: etree._Element) -> None:
        section_id = section.get("ID")
        if section_id is None or section_id in self._file_facts:
            raise MetadataError(f"Line {section.sourceline}: amdSec without an ID, or with a repeated one.")
        facts = None
        events: list[Event] = []
        for md, data, unescape in _md_sections(section):
            if md.tag == m("techMD"):
                obj = data.find(p("object"))
                if obj is not None:
                    facts = premis.read_file_object(obj, unescape)
            elif md.tag == m("digiprovMD"):
                event = data.find(p("event"))
                if event is not None:
                    events.append(premis.read_event(event, unescape, file_level=True))
        if facts is None:
            raise MetadataError(f"Line {section.sourceline}: amdSec {section_id} has no PREMIS file object.")
        self._file_facts[section_id] = (facts, events)

    def _read_file(self, element: etree._Element) -> None:
        section_id = next((i for i in element.get("ADMID", "").split() if i in self._file_facts), None)
        locator = element.find(m("FLocat"))
        href = None if locator is None else locator.get(f"{{{XLINK}}}href")
        if section_id is None or href is None:
            raise MetadataError(
                f"Line {element.sourceline}: file {element.get('ID')} lacks an FLocat href or an amdSec before it."
            )
        if section_id in self._placement:
            raise MetadataError(f"Line {element.sourceline}: a second file refers to amdSec {section_id}.")
        try:
            role = FileRole(self._role or "")
        except ValueError:
            raise MetadataError(f"Line {element.sourceline}: fileGrp USE {self._role!r} is not a known role.") from None
        path = Unescaper(element.get(ESCAPED_ATTR))("FLocat@href", href)
        self._placement[section_id] = (path, role)

    def _document(self) -> PackageDocument:
        missing = [
            what
            for what, value in (
                ("OBJID", self._uuid),
                ("LABEL", self._name),
                ("metsHdr CREATEDATE", self._created),
                (f"amdSec {PACKAGE_AMDSEC}", self._package_seen or None),
                ("payload digest", self._payload),
            )
            if value is None
        ]
        if missing or self._uuid is None or self._name is None or self._created is None or self._payload is None:
            raise MetadataError(f"{self.path.name} is not a Strongroom METS document: no {', '.join(missing)}.")
        files: list[FileRecord] = []
        events = list(self._package_events)
        for section_id, (facts, file_events) in self._file_facts.items():
            placement = self._placement.get(section_id)
            if placement is None:
                raise MetadataError(f"{self.path.name}: amdSec {section_id} belongs to no file in the fileSec.")
            path, role = placement
            files.append(
                FileRecord(
                    uuid=facts.uuid,
                    path=path,
                    original_name=facts.original_name,
                    size=facts.size,
                    sha256=facts.sha256,
                    role=role,
                    identification=facts.identification,
                    modified=facts.modified,
                    validity=facts.validity,
                    characterisation=facts.characterisation,
                )
            )
            events.extend(file_events)
        return PackageDocument(
            uuid=self._uuid,
            name=self._name,
            created=self._created,
            files=tuple(files),
            events=tuple(events),
            agents=tuple(self._agents),
            rights=tuple(self._rights),
            descriptions=tuple(self._descriptions),
            source_metadata=self._source,
            payload_sha256=self._payload,
        )


def _xml_data(section: etree._Element) -> etree._Element:
    data = section.find(f"{m('mdWrap')}/{m('xmlData')}")
    if data is None:
        raise MetadataError(f"Line {section.sourceline}: {section.tag} {section.get('ID')} has no mdWrap/xmlData.")
    return data


def _md_sections(section: etree._Element) -> Iterator[tuple[etree._Element, etree._Element, Unescaper]]:
    for md in section:
        if md.tag in _MD_SECS:
            yield md, _xml_data(md), Unescaper(md.get(ESCAPED_ATTR))


def _release(element: etree._Element) -> None:
    """Free a section once read, and the emptied siblings before it (the lxml iterparse idiom)."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
