"""Holds on a real archive: placing and releasing (journalled, catalogued, marked in storage), several per
package, holds chosen by a search, a held package refused a new version, and the `hold` commands' JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.commit import object_id
from strongroom.errors import HeldError, NotFound, StrongroomError
from strongroom.records.holds import ensure_not_held, place_hold, release_hold, sync_markers
from strongroom.records.journal_data import HOLD_PLACED_EVENT, HOLD_RELEASED_EVENT, hold_of, hold_release_of
from strongroom.records.model import HoldType
from strongroom.storage.holds import holds_on, markers_under
from strongroom.storage.ocfl_purge import purge_object
from tests.conftest import Home, write

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z"


def transfer(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / f"transfer-{name}"
    write(folder / "objects" / f"{name}.txt", text)
    return folder


@pytest.fixture
def two(home: Home, tmp_path: Path) -> tuple[str, str]:
    first = str(home.ingest(transfer(tmp_path, "zanzibarminutes", "first package"))["package"])
    second = str(home.ingest(transfer(tmp_path, "other", "second package"))["package"])
    return first, second


def root_of(archive: Archive, package: str) -> str:
    return archive.ocfl.object_root(object_id(package))


def test_place_hold_journals_catalogues_and_marks_storage(home: Home, two: tuple[str, str]) -> None:
    first, second = two
    with home.archive() as archive:
        placement = place_hold(
            archive, packages=[first, second[:8], first], type=HoldType.LITIGATION, reason=HOSTILE,
            authority="High Court <b>", reference=HOSTILE, operator="records manager",
        )  # fmt: skip
        hold = placement.hold
        assert hold.packages == (first, second)  # by reference, each once
        assert [(o.location, o.ok, o.said) for o in placement.locations] == [("primary", True, "marked")]
        assert (hold.reason, hold.reference, hold.authority) == (HOSTILE, HOSTILE, "High Court <b>")

        entries = [e for e in archive.journal.entries() if e.event.type == HOLD_PLACED_EVENT]
        assert sorted(e.package for e in entries) == sorted([first, second])
        assert {e.event.uuid for e in entries} >= {hold.place_event}
        journalled = hold_of(entries[0])
        assert journalled is not None and journalled.id == hold.id and journalled.reason == HOSTILE
        assert len({e.sequence for e in entries}) == 2

        assert [h.id for h in archive.catalog.holds(package=first)] == [hold.id]
        assert archive.catalog.held_packages() >= {first, second}
        events = {e.type for e in archive.details(first).events}
        assert HOLD_PLACED_EVENT in events
        for package in (first, second):
            assert holds_on(archive.storage, root_of(archive, package) + "inventory.json") == [hold.id]


def test_several_holds_per_package_and_release(home: Home, two: tuple[str, str]) -> None:
    first, second = two
    with home.archive() as archive:
        litigation = place_hold(archive, packages=[first, second], type=HoldType.LITIGATION, reason="Case 1",
                                authority=None, reference="C-1", operator="a").hold  # fmt: skip
        foi = place_hold(archive, packages=[first], type=HoldType.FOI, reason="Request 22", authority=None,
                         reference="FOI-22", operator="a").hold  # fmt: skip
        assert [h.id for h in archive.catalog.holds(package=first, active_only=True)] == [litigation.id, foi.id]

        with pytest.raises(HeldError) as refused:
            ensure_not_held(archive, first, "destroy")
        assert litigation.id in str(refused.value) and foi.id in str(refused.value) and "FOI-22" in str(refused.value)

        report = release_hold(archive, litigation.id[:8], reason="Settled", operator="b")
        assert report.still_held == (first,)
        assert report.hold.released is not None and report.hold.release_reason == "Settled"
        assert [(o.location, o.ok) for o in report.locations] == [("primary", True)]
        ensure_not_held(archive, second, "destroy")  # free now
        with pytest.raises(HeldError, match=foi.id):
            ensure_not_held(archive, first, "destroy")
        assert holds_on(archive.storage, root_of(archive, first) + "x") == [foi.id]
        assert holds_on(archive.storage, root_of(archive, second) + "x") == []

        released = [e for e in archive.journal.entries() if e.event.type == HOLD_RELEASED_EVENT]
        assert sorted(e.package for e in released) == sorted([first, second])
        read = hold_release_of(released[0])
        assert read is not None and (read.id, read.by, read.reason) == (litigation.id, "b", "Settled")

        with pytest.raises(StrongroomError, match="already released"):
            release_hold(archive, litigation.id, reason="again", operator="b")
        with pytest.raises(NotFound, match="No hold"):
            release_hold(archive, "00000000-dead", reason="x", operator="b")
        with pytest.raises(StrongroomError, match="reason"):
            release_hold(archive, foi.id, reason="  ", operator="b")

        release_hold(archive, foi.id, reason="Answered", operator="b")
        ensure_not_held(archive, first, "destroy")
        assert archive.catalog.held_packages() == set()
        assert markers_under(archive.storage) == []


def test_the_storage_refuses_to_delete_a_held_package(home: Home, two: tuple[str, str]) -> None:
    first, _ = two
    with home.archive() as archive:
        hold = place_hold(archive, packages=[first], type=HoldType.AUDIT, reason="Audit 2026", authority=None,
                          reference=None, operator="a").hold  # fmt: skip
        root = root_of(archive, first)
        for attempt in (
            lambda: archive.storage.delete(root + "inventory.json"),
            lambda: archive.primary.ocfl.delete_object(object_id(first)),
            lambda: purge_object(archive.storage, root),
        ):
            with pytest.raises(HeldError, match=hold.id):
                attempt()
        assert archive.ocfl.exists(object_id(first))
        release_hold(archive, hold.id, reason="Audit closed", operator="a")
        assert purge_object(archive.storage, root) > 0  # released: the storage lets it go
        assert not archive.ocfl.exists(object_id(first))


def test_a_held_package_gets_no_new_version(home: Home, two: tuple[str, str], tmp_path: Path) -> None:
    first, _ = two
    csv = write(tmp_path / "metadata.csv", "filename,dc.title\nobjects,A new title\n")
    placed = home.ok("hold", "place", first, "--type", "investigation", "--reason", "Inquiry", "--json").json()
    assert isinstance(placed, dict)

    refused = home.run("update", first, "--metadata", str(csv), "--reason", "retitle", "--json")
    assert refused.exit_code == 2
    error = json.loads(refused.stderr)
    assert "store a new version of package" in error["error"] and placed["hold"] in error["error"]
    assert any("strongroom hold release" in hint for hint in error["hint"])
    with home.archive() as archive:
        assert archive.package(first).version == 1

    home.ok("hold", "release", str(placed["hold"]), "--reason", "Inquiry over")
    home.ok("update", first, "--metadata", str(csv), "--reason", "retitle")
    with home.archive() as archive:
        assert archive.package(first).version == 2


def test_a_hold_on_everything_a_search_finds(home: Home, two: tuple[str, str]) -> None:
    first, second = two
    placed = home.ok("hold", "place", "--query", "zanzibarminutes", "--type", "eir", "--reason", "EIR 5",
                     "--reference", "EIR/5", "--json").json()  # fmt: skip
    assert isinstance(placed, dict)
    assert placed["packages"] == [first] and placed["type"] == "foi" and placed["query"] == "zanzibarminutes"

    none = home.run("hold", "place", "--query", "nothingmatchesthisword", "--type", "audit", "--reason", "r", "--json")
    assert none.exit_code == 2 and "finds no package" in json.loads(none.stderr)["error"]
    with home.archive() as archive:
        assert archive.catalog.held_packages() == {first}
        assert second not in archive.catalog.held_packages()


def test_hold_commands_json(home: Home, two: tuple[str, str]) -> None:
    first, second = two
    placed = home.ok("hold", "place", first, second, "--type", "Litigation", "--reason", HOSTILE,
                     "--authority", "Court", "--reference", HOSTILE, "--json").json()  # fmt: skip
    assert isinstance(placed, dict)
    assert set(placed) == {"hold", "type", "reason", "authority", "reference", "query", "placed", "packages",
                           "event", "locations"}  # fmt: skip
    assert (placed["type"], placed["reason"], placed["reference"]) == ("litigation", HOSTILE, HOSTILE)
    assert placed["packages"] == [first, second] and placed["locations"] == {"primary": "marked"}

    listed = home.ok("hold", "list", "--json").json()
    assert isinstance(listed, dict) and [h["id"] for h in listed["holds"]] == [placed["hold"]]
    assert listed["holds"][0]["active"] is True and listed["holds"][0]["reason"] == HOSTILE

    released = home.ok("hold", "release", str(placed["hold"])[:8], "--reason", "done", "--json").json()
    assert isinstance(released, dict)
    assert released["hold"] == placed["hold"] and released["still_held"] == [] and released["released"]
    assert released["locations"] == {"primary": "unmarked"}

    active = home.ok("hold", "list", "--json").json()
    assert active == {"holds": []}
    everything = home.ok("hold", "list", "--all", "--package", second, "--json").json()
    assert isinstance(everything, dict) and everything["holds"][0]["release_reason"] == "done"
    text = home.ok("hold", "list", "--all").stdout
    assert placed["hold"] in text

    for args, complaint in (
        (("hold", "place", first, "--type", "whim", "--reason", "r"), "not a type of hold"),
        (("hold", "place", first, "--reason", "r"), "--type"),
        (("hold", "place", first, "--type", "audit", "--reason", " "), "reason"),
        (("hold", "place", first, "--query", "x", "--type", "audit", "--reason", "r"), "not both"),
        (("hold", "place", "--type", "audit", "--reason", "r"), "Name the packages"),
        (("hold", "place", "nosuchpackage", "--type", "audit", "--reason", "r"), "No package"),
        (("hold", "release", "nosuchhold", "--reason", "r"), "No hold"),
    ):
        result = home.run(*args, "--json")
        assert result.exit_code == 2, args
        assert complaint in json.loads(result.stderr)["error"], args
        assert "Traceback" not in result.stdout + result.stderr


def test_sync_markers_puts_back_missing_markers_and_reports_strays(home: Home, two: tuple[str, str]) -> None:
    first, second = two
    with home.archive() as archive:
        kept = place_hold(archive, packages=[first, second], type=HoldType.FOI, reason="r", authority=None,
                          reference=None, operator="a").hold  # fmt: skip
        gone = place_hold(archive, packages=[first], type=HoldType.AUDIT, reason="r", authority=None,
                          reference=None, operator="a").hold  # fmt: skip
        # A released hold whose marker somehow stayed (a crash between the catalog and the storage step).
        stray_key = f"holds/{root_of(archive, first)}~hold-{gone.id}.json"
        with archive.storage.open(stray_key) as stream:
            marker_text = stream.read()
        release_hold(archive, gone.id, reason="done", operator="a")
        storage_root: Path = archive.storage.root  # type: ignore[attr-defined]
        for folder in [storage_root / "holds", *(p for p in (storage_root / "holds").rglob("*") if p.is_dir())]:
            folder.chmod(0o755)  # the store keeps its folders read-only
        shutil.rmtree(storage_root / "holds")  # markers deleted by hand
        assert markers_under(archive.storage) == []
        write(storage_root / stray_key, marker_text)

        sync = sync_markers(archive)
        assert sorted(sync.restored) == sorted([("primary", first, kept.id), ("primary", second, kept.id)])
        assert sync.stray == (("primary", stray_key),) and sync.unreachable == {}
        assert holds_on(archive.storage, root_of(archive, second) + "x") == [kept.id]
        assert sync_markers(archive).restored == ()  # nothing missing the second time


def test_a_location_added_after_a_hold_gets_its_markers_when_replicated(
    home: Home, two: tuple[str, str], tmp_path: Path
) -> None:
    first, _second = two
    with home.archive() as archive:
        hold = place_hold(archive, packages=[first], type=HoldType.AUDIT, reason="Internal audit 2026",
                          authority=None, reference="IA-7", operator="a").hold  # fmt: skip
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    home.ok("replicate")
    with home.archive() as archive:
        location = archive.location("offsite")
        root = location.ocfl.object_root(object_id(first))
        assert holds_on(location.storage, root + "inventory.json") == [hold.id]
        with pytest.raises(HeldError):
            location.storage.delete(root + "inventory.json")
        assert location.storage.stat(root + "inventory.json").size > 0  # refused, so still there


def test_repair_of_a_held_package_keeps_a_stray_file_and_says_why(
    home: Home, two: tuple[str, str], tmp_path: Path
) -> None:
    first, _second = two
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    home.ok("replicate")
    with home.archive() as archive:
        place_hold(archive, packages=[first], type=HoldType.LITIGATION, reason="Claim", authority=None,
                   reference="HC-1", operator="a")  # fmt: skip
        root = archive.location("offsite").ocfl.object_root(object_id(first))
    stray = offsite / root / "v1" / "content" / "stray.bin"
    write(stray, "not part of the object")
    repaired = home.run("repair", first, "--json")
    assert repaired.exit_code == 1, repaired.stdout + repaired.stderr  # the copy is still not as it should be
    assert stray.exists()  # a hold forbids any delete, repair's included
    details = home.ok("show", first, "--json").json()
    assert isinstance(details, dict)
    assert any(
        e["type"] == "replication" and "kept stray v1/content/stray.bin" in e["detail"] and "hold" in e["detail"]
        for e in details["events"]
    )
