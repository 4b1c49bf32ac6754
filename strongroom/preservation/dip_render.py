"""Writing a DIP's METS.xml and index.html (see strongroom/preservation/dip.py for what a DIP holds).

Both are written from the plan alone: only records the viewer may see are in it, so nothing here
needs to know about access. Both stream, one record at a time. Text that XML cannot hold is escaped
as in the package METS (strongroom/metadata/xmlsupport.py); on the page, every name and title is
HTML-escaped, control characters and undecodable bytes are shown as visible marks, and links are
percent-encoded relative URLs, so a hostile file name is only ever text.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from html import escape as html_escape
from pathlib import Path

from lxml import etree

from strongroom import __version__
from strongroom.metadata import dublincore
from strongroom.metadata.xmlsupport import (
    DC,
    DCTERMS,
    ESCAPED_ATTR,
    METS,
    STRONGROOM,
    TARGET_ATTR,
    XLINK,
    XSI,
    Escaper,
    PrettyWriter,
    build_escaped,
    format_datetime,
    legal,
    m,
    xmlfile,
)
from strongroom.model import DublinCore, FileRecord
from strongroom.preservation.dip import NO_COPY, CopyKind, DipEntry, DipFile, DipPlan, dip_folder_name

_NSMAP = {"mets": METS, "xlink": XLINK, "xsi": XSI, "dc": DC, "dcterms": DCTERMS, "strongroom": STRONGROOM}
_SCHEMA_LOCATION = (
    f"{METS} http://www.loc.gov/standards/mets/version1121/mets.xsd "
    f"{DC} http://dublincore.org/schemas/xmls/qdc/2008/02/11/dc.xsd "
    f"{DCTERMS} http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcterms.xsd"
)


# --- METS ----------------------------------------------------------------------------------------------------


def _dmd_sec(description: DublinCore, dmd_id: str) -> etree._Element:
    def build(escape: Escaper) -> tuple[etree._Element, str]:
        return dublincore.description_element(description, escape), escape("@target", description.target)

    (container, target), escaped = build_escaped(build)
    section = etree.Element(m("dmdSec"), ID=dmd_id)
    section.set(TARGET_ATTR, target)
    if escaped is not None:
        section.set(ESCAPED_ATTR, escaped)
    wrap = etree.SubElement(section, m("mdWrap"), MDTYPE="DC")
    etree.SubElement(wrap, m("xmlData")).append(container)
    return section


def write_mets(dest: Path, plan: DipPlan, files: Sequence[DipFile], organisation: str) -> None:
    """A DIP METS: header, Dublin Core, one fileGrp USE="access" with SHA-256 checksums, a physical structMap."""
    summary = plan.summary
    given = {f.path: f for f in files}
    entries = [e for e in plan.entries if e.path is not None and e.path in given]
    file_ids = {e.path: f"file_{n}" for n, e in enumerate(entries, 1) if e.path is not None}
    dmd_ids: dict[str, str] = {}
    with dest.open("wb") as output, xmlfile(output) as xf:
        xf.write_declaration()
        out = PrettyWriter(xf, _NSMAP)
        attrs = {f"{{{XSI}}}schemaLocation": _SCHEMA_LOCATION, "OBJID": summary.uuid, "TYPE": "DIP",
                 "LABEL": legal(f"{summary.name}, version {plan.version}: dissemination package")}  # fmt: skip
        with out.element(m("mets"), attrs, root=True):
            with out.element(m("metsHdr"), {"CREATEDATE": format_datetime(datetime.now(UTC), "creation time")}):
                agent = etree.Element(m("agent"), ROLE="CREATOR", TYPE="ORGANIZATION")
                etree.SubElement(agent, m("name")).text = legal(organisation)
                out.tree(agent)
                software = etree.Element(m("agent"), ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
                etree.SubElement(software, m("name")).text = f"Strongroom {__version__}"
                etree.SubElement(software, m("note")).text = legal(_provenance(plan))
                out.tree(software)
                record_id = etree.Element(m("altRecordID"), TYPE="package version")
                record_id.text = f"urn:uuid:{summary.uuid} v{plan.version}"
                out.tree(record_id)
            out.tree(_dmd_sec(plan.package_description, "dmdSec_package"))
            for n, entry in enumerate(entries, 1):
                if entry.description is not None and entry.path is not None:
                    dmd_ids[entry.path] = f"dmdSec_{n}"
                    out.tree(_dmd_sec(entry.description, dmd_ids[entry.path]))
            if entries:
                with out.element(m("fileSec")), out.element(m("fileGrp"), {"USE": "access"}):
                    for entry in entries:
                        assert entry.path is not None
                        out.tree(_file_element(given[entry.path], file_ids[entry.path]))
            _write_structmap(out, plan, entries, file_ids, dmd_ids)


def _provenance(plan: DipPlan) -> str:
    who = "everything, closed records included" if plan.viewer.sees_closed else "open records only"
    text = (
        f"Dissemination package of version {plan.version} of package {plan.summary.name} ({plan.summary.uuid}), "
        f"made for the {plan.viewer.value} role: {who}."
    )
    if plan.withheld:
        text += f" {plan.withheld} record(s) withheld."
    return text


def _file_element(given: DipFile, file_id: str) -> etree._Element:
    escape = Escaper()
    element = etree.Element(m("file"), ID=file_id)
    if given.mime:
        element.set("MIMETYPE", legal(given.mime))
    element.set("SIZE", str(given.size))
    element.set("CHECKSUM", given.sha256)
    element.set("CHECKSUMTYPE", "SHA-256")
    locator = etree.SubElement(element, m("FLocat"), LOCTYPE="URL")
    locator.set(f"{{{XLINK}}}type", "simple")
    locator.set(f"{{{XLINK}}}href", escape.href("FLocat@href", given.path))
    if escape.used:
        element.set(ESCAPED_ATTR, " ".join(sorted(escape.used)))
    return element


def _write_structmap(
    out: PrettyWriter, plan: DipPlan, entries: Sequence[DipEntry], file_ids: Mapping[str, str],
    dmd_ids: Mapping[str, str],
) -> None:  # fmt: skip
    with out.element(m("structMap"), {"TYPE": "physical", "ID": "structMap_1", "LABEL": "DIP"}):
        out.open(m("div"), {"TYPE": "Directory", "LABEL": legal(dip_folder_name(plan.summary)),
                            "DMDID": "dmdSec_package"})  # fmt: skip
        folders: list[str] = []
        for entry in sorted(entries, key=lambda e: e.path or ""):
            assert entry.path is not None
            parents = entry.path.split("/")[:-1]
            shared = 0
            while shared < min(len(folders), len(parents)) and folders[shared] == parents[shared]:
                shared += 1
            while len(folders) > shared:
                out.close()
                folders.pop()
            for folder in parents[shared:]:
                folders.append(folder)
                out.open(m("div"), {"TYPE": "Directory", "LABEL": legal(folder)})
            attrs = {"TYPE": "Item", "LABEL": legal(entry.title)}
            if entry.path in dmd_ids:
                attrs["DMDID"] = dmd_ids[entry.path]
            with out.element(m("div"), attrs):
                out.tree(etree.Element(m("fptr"), FILEID=file_ids[entry.path]))
        for _folder in folders:
            out.close()
        out.close()


# --- index.html ----------------------------------------------------------------------------------------------

# On a narrow screen (down to 320 px) each record becomes a block of labelled lines; the ARIA roles on the
# table keep it a table to screen readers that drop table semantics once `display` changes.
_CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;font-size:1rem;line-height:1.5;
color:#0b0c0c;background:#fff;margin:0 auto;max-width:72rem;padding:1rem}
h1{font-size:1.75rem;line-height:1.2;margin:0 0 1rem;overflow-wrap:break-word}
dl{margin:0 0 1.5rem}dt{font-weight:700}dd{margin:0 0 .5rem;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
caption{text-align:left;font-weight:700;font-size:1.25rem;padding:0 0 .5rem}
th,td{text-align:left;vertical-align:top;padding:.5rem .75rem .5rem 0;border-bottom:1px solid #b1b4b6;
overflow-wrap:anywhere}
a{color:#1d70b8}a:visited{color:#4c2c92}
a:focus{outline:3px solid #ffdd00;background:#ffdd00;color:#0b0c0c}
.note{color:#505a5f}td[data-label="Size"]{white-space:nowrap}
@media (max-width:40rem){body{padding:.5rem}h1{font-size:1.4rem}
table,caption,tbody,tr,td{display:block}
thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
tr{border-bottom:1px solid #b1b4b6;padding:.5rem 0}td{border:0;padding:0}
td::before{content:attr(data-label) ": ";font-weight:700}}
""".strip()


def _original_label(record: FileRecord) -> str:
    """The original's name as deposited, under its folders in the package (objects/ left out)."""
    folder = record.path.removeprefix("objects/").rpartition("/")[0]
    name = record.original_name
    return f"{folder}/{name}" if folder and "/" not in name else name


_COLUMNS = ("Title", "Original name", "Format", "Size", "File")


def _text(value: str) -> str:
    """Text for the page: escaped for HTML (quotes too), control characters and undecodable bytes made visible."""
    shown = "".join(
        chr(0x2400 + ord(c)) if ord(c) < 0x20 else "\u2421" if c == "\x7f"
        else f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF
        else "\ufffd" if 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" else c
        for c in value
    )  # fmt: skip
    return html_escape(shown, quote=True)


def _href(path: str) -> str:
    """A relative link to a DIP file: every byte that is not plainly safe percent-encoded, so no name is markup."""
    return html_escape(urllib.parse.quote(path.encode("utf-8", "surrogateescape"), safe="/"), quote=True)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"


def write_index(dest: Path, plan: DipPlan, files: Sequence[DipFile], organisation: str) -> None:
    summary = plan.summary
    dc = plan.package_description
    title = dc.first("title") or summary.title or summary.name
    given = {f.path: f for f in files}
    with dest.open("w", encoding="utf-8", newline="\n") as out:
        out.write(
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src 'self'; media-src 'self'\">\n"
            f"<title>{_text(title)}: access copies</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<main>\n"
            f"<h1>{_text(title)}</h1>\n<dl>\n"
        )
        for label, values in _summary_rows(plan, organisation):
            out.write(f"<dt>{_text(label)}</dt>\n")
            out.writelines(f"<dd>{_text(v)}</dd>\n" for v in values)
        out.write("</dl>\n")
        shown = len(plan.entries)
        missing = sum(1 for e in plan.entries if e.copy is None)
        out.write(
            f'<table role="table">\n<caption>Records ({shown})</caption>\n<thead role="rowgroup">\n<tr role="row">'
        )
        out.writelines(f'<th scope="col" role="columnheader">{h}</th>' for h in _COLUMNS)
        out.write('</tr>\n</thead>\n<tbody role="rowgroup">\n')
        for entry in plan.entries:
            out.write(_row(entry, given.get(entry.path) if entry.path else None))
        out.write("</tbody>\n</table>\n")
        notes = []
        if missing:
            notes.append(f"{missing} record(s) have no access copy yet: run strongroom migrate on the package.")
        if plan.withheld:
            notes.append(f"{plan.withheld} record(s) withheld: they are closed.")
        out.writelines(f'<p class="note">{_text(n)}</p>\n' for n in notes)
        out.write('<p class="note">Description of the files: <a href="METS.xml">METS.xml</a>.</p>\n')
        out.write("</main>\n</body>\n</html>\n")


def _summary_rows(plan: DipPlan, organisation: str) -> Iterator[tuple[str, Sequence[str]]]:
    dc = plan.package_description.elements
    for label, element in (("Creator", "creator"), ("Dates", "date"), ("Description", "description")):
        if dc.get(element):
            yield label, dc[element]
    yield "Package", (f"{plan.summary.name} ({plan.summary.uuid}), version {plan.version}",)
    who = "all records, closed ones included" if plan.viewer.sees_closed else "open records only"
    yield "Prepared", (f"by {organisation} on {datetime.now(UTC).date().isoformat()} for the {plan.viewer.value} "
                       f"role: {who}",)  # fmt: skip


def _row(entry: DipEntry, given: DipFile | None) -> str:
    original = entry.original
    if given is not None:
        format_name = given.format_name or given.puid or "unknown format"
        size = human_size(given.size)
        name = given.path.rpartition("/")[2]
        kind = "" if given.kind == CopyKind.ACCESS_COPY else f" ({given.kind})"
        link = f'<a href="{_href(given.path)}">{_text(name)}</a>{_text(kind)}'
    else:
        oid = original.identification
        format_name = (oid.format_name or oid.puid or "unknown format") if oid else "unknown format"
        size = ""
        link = f'<span class="note">{_text(NO_COPY)}</span>'
    cells = (_text(entry.title), _text(_original_label(original)), _text(format_name), _text(size), link)
    labelled = zip(_COLUMNS, cells, strict=True)
    return '<tr role="row">' + "".join(f'<td role="cell" data-label="{h}">{c}</td>' for h, c in labelled) + "</tr>\n"
