"""A fast identification engine that gives exactly FIDO's answers.

FIDO walks all of its ~2,250 PRONOM formats in Python for every file. This
engine loads the very same signature files through FIDO itself (so overrides
and priorities are resolved identically), then indexes them:

1. every pattern gets a necessary condition (prefilter.py): a literal at a
   fixed offset from the start, or a literal that must occur somewhere;
2. fixed-offset literals are looked up by (offset, first byte) in a dict;
   "somewhere" literals are found in one pass over each buffer by a
   Hyperscan literal database (one callback per distinct literal at most);
3. only signatures whose every pattern passes are candidates, and FIDO's own
   loop — same order, same priorities, same regexes — runs over those alone.

Containers (zip, OLE2) and extension matching follow FIDO's code path step by
step, with the container signatures parsed once instead of once per file.
Per-file limits on the bytes read from a container and on the time spent
keep one pathological file from stalling a run; hitting one is recorded.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from re import Pattern
from re import compile as re_compile
from typing import Any

from fido import __version__ as fido_version
from fido.fido import Fido

from strongroom import __version__ as strongroom_version
from strongroom.errors import ConfigError
from strongroom.formats.base import TimeLimitExceeded, per_file_deadline
from strongroom.formats.fido_identifier import SignatureFiles, _extension_mismatch
from strongroom.formats.prefilter import FixedLiteral, Literal, analyse, tail_window
from strongroom.model import Basis, FormatMatch, Identification

BUFSIZE = 128 * 1024  # FIDO's default head and tail buffer
_COST_ORDER = {"BOF": 0, "VAR": 1, "IFB": 1, "EOF": 2}
DEFAULT_CONTAINER_LIMIT = 64 * 1024 * 1024
DEFAULT_TIME_LIMIT = 30.0


@dataclass(frozen=True)
class Limits:
    """Per-file limits. A limit reached is a warning on the file's identification."""

    container_bytes: int = DEFAULT_CONTAINER_LIMIT  # bytes read from one container entry or stream
    seconds: float = DEFAULT_TIME_LIMIT  # wall time for one file (enforced in a process's main thread)


@dataclass(frozen=True)
class Buffers:
    """The first and last BUFSIZE bytes of a file (the same bytes when it is smaller)."""

    size: int
    head: bytes
    tail: bytes


def read_buffers(path: Path) -> Buffers:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(min(size, BUFSIZE))
        if size <= BUFSIZE:
            return Buffers(size, head, head)
        handle.seek(size - BUFSIZE)
        return Buffers(size, head, handle.read(BUFSIZE))


class TailKeeper:
    """Keeps the head and tail of a stream as it is copied, so identification needs no second read."""

    def __init__(self) -> None:
        self.size = 0
        self.head = b""
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < BUFSIZE:
            self.head += chunk[: BUFSIZE - len(self.head)]
        self._tail = (self._tail + chunk)[-BUFSIZE:] if len(chunk) < BUFSIZE else chunk[-BUFSIZE:]
        self.size += len(chunk)

    def buffers(self) -> Buffers:
        return Buffers(self.size, self.head, self._tail)


@dataclass
class _Pattern:
    position: str  # BOF, EOF, VAR, IFB
    regex: Pattern[bytes] | None  # None: FIDO would fail to compile it and give up on the format
    tail: int | None = None  # EOF patterns: only the last `tail` bytes can hold a match


@dataclass
class _Signature:
    index: int
    name: str
    patterns: list[_Pattern]


@dataclass
class _Format:
    index: int
    element: ET.Element
    puid: str
    signatures: list[_Signature]
    beats: frozenset[str]  # PUIDs this format has priority over
    match: FormatMatch


@dataclass
class _Scanner:
    """Finds which of many literals occur in a buffer."""

    literals: list[bytes]
    database: Any = None

    def build(self) -> None:
        try:
            import hyperscan
        except ImportError:  # pragma: no cover - the package ships hyperscan; this keeps a port working
            return
        if not self.literals:
            return
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        expressions = [b"".join(b"\\x%02x" % b for b in lit) for lit in self.literals]
        db.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(expressions),
        )
        self.database = db

    def present(self, buffer: bytes) -> set[int]:
        if not self.literals or not buffer:
            return set()
        if self.database is None:
            return {i for i, lit in enumerate(self.literals) if lit in buffer}
        found: set[int] = set()

        def on_match(literal_id: int, start: int, end: int, flags: int, context: object) -> None:
            found.add(literal_id)

        self.database.scan(buffer, match_event_handler=on_match)
        return found


@dataclass
class _Outcome:
    matches: list[tuple[_Format, str]]
    matchtype: str
    warnings: list[str] = field(default_factory=list)


class FastIdentifier:
    """FIDO's answers at a fraction of its cost. One instance per process; not thread-safe."""

    tool = "Strongroom fast FIDO engine"
    tool_version = f"{strongroom_version} (FIDO {fido_version} rules)"

    def __init__(self, signatures: SignatureFiles | None = None, limits: Limits | None = None) -> None:
        self.signatures = signatures or SignatureFiles.bundled()
        self.signature_version = self.signatures.version
        self.limits = limits or Limits()
        format_files = [str(self.signatures.pronom)]
        if self.signatures.extensions is not None:
            format_files.append(str(self.signatures.extensions))
        try:
            reference = Fido(quiet=True, conf_dir=str(self.signatures.container.parent), format_files=format_files)
        except SystemExit as exc:  # FIDO's loader exits the process on a signature file it cannot parse
            raise ConfigError(
                f"The signature file {self.signatures.pronom} cannot be used by the fido-fast engine: FIDO could "
                "not load it.",
                details=[
                    "Check that the signature file is a FIDO formats XML file (formats-vNNN.xml), or leave it out "
                    "to use the bundled one.",
                    "For DROID signature files (DROID_SignatureFile_VNNN.xml) use the default engine, 'droid'.",
                ],
            ) from exc
        self._formats = self._compile_formats(reference)
        self._by_puid = {f.puid: f for f in self._formats}
        self._container_puids = {f.index: (f.element.findtext("container") or None) for f in self._formats}
        container_doc = ET.parse(self.signatures.container)
        self._zip_signatures = reference.extract_signatures(container_doc, signature_type="ZIP")
        self._ole_signatures = reference.extract_signatures(container_doc, signature_type="OLE2")
        self._extensions: dict[str, list[_Format]] = {}
        for fmt in self._formats:
            for ext in fmt.element.findall("extension"):
                if ext.text is not None:
                    bucket = self._extensions.setdefault(ext.text, [])
                    if not bucket or bucket[-1] is not fmt:
                        bucket.append(fmt)
        self._build_index()

    # --- building ------------------------------------------------------------------------

    def _compile_formats(self, reference: Fido) -> list[_Format]:
        formats: list[_Format] = []
        sig_index = 0
        for index, element in enumerate(reference.formats):
            puid = element.findtext("puid") or ""
            sigs: list[_Signature] = []
            for sig in element.findall("signature"):
                patterns: list[_Pattern] = []
                for pat in sig.findall("pattern"):
                    regex_text = (pat.findtext("regex") or "").encode("utf8")
                    try:
                        compiled: Pattern[bytes] | None = re_compile(regex_text)
                    except Exception:
                        compiled = None
                    position = pat.findtext("position") or ""
                    tail = tail_window(regex_text) if compiled is not None and position == "EOF" else None
                    patterns.append(_Pattern(position, compiled, tail))
                if all(p.regex is not None for p in patterns):
                    # A signature matches when all its patterns do; pure regexes, so the cheap
                    # anchored ones can go first without changing the answer.
                    patterns.sort(key=lambda p: _COST_ORDER.get(p.position, 3))
                sigs.append(_Signature(sig_index, sig.findtext("name") or "", patterns))
                sig_index += 1
            beats = reference.puid_has_priority_over_map.get(puid, frozenset())
            formats.append(_Format(index, element, puid, sigs, frozenset(beats), _to_match(element)))
        self._signature_count = sig_index
        return formats

    def _build_index(self) -> None:
        # For each signature: the checks all of its patterns need, and how many there are.
        self._always: list[_Format] = []  # formats with a signature that has no usable check
        self._fixed: dict[int, dict[int, list[tuple[bytes, int, int]]]] = {}  # offset -> byte -> (lit, sig, check)
        bof_literals: dict[bytes, int] = {}
        eof_literals: dict[bytes, int] = {}
        self._bof_checks: dict[int, list[tuple[int, int]]] = {}  # literal id -> (sig, check)
        self._eof_checks: dict[int, list[tuple[int, int]]] = {}
        self._needed: list[int] = [0] * self._signature_count
        self._format_of_sig: list[_Format] = [None] * self._signature_count  # type: ignore[list-item]
        always: set[int] = set()
        for fmt in self._formats:
            for sig in fmt.signatures:
                self._format_of_sig[sig.index] = fmt
                usable = bool(sig.patterns) and all(p.regex is not None for p in sig.patterns)
                checks: list[tuple[str, FixedLiteral | Literal]] = []
                for pat in sig.patterns:
                    if pat.regex is None or pat.position not in ("BOF", "EOF", "VAR", "IFB"):
                        continue  # FIDO never runs a pattern of unknown position: it requires nothing
                    check = analyse(pat.regex.pattern, anchored_match=pat.position == "BOF")
                    if isinstance(check, FixedLiteral) and pat.position == "EOF":
                        check = Literal(check.literal)  # offsets are counted from the head buffer only
                    if check is None:
                        continue
                    checks.append((pat.position, check))
                if not usable or not checks:
                    always.add(sig.index)
                    continue
                self._needed[sig.index] = len(checks)
                for number, (position, needed) in enumerate(checks):
                    if isinstance(needed, FixedLiteral):
                        by_byte = self._fixed.setdefault(needed.offset, {})
                        by_byte.setdefault(needed.literal[0], []).append((needed.literal, sig.index, number))
                    else:
                        # BOF and VAR/IFB patterns look at the head buffer, EOF at the tail.
                        table, checks_by_id = (
                            (eof_literals, self._eof_checks) if position == "EOF" else (bof_literals, self._bof_checks)
                        )
                        literal_id = table.setdefault(needed.literal, len(table))
                        checks_by_id.setdefault(literal_id, []).append((sig.index, number))
        self._always_sigs = always
        self._fixed_offsets = sorted(self._fixed)
        self._bof_scanner = _Scanner(list(bof_literals))
        self._eof_scanner = _Scanner(list(eof_literals))
        self._bof_scanner.build()
        self._eof_scanner.build()

    # --- matching ------------------------------------------------------------------------

    def _candidates(self, bof: bytes, eof: bytes) -> list[_Format]:
        passed: dict[int, int] = {}

        def tick(sig: int) -> None:
            passed[sig] = passed.get(sig, 0) + 1

        length = len(bof)
        for offset in self._fixed_offsets:
            if offset >= length:
                break
            for literal, sig, _check in self._fixed[offset].get(bof[offset], ()):
                if bof.startswith(literal, offset):
                    tick(sig)
        for literal_id in self._bof_scanner.present(bof):
            for sig, _check in self._bof_checks[literal_id]:
                tick(sig)
        for literal_id in self._eof_scanner.present(eof):
            for sig, _check in self._eof_checks[literal_id]:
                tick(sig)
        sigs = {s for s, count in passed.items() if count >= self._needed[s]} | self._always_sigs
        formats = {self._format_of_sig[s].index: self._format_of_sig[s] for s in sigs}
        self._candidate_sigs = sigs
        return [formats[i] for i in sorted(formats)]

    def match_formats(self, bof: bytes, eof: bytes) -> list[tuple[_Format, str]]:
        """FIDO's match_formats, run over the candidate formats only."""
        result: list[tuple[_Format, str]] = []
        for fmt in self._candidates(bof, eof):
            if not _as_good_as_any(fmt, result):
                continue
            try:
                for sig in fmt.signatures:
                    if sig.index not in self._candidate_sigs:
                        continue
                    if all(_pattern_matches(p, bof, eof) for p in sig.patterns):
                        result.append((fmt, sig.name))
            except _RegexUnavailable:
                continue
        return [m for m in result if _as_good_as_any(m[0], result)]

    def match_extensions(self, name: str) -> list[tuple[_Format, str]]:
        ext = os.path.splitext(name)[1].lower().lstrip(".")
        if not ext:
            return []
        result = [(fmt, "External") for fmt in self._extensions.get(ext, ())]
        return [m for m in result if _as_good_as_any(m[0], result)]

    def _container_type(self, matches: list[tuple[_Format, str]]) -> str | None:
        for fmt, _ in matches:
            container = self._container_puids.get(fmt.index)
            if container is not None:
                return container
            if fmt.puid == "fmt/111":
                return "ole"
        return None

    def _container_matches(self, path: Path, kind: str, warnings: list[str]) -> list[tuple[_Format, str]]:
        puids = (
            _zip_puids(path, self._zip_signatures, self.limits.container_bytes, warnings)
            if kind == "zip"
            else _ole_puids(path, self._ole_signatures, self.limits.container_bytes, warnings)
        )
        out: list[tuple[_Format, str]] = []
        for puid in puids:
            fmt = self._by_puid.get(puid)
            if fmt is None:
                warnings.append(f"container signature names {puid}, which the signature file lacks")
                continue
            out.append((fmt, fmt.element.findtext("name") or ""))
        return out

    def _identify(self, path: Path, buffers: Buffers | None) -> _Outcome:
        warnings: list[str] = []
        if buffers is None:
            buffers = read_buffers(path)
        size, bof, eof = buffers.size, buffers.head, buffers.tail
        if size == 0:
            warnings.append("zero-byte file")
        matches = self.match_formats(bof, eof)
        kind = self._container_type(matches)
        if kind in ("zip", "ole"):
            container = self._container_matches(path, kind, warnings)
            if container:
                return _Outcome(container, "container", warnings)
        if matches and size > 0:
            return _Outcome(matches, "signature", warnings)
        return _Outcome(self.match_extensions(path.name), "extension", warnings)

    def identify(self, path: Path, name: str | None = None, buffers: Buffers | None = None) -> Identification:
        """Identify `path`; `buffers` are its head and tail when the caller has just read them."""
        deposited = name or path.name
        try:
            with per_file_deadline(self.limits.seconds):
                outcome = self._identify(path, buffers)
        except TimeLimitExceeded:
            outcome = _Outcome(
                [], "none", [f"time limit reached: identification stopped after {self.limits.seconds:g} s"]
            )
        except OSError as exc:
            outcome = _Outcome([], "none", [f"Error in identify_file: {path}, exception: {exc}"])
        warnings = list(outcome.warnings)
        matches = tuple(
            FormatMatch(fmt.match.puid, fmt.match.name, fmt.match.version, fmt.match.mime, sig)
            for fmt, sig in outcome.matches
        )
        basis = {"signature": Basis.SIGNATURE, "container": Basis.CONTAINER, "extension": Basis.EXTENSION}.get(
            outcome.matchtype, Basis.NONE
        )
        if not matches:
            basis = Basis.NONE
            warnings.append("format not identified")
        elif basis in (Basis.SIGNATURE, Basis.CONTAINER):
            mismatch = _extension_mismatch(deposited, outcome.matches[0][0].element)
            if mismatch:
                warnings.append(mismatch)
        return Identification(
            basis=basis,
            matches=matches,
            tool=self.tool,
            tool_version=self.tool_version,
            signature_version=self.signature_version,
            warnings=tuple(warnings),
        )


class _RegexUnavailable(Exception):
    pass


def _pattern_matches(pattern: _Pattern, bof: bytes, eof: bytes) -> bool:
    regex = pattern.regex
    if regex is None:
        raise _RegexUnavailable()
    if pattern.position == "BOF":
        return regex.match(bof) is not None
    if pattern.position == "EOF":
        if pattern.tail is not None and len(eof) > pattern.tail:
            return regex.search(eof, len(eof) - pattern.tail) is not None
        return regex.search(eof) is not None
    if pattern.position in ("VAR", "IFB"):
        return regex.search(bof) is not None
    return True  # FIDO ignores positions it does not know


def _as_good_as_any(fmt: _Format, result: list[tuple[_Format, str]]) -> bool:
    puid = fmt.puid
    return not any(other is not fmt and puid in other.beats for other, _ in result)


def _to_match(element: ET.Element) -> FormatMatch:
    def text(tag: str) -> str | None:
        found = element.find(tag)
        if found is None or found.text is None or not found.text.strip():
            return None
        return found.text.strip()

    return FormatMatch(text("puid") or "", text("name") or "", text("version"), text("mime"), "")


def _search_all(data: bytes, puid_map: dict[str, list[dict[str, Any]]]) -> list[str]:
    found: list[str] = []
    for puid, signatures in puid_map.items():
        for signature in signatures:
            if _compiled(signature).search(data):
                found.append(puid)
    return found


def _compiled(signature: dict[str, Any]) -> Pattern[bytes]:
    compiled: Pattern[bytes] | None = signature.get("_compiled")
    if compiled is None:
        compiled = re_compile(signature["signature"])
        signature["_compiled"] = compiled
    return compiled


def _zip_puids(path: Path, signatures: dict[str, Any], limit: int, warnings: list[str]) -> list[str]:
    """FIDO's ZipPackage.detect_formats, with a cap on the bytes read from one entry."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            results: list[str] = []
            for inner, puid_map in signatures.items():
                if inner not in names:
                    continue
                info = archive.getinfo(inner)
                if info.file_size > limit:
                    warnings.append(
                        f"container entry {inner} ({info.file_size:,} bytes) over the {limit:,}-byte limit; not read"
                    )
                    continue
                with archive.open(inner) as entry:
                    results.extend(_search_all(entry.read(limit + 1)[:limit], puid_map))
            return results
    except (zipfile.BadZipFile, RuntimeError, UnicodeDecodeError):
        return []
    except (zlib.error, NotImplementedError, EOFError, ValueError) as exc:
        warnings.append(f"container could not be read: {type(exc).__name__}: {exc}")
        return []


def _ole_puids(path: Path, signatures: dict[str, Any], limit: int, warnings: list[str]) -> list[str]:
    """FIDO's OlePackage.detect_formats, with the same cap on stream size."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            results: list[str] = []
            listing = ["/".join(parts) for parts in ole.listdir()]
            for inner, puid_map in signatures.items():
                stream = next((p for p in listing if p == inner or p[1:] == inner), None)
                if stream is None:
                    continue
                if ole.get_size(stream) > limit:
                    warnings.append(f"container stream {stream} over the {limit:,}-byte limit; not read")
                    continue
                with ole.openstream(stream) as handle:
                    results.extend(_search_all(handle.read(), puid_map))
            return results
    except OSError:
        return []
