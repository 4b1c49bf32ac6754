"""Everything records management keeps survives `rebuild`: its catalog tables come back from the journal alone."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from strongroom.archive import Archive
from strongroom.records.model import HoldType, ReviewDecision
from strongroom.records.retention import assign, record_trigger, review
from strongroom.records.schedules import load_schedules
from tests.conftest import Home, write

OPERATOR = "test-archivist"
SCHEDULES = """
[[schedule]]
code = "WORK-6"
title = "Working papers"
authority = "Business need"
period = "P6Y"
trigger = "creation"
action = "destroy"

[[schedule]]
code = "CASE-2"
title = "Case files ≠ <b>&</b>"
authority = "Limitation Act 1980"
period = "P2Y"
trigger = "event:case-end"
action = "review"
"""


def snapshot(archive: Archive) -> dict[str, Any]:
    """Every read the records catalog offers, plus the access rules of every package."""
    c = archive.catalog
    packages = sorted({a.package for a in c.retention_assignments()} | c.package_uuids())
    holds = c.holds()
    batches = c.disposal_batches()
    return {
        "schedules": c.schedules(),
        "all_versions": c.schedules(all_versions=True),
        "schedule_v1": c.schedule("WORK-6", 1),
        "assignments": c.retention_assignments(),
        "retention": {p: c.retention(p) for p in packages},
        "triggers": c.triggers(),
        "triggers_by_package": {p: c.triggers(p) for p in packages},
        "reviews": {p: c.reviews(p) for p in packages},
        "holds": holds,
        "active_holds": c.holds(active_only=True),
        "holds_by_package": {p: c.holds(package=p) for p in packages},
        "find_hold": [c.find_hold(h.id[:8]) for h in holds],
        "held": c.held_packages(),
        "batches": batches,
        "batch": [c.disposal_batch(b.id) for b in batches],
        "stubs": c.stubs(),
        "unpurged": c.stubs(unpurged_only=True),
        "stub": {p: c.stub(p) for p in packages},
        "access": {p: c.access_rules(p) for p in packages},
        "packages": sorted(c.package_uuids()),
    }


def test_records_survive_rebuild(home: Home, tmp_path: Path) -> None:
    from strongroom.records.disposal import approve, execute, propose
    from strongroom.records.holds import place_hold, release_hold

    schedules = write(tmp_path / "schedules.toml", SCHEDULES)
    with home.archive() as archive:
        load_schedules(archive, schedules, reason=None, operator=OPERATOR)
    old = write(tmp_path / "old" / "objects" / "draft.txt", "An old draft")
    write(tmp_path / "old" / "metadata" / "metadata.csv", "filename,dc.title,dc.date\nobjects,Old drafts,2001\n")
    doomed = str(home.ingest(old.parent.parent, "--retention", "WORK-6")["package"])
    case = str(
        home.ingest(write(tmp_path / "case" / "letter.txt", "Dear Sir").parent, "--retention", "CASE-2")["package"]
    )
    other = str(home.ingest(write(tmp_path / "other" / "note.txt", "A note").parent)["package"])
    write(schedules, SCHEDULES.replace('period = "P6Y"', 'period = "P7Y"'))  # WORK-6 version 2
    today = date.today()
    with home.archive() as archive:
        load_schedules(archive, schedules, reason="seven years now", operator=OPERATOR)
        assign(archive, other, "WORK-6", reason="working papers after all", operator=OPERATOR)
        record_trigger(archive, case, "case-end", date(2019, 4, 1), reason="case closed", operator=OPERATOR)
        record_trigger(archive, case, "case-end", date(2020, 4, 1), reason="appeal ended", operator=OPERATOR)
        record_trigger(archive, other, "closure", date(2021, 1, 1), reason=None, operator=OPERATOR)
        review(archive, case, ReviewDecision.EXTEND, reason="appeal possible", new_due=today + timedelta(days=400),
               operator=OPERATOR)  # fmt: skip
        review(archive, other, ReviewDecision.RETAIN, reason="kept as an example", operator=OPERATOR)
        first = place_hold(archive, packages=[case, other], type=HoldType.LITIGATION, reason="claim 7",
                           authority="Legal services", reference="LS/7", operator=OPERATOR)  # fmt: skip
        second = place_hold(archive, packages=[case], type=HoldType.FOI, reason="FOI 2024/1", authority=None,
                            reference="FOI-2024-1", operator=OPERATOR)  # fmt: skip
        release_hold(archive, first.hold.id, reason="claim settled", operator=OPERATOR)
        batch = propose(archive, today, OPERATOR).batch
        assert batch is not None and [i.package for i in batch.items] == [doomed]
        approve(archive, batch.id, "Alice Archivist", OPERATOR)
        approve(archive, batch.id, "Bob Records-Manager", OPERATOR)
        execute(archive, batch.id, OPERATOR)
    home.ok("access", case, "--status", "closed", "--reason", "personal data", "--closure-start", "2020-04-01",
            "--period", "P75Y", "--exemption", "s.40", "--redacted-title", "Case file (closed)")  # fmt: skip
    with home.archive() as archive:
        before = snapshot(archive)
        assert before["stubs"] and before["stubs"][0].package == doomed
        assert [len(before["all_versions"]), len(before["reviews"][case]), len(before["holds"])] == [3, 1, 2]
        assert before["held"] == {case} and before["retention"][case].due_override == today + timedelta(days=400)
        assert before["batches"][0].status.value == "executed"
        assert before["access"][case][0].exemption == "s.40"
        assert before["triggers_by_package"][case][0].date == date(2020, 4, 1)
    shutil.rmtree(home.path / "storage" / "holds")  # markers lost by hand: rebuild puts them back
    home.ok("rebuild")
    with home.archive() as archive:
        after = snapshot(archive)
        assert doomed not in archive.catalog.package_uuids()
    for key in before:
        assert after[key] == before[key], key
    markers = [p.name for p in (home.path / "storage" / "holds").rglob("*") if p.is_file()]
    assert len(markers) == 1 and second.hold.id in markers[0]


def test_a_leftover_object_of_a_deleted_package_is_not_restored(home: Home, tmp_path: Path) -> None:
    from strongroom.records.disposal import approve, execute, propose

    with home.archive() as archive:
        load_schedules(archive, write(tmp_path / "s.toml", SCHEDULES), reason=None, operator=OPERATOR)
    old = write(tmp_path / "old" / "objects" / "draft.txt", "An old draft")
    write(tmp_path / "old" / "metadata" / "metadata.csv", "filename,dc.date\nobjects,2001\n")
    doomed = str(home.ingest(old.parent.parent, "--retention", "WORK-6")["package"])
    from tests.conftest import object_root

    root = object_root(home, doomed)
    kept = tmp_path / "leftover"
    shutil.copytree(root, kept)
    with home.archive() as archive:
        batch = propose(archive, date.today(), OPERATOR).batch
        assert batch is not None
        approve(archive, batch.id, "Alice", OPERATOR)
        approve(archive, batch.id, "Bob", OPERATOR)
        execute(archive, batch.id, OPERATOR)
    assert not root.exists()
    shutil.copytree(kept, root)  # as if a purge had left the object behind
    home.ok("rebuild")
    with home.archive() as archive:
        assert archive.catalog.find_package(doomed) is None
        stub = archive.catalog.stub(doomed)
        assert stub is not None and stub.index_purged
        assert archive.catalog.disposal_batches()[0].items[0].outcome.value == "destroyed"
