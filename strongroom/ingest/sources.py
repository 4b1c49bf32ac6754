"""Turn whatever the depositor handed over (folder, zip, tar, 7z, bag, disk image) into a folder to read from."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from strongroom.errors import TransferError
from strongroom.ingest.bag import SuppliedBag, looks_like_bag, read_bag
from strongroom.ingest.unpack import archive_kind, check_space, unpack

# The kind of a bag that came inside an archive, by the archive's kind.
BAG_IN = {"zip": "zipped bag", "tar": "tarred bag", "7z": "7-Zip bag"}


@dataclass
class PreparedTransfer:
    kind: str  # folder, zip, tar, 7z, bag, zipped bag, tarred bag, 7-Zip bag, disk image
    root: Path  # the transfer folder (or the bag folder)
    bag: SuppliedBag | None
    warnings: list[str] = field(default_factory=list)


def default_name(source: Path) -> str:
    name = source.name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".7z", ".iso"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _single_child_folder(folder: Path) -> Path:
    """Archives often wrap the transfer in one folder: descend into it."""
    children = [c for c in folder.iterdir() if c.name not in ("__MACOSX", ".DS_Store")]
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return folder


def _folder_or_bag(kind: str, root: Path, as_folder: bool, bag_kind: str) -> PreparedTransfer:
    """A folder that looks like a bag must be a valid one, unless the user asked for a plain folder."""
    if as_folder or not looks_like_bag(root):
        return PreparedTransfer(kind, root, None)
    bag = read_bag(root)
    return PreparedTransfer(bag_kind, root, bag, list(bag.warnings))


def prepare_source(source: Path, workdir: Path, as_folder: bool = False) -> PreparedTransfer:
    """Unpack or point at the transfer; `as_folder` takes a bag-like folder as plain files, unchecked as a bag."""
    if not source.exists():
        raise TransferError(f"{source} does not exist.", details=["Check the path and try again."])
    if source.is_symlink() and source.is_dir():
        source = source.resolve()
    if source.is_dir():
        return _folder_or_bag("folder", source, as_folder, "bag")
    kind = archive_kind(source)
    if kind == "iso":
        return _disk_image(source, workdir)
    if kind is None:
        raise TransferError(
            f"{source.name} is a single file, not a transfer.",
            details=["Ingest the folder that holds it, or a zip, 7z or tar of that folder."],
        )
    target = workdir / "unpacked"
    report = unpack(source, target)
    root = _single_child_folder(target)
    if not any(root.iterdir()):
        raise TransferError(f"{source.name} is empty: there is nothing to ingest.")
    prepared = _folder_or_bag(kind, root, as_folder, BAG_IN[kind])
    prepared.warnings.extend(report.skipped)
    return prepared


def _disk_image(source: Path, workdir: Path) -> PreparedTransfer:
    """An ISO 9660 image given as the transfer: one record, stored as received (never unpacked here).

    Its file system can be listed or extracted for identification with strongroom.ingest.diskimage;
    the image itself is the record a depositor handed over, so it is what the package keeps.
    """
    root = workdir / "received"
    root.mkdir(parents=True, exist_ok=True)
    copy = root / source.name
    try:
        os.link(source, copy)  # same file system: no copy of a possibly large image
    except OSError:
        check_space(root, source.stat().st_size, 64 * 1024 * 1024)
        shutil.copy2(source, copy)
    return PreparedTransfer("disk image", root, None)
