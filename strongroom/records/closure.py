"""Closure periods and FOI/EIR exemptions: the terms of a closed or restricted record, and its opening date.

The exemptions a record may cite ship as data (`strongroom/data/foi_exemptions.toml`), so a new
regulation is an edit, not a release. An opening date is either given (`--until`) or computed
as closure start + period, where the start may be the date of the last record (the UK 20-year
rule counts from it); `[records] open_on_new_year` moves a computed date to the 1 January after.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType

from strongroom.errors import StrongroomError
from strongroom.model import AccessRule, AccessStatus, DublinCore, FileRecord, FileRole
from strongroom.records.model import Period

LAST_RECORD = "last-record"
DEFAULT_REDACTED_TITLE = "Restricted record"
MAX_TITLE = 500  # a redacted title is a title, not a document

_FOI = re.compile(r"(?:s|sec|section)?\.?\s*(\d{1,3}[a-z]?)", re.IGNORECASE)
_EIR = re.compile(r"(?:reg|r|regulation)\.?\s*(\d{1,3}(?:\s*\(\s*\w+\s*\))*)", re.IGNORECASE)
_DATES = re.compile(r"(?<!\d)(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?!\d)")


@dataclass(frozen=True)
class Exemption:
    code: str  # as cited: "s.40", "reg.12(4)(e)"
    name: str
    act: str


@dataclass(frozen=True)
class ClosureTerms:
    """What `strongroom access` was told about a closure, before the opening date is worked out."""

    start: date | None = None  # the closure period runs from here...
    from_last_record: bool = False  # ...or from the date of the last record (`--closure-start last-record`)
    period: Period | None = None
    exemption: str | None = None  # normalised ("s.40")
    redacted_title: str | None = None

    @property
    def has_period(self) -> bool:
        return self.period is not None or self.start is not None or self.from_last_record


@dataclass(frozen=True)
class Closure:
    """The terms as recorded on the AccessRule: the start actually used and the opening date."""

    opening_date: date | None
    start: date | None
    period: str | None  # ISO 8601 text
    exemption: str | None
    redacted_title: str | None


@cache
def exemptions() -> Mapping[str, Exemption]:
    """Every known exemption by its code, in the file's order (read once: it is package data)."""
    text = resources.files("strongroom").joinpath("data/foi_exemptions.toml").read_text("utf-8")
    rows = tomllib.loads(text).get("exemption", [])
    return MappingProxyType({str(r["code"]): Exemption(str(r["code"]), str(r["name"]), str(r["act"])) for r in rows})


def exemption_named(code: str) -> Exemption:
    return exemptions()[normalise_exemption(code)]


def normalise_exemption(text: str) -> str:
    """The cited form of an exemption code ("40", "s40", "S.40" → "s.40"); StrongroomError for an unknown one."""
    cleaned = unicodedata.normalize("NFKC", str(text)).strip()
    known = exemptions()
    folded = {code.casefold(): code for code in known}
    candidate: str | None = None
    eir = _EIR.fullmatch(cleaned)
    foi = _FOI.fullmatch(cleaned)
    if eir and cleaned[:1].lower() == "r":
        candidate = "reg." + re.sub(r"\s+", "", eir.group(1))
    elif foi:
        candidate = "s." + foi.group(1)
    elif re.fullmatch(r"\d{1,3}(?:\s*\(\s*\w+\s*\))+", cleaned):  # "12(4)(e)" is only ever an EIR regulation
        candidate = "reg." + re.sub(r"\s+", "", cleaned)
    if candidate is not None and candidate.casefold() in folded:
        return folded[candidate.casefold()]
    listed = ", ".join(f"{e.code} ({e.name})" for e in known.values())
    raise StrongroomError(
        f"{cleaned[:80]!r} is not an exemption this archive knows.",
        details=[
            f"Give one of: {listed}.",
            "The list is strongroom/data/foi_exemptions.toml (FOI Act 2000 Part II and EIR 2004).",
        ],
    )


def closure_terms(
    start: str | None, period: str | None, exemption: str | None, redacted_title: str | None
) -> ClosureTerms | None:
    """The CLI's closure options read and checked (None when none was given)."""
    if start is None and period is None and exemption is None and redacted_title is None:
        return None
    start_day: date | None = None
    from_last = False
    if start is not None:
        if start.strip().lower() == LAST_RECORD:
            from_last = True
        else:
            try:
                start_day = date.fromisoformat(start.strip())
            except ValueError:
                raise StrongroomError(
                    f"--closure-start {start[:40]!r} is neither a day (YYYY-MM-DD) nor {LAST_RECORD!r}.",
                    details=[
                        f"Give the day the closure period runs from, or {LAST_RECORD} for the last record's date."
                    ],
                ) from None
    parsed = Period.parse(period) if period is not None else None
    if parsed is not None and parsed == Period():
        raise StrongroomError("A closure period of nothing closes nothing; give a period such as P20Y.")
    return ClosureTerms(
        start=start_day,
        from_last_record=from_last,
        period=parsed,
        exemption=normalise_exemption(exemption) if exemption is not None else None,
        redacted_title=clean_title(redacted_title) if redacted_title is not None else None,
    )


def clean_title(text: str) -> str:
    """A redacted title as it will be shown: one line of printable text."""
    cleaned = " ".join(unicodedata.normalize("NFC", text).split())
    if not cleaned:
        raise StrongroomError("--redacted-title is empty; give the title a researcher should see, or leave it out.")
    if len(cleaned) > MAX_TITLE:
        raise StrongroomError(f"--redacted-title is {len(cleaned)} characters long; keep it to {MAX_TITLE}.")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs") for char in cleaned):
        raise StrongroomError("--redacted-title holds control or invisible characters; give plain text.")
    return cleaned


def resolve(
    status: AccessStatus,
    until: date | None,
    terms: ClosureTerms | None,
    last_record: date | None,
    *,
    open_on_new_year: bool = False,
) -> Closure:
    """The opening date and the terms to record, or StrongroomError saying what to change."""
    terms = terms or ClosureTerms()
    if status is AccessStatus.OPEN and (until is not None or terms != ClosureTerms()):
        raise StrongroomError(
            "An open record has no closure and no opening date: leave out --until, --closure-start, --period, "
            "--exemption and --redacted-title, or set --status closed or restricted."
        )
    if until is not None and terms.has_period:
        raise StrongroomError(
            "Give the opening date either directly (--until) or as a closure start and period "
            "(--closure-start, --period), not both."
        )
    start = terms.start
    if terms.from_last_record:
        if last_record is None:
            raise StrongroomError(
                "No record has a date (no Dublin Core date, no modification date), so the closure "
                "cannot run from the last record.",
                details=["Give the day with --closure-start YYYY-MM-DD, or an opening date with --until."],
            )
        start = last_record
    if (start is None) != (terms.period is None):
        raise StrongroomError(
            "A closure period needs both a start and a length.",
            details=["Give --closure-start YYYY-MM-DD (or last-record) together with --period, e.g. P20Y."],
        )
    opening = until
    if start is not None and terms.period is not None:
        opening = terms.period.add_to(start)
        if open_on_new_year:
            # The UK rule: a record opens on the 1 January after the year its closure period ends.
            opening = date(opening.year + 1, 1, 1)
    return Closure(
        opening_date=opening,
        start=start,
        period=terms.period.iso() if terms.period is not None else None,
        exemption=terms.exemption,
        redacted_title=terms.redacted_title,
    )


def last_record_date(
    files: Iterable[FileRecord], descriptions: Iterable[DublinCore], target: str | None
) -> date | None:
    """The latest date of the originals under `target` (None: the whole package): their modification dates and
    the Dublin Core dates described at or below it; a folder's or the package's dates count only where
    nothing at or below `target` has a date of its own."""

    def within(path: str) -> bool:
        return target is None or path == target or path.startswith(target.rstrip("/") + "/")

    days = [
        record.modified.date()
        for record in files
        if record.role is FileRole.ORIGINAL and within(record.path) and record.modified is not None
    ]
    described = list(descriptions)
    own = [day for d in described if within(d.target) for day in dates_in(d.elements.get("date", ()))]
    if not own and target is not None:
        around = [d for d in described if d.target == "objects" or target.startswith(d.target.rstrip("/") + "/")]
        own = [day for d in around for day in dates_in(d.elements.get("date", ()))]
    return max([*days, *own], default=None)


def dates_in(values: Iterable[str]) -> list[date]:
    """Every day written in Dublin Core date values ("1999", "1990/1995", "2001-03-04"); a year counts as its end."""
    found: list[date] = []
    for value in values:
        for match in _DATES.finditer(value):
            year, month, day = int(match.group(1)), match.group(2), match.group(3)
            try:
                if month is None:
                    found.append(date(year, 12, 31))
                elif day is None:
                    found.append(Period(months=1).add_to(date(year, int(month), 1)) - timedelta(days=1))
                else:
                    found.append(date(year, int(month), int(day)))
            except ValueError:
                continue
    return found


def masked_title(redacted_title: str | None) -> str:
    return redacted_title or DEFAULT_REDACTED_TITLE


def title_while_closed(rules: Iterable[AccessRule], title: str, day: date) -> str:
    """The package's redacted title while the whole package is not open on `day` (where one is set), else
    `title`: what the due list, stubs, certificates and the journal export name a closed package by."""
    rule = next((r for r in rules if r.path is None), None)
    if rule is not None and not rule.is_open_on(day) and rule.redacted_title:
        return rule.redacted_title
    return title
