"""Several storage locations: every version in every replica, audits per location, repair from a good copy."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.errors import StorageError
from tests.conftest import EXAMPLE_TRANSFER, Home, write
from tests.spine.test_versions import update


def object_folder(storage: Path, package: str) -> Path:
    digest = hashlib.sha256(f"urn:uuid:{package}".encode()).hexdigest()
    return storage / "ocfl" / digest[0:3] / digest[3:6] / digest[6:9] / f"urn%3auuid%3a{package}"


def writable(path: Path) -> None:
    """Stored files and folders are read-only on disk; a test that damages them on purpose lifts that first."""
    for folder, _dirs, files in os.walk(path):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under `folder`: (inode, mtime_ns, sha256) — to prove a location was not written to."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        info = path.stat()
        found[str(path.relative_to(folder))] = (
            info.st_ino,
            info.st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
    return found


def ocfl_valid(root: Path) -> None:
    validator = Path(sys.executable).parent / "ocfl-validate.py"
    result = subprocess.run([sys.executable, str(validator), str(root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def two_places(home: Home, tmp_path: Path) -> tuple[Home, str, Path]:
    """An archive with a second folder location and one package stored in both."""
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    return home, package, offsite


def test_every_version_is_stored_in_every_replica_and_checked_there(home: Home, tmp_path: Path) -> None:
    first = str(home.ingest(EXAMPLE_TRANSFER)["package"])  # before the second location exists
    offsite = tmp_path / "offsite"
    added = home.ok("location", "add", "offsite", "--path", str(offsite), "--json").json()
    assert added == {"name": "offsite", "kind": "filesystem", "role": "replica", "where": str(offsite),
                     "packages": 1, "object_lock": False, "copies_found": 0}  # fmt: skip
    config = (home.path / "strongroom.toml").read_text()
    assert "[locations.primary]" in config and "[locations.offsite]" in config and "[storage]" not in config
    assert "# Strongroom archive settings" in config  # the rest of the file, comments included, is kept

    listed = home.ok("location", "list", "--json").json()
    assert isinstance(listed, dict)
    rows = {row["name"]: row for row in listed["locations"]}
    assert rows["primary"]["primary"] and rows["primary"]["current"] == 1
    assert rows["offsite"]["packages"] == 0  # not copied yet
    audit = home.run("audit", "--json")
    assert audit.exit_code == 1  # a replica lacking a package is something wrong
    assert any("replicate" in p["source"] for p in audit.json()["problems"])  # type: ignore[index]

    copied = home.ok("replicate", "--json").json()
    assert isinstance(copied, dict)
    assert [(c["package"], c["to"], c["to_version"]) for c in copied["copied"]] == [(first, "offsite", 1)]
    assert copied["journal_batches"] >= 1 and not copied["failures"]
    again = home.ok("replicate", "--json").json()
    assert again["copied"] == [] and again["up_to_date"] == 1  # type: ignore[index]

    # New packages and new versions go to both locations at commit.
    second = str(home.ingest(EXAMPLE_TRANSFER, "--allow-duplicate")["package"])
    update(home, first, tmp_path)
    for package, version in ((first, 2), (second, 1)):
        for storage in (home.path / "storage", offsite):
            inventory = object_folder(storage, package) / "inventory.json"
            assert f'"head": "v{version}"' in inventory.read_text()
    ocfl_valid(offsite / "ocfl")
    events = home.ok("show", first, "--json").json()["events"]  # type: ignore[index]
    replications = [e for e in events if e["type"] == "replication"]
    assert len(replications) == 2 and all("offsite" in e["detail"] for e in replications)

    audit = home.ok("audit", "--json").json()
    assert isinstance(audit, dict)
    assert sorted((c["name"], c["location"]) for c in audit["copies"]) == sorted(
        (name, place) for name in ("sample-transfer", "sample-transfer") for place in ("primary", "offsite")
    )
    assert audit["problems"] == []
    rows = {row["name"]: row for row in home.ok("location", "list", "--json").json()["locations"]}  # type: ignore[index]
    assert rows["offsite"]["current"] == 2 and rows["offsite"]["last_audit"]["oldest"] is not None
    assert rows["offsite"]["bytes"] == rows["primary"]["bytes"] > 0


FAULTS = ["flipped byte", "truncated", "deleted file", "deleted inventory", "damaged version inventory"]


def damage(folder: Path, fault: str) -> str:
    """Damage one package copy; returns the path (relative to the object) that audit must name."""
    writable(folder)
    content = sorted(p for p in folder.glob("v1/content/data/objects/**/*") if p.is_file())[0]
    relative = str(content.relative_to(folder))
    if fault == "flipped byte":
        data = bytearray(content.read_bytes())
        data[len(data) // 2] ^= 0x01
        content.write_bytes(bytes(data))
    elif fault == "truncated":
        content.write_bytes(content.read_bytes()[:-7])
    elif fault == "deleted file":
        content.unlink()
    elif fault == "damaged version inventory":
        # The version's own inventory (its sidecar left as it was): repair must never spread it, and audit must see it.
        version_inventory = folder / "v1" / "inventory.json"
        data = bytearray(version_inventory.read_bytes())
        data[len(data) // 2] ^= 0x01
        version_inventory.write_bytes(bytes(data))
        return "v1/inventory.json"
    else:
        (folder / "inventory.json").unlink()
        return "inventory.json"
    return relative


@pytest.mark.parametrize("where", ["primary", "offsite"])
@pytest.mark.parametrize("fault", FAULTS)
def test_audit_finds_each_fault_in_either_location_and_repair_heals_it(
    two_places: tuple[Home, str, Path], where: str, fault: str
) -> None:
    home, package, offsite = two_places
    storage = home.path / "storage" if where == "primary" else offsite
    good = offsite if where == "primary" else home.path / "storage"
    path = damage(object_folder(storage, package), fault)
    before = snapshot(good / "ocfl")  # the journal is appended to in the primary: only the packages must not change

    audit = home.run("audit", "--json")
    assert audit.exit_code == 1
    problems = audit.json()["problems"]  # type: ignore[index]
    assert problems and {p["location"] for p in problems} == {where}
    assert all(p["package"] == package for p in problems)
    assert any(p["path"].endswith(path) for p in problems), problems
    people = home.run("audit")  # the same, for people: package name, location and file named
    assert "sample-transfer" in people.stdout and f"location {where}" in people.stdout
    assert path.rsplit("/", 1)[-1] in people.stdout

    repaired = home.run("repair", package, "--json")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    report = repaired.json()
    assert isinstance(report, dict)
    assert report["ok"] and [h["location"] for h in report["healed"]] == [where]
    assert any(r.endswith(path) for r in report["healed"][0]["restored"])
    assert snapshot(good / "ocfl") == before  # the good copy was never written to
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]
    ocfl_valid(storage / "ocfl")
    events = home.ok("show", package, "--json").json()["events"]  # type: ignore[index]
    assert any(e["type"] == "replication" and "repair" in e["detail"] for e in events)
    assert any(e["type"] == "fixity check" and e["outcome"] == "failure" for e in events)


def test_audit_repair_heals_what_it_finds(two_places: tuple[Home, str, Path]) -> None:
    home, package, offsite = two_places
    damage(object_folder(offsite, package), "flipped byte")
    result = home.ok("audit", "--repair", "--json").json()
    assert isinstance(result, dict)
    assert result["problems"] and result["repairs"][0]["healed"][0]["location"] == "offsite"
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]


def test_repair_refuses_when_no_good_copy_exists_and_changes_nothing(two_places: tuple[Home, str, Path]) -> None:
    home, package, offsite = two_places
    damage(object_folder(home.path / "storage", package), "deleted inventory")
    damage(object_folder(offsite, package), "deleted inventory")
    before = (snapshot(home.path / "storage" / "ocfl"), snapshot(offsite / "ocfl"))
    refused = home.run("repair", package)
    assert refused.exit_code == 1
    assert "No location holds a good copy" in refused.stdout and "nothing was changed" in refused.stdout
    assert "[location primary]" in refused.stdout and "[location offsite]" in refused.stdout
    assert (snapshot(home.path / "storage" / "ocfl"), snapshot(offsite / "ocfl")) == before


def test_a_file_damaged_in_every_copy_is_named_and_nothing_else_changes(two_places: tuple[Home, str, Path]) -> None:
    home, package, offsite = two_places
    path = damage(object_folder(home.path / "storage", package), "flipped byte")
    assert damage(object_folder(offsite, package), "deleted file") == path  # the same file, in both
    before = (snapshot(home.path / "storage" / "ocfl"), snapshot(offsite / "ocfl"))
    refused = home.run("repair", package, "--json")
    assert refused.exit_code == 1
    report = refused.json()
    assert report["intact_nowhere"] == {"primary": [path], "offsite": [path]}  # type: ignore[index]
    assert (snapshot(home.path / "storage" / "ocfl"), snapshot(offsite / "ocfl")) == before
    people = home.run("repair", package)
    assert "no intact copy anywhere" in people.stdout and "backup" in people.stdout


def test_two_copies_damaged_in_different_files_heal_each_other(two_places: tuple[Home, str, Path]) -> None:
    home, package, offsite = two_places
    damage(object_folder(home.path / "storage", package), "flipped byte")  # the first content file
    other = sorted(p for p in object_folder(offsite, package).glob("v1/content/data/objects/**/*") if p.is_file())[-1]
    writable(object_folder(offsite, package))
    other.write_bytes(b"not what was ingested")
    assert home.run("audit").exit_code == 1
    repaired = home.run("repair", package, "--json")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    healed = {h["location"]: h["restored"] for h in repaired.json()["healed"]}  # type: ignore[index]
    assert set(healed) == {"primary", "offsite"}
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]


def test_copies_whose_last_check_failed_are_checked_on_every_run(two_places: tuple[Home, str, Path]) -> None:
    home, package, offsite = two_places
    damage(object_folder(offsite, package), "truncated")
    assert home.run("audit").exit_code == 1
    again = home.run("audit", "--older-than", "30d", "--json")
    assert again.exit_code == 1  # the damaged copy waits for nobody; the good one was checked recently
    data = again.json()
    assert [c["location"] for c in data["copies"]] == ["offsite"] and data["checked_recently"] == 1  # type: ignore[index]


def test_a_location_holding_the_only_good_copy_cannot_be_removed(home: Home, tmp_path: Path) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    home.ok("location", "add", "offsite", "--path", str(tmp_path / "offsite"))
    refused = home.run("location", "remove", "primary")
    assert refused.exit_code != 0 and "only good copy" in refused.stderr and package in refused.stderr
    home.ok("replicate")
    home.ok("location", "remove", "primary")  # offsite holds everything now, and becomes the primary
    config = (home.path / "strongroom.toml").read_text()
    assert "[locations.primary]" not in config and "[locations.offsite]" in config
    assert home.ok("location", "list", "--json").json()["locations"][0]["name"] == "offsite"  # type: ignore[index]
    home.ok("verify", "--all")
    home.ok("journal", "verify")  # the whole journal came along
    assert (home.path / "storage" / "ocfl").is_dir()  # nothing deleted from the removed location
    only = home.run("location", "remove", "offsite")
    assert only.exit_code != 0 and "only location" in only.stderr


def test_bad_location_input_gets_clear_errors(home: Home, tmp_path: Path) -> None:
    bad_name = home.run("location", "add", "Off Site", "--path", str(tmp_path / "x"))
    assert bad_name.exit_code != 0 and "cannot name a location" in bad_name.stderr
    same = home.run("location", "add", "again", "--path", str(home.path / "storage"))
    assert same.exit_code != 0 and "already keeps its copy" in same.stderr
    a_file = write(tmp_path / "a-file", "not a folder")
    not_folder = home.run("location", "add", "fileloc", "--path", str(a_file))
    assert not_folder.exit_code != 0 and "Traceback" not in not_folder.stderr and not_folder.stderr.strip()
    both = home.run("location", "add", "x", "--path", str(tmp_path / "x"), "--s3", "bucket")
    assert both.exit_code != 0 and "exactly one" in both.stderr
    home.ok("location", "add", "offsite", "--path", str(tmp_path / "offsite"))
    twice = home.run("location", "add", "offsite", "--path", str(tmp_path / "elsewhere"))
    assert twice.exit_code != 0 and "already a location named" in twice.stderr
    missing = home.run("location", "remove", "nowhere")
    assert missing.exit_code != 0 and "no location named" in missing.stderr.lower()
    assert "nowhere" not in (home.path / "strongroom.toml").read_text()


def test_an_unreachable_replica_never_blocks_ingest_and_nothing_is_recorded_as_copied(home: Home) -> None:
    config = home.path / "strongroom.toml"
    home.ok("location", "add", "second", "--path", str(home.path.parent / "second"))
    text = config.read_text().replace(
        '[locations.second]\nkind = "filesystem"\npath = "' + str(home.path.parent / "second") + '"',
        '[locations.second]\nkind = "s3"\nbucket = "nowhere"\nendpoint_url = "http://127.0.0.1:9"\n'
        "max_attempts = 1\nconnect_timeout = 1",
    )
    assert "nowhere" in text
    config.write_text(text)
    result = home.ok("ingest", str(EXAMPLE_TRANSFER), "--json").json()
    assert isinstance(result, dict)
    assert any("second" in w and "strongroom replicate" in w for w in result["warnings"]), result["warnings"]
    rows = {r["name"]: r for r in home.ok("location", "list", "--json").json()["locations"]}  # type: ignore[index]
    assert rows["primary"]["current"] == 1 and rows["second"]["packages"] == 0
    failed = home.run("replicate", "--json")
    assert failed.exit_code == 1 and "second" in failed.json()["unreachable_locations"]  # type: ignore[index]


def test_an_interrupted_copy_resumes_where_it_stopped(two_places: tuple[Home, str, Path], tmp_path: Path) -> None:
    home, package, _offsite = two_places
    third = tmp_path / "third"
    home.ok("location", "add", "third", "--path", str(third))
    with home.archive() as archive:
        target = archive.location("third")
        puts = [0]
        real_put = target.storage.put

        def failing_put(key: str, source: Path, sha256: str) -> object:
            puts[0] += 1
            if puts[0] > 3:
                raise StorageError("the disk went away (simulated by the test)")
            return real_put(key, source, sha256)

        target.storage.put = failing_put  # type: ignore[method-assign]
        report = archive.replicate("test-archivist", "third")
        assert report.failures and not report.copies
        assert not [c for c in archive.catalog.copies(location="third")]  # nothing recorded as stored
    assert not (object_folder(third, package) / "inventory.json").exists()  # the version is not visible there
    resumed = home.ok("replicate", "--json").json()
    assert isinstance(resumed, dict)
    assert resumed["copied"][0]["reused"] == 3  # what was stored whole before is kept, checked, not re-sent
    assert home.ok("audit", "--location", "third", "--json").json()["problems"] == []  # type: ignore[index]
    assert not [p for p in third.rglob("*.partial")]
    assert stat.S_IMODE(next(third.rglob("inventory.json")).stat().st_mode) == 0o444


def test_rebuild_recovers_which_location_holds_what_and_when_it_was_checked(
    two_places: tuple[Home, str, Path],
) -> None:
    from tests.conftest import drop_catalog

    home, _package, _offsite = two_places
    home.ok("audit")
    before = home.ok("location", "list", "--json").json()
    drop_catalog(home)
    (home.path / "search.sqlite").unlink()
    rebuilt = home.ok("rebuild", "--json").json()
    assert rebuilt["unreachable_locations"] == {}  # type: ignore[index]
    assert home.ok("location", "list", "--json").json() == before
    assert home.ok("audit", "--older-than", "1d", "--json").json()["checked_recently"] == 2  # type: ignore[index]


def test_a_reattached_copy_is_recognised_and_a_read_only_location_is_audited_not_written(
    two_places: tuple[Home, str, Path], tmp_path: Path
) -> None:
    home, package, offsite = two_places
    home.ok("location", "remove", "offsite")  # the primary holds everything; the files stay where they are
    empty = home.run("location", "add", "blank", "--path", str(tmp_path / "blank"), "--read-only")
    assert empty.exit_code != 0 and "holds no Strongroom storage" in empty.stderr
    added = home.ok("location", "add", "old-disk", "--path", str(offsite), "--read-only", "--json").json()
    assert added["copies_found"] == 1 and added["role"] == "read-only"  # type: ignore[index]
    second = str(home.ingest(EXAMPLE_TRANSFER, "--allow-duplicate")["package"])
    assert not object_folder(offsite, second).exists()  # nothing new goes to a read-only location
    audit = home.ok("audit", "--location", "old-disk", "--json").json()
    assert [(c["package"], c["location"]) for c in audit["copies"]] == [(package, "old-disk")]  # type: ignore[index]
    damage(object_folder(offsite, package), "deleted file")
    repaired = home.run("repair", package, "--json")
    assert repaired.exit_code == 1  # read-only locations are never written to, even to repair them
    assert "read-only" in repaired.json()["not_repaired"]["old-disk"]  # type: ignore[index]


def test_a_replica_that_never_answers_delays_an_ingest_by_seconds_not_minutes(
    home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import time

    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"), ("AWS_DEFAULT_REGION", "x")):
        monkeypatch.setenv(name, value)
    silent = socket.socket()  # accepts connections (the kernel does) and never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    try:
        config = home.path / "strongroom.toml"
        home.ok("location", "add", "second", "--path", str(home.path.parent / "second"))
        config.write_text(
            config.read_text().replace(
                f'[locations.second]\nkind = "filesystem"\npath = "{home.path.parent / "second"}"',
                f'[locations.second]\nkind = "s3"\nbucket = "b"\nendpoint_url = "http://127.0.0.1:{silent.getsockname()[1]}"',
            )
        )
        started = time.monotonic()
        result = home.ok("ingest", str(EXAMPLE_TRANSFER), "--json").json()
        waited = time.monotonic() - started
    finally:
        silent.close()
    assert isinstance(result, dict)
    assert any("second" in w and "did not answer" in w for w in result["warnings"]), result["warnings"]
    assert waited < 30, f"the ingest waited {waited:.1f} s on a replica that never answers"


def test_one_folder_cannot_be_two_locations(home: Home, tmp_path: Path) -> None:
    link = tmp_path / "link-to-storage"
    link.symlink_to(home.path / "storage")
    for path in (link, home.path / "storage" / ".." / "storage", home.path / "storage" / "inside"):
        refused = home.run("location", "add", "again", "--path", str(path))
        assert refused.exit_code != 0 and "already keeps its copy" in refused.stderr, path


def test_the_primary_gives_way_only_to_a_location_holding_everything(home: Home, tmp_path: Path) -> None:
    home.ingest(EXAMPLE_TRANSFER)
    home.ok("location", "add", "empty", "--path", str(tmp_path / "empty"))
    home.ok("location", "add", "full", "--path", str(tmp_path / "full"))
    home.ok("replicate", "--location", "full")  # "full" holds everything; "empty", next in line, nothing
    refused = home.run("location", "remove", "primary")
    assert refused.exit_code != 0 and "empty" in refused.stderr and "lacks a good copy" in refused.stderr
    assert "[locations.primary]" in (home.path / "strongroom.toml").read_text()


def test_a_location_that_cannot_be_read_is_unreachable_not_damaged(two_places: tuple[Home, str, Path]) -> None:
    home, package, _offsite = two_places
    with home.archive() as archive:
        offsite = archive.location("offsite")

        def offline(key: str) -> object:
            raise StorageError("the disk went offline (simulated by the test)")

        offsite.storage.open = offline  # type: ignore[method-assign]
        report = archive.verify([], "test-archivist")
        assert "offsite" in report.unreachable and "went offline" in report.unreachable["offsite"]
        assert report.problems == []  # nothing is known of that copy: no damage reported
        assert [c.location for c in report.copies] == ["primary"]
        failed = [e for e in archive.catalog.events(package) if e.type == "fixity check" and e.outcome == "failure"]
        assert failed == []  # and none journalled or catalogued
        repaired = archive.repair(package, "test-archivist")
        assert "could not be read" in repaired.skipped["offsite"] and not repaired.healed
