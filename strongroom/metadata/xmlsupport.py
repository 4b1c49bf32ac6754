"""XML plumbing shared by the METS, PREMIS and Dublin Core code.

Three concerns live here so the format modules stay about their formats:

* namespaces and the tag helpers;
* reversible escaping of text that XML 1.0 cannot hold (control characters,
  lone surrogates from undecodable file names, U+FFFE/U+FFFF), recorded under
  a name so a reader knows what to undo. Text uses %XX for control characters
  and undecodable bytes and %uXXXX for the rest; xlink:href uses plain RFC 3986
  percent-encoding of the UTF-8 bytes, so any URI tool decodes it;
* the hardened parser settings used for every document read from storage.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Any, Protocol, TypeVar

from lxml import etree

from strongroom.errors import MetadataError

METS = "http://www.loc.gov/METS/"
PREMIS = "http://www.loc.gov/premis/v3"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
# Strongroom's own extension namespace: only for what METS, PREMIS and DC have no place for.
STRONGROOM = "urn:x-strongroom:metadata:1"

NSMAP: Mapping[str, str] = MappingProxyType(
    {
        "mets": METS,
        "premis": PREMIS,
        "xlink": XLINK,
        "xsi": XSI,
        "dc": DC,
        "dcterms": DCTERMS,
        "strongroom": STRONGROOM,
    }
)

SCHEMA_LOCATION = (
    f"{METS} http://www.loc.gov/standards/mets/version1121/mets.xsd "
    f"{PREMIS} http://www.loc.gov/standards/premis/v3/premis.xsd "
    f"{DC} http://dublincore.org/schemas/xmls/qdc/2008/02/11/dc.xsd "
    f"{DCTERMS} http://dublincore.org/schemas/xmls/qdc/2008/02/11/dcterms.xsd"
)

# Attribute, on METS elements that allow foreign attributes, listing the escaped names.
ESCAPED_ATTR = f"{{{STRONGROOM}}}escaped"
# Attribute of a dmdSec or package rightsMD: the data/-relative path it is about.
TARGET_ATTR = f"{{{STRONGROOM}}}target"
PACKAGE_AMDSEC = "amdSec_package"
PACKAGE_TARGET = "objects"  # a description with this target describes the whole package


def m(local: str) -> str:
    return f"{{{METS}}}{local}"


def p(local: str) -> str:
    return f"{{{PREMIS}}}{local}"


def sr(local: str) -> str:
    return f"{{{STRONGROOM}}}{local}"


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


# --- escaping ---------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, even as character references.
_ILLEGAL = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_NEEDS_ESCAPE = re.compile(f"[{_ILLEGAL}]")
_TEXT_ESCAPE = re.compile(f"[%{_ILLEGAL}]")
# xs:anyURI as libxml2 checks it also rejects '[', ']', a second '#', a stray '%',
# and ':' in a relative reference's first segment.
_HREF_ESCAPE = re.compile(f"[%\\[\\]#{_ILLEGAL}]")
_HREF_FIRST_SEGMENT_ESCAPE = re.compile(f"[%\\[\\]#:{_ILLEGAL}]")
# Characters that make a value other than itself once escaped for XML (by Escaper and then by lxml).
_PLAIN_TEXT_BREAKER = re.compile(f"[&<>\r{_ILLEGAL}]")
_PLAIN_ATTR_BREAKER = re.compile(f'[&<>"\r\n\t{_ILLEGAL}]')
_UNESCAPE = re.compile(r"%(?:u([0-9A-Fa-f]{4})|([0-9A-Fa-f]{2}))|%")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x80:
        return f"%{code:02X}"
    if 0xDC80 <= code <= 0xDCFF:
        # A surrogate escape stands for one undecodable byte of a file name: write that byte.
        return f"%{code - 0xDC00:02X}"
    return f"%u{code:04X}"


def needs_escape(value: str) -> bool:
    return _NEEDS_ESCAPE.search(value) is not None


def escape_text(value: str) -> str:
    """Percent-escape '%' and every character XML 1.0 cannot hold; reversed by `unescape`."""
    return _TEXT_ESCAPE.sub(_escape_char, value)


def href_needs_escape(path: str) -> bool:
    first, _, rest = path.partition("/")
    return bool(_HREF_FIRST_SEGMENT_ESCAPE.search(first) or _HREF_ESCAPE.search(rest))


def _escape_bytes(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group().encode("utf-8", "surrogateescape"))


def escape_href(path: str) -> str:
    """Percent-encode (RFC 3986, UTF-8) what XML cannot hold and what would break xs:anyURI.

    Undecodable file-name bytes (surrogate escapes) are written as those bytes, so
    `urllib.parse.unquote(href, errors="surrogateescape")` gives the name back.
    """
    first, slash, rest = path.partition("/")
    try:
        escaped = _HREF_FIRST_SEGMENT_ESCAPE.sub(_escape_bytes, first) + slash + _HREF_ESCAPE.sub(_escape_bytes, rest)
    except UnicodeEncodeError:
        escaped = None
    if escaped is None or unescape_href(escaped) != path:
        # Only strings no file system decodes to (lone surrogates other than byte escapes).
        raise MetadataError(f"The path {path!r} cannot be recorded as a URI; it names no possible file.")
    return escaped


def unescape_href(value: str) -> str:
    return urllib.parse.unquote(value, encoding="utf-8", errors="surrogateescape")


def unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            return chr(int(match.group(1), 16))
        if match.group(2):
            code = int(match.group(2), 16)
            return chr(code) if code < 0x80 else chr(0xDC00 + code)
        raise ValueError(f"malformed %-escape in {value!r}")

    return _UNESCAPE.sub(replace, value)


def legal(value: str) -> str:
    """Escape only if needed, for display copies (labels, MIME type) that no reader relies on."""
    return escape_text(value) if needs_escape(value) else value


class Escaper:
    """Escapes values XML cannot hold and remembers under which names it did.

    A name is an element's local name, or `element@attribute`. Once one value
    under a name is escaped, every value under that name in the same record must
    be (a reader unescapes by name); `build_escaped` takes care of that.
    """

    def __init__(self, force: frozenset[str] = frozenset()) -> None:
        self._force = force
        self.used: set[str] = set()

    def __call__(self, name: str, value: str) -> str:
        if name in self._force or needs_escape(value):
            self.used.add(name)
            return escape_text(value)
        return value

    def text(self, name: str, value: str) -> str:
        """`self(name, value)` escaped as lxml escapes element text (see xml_text), in one check when plain."""
        if name not in self._force and _PLAIN_TEXT_BREAKER.search(value) is None:
            return value
        return xml_text(self(name, value))

    def attr(self, name: str, value: str) -> str:
        """`self(name, value)` escaped as lxml escapes an attribute value (see xml_attr)."""
        if name not in self._force and _PLAIN_ATTR_BREAKER.search(value) is None:
            return value
        return xml_attr(self(name, value))

    def href(self, name: str, value: str) -> str:
        """For xlink:href; `name` must end in '@href' so the reader decodes it as a URI."""
        if name in self._force or href_needs_escape(value):
            self.used.add(name)
            return escape_href(value)
        return value


class Unescaper:
    """The reading side of Escaper, for one record."""

    def __init__(self, names: str | None) -> None:
        self._names = frozenset((names or "").split())

    def __call__(self, name: str, value: str) -> str:
        if name not in self._names:
            return value
        if name.endswith("@href"):
            return unescape_href(value)
        try:
            return unescape(value)
        except ValueError as exc:
            raise MetadataError(f"Cannot decode escaped {name}: {exc}") from None


T = TypeVar("T")


def build_escaped(build: Callable[[Escaper], T]) -> tuple[T, str | None]:
    """Run `build` so that escaping is consistent per name; return its result and the names."""
    escaper = Escaper()
    result = build(escaper)
    if escaper.used:
        # Rare: build again escaping every value under the names that needed it.
        escaper = Escaper(frozenset(escaper.used))
        result = build(escaper)
    names = " ".join(sorted(escaper.used)) or None
    return result, names


# --- dates ------------------------------------------------------------------------------------


def format_datetime(value: datetime, what: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise MetadataError(f"{what} has no time zone ({value.isoformat()}); give an aware datetime.")
    return value.astimezone(UTC).isoformat()


def parse_datetime(text: str | None, what: str) -> datetime:
    try:
        value = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise MetadataError(f"{what} is not an ISO 8601 date and time: {text!r}") from None
    if value.tzinfo is None:
        raise MetadataError(f"{what} has no time zone: {text!r}")
    return value.astimezone(UTC)


# --- incremental writing ----------------------------------------------------------------------


class IncrementalWriter(Protocol):
    """The part of lxml's `xmlfile` writer used here, typed for mypy."""

    def element(
        self, tag: str, attrib: Mapping[str, str] | None = ..., nsmap: Mapping[str, str] | None = ...
    ) -> AbstractContextManager[None]: ...

    def write(self, *data: Any) -> None: ...

    def write_declaration(self) -> None: ...

    def flush(self) -> None: ...


def xmlfile(output: IO[bytes]) -> AbstractContextManager[IncrementalWriter]:
    writer: AbstractContextManager[IncrementalWriter] = etree.xmlfile(output, encoding="utf-8")
    return writer


class PrettyWriter:
    """Streams elements with two-space indentation, so the document stays readable by people."""

    def __init__(self, xf: IncrementalWriter, nsmap: Mapping[str, str], raw: IO[bytes] | None = None) -> None:
        self._xf = xf
        self._nsmap = nsmap  # prefixes to use, declared on the root
        self._raw = raw  # the stream under xf, for `fragment`
        self._open: list[AbstractContextManager[None]] = []
        self._has_children = False  # of the innermost open element

    @property
    def depth(self) -> int:
        return len(self._open)

    def _newline(self, depth: int) -> None:
        self._xf.write("\n" + "  " * depth)

    def open(self, tag: str, attrib: Mapping[str, str] | None = None, *, root: bool = False) -> None:
        if self._open:
            self._newline(self.depth)
        context = self._xf.element(tag, attrib or {}, nsmap=dict(self._nsmap) if root else None)
        context.__enter__()
        self._open.append(context)
        self._has_children = False

    def close(self) -> None:
        context = self._open.pop()
        if self._has_children:
            self._newline(self.depth)
        context.__exit__(None, None, None)
        self._has_children = True  # the parent now has this child

    @contextmanager
    def element(self, tag: str, attrib: Mapping[str, str] | None = None, *, root: bool = False) -> Iterator[None]:
        self.open(tag, attrib, root=root)
        yield
        self.close()

    def tree(self, element: etree._Element, *, declare: tuple[str, ...] = ()) -> None:
        """Write a small tree built in memory (one section's metadata) through the stream.

        Without `declare`, node by node through the writer, so the tree uses the
        root's namespace declarations. With `declare` (prefixes the tree uses), in
        one call, which is several times faster but makes lxml declare those
        namespaces again on the tree's top element, as Archivematica's METS does
        on each PREMIS object: used for the per-file sections, the bulk of a METS.
        """
        self._newline(self.depth)
        if declare:
            nsmap = {prefix: self._nsmap[prefix] for prefix in declare}
            attrib = {str(k): str(v) for k, v in element.attrib.items()}
            rooted = etree.Element(element.tag, attrib, nsmap=nsmap)
            rooted.text = element.text
            rooted.extend(list(element))
            etree.indent(rooted, space="  ", level=self.depth)
            self._xf.write(rooted)
        else:
            etree.indent(element, space="  ", level=self.depth)
            self._emit(element)
        self._has_children = True

    def fragment(self, text: str) -> None:
        """Write elements already serialised as lxml would write them here (premis_text.file_object_xml, say).

        `text` starts with the newline and indentation of its first element. Building the per-file
        sections as text is several times faster than building and writing lxml trees.
        """
        if self._raw is None:
            raise ValueError("This PrettyWriter was made without the raw stream that fragment() writes to.")
        self._xf.flush()  # what lxml holds goes out first, so the order stays as written
        self._raw.write(text.encode("utf-8"))
        self._has_children = True

    def _emit(self, element: etree._Element) -> None:
        attrib = {str(k): str(v) for k, v in element.attrib.items()}
        with self._xf.element(str(element.tag), attrib):
            if element.text:
                self._xf.write(element.text)
            for child in element:
                self._emit(child)
                if child.tail:
                    self._xf.write(child.tail)


# --- serialised text -------------------------------------------------------------------------

# Newline and two-space indentation per depth, as etree.indent() puts before an element.
NEWLINES = tuple("\n" + "  " * depth for depth in range(64))


def newline(depth: int) -> str:
    """NEWLINES[depth], for any depth (a folder tree can nest deeper than the table goes)."""
    return NEWLINES[depth] if depth < len(NEWLINES) else "\n" + "  " * depth


def xml_text(value: str) -> str:
    """Character data escaped exactly as lxml (libxml2) serialises an element's text."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def xml_attr(value: str) -> str:
    """An attribute value escaped exactly as lxml (libxml2) serialises it between double quotes."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        .replace("\r", "&#13;").replace("\n", "&#10;").replace("\t", "&#9;")
    )  # fmt: skip


def serialised_child(element: etree._Element, prefixes: tuple[str, ...], depth: int) -> str:
    """`element` as lxml writes it indented at `depth` inside a parent declaring `prefixes`.

    The text starts with the element's newline and indentation, as PrettyWriter.fragment wants it;
    lxml itself serialises it, so the bytes are those the tree would give when written in place.
    """
    parent = etree.Element(f"{{{NSMAP[prefixes[0]]}}}parent", nsmap={prefix: NSMAP[prefix] for prefix in prefixes})
    parent.append(element)
    etree.indent(parent, space="  ", level=depth - 1)
    text = etree.tostring(parent, encoding="unicode")
    # Between the parent's start tag (no attributes, so its first '>') and the newline before its end tag.
    return text[text.index(">") + 1 : text.rindex("\n")]


# --- hardened reading -------------------------------------------------------------------------


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
    )


def has_doctype(element: etree._Element) -> bool:
    """A METS document never needs a DTD; one is refused, since entities are how XML attacks work."""
    info = element.getroottree().docinfo
    doctype = info.doctype  # type: ignore[attr-defined]  # missing from lxml-stubs
    return bool(doctype) or info.internalDTD is not None or info.externalDTD is not None


def line_of(element: etree._Element) -> int:
    """The element's line in its document, or 0."""
    line = element.sourceline
    return line if isinstance(line, int) else 0
