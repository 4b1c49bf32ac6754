"""The Catalog conformance suite, continued: copies of packages in storage locations.

A backend's test class subclasses this beside `CatalogContract` (catalog_contract.py), whose
`catalog` fixture and helpers it shares.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from strongroom.catalog.base import Catalog
from strongroom.errors import NotFound
from strongroom.model import CopyRecord, LocationUsage, Outcome
from tests.contracts.catalog_contract import T0, add, make_event, make_summary, make_version, new_uuid


class CopiesContract:
    """What every Catalog must do with copies. Subclasses provide the `catalog` fixture: open and empty."""

    def test_add_package_records_a_fresh_copy_in_each_named_location(self, catalog: Catalog) -> None:
        summary = make_summary()
        created = make_version(summary).created
        add(catalog, summary, stored_in=["primary", "offsite ≠", "primary"])  # a repeated name counts once
        assert catalog.copies() == [
            CopyRecord(summary.uuid, "offsite ≠", 1, created),
            CopyRecord(summary.uuid, "primary", 1, created),
        ]
        other = make_summary(created=T0 + timedelta(1))
        add(catalog, other)  # stored nowhere yet
        assert catalog.copies(other.uuid) == []

    def test_a_replaced_package_starts_with_fresh_copies(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary, stored_in=["primary", "offsite"])
        assert catalog.record_copy_check(summary.uuid, "primary", T0 + timedelta(days=1), Outcome.FAILURE, 3)
        add(catalog, summary, stored_in=["primary"])  # recovered from storage, say
        assert catalog.copies(summary.uuid) == [CopyRecord(summary.uuid, "primary", 1, make_version(summary).created)]
        add(catalog, summary)
        assert catalog.copies(summary.uuid) == []

    def test_add_version_moves_copies_forward_and_keeps_their_last_check(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary, stored_in=["primary", "offsite"])
        checked = T0 + timedelta(days=1)
        assert catalog.record_copy_check(summary.uuid, "primary", checked, Outcome.SUCCESS, 0)
        v2 = make_version(summary, 2)
        catalog.add_version(dataclasses.replace(summary, version=2), v2, [], [], [], [], stored_in=["primary", "new"])
        assert catalog.copies(summary.uuid) == [
            CopyRecord(summary.uuid, "new", 2, v2.created),
            CopyRecord(summary.uuid, "offsite", 1, make_version(summary).created),  # not named: left as it was
            CopyRecord(summary.uuid, "primary", 2, v2.created, checked, Outcome.SUCCESS, 0),
        ]
        # a copy already holding a later version (replicated ahead of the catalog) is not moved back
        catalog.record_copy(summary.uuid, "offsite", 4, T0 + timedelta(days=2))
        v3 = make_version(summary, 3)
        catalog.add_version(dataclasses.replace(summary, version=3), v3, [], [], [], [], stored_in=["offsite"])
        assert catalog.copies(summary.uuid, "offsite") == [
            CopyRecord(summary.uuid, "offsite", 4, T0 + timedelta(days=2))
        ]

    def test_record_copy_never_lowers_the_version_and_keeps_the_last_check(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        stored = T0 + timedelta(hours=1)
        catalog.record_copy(summary.uuid, "offsite", 3, stored)
        checked = T0 + timedelta(days=2)
        assert catalog.record_copy_check(summary.uuid, "offsite", checked, Outcome.FAILURE, 2)
        catalog.record_copy(summary.uuid, "offsite", 2, T0 + timedelta(days=3))  # a slower replicator, late
        assert catalog.copies(summary.uuid) == [
            CopyRecord(summary.uuid, "offsite", 3, stored, checked, Outcome.FAILURE, 2)
        ]
        rewritten = T0 + timedelta(days=4)  # the same version written again (a repair): the new time
        catalog.record_copy(summary.uuid, "offsite", 3, rewritten)
        catalog.record_copy(summary.uuid, "offsite", 5, T0 + timedelta(days=5))
        assert catalog.copies(summary.uuid) == [
            CopyRecord(summary.uuid, "offsite", 5, T0 + timedelta(days=5), checked, Outcome.FAILURE, 2)
        ]

    def test_copy_times_come_back_as_the_same_instant_in_utc(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary)
        plus_two = timezone(timedelta(hours=2))
        stored, checked = datetime(2024, 6, 1, 12, 0, tzinfo=plus_two), datetime(2024, 6, 2, 1, 0, tzinfo=plus_two)
        catalog.record_copy(summary.uuid, "primary", 1, stored)
        catalog.record_copy_check(summary.uuid, "primary", checked, Outcome.SUCCESS, 0)
        (copy,) = catalog.copies()
        assert (copy.stored, copy.checked) == (stored, checked)
        assert copy.stored.utcoffset() == timedelta(0) and copy.checked is not None
        assert copy.checked.utcoffset() == timedelta(0)
        assert catalog.last_checked("primary")[summary.uuid].tzinfo is not None

    def test_record_copy_of_an_unknown_package_is_not_found(self, catalog: Catalog) -> None:
        with pytest.raises(NotFound):
            catalog.record_copy(new_uuid(), "primary", 1, T0)
        assert catalog.copies() == []

    def test_record_copy_check_reports_whether_there_was_a_copy(self, catalog: Catalog) -> None:
        summary = make_summary()
        add(catalog, summary, stored_in=["primary"])
        assert catalog.record_copy_check(new_uuid(), "primary", T0, Outcome.SUCCESS, 0) is False
        assert catalog.record_copy_check(summary.uuid, "offsite", T0, Outcome.SUCCESS, 0) is False
        assert catalog.copies(location="offsite") == []  # no copy is made up
        first, second = T0 + timedelta(days=1), T0 + timedelta(days=2)
        assert catalog.record_copy_check(summary.uuid, "primary", first, Outcome.FAILURE, 4) is True
        assert catalog.record_copy_check(summary.uuid, "primary", second, Outcome.SUCCESS, 0) is True
        (copy,) = catalog.copies()
        assert (copy.checked, copy.outcome, copy.problems) == (second, Outcome.SUCCESS, 0)

    def test_copies_are_filtered_and_ordered_by_package_then_location(self, catalog: Catalog) -> None:
        b = make_summary("bbbbbbbb-0000-4000-8000-000000000000")
        a = make_summary("aaaaaaaa-0000-4000-8000-000000000000", created=T0 + timedelta(1))
        add(catalog, b, stored_in=["primary", "Offsite", "offsite"])
        add(catalog, a, stored_in=["primary", "offsite"])
        assert [(c.package, c.location) for c in catalog.copies()] == [
            (a.uuid, "offsite"), (a.uuid, "primary"), (b.uuid, "Offsite"), (b.uuid, "offsite"), (b.uuid, "primary")
        ]  # fmt: skip
        assert [c.location for c in catalog.copies(b.uuid)] == ["Offsite", "offsite", "primary"]
        assert [c.package for c in catalog.copies(location="offsite")] == [a.uuid, b.uuid]
        assert catalog.copies(a.uuid, "primary") == [CopyRecord(a.uuid, "primary", 1, make_version(a).created)]
        assert catalog.copies(a.uuid, "Offsite") == []
        assert catalog.copies(new_uuid()) == []

    def test_last_checked_is_the_last_check_of_each_copy_in_the_location(self, catalog: Catalog) -> None:
        # Changed meaning: once the time of the latest whole-package "fixity check" event of any copy,
        # now the last check recorded for the copy in one location (record_copy_check).
        first, second, third = make_summary(), make_summary(), make_summary()
        for summary in (first, second, third):
            add(catalog, summary, stored_in=["primary", "offsite"])
        assert catalog.last_checked("primary") == {}
        catalog.record_events(first.uuid, [make_event("fixity check", when=T0 + timedelta(days=9))], [])
        assert catalog.last_checked("primary") == {}  # events alone are not a copy's check
        early, late = T0 + timedelta(days=1), T0 + timedelta(days=30)
        catalog.record_copy_check(first.uuid, "primary", early, Outcome.SUCCESS, 0)
        catalog.record_copy_check(first.uuid, "primary", late, Outcome.FAILURE, 1)  # failed checks count too
        catalog.record_copy_check(second.uuid, "primary", early, Outcome.SUCCESS, 0)
        catalog.record_copy_check(third.uuid, "offsite", late + timedelta(days=1), Outcome.SUCCESS, 0)
        assert catalog.last_checked("primary") == {first.uuid: late, second.uuid: early}
        assert catalog.last_checked("offsite") == {third.uuid: late + timedelta(days=1)}
        assert catalog.last_checked("elsewhere") == {}

    def test_location_usage_is_counted_per_location(self, catalog: Catalog) -> None:
        assert catalog.location_usage() == []
        a = make_summary("aaaaaaaa-0000-4000-8000-000000000000")
        b = make_summary("bbbbbbbb-0000-4000-8000-000000000000", created=T0 + timedelta(1))
        for summary, sizes in ((a, (100, 30)), (b, (1000, 7))):
            v1 = dataclasses.replace(make_version(summary, 1), new_bytes=sizes[0])
            v2 = dataclasses.replace(make_version(summary, 2), new_bytes=sizes[1])
            catalog.add_package(summary, v1, [], [], [], [], claim_payload=True, stored_in=["primary", "offsite"])
            catalog.add_version(dataclasses.replace(summary, version=2), v2, [], [], [], [], stored_in=["primary"])
        catalog.record_copy(b.uuid, "offsite", 2, T0 + timedelta(days=1))
        c = make_summary(created=T0 + timedelta(2))
        add(catalog, c)  # stored nowhere: counted nowhere
        t1, t2, t3 = (T0 + timedelta(days=d) for d in (10, 20, 5))
        assert catalog.record_copy_check(a.uuid, "primary", t1, Outcome.SUCCESS, 0)
        assert catalog.record_copy_check(b.uuid, "primary", t2, Outcome.FAILURE, 2)
        assert catalog.record_copy_check(a.uuid, "offsite", t3, Outcome.SUCCESS, 0)  # b's offsite copy: never
        usage = catalog.location_usage()
        assert usage == [
            # a at version 1 (100 bytes), b at its head, 2 (1000 + 7); b never checked there
            LocationUsage("offsite", packages=2, current=1, bytes=1107, oldest_check=None, newest_check=t3, failing=0),
            LocationUsage("primary", packages=2, current=2, bytes=1137, oldest_check=t1, newest_check=t2, failing=1),
        ]
        assert usage[1].oldest_check is not None and usage[1].oldest_check.tzinfo is not None
        assert catalog.record_copy_check(b.uuid, "offsite", t1, Outcome.SUCCESS, 0)
        assert catalog.location_usage()[0] == LocationUsage("offsite", 2, 1, 1107, t3, t1, 0)

    def test_forget_location_removes_its_copies_only(self, catalog: Catalog) -> None:
        one, two = make_summary(), make_summary()
        add(catalog, one, stored_in=["primary", "offsite"])
        add(catalog, two, stored_in=["offsite"])
        assert catalog.forget_location("offsite") == 2
        assert catalog.copies() == [CopyRecord(one.uuid, "primary", 1, make_version(one).created)]
        assert [u.location for u in catalog.location_usage()] == ["primary"]
        assert catalog.forget_location("offsite") == 0
        assert catalog.forget_location("never heard of") == 0
