"""Turn whatever the depositor handed over (folder, zip, tar, bag) into a folder to read from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.errors import TransferError
from strongroom.ingest.bag import SuppliedBag, is_bag, read_bag
from strongroom.ingest.unpack import archive_kind, unpack


@dataclass
class PreparedTransfer:
    kind: str  # folder, zip, tar, bag, zipped bag, tarred bag
    root: Path  # the transfer folder (or the bag folder)
    bag: SuppliedBag | None
    warnings: list[str] = field(default_factory=list)


def default_name(source: Path) -> str:
    name = source.name
    for suffix in (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _single_child_folder(folder: Path) -> Path:
    """Archives often wrap the transfer in one folder: descend into it."""
    children = [c for c in folder.iterdir() if c.name not in ("__MACOSX", ".DS_Store")]
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return folder


def prepare_source(source: Path, workdir: Path) -> PreparedTransfer:
    if not source.exists():
        raise TransferError(f"{source} does not exist.", details=["Check the path and try again."])
    if source.is_symlink() and source.is_dir():
        source = source.resolve()
    if source.is_dir():
        if is_bag(source):
            return PreparedTransfer("bag", source, read_bag(source))
        return PreparedTransfer("folder", source, None)
    kind = archive_kind(source)
    if kind is None:
        raise TransferError(
            f"{source.name} is a single file, not a transfer.",
            details=["Ingest the folder that holds it, or a zip or tar of that folder."],
        )
    target = workdir / "unpacked"
    report = unpack(source, target)
    root = _single_child_folder(target)
    if not any(root.iterdir()):
        raise TransferError(f"{source.name} is empty: there is nothing to ingest.")
    if is_bag(root):
        prepared = PreparedTransfer(f"{kind}ped bag" if kind == "zip" else "tarred bag", root, read_bag(root))
    else:
        prepared = PreparedTransfer(kind, root, None)
    prepared.warnings.extend(report.skipped)
    return prepared
