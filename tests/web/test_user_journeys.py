"""People's journeys through the service, end to end: what each sees after doing a task, and that it is true.

Found by using the real service as each kind of user (reviewer B of issue 13): each test here failed before
its fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from strongroom.accounts.model import UserRole
from strongroom.jobs.model import JobState
from strongroom.records.holds import place_hold
from strongroom.records.model import HoldType
from strongroom.web.routes_admin import MASK, masked_settings
from strongroom.web.routes_records_forms import web_hints
from tests.conftest import EXAMPLE_TRANSFER, Home
from tests.web.conftest import Web
from tests.web.test_records_pages import due_packages, error_summary


def test_a_finished_audit_s_page_lists_its_copies_in_words_not_as_python(web: Web, home: Home) -> None:
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    archivist = web.browser(UserRole.ARCHIVIST)
    started = archivist.post("/preservation/audit", {"older_than": "", "max_bytes": "", "rate": "", "location": ""})
    assert started.status_code == 303, started.text[:500]
    job_id = started.headers["location"].removeprefix("/jobs/")
    job = web.app.state.ctx.jobs.wait(job_id, timeout=120)
    assert job.state is JobState.SUCCEEDED, job.error

    page = archivist.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    result = page.text[page.text.index(">Result<") :]
    # Each copy checked is one item of the list, said as "key: value" pairs a person can read.
    items = re.findall(r"<li>(.*?)</li>", result, re.S)
    assert any(f"package: {package}" in item and "location: primary" in item for item in items), items
    # ... never the Python repr of a dict ({'package': ...}), escaped or not.
    assert "{&#39;" not in result and "{'" not in result, result[:1000]


def test_repeated_rebuilds_keep_the_search_index_at_its_own_name_and_keep_working(home: Home) -> None:
    """Each rebuild used to link the previous rebuild's file: the names grew until rebuild failed for good."""
    for n in range(12):
        result = home.run("rebuild")
        assert result.exit_code == 0, f"rebuild {n + 1} failed: {result.stdout}{result.stderr}"
    live = home.path / "search.sqlite"
    files = [p.name for p in home.path.iterdir() if p.name.startswith("search.sqlite")]
    # One rebuilt file beside the live name (and SQLite's -wal/-shm): no chain of rebuilds of rebuilds.
    assert not [name for name in files if name.count(".rebuild-") > 1], files
    if live.is_symlink():
        target = home.path / os.readlink(live)
        assert not target.is_symlink(), f"{live} links to another link, {target}"
    with home.archive() as archive:
        assert Path(archive.settings.search_options["path"]) == live


def test_a_catalog_password_with_a_slash_or_hash_is_masked_on_the_settings_page(tmp_path: Path) -> None:
    """SQLAlchemy takes the password up to the last "@": urlsplit ends the host at "/" or "#" and showed it."""
    (tmp_path / "strongroom.toml").write_text(
        '[catalog]\nurl = "postgresql://archive:pa/ss#word@db.example:5432/sr"\n'
        '[web]\ncallback = "https://h.example/x?key=sekrit&who=a@b"\n',
        encoding="utf-8",
    )  # fmt: skip
    rows = {(r.table, r.key): r.value for r in masked_settings(tmp_path)}
    assert rows[("catalog", "url")] == f"postgresql://archive:{MASK}@db.example:5432/sr"
    assert rows[("web", "callback")] == f"https://h.example/x?{MASK}"
    text = repr(rows)
    assert "pa/ss" not in text and "word" not in text and "sekrit" not in text


def test_records_pages_point_to_their_own_buttons_not_to_command_line_commands(web: Web, tmp_path: Path) -> None:
    """A refusal on a records page used to end with the library's CLI hint ("run: strongroom disposal approve ...")
    although the page it is shown on has the button for it."""
    packages = due_packages(web.home, tmp_path, "minutes")
    manager = web.browser(UserRole.RECORDS_MANAGER)
    proposed = manager.post("/records/disposal/propose", data={"as_of": ""})
    assert proposed.status_code == 303
    batch = proposed.headers["location"].split("?")[0]
    assert manager.post(f"{batch}/approve").status_code == 303
    again = manager.post(f"{batch}/approve")  # the same person, from a second tab still showing the button
    assert again.status_code == 409
    summary = error_summary(again.text)
    assert "already approved disposal batch" in summary
    assert "strongroom disposal" not in summary, summary
    assert "Approve button on the batch" in summary

    with web.home.archive() as archive:
        hold = place_hold(archive, packages=[packages["minutes"]], type=HoldType.LITIGATION, reason="case 1",
                          authority=None, reference=None, operator="test").hold  # fmt: skip
    assert manager.post(f"/records/holds/{hold.id}/release", data={"reason": "case closed"}).status_code == 303
    twice = manager.post(f"/records/holds/{hold.id}/release", data={"reason": "case closed"})  # an older tab
    assert twice.status_code == 400, twice.text[:500]
    summary = error_summary(twice.text)
    assert "was already released" in summary and "strongroom hold" not in summary, summary
    assert "See the active holds on the Holds page." in summary


def test_web_hints_replace_each_command_with_its_button_and_keep_the_rest() -> None:
    hints = web_hints([
        "Nothing was done. Approve it with: strongroom disposal approve 1234 --as NAME",
        "Release it once it no longer applies: strongroom hold release aa --reason ...",
        "Release it once it no longer applies: strongroom hold release bb --reason ...",
        "Rebuild the catalog from the journal with: strongroom rebuild",
        "Check the <dates> & try again.",
    ])  # fmt: skip
    assert hints == [
        "Nothing was done. Another records manager approves it with the Approve button on the batch's page.",
        "Release a hold on its page under Holds once it no longer applies.",
        "Rebuild the catalog from the journal with: strongroom rebuild",  # no button for it on these pages
        "Check the <dates> & try again.",
    ]


def test_a_transfer_whose_storing_job_died_with_the_server_can_be_approved_again(web: Web, tmp_path: Path) -> None:
    """A server killed while it stored a transfer (or one whose job ran past the shut-down's wait) left the job
    interrupted and the transfer "Being stored" for ever: no button to approve, check or reject it again."""
    from datetime import UTC, datetime

    from strongroom.jobs.model import JobRecord
    from strongroom.web.transfers import TransferState, TransferStore
    from tests.web.test_ingest_pages import transfer_of, upload, wait, zipped

    archivist = web.browser(UserRole.ARCHIVIST)
    transfer_id = upload(archivist, zipped(EXAMPLE_TRANSFER), "parish.zip")
    assert wait(web, str(transfer_of(web, transfer_id)["check_job"])).state is JobState.SUCCEEDED
    # What the killed server left: the transfer approved, its storing job interrupted (as the next start marks it).
    now = datetime.now(UTC)
    dead = JobRecord(id="0d3ad000-0000-4000-8000-000000000001", kind="ingest", title="Store parish.zip",
                     owner=web.user_of(UserRole.ARCHIVIST), params={"transfer": transfer_id}, state=JobState.QUEUED,
                     created=now, runner="elsewhere:1")  # fmt: skip
    store = TransferStore(web.app.state.ctx.web.uploads_dir)
    store.update(transfer_id, "approved by test", state=TransferState.APPROVED, ingest_job=dead.id)
    with web.home.archive() as archive:
        archive.catalog.add_job(dead)
        assert archive.catalog.start_job(dead.id, now, "elsewhere:1")
        stopped = "The job stopped because the service was shut down while it ran."
        archive.catalog.finish_job(dead.id, JobState.INTERRUPTED, datetime.now(UTC), error=stopped,
                                   details=("Check what it had done.",))  # fmt: skip

    page = archivist.get(f"/ingest/transfers/{transfer_id}").text
    assert "Being stored" not in page and "Approve and store" in page, page[page.find("<main") :][:3000]
    assert transfer_of(web, transfer_id)["state"] == "failed"
    again = archivist.post(f"/ingest/transfers/{transfer_id}/approve", {"retention": ""})
    assert again.status_code == 303, again.text[:500]
    stored = wait(web, str(transfer_of(web, transfer_id)["ingest_job"]))
    assert stored.state is JobState.SUCCEEDED, (stored.error, stored.details)
    assert transfer_of(web, transfer_id)["state"] == "stored"
