"""Write the BagIt 1.0 tag files of a package version: bagit.txt, bag-info.txt and SHA-256 manifests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from strongroom import __version__
from strongroom.manifests import encode_manifest_path, sha256_file

BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


@dataclass(frozen=True)
class BagInfo:
    package: str
    name: str
    organisation: str
    payload_bytes: int
    payload_files: int
    version: int = 1
    received_as_bag: bool = False


def _info_value(value: str) -> str:
    # bag-info values are one line each; fold any line breaks a depositor's text carries.
    return " ".join(value.split())


def write_tag_files(bag_dir: Path, payload: Iterable[tuple[str, str]], info: BagInfo) -> dict[str, str]:
    """Write the tag files for `payload` ((bag path, sha256) of every data/ file); returns their digests."""
    with (bag_dir / "manifest-sha256.txt").open("w", encoding="utf-8", newline="\n") as manifest:
        for relative, digest in sorted(payload):
            manifest.write(f"{digest}  {encode_manifest_path(relative)}\n")
    (bag_dir / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8")
    lines = [
        ("Bag-Software-Agent", f"Strongroom {__version__}"),
        ("Bagging-Date", datetime.now(UTC).date().isoformat()),
        ("External-Identifier", info.package),
        ("Internal-Sender-Identifier", info.name),
        ("Source-Organization", info.organisation),
        ("Payload-Oxum", f"{info.payload_bytes}.{info.payload_files}"),
        ("Package-Version", str(info.version)),
    ]
    if info.received_as_bag:
        lines.append(("Internal-Sender-Description", "Received as a BagIt bag; its bag-info is in the METS sourceMD"))
    (bag_dir / "bag-info.txt").write_text(
        "".join(f"{key}: {_info_value(value)}\n" for key, value in lines), encoding="utf-8"
    )
    digests = {name: sha256_file(bag_dir / name) for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")}
    with (bag_dir / "tagmanifest-sha256.txt").open("w", encoding="utf-8", newline="\n") as tagmanifest:
        for name in sorted(digests):
            tagmanifest.write(f"{digests[name]}  {name}\n")
    digests["tagmanifest-sha256.txt"] = sha256_file(bag_dir / "tagmanifest-sha256.txt")
    return digests
