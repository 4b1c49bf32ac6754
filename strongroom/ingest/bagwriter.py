"""Write the BagIt 1.0 tag files of a package: bagit.txt, bag-info.txt and SHA-256 manifests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from strongroom import __version__
from strongroom.ingest.bag import SuppliedBag
from strongroom.ingest.staged_files import StagedFiles
from strongroom.package_store import encode_manifest_path, sha256_file


def _info_value(value: str) -> str:
    # bag-info values are one line each; fold any line breaks a depositor's text carries.
    return " ".join(value.split())


def write_bag_files(
    bag_dir: Path,
    staged: StagedFiles,
    mets_path: Path,
    package: str,
    name: str,
    organisation: str,
    supplied: SuppliedBag | None,
) -> None:
    mets_size = mets_path.stat().st_size
    mets_digest = sha256_file(mets_path)
    with (bag_dir / "manifest-sha256.txt").open("w", encoding="utf-8", newline="\n") as manifest:
        # Manifests list the bytes actually copied (already hashed once); METS is the one new file.
        lines = [(f"data/{record.path}", record.sha256) for record, _ in staged]
        lines.append((f"data/{mets_path.name}", mets_digest))
        for relative, digest in sorted(lines):
            manifest.write(f"{digest}  {encode_manifest_path(relative)}\n")
    (bag_dir / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8")
    info = [
        ("Bag-Software-Agent", f"Strongroom {__version__}"),
        ("Bagging-Date", datetime.now(UTC).date().isoformat()),
        ("External-Identifier", package),
        ("Internal-Sender-Identifier", name),
        ("Source-Organization", organisation),
        ("Payload-Oxum", f"{staged.bytes + mets_size}.{staged.count + 1}"),
    ]
    if supplied is not None:
        info.append(("Internal-Sender-Description", "Received as a BagIt bag; its bag-info is in the METS sourceMD"))
    (bag_dir / "bag-info.txt").write_text(
        "".join(f"{key}: {_info_value(value)}\n" for key, value in info), encoding="utf-8"
    )
    tag_files = sorted(p for p in bag_dir.iterdir() if p.is_file() and not p.name.startswith("tagmanifest-"))
    with (bag_dir / "tagmanifest-sha256.txt").open("w", encoding="utf-8", newline="\n") as tagmanifest:
        for path in tag_files:
            tagmanifest.write(f"{sha256_file(path)}  {path.name}\n")
