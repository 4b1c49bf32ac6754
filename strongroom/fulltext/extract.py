"""Full text of the records: which extractor reads which format, and running them under per-file limits.

The policy (strongroom/data/fulltext.toml) names an extractor per PUID, then per file extension and
MIME type. PDF goes to PDFium, in helper processes that stay up between files (or, where a site's
policy says so, to poppler's pdftotext); office documents to the Apache Tika server, started
once per run on first need; plain text, HTML, XML and e-mail are read in Python. A tool that is not
installed makes its files "not extracted" with the reason, never a failed ingest; a tool that fails
or runs past the time limit makes that file's extraction a failure; text longer than the size limit
is cut, and the cut said. Every text is NFC-normalised, as the search backends store text.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from strongroom.config import read_policy
from strongroom.errors import ConfigError
from strongroom.fulltext import plain
from strongroom.fulltext.limits import ExtractionFailed, Limits, RawText, ToolMissing
from strongroom.fulltext.pdf import pdftotext
from strongroom.fulltext.pdfium import PdfiumHelpers
from strongroom.fulltext.tika import TikaServer
from strongroom.search.query import normalise
from strongroom.workers import bounded_map

T = TypeVar("T")
INSTALL_HINT = "install it with: bash scripts/tools.sh"


class Extractor(StrEnum):
    PDFIUM = "pdfium"
    PDFTOTEXT = "pdftotext"
    TIKA = "tika"
    TEXT = "text"
    HTML = "html"
    XML = "xml"
    EMAIL = "email"


class TextStatus(StrEnum):
    EXTRACTED = "extracted"
    CUT = "cut"  # longer than the size limit: the first text_size_limit characters are kept
    EMPTY = "empty"  # the tool ran and found no text (a scan without a text layer, an empty sheet)
    FAILED = "failed"  # the tool failed on the file or ran out of time: nothing kept
    NOT_EXTRACTED = "not extracted"  # the tool is not installed or would not start: nothing kept


@dataclass(frozen=True)
class TextSettings:
    """[ingest] extract_text, text_time_limit and text_size_limit, and where to look for the tools."""

    enabled: bool = False
    time_limit: float = 60.0  # seconds per file
    size_limit: int = 10_000_000  # characters kept per file
    tools_environ: Mapping[str, str] | None = None  # PATH, JAVA_HOME, STRONGROOM_TOOLS_DIR (default: os.environ)


@dataclass(frozen=True)
class TextResult:
    """What extracting one file's text gave."""

    status: TextStatus
    tool: str  # as PREMIS eventDetail names it: "pdftotext", "Apache Tika", "python html.parser"
    version: str  # "" when the tool could not be asked
    text: str = ""  # NFC, at most the size limit; "" unless kept
    found: int | None = None  # characters the tool gave before a cut (None: more than was read)
    reason: str = ""  # why it failed or was not extracted
    notes: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def kept(self) -> bool:
        return self.status in (TextStatus.EXTRACTED, TextStatus.CUT)


# --- policy -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPolicy:
    version: str
    by_puid: Mapping[str, Extractor]
    by_extension: Mapping[str, Extractor]
    by_mime: Mapping[str, Extractor]

    def choose(self, puid: str | None, mime: str | None, name: str) -> Extractor | None:
        """The extractor for a file: by PUID, else by extension, else by MIME type; None if its format has no text."""
        if puid and puid in self.by_puid:
            return self.by_puid[puid]
        suffix = name.rpartition(".")[2].lower() if "." in name else ""
        if suffix in self.by_extension:
            return self.by_extension[suffix]
        if mime:
            return self.by_mime.get(mime.split(";")[0].strip().lower())
        return None


def load_text_policy(path: Path | None = None) -> TextPolicy:
    """The packaged policy, or the one at `path` (same layout)."""
    policy = read_policy("fulltext.toml", path, "full-text policy")
    data, where = policy.data, policy.where
    tables: dict[str, dict[str, Extractor]] = {"puids": {}, "extensions": {}, "mimes": {}}
    for name, group in data.get("extractors", {}).items():
        try:
            extractor = Extractor(name)
        except ValueError:
            raise ConfigError(f"{where}: there is no extractor {name!r}; use one of "
                              + ", ".join(e.value for e in Extractor) + ".") from None  # fmt: skip
        unknown = set(group) - {"description", *tables}
        if unknown:
            raise ConfigError(f"{where}: extractor {name!r} has unknown keys {sorted(unknown)}.")
        for key, table in tables.items():
            for value in group.get(key, []):
                value = value if key == "puids" else value.lower()
                if value in table:
                    raise ConfigError(f"{where}: {value} is listed for {table[value].value!r} and {name!r}; keep one.")
                table[value] = extractor
    return TextPolicy(str(data.get("policy", {}).get("version", "")), tables["puids"], tables["extensions"],
                      tables["mimes"])  # fmt: skip


# --- running ----------------------------------------------------------------------------------

_PYTHON = f"{platform.python_version()}"
_PYTHON_READERS: dict[Extractor, tuple[str, Callable[[Path, Limits], RawText]]] = {
    Extractor.TEXT: ("python codecs", plain.plain_text),
    Extractor.HTML: ("python html.parser", plain.html_text),
    Extractor.XML: ("python defusedxml", plain.xml_text),
    Extractor.EMAIL: ("python email", plain.email_text),
}


def finish(raw: RawText, size_limit: int) -> tuple[str, TextStatus, int | None]:
    """NFC text cut to the size limit: (text, status, characters found before the cut)."""
    text = normalise(raw.text)
    if len(text) > size_limit:
        return text[:size_limit], TextStatus.CUT, None if raw.more else len(text)
    if raw.more:
        return text, TextStatus.CUT, None
    if not text.strip():
        return "", TextStatus.EMPTY, 0
    return text, TextStatus.EXTRACTED, len(text)


@dataclass
class _Tool:
    name: str
    version: str = ""
    problem: str | None = None  # why it cannot run, once known


@dataclass
class _Tools:
    pdftotext: _Tool | None = None
    tika: _Tool | None = None
    used: dict[str, str] = field(default_factory=dict)  # tool -> version, of those that ran


class TextExtractor:
    """Extracts the text of files, starting the Tika server on first need; `close()` (or `with`) stops it."""

    def __init__(self, settings: TextSettings, policy: TextPolicy | None = None) -> None:
        self.settings = settings
        self.policy = policy or load_text_policy()
        self._environ = dict(os.environ if settings.tools_environ is None else settings.tools_environ)
        # One lock per tool: finding pdftotext must not wait for the Tika server's start.
        self._pdf_lock = threading.Lock()
        self._tika_lock = threading.Lock()
        self._tools = _Tools()
        self._pdftotext_command: tuple[str, ...] | None = None
        self._tika: TikaServer | None = None
        self._pdfium = PdfiumHelpers()

    def __enter__(self) -> TextExtractor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pdfium.close()
        with self._tika_lock:
            if self._tika is not None:
                self._tika.stop()
                self._tika = None

    @property
    def tools_used(self) -> dict[str, str]:
        """Every tool that extracted text so far, with its version (for PREMIS agents)."""
        return dict(self._tools.used)

    def choose(self, puid: str | None, mime: str | None, name: str) -> Extractor | None:
        return self.policy.choose(puid, mime, name)

    def extract(self, path: Path, extractor: Extractor, *, time_limit: float | None = None) -> TextResult:
        """One file's text under the limits; never raises for the file's sake (the result says what happened).

        `time_limit` overrides the settings' for this file (the Tika server keeps its own, set at start).
        """
        started = time.monotonic()
        seconds = self.settings.time_limit if time_limit is None else time_limit
        limits = Limits.starting_now(self.settings.size_limit, seconds)
        try:
            raw, tool, version = self._run(path, extractor, limits)
        except ToolMissing as missing:
            return TextResult(TextStatus.NOT_EXTRACTED, *self._describe(extractor), reason=missing.reason,
                              seconds=time.monotonic() - started)  # fmt: skip
        except ExtractionFailed as failed:
            return TextResult(TextStatus.FAILED, *self._describe(extractor), reason=failed.reason,
                              seconds=time.monotonic() - started)  # fmt: skip
        except OSError as exc:
            return TextResult(TextStatus.FAILED, *self._describe(extractor), reason="the file could not be read: "
                              f"{exc.strerror or exc}", seconds=time.monotonic() - started)  # fmt: skip
        text, status, found = finish(raw, self.settings.size_limit)
        self._tools.used[tool] = version
        return TextResult(status, tool, version, text, found, "", raw.notes, time.monotonic() - started)

    def extract_many(
        self, items: Iterable[T], which: Callable[[T], tuple[Path, Extractor]], workers: int,
    ) -> Iterator[tuple[T, TextResult]]:  # fmt: skip
        """Each item's text, in order, `workers` files at a time (subprocesses and Tika requests run side by side)."""

        def one(item: T) -> tuple[T, TextResult]:
            path, extractor = which(item)
            return item, self.extract(path, extractor)

        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="text") as pool:
            yield from bounded_map(pool, one, items, max(2, workers * 2))

    # --- the tools ----------------------------------------------------------------------------

    def _describe(self, extractor: Extractor) -> tuple[str, str]:
        if extractor is Extractor.PDFIUM:
            return "PDFium", self._pdfium.version
        if extractor is Extractor.PDFTOTEXT:
            return "pdftotext", self._tools.pdftotext.version if self._tools.pdftotext else ""
        if extractor is Extractor.TIKA:
            return "Apache Tika", self._tools.tika.version if self._tools.tika else ""
        return _PYTHON_READERS[extractor][0], _PYTHON

    def _run(self, path: Path, extractor: Extractor, limits: Limits) -> tuple[RawText, str, str]:
        if extractor is Extractor.PDFIUM:
            raw = self._pdfium.extract(path, limits)
            return raw, "PDFium", self._pdfium.version
        if extractor is Extractor.PDFTOTEXT:
            command, version = self._pdftotext()
            return pdftotext(command, path, limits), "pdftotext", version
        if extractor is Extractor.TIKA:
            server = self._tika_server()
            return server.extract(path, limits), "Apache Tika", server.version
        tool, reader = _PYTHON_READERS[extractor]
        return reader(path, limits), tool, _PYTHON

    def _pdftotext(self) -> tuple[tuple[str, ...], str]:
        with self._pdf_lock:
            if self._tools.pdftotext is None:
                self._tools.pdftotext = self._find_pdftotext()
            tool = self._tools.pdftotext
        if tool.problem is not None or self._pdftotext_command is None:
            raise ToolMissing(tool.problem or "pdftotext is not installed")
        return self._pdftotext_command, tool.version

    def _find_pdftotext(self) -> _Tool:
        from strongroom.tools import probe_pdftotext

        status = probe_pdftotext(self._environ)
        if not status.found or not status.command:
            return _Tool("pdftotext", problem=f"pdftotext is not installed ({status.note}); {INSTALL_HINT}")
        self._pdftotext_command = status.command
        return _Tool("pdftotext", status.version or "")

    def _tika_server(self) -> TikaServer:
        # Started once, by whichever worker needs it first; the others wait for it here.
        with self._tika_lock:
            if self._tools.tika is None:
                self._tools.tika = self._start_tika()
            tool = self._tools.tika
            server = self._tika
        if tool.problem is not None or server is None:
            raise ToolMissing(tool.problem or "the Tika server is not running")
        return server

    def _start_tika(self) -> _Tool:
        from strongroom.tools import find_java, tika_jar, tools_dir

        jar = tika_jar(self._environ)
        if jar is None:
            where = tools_dir(self._environ) / "tika"
            return _Tool("Apache Tika", problem=f"the Apache Tika server is not installed in {where}; {INSTALL_HINT}")
        java = find_java(self._environ)
        if java is None:
            return _Tool("Apache Tika", problem="the Apache Tika server needs java, which is not on PATH")
        server = TikaServer(java, jar, self.settings.time_limit)
        try:
            server.start()
        except ToolMissing as missing:
            return _Tool("Apache Tika", problem=missing.reason)
        self._tika = server
        return _Tool("Apache Tika", server.version)
