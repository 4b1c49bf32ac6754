"""Disposal never destroys what is still wanted: a hold the storage knows of before the catalog does, a review
or a later trigger date since the proposal, and the same approver spelt in another Unicode form."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from strongroom.commit import object_id
from strongroom.errors import StrongroomError
from strongroom.records import holds as records_holds
from strongroom.records import retention
from strongroom.records.model import DisposalAction, HoldType, ReviewDecision
from strongroom.records.schedules import load_schedules
from strongroom.storage.holds import place_marker
from tests.conftest import Home
from tests.records.test_disposal import (
    Setup,
    journal_count,
    make_setup,
    only_batch,
    proposed_and_approved,
    token_transfer,
)


@pytest.fixture
def setup(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return make_setup(home, tmp_path, monkeypatch)


def _deletions(home: Home, package: str) -> list[Any]:
    with home.archive() as archive:
        return [e for e in archive.journal.entries() if e.event.type == "deletion" and e.package == package]


def test_a_hold_the_storage_knows_before_the_catalog_keeps_the_package_whole_and_catalogued(setup: Setup) -> None:
    """`hold place` writes its markers first: if it stopped there (a crash, or it is still running), the storage
    refuses the purge, and execute must then leave the package as it is, not drop it from the catalog and
    journal a deletion that `rebuild` would honour for good."""
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    with home.archive() as archive:
        for spec in archive.settings.all_locations:
            location = archive.location(spec.name)
            place_marker(location.storage, location.ocfl.object_root(object_id(s.doomed)), "crashed-hold-1",
                         {"type": "litigation", "package": s.doomed})  # fmt: skip
    done = home.run("disposal", "execute", batch, "--json")
    with home.archive() as archive:
        assert archive.ocfl.exists(object_id(s.doomed))  # the storage refused: the content is whole
        assert archive.catalog.find_package(s.doomed) is not None, "a held package vanished from the catalog"
        assert archive.catalog.stub(s.doomed) is None
    assert _deletions(home, s.doomed) == []  # no deletion journalled, so rebuild keeps it
    home.ok("show", s.doomed)
    home.ok("verify", s.doomed)
    items = {i["package"]: i for i in only_batch(home)["items"]}
    assert items[s.doomed]["outcome"] == "skipped" and "hold" in items[s.doomed]["why"]
    assert done.exit_code == 0
    home.ok("rebuild")
    home.ok("show", s.doomed)


def test_a_retain_review_after_approval_skips_the_package(setup: Setup) -> None:
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    with home.archive() as archive:
        retention.review(archive, s.doomed, ReviewDecision.RETAIN, reason="Of lasting value", operator="reviewer")
        assert s.doomed not in {i.package for i in retention.due(archive, date.today()).due}  # no longer due
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["destroyed"] == []
    assert [k["package"] for k in done["skipped"]] == [s.doomed] and "no longer due" in done["skipped"][0]["why"]
    home.ok("show", s.doomed)
    assert _deletions(home, s.doomed) == []


def test_a_later_trigger_date_after_approval_skips_the_package(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(token_transfer(tmp_path, "contract" + "x" * 6, "gamma"))["package"])
    source = tmp_path / "event-schedule.toml"
    source.write_text(
        '[[schedule]]\ncode = "EV-1"\ntitle = "Contracts"\ndescription = "Contracts"\nauthority = "Limitation Act"\n'
        'period = "P6Y"\ntrigger = "event:contract-end"\naction = "destroy"\n',
        encoding="utf-8",
    )
    with home.archive() as archive:
        load_schedules(archive, source, reason="test", operator="t")
        retention.assign(archive, package, "EV-1", reason="test", operator="t")
        retention.record_trigger(archive, package, "contract-end", date(2001, 1, 1), reason="ended", operator="t")
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict) and isinstance(proposal["batch"], str)
    batch = proposal["batch"]
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    with home.archive() as archive:  # the contract was extended: it now ends far in the future
        retention.record_trigger(archive, package, "contract-end", date(2090, 1, 1), reason="extended", operator="t")
        assert retention.due(archive, date.today()).due == ()
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["destroyed"] == []
    home.ok("show", package)


@pytest.mark.parametrize(
    "second",
    [
        unicodedata.normalize("NFD", "José Núñez"),  # a decomposed é (as macOS terminals type it)
        "Ｊｏｓé Ｎúñｅｚ",  # fullwidth letters
        "JOSÉ NÚÑEZ",
    ],
)
def test_the_same_approver_in_another_unicode_form_is_refused(setup: Setup, second: str) -> None:
    home = setup.home
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    home.ok("disposal", "approve", batch, "--as", unicodedata.normalize("NFC", "José Núñez"))
    entries = journal_count(home)
    again = home.run("disposal", "approve", batch, "--as", second, "--json")
    assert again.exit_code == 2 and "a second, different person must approve" in again.stderr
    assert journal_count(home) == entries
    assert only_batch(home)["status"] == "proposed"


def test_a_hold_is_not_placed_on_a_package_destroyed_while_it_was_being_resolved(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hold place --query` resolves its packages before taking the holds lock; a disposal finishing in between
    must not leave a hold reported as placed ("marked") on content that is already gone."""
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    home.ok("disposal", "execute", batch)
    monkeypatch.setattr(records_holds, "_resolve", lambda archive, refs, query: [s.doomed])
    with home.archive() as archive, pytest.raises(StrongroomError, match=r"destroyed|disposed"):
        records_holds.place_hold(archive, query="council", type=HoldType.FOI, reason="FOI 9", authority=None,
                                 reference=None, operator="t")  # fmt: skip
    with home.archive() as archive:
        assert all(s.doomed not in h.packages for h in archive.catalog.holds())


def _edit_journal_line(home: Home, needle: str, old: str, new: str) -> Path:
    """Change `old` to `new` in the one journal line holding `needle`; the batch file changed."""
    for path in sorted((home.path / "storage" / "journal").rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        hits = [i for i, line in enumerate(lines) if needle in line and old in line]
        if hits:
            lines[hits[0]] = lines[hits[0]].replace(old, new, 1)
            path.write_text("".join(lines), encoding="utf-8")
            return path
    raise AssertionError(f"no journal line holds {needle!r} and {old!r}")


@pytest.mark.parametrize(
    ("needle", "old", "new"),
    [
        ('"hold placed"', "2026/17", "2026/18"),  # the hold's reference
        ('"hold placed"', '"type":"foi"', '"type":"audit"'),  # its data, not only its words
        ('"deletion"', '"step":"deleted"', '"step":"deletex"'),
        ('"deletion"', "LG-1", "LG-2"),
    ],
)
def test_journal_verify_detects_an_edited_hold_or_deletion_entry(setup: Setup, needle: str, old: str, new: str) -> None:
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    home.ok("disposal", "execute", batch)
    home.ok("journal", "verify")
    _edit_journal_line(home, needle, old, new)
    result = home.run("journal", "verify")
    assert result.exit_code == 1 and "edited" in (result.stdout + result.stderr)


def _steps(home: Home) -> list[str]:
    from strongroom.records.journal_data import disposal_step

    with home.archive() as archive:
        return [str(st["step"]) for e in archive.journal.entries() if (st := disposal_step(e))]


CLEAN_RUN = ["proposed", "approved", "approved", "executing", "deleted", "executed"]


@pytest.mark.parametrize(
    ("method", "when"),
    [
        ("set_batch_status", "after the write-ahead entry, before the batch is marked executing"),
        ("dispose_package", "after the deletion entry, before the catalog forgets the package"),
    ],
)
def test_a_crash_between_journal_and_catalog_then_resume_journals_each_step_once(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, method: str, when: str
) -> None:
    """Every step is journalled, then catalogued: a resume after a crash in between must not journal it again
    (an auditor reading two `executing` or two `deletion` entries for one act would be misled)."""
    from strongroom.catalog.sql import SqlCatalog
    from strongroom.records import disposal

    s, home = setup, setup.home
    batch = proposed_and_approved(s)

    class Crash(Exception):
        pass

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash(when)

    with monkeypatch.context() as patch:
        patch.setattr(SqlCatalog, method, crash)
        with home.archive() as archive, pytest.raises(Crash):
            disposal.execute(archive, batch, "crashing-operator")
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed" and done["destroyed"] == [s.doomed]
    assert _steps(home) == CLEAN_RUN
    home.ok("rebuild")
    with home.archive() as archive:
        assert archive.catalog.find_package(s.doomed) is None and archive.catalog.stub(s.doomed) is not None


def test_rebuild_after_every_step_of_a_batch_gives_the_same_records(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strongroom.records import disposal
    from strongroom.storage import ocfl_purge
    from tests.records.test_disposal import Crash, CrashAfter
    from tests.records.test_rebuild_records import snapshot

    s, home = setup, setup.home

    def same_after_rebuild(step: str, *, half_purged: bool = False) -> None:
        with home.archive() as archive:
            before = snapshot(archive)
        home.ok("rebuild")
        with home.archive() as archive:
            after = snapshot(archive)
            if half_purged:  # by design rebuild keeps the write-ahead stub of an object whose purge began
                assert archive.catalog.find_package(s.doomed) is None and archive.catalog.stub(s.doomed) is not None
                for key in ("packages", "stubs", "unpurged", "stub"):
                    before.pop(key), after.pop(key)
        assert after == before, step

    same_after_rebuild("held, nothing proposed")
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    same_after_rebuild("proposed")
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    same_after_rebuild("one approval")
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    same_after_rebuild("approved")
    real = ocfl_purge.purge_object
    with monkeypatch.context() as patch:
        counter = [0]
        patch.setattr(ocfl_purge, "purge_object", lambda storage, root: real(CrashAfter(storage, counter, 5), root))  # type: ignore[arg-type]
        with home.archive() as archive, pytest.raises(Crash):
            disposal.execute(archive, batch, "crashing-operator")
    same_after_rebuild("executing, crashed mid-purge", half_purged=True)
    home.ok("disposal", "execute", batch)
    same_after_rebuild("executed")
    with home.archive() as archive:
        assert archive.catalog.find_package(s.doomed) is None and archive.catalog.find_package(s.held) is not None


def test_a_batch_proposed_for_a_future_day_is_not_executed_before_that_day(home: Home, tmp_path: Path) -> None:
    """`propose --as-of` may plan ahead, but nothing is destroyed before its retention period has run out."""
    from tests.records.test_disposal import assign, load_schedule

    package = str(home.ingest(token_transfer(tmp_path, "future" + "y" * 6, "delta"))["package"])
    with home.archive() as archive:
        load_schedule(archive, "LONG-100", DisposalAction.DESTROY, period="P100Y")  # dated 1999: due in 2099
        assign(archive, package, "LONG-100")
    assert home.ok("disposal", "propose", "--json").json()["batch"] is None  # type: ignore[index]
    proposal = home.ok("disposal", "propose", "--as-of", "2099-12-31", "--json").json()
    assert isinstance(proposal, dict) and [i["package"] for i in proposal["items"]] == [package]
    batch = str(proposal["batch"])
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    entries = journal_count(home)
    refused = home.run("disposal", "execute", batch, "--json")
    assert refused.exit_code == 2 and "2099-12-31" in refused.stderr
    assert journal_count(home) == entries  # nothing journalled, nothing removed
    home.ok("show", package)
    assert only_batch(home)["status"] == "approved"

    # Planned too far ahead: withdraw it (with a reason), and its package may be proposed again later.
    assert home.run("disposal", "withdraw", batch, "--reason", "  ").exit_code == 2
    withdrawn = home.ok("disposal", "withdraw", batch, "--reason", "Proposed for the wrong year", "--json").json()
    assert withdrawn == {"batch": batch, "status": "withdrawn"}
    assert home.run("disposal", "approve", batch, "--as", "Carol White").exit_code == 2  # approvals closed
    again = home.run("disposal", "execute", batch)
    assert again.exit_code == 2 and "withdrawn" in again.stderr
    home.ok("show", package)
    due = home.ok("disposal", "propose", "--as-of", "2099-12-31", "--json").json()
    assert isinstance(due, dict) and due["batch"] not in (None, batch)
    assert [i["package"] for i in due["items"]] == [package]  # no longer "already in an open batch"
    assert home.run("disposal", "withdraw", batch, "--reason", "twice").exit_code == 2  # already withdrawn
    with home.archive() as archive:
        before = {b.id: b.status.value for b in archive.catalog.disposal_batches()}
    home.ok("rebuild")
    with home.archive() as archive:
        assert {b.id: b.status.value for b in archive.catalog.disposal_batches()} == before
    assert before[batch] == "withdrawn"


def test_a_release_that_could_not_unmark_a_location_can_be_finished_then_disposal_goes_ahead(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hold release` journals and catalogues first, then removes the markers; a location it cannot reach keeps
    its marker (exit 1). Running the release again must finish that, or the storage refuses the package's
    disposal for good while every listing says it is free."""
    from strongroom.errors import StorageError
    from strongroom.storage import holds as storage_holds

    s, home = setup, setup.home
    listed = home.ok("hold", "list", "--json").json()
    assert isinstance(listed, dict)
    hold = str(listed["holds"][0]["id"])
    real = storage_holds.remove_marker

    def offsite_down(storage: Any, prefix: str, hold_id: str) -> bool:
        if str(s.offsite) in repr(storage):
            raise StorageError("offsite unreachable")
        return real(storage, prefix, hold_id)

    with monkeypatch.context() as patch:
        patch.setattr(records_holds, "remove_marker", offsite_down)
        first = home.run("hold", "release", hold, "--reason", "Request answered", "--json")
    assert first.exit_code == 1
    entries = journal_count(home)
    again = home.ok("hold", "release", hold, "--reason", "finish", "--json").json()
    assert isinstance(again, dict) and again["locations"]["offsite"] == "unmarked"
    assert journal_count(home) == entries  # the release was journalled the first time
    refused = home.run("hold", "release", hold, "--reason", "third")
    assert refused.exit_code == 2 and "already released" in refused.stderr
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and sorted(done["destroyed"]) == sorted([s.doomed, s.held])
