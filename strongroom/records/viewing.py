"""What a viewer may see of a package (`strongroom show --as`, `strongroom export --as`).

Staff (archivist, admin) see everything. A researcher sees what search shows them, judged
on the day asked (so a record opens by itself on its opening date):
- a CLOSED package does not exist for them: the same NotFound as an unknown package, unless
  the archivist gave it a redacted title, which publishes a stand-in (as search does);
- a RESTRICTED package is a stand-in (RestrictedView): redacted title, reference, dates,
  exemption and opening date, nothing else;
- of an open package, closed files are left out (only counted) and restricted files are
  stand-ins (MaskedFile). Events and access rules, which name paths and reasons, are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from strongroom.errors import NotFound, StrongroomError
from strongroom.indexing import PACKAGE_TARGET, effective_access
from strongroom.model import AccessRule, AccessStatus, DublinCore, FileRole
from strongroom.records.closure import masked_title
from strongroom.search.base import Role

if TYPE_CHECKING:
    from strongroom.archive import Archive, PackageDetails
    from strongroom.model import PackageSummary


@dataclass(frozen=True)
class MaskedFile:
    """A restricted record as a researcher sees it: a stand-in with no name, path or content."""

    uuid: str
    title: str  # the redacted title, or "Restricted record"
    identifier: tuple[str, ...]  # Dublin Core identifier values
    dates: tuple[str, ...]  # Dublin Core date values
    exemption: str | None
    opening_date: date | None


@dataclass(frozen=True)
class RestrictedView:
    """A package a researcher may know of but not see: only its stand-in."""

    package: str  # UUID
    status: AccessStatus
    title: str
    identifier: tuple[str, ...]
    dates: tuple[str, ...]
    exemption: str | None
    opening_date: date | None


@dataclass(frozen=True)
class ResearcherDetails:
    """An open package as a researcher sees it: the visible part, and what was left out or masked."""

    details: PackageDetails  # files, descriptions and versions a researcher may see; no events, no rules
    withheld: int  # closed records: counted, never named
    masked: tuple[MaskedFile, ...]


Viewed = RestrictedView | ResearcherDetails


def not_found(ref: str) -> NotFound:
    """Exactly what Archive.package says of an unknown package, so a closed one is not revealed by the wording."""
    hint = "A UUID prefix needs at least 8 characters. " if len(ref) < 8 else ""
    return NotFound(f"No package {ref!r} in this archive.", details=[f"{hint}See the packages with: strongroom list"])


def package_for(archive: Archive, ref: str, viewer: Role, today: date) -> PackageSummary:
    """The package `ref` names, as `viewer` may know of it (a hidden one may still be returned: details_for and
    check_export refuse it). A name or UUID prefix several packages share is settled among those a researcher
    may know of, so the list of candidates never names a closed package, and an unknown one is `not_found`."""
    try:
        return archive.package(ref)
    except NotFound:
        if viewer.sees_closed:
            raise  # staff are told when a package was destroyed
        raise not_found(ref) from None
    except StrongroomError as err:
        if viewer.sees_closed or type(err) is not StrongroomError:
            raise  # only "several packages answer to `ref`" is settled again below; a catalog failure stands
    packages = archive.catalog.packages()
    candidates = [s for s in packages if s.name == ref] or [
        s for s in packages if len(ref) >= 8 and s.uuid.startswith(ref)
    ]
    known = [(s, effective_access(archive.catalog.access_rules(s.uuid), None)) for s in candidates]
    known = [(s, rule) for s, rule in known if rule is None or rule.is_open_on(today) or stands_in(rule, today)]
    if len(known) == 1:
        return known[0][0]
    if not known:
        raise not_found(ref)
    raise StrongroomError(
        f"{len(known)} packages answer to {ref!r}; give the UUID of the one you mean.",
        details=[
            f"{s.uuid}  {s.name if rule is None or rule.is_open_on(today) else masked_title(rule.redacted_title)}"
            for s, rule in known
        ],
    )


def known_package(archive: Archive, ref: str, viewer: Role, today: date) -> PackageSummary:
    """The package `ref` names, or NotFound (worded as for an unknown one) when `viewer` may not know of it:
    for `strongroom search --package`, whose answer must not tell a closed package from none at all."""
    summary = package_for(archive, ref, viewer, today)
    if not viewer.sees_closed:
        rule = effective_access(archive.catalog.access_rules(summary.uuid), None)
        if rule is not None and not rule.is_open_on(today) and not stands_in(rule, today):
            raise not_found(ref)
    return summary


def stands_in(rule: AccessRule | None, today: date) -> bool:
    """Whether a researcher gets a stand-in for a record under `rule` today (restricted, or closed with a
    redacted title, and not yet open)."""
    if rule is None or rule.is_open_on(today):
        return False
    return rule.status is AccessStatus.RESTRICTED or rule.redacted_title is not None


def details_for(details: PackageDetails, viewer: Role, today: date, ref: str | None = None) -> PackageDetails | Viewed:
    """What `viewer` may see of `details` on `today`; NotFound (as for an unknown `ref`) when nothing at all."""
    if viewer.sees_closed:
        return details
    from strongroom.archive import PackageDetails

    summary = details.summary
    by_target = {d.target: d for d in details.descriptions}
    package_rule = effective_access(details.access, None)
    if package_rule is not None and not package_rule.is_open_on(today):
        if not stands_in(package_rule, today):
            raise not_found(ref if ref is not None else summary.uuid)
        dc = by_target.get(PACKAGE_TARGET)
        return RestrictedView(
            summary.uuid, package_rule.status, masked_title(package_rule.redacted_title),
            _values(dc, "identifier"), _values(dc, "date"), package_rule.exemption, package_rule.opening_date,
        )  # fmt: skip
    hidden: set[str] = set()
    masked: list[MaskedFile] = []
    withheld = 0
    for record in details.files:
        rule = effective_access(details.access, record.path)
        if rule is None or rule.is_open_on(today):
            continue
        hidden.add(record.path)
        if record.role is not FileRole.ORIGINAL:
            continue  # a derivative or housekeeping file of a hidden record: part of it, not a record of its own
        if stands_in(rule, today):
            dc = by_target.get(record.path)
            masked.append(
                MaskedFile(record.uuid, masked_title(rule.redacted_title), _values(dc, "identifier"),
                           _values(dc, "date"), rule.exemption, rule.opening_date)
            )  # fmt: skip
        else:
            withheld += 1
    files = [f for f in details.files if f.path not in hidden]
    versions = details.versions
    if hidden:
        # The totals, the payload's digest (over every record's path and checksum) and the versions (their
        # counts, sizes and the reasons staff typed for them) would tell of the hidden records: the visitor gets
        # the totals of what they are shown, and no versions.
        summary = replace(summary, files=len(files), bytes=sum(f.size for f in files), payload_sha256="")
        versions = []
    visible = PackageDetails(
        summary,
        files,
        [],  # events name paths and reasons of closed records
        [d for d in details.descriptions if _described_visible(d.target, details.access, today)],
        versions,
        [],
    )
    return ResearcherDetails(visible, withheld, tuple(masked))


def check_export(details: PackageDetails, viewer: Role, today: date, version: int, ref: str) -> None:
    """Refuse a researcher's export unless every record is open today (NotFound for a hidden package); staff
    may always export. Any rule not open today refuses, even one on a path the version lacks: better too
    strict than a closed record handed out."""
    if viewer.sees_closed:
        return
    package_rule = effective_access(details.access, None)
    if package_rule is not None and not package_rule.is_open_on(today) and not stands_in(package_rule, today):
        raise not_found(ref)
    shut = [rule for rule in details.access if not rule.is_open_on(today)]
    if shut:
        raise StrongroomError(
            f"Version {version} of this package holds records that are not open to researchers today, so it "
            "cannot be exported as a researcher: an export is the whole package, as stored.",
            details=[
                f"Give a researcher a DIP instead, which leaves those records out: strongroom dip {ref} DEST "
                "--as researcher",
                "Staff export with --as archivist.",
            ],
        )


def _described_visible(target: str, rules: Sequence[AccessRule], today: date) -> bool:
    if target == PACKAGE_TARGET:
        return True
    rule = effective_access(rules, target)
    return rule is None or rule.is_open_on(today)


def _values(description: DublinCore | None, element: str) -> tuple[str, ...]:
    return tuple(description.elements.get(element, ())) if description is not None else ()
