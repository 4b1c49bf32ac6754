"""Disposal end to end on a real archive: propose, two-person approval, execute (destroy and transfer), holds,
a crash at any delete then resume, and `rebuild` afterwards. After disposal no byte of the package is left in
any location or in the search index, while its stub and the certificate remain."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from strongroom.archive import Archive
from strongroom.commit import object_id
from strongroom.errors import HeldError
from strongroom.manifests import validate_bag
from strongroom.records import disposal, retention
from strongroom.records.journal_data import disposal_step
from strongroom.records.model import BatchStatus, DisposalAction, ItemOutcome
from strongroom.records.schedules import load_schedules
from strongroom.storage.base import StorageBackend
from strongroom.storage.ocfl import OcflStore
from tests.conftest import Home, ocfl_validate, write

AUTHORITY = "Local Government Act 1972 s.224"


# --- setting up ----------------------------------------------------------------------------------


def token_transfer(tmp_path: Path, token: str, name: str) -> Path:
    """A small transfer whose content and one file name carry `token` (its DC date makes it due long ago)."""
    source = tmp_path / "sources" / name
    write(source / "objects" / f"letter-{token}.txt", f"Dear council, the word of the day is {token}. Regards.\n")
    write(source / "objects" / "notes" / "plain.txt", "Nothing in particular.\n")
    write(source / "metadata" / "metadata.csv",
          "filename,dc.title,dc.identifier,dc.date\n"
          f"objects,Council letters {name},TCA/{name},1999-03-04\n")  # fmt: skip
    return source


def load_schedule(archive: Archive, code: str, action: DisposalAction, period: str = "P1Y") -> None:
    """A schedule, loaded from TOML as `retention load` does."""
    source = archive.settings.home.parent / f"schedule-{code}.toml"
    source.write_text(
        f'[[schedule]]\ncode = "{code}"\ntitle = "Class {code}"\ndescription = "Letters"\n'
        f'authority = "{AUTHORITY}"\nperiod = "{period}"\ntrigger = "creation"\naction = "{action.value}"\n',
        encoding="utf-8",
    )
    load_schedules(archive, source, reason="test", operator="test-archivist")


def assign(archive: Archive, package: str, code: str) -> None:
    retention.assign(archive, package, code, reason="test", operator="test-archivist")


def update_metadata(home: Home, package: str, tmp_path: Path, name: str) -> None:
    csv_file = write(tmp_path / f"update-{name}.csv", "filename,dc.title,dc.identifier,dc.date\n"
                     f"objects,Council letters {name} (revised),TCA/{name},1999-03-04\n")  # fmt: skip
    home.ok("update", package, "--metadata", str(csv_file), "--reason", "Revised title")


@dataclass
class Setup:
    home: Home
    offsite: Path
    token: str
    doomed: str  # the package to destroy (token inside)
    held: str  # due as well, but held


@pytest.fixture
def setup(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return make_setup(home, tmp_path, monkeypatch)


def make_setup(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """Two due packages with text extraction on, two versions each, in two filesystem locations; one held."""
    monkeypatch.setenv("STRONGROOM_EXTRACT_TEXT", "1")
    token = "qz" + uuid.uuid4().hex[:14]
    doomed = str(home.ingest(token_transfer(tmp_path, token, "alpha"))["package"])
    held = str(home.ingest(token_transfer(tmp_path, "kept" + uuid.uuid4().hex[:8], "beta"))["package"])
    offsite = tmp_path / "offsite"
    home.ok("location", "add", "offsite", "--path", str(offsite))
    home.ok("replicate")
    update_metadata(home, doomed, tmp_path, "alpha")
    update_metadata(home, held, tmp_path, "beta")
    with home.archive() as archive:
        load_schedule(archive, "LG-1", DisposalAction.DESTROY)
        assign(archive, doomed, "LG-1")
        assign(archive, held, "LG-1")
    home.ok("hold", "place", held, "--type", "foi", "--reason", "FOI request 2026/17", "--reference", "2026/17")
    return Setup(home, offsite, token, doomed, held)


# --- what is left ----------------------------------------------------------------------------------


def files_with(folder: Path, needle: bytes, *, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = str(path.relative_to(folder))
        if relative.startswith(skip):
            continue
        if needle in path.read_bytes() or needle in relative.encode():
            found.append(relative)
    return found


def object_ids(folder: Path) -> list[str]:
    from strongroom.storage import open_storage

    return list(OcflStore(open_storage("filesystem", {"path": str(folder)})).object_ids())


def assert_gone_for_good(s: Setup, package: str, token: str, code: str = "LG-1") -> None:
    """No byte of the package anywhere; its stub, certificate and the rest of the archive intact."""
    home = s.home
    for storage in (home.path / "storage", s.offsite):
        assert object_id(package) not in object_ids(storage)
        assert files_with(storage, token.encode(), skip=("journal/",)) == []
        assert files_with(storage / "journal", token.encode()) == []  # the token never went into the journal
    # Nor anywhere else in the home: catalog and its WAL, certificates, staging.
    assert files_with(home.path, token.encode(), skip=("storage/journal/",)) == []
    index_files = [p for p in home.path.glob("search.sqlite*") if p.is_file()]
    assert index_files and not any(token.encode() in p.read_bytes() for p in index_files)
    found = home.ok("search", token, "--as", "admin", "--json").json()
    assert isinstance(found, dict) and found["total"] == 0
    shown = home.run("show", package)  # staff are told it was destroyed, and where its stub is
    assert shown.exit_code == 2 and "disposal show" in shown.stderr
    assert re.search(r"was (destroyed|transferred to .+) on \d{4}-\d\d-\d\d", shown.stderr), shown.stderr
    as_researcher = home.run("show", package, "--as", "researcher")
    unknown = home.run("show", "00000000-0000-4000-8000-000000000000", "--as", "researcher")
    assert as_researcher.exit_code == unknown.exit_code == 2 and "No package" in as_researcher.stderr
    with home.archive() as archive:
        assert archive.catalog.find_package(package) is None
        stub = archive.catalog.stub(package)
        assert stub is not None and stub.index_purged and stub.code == code and stub.authority == AUTHORITY
        assert stub.identifier == "TCA/alpha" and stub.title.startswith("Council letters alpha")
        assert stub.date_from == date(1999, 3, 4) and stub.files >= 2
        assert token not in repr(stub)  # no file names, no content
    home.ok("verify", "--all")
    ocfl_validate(home)


def only_batch(home: Home) -> dict[str, Any]:
    listed = home.ok("disposal", "list", "--json").json()
    assert isinstance(listed, dict)
    (batch,) = listed["batches"]
    assert isinstance(batch, dict)
    return batch


def journal_count(home: Home) -> int:
    with home.archive() as archive:
        return sum(1 for _ in archive.journal.entries())


def proposed_and_approved(s: Setup) -> str:
    proposal = s.home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict) and isinstance(proposal["batch"], str)
    batch = proposal["batch"]
    s.home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    s.home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    return batch


# --- the tests -------------------------------------------------------------------------------------


def test_full_disposal_leaves_no_byte_but_keeps_the_stub_and_certificate_through_rebuild(
    setup: Setup, tmp_path: Path
) -> None:
    s, home = setup, setup.home
    # The test means something: before disposal the token is stored, indexed and found.
    assert files_with(home.path / "storage", s.token.encode(), skip=("journal/",))
    assert files_with(s.offsite, s.token.encode(), skip=("journal/",))
    before = home.ok("search", s.token, "--as", "admin", "--json").json()
    assert isinstance(before, dict) and before["total"] >= 1

    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = proposal["batch"]
    assert isinstance(batch, str)
    assert [i["package"] for i in proposal["items"]] == [s.doomed]
    assert proposal["items"][0]["action"] == "destroy" and proposal["items"][0]["schedule"] == {
        "code": "LG-1",
        "version": 1,
    }
    assert [o["package"] for o in proposal["left_out"]] == [s.held]
    assert "held" in proposal["left_out"][0]["why"]

    # Execution needs two different people.
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    refused = home.run("disposal", "execute", batch, "--json")
    assert refused.exit_code == 2 and "two different people" in refused.stderr
    entries = journal_count(home)
    for same in ("alice smith", "  ALICE   Smith ", "Alice Smith"):
        again = home.run("disposal", "approve", batch, "--as", same, "--json")
        assert again.exit_code == 2 and "a second, different person must approve" in again.stderr
    assert journal_count(home) == entries  # nothing journalled
    blank = home.run("disposal", "approve", batch, "--as", "   ")
    assert blank.exit_code == 2
    approved = home.ok("disposal", "approve", batch[:8], "--as", "Bob Jones", "--json").json()
    assert isinstance(approved, dict) and approved["status"] == "approved"
    assert [a["name"] for a in approved["approvals"]] == ["Alice Smith", "Bob Jones"]
    assert {a["operator"] for a in approved["approvals"]} == {"test-archivist"}

    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict)
    assert done["status"] == "executed" and done["destroyed"] == [s.doomed] and done["pending"] == {}
    certificate = done["certificate"]
    assert certificate["stored"] == [f"records/certificates/{batch}.csv", f"records/certificates/{batch}.html"]
    for kind in ("csv", "html"):
        assert Path(certificate[kind]) == home.path / "certificates" / f"{batch}.{kind}"
        stored = home.path / "storage" / "records" / "certificates" / f"{batch}.{kind}"
        assert stored.read_bytes() == Path(certificate[kind]).read_bytes()
    rows = list(csv.DictReader(io.StringIO(Path(certificate["csv"]).read_text(encoding="utf-8"))))
    assert [(r["package"], r["schedule"], r["approved_by"]) for r in rows] == [
        (s.doomed, "LG-1", "Alice Smith; Bob Jones")
    ]
    assert_gone_for_good(s, s.doomed, s.token)
    # The held package is whole.
    home.ok("show", s.held)
    with home.archive() as archive:
        assert archive.ocfl.exists(object_id(s.held))
        steps = [disposal_step(e) for e in archive.journal.entries()]
        deletions = [e for e in archive.journal.entries() if e.event.type == "deletion"]
    assert [st["step"] for st in steps if st] == ["proposed", "approved", "approved", "executing", "deleted",
                                                  "executed"]  # fmt: skip
    assert [d.package for d in deletions] == [s.doomed] and "removed under schedule LG-1" in deletions[0].event.detail
    home.ok("audit", "--json")  # nothing that reads the storage root trips over records/certificates/
    home.ok("replicate")
    entries = journal_count(home)
    again = home.ok("disposal", "execute", batch, "--json").json()  # executed: running again changes nothing
    assert isinstance(again, dict) and again["status"] == "executed" and again["destroyed"] == [s.doomed]
    assert journal_count(home) == entries

    # After rebuild: stub, batch, approvals and certificate are back; the package is not resurrected.
    before_rebuild = only_batch(home)
    home.ok("rebuild")
    assert only_batch(home) == before_rebuild
    with home.archive() as archive:
        assert archive.catalog.find_package(s.doomed) is None
        stub = archive.catalog.stub(s.doomed)
        assert stub is not None and stub.batch == batch
    rendered = home.ok("disposal", "show", batch, "--certificate", str(tmp_path / "again"), "--json").json()
    assert isinstance(rendered, dict) and rendered["certificate"]["matches"] == {"csv": True, "html": True}
    for kind in ("csv", "html"):
        assert (tmp_path / "again" / f"{batch}.{kind}").read_bytes() == Path(certificate[kind]).read_bytes()
    assert_gone_for_good(s, s.doomed, s.token)


def test_a_hold_placed_after_approval_skips_the_package_and_keeps_its_content(setup: Setup) -> None:
    s, home = setup, setup.home
    home.ok("hold", "release", _only_hold(home), "--reason", "Request answered")
    batch = proposed_and_approved(s)
    assert {i["package"] for i in only_batch(home)["items"]} == {s.doomed, s.held}
    home.ok("hold", "place", s.held, "--type", "litigation", "--reason", "Claim 42")

    # The storage layer refuses a delete under the hold too, whoever asks.
    with home.archive() as archive:
        key = next(k for k in archive.storage.list(archive.ocfl.object_root(object_id(s.held))))
        with pytest.raises(HeldError):
            archive.storage.delete(key)
        with pytest.raises(HeldError):
            archive.location("offsite").storage.delete(key)
        from strongroom.storage.ocfl_purge import purge_object

        with pytest.raises(HeldError):
            purge_object(archive.storage, archive.ocfl.object_root(object_id(s.held)))
        assert archive.ocfl.exists(object_id(s.held))

    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed"
    assert done["destroyed"] == [s.doomed]
    (skipped,) = done["skipped"]
    assert skipped["package"] == s.held and skipped["why"].startswith("held: litigation hold")
    home.ok("show", s.held)
    home.ok("verify", s.held)
    page = Path(done["certificate"]["html"]).read_text(encoding="utf-8")
    assert "Not disposed of" in page and s.held in page


def _only_hold(home: Home) -> str:
    holds = home.ok("hold", "list", "--json").json()
    assert isinstance(holds, dict)
    (hold,) = holds["holds"]
    return str(hold["id"])


def test_a_review_item_and_an_open_batch_are_left_out_and_nothing_due_proposes_nothing(setup: Setup) -> None:
    s, home = setup, setup.home
    with home.archive() as archive:
        load_schedule(archive, "REV", DisposalAction.REVIEW)
        assign(archive, s.held, "REV")
    first = home.ok("disposal", "propose", "--json").json()
    assert isinstance(first, dict) and [i["package"] for i in first["items"]] == [s.doomed]
    why = {o["package"]: o["why"] for o in first["left_out"]}
    assert "retention review" in why[s.held]
    second = home.ok("disposal", "propose", "--json").json()
    assert isinstance(second, dict) and second["batch"] is None and second["items"] == []
    why = {o["package"]: o["why"] for o in second["left_out"]}
    assert first["batch"] in why[s.doomed]
    nothing = home.ok("disposal", "propose", "--as-of", "1990-01-01", "--json").json()
    assert isinstance(nothing, dict) and nothing["batch"] is None and nothing["left_out"] == []
    assert home.run("disposal", "propose", "--as-of", "someday").exit_code == 2


class Crash(Exception):
    pass


class CrashAfter:
    """A storage backend that stops (as a killed process would) after `limit` deletes in all."""

    def __init__(self, inner: StorageBackend, counter: list[int], limit: int) -> None:
        self.inner, self.counter, self.limit = inner, counter, limit

    def put(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.put(*args, **kwargs)

    def open(self, key: str) -> Any:
        return self.inner.open(key)

    def stat(self, key: str) -> Any:
        return self.inner.stat(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def delete(self, key: str) -> None:
        if self.counter[0] >= self.limit:
            raise Crash(f"crashed before delete number {self.limit + 1}")
        self.counter[0] += 1
        self.inner.delete(key)


CRASH_POINTS = {
    "before the first delete": lambda primary, total: 0,
    "after the root inventory": lambda primary, total: 1,
    "half-way through the primary": lambda primary, total: primary // 2,
    "between the two locations": lambda primary, total: primary,
    "before the very last delete": lambda primary, total: total - 1,
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_a_crash_at_any_delete_then_resume_ends_as_a_clean_run(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    with home.archive() as archive:
        root = archive.ocfl.object_root(object_id(s.doomed))
        primary = len(list(archive.storage.list(root)))
        total = primary + len(list(archive.location("offsite").storage.list(root)))
    limit = CRASH_POINTS[point](primary, total)
    assert 0 <= limit < total and primary > 10  # every version, its text and METS are there to delete
    from strongroom.storage import ocfl_purge

    real = ocfl_purge.purge_object
    counter = [0]
    with monkeypatch.context() as patch:
        patch.setattr(ocfl_purge, "purge_object", lambda storage, root: real(CrashAfter(storage, counter, limit), root))  # type: ignore[arg-type]
        with home.archive() as archive, pytest.raises(Crash):
            disposal.execute(archive, batch, "crashing-operator")
    assert counter[0] == limit
    with home.archive() as archive:
        crashed = archive.catalog.disposal_batch(batch)
        assert crashed is not None and crashed.status is BatchStatus.EXECUTING
        # The object is whole, or invisible (its root inventory goes first): never a broken version.
        assert archive.ocfl.exists(object_id(s.doomed)) == (limit == 0)
        assert archive.catalog.find_package(s.doomed) is not None  # the catalog goes after every location
    resumed = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(resumed, dict) and resumed["status"] == "executed" and resumed["destroyed"] == [s.doomed]
    assert resumed["certificate"] is not None
    assert_gone_for_good(s, s.doomed, s.token)
    with home.archive() as archive:
        steps = [st["step"] for st in (disposal_step(e) for e in archive.journal.entries()) if st]
        assert steps == ["proposed", "approved", "approved", "executing", "deleted", "executed"]  # as a clean run
        final = archive.catalog.disposal_batch(batch)
        assert final is not None and [i.outcome for i in final.items] == [ItemOutcome.DESTROYED]


def test_an_index_purge_that_fails_is_finished_by_the_next_write_command(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    from strongroom.search.sqlite_fts import SqliteSearchIndex

    def down(self: object, package: str) -> None:
        raise OSError("disk unplugged")

    with monkeypatch.context() as patch:
        patch.setattr(SqliteSearchIndex, "purge_package", down)
        report = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(report, dict) and report["status"] == "executed" and report["index_lagging"] == [s.doomed]
    with home.archive() as archive:
        stub = archive.catalog.stub(s.doomed)
        assert stub is not None and not stub.index_purged
    home.ok("verify", s.held)  # any write command catches the index up
    assert_gone_for_good(s, s.doomed, s.token)


def test_transfer_needs_a_folder_then_writes_a_valid_bag_with_its_mets(setup: Setup, tmp_path: Path) -> None:
    s, home = setup, setup.home
    with home.archive() as archive:
        load_schedule(archive, "TR-1", DisposalAction.TRANSFER)
        assign(archive, s.doomed, "TR-1")
    batch = proposed_and_approved(s)
    refused = home.run("disposal", "execute", batch)
    assert refused.exit_code == 2 and "--transfer-to" in refused.stderr
    assert only_batch(home)["status"] == "approved"  # nothing happened
    home.ok("show", s.doomed)

    bags = tmp_path / "bags ≠ <x>"
    done = home.ok("disposal", "execute", batch, "--transfer-to", str(bags), "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed" and done["destroyed"] == []
    (moved,) = done["transferred"]
    bag = Path(moved["bag"])
    assert moved["package"] == s.doomed and bag.parent == bags.absolute()
    assert validate_bag(bag) == []
    assert list((bag / "data").glob("METS.*.xml"))
    assert any(s.token in p.name for p in (bag / "data" / "objects").rglob("*"))
    with home.archive() as archive:
        (entry,) = [e for e in archive.journal.entries() if e.event.type == "transfer"]
        step = disposal_step(entry)
        assert step is not None and step["destination"] == str(bag)
        import hashlib

        assert step["bag_sha256"] == hashlib.sha256((bag / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
        stub = archive.catalog.stub(s.doomed)
        assert stub is not None and stub.action is DisposalAction.TRANSFER and stub.transferred_to == str(bag)
    rows = list(csv.DictReader(io.StringIO(Path(done["certificate"]["csv"]).read_text(encoding="utf-8"))))
    assert rows[0]["action"] == "transfer" and rows[0]["transferred_to"] == str(bag)
    assert_gone_for_good(s, s.doomed, s.token, "TR-1")


def test_an_unreachable_location_leaves_the_batch_executing_until_a_rerun(setup: Setup) -> None:
    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    hidden = s.offsite.with_name("offsite-away")
    s.offsite.rename(hidden)  # the share is unmounted
    s.offsite.write_text("not a folder")  # and something else sits at its path
    partial = home.run("disposal", "execute", batch, "--json")
    assert partial.exit_code == 1, partial.stderr
    data = partial.json()
    assert isinstance(data, dict) and data["status"] == "executing" and data["pending"] == {"offsite": [s.doomed]}
    assert data["certificate"] is None and data["problems"]
    assert home.run("show", s.doomed).exit_code == 2  # gone from the catalog already; the stub says so
    s.offsite.unlink()
    hidden.rename(s.offsite)
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed" and done["pending"] == {}
    assert done["destroyed"] == [s.doomed]
    assert_gone_for_good(s, s.doomed, s.token)


HOSTILE_NAME = "Zoë O'Brien-Ñúñez <script>alert(1)</script> & [bold]co[/bold] 世界"


def test_approvers_names_are_kept_exactly_and_bad_input_is_refused_plainly(setup: Setup, tmp_path: Path) -> None:
    s, home = setup, setup.home
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    early = home.run("disposal", "show", batch, "--certificate", str(tmp_path / "early"))
    assert early.exit_code == 2 and "has not been executed" in early.stderr
    for bad in ("Eve\x00Null", "Eve\u202eReversed", "x" * 201):
        refused = home.run("disposal", "approve", batch, "--as", bad, "--json")
        assert refused.exit_code == 2 and "control characters" in refused.stderr
    for ref in ("nope", "' OR 1=1 --", "%", "________-____", "\u202e" * 9):
        missing = home.run("disposal", "approve", ref, "--as", "Alice", "--json")
        assert missing.exit_code == 2 and "No disposal batch" in missing.stderr and "Traceback" not in missing.stderr
    home.ok("disposal", "approve", batch, "--as", HOSTILE_NAME)
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    listed = home.ok("disposal", "list")
    assert batch in listed.stdout and "[bold]co[/bold]" in listed.stdout  # shown as typed, never as markup
    done = home.ok("disposal", "execute", batch)
    assert "executed" in done.stdout and s.doomed in done.stdout
    late = home.run("disposal", "approve", batch, "--as", "Carol King", "--json")
    assert late.exit_code == 2 and "executed: approvals are closed" in late.stderr
    shown = home.ok("disposal", "show", batch, "--certificate", str(tmp_path / "cert")).stdout
    assert HOSTILE_NAME in shown and "matches the digest journalled" in shown
    page = (tmp_path / "cert" / f"{batch}.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "Zoë O&#x27;Brien-Ñúñez &lt;script&gt;" in page
    with home.archive() as archive:
        stub = archive.catalog.stub(s.doomed)
        assert stub is not None and stub.approved_by == (HOSTILE_NAME, "Bob Jones")


def test_a_package_changed_or_re_sentenced_since_the_proposal_is_skipped(setup: Setup, tmp_path: Path) -> None:
    s, home = setup, setup.home
    home.ok("hold", "release", _only_hold(home), "--reason", "Request answered")
    batch = proposed_and_approved(s)
    csv_file = write(tmp_path / "v3.csv", "filename,dc.title,dc.date\nobjects,Council letters alpha v3,1999-03-04\n")
    home.ok("update", s.doomed, "--metadata", str(csv_file), "--reason", "Another revision")
    with home.archive() as archive:
        load_schedule(archive, "LG-2", DisposalAction.DESTROY, "P50Y")
        assign(archive, s.held, "LG-2")
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["status"] == "executed" and done["destroyed"] == []
    why = {item["package"]: item["why"] for item in done["skipped"]}
    assert "now at version 3, proposed at version 2" in why[s.doomed]
    assert "re-sentenced since the proposal: now under LG-2 version 1" in why[s.held]
    for package in (s.doomed, s.held):
        home.ok("verify", package)  # whole
    with home.archive() as archive:
        skipped = [e for e in archive.journal.entries() if (disposal_step(e) or {}).get("step") == "skipped"]
        assert sorted(str((disposal_step(e) or {})["item"]) for e in skipped) == sorted([s.doomed, s.held])
        assert archive.catalog.stubs() == []


def test_the_stub_and_certificate_show_the_redacted_title_of_a_closed_record(setup: Setup) -> None:
    s, home = setup, setup.home
    home.ok("access", s.doomed, "--status", "closed", "--reason", "Personal data", "--until", "2090-01-01",
            "--redacted-title", "Personnel file")  # fmt: skip
    batch = proposed_and_approved(s)
    done = home.ok("disposal", "execute", batch, "--json").json()
    assert isinstance(done, dict) and done["destroyed"] == [s.doomed]
    with home.archive() as archive:
        stub = archive.catalog.stub(s.doomed)
        assert stub is not None and stub.title == "Personnel file"
    for kind in ("csv", "html"):
        text = Path(done["certificate"][kind]).read_text(encoding="utf-8")
        assert "Personnel file" in text and "Council letters alpha" not in text
