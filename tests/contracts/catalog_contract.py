"""The Catalog conformance suite.

A backend's test module subclasses `CatalogContract` and `CopiesContract` (in
catalog_copies_contract.py, the copies in storage locations) and provides a `catalog` fixture
that yields an open, empty catalog; tests that need other processes reopen it from
`catalog.url` (so that URL must open the same catalog, as the protocol promises).
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import signal
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TypeVar

import pytest

from strongroom.catalog import open_catalog
from strongroom.catalog.base import Catalog
from strongroom.errors import DuplicateTransferError, NotFound, StrongroomError
from strongroom.model import (
    AccessRule,
    AccessStatus,
    Agent,
    AgentType,
    Basis,
    CopyRecord,
    DublinCore,
    Event,
    FileRecord,
    FileRole,
    FormatCount,
    FormatMatch,
    Identification,
    JournalAnchor,
    Outcome,
    PackageSummary,
    VersionRecord,
)

T = TypeVar("T")

T0 = datetime(2024, 5, 1, 9, 30, 0, 123456, tzinfo=UTC)
HOSTILE_PATH = "objects/hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt"
CONTROL = "tab\tnew\nline\rreturn\x01\x1f\x7f bell\x07"  # every control character but NUL
HOSTILE_PATHS = (
    HOSTILE_PATH,
    "objects/100% done/50_percent_off.txt",
    "objects/%/_/%_%.bin",
    "objects/combining/Montre\u0301al.txt",  # NFD: must come back as given
    "objects/emoji/📁/🗄️.txt",
    f"objects/control/{CONTROL}.txt",
    "objects/back\\slash/a\\b.txt",
    "objects/Z-upper.txt",
    "objects/a-lower.txt",
)

AGENT_TOOL = Agent("software", "strongroom 0.2", "Strongroom", AgentType.SOFTWARE, "note ≠ <&>")
AGENT_ORG = Agent("repository code", "TCA", "Test County Archive", AgentType.ORGANIZATION)
AGENT_PERSON = Agent("local user", "archivist", f"Ann {CONTROL} O'Hara", AgentType.PERSON, None)


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def digest(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


def identification(*puids: str, warnings: tuple[str, ...] = ()) -> Identification:
    return Identification(
        basis=Basis.SIGNATURE,
        matches=tuple(
            FormatMatch(puid, f"Format {puid} ≠ <&>", f"1.{i}" if i else None, "application/x-test" if i else None,
                        f"signature {i}")
            for i, puid in enumerate(puids)
        ),
        tool="fido",
        tool_version="1.6.1",
        signature_version="v120",
        warnings=warnings,
    )  # fmt: skip


def make_file(
    path: str, *, role: FileRole = FileRole.ORIGINAL, ident: Identification | None = None, size: int = 10
) -> FileRecord:
    return FileRecord(
        uuid=new_uuid(), path=path, original_name=path.rsplit("/", 1)[-1], size=size, sha256=digest(path),
        role=role, identification=ident, modified=T0 - timedelta(days=3),
    )  # fmt: skip


def make_summary(
    package: str | None = None,
    *,
    name: str = "minutes",
    created: datetime = T0,
    payload: str = "",
    title: str | None = "Minutes of the council",
    indexed: bool = False,
    version: int = 1,
) -> PackageSummary:
    package = package or new_uuid()
    return PackageSummary(
        uuid=package, name=name, created=created, files=2, bytes=20, payload_sha256=payload or digest(package),
        storage_key=f"{name}-{package}", title=title, indexed=indexed, version=version,
        updated=created + timedelta(seconds=version),
    )  # fmt: skip


def make_version(summary: PackageSummary, number: int = 1, message: str = "ingest") -> VersionRecord:
    return VersionRecord(
        package=summary.uuid, number=number, created=summary.created + timedelta(seconds=number), message=message,
        files=summary.files, bytes=summary.bytes, new_files=summary.files, new_bytes=summary.bytes,
        operator="archivist" if number == 1 else None,
    )  # fmt: skip


def make_event(
    kind: str = "ingestion",
    *,
    when: datetime = T0,
    file_uuid: str | None = None,
    version: int | None = 1,
    detail: str = "detail",
) -> Event:
    return Event(
        uuid=new_uuid(), type=kind, datetime=when, detail=detail, outcome=Outcome.SUCCESS,
        outcome_detail=f"outcome {CONTROL}", agents=(AGENT_TOOL.key, AGENT_ORG.key), file_uuid=file_uuid,
        version=version,
    )  # fmt: skip


def add(
    catalog: Catalog,
    summary: PackageSummary,
    files: Iterable[FileRecord] = (),
    events: Iterable[Event] = (),
    *,
    agents: Iterable[Agent] = (AGENT_TOOL, AGENT_ORG),
    descriptions: Iterable[DublinCore] = (),
    claim: bool = True,
    stored_in: Sequence[str] = (),
) -> None:
    catalog.add_package(
        summary, make_version(summary), files, events, agents, descriptions, claim_payload=claim, stored_in=stored_in
    )


def once(items: Iterable[T]) -> Iterator[T]:
    """A generator: the catalog must take everything from a single pass."""
    yield from list(items)


def failing_after(items: Iterable[T], count: int) -> Iterator[T]:
    for i, item in enumerate(items):
        if i == count:
            raise RuntimeError("the source failed halfway")
        yield item


def expected_summary(summary: PackageSummary, version: VersionRecord) -> PackageSummary:
    return dataclasses.replace(summary, version=version.number, updated=summary.updated or version.created)


# --- work done in other processes (module level, so that spawned processes can import it) -------------


def _claim_in_process(url: str, package: str, payload: str, start_at: float) -> str:
    catalog = open_catalog(url)
    try:
        summary = make_summary(package, name=f"racer-{package[:8]}", payload=payload)
        files = [make_file(f"objects/{i:04}.txt") for i in range(300)]
        time.sleep(max(0.0, start_at - time.time()))
        try:
            add(catalog, summary, files, [make_event(file_uuid=f.uuid) for f in files])
        except DuplicateTransferError as exc:
            return f"duplicate: {exc}"
        return "won"
    finally:
        catalog.close()


def _hold_lock(url: str, name: str, held: threading.Event, release: threading.Event | None) -> None:
    catalog = open_catalog(url)
    with catalog.lock(name) as got:
        assert got
        held.set()
        if release is None:
            time.sleep(300)  # until killed
        else:
            release.wait(120)
    catalog.close()


def _open_in_process(url: str, start_at: float) -> list[str]:
    time.sleep(max(0.0, start_at - time.time()))
    catalog = open_catalog(url)
    try:
        return sorted(catalog.package_uuids())
    finally:
        catalog.close()


def spawn() -> multiprocessing.context.SpawnContext:
    # Spawned, not forked: a child must not share the parent's open database connections.
    return multiprocessing.get_context("spawn")


class CatalogContract:
    """Tests every Catalog must pass. Subclasses provide the `catalog` fixture: open and empty."""

    # --- basics ---------------------------------------------------------------------------------

    def test_is_a_catalog_and_starts_empty(self, catalog: Catalog) -> None:
        assert isinstance(catalog, Catalog)
        assert isinstance(catalog.url, str) and catalog.url
        assert catalog.packages() == []
        assert catalog.package_uuids() == set()
        assert catalog.unindexed() == []
        assert catalog.agents() == []
        assert catalog.format_counts() == []
        assert catalog.find_package("minutes") is None

    def test_add_package_round_trips_every_field(self, catalog: Catalog) -> None:
        summary = make_summary(name="council minutes", title=f"Minutes ≠ <&> {CONTROL}")
        version = make_version(summary)
        several = identification("fmt/276", "fmt/354", "x-fmt/111", warnings=("extension mismatch", "≠ warning"))
        files = [
            make_file("objects/minutes/1999.pdf", ident=several, size=12_345_678_901),  # beyond 32 bits
            make_file("objects/minutes/notes.txt", ident=identification("x-fmt/111")),
            make_file("objects/unknown.bin", ident=None),
            dataclasses.replace(make_file("logs/ingest.log", role=FileRole.LOG), modified=None),
            make_file("metadata/metadata.csv", role=FileRole.METADATA, ident=identification("x-fmt/18")),
            make_file("objects/submissionDocumentation/deed.pdf", role=FileRole.SUBMISSION_DOCUMENTATION),
        ]
        events = [
            make_event("ingestion", version=1),
            make_event("message digest calculation", file_uuid=files[0].uuid, version=None),
            make_event("format identification", file_uuid=files[0].uuid, detail=f"FIDO ≠ {CONTROL}"),
        ]
        descriptions = [
            DublinCore("objects", {"dc.title": ("Minutes",), "dc.subject": ("council", "minutes", "council")}),
            DublinCore("objects/minutes/1999.pdf", {"dc.description": (f"≠ <&> {CONTROL}",), "dc.date": ()}),
        ]
        catalog.add_package(
            summary, version, files, events, [AGENT_TOOL, AGENT_ORG, AGENT_PERSON], descriptions, claim_payload=True
        )

        assert catalog.find_package(summary.uuid) == summary
        assert catalog.packages() == [summary]
        assert catalog.package_uuids() == {summary.uuid}
        assert list(catalog.files(summary.uuid)) == sorted(files, key=lambda f: f.path)
        stored = {f.path: f for f in catalog.files(summary.uuid)}
        assert stored["objects/minutes/1999.pdf"].identification == several
        assert stored["objects/minutes/1999.pdf"].modified == T0 - timedelta(days=3)
        assert stored["objects/unknown.bin"].identification is None
        assert catalog.events(summary.uuid) == sorted(events, key=lambda e: (e.datetime, e.type, e.uuid))
        assert catalog.descriptions(summary.uuid) == sorted(descriptions, key=lambda d: d.target)
        assert catalog.agents() == sorted([AGENT_TOOL, AGENT_ORG, AGENT_PERSON], key=lambda a: a.key)
        assert catalog.versions(summary.uuid) == [version]
        assert catalog.access_rules(summary.uuid) == []

    def test_times_round_trip_as_the_same_instant_and_sort_as_times(self, catalog: Catalog) -> None:
        plus_two = timezone(timedelta(hours=2))
        summary = dataclasses.replace(make_summary(created=datetime(2024, 5, 1, 12, 0, tzinfo=plus_two)), updated=None)
        early = make_event("b", when=datetime(2024, 5, 1, 10, 0, tzinfo=plus_two))  # 08:00 UTC
        late = make_event("a", when=datetime(2024, 5, 1, 9, 0, tzinfo=UTC))
        add(catalog, summary, events=[late, early])
        found = catalog.find_package(summary.uuid)
        assert found is not None
        assert found.created == summary.created and found.created.utcoffset() is not None
        assert found.updated == make_version(summary).created  # defaults to when the version was made
        assert catalog.events(summary.uuid) == [early, late]

    def test_hostile_paths_names_and_text_round_trip(self, catalog: Catalog) -> None:
        summary = make_summary(name=f"hostile ≠ % _ {CONTROL}", title=HOSTILE_PATH)
        files = [make_file(p, ident=identification("fmt/1")) for p in HOSTILE_PATHS]
        descriptions = [DublinCore(p, {"dc.title": (p, CONTROL, "%", "_")}) for p in HOSTILE_PATHS]
        add(catalog, summary, files, [make_event(file_uuid=f.uuid, detail=f.path) for f in files],
            descriptions=descriptions)  # fmt: skip
        got = list(catalog.files(summary.uuid))
        assert [f.path for f in got] == sorted(HOSTILE_PATHS)  # by code point on every backend
        assert got == sorted(files, key=lambda f: f.path)
        assert catalog.descriptions(summary.uuid) == sorted(descriptions, key=lambda d: d.target)
        assert catalog.find_package(summary.name) == summary
        assert {e.detail for e in catalog.events(summary.uuid)} == set(HOSTILE_PATHS)

    def test_generators_are_consumed_once(self, catalog: Catalog) -> None:
        summary = make_summary()
        files = [make_file(f"objects/{i:05}.txt") for i in range(2500)]  # several chunks
        events = [make_event(file_uuid=f.uuid) for f in files]
        descriptions = [DublinCore(f.path, {"dc.title": (f.path,)}) for f in files[:1200]]
        catalog.add_package(
            summary, make_version(summary), once(files), once(events), once([AGENT_TOOL, AGENT_ORG]),
            once(descriptions), claim_payload=True,
        )  # fmt: skip
        assert list(catalog.files(summary.uuid)) == files
        assert len(catalog.events(summary.uuid)) == len(events)
        assert len(catalog.descriptions(summary.uuid)) == 1200
        assert len(catalog.agents()) == 2

    def test_repeated_agents_and_descriptions_in_one_call_keep_the_last(self, catalog: Catalog) -> None:
        summary = make_summary()
        renamed = dataclasses.replace(AGENT_TOOL, name="Strongroom renamed")
        descriptions = [DublinCore("objects", {"dc.title": ("first",)}), DublinCore("objects", {"dc.title": ("last",)})]
        add(catalog, summary, agents=[AGENT_TOOL, renamed], descriptions=descriptions)
        assert catalog.agents() == [renamed]
        assert catalog.descriptions(summary.uuid) == [descriptions[1]]

    # --- the payload claim ------------------------------------------------------------------------

    def test_a_second_claim_of_a_payload_raises_and_writes_nothing(self, catalog: Catalog) -> None:
        first = make_summary(name="first", payload=digest("same"))
        add(catalog, first, [make_file("objects/a.txt")], [make_event()])
        second = make_summary(name="second", payload=digest("same"), created=T0 + timedelta(hours=1))
        newcomer = Agent("software", "other tool", "Other", AgentType.SOFTWARE)
        with pytest.raises(DuplicateTransferError) as raised:
            catalog.add_package(
                second, make_version(second), [make_file("objects/b.txt")], [make_event()], [newcomer],
                [DublinCore("objects", {"dc.title": ("x",)})], claim_payload=True,
            )  # fmt: skip
        message = str(raised.value)
        assert first.uuid in message and "first" in message
        assert "--allow-duplicate" in message
        assert catalog.package_uuids() == {first.uuid}
        assert list(catalog.files(second.uuid)) == []
        assert catalog.events(second.uuid) == []
        assert catalog.versions(second.uuid) == []
        assert catalog.descriptions(second.uuid) == []
        assert newcomer not in catalog.agents()

    def test_unclaimed_duplicates_are_allowed(self, catalog: Catalog) -> None:
        payload = digest("shared")
        unclaimed_first = make_summary(name="a", payload=payload)
        claimed = make_summary(name="b", payload=payload, created=T0 + timedelta(minutes=1))
        unclaimed_later = make_summary(name="c", payload=payload, created=T0 + timedelta(minutes=2))
        add(catalog, unclaimed_first, claim=False)
        add(catalog, claimed, claim=True)
        add(catalog, unclaimed_later, claim=False)
        assert catalog.with_payload(payload) == [unclaimed_first, claimed, unclaimed_later]
        with pytest.raises(DuplicateTransferError, match=claimed.uuid):
            add(catalog, make_summary(name="d", payload=payload), claim=True)

    def test_recording_a_package_again_replaces_it_whole(self, catalog: Catalog) -> None:
        summary = make_summary(payload=digest("again"))
        add(catalog, summary, [make_file("objects/old.txt")], [make_event("old")],
            descriptions=[DublinCore("objects/old.txt", {"dc.title": ("old",)})])  # fmt: skip
        catalog.set_access(AccessRule(summary.uuid, None, AccessStatus.CLOSED, "old rule"))
        renamed = dataclasses.replace(summary, name="renamed", title=None)
        new_file = make_file("objects/new.txt")
        add(catalog, renamed, [new_file], [make_event("new")], claim=True)  # its own claim is no duplicate
        assert catalog.find_package(summary.uuid) == renamed
        assert list(catalog.files(summary.uuid)) == [new_file]
        assert [e.type for e in catalog.events(summary.uuid)] == ["new"]
        assert catalog.descriptions(summary.uuid) == []
        assert catalog.access_rules(summary.uuid) == []
        assert len(catalog.packages()) == 1

    @pytest.mark.slow
    def test_processes_racing_to_claim_one_payload_have_one_winner(self, catalog: Catalog) -> None:
        payload = digest("race")
        racers = [new_uuid() for _ in range(4)]
        start_at = time.time() + 4  # time for the spawned processes to import and open the catalog
        with ProcessPoolExecutor(max_workers=len(racers), mp_context=spawn()) as pool:
            futures = [pool.submit(_claim_in_process, catalog.url, r, payload, start_at) for r in racers]
            results = [f.result(timeout=120) for f in futures]
        winners = [r for r, outcome in zip(racers, results, strict=True) if outcome == "won"]
        assert len(winners) == 1, results
        assert all(winners[0] in outcome for outcome in results if outcome != "won"), results
        assert catalog.package_uuids() == {winners[0]}
        assert len(list(catalog.files(winners[0]))) == 300

    # --- versions, events, access -------------------------------------------------------------------

    def test_add_version_replaces_files_descriptions_and_summary_and_adds_events(self, catalog: Catalog) -> None:
        summary = make_summary(payload=digest("v1"))
        v1_file = make_file("objects/v1.txt", ident=identification("fmt/1"))
        kept = make_file("objects/kept.txt", ident=identification("fmt/2"))
        first_events = [make_event("ingestion"), make_event("fixity check", file_uuid=kept.uuid)]
        add(catalog, summary, [v1_file, kept], first_events,
            descriptions=[DublinCore("objects", {"dc.title": ("v1",)}), DublinCore("objects/v1.txt", {})])  # fmt: skip
        catalog.set_access(AccessRule(summary.uuid, None, AccessStatus.CLOSED, "v1 rule"))

        v2 = make_version(summary, 2, "metadata update: titles")
        summary2 = dataclasses.replace(summary, name="minutes v2", files=3, bytes=30, payload_sha256=digest("v2"),
                                       title="Second title", version=2, updated=v2.created)  # fmt: skip
        new_file = make_file("objects/v2.txt", ident=identification("fmt/3"))
        repeated = dataclasses.replace(first_events[0], detail="changed: must not replace the recorded event")
        second_events = [repeated, make_event("metadata modification", when=T0 + timedelta(days=1), version=2)]
        newcomer = Agent("software", "migration tool", "Migrator", AgentType.SOFTWARE)
        catalog.add_version(summary2, v2, once([kept, new_file]), once(second_events), [newcomer],
                            [DublinCore("objects", {"dc.title": ("v2", "second")})])  # fmt: skip

        assert catalog.find_package(summary.uuid) == summary2
        assert catalog.packages() == [summary2]
        assert list(catalog.files(summary.uuid)) == [kept, new_file]
        assert catalog.descriptions(summary.uuid) == [DublinCore("objects", {"dc.title": ("v2", "second")})]
        events = catalog.events(summary.uuid)
        assert events == sorted([*first_events, second_events[1]], key=lambda e: (e.datetime, e.type, e.uuid))
        assert first_events[0] in events  # the already-recorded event was left as it was
        assert catalog.versions(summary.uuid) == [make_version(summary), v2]
        assert newcomer in catalog.agents()
        assert catalog.access_rules(summary.uuid)[0].reason == "v1 rule"
        fmt = {(c.puid, c.files) for c in catalog.format_counts(summary.uuid)}
        assert fmt == {("fmt/2", 1), ("fmt/3", 1)}  # head files only

    def test_add_version_of_an_unknown_package_is_not_found(self, catalog: Catalog) -> None:
        summary = make_summary()
        with pytest.raises(NotFound):
            catalog.add_version(summary, make_version(summary, 2), [], [], [], [])
        assert catalog.packages() == []

    def test_versions_are_listed_oldest_first(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        versions = [make_version(summary)]
        for number in (2, 3, 4):
            version = make_version(summary, number, f"update {number}")
            catalog.add_version(dataclasses.replace(summary, version=number), version, [], [], [], [])
            versions.append(version)
        assert catalog.versions(summary.uuid) == versions
        found = catalog.find_package(summary.uuid)
        assert found is not None and found.version == 4
        assert catalog.versions(new_uuid()) == []

    def test_record_events_adds_and_skips_recorded_ones(self, catalog: Catalog) -> None:
        summary = make_summary()
        recorded = make_event("ingestion")
        add(catalog, summary, events=[recorded])
        later = make_event("fixity check", when=T0 + timedelta(days=30))
        catalog.record_events(
            summary.uuid, once([dataclasses.replace(recorded, detail="again"), later]), once([AGENT_PERSON])
        )
        assert catalog.events(summary.uuid) == [recorded, later]
        assert AGENT_PERSON in catalog.agents()
        with pytest.raises(NotFound):
            catalog.record_events(new_uuid(), [make_event()], [])

    def test_events_order_and_file_filter(self, catalog: Catalog) -> None:
        summary = make_summary()
        file_a, file_b = make_file("objects/a.txt"), make_file("objects/b.txt")
        tie = [make_event("validation", when=T0, file_uuid=file_a.uuid) for _ in range(3)]
        events = [
            make_event("ingestion", when=T0 + timedelta(hours=1)),
            make_event("format identification", when=T0, file_uuid=file_a.uuid),
            make_event("message digest calculation", when=T0, file_uuid=file_b.uuid),
            make_event("accession", when=T0 - timedelta(microseconds=1)),
            *tie,
        ]
        add(catalog, summary, [file_a, file_b], events)
        expected = sorted(events, key=lambda e: (e.datetime, e.type, e.uuid))
        assert catalog.events(summary.uuid) == expected
        assert catalog.events(summary.uuid, file_uuid=file_a.uuid) == [
            e for e in expected if e.file_uuid == file_a.uuid
        ]
        assert catalog.events(summary.uuid, file_uuid=new_uuid()) == []
        assert catalog.events(new_uuid()) == []

    def test_access_rules(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        changed = T0 + timedelta(days=1)
        file_rule = AccessRule(summary.uuid, HOSTILE_PATH, AccessStatus.CLOSED, f"personal data {CONTROL}",
                               opening_date=date(2090, 1, 1), changed=changed, event_uuid=new_uuid())  # fmt: skip
        folder_rule = AccessRule(summary.uuid, "objects/minutes", AccessStatus.OPEN, "reviewed")
        package_rule = AccessRule(summary.uuid, None, AccessStatus.CLOSED, "under review", changed=changed)
        for rule in (file_rule, folder_rule, package_rule):
            catalog.set_access(rule)
        assert catalog.access_rules(summary.uuid) == [package_rule, file_rule, folder_rule]
        # a rule replaces the earlier one for the same (package, path); the package rule leaves file rules alone
        reopened = AccessRule(summary.uuid, None, AccessStatus.OPEN, "review finished", changed=changed)
        reclosed = dataclasses.replace(folder_rule, status=AccessStatus.CLOSED, reason="complaint")
        catalog.set_access(reopened)
        catalog.set_access(reclosed)
        assert catalog.access_rules(summary.uuid) == [reopened, file_rule, reclosed]
        assert catalog.access_rules(new_uuid()) == []
        with pytest.raises(NotFound):
            catalog.set_access(AccessRule(new_uuid(), None, AccessStatus.OPEN, "no such package"))

    # --- finding ----------------------------------------------------------------------------------

    def test_find_package_by_uuid_prefix_and_name(self, catalog: Catalog) -> None:
        one = make_summary("12345678-aaaa-4aaa-8aaa-aaaaaaaaaaaa", name="same name")
        two = make_summary("12345679-bbbb-4bbb-8bbb-bbbbbbbbbbbb", name="same name", created=T0 + timedelta(1))
        three = make_summary("abcdef01-cccc-4ccc-8ccc-cccccccccccc", name="50%_off")
        for summary in (one, two, three):
            add(catalog, summary)
        assert catalog.find_package(one.uuid) == one
        assert catalog.find_package("12345678") == one  # a unique prefix of 8 characters
        assert catalog.find_package("12345679-bb") == two
        assert catalog.find_package("abcdef0") is None  # shorter than 8: not looked up as a prefix
        assert catalog.find_package("50%_off") == three
        assert catalog.find_package("50%") is None
        assert catalog.find_package("nothing like it") is None
        assert catalog.find_package(one.uuid.upper()) is None

    def test_find_package_treats_like_wildcards_literally(self, catalog: Catalog) -> None:
        summary = make_summary("12345678-aaaa-4aaa-8aaa-aaaaaaaaaaaa")
        add(catalog, summary)
        for ref in ("1234567_", "1234567%", "123456%%", "%2345678", "________", "%%%%%%%%", "1234567\\"):
            assert catalog.find_package(ref) is None, ref

    def test_find_package_refuses_an_ambiguous_name_or_prefix(self, catalog: Catalog) -> None:
        one = make_summary("12345678-aaaa-4aaa-8aaa-aaaaaaaaaaaa", name="same name")
        two = make_summary("12345678-bbbb-4bbb-8bbb-bbbbbbbbbbbb", name="same name", created=T0 + timedelta(1))
        add(catalog, one)
        add(catalog, two)
        for ref in ("same name", "12345678", "12345678-"):
            with pytest.raises(StrongroomError) as raised:
                catalog.find_package(ref)
            assert one.uuid in str(raised.value) and two.uuid in str(raised.value)
        assert catalog.find_package("12345678-a") == one

    def test_packages_are_listed_oldest_first_then_by_name(self, catalog: Catalog) -> None:
        late = make_summary(name="a late", created=T0 + timedelta(days=1))
        b = make_summary(name="b", created=T0)
        a = make_summary(name="a", created=T0)
        early = make_summary(name="z early", created=T0 - timedelta(days=1))
        for summary in (late, b, a, early):
            add(catalog, summary)
        assert catalog.packages() == [early, a, b, late]

    def test_with_payload(self, catalog: Catalog) -> None:
        one = make_summary(payload=digest("x"))
        other = make_summary(payload=digest("y"))
        add(catalog, one)
        add(catalog, other)
        assert catalog.with_payload(digest("x")) == [one]
        assert catalog.with_payload(digest("z")) == []

    def test_unindexed_and_set_indexed(self, catalog: Catalog) -> None:
        waiting = make_summary(indexed=False)
        done = make_summary(indexed=True, created=T0 + timedelta(1))
        add(catalog, waiting)
        add(catalog, done)
        assert catalog.unindexed() == [waiting.uuid]
        catalog.set_indexed(waiting.uuid, True)
        catalog.set_indexed(done.uuid, False)
        assert catalog.unindexed() == [done.uuid]
        found = catalog.find_package(waiting.uuid)
        assert found is not None and found.indexed

    def test_files_of_an_unknown_package_is_empty(self, catalog: Catalog) -> None:
        assert list(catalog.files(new_uuid())) == []
        assert catalog.descriptions(new_uuid()) == []

    # --- format counts ----------------------------------------------------------------------------

    def test_format_counts(self, catalog: Catalog) -> None:
        beta = make_summary("bbbbbbbb-0000-4000-8000-000000000000", name="beta")
        alpha2 = make_summary("aaaaaaaa-0000-4000-8000-000000000002", name="alpha", created=T0 + timedelta(1))
        alpha1 = make_summary("aaaaaaaa-0000-4000-8000-000000000001", name="alpha", created=T0 + timedelta(2))
        pdf = identification("fmt/276", "fmt/354")  # first match counts: fmt/276, version None
        txt = identification("x-fmt/111")
        add(catalog, beta, [
            make_file("objects/a.pdf", ident=pdf, size=100),
            make_file("objects/b.pdf", ident=pdf, size=50),
            make_file("objects/c.txt", ident=txt, size=7),
            make_file("objects/d.bin", ident=None, size=3),
            make_file("objects/e.bin", ident=Identification(Basis.NONE, (), "fido", "1.6.1", "v120"), size=2),
            make_file("logs/x.log", role=FileRole.LOG, ident=txt, size=1000),
            make_file("metadata/m.csv", role=FileRole.METADATA, ident=txt, size=1000),
            make_file("objects/sub.pdf", role=FileRole.SUBMISSION_DOCUMENTATION, ident=pdf, size=1000),
        ])  # fmt: skip
        add(catalog, alpha2, [make_file("objects/x.txt", ident=txt, size=5)])
        versioned = Identification(Basis.SIGNATURE, (FormatMatch("fmt/18", "PDF", "1.4", None, "s"),), "f", "1", "v")
        add(catalog, alpha1, [make_file("objects/y.pdf", ident=versioned, size=9)])

        counts = catalog.format_counts()
        assert all(isinstance(c, FormatCount) for c in counts)
        name = "Format fmt/276 ≠ <&>"
        beta_counts = [
            FormatCount(beta.uuid, "beta", "fmt/276", name, None, 2, 150),
            FormatCount(beta.uuid, "beta", "x-fmt/111", "Format x-fmt/111 ≠ <&>", None, 1, 7),
            FormatCount(beta.uuid, "beta", None, None, None, 2, 5),
        ]
        alpha1_counts = [FormatCount(alpha1.uuid, "alpha", "fmt/18", "PDF", "1.4", 1, 9)]
        alpha2_counts = [FormatCount(alpha2.uuid, "alpha", "x-fmt/111", "Format x-fmt/111 ≠ <&>", None, 1, 5)]
        # by package name, then package UUID
        assert [c.package for c in counts] == [alpha1.uuid, alpha2.uuid] + [beta.uuid] * 3
        assert sorted(counts, key=repr) == sorted(beta_counts + alpha1_counts + alpha2_counts, key=repr)
        assert sorted(catalog.format_counts(beta.uuid), key=repr) == sorted(beta_counts, key=repr)
        assert catalog.format_counts(new_uuid()) == []

    # --- the journal anchor -----------------------------------------------------------------------

    def test_the_journal_anchor_only_moves_forward(self, catalog: Catalog) -> None:
        assert catalog.journal_anchor() is None
        catalog.advance_journal_anchor(JournalAnchor(5, "a" * 64))
        assert catalog.journal_anchor() == JournalAnchor(5, "a" * 64)
        catalog.advance_journal_anchor(JournalAnchor(3, "b" * 64))  # a slower appender finishing late
        assert catalog.journal_anchor() == JournalAnchor(5, "a" * 64)
        catalog.advance_journal_anchor(JournalAnchor(9, "c" * 64))
        assert catalog.journal_anchor() == JournalAnchor(9, "c" * 64)
        catalog.clear()
        assert catalog.journal_anchor() is None

    # --- clearing ---------------------------------------------------------------------------------

    def test_clear_removes_everything(self, catalog: Catalog) -> None:
        summary = make_summary()
        file = make_file("objects/a.txt", ident=identification("fmt/1"))
        add(catalog, summary, [file], [make_event(file_uuid=file.uuid)],
            descriptions=[DublinCore("objects", {"dc.title": ("t",)})])  # fmt: skip
        catalog.add_version(summary, make_version(summary, 2), [file], [], [], [])
        catalog.set_access(AccessRule(summary.uuid, None, AccessStatus.CLOSED, "r"))
        catalog.record_copy(summary.uuid, "offsite", 2, T0)
        assert catalog.copies() != []
        catalog.clear()
        assert catalog.packages() == []
        assert catalog.agents() == []
        assert list(catalog.files(summary.uuid)) == []
        assert catalog.events(summary.uuid) == []
        assert catalog.versions(summary.uuid) == []
        assert catalog.descriptions(summary.uuid) == []
        assert catalog.access_rules(summary.uuid) == []
        assert catalog.format_counts() == []
        assert catalog.copies() == []
        assert catalog.location_usage() == []
        add(catalog, summary, [file])  # the payload claim went too
        assert catalog.package_uuids() == {summary.uuid}

    # --- all or nothing ---------------------------------------------------------------------------

    def test_a_failed_add_package_leaves_nothing(self, catalog: Catalog) -> None:
        summary = make_summary()
        files = [make_file(f"objects/{i:05}.txt") for i in range(2500)]
        with pytest.raises(RuntimeError, match="halfway"):
            add(catalog, summary, failing_after(files, 1500), agents=[AGENT_PERSON], stored_in=["primary"])
        assert catalog.packages() == []
        assert catalog.copies() == []
        assert list(catalog.files(summary.uuid)) == []
        assert catalog.versions(summary.uuid) == []
        assert catalog.agents() == []
        with pytest.raises(RuntimeError, match="halfway"):
            add(catalog, summary, files, failing_after([make_event() for _ in range(1500)], 1200))
        assert catalog.packages() == []
        add(catalog, summary, files)  # and the claim was not kept either
        assert len(list(catalog.files(summary.uuid))) == 2500

    def test_a_failed_add_version_or_record_events_changes_nothing(self, catalog: Catalog) -> None:
        summary = make_summary()
        files = [make_file(f"objects/{i:05}.txt") for i in range(1200)]
        events = [make_event()]
        add(catalog, summary, files, events, descriptions=[DublinCore("objects", {"dc.title": ("v1",)})],
            stored_in=["primary"])  # fmt: skip
        v2 = dataclasses.replace(summary, name="v2", version=2)
        new_files = [make_file(f"objects/new/{i:05}.txt") for i in range(2500)]
        with pytest.raises(RuntimeError, match="halfway"):
            catalog.add_version(v2, make_version(summary, 2), failing_after(new_files, 2100), [make_event()], [], [],
                                stored_in=["primary", "offsite"])  # fmt: skip
        with pytest.raises(RuntimeError, match="halfway"):
            catalog.record_events(summary.uuid, failing_after([make_event() for _ in range(1500)], 1100), [])
        assert catalog.find_package(summary.uuid) == summary
        assert list(catalog.files(summary.uuid)) == files
        assert catalog.events(summary.uuid) == events
        assert catalog.versions(summary.uuid) == [make_version(summary)]
        assert catalog.descriptions(summary.uuid) == [DublinCore("objects", {"dc.title": ("v1",)})]
        assert catalog.copies() == [CopyRecord(summary.uuid, "primary", 1, make_version(summary).created)]

    # --- locks ------------------------------------------------------------------------------------

    def test_lock_without_contention(self, catalog: Catalog) -> None:
        with catalog.lock("journal") as held:
            assert held is True
            with catalog.lock("another name", wait=False) as other:
                assert other is True
        with catalog.lock("journal", wait=False) as again:
            assert again is True

    def test_lock_is_exclusive_across_processes(self, catalog: Catalog) -> None:
        ctx = spawn()
        held, release = ctx.Event(), ctx.Event()
        holder = ctx.Process(target=_hold_lock, args=(catalog.url, "package 1 ≠ ünïcode", held, release))
        holder.start()
        try:
            assert held.wait(60), "the other process did not get the lock"
            started = time.monotonic()
            with catalog.lock("package 1 ≠ ünïcode", wait=False) as got:
                assert got is False
            assert time.monotonic() - started < 5  # wait=False answers at once
            with catalog.lock("package 2", wait=False) as other:
                assert other is True  # other names are free
            threading.Timer(1.0, release.set).start()
            started = time.monotonic()
            with catalog.lock("package 1 ≠ ünïcode") as got:  # waits for the holder to let go
                assert got is True
                assert time.monotonic() - started >= 0.8
        finally:
            release.set()
            holder.join(30)
        assert holder.exitcode == 0

    def test_lock_is_released_when_its_holder_is_killed(self, catalog: Catalog) -> None:
        ctx = spawn()
        held = ctx.Event()
        # No release event: notifying a multiprocessing Event whose waiter was killed would hang.
        holder = ctx.Process(target=_hold_lock, args=(catalog.url, "journal", held, None))
        holder.start()
        try:
            assert held.wait(60), "the other process did not get the lock"
            with catalog.lock("journal", wait=False) as got:
                assert got is False
            assert holder.pid is not None
            os.kill(holder.pid, signal.SIGKILL)
            holder.join(30)
            deadline = time.monotonic() + 30
            while True:
                with catalog.lock("journal", wait=False) as got:
                    if got:
                        break
                assert time.monotonic() < deadline, "the lock outlived the process that held it"
                time.sleep(0.1)
        finally:
            if holder.is_alive():
                holder.kill()
                holder.join(30)

    # --- opening ----------------------------------------------------------------------------------

    def test_the_url_reopens_the_same_catalog(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        again = open_catalog(catalog.url)
        try:
            assert again.url == catalog.url
            assert again.packages() == [summary]
        finally:
            again.close()

    @pytest.mark.slow
    def test_processes_opening_at_once_all_succeed(self, catalog: Catalog) -> None:
        start_at = time.time() + 3
        with ProcessPoolExecutor(max_workers=3, mp_context=spawn()) as pool:
            futures = [pool.submit(_open_in_process, catalog.url, start_at) for _ in range(3)]
            results = [f.result(timeout=120) for f in futures]
        assert results == [[], [], []]
