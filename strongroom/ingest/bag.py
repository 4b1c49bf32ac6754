"""Supplied BagIt bags, checked to BagIt 1.0 (RFC 8493) before anything is hashed or stored.

The structure is checked here, strictly and with a message naming the file and
what is wrong: the bag declaration (bagit.txt: UTF-8 without a byte-order mark,
exactly the two lines, an encoding Python knows), fetch.txt (any entry refuses
the bag: Strongroom never downloads), every payload and tag manifest (syntax,
paths that stay inside the bag, algorithms Strongroom can compute), bag-info.txt
and its Payload-Oxum. The payload manifests are returned so the payload digests
are checked in the pipeline's one hashing pass; problems found here that need no
hashing of the payload (tag manifests, manifests that disagree, Payload-Oxum) are
returned with them, so one report lists everything wrong with a bag.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from strongroom.errors import TransferError
from strongroom.ingest.layout import SYSTEM_FOLDER_NAMES, is_system_file
from strongroom.model import FixityProblem, Mismatch, Missing, Unexpected

# Tag files of a supplied bag that are not kept as depositor metadata (they are rewritten).
BAG_TAG_FILES = ("bagit.txt", "bag-info.txt", "fetch.txt")
# The checksum algorithms a manifest may use: those of the BagIt registry that hashlib always has.
ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")
MANIFEST = re.compile(r"(tag)?manifest-(.+)\.txt")
AS_FOLDER = "To keep the files exactly as they are, without bag checks, ingest it with --as-folder."
LINE_BREAK = re.compile(r"\r\n|\r|\n")
DECLARATION = (
    re.compile(r"BagIt-Version: ([0-9]+)\.([0-9]+)"),
    re.compile(r"Tag-File-Character-Encoding: (\S+)"),
)


@dataclass
class SuppliedBag:
    root: Path
    info: dict[str, tuple[str, ...]]
    algorithms: tuple[str, ...]
    payload: dict[str, dict[str, str]]  # bag-relative path (data/...) -> {algorithm: digest}
    oxum: tuple[int, int] | None  # (bytes, files) from Payload-Oxum
    tag_problems: list[FixityProblem] = field(default_factory=list)
    version: str = "1.0"
    encoding: str = "UTF-8"
    warnings: list[str] = field(default_factory=list)


def bag_signs(folder: Path) -> list[str]:
    """What makes a folder look like a bag: BagIt tag files, or a data/ folder standing alone."""
    signs = [name for name in BAG_TAG_FILES if (folder / name).is_file()]
    signs += sorted(p.name for p in folder.iterdir() if MANIFEST.fullmatch(p.name) and p.is_file())
    if not signs and (folder / "data").is_dir() and [p.name for p in folder.iterdir()] == ["data"]:
        # A lone data/ folder is a bag that lost its tag files; data/ beside other folders is just a name.
        signs.append("data/")
    return signs


def looks_like_bag(folder: Path) -> bool:
    return bool(bag_signs(folder))


def read_bag(folder: Path) -> SuppliedBag:
    """Check a supplied bag's structure and read its manifests; raises TransferError naming what is wrong."""
    _require_parts(folder)
    version, encoding = _read_declaration(folder / "bagit.txt")
    warnings: list[str] = []
    _refuse_fetch(folder, encoding, warnings)
    payload_manifests: dict[str, dict[str, str]] = {}
    tag_manifests: dict[str, dict[str, str]] = {}
    for manifest in sorted(p for p in folder.iterdir() if MANIFEST.fullmatch(p.name) and p.is_file()):
        match = MANIFEST.fullmatch(manifest.name)
        assert match is not None
        is_tag, algorithm = match.group(1) is not None, match.group(2)
        if algorithm not in ALGORITHMS:
            raise TransferError(
                f"{folder.name}/{manifest.name}: Strongroom cannot compute {algorithm!r} checksums, so this bag "
                "cannot be checked; nothing was stored.",
                details=[f"Supported manifest algorithms: {', '.join(ALGORITHMS)}.", AS_FOLDER],
            )
        entries = _read_manifest(folder, manifest, algorithm, encoding, warnings, tag=is_tag)
        (tag_manifests if is_tag else payload_manifests)[algorithm] = entries
    info_name = "package-info.txt" if version < (0, 96) else "bag-info.txt"
    info = _read_info(folder / info_name, encoding, warnings) if (folder / info_name).is_file() else {}
    oxum = _oxum(folder, info_name, info)

    payload: dict[str, dict[str, str]] = {}
    for algorithm, entries in payload_manifests.items():
        for path, digest in entries.items():
            payload.setdefault(path, {})[algorithm] = digest
    problems = _manifest_disagreements(folder, payload_manifests)
    problems += _check_tag_manifests(folder, tag_manifests, sorted(payload_manifests))
    if oxum is not None:
        problems += _check_oxum(folder, oxum, set(payload))
    return SuppliedBag(
        root=folder,
        info=info,
        algorithms=tuple(dict.fromkeys([*payload_manifests, *tag_manifests])),
        payload=payload,
        oxum=oxum,
        tag_problems=problems,
        version=f"{version[0]}.{version[1]}",
        encoding=encoding,
        warnings=warnings,
    )


def _refuse(folder: Path, what: str, *details: str) -> TransferError:
    return TransferError(
        f"{folder.name} is not a valid BagIt bag: {what}; nothing was stored.",
        details=[*details, AS_FOLDER],
    )


def _require_parts(folder: Path) -> None:
    signs = ", ".join(bag_signs(folder))
    if not (folder / "bagit.txt").is_file():
        raise _refuse(
            folder,
            f"it looks like a bag (it has {signs}) but bagit.txt, the bag declaration, is missing",
            "Re-make the bag (for example with bagit.py) so it has bagit.txt, or add the two lines "
            "'BagIt-Version: 1.0' and 'Tag-File-Character-Encoding: UTF-8'.",
        )
    if not (folder / "data").is_dir():
        raise _refuse(folder, "the payload folder data/ is missing", "A bag holds its files under data/.")
    if not any(MANIFEST.fullmatch(p.name) and p.name.startswith("manifest-") for p in folder.iterdir()):
        raise _refuse(
            folder,
            "it has no payload manifest (manifest-<algorithm>.txt, e.g. manifest-sha256.txt)",
            "Re-make the bag with its manifests (for example with bagit.py).",
        )


def _read_declaration(path: Path) -> tuple[tuple[int, int], str]:
    """The BagIt version and tag-file encoding from bagit.txt, read exactly as RFC 8493 section 2.1.1 says."""
    raw = path.read_bytes()
    shown = f"{path.parent.name}/bagit.txt"
    fix = "bagit.txt must be exactly: 'BagIt-Version: 1.0' and 'Tag-File-Character-Encoding: UTF-8', one a line."
    if raw.startswith(codecs.BOM_UTF8):
        raise _refuse(path.parent, f"{shown} starts with a byte-order mark (BOM), which RFC 8493 forbids", fix)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(path.parent, f"{shown} is not UTF-8 (byte {exc.start})", fix) from exc
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the last line's own line break; a last line without one is still a line
    if len(lines) != 2:
        raise _refuse(path.parent, f"{shown} has {len(lines)} line(s), not the two RFC 8493 requires", fix)
    found = [pattern.fullmatch(line) for pattern, line in zip(DECLARATION, lines, strict=True)]
    for number, (match, line) in enumerate(zip(found, lines, strict=True), start=1):
        if match is None:
            raise _refuse(path.parent, f"{shown} line {number} is {line!r}", fix)
    version_match, encoding_match = found
    assert version_match is not None and encoding_match is not None
    version = (int(version_match.group(1)), int(version_match.group(2)))
    if not (0, 93) <= version < (2, 0):
        what = f"{shown} declares BagIt version {version[0]}.{version[1]}, which is not supported (0.93 to 1.x are)"
        raise _refuse(path.parent, what)
    encoding = encoding_match.group(1)
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        # RFC 8493: UTF-8 SHOULD be used, any encoding of the IANA character-set registry MAY be.
        what = f"{shown} names the tag-file encoding {encoding!r}, which is not known"
        raise _refuse(path.parent, what, fix) from exc
    return version, encoding


def _read_text(path: Path, encoding: str, warnings: list[str]) -> list[str]:
    shown = f"{path.parent.name}/{path.name}"
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise _refuse(path.parent, f"{shown} is not valid {encoding} (byte {exc.start})") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
        warnings.append(f"{path.name} starts with a byte-order mark (BOM); it was ignored")
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _refuse_fetch(folder: Path, encoding: str, warnings: list[str]) -> None:
    """Any fetch.txt entry refuses the bag: Strongroom never downloads, and a holey bag is not all there."""
    fetch = folder / "fetch.txt"
    if not fetch.is_file():
        return
    problems: list[str] = []
    for number, line in enumerate(_read_text(fetch, encoding, warnings), start=1):
        if not line.strip():
            continue
        fields = line.strip().split(None, 2)
        if len(fields) != 3:
            problems.append(f"fetch.txt line {number}: {line.strip()!r} is not 'URL LENGTH FILEPATH'")
            continue
        url, _length, filepath = fields
        relative = _bag_path(filepath)
        if relative is None or relative.parts[0] != "data":
            problems.append(
                f"fetch.txt line {number}: {filepath!r} leads outside the bag's payload folder data/ (from {url})"
            )
        else:
            problems.append(f"fetch.txt line {number}: {url} would be downloaded to {relative}")
    if problems:
        raise TransferError(
            f"{folder.name} is a holey bag: fetch.txt lists {len(problems)} file(s) to fetch from elsewhere, and "
            "Strongroom never downloads; nothing was stored.",
            details=[
                *problems[:50],
                "Fetch the listed files into data/ yourself, remove fetch.txt (and its lines in the tag "
                "manifests), and ingest again.",
            ],
        )


def _bag_path(raw: str) -> PurePosixPath | None:
    """A manifest or fetch.txt path, percent-decoded as RFC 8493 says; None when it leads out of the bag."""
    decoded = re.sub(r"%(0[aAdD]|25)", lambda m: chr(int(m.group(1), 16)), raw)
    if decoded.startswith("/") or decoded.startswith("~") or re.match(r"[A-Za-z]:", decoded):
        return None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if not parts or ".." in parts or any("\x00" in p for p in parts):
        return None
    return PurePosixPath(*parts)


def _read_manifest(
    folder: Path, manifest: Path, algorithm: str, encoding: str, warnings: list[str], *, tag: bool
) -> dict[str, str]:
    digest_length = hashlib.new(algorithm).digest_size * 2
    entries: dict[str, str] = {}
    shown = manifest.name
    for number, line in enumerate(_read_text(manifest, encoding, warnings), start=1):
        if not line.strip():
            continue
        match = re.fullmatch(r"([0-9A-Fa-f]+)[ \t]+\*?(.+)", line.strip("\r\n"))
        if match is None:
            raise _refuse(folder, f"{shown} line {number} is not 'checksum path': {line!r}")
        digest, raw_path = match.group(1), match.group(2)
        if len(digest) != digest_length:
            raise _refuse(
                folder, f"{shown} line {number}: {digest!r} is not a {algorithm} checksum ({digest_length} hex digits)"
            )
        relative = _bag_path(raw_path)
        if relative is None:
            raise _refuse(folder, f"{shown} line {number}: the path {raw_path!r} leads outside the bag")
        in_payload = relative.parts[0] == "data"
        if not tag and (not in_payload or len(relative.parts) < 2):
            raise _refuse(folder, f"{shown} line {number}: {raw_path!r} is not a file under the payload folder data/")
        if tag and in_payload:
            raise _refuse(folder, f"{shown} line {number}: a tag manifest lists the payload file {raw_path!r}")
        key = relative.as_posix()
        if key in entries:
            raise _refuse(folder, f"{shown} lists {key} twice (line {number})")
        entries[key] = digest.lower()
    return entries


def _read_info(path: Path, encoding: str, warnings: list[str]) -> dict[str, tuple[str, ...]]:
    """bag-info.txt: 'Label: value' lines, a value continued on lines that start with a space or tab."""
    values: list[tuple[str, str]] = []
    for number, line in enumerate(_read_text(path, encoding, warnings), start=1):
        if not line.strip():
            continue
        if line[0] in " \t" and values:
            label, value = values[-1]
            values[-1] = (label, f"{value}\n{line}")
            continue
        label, colon, value = line.partition(":")
        if not colon or not label.strip():
            raise _refuse(path.parent, f"{path.name} line {number} is not 'Label: value': {line!r}")
        values.append((label.strip(), value))
    info: dict[str, tuple[str, ...]] = {}
    for label, value in values:
        info[label] = (*info.get(label, ()), value.strip())
    return info


def _oxum(folder: Path, info_name: str, info: dict[str, tuple[str, ...]]) -> tuple[int, int] | None:
    values = info.get("Payload-Oxum")
    if values is None:
        return None
    if len(values) != 1:
        raise _refuse(folder, f"{info_name} gives Payload-Oxum {len(values)} times; RFC 8493 allows it once")
    match = re.fullmatch(r"([0-9]+)\.([0-9]+)", values[0])
    if match is None:
        raise _refuse(
            folder,
            f"{info_name} has a malformed Payload-Oxum {values[0]!r}",
            "Payload-Oxum is OctetCount.StreamCount: the payload's total bytes, a dot, its number of files.",
        )
    return int(match.group(1)), int(match.group(2))


def _check_oxum(folder: Path, oxum: tuple[int, int], listed: set[str]) -> list[FixityProblem]:
    """Payload-Oxum against the payload on disk (system files no manifest lists are left out, as in ingest)."""
    octets = files = 0
    for dirpath, _dirnames, filenames in os.walk(folder / "data"):
        relative_dir = Path(dirpath).relative_to(folder).as_posix()
        system_dir = any(part.lower() in SYSTEM_FOLDER_NAMES for part in Path(relative_dir).parts)
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            key = f"{relative_dir}/{name}"
            if not stat.S_ISREG(st.st_mode) or ((system_dir or is_system_file(name)) and key not in listed):
                continue
            octets += st.st_size
            files += 1
    if (octets, files) == oxum:
        return []
    return [Mismatch("bag-info.txt", "Payload-Oxum", f"{oxum[0]}.{oxum[1]}", f"{octets}.{files}")]


def _manifest_disagreements(folder: Path, manifests: dict[str, dict[str, str]]) -> list[FixityProblem]:
    """Files that some payload manifests list and others do not (RFC 8493: each lists every payload file)."""
    problems: list[FixityProblem] = []
    everywhere = set().union(*(set(entries) for entries in manifests.values()))
    for algorithm, entries in sorted(manifests.items()):
        for path in sorted(everywhere - set(entries)):
            if (folder / path).is_file():  # an absent file is reported as missing by the hashing pass
                problems.append(Unexpected(path, f"manifest-{algorithm}.txt"))
    return problems


def _check_tag_manifests(
    folder: Path, manifests: dict[str, dict[str, str]], payload_algorithms: list[str]
) -> list[FixityProblem]:
    problems: list[FixityProblem] = []
    for algorithm, entries in sorted(manifests.items()):
        source = f"tagmanifest-{algorithm}.txt"
        for payload_algorithm in payload_algorithms:
            name = f"manifest-{payload_algorithm}.txt"
            if name not in entries:
                problems.append(Unexpected(name, source))  # RFC 8493: a tag manifest lists every payload manifest
        for relative, expected in sorted(entries.items()):
            path = folder / relative
            if not path.is_file():
                problems.append(Missing(relative, source))
                continue
            hasher = hashlib.new(algorithm)
            with path.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    hasher.update(chunk)
            if hasher.hexdigest() != expected:
                problems.append(Mismatch(relative, algorithm, expected, hasher.hexdigest()))
    return problems
