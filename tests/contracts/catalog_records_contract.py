"""The Catalog conformance suite, continued: records management (records_base.RecordsCatalog).

A backend's test class subclasses this beside `CatalogContract` (catalog_contract.py), whose
`catalog` fixture and helpers it shares. Every text field carries hostile text (controls,
quotes, SQL wildcards, combining and astral characters), and orders are by code point on
every backend.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import date, timedelta

import pytest

from strongroom.catalog.base import Catalog
from strongroom.errors import ApprovalError, CatalogError, NotFound, StrongroomError
from strongroom.model import AccessRule, AccessStatus, DublinCore, Outcome
from strongroom.records.model import (
    Approval,
    BatchStatus,
    DestructionStub,
    DisposalAction,
    DisposalBatch,
    DisposalItem,
    Hold,
    HoldType,
    ItemOutcome,
    Period,
    RetentionAssignment,
    Review,
    ReviewDecision,
    ScheduleVersion,
    Trigger,
    TriggerEvent,
)
from tests.contracts.catalog_contract import (
    CONTROL,
    HOSTILE_PATH,
    T0,
    add,
    make_event,
    make_file,
    make_summary,
    make_version,
    new_uuid,
)

HOSTILE = f'\'; DROP TABLE holds; -- %_ "≠" <&> Montre\u0301al 📁 {CONTROL}'


def hostile(tag: str) -> str:
    return f"{tag} {HOSTILE}"


def make_schedule(code: str, version: int = 1, **changes: object) -> ScheduleVersion:
    schedule = ScheduleVersion(
        code=code, version=version, title=hostile("title"), description=hostile("description"),
        authority=hostile("Limitation Act 1980 s.5"), period=Period(years=6, months=3), trigger=Trigger.EVENT,
        trigger_event=hostile("contract-end"), action=DisposalAction.TRANSFER, transfer_to=hostile("County RO"),
        created=T0 + timedelta(days=version), reason=hostile("loaded from schedules.csv"), event_uuid=new_uuid(),
    )  # fmt: skip
    return dataclasses.replace(schedule, **changes)  # type: ignore[arg-type]


def make_hold(packages: tuple[str, ...], *, hold_id: str | None = None, days: int = 0) -> Hold:
    return Hold(
        id=hold_id or new_uuid(), type=HoldType.LITIGATION, reason=hostile("claim"), authority=hostile("Court"),
        reference=hostile("HC-2026-001"), query=hostile('dc.title:"minutes" AND %_'), packages=packages,
        placed=T0 + timedelta(days=days), placed_by=hostile("Ann"), place_event=new_uuid(),
    )  # fmt: skip


def make_item(package: str, due: date = date(2026, 1, 31)) -> DisposalItem:
    return DisposalItem(package, DisposalAction.DESTROY, hostile("FIN-01"), 2, due, head_version=3,
                        pending_locations=(hostile("offsite"), "primary"))  # fmt: skip


def make_batch(items: tuple[DisposalItem, ...], *, batch_id: str | None = None, days: int = 0) -> DisposalBatch:
    return DisposalBatch(
        id=batch_id or new_uuid(), as_of=date(2026, 2, 1), proposed=T0 + timedelta(days=days),
        proposed_by=hostile("records manager"), items=items,
    )  # fmt: skip


def approval(name: str, minutes: int = 0) -> Approval:
    return Approval(name, hostile("operator"), T0 + timedelta(minutes=minutes), new_uuid())


def make_stub(package: str, batch: str = "batch-1") -> DestructionStub:
    return DestructionStub(
        package=package, identifier=hostile("GB/TCA/FIN/1"), title=hostile("[closed: s.40]"), code=hostile("FIN-01"),
        version=2, authority=hostile("HMRC"), action=DisposalAction.DESTROY, date_from=date(1999, 1, 1),
        date_to=date(2004, 12, 31), batch=batch, approved_by=(hostile("Ann"), hostile("Bob")),
        destroyed=T0 + timedelta(days=400), files=12, bytes=2**40, payload_sha256="f" * 64,
        transferred_to=hostile("bag"), event_uuid=new_uuid(),
    )  # fmt: skip


class RecordsContract:
    """What every Catalog must do with records. Subclasses provide the `catalog` fixture: open and empty."""

    # --- schedules --------------------------------------------------------------------------------

    def test_schedule_versions_round_trip_and_the_current_is_the_highest(self, catalog: Catalog) -> None:
        codes = ["é-code", "a-lower", "Z-upper", f"%_ {CONTROL}"]  # code-point order: '%', 'Z', 'a', 'é'
        retain = make_schedule("a-lower", 1, period=None, trigger=Trigger.CREATION, trigger_event=None,
                               action=DisposalAction.RETAIN, transfer_to=None, event_uuid=None)  # fmt: skip
        stored = [retain]
        for code in codes:
            if code != "a-lower":
                stored.append(make_schedule(code, 1))
        stored += [make_schedule("Z-upper", 3), make_schedule("Z-upper", 2, period=Period(weeks=2, days=1))]
        for schedule in stored:
            catalog.add_schedule_version(schedule)
        z1, z3, z2 = stored[2], stored[4], stored[5]
        assert z1.code == "Z-upper" and z3.version == 3
        by_code = sorted(codes)
        assert [s.code for s in catalog.schedules()] == by_code
        assert catalog.schedule("Z-upper") == z3
        assert catalog.schedule("Z-upper", 2) == z2
        assert catalog.schedule("Z-upper", 7) is None
        assert catalog.schedule("z-upper") is None  # codes match exactly
        assert catalog.schedule("a-lower") == retain
        assert [(s.code, s.version) for s in catalog.schedules(all_versions=True)] == [
            (f"%_ {CONTROL}", 1), ("Z-upper", 1), ("Z-upper", 2), ("Z-upper", 3), ("a-lower", 1), ("é-code", 1)
        ]  # fmt: skip
        assert catalog.schedules(all_versions=True)[1] == z1
        # a (code, version) already there is refused and leaves the stored one alone
        with pytest.raises(CatalogError, match="already has a version 2"):
            catalog.add_schedule_version(make_schedule("Z-upper", 2, title="changed"))
        assert catalog.schedule("Z-upper", 2) == z2

    # --- assignments, triggers, reviews ----------------------------------------------------------

    def test_an_assignment_replaces_the_earlier_and_survives_the_package_being_recatalogued(
        self, catalog: Catalog
    ) -> None:
        summary = make_summary("f" + new_uuid()[1:])  # never "0...": `other` below must be a different package
        first = RetentionAssignment(summary.uuid, hostile("FIN-01"), 1, T0, hostile("ingest"), "ingest-option",
                                    event_uuid=new_uuid())  # fmt: skip
        catalog.assign_retention(first)  # no package row yet: the table has no foreign key to it
        assert catalog.retention(summary.uuid) == first
        second = RetentionAssignment(summary.uuid, "HR-02", 4, T0 + timedelta(days=1), hostile("review"),
                                     "re-sentence", due_override=date(2031, 2, 28), event_uuid=new_uuid())  # fmt: skip
        catalog.assign_retention(second)
        assert catalog.retention(summary.uuid) == second
        add(catalog, summary)
        add(catalog, summary)  # recovery replaces the package row: its cascade must not take the assignment
        assert catalog.retention(summary.uuid) == second
        other = dataclasses.replace(first, package="0" + summary.uuid[1:], how="manual")
        catalog.assign_retention(other)
        assert catalog.retention_assignments() == sorted([second, other], key=lambda a: a.package)
        assert catalog.retention(new_uuid()) is None

    def test_the_latest_record_of_a_trigger_event_wins(self, catalog: Catalog) -> None:
        package, other = "b" + new_uuid()[1:], "a" + new_uuid()[1:]
        first = TriggerEvent(package, "closure", date(2020, 3, 1), T0, hostile("file closed"), new_uuid())
        later = TriggerEvent(package, "closure", date(2019, 12, 31), T0 + timedelta(hours=1), hostile("corrected"))
        named = TriggerEvent(package, hostile("contract-end"), date(2024, 2, 29), T0, hostile("why"), new_uuid())
        elsewhere = TriggerEvent(other, "closure", date(2021, 1, 1), T0, "r")
        for trigger in (first, named, later, elsewhere):
            catalog.record_trigger(trigger)
        assert catalog.triggers(package) == [later, named]  # by name: 'c' < 'contract-end ...'
        assert catalog.triggers() == [elsewhere, later, named]
        assert catalog.triggers(new_uuid()) == []

    def test_reviews_are_kept_once_each_oldest_first(self, catalog: Catalog) -> None:
        package = new_uuid()
        extend = Review(package, ReviewDecision.EXTEND, hostile("still in use"), T0 + timedelta(days=2),
                        hostile("Ann"), new_due=date(2030, 1, 1), event_uuid=new_uuid())  # fmt: skip
        resentence = Review(package, ReviewDecision.RESENTENCE, hostile("wrong class"), T0, hostile("Bob"),
                            new_code=hostile("HR-02"), new_version=3, event_uuid=new_uuid())  # fmt: skip
        for review in (extend, resentence, extend):  # the same journal event twice (a replay) is kept once
            catalog.record_review(review)
        assert catalog.reviews(package) == [resentence, extend]
        assert catalog.reviews(new_uuid()) == []
        with pytest.raises(ValueError, match="UUID"):
            catalog.record_review(dataclasses.replace(extend, event_uuid=None))

    # --- holds ------------------------------------------------------------------------------------

    def test_a_hold_over_three_packages_counts_while_active_and_is_released_once(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)  # one catalogued package; holds may name others (destroyed, not yet restored)
        p2, p3 = new_uuid(), new_uuid()
        wide = make_hold((p3, summary.uuid, p2, p3))  # a repeated package counts once
        narrow = make_hold((p3,), days=1)
        catalog.place_hold(wide)
        catalog.place_hold(narrow)
        stored = dataclasses.replace(wide, packages=(p3, summary.uuid, p2))
        assert catalog.holds() == [stored, narrow]
        assert catalog.find_hold(wide.id) == stored
        assert catalog.held_packages() == {summary.uuid, p2, p3}
        released = T0 + timedelta(days=30)
        catalog.release_hold(wide.id, released, hostile("Ann"), hostile("case settled"), None)
        assert catalog.held_packages() == {p3}
        after = dataclasses.replace(stored, released=released, released_by=hostile("Ann"),
                                    release_reason=hostile("case settled"))  # fmt: skip
        assert not after.active
        assert catalog.holds() == [after, narrow]
        assert catalog.holds(active_only=True) == [narrow]
        assert catalog.holds(package=p3) == [after, narrow]
        assert catalog.holds(package=p2, active_only=True) == []
        assert catalog.holds(package=new_uuid()) == []
        with pytest.raises(StrongroomError, match="already released") as raised:
            catalog.release_hold(wide.id, released + timedelta(days=1), "Bob", "again", new_uuid())
        assert not isinstance(raised.value, NotFound)
        assert catalog.find_hold(wide.id) == after  # the first release stands
        with pytest.raises(NotFound):
            catalog.release_hold(new_uuid(), released, "Bob", "unknown", None)
        # placing the same id again (a replay) replaces it whole
        catalog.place_hold(dataclasses.replace(narrow, packages=(p2,)))
        assert catalog.held_packages() == {p2}

    def test_a_hold_is_found_by_a_unique_prefix_of_eight_characters(self, catalog: Catalog) -> None:
        first = make_hold(("p",), hold_id="abcdef12-0000-4000-8000-000000000001")
        second = make_hold(("p",), hold_id="abcdef12-0000-4000-8000-000000000002")
        lone = make_hold(("p",), hold_id="%_cdef12-0000-4000-8000-000000000003")
        for hold in (first, second, lone):
            catalog.place_hold(hold)
        assert catalog.find_hold("abcdef12-0000-4000-8000-000000000002") == second
        assert catalog.find_hold("%_cdef12") == lone  # wildcards match only themselves
        assert catalog.find_hold("%_cdef1") is None  # too short to look up
        assert catalog.find_hold("ab%def12") is None
        with pytest.raises(StrongroomError, match="2 holds have ids starting with 'abcdef12'") as raised:
            catalog.find_hold("abcdef12")
        assert [d.split()[0] for d in raised.value.details] == [first.id, second.id]

    # --- disposal ---------------------------------------------------------------------------------

    def test_a_disposal_batch_round_trips_with_its_items_and_approvals(self, catalog: Catalog) -> None:
        items = (make_item("z" + new_uuid()[1:]), make_item("a" + new_uuid()[1:], date(2025, 12, 1)))
        batch = make_batch(items, batch_id="0123abcd-" + new_uuid()[9:])
        later = make_batch((make_item(new_uuid()),), days=1)
        catalog.add_disposal_batch(batch)
        catalog.add_disposal_batch(later)
        assert catalog.disposal_batch(batch.id) == batch  # items keep the proposal's order
        assert catalog.disposal_batch(batch.id[:8]) == batch
        assert catalog.disposal_batch(batch.id[:7]) is None
        assert catalog.disposal_batches() == [batch, later]
        first, second = approval(hostile("Ann O'Hara")), approval(hostile("Bob"), 5)
        catalog.add_approval(batch.id, second)
        catalog.add_approval(batch.id, first)
        catalog.set_item_outcome(batch.id, items[0].package, ItemOutcome.SKIPPED, hostile("held"), ["primary"])
        catalog.set_item_outcome(batch.id, items[1].package, ItemOutcome.DESTROYED, None, [])
        executed = T0 + timedelta(days=3)
        catalog.set_batch_status(batch.id, BatchStatus.APPROVED)
        catalog.set_batch_status(batch.id, BatchStatus.EXECUTED, executed=executed,
                                 certificate_sha256={"html": "b" * 64, "csv": "a" * 64})  # fmt: skip
        done = dataclasses.replace(
            batch,
            items=(dataclasses.replace(items[0], outcome=ItemOutcome.SKIPPED, why=hostile("held"),
                                       pending_locations=("primary",)),
                   dataclasses.replace(items[1], outcome=ItemOutcome.DESTROYED, pending_locations=())),
            approvals=(first, second), status=BatchStatus.EXECUTED, executed=executed,
            certificate_sha256={"csv": "a" * 64, "html": "b" * 64},
        )  # fmt: skip
        assert catalog.disposal_batch(batch.id) == done
        catalog.set_batch_status(batch.id, BatchStatus.EXECUTED)  # no new time or digests: the old ones stay
        assert catalog.disposal_batch(batch.id) == done
        assert catalog.disposal_batch(later.id) == later
        with pytest.raises(NotFound):
            catalog.set_batch_status(new_uuid(), BatchStatus.APPROVED)
        with pytest.raises(NotFound):
            catalog.set_item_outcome(batch.id, new_uuid(), ItemOutcome.DESTROYED, None)
        with pytest.raises(NotFound):
            catalog.add_approval(new_uuid(), approval("Carol"))
        assert catalog.disposal_batch(new_uuid()) is None

    def test_disposal_batches_are_found_by_a_unique_prefix(self, catalog: Catalog) -> None:
        one = make_batch((), batch_id="feedface-0000-4000-8000-000000000001")
        two = make_batch((), batch_id="feedface-0000-4000-8000-000000000002", days=1)
        catalog.add_disposal_batch(one)
        catalog.add_disposal_batch(two)
        assert catalog.disposal_batch("feedface-0000-4000-8000-000000000001") == one
        lone = make_batch((), batch_id="feedbeef-0000-4000-8000-000000000003", days=2)
        catalog.add_disposal_batch(lone)
        assert catalog.disposal_batch("feedbeef") == lone
        with pytest.raises(StrongroomError, match="2 disposal batches have ids starting with 'feedface'"):
            catalog.disposal_batch("feedface")

    def test_the_same_person_cannot_approve_a_batch_twice(self, catalog: Catalog) -> None:
        batch = make_batch((make_item(new_uuid()),))
        catalog.add_disposal_batch(batch)
        first = approval("Ann  O'Hara STRASSE")
        catalog.add_approval(batch.id, first)
        again = approval("  ann o'hara   straße ", 10)  # other case, spacing and ß: the same person
        with pytest.raises(ApprovalError, match="Ann  O'Hara STRASSE has already approved") as raised:
            catalog.add_approval(batch.id, again)
        assert "a second, different person must approve" in str(raised.value)
        stored = catalog.disposal_batch(batch.id)
        assert stored is not None and stored.approvals == (first,)  # nothing written
        other = approval("Bob", 20)
        catalog.add_approval(batch.id, other)
        stored = catalog.disposal_batch(batch.id)
        assert stored is not None and stored.approvals == (first, other)
        # a batch carrying one person twice is refused whole
        twice = make_batch((make_item(new_uuid()),), days=2)
        with pytest.raises(ApprovalError):
            catalog.add_disposal_batch(dataclasses.replace(twice, approvals=(first, again)))
        assert catalog.disposal_batch(twice.id) is None

    def test_racing_approvals_by_one_person_let_exactly_one_through(self, catalog: Catalog) -> None:
        batch = make_batch((make_item(new_uuid()),))
        catalog.add_disposal_batch(batch)
        names = ["Dana Scully", "DANA SCULLY", "dana  scully", " Dana Scully "]
        start = threading.Barrier(len(names))
        outcomes: list[str] = []

        def approve(name: str) -> None:
            start.wait()
            try:
                catalog.add_approval(batch.id, approval(name))
                outcomes.append("approved")
            except ApprovalError:
                outcomes.append("refused")

        threads = [threading.Thread(target=approve, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(outcomes) == ["approved", "refused", "refused", "refused"]
        stored = catalog.disposal_batch(batch.id)
        assert stored is not None and len(stored.approvals) == 1

    # --- destroyed packages -----------------------------------------------------------------------

    def test_dispose_package_removes_every_row_of_the_package_and_keeps_its_stub(self, catalog: Catalog) -> None:
        summary = make_summary(title=hostile("title"))
        keep = make_summary(name="kept")
        files = [make_file(HOSTILE_PATH), make_file("objects/b.txt")]
        for s in (summary, keep):
            described = [DublinCore("objects", {"dc.title": (hostile("dc"),)})]
            own = files if s is summary else [make_file("objects/k.txt")]
            add(catalog, s, own, [make_event()], descriptions=described, stored_in=["primary", "x"])
            catalog.set_access(AccessRule(s.uuid, None, AccessStatus.CLOSED, hostile("s.40")))
        catalog.add_version(dataclasses.replace(summary, version=2), make_version(summary, 2), [], [], [], [])
        assert catalog.record_copy_check(summary.uuid, "primary", T0, Outcome.SUCCESS, 0)
        assignment = RetentionAssignment(summary.uuid, "FIN-01", 2, T0, "r", "manual")
        catalog.assign_retention(assignment)
        hold = make_hold((summary.uuid,))
        catalog.place_hold(hold)
        catalog.release_hold(hold.id, T0 + timedelta(days=1), "Ann", "done", None)
        stub = make_stub(summary.uuid)

        catalog.dispose_package(stub)
        assert catalog.find_package(summary.uuid) is None
        assert summary.uuid not in catalog.package_uuids()
        assert list(catalog.files(summary.uuid)) == []
        assert catalog.events(summary.uuid) == []
        assert catalog.versions(summary.uuid) == []
        assert catalog.descriptions(summary.uuid) == []
        assert catalog.access_rules(summary.uuid) == []
        assert catalog.copies(summary.uuid) == []
        assert catalog.with_payload(summary.payload_sha256) == []
        assert [c.package for c in catalog.copies()] == [keep.uuid, keep.uuid]
        assert catalog.stub(summary.uuid) == stub
        # its records stay: the journal's history of it, and what rebuild must not undo
        assert catalog.retention(summary.uuid) == assignment
        assert [h.id for h in catalog.holds(package=summary.uuid)] == [hold.id]
        # the other package is untouched
        assert catalog.find_package(keep.uuid) is not None
        assert len(list(catalog.files(keep.uuid))) == 1
        assert len(catalog.events(keep.uuid)) == 1
        assert len(catalog.access_rules(keep.uuid)) == 1
        # running it again (a resumed execution) changes nothing
        catalog.dispose_package(stub)
        assert catalog.stubs() == [stub]

    def test_stubs_are_listed_marked_purged_and_replaced(self, catalog: Catalog) -> None:
        early = dataclasses.replace(make_stub(new_uuid()), destroyed=T0, identifier=None, date_from=None,
                                    date_to=None, transferred_to=None, event_uuid=None)  # fmt: skip
        late = make_stub(new_uuid())
        catalog.add_stub(late)
        catalog.add_stub(early)  # no package row needed: rebuild restores stubs from the journal
        assert catalog.stubs() == [early, late]
        assert catalog.stubs(unpurged_only=True) == [early, late]
        catalog.mark_stub_purged(late.package)
        purged = dataclasses.replace(late, index_purged=True)
        assert catalog.stub(late.package) == purged
        assert catalog.stubs(unpurged_only=True) == [early]
        assert catalog.stubs() == [early, purged]
        with pytest.raises(NotFound):
            catalog.mark_stub_purged(new_uuid())
        assert catalog.stub(new_uuid()) is None
        retitled = dataclasses.replace(early, title="another")
        catalog.add_stub(retitled)
        assert catalog.stub(early.package) == retitled

    # --- closure fields of access rules -------------------------------------------------------------

    def test_access_rules_carry_their_closure(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        rule = AccessRule(
            summary.uuid, HOSTILE_PATH, AccessStatus.RESTRICTED, hostile("personal data"),
            opening_date=date(2046, 3, 1), changed=T0, event_uuid=new_uuid(), closure_start=date(2026, 3, 1),
            closure_period="P20Y", exemption="s.40", redacted_title=hostile("[closed]"),
        )  # fmt: skip
        catalog.set_access(rule)
        assert catalog.access_rules(summary.uuid) == [rule]
        opened = AccessRule(summary.uuid, HOSTILE_PATH, AccessStatus.OPEN, "reviewed")
        catalog.set_access(opened)  # a rule without a closure clears the old one's fields
        assert catalog.access_rules(summary.uuid) == [opened]

    # --- clear ----------------------------------------------------------------------------------------

    def test_clear_empties_the_records_tables(self, catalog: Catalog) -> None:
        package = new_uuid()
        catalog.add_schedule_version(make_schedule("FIN-01"))
        catalog.assign_retention(RetentionAssignment(package, "FIN-01", 1, T0, "r", "manual"))
        catalog.record_trigger(TriggerEvent(package, "closure", date(2020, 1, 1), T0, "r"))
        catalog.record_review(Review(package, ReviewDecision.RETAIN, "r", T0, "Ann", event_uuid=new_uuid()))
        catalog.place_hold(make_hold((package,)))
        batch = make_batch((make_item(package),))
        catalog.add_disposal_batch(dataclasses.replace(batch, approvals=(approval("Ann"),)))
        catalog.add_stub(make_stub(package, batch.id))
        catalog.clear()
        assert catalog.schedules(all_versions=True) == []
        assert catalog.retention_assignments() == []
        assert catalog.triggers() == []
        assert catalog.reviews(package) == []
        assert catalog.holds() == [] and catalog.held_packages() == set()
        assert catalog.disposal_batches() == []
        assert catalog.stubs() == []
