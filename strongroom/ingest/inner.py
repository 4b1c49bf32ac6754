"""Archives and disk images inside a transfer, optionally unpacked beside themselves.

An archive (zip, tar, 7z) or an ISO 9660 disk image among a transfer's records is always stored
as received. With `[ingest] unpack_archives` or `unpack_disk_images`, its files are also unpacked
into a sibling folder `<name>.contents/`, so that they are identified, characterised, indexed and
preserved as records of their own (Archivematica's "extract packages"). Unpacking follows the same
safety rules as a transfer that arrives as an archive; one that cannot be unpacked stays a single
file, with a warning. A PREMIS "unpacking" event lists what was unpacked where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from strongroom.errors import TransferError
from strongroom.ingest.layout import TransferLayout, plan_folder
from strongroom.ingest.unpack import archive_kind, unpack
from strongroom.model import FileRole

ARCHIVE_KINDS = frozenset({"zip", "tar", "7z"})


@dataclass
class InnerUnpacking:
    unpacked: list[tuple[str, str, int]] = field(default_factory=list)  # (archive path, kind, files)
    warnings: list[str] = field(default_factory=list)


def unpack_inner(layout: TransferLayout, scratch: Path, *, archives: bool, disk_images: bool) -> InnerUnpacking:
    """Unpack the records that are archives or disk images into `<name>.contents/`; adds their files to `layout`."""
    done = InnerUnpacking()
    if not (archives or disk_images):
        return done
    taken = {e.dest for e in layout.entries}
    for number, entry in enumerate(list(layout.entries)):
        if entry.role is not FileRole.ORIGINAL or entry.system:
            continue
        kind = archive_kind(entry.source)
        if kind is None or (kind == "iso" and not disk_images) or (kind in ARCHIVE_KINDS and not archives):
            continue
        prefix = f"{entry.dest}.contents"
        if prefix in taken or any(dest.startswith(prefix + "/") for dest in taken):
            done.warnings.append(f"{entry.dest} was not unpacked: the transfer already holds {prefix}")
            continue
        target = scratch / f"{number}"
        try:
            if kind == "iso":
                from strongroom.ingest.diskimage import extract_disk_image

                extract_disk_image(entry.source, target)
            else:
                unpack(entry.source, target)
            inner = plan_folder(target, prefix)
        except TransferError as err:
            done.warnings.append(f"{entry.dest} is kept as received but could not be unpacked: {err.message}")
            continue
        layout.entries += inner.entries
        layout.renamed += inner.renamed
        layout.warnings += inner.warnings
        taken |= {e.dest for e in inner.entries}
        done.unpacked.append((entry.dest, kind, len(inner.entries)))
    return done
