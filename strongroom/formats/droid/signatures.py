"""The DROID signature file (DROID_SignatureFile_VNNN.xml) read the way DROID 6.5.2 reads it.

What DROID does, and so what this does:
- SubSequences keep document order (their Position attribute is ignored);
  fragments are grouped by their Position; the Sequence and fragment texts are
  trimmed; the SubSequence maximum offset is never below its minimum.
- Fragment MinOffset/MaxOffset setters keep min <= max in attribute order
  (a later setter can move the earlier value), as DROID's SideFragment does.
- A signature whose sequence or fragment does not compile is dropped, with a
  warning, and never matches (InternalSignatureCollection.prepareForUse).
- Signatures are tried in DROID's sort order: a stable sort on the kinds of
  sequences they hold (BOF < BOF* < variable < EOF < EOF*). A hit names every
  format that lists the signature, in the file's order.
- Extensions compare case-insensitively; "tentative" formats are those with no
  InternalSignatureID at all (DROID's default extension-only matching).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from strongroom.errors import StrongroomError

if TYPE_CHECKING:  # the XML is parsed only when the compiled form is not in the cache
    import xml.etree.ElementTree as ET
from strongroom.formats.droid.sequence import (
    ByteSequenceSpec,
    Fragment,
    FragmentSpec,
    InternalSignature,
    SequenceSyntaxError,
    SubSequenceSpec,
    build_internal_signature,
)


class SignatureFileError(StrongroomError):
    """The DROID signature file is missing or cannot be read."""


@dataclass(frozen=True)
class FileFormat:
    """One PRONOM format as the signature file describes it."""

    id: int
    puid: str
    name: str
    version: str | None
    mime: str | None
    extensions: tuple[str, ...]
    signature_ids: tuple[int, ...]
    priority_over: tuple[int, ...]  # FileFormat IDs this format beats (HasPriorityOverFileFormatID)

    def has_extension(self, extension: str) -> bool:
        upper = extension.upper()
        return any(e.upper() == upper for e in self.extensions)


@dataclass
class SignatureFile:
    version: str
    date_created: str
    formats: list[FileFormat]
    signatures: Sequence[InternalSignature]  # valid ones, in DROID's matching order
    signature_formats: list[tuple[int, ...]]  # for each of `signatures`: indices into `formats`
    invalid: list[str] = field(default_factory=list)  # why signatures were dropped, as DROID logs it
    by_puid: dict[str, int] = field(default_factory=dict)
    all_extensions: dict[str, tuple[int, ...]] = field(default_factory=dict)  # upper-case extension -> formats
    tentative_extensions: dict[str, tuple[int, ...]] = field(default_factory=dict)


class LazySignatures(Sequence[InternalSignature]):
    """Signatures that pickle one by one and unpickle when first asked for.

    Unpickling all ~2,250 prepared signatures took most of a cache load (~40 ms); a
    process runs DROID's algorithm for a few dozen of them, so each is built on first use.
    """

    def __init__(self, signatures: Iterable[InternalSignature]) -> None:
        self._loaded: list[InternalSignature | None] = list(signatures)
        self._blobs = [pickle.dumps(s, protocol=pickle.HIGHEST_PROTOCOL) for s in self._loaded]

    def __getstate__(self) -> dict[str, Any]:
        return {"blobs": self._blobs}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._blobs = state["blobs"]
        self._loaded = [None] * len(self._blobs)

    def __len__(self) -> int:
        return len(self._blobs)

    @overload
    def __getitem__(self, index: int) -> InternalSignature: ...

    @overload
    def __getitem__(self, index: slice) -> list[InternalSignature]: ...

    def __getitem__(self, index: int | slice) -> InternalSignature | list[InternalSignature]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        loaded = self._loaded[index]
        if loaded is None:
            # only ever from the user's own cache file, which cache.py checks before loading it at all
            loaded = self._loaded[index] = pickle.loads(self._blobs[index])
        return loaded


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element) -> str:
    return (element.text or "").strip()


def _int(value: str | None, what: str) -> int:
    try:
        return int((value or "0").strip())
    except ValueError:
        raise SignatureFileError(
            f"{what} is not a number: {value!r}", details=["the signature file is damaged; install a fresh copy"]
        ) from None


def parse_fragment(element: ET.Element) -> FragmentSpec:
    """A Left/RightFragment element, its offsets resolved in attribute order as DROID's setters do."""
    frag = Fragment(None, 0, 0, 0)
    for name, value in element.attrib.items():
        if name == "Position":
            frag.position = _int(value, "fragment Position")
        elif name == "MinOffset":
            frag.set_min(_int(value, "fragment MinOffset"))
        elif name == "MaxOffset":
            frag.set_max(_int(value, "fragment MaxOffset"))
    return FragmentSpec(_text(element), frag.min_offset, frag.max_offset, frag.position)


def parse_subsequence(element: ET.Element) -> SubSequenceSpec:
    minimum = _int(element.get("SubSeqMinOffset"), "SubSeqMinOffset")
    maximum = _int(element.get("SubSeqMaxOffset"), "SubSeqMaxOffset") if "SubSeqMaxOffset" in element.attrib else 0
    sequence = ""
    left: list[FragmentSpec] = []
    right: list[FragmentSpec] = []
    for child in element:
        tag = _local(child.tag)
        if tag == "Sequence":
            sequence = _text(child)
        elif tag == "LeftFragment":
            left.append(parse_fragment(child))
        elif tag == "RightFragment":
            right.append(parse_fragment(child))
    return SubSequenceSpec(sequence, minimum, max(maximum, minimum), tuple(left), tuple(right))


def parse_byte_sequence(element: ET.Element) -> ByteSequenceSpec:
    """A ByteSequence element (DROID signature file or a container file's BinarySignatures)."""
    subs = tuple(parse_subsequence(child) for child in element if _local(child.tag) == "SubSequence")
    return ByteSequenceSpec(
        reference=element.get("Reference", "Variable"),
        subsequences=subs,
        big_endian=element.get("Endianness") != "Little-endian",
        indirect_offset_location=_int(element.get("IndirectOffsetLocation"), "IndirectOffsetLocation"),
        indirect_offset_length=_int(element.get("IndirectOffsetLength"), "IndirectOffsetLength"),
    )


def parse_internal_signature(element: ET.Element) -> InternalSignature:
    """An InternalSignature element, prepared; SequenceSyntaxError when DROID would drop it."""
    specs = [parse_byte_sequence(child) for child in element if _local(child.tag) == "ByteSequence"]
    return build_internal_signature(_int(element.get("ID"), "InternalSignature ID"), specs)


def _parse_format(element: ET.Element) -> FileFormat:
    extensions: list[str] = []
    signature_ids: list[int] = []
    priority: list[int] = []
    for child in element:
        tag = _local(child.tag)
        if tag == "Extension":
            extensions.append(_text(child))
        elif tag == "InternalSignatureID":
            signature_ids.append(_int(_text(child), "InternalSignatureID"))
        elif tag == "HasPriorityOverFileFormatID":
            priority.append(_int(_text(child), "HasPriorityOverFileFormatID"))
    return FileFormat(
        id=_int(element.get("ID"), "FileFormat ID"),
        puid=element.get("PUID", ""),
        name=element.get("Name", ""),
        version=element.get("Version") or None,
        mime=element.get("MIMEType") or None,
        extensions=tuple(extensions),
        signature_ids=tuple(signature_ids),
        priority_over=tuple(priority),
    )


def load_signature_file(path: Path) -> SignatureFile:
    """Parse and prepare a DROID signature file."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise SignatureFileError(
            f"DROID signature file not found: {path}", details=["give the path of a DROID_SignatureFile_VNNN.xml"]
        ) from None
    except (ET.ParseError, OSError) as exc:
        raise SignatureFileError(
            f"cannot read the DROID signature file {path}: {exc}",
            details=["download a fresh copy from The National Archives (PRONOM)"],
        ) from None
    if _local(root.tag) != "FFSignatureFile":
        raise SignatureFileError(
            f"{path} is not a DROID signature file (its root is <{_local(root.tag)}>)",
            details=["give DROID_SignatureFile_VNNN.xml; container files go to the container option"],
        )
    formats: list[FileFormat] = []
    raw_signatures: list[ET.Element] = []
    for section in root:
        tag = _local(section.tag)
        if tag == "InternalSignatureCollection":
            raw_signatures.extend(el for el in section if _local(el.tag) == "InternalSignature")
        elif tag == "FileFormatCollection":
            formats.extend(_parse_format(el) for el in section if _local(el.tag) == "FileFormat")

    # DROID binds formats to the first signature with each ID, before dropping invalid ones.
    first_with_id: dict[int, int] = {}
    for index, element in enumerate(raw_signatures):
        first_with_id.setdefault(_int(element.get("ID"), "InternalSignature ID"), index)
    bound: dict[int, list[int]] = {}
    for format_index, fmt in enumerate(formats):
        for sig_id in fmt.signature_ids:
            if sig_id in first_with_id:
                bound.setdefault(first_with_id[sig_id], []).append(format_index)

    prepared: list[tuple[int, InternalSignature]] = []
    invalid: list[str] = []
    for index, element in enumerate(raw_signatures):
        try:
            prepared.append((index, parse_internal_signature(element)))
        except SequenceSyntaxError as exc:
            names = ", ".join(formats[i].puid for i in bound.get(index, ()))
            invalid.append(f"signature {element.get('ID')} ({names or 'no format'}) dropped: {exc.message}")
    prepared.sort(key=lambda pair: pair[1].sort_order)  # stable, like Collections.sort

    signatures = [sig for _, sig in prepared]
    signature_formats = [tuple(bound.get(index, ())) for index, _ in prepared]

    result = SignatureFile(
        version=root.get("Version", "").strip(),
        date_created=root.get("DateCreated", ""),
        formats=formats,
        signatures=signatures,
        signature_formats=signature_formats,
        invalid=invalid,
    )
    all_ext: dict[str, list[int]] = {}
    tentative: dict[str, list[int]] = {}
    for index, fmt in enumerate(formats):
        result.by_puid[fmt.puid] = index
        for ext in fmt.extensions:
            all_ext.setdefault(ext.upper(), []).append(index)
            if not fmt.signature_ids:
                tentative.setdefault(ext.upper(), []).append(index)
    result.all_extensions = {k: tuple(v) for k, v in all_ext.items()}
    result.tentative_extensions = {k: tuple(v) for k, v in tentative.items()}
    return result


def drop_overridden(signatures: SignatureFile, puids: frozenset[str]) -> SignatureFile:
    """The signature file after DROID's puidHasOverridingSignatures for each of `puids`.

    DROID's profile mode calls it for every PUID a container signature maps to: the
    format loses its internal signatures (a signature that then names no format is
    removed) and leaves the tentative-extension lists. DROID looks those lists up by
    the extension as written while their keys are upper case, so only an extension
    written in upper case is actually removed; this keeps that quirk.
    """
    # DROID's getFileFormat(puid) finds one format per PUID: the last one read (a map put).
    dropped = {signatures.by_puid[p] for p in puids if p in signatures.by_puid}
    kept_signatures: list[InternalSignature] = []
    kept_formats: list[tuple[int, ...]] = []
    for signature, bound in zip(signatures.signatures, signatures.signature_formats, strict=True):
        remaining = tuple(i for i in bound if i not in dropped)
        if bound and not remaining:
            continue
        kept_signatures.append(signature)
        kept_formats.append(remaining)
    tentative: dict[str, tuple[int, ...]] = dict(signatures.tentative_extensions)
    for index in dropped:
        for ext in signatures.formats[index].extensions:
            if ext in tentative:
                remaining_formats = tuple(i for i in tentative[ext] if i != index)
                if remaining_formats:
                    tentative[ext] = remaining_formats
                else:
                    del tentative[ext]
    return replace(
        signatures, signatures=kept_signatures, signature_formats=kept_formats, tentative_extensions=tentative
    )
