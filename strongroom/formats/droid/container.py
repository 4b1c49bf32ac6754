"""DROID's container identification: ZIP entries and OLE2 streams matched against a container file.

What DROID 6.5.2's command line (`-Nr`, ResultPrinter.getContainerResults) does,
step for step:

1. The binary hits are walked in order; every hit whose PUID is a TriggerPuid
   (fmt/111 → OLE2; fmt/189 and x-fmt/263 → ZIP in the 2026 file) runs the
   container check of that type once more, and the results of all runs are
   appended together (PUIDs are de-duplicated within one run only).
2. A ContainerSignature matches when every File it lists is present, found by
   exact, case-sensitive path (ZIP: the central directory name; OLE2: names
   trimmed like Java's String.trim(), so "\\x05SummaryInformation" is
   "SummaryInformation", nested storages joined with "/"; storages count as
   present too). A File with BinarySignatures also needs one of its
   InternalSignatures to match the entry's whole content; one whose
   signatures DROID cannot compile is checked by name alone, as in DROID.
3. Each matched signature gives the PUIDs its FileFormatMapping names, in file
   order. If the runs give any PUID, they replace the binary answer (the
   caller then removes lower-priority hits with the DROID signature file's
   priorities); if none, the binary answer stands.

A container that cannot be read (truncated zip, malformed OLE2 header, an entry
inflating past its declared size, a limit reached) gives no container match and
a warning, as DROID reports an I/O problem and keeps the binary answer. One
difference by design: an OLE2 stream that fails mid-walk keeps the matches made
before it, as DROID's Ole2IdentifierEngine does, but a ZIP entry failing drops
the whole container, as an exception out of DROID's ZipIdentifierEngine does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from strongroom.errors import StrongroomError
from strongroom.formats.droid.container_ole2 import Ole2File, Ole2FormatError
from strongroom.formats.droid.container_zip import ZipDirectory, ZipFormatError
from strongroom.formats.droid.sequence import (
    ByteSequenceSpec,
    FragmentSpec,
    InternalSignature,
    SequenceSyntaxError,
    SubSequenceSpec,
    build_internal_signature,
    match_internal_signature,
)

if TYPE_CHECKING:  # the XML is parsed only when the compiled form is not in the cache
    from xml.etree.ElementTree import Element

ZIP, OLE2 = "ZIP", "OLE2"
CONTAINER_TYPES = (ZIP, OLE2)
_BOUND_SLACK = 16


class ContainerSignatureError(StrongroomError):
    """The container signature file cannot be read."""


@dataclass(frozen=True)
class ContainerLimits:
    """Per-file limits; reaching one is a warning and no container match, never an exception."""

    max_entries: int = 100_000  # central directory records / OLE2 directory entries
    max_stream_bytes: int = 64 * 1024 * 1024  # decompressed bytes read from one entry or stream
    max_total_bytes: int = 256 * 1024 * 1024  # decompressed bytes read from one container
    seconds: float = 30.0  # wall time for one container check


@dataclass(frozen=True)
class ContainerFile:
    """One File of a ContainerSignature: a path and the InternalSignatures its content must match."""

    path: str
    signatures: tuple[InternalSignature, ...] = ()  # empty: presence alone is enough
    # Head bytes that decide every signature (single-subsequence BOF ones); None: needs all the content.
    window: int | None = 0
    compile_error: str | None = None

    @property
    def needs_content(self) -> bool:
        return bool(self.signatures)


@dataclass(frozen=True)
class ContainerSignature:
    id: int
    container_type: str
    description: str
    files: Mapping[str, ContainerFile]  # by path; a repeated path keeps the last, as DROID's HashMap does


@dataclass(frozen=True)
class ContainerMatch:
    """The outcome of one container check."""

    container_type: str
    puids: tuple[str, ...]  # DROID's order: signature order, then mapping order; no repeats
    signature_ids: tuple[int, ...]
    warnings: tuple[str, ...] = ()


@dataclass
class _Run:
    """Mutable state of one check: which files of which signature are still unmatched."""

    signatures: Sequence[ContainerSignature]
    unmatched: list[set[str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_total: int = 0

    def __post_init__(self) -> None:
        self.unmatched = [set(sig.files) for sig in self.signatures]

    def present(self, path: str) -> None:
        """An entry exists: files without content signatures are matched by the name alone."""
        for sig, left in zip(self.signatures, self.unmatched, strict=True):
            if path in left and not sig.files[path].needs_content:
                left.discard(path)

    def wants_content(self, path: str) -> bool:
        return any(
            path in left and sig.files[path].needs_content
            for sig, left in zip(self.signatures, self.unmatched, strict=True)
        )

    def content(self, path: str, data: bytes, complete: bool) -> None:
        for sig, left in zip(self.signatures, self.unmatched, strict=True):
            if path not in left:
                continue
            cfile = sig.files[path]
            if not cfile.needs_content or _any_signature_matches(cfile, data, complete):
                left.discard(path)

    def matched(self) -> list[ContainerSignature]:
        return [sig for sig, left in zip(self.signatures, self.unmatched, strict=True) if not left]


def _any_signature_matches(cfile: ContainerFile, data: bytes, complete: bool) -> bool:
    if not data:
        return False  # DROID never matches signatures against empty content
    if not complete and cfile.window is None:
        # Cut short by a limit and the signatures need the whole content: do not guess.
        return False
    return any(match_internal_signature(signature, data) for signature in cfile.signatures)


class ContainerSignatures:
    """A parsed DROID container signature file, ready to match. Safe to share; holds no open files."""

    def __init__(
        self,
        signatures: Sequence[ContainerSignature],
        mappings: Mapping[int, Sequence[str]],
        triggers: Mapping[str, str],
        version: str,
        limits: ContainerLimits | None = None,
    ) -> None:
        self.signatures = tuple(signatures)
        self.mappings = {sid: tuple(puids) for sid, puids in mappings.items()}
        self.trigger_puids = dict(triggers)  # PUID → container type
        self.version = version
        self.limits = limits or ContainerLimits()
        self._by_type = {
            kind: tuple(s for s in self.signatures if s.container_type == kind) for kind in CONTAINER_TYPES
        }
        self._windows = {kind: _path_windows(sigs) for kind, sigs in self._by_type.items()}

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, limits: ContainerLimits | None = None) -> ContainerSignatures:
        """Parse a container-signature-*.xml file; ContainerSignatureError when it is not one."""
        from defusedxml import ElementTree as SafeET

        try:
            root = SafeET.parse(str(path)).getroot()
        except (OSError, SafeET.ParseError) as exc:
            raise ContainerSignatureError(
                f"cannot read container signature file {path}: {exc}",
                details=["give a DROID container signature file (container-signature-YYYYMMDD.xml)"],
            ) from exc
        return cls.from_element(root, str(path), limits)

    @classmethod
    def from_element(cls, root: Element, source: str, limits: ContainerLimits | None = None) -> ContainerSignatures:
        if _local(root.tag) != "ContainerSignatureMapping":
            raise ContainerSignatureError(
                f"{source} is not a DROID container signature file (root element {_local(root.tag)!r})",
                details=["give a DROID container signature file (container-signature-YYYYMMDD.xml)"],
            )
        signatures = [
            _parse_signature(el, source) for el in _children(root, "ContainerSignatures", "ContainerSignature")
        ]
        mappings: dict[int, list[str]] = {}
        for el in _children(root, "FileFormatMappings", "FileFormatMapping"):
            sid, puid = el.get("signatureId"), el.get("Puid")
            if sid is None or puid is None or not sid.strip().lstrip("-").isdigit():
                raise ContainerSignatureError(f"{source}: a FileFormatMapping lacks signatureId or Puid")
            mappings.setdefault(int(sid), []).append(puid.strip())
        triggers: dict[str, str] = {}
        for el in _children(root, "TriggerPuids", "TriggerPuid"):
            kind, puid = el.get("ContainerType"), el.get("Puid")
            if kind is None or puid is None:
                raise ContainerSignatureError(f"{source}: a TriggerPuid lacks ContainerType or Puid")
            # DROID's getTriggerPuidByPuid returns the first declaration of a PUID.
            triggers.setdefault(puid.strip(), kind.strip())
        return cls(signatures, mappings, triggers, root.get("signatureVersion", ""), limits)

    # --- questions ----------------------------------------------------------------------------

    def triggers(self, puid: str) -> str | None:
        """The container type a binary hit of `puid` starts a check of (ZIP, OLE2), or None."""
        kind = self.trigger_puids.get(puid)
        return kind if kind in CONTAINER_TYPES else None

    @property
    def mapped_puids(self) -> frozenset[str]:
        """Every PUID some container signature gives (DROID's profile mode drops their binary signatures)."""
        return frozenset(p for puids in self.mappings.values() for p in puids)

    def identify(self, path: Path, container_type: str, warnings: list[str] | None = None) -> list[str]:
        """PUIDs the `container_type` check gives for `path` (one run); warnings go to `warnings`."""
        result = self.match(path, container_type)
        if warnings is not None:
            warnings.extend(result.warnings)
        return list(result.puids)

    def results_for(self, path: Path, binary_puids: Iterable[str], warnings: list[str] | None = None) -> list[str]:
        """DROID's container results for a file whose binary hits are `binary_puids`, in hit order.

        One run per triggering hit (a hit list of fmt/189 and x-fmt/263 runs the ZIP check
        twice and repeats its PUIDs, as DROID prints them twice). Empty: keep the binary answer.
        """
        runs: dict[str, ContainerMatch] = {}
        out: list[str] = []
        for puid in binary_puids:
            kind = self.triggers(puid)
            if kind is None:
                continue
            if kind not in runs:
                runs[kind] = self.match(path, kind)
                if warnings is not None:
                    warnings.extend(runs[kind].warnings)
            out.extend(runs[kind].puids)
        return out

    def match(self, path: Path, container_type: str) -> ContainerMatch:
        """Run one container check; never raises for a bad container (that is a warning)."""
        if container_type not in CONTAINER_TYPES:
            raise ValueError(f"unknown container type {container_type!r}")
        run = _Run(self._by_type[container_type])
        deadline = time.monotonic() + self.limits.seconds
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if container_type == ZIP:
                    self._zip(handle, size, run, deadline)
                else:
                    self._ole2(handle, size, run, deadline)
        except ZipFormatError as exc:
            return ContainerMatch(container_type, (), (), (*run.warnings, f"zip container not read: {exc}"))
        except OSError as exc:
            return ContainerMatch(container_type, (), (), (*run.warnings, f"container not read: {exc}"))
        matched = run.matched()
        puids: list[str] = []
        for sig in matched:
            for puid in self.mappings.get(sig.id, ()):
                if puid not in puids:
                    puids.append(puid)
        return ContainerMatch(container_type, tuple(puids), tuple(s.id for s in matched), tuple(run.warnings))

    # --- the two container kinds ----------------------------------------------------------------

    def _zip(self, handle: BinaryIO, size: int, run: _Run, deadline: float) -> None:
        directory = ZipDirectory(handle, size, self.limits.max_entries)
        for path, window in self._windows[ZIP].items():  # DROID: each unique path, looked up by name
            entry = directory.entries.get(path)
            if entry is None:
                continue
            run.present(path)
            if not run.wants_content(path):
                continue
            _check_time(deadline, self.limits)
            data, complete = self._collect(run, path, window, partial(directory.iter_data, entry))
            run.content(path, data, complete)

    def _ole2(self, handle: BinaryIO, size: int, run: _Run, deadline: float) -> None:
        try:
            ole = Ole2File(handle, size, self.limits.max_entries)
        except Ole2FormatError as exc:
            run.warnings.append(f"OLE2 container not read: {exc}")
            return
        windows = self._windows[OLE2]
        for entry in ole.entries:  # DROID walks every entry, nested storages included
            run.present(entry.path)
            if not (entry.is_stream and run.wants_content(entry.path)):
                continue
            try:
                _check_time(deadline, self.limits)
                data, complete = self._collect(
                    run, entry.path, windows.get(entry.path), partial(ole.iter_stream, entry)
                )
            except (Ole2FormatError, ZipFormatError) as exc:
                # DROID's OLE2 engine logs the error and keeps the matches made so far.
                run.warnings.append(f"OLE2 container read stopped: {exc}")
                return
            run.content(entry.path, data, complete)

    def _collect(
        self, run: _Run, path: str, window: int | None, chunks: Callable[[int], Iterator[bytes]]
    ) -> tuple[bytes, bool]:
        """Read what the signatures need: the head window, or everything up to the limits."""
        allowance = min(self.limits.max_stream_bytes, self.limits.max_total_bytes - run.read_total)
        if allowance <= 0:
            raise ZipFormatError(f"more than {self.limits.max_total_bytes} bytes read from one container")
        budget = allowance if window is None else min(window, allowance)
        parts: list[bytes] = []
        got = 0
        for chunk in chunks(budget + 1):
            parts.append(chunk)
            got += len(chunk)
            if got > budget:
                break
        run.read_total += min(got, budget)
        data = b"".join(parts)
        if got <= budget:
            return data, True
        if window is not None and budget == window:
            return data[:budget], True  # everything the signatures can look at
        run.warnings.append(f"container entry {path!r} is larger than {budget} bytes; only its start was read")
        return data[:budget], False


def _check_time(deadline: float, limits: ContainerLimits) -> None:
    if time.monotonic() > deadline:
        raise ZipFormatError(f"container check took longer than {limits.seconds:g} s")


# --- parsing ------------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(root: Element, wrapper: str, name: str) -> Iterator[Element]:
    for outer in root:
        if _local(outer.tag) == wrapper:
            for inner in outer:
                if _local(inner.tag) == name:
                    yield inner


def _child(el: Element, name: str) -> Element | None:
    for inner in el:
        if _local(inner.tag) == name:
            return inner
    return None


def _int(value: str | None, default: int = 0) -> int:
    if value is None or not value.strip():
        return default
    try:
        return int(value.strip())
    except ValueError:
        return default


def _parse_signature(el: Element, source: str) -> ContainerSignature:
    sid, kind = el.get("Id"), el.get("ContainerType")
    if sid is None or kind is None or not sid.strip().lstrip("-").isdigit():
        raise ContainerSignatureError(f"{source}: a ContainerSignature lacks Id or ContainerType")
    description = _child(el, "Description")
    files: dict[str, ContainerFile] = {}
    wrapper = _child(el, "Files")
    for file_el in wrapper if wrapper is not None else ():
        if _local(file_el.tag) != "File":
            continue
        path_el = _child(file_el, "Path")
        path = path_el.text or "" if path_el is not None else ""
        files[path] = _parse_file(path, _child(file_el, "BinarySignatures"))
    return ContainerSignature(
        int(sid), kind.strip(), (description.text or "").strip() if description is not None else "", files
    )


def _parse_file(path: str, binary: Element | None) -> ContainerFile:
    if binary is None:
        return ContainerFile(path)
    collection = _child(binary, "InternalSignatureCollection")
    signatures: list[InternalSignature] = []
    try:
        for sig_el in collection if collection is not None else ():
            if _local(sig_el.tag) != "InternalSignature":
                continue
            specs = [_byte_sequence(bs) for bs in sig_el if _local(bs.tag) == "ByteSequence"]
            signatures.append(build_internal_signature(_int(sig_el.get("ID")), specs))
    except SequenceSyntaxError as exc:
        # DROID logs "Could not parse signature" and then checks this file by its name alone.
        return ContainerFile(path, compile_error=str(exc))
    if not signatures:
        return ContainerFile(path)
    return ContainerFile(path, tuple(signatures), _window(signatures))


def _byte_sequence(el: Element) -> ByteSequenceSpec:
    subs = [_subsequence(sub) for sub in el if _local(sub.tag) == "SubSequence"]
    subs.sort(key=lambda pair: pair[0])  # DROID orders SubSequences by their Position
    return ByteSequenceSpec(
        reference=(el.get("Reference") or "Variable").strip(), subsequences=tuple(s for _, s in subs)
    )


def _subsequence(el: Element) -> tuple[int, SubSequenceSpec]:
    sequence = _child(el, "Sequence")
    min_offset = _int(el.get("SubSeqMinOffset"))
    max_attr = el.get("SubSeqMaxOffset")
    max_offset = max(_int(max_attr, min_offset), min_offset)
    left = tuple(_fragment(f) for f in el if _local(f.tag) == "LeftFragment")
    right = tuple(_fragment(f) for f in el if _local(f.tag) == "RightFragment")
    spec = SubSequenceSpec((sequence.text or "") if sequence is not None else "", min_offset, max_offset, left, right)
    return _int(el.get("Position"), 1), spec


def _fragment(el: Element) -> FragmentSpec:
    # DROID's setters run in attribute order and each pulls the other bound along.
    low = high = 0
    for name, value in el.attrib.items():
        if name == "MinOffset":
            low = _int(value)
            high = max(high, low)
        elif name == "MaxOffset":
            high = _int(value)
            low = min(low, high)
    return FragmentSpec((el.text or "").strip(), low, high, _int(el.get("Position"), 1))


def _window(signatures: Sequence[InternalSignature]) -> int | None:
    """Head bytes enough to decide every signature, when all are single-subsequence BOF ones."""
    bound = 0
    for signature in signatures:
        for seq in signature.sequences:
            if not seq.anchored_bof or seq.indirect or len(seq.subsequences) != 1:
                return None
            sub = seq.subsequences[0]
            reach = sub.max_left * 2 + sub.min_offset + sub.max_offset + sub.anchor.length + sub.max_right * 2
            bound = max(bound, reach)
    return bound + _BOUND_SLACK


def _path_windows(signatures: Sequence[ContainerSignature]) -> dict[str, int | None]:
    """Every path the signatures name (in first-seen order) and the head window it needs."""
    windows: dict[str, int | None] = {}
    for sig in signatures:
        for path, cfile in sig.files.items():
            if not cfile.needs_content:
                windows.setdefault(path, 0)
                continue
            current = windows.get(path, 0)
            windows[path] = None if current is None or cfile.window is None else max(current, cfile.window)
    return windows
