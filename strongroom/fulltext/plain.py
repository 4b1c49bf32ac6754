"""Text of plain text, HTML, XML and e-mail, read in Python: no external tool needed.

Depositors' files are untrusted. No parser here expands an entity or fetches anything: HTML goes
through html.parser (which knows only the standard character references, so `&bomb;` stays as
written), XML through defusedxml (entity declarations and external references refused; such a
document is then read leniently by the HTML reader, which expands nothing). Every reader streams,
stops once it has one character more than the size limit, and looks at the clock as it goes.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.policy
import mailbox
import re
from collections.abc import Callable
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from strongroom.fulltext.limits import ExtractionFailed, Limits, RawText

CHUNK = 64 * 1024
_BOMS = (  # UTF-32 first: its little-endian mark begins like UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
FALLBACK = "cp1252"
FALLBACK_NOTE = "not UTF-8 and no byte order mark: read as Windows-1252"
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_MAX_DEPTH = 50  # nested messages and multiparts followed at most this deep


class _Full(Exception):
    """Enough text read: one character more than the limit."""


class _Collector:
    """Text parts gathered up to the size limit (+1, so a cut can be told from an exact fit)."""

    def __init__(self, limits: Limits, tool: str) -> None:
        self.limits = limits
        self.tool = tool
        self.parts: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self.parts.append(text)
        self.count += len(text)
        if self.count > self.limits.size:
            raise _Full

    def newline(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n"):
            self.add("\n")

    def text(self) -> str:
        return "".join(self.parts)


# --- plain text -------------------------------------------------------------------------------


def _bom(head: bytes) -> tuple[str, int] | None:
    for mark, encoding in _BOMS:
        if head.startswith(mark):
            return encoding, len(mark)
    return None


def decode_bytes(data: bytes, *, complete: bool) -> tuple[str, tuple[str, ...]]:
    """Bytes as text: by a byte order mark, else UTF-8, else Windows-1252 (with a note saying so).

    `complete` False means `data` is a prefix of the file, so a character cut at its end is no error.
    """
    found = _bom(data)
    if found is not None:
        encoding, skip = found
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        return decoder.decode(data[skip:], final=complete), (f"byte order mark: {encoding}",)
    try:
        return codecs.getincrementaldecoder("utf-8")(errors="strict").decode(data, final=complete), ()
    except UnicodeDecodeError:
        return data.decode(FALLBACK, errors="replace"), (FALLBACK_NOTE,)


def plain_text(path: Path, limits: Limits) -> RawText:
    with path.open("rb") as source:
        data = source.read(limits.max_bytes + 1)
    more = len(data) > limits.max_bytes
    text, notes = decode_bytes(data[: limits.max_bytes], complete=not more)
    limits.check("reading the text")
    return RawText(text, notes, more)


# --- HTML -------------------------------------------------------------------------------------

_SKIPPED = frozenset({"script", "style", "template", "noscript"})
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "td", "th", "title", "tr", "ul",
})  # fmt: skip


class _HtmlText(HTMLParser):
    def __init__(self, out: _Collector) -> None:
        # convert_charrefs: &amp; and &#233; become characters; an undeclared name such as &bomb; stays as written.
        super().__init__(convert_charrefs=True)
        self.out = out
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _BLOCKS:
            self.out.newline()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.out.newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.out.newline()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.out.add(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):  # XML read leniently: CDATA is text
            self.out.add(data[6:])


def _html_encoding(head: bytes) -> tuple[str | None, tuple[str, ...]]:
    found = _bom(head)
    if found is not None:
        return found[0], ()
    declared = _META_CHARSET.search(head[:4096])
    if declared is not None:
        name = declared.group(1).decode("ascii", "replace")
        try:
            return codecs.lookup(name).name, ()
        except LookupError:
            return None, (f"declared character set {name!r} is unknown",)
    return None, ()


def html_text(path: Path, limits: Limits) -> RawText:
    return _markup_text(path, limits, ())


def _markup_text(path: Path, limits: Limits, extra_notes: tuple[str, ...]) -> RawText:
    """Text of HTML (or XML read leniently), streamed: by BOM or declared charset, else UTF-8, else Windows-1252."""
    with path.open("rb") as source:
        head = source.read(CHUNK)
    bom = _bom(head)
    encoding, notes = _html_encoding(head)
    for attempt in [encoding] if encoding else ["utf-8", FALLBACK]:
        out = _Collector(limits, "html.parser")
        parser = _HtmlText(out)
        strict = encoding is None and attempt == "utf-8"  # a wrong guess shows as an error: start again
        decoder = codecs.getincrementaldecoder(attempt)(errors="strict" if strict else "replace")
        try:
            with path.open("rb") as source:
                source.seek(bom[1] if bom else 0)
                while chunk := source.read(CHUNK):
                    limits.check("the HTML reader")
                    parser.feed(decoder.decode(chunk))
                parser.feed(decoder.decode(b"", final=True))
            parser.close()
        except UnicodeDecodeError:
            notes = (FALLBACK_NOTE,)
            continue
        except _Full:
            return RawText(out.text(), (*extra_notes, *notes), True)
        return RawText(out.text(), (*extra_notes, *notes))
    raise AssertionError("the Windows-1252 reading cannot fail")  # pragma: no cover


def html_to_text(html: str, limits: Limits) -> str:
    """Text of an HTML string (an e-mail's HTML body), up to the size limit."""
    out = _Collector(limits, "html.parser")
    parser = _HtmlText(out)
    try:
        parser.feed(html)
        parser.close()
    except _Full:
        pass
    return out.text()


# --- XML --------------------------------------------------------------------------------------


class _XmlTarget:
    """Receives the parser's events: character data in document order, a line break per element end."""

    def __init__(self, out: _Collector, limits: Limits) -> None:
        self.out = out
        self.limits = limits
        self.seen = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.seen += 1
        if self.seen % 4096 == 0:
            self.limits.check("the XML reader")

    def end(self, tag: str) -> None:
        self.out.newline()

    def data(self, data: str) -> None:
        self.out.add(data)

    def close(self) -> None:
        return None


def xml_text(path: Path, limits: Limits) -> RawText:
    out = _Collector(limits, "defusedxml")
    parser = DefusedXMLParser(
        target=_XmlTarget(out, limits), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                limits.check("the XML reader")
                parser.feed(chunk)
        parser.close()
    except _Full:
        return RawText(out.text(), (), True)
    except DefusedXmlException as exc:
        # Entity declarations are how XML bombs work: read the text again without expanding any.
        note = f"{type(exc).__name__}: the document declares entities or external references; none was expanded"
        return _markup_text(path, limits, (note,))
    except ParseError as exc:
        return _markup_text(path, limits, (f"not well-formed XML ({exc}): text read leniently",))
    return RawText(out.text())


# --- e-mail -----------------------------------------------------------------------------------

_HEADERS = ("From", "To", "Cc", "Date", "Subject")
# A message's words come first (headers, then its bodies; attachments follow): of a larger message only
# this many bytes are parsed, so a huge attachment never has to fit in memory, let alone several copies.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _message_bytes(read: Callable[[int], bytes], limits: Limits) -> tuple[bytes, str | None]:
    """A message's bytes (from `read`), up to the cap; with a note when there were more."""
    cap = max(MAX_MESSAGE_BYTES, limits.max_bytes)
    data = read(cap + 1)
    if len(data) <= cap:
        return data, None
    return data[:cap], f"a message over {cap // (1024 * 1024)} MiB: only its first {cap // (1024 * 1024)} MiB read"


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):  # a malformed header the policy cannot fold
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        value = " ".join(str(v) for v in raw) if raw else None
    return None if value is None else str(value)


def _part_text(part: Message) -> str:
    try:
        if isinstance(part, EmailMessage):
            content = part.get_content()
            if isinstance(content, str):
                return content
    except (LookupError, ValueError, KeyError, AssertionError):
        pass  # an unknown charset or a broken transfer encoding: decode the bytes ourselves
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return decode_bytes(payload, complete=True)[0]
    return str(payload or "")


class _MailText:
    def __init__(self, out: _Collector, limits: Limits) -> None:
        self.out = out
        self.limits = limits

    def message(self, message: Message, depth: int = 0) -> None:
        self.limits.check("the e-mail reader")
        for name in _HEADERS:
            value = _header(message, name)
            if value:
                self.out.add(f"{name}: {value}\n")
        self.out.add("\n")
        attachments: list[str] = []
        self.body(message, attachments, depth)
        if attachments:
            self.out.newline()
            self.out.add("Attachments: " + ", ".join(attachments) + "\n")

    def body(self, part: Message, attachments: list[str], depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition == "attachment" or (filename and not ctype.startswith("text/")):
            attachments.append(filename or ctype)
            return
        if ctype == "message/rfc822":
            inner = part.get_payload()
            for message in inner if isinstance(inner, list) else [inner]:
                if isinstance(message, Message):
                    self.out.newline()
                    self.message(message, depth + 1)
            return
        if part.is_multipart():
            subparts = [p for p in part.get_payload() if isinstance(p, Message)]
            if ctype == "multipart/alternative":
                plain = [p for p in subparts if p.get_content_type() == "text/plain"]
                subparts = plain[:1] or subparts[-1:]  # the plain text version, else the richest
            for sub in subparts:
                self.body(sub, attachments, depth + 1)
            return
        if ctype == "text/html":
            self.out.add(html_to_text(_part_text(part), self.limits))
            self.out.newline()
        elif ctype.startswith("text/"):
            self.out.add(_part_text(part))
            self.out.newline()
        elif filename:
            attachments.append(filename)


def email_text(path: Path, limits: Limits) -> RawText:
    """One message (.eml) or every message of an mbox (it begins with a "From " line)."""
    with path.open("rb") as source:
        head = source.read(5)
    out = _Collector(limits, "email")
    reader = _MailText(out, limits)
    notes: list[str] = []
    try:
        if head == b"From ":
            count = 0
            box = mailbox.mbox(str(path), create=False)
            try:
                for key in box.iterkeys():
                    with box.get_file(key) as source:
                        raw, cut = _message_bytes(source.read, limits)
                    notes += [f"message {count + 1}: {cut}"] if cut else []
                    message = email.message_from_bytes(raw, policy=email.policy.default)
                    if count:
                        out.add("\n\n")
                    reader.message(message)
                    count += 1
            finally:
                box.close()
            notes.insert(0, f"mbox of {count} message(s)")
        else:
            with path.open("rb") as source:
                raw, cut = _message_bytes(source.read, limits)
            notes += [cut] if cut else []
            reader.message(email.message_from_bytes(raw, policy=email.policy.default))
    except _Full:
        return RawText(out.text(), tuple(notes), True)
    except (mailbox.Error, email.errors.MessageError) as exc:
        raise ExtractionFailed(f"not a readable e-mail message or mailbox: {exc}") from None
    return RawText(out.text(), tuple(notes))
