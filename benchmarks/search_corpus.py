"""Generated file records for the search benchmark: deterministic, streamed, shaped like an archive's.

`documents(seed, start, stop)` yields SearchDocuments number `start` to `stop - 1` of one endless,
seeded sequence: the first 100,000 documents of a 1,000,000 run are the 100,000 of a 100,000 run,
so an index can grow from one size to the next and still hold exactly what a fresh build would.
Nothing is kept in memory beyond one package (about PACKAGE_FILES documents) at a time.

Shape, so that the queries meet what an archive's index meets:
- packages of PACKAGE_FILES files, each package also one package document; the first file of each
  package is its METS (role metadata, found only when a query asks for housekeeping);
- titles and names from a vocabulary of archival words; Dublin Core creators from a list of
  people and bodies, some with accents (Montréal, Zoë, Müller); dates over 1850-2025;
- PUIDs, format names and risk from a small distribution like a mixed office transfer's;
- content of 50-300 words for text-bearing formats (images and sound have none), drawn from a
  Zipf-like vocabulary of VOCABULARY_SIZE words: a few words are in most records, most are rare;
- CLOSED_SHARE of the files closed: some until a day still to come, some until a day that has
  passed (they count as open), some with no opening date.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from strongroom.model import AccessStatus, FileRole, Validity
from strongroom.search.base import SearchDocument

PACKAGE_FILES = 1000
VOCABULARY_SIZE = 20_000
ZIPF_EXPONENT = 1.0
CLOSED_SHARE = 0.10
# The day queries are judged on (SearchQuery.today), so totals do not change from one day to the next.
TODAY = dt.date(2026, 6, 1)
FIRST_DAY = dt.date(1850, 1, 1)
LAST_DAY = dt.date(2025, 12, 31)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The commonest words of English prose come first in the Zipf ranks, archival words next, so a
# "common word" query meets a word found in most records, as `the` or `council` would be.
COMMON = _words(
    "the of and to a in that is was he for it with as his on be at by had not are but from or have an they "
    "which one you were her all she there would their we him been has when who will more no if out so said "
    "what up its about into than them can only other new some could time these two may then do first any my "
    "now such like our over man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people how too little state good very make world "
    "still own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three"
)
ARCHIVAL = _words(
    "council minutes parish survey planning committee borough county estate deed lease charter register "
    "baptism burial marriage census map plan drawing elevation correspondence letter memorandum report "
    "accounts ledger rate valuation tithe enclosure school hospital asylum workhouse poor relief vestry "
    "churchwarden overseer highway bridge railway canal harbour market fair mill quarry colliery brewery "
    "regiment militia volunteer police constable magistrate sessions court petition appeal inquest coroner "
    "electoral roll franchise ballot election mayor alderman councillor clerk treasurer surveyor engineer "
    "architect builder contractor tender specification schedule inventory catalogue photograph negative "
    "glass slide postcard newspaper cutting pamphlet poster handbill notice bylaw ordinance statute act bill "
    "gazette journal diary notebook sketch album scrapbook sermon hymn choir organ bell tower chapel "
    "cathedral priory abbey manor farm cottage tenement allotment common green park cemetery reservoir "
    "sewer drainage waterworks gasworks tramway omnibus station wharf dock warehouse factory foundry "
    "shipyard trade union guild apprentice indenture settlement removal bastardy vagrancy pauper almshouse "
    "charity trust bequest will probate testament executor heir mortgage conveyance auction sale rent "
    "tenant landlord steward bailiff reeve"
)
CREATORS = (
    "Montréal City Council", "Zoë Hartley", "Jürgen Müller", "Ève Lefèbvre", "Søren Kjær", "Siobhán Ó Briain",
    "José Martínez", "Ingrid Åström", "Dvořák & Sons", "Łukasz Wójcik", "Parish of St Mary", "Borough Surveyor",
    "County Record Office", "Harbour Board", "Water Company", "School Board", "Board of Guardians",
    "Quarter Sessions", "Margaret Ellis", "Thomas Hardcastle", "Edith Pemberton", "Arthur Blackwood",
    "Rhys ap Gruffydd", "Mary Ann Evans", "William Cobbett", "Highways Committee", "Vestry Clerk",
    "Planning Department", "Chief Constable", "Medical Officer of Health",
)  # fmt: skip
SUBJECTS = (
    "Local government", "Public health", "Transport", "Education", "Poor law", "Land and property", "Religion",
    "Industry", "Elections", "Buildings", "Maps and plans", "Courts", "Families", "Charities", "Water supply",
)  # fmt: skip


@dataclass(frozen=True)
class Format:
    puid: str | None
    name: str | None
    extension: str
    risk: str
    share: float  # of the files
    text: bool  # has words inside (extracted text), unlike images and sound


# A mixed office transfer: mostly PDF and office documents, some images, a few odd ones out.
FORMATS = (
    Format("fmt/276", "Acrobat PDF 1.7 - Portable Document Format", "pdf", "low", 0.22, True),
    Format("fmt/95", "Acrobat PDF/A - Portable Document Format", "pdf", "low", 0.06, True),
    Format("fmt/412", "Microsoft Word for Windows", "docx", "low", 0.16, True),
    Format("fmt/40", "Microsoft Word Document", "doc", "medium", 0.08, True),
    Format("fmt/214", "Microsoft Excel for Windows", "xlsx", "low", 0.05, True),
    Format("fmt/61", "Microsoft Excel 97 Workbook (xls)", "xls", "medium", 0.04, True),
    Format("fmt/215", "Microsoft Powerpoint for Windows", "pptx", "low", 0.02, True),
    Format("x-fmt/111", "Plain Text File", "txt", "low", 0.05, True),
    Format("fmt/96", "Hypertext Markup Language", "html", "low", 0.03, True),
    Format("fmt/101", "Extensible Markup Language", "xml", "low", 0.02, True),
    Format("fmt/950", "MIME Email", "eml", "medium", 0.04, True),
    Format("fmt/43", "JPEG File Interchange Format", "jpg", "low", 0.10, False),
    Format("fmt/353", "Tagged Image File Format", "tif", "low", 0.07, False),
    Format("fmt/134", "MPEG 1/2 Audio Layer 3", "mp3", "medium", 0.02, False),
    Format("x-fmt/430", "Microsoft Outlook Email Message", "msg", "high", 0.01, True),
    Format(None, None, "dat", "unknown", 0.03, False),
)  # fmt: skip
_VALIDITY = (Validity.VALID.value, Validity.WELL_FORMED.value, Validity.INVALID.value, Validity.NOT_CHECKED.value, None)
_VALIDITY_WEIGHTS = (0.55, 0.15, 0.03, 0.12, 0.15)


def _pseudo_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    """`count` distinct made-up words (2-4 syllables), none of them in `taken`."""
    onsets = _words("b c d f g h j k l m n p r s t v w br cr dr fr gr pr tr bl cl fl gl pl sl st sp sh ch th")
    vowels = _words("a e i o u ai ea ie ou oa ee")
    codas = ["", "", "", "n", "r", "l", "s", "t", "m", "nd", "rt", "ck", "ng", "st"]
    words: list[str] = []
    seen = set(taken)
    while len(words) < count:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@dataclass(frozen=True)
class Corpus:
    """The vocabulary and the draws for one seed; documents() is cheap to call again."""

    seed: int = 8

    @cached_property
    def vocabulary(self) -> tuple[str, ...]:
        """Every content word, commonest first (rank r is drawn with weight 1 / r ** ZIPF_EXPONENT)."""
        head = list(dict.fromkeys([*COMMON, *ARCHIVAL]))
        rng = random.Random(f"{self.seed}/vocabulary")
        return tuple(head + _pseudo_words(rng, VOCABULARY_SIZE - len(head), set(head)))

    @cached_property
    def _cumulative(self) -> list[float]:
        return list(itertools.accumulate(1 / rank**ZIPF_EXPONENT for rank in range(1, VOCABULARY_SIZE + 1)))

    def share_of_documents(self, rank: int) -> float:
        """About the share of text-bearing records whose content holds the word of this rank (0-based)."""
        p = (self._cumulative[rank] - (self._cumulative[rank - 1] if rank else 0.0)) / self._cumulative[-1]
        return 1 - (1 - p) ** 175  # 175 words a record on average

    def documents(self, start: int, stop: int) -> Iterator[SearchDocument]:
        """File documents number start to stop-1 (plus the package document with each package's first file)."""
        first_package, last_package = start // PACKAGE_FILES, (stop - 1) // PACKAGE_FILES
        for number in range(first_package, last_package + 1):
            lo = max(start - number * PACKAGE_FILES, 0)
            hi = min(stop - number * PACKAGE_FILES, PACKAGE_FILES)
            yield from self._package(number, lo, hi)

    def _package(self, number: int, lo: int, hi: int) -> Iterator[SearchDocument]:
        # One generator per package, seeded by its number: any slice of the sequence is the same.
        rng = random.Random(f"{self.seed}/package/{number}")
        package = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        series = rng.sample(ARCHIVAL, 3)
        year = rng.randint(FIRST_DAY.year, LAST_DAY.year)
        package_name = f"{series[0]}-{series[1]}-{year}-{number:05d}"
        creator = rng.choice(CREATORS)
        closed_package = rng.random() < 0.02  # now and then a whole package is closed
        subject = rng.choice(SUBJECTS)
        if lo == 0:
            yield SearchDocument(
                package=package, package_name=package_name, path=None,
                title=f"{series[0].title()} {series[1]} and {series[2]}, {year}",
                dublin_core={"title": (f"{series[0].title()} {series[1]}",), "creator": (creator,),
                             "date": (str(year),), "subject": (subject,)},
                date=dt.date(year, 1, 1),
                access=AccessStatus.CLOSED if closed_package else AccessStatus.OPEN,
                opening_date=dt.date(year + 100, 1, 1) if closed_package else None,
            )  # fmt: skip
        for index in range(hi):
            # Every earlier file's draws happen, shown or not, so a slice never shifts the ones after it.
            document = self._file(rng, index, package, package_name, series, creator, closed_package)
            if lo <= index < hi:
                yield document

    def _file(
        self, rng: random.Random, index: int, package: str, package_name: str, series: list[str], creator: str,
        closed_package: bool,
    ) -> SearchDocument:  # fmt: skip
        vocabulary, cumulative = self.vocabulary, self._cumulative
        if index == 0:
            return SearchDocument(
                package=package, package_name=package_name, path=f"METS.{package}.xml", title=None,
                name=f"METS.{package}.xml", puid="fmt/101", format_name="Extensible Markup Language",
                content=" ".join(rng.choices(vocabulary, cum_weights=cumulative, k=60)),
                role=FileRole.METADATA.value, risk="low", file_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            )  # fmt: skip
        kind = rng.choices(FORMATS, weights=[f.share for f in FORMATS])[0]
        words = rng.sample(ARCHIVAL, 2)
        day = FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))
        folder = rng.choice(series)
        name = f"{words[0]}_{words[1]}_{day:%Y-%m}_{index:04d}.{kind.extension}"
        title = f"{words[0].title()} of the {rng.choice(series)} {words[1]}, {day:%B %Y}"
        who = creator if rng.random() < 0.7 else rng.choice(CREATORS)
        access, opening = AccessStatus.OPEN, None
        if closed_package:
            access, opening = AccessStatus.CLOSED, dt.date(day.year + 100, 1, 1)
        elif rng.random() < CLOSED_SHARE:
            access = AccessStatus.CLOSED
            draw = rng.random()
            if draw < 0.45:
                opening = TODAY + dt.timedelta(days=rng.randint(30, 30_000))  # still to come
            elif draw < 0.85:
                opening = TODAY - dt.timedelta(days=rng.randint(1, 20_000))  # has passed: counts as open
        content = ""
        if kind.text:
            content = " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(50, 300)))
        return SearchDocument(
            package=package, package_name=package_name, path=f"objects/{folder}/{day.year}/{name}", title=title,
            dublin_core={"title": (title,), "creator": (who,), "date": (day.isoformat(),),
                         "subject": (rng.choice(SUBJECTS),)},
            name=name, puid=kind.puid, format_name=kind.name, date=day, content=content, access=access,
            opening_date=opening, file_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            role=FileRole.ORIGINAL.value, validity=rng.choices(_VALIDITY, weights=_VALIDITY_WEIGHTS)[0],
            risk=kind.risk,
        )  # fmt: skip
