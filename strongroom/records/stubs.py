"""A destruction stub: what is kept of a package once disposal has removed it.

Its reference, a title safe to show, the dates it covers, its size, schedule and approvers; no creators,
no file names, no content. Journalled before anything is deleted, so `rebuild` restores it.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import TYPE_CHECKING

from strongroom.model import FileRole
from strongroom.records.closure import title_while_closed
from strongroom.records.model import DestructionStub, DisposalBatch, DisposalItem

if TYPE_CHECKING:
    from strongroom.archive import Archive


def build_stub(archive: Archive, batch: DisposalBatch, item: DisposalItem, when: datetime) -> DestructionStub:
    """What is kept of a package: its reference, a title safe to show, dates, size, schedule and approvers.

    No creators, no file names, no content. The title is the package's redacted title while it is
    not open, else its Dublin Core title, else its name.
    """
    summary = archive.package(item.package)
    descriptions = archive.catalog.descriptions(summary.uuid)
    package_dc = next((d for d in descriptions if d.target == "objects"), None)
    title = summary.title or (package_dc.first("title") if package_dc else None) or summary.name
    title = title_while_closed(archive.catalog.access_rules(summary.uuid), title, when.date())
    days: list[date] = []
    for description in descriptions:
        for value in description.elements.get("date", ()):
            days.extend(dc_dates(value))
    for record in archive.catalog.files(summary.uuid):
        if record.role is FileRole.ORIGINAL and record.modified is not None:
            days.append(record.modified.date())
    schedule = archive.catalog.schedule(item.code, item.version)
    return DestructionStub(
        package=summary.uuid, identifier=package_dc.first("identifier") if package_dc else None, title=title,
        code=item.code, version=item.version, authority=schedule.authority if schedule else "",
        action=item.action, date_from=min(days, default=None), date_to=max(days, default=None), batch=batch.id,
        approved_by=tuple(a.name for a in batch.approvals), destroyed=when, files=summary.files,
        bytes=summary.bytes, payload_sha256=summary.payload_sha256,
    )  # fmt: skip


_DAY = re.compile(r"(?<!\d)(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?!\d)")


def dc_dates(value: str) -> list[date]:
    """The first and last days a Dublin Core date names: `1999`, `1999-03`, `1999-03-04`, `1990/1995`."""
    found: list[date] = []
    for match in _DAY.finditer(value):
        year = int(match.group(1))
        if not 1 <= year <= 9999:
            continue
        month = int(match.group(2)) if match.group(2) else None
        day = int(match.group(3)) if match.group(3) else None
        try:
            if month is None:
                found += [date(year, 1, 1), date(year, 12, 31)]
            elif day is None:
                found += [date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])]
            else:
                found.append(date(year, month, day))
        except ValueError:
            continue  # 1999-13 or 1999-02-30: not a date
    return found
