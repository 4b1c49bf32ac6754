"""Disposal on the web: two different records managers approve in their own browser sessions, the batch executes
as a background job, a held package is left out or skipped, the same person twice is refused with the library's
words, the certificate is shown and downloaded, and a batch can be withdrawn; the same through the API."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strongroom.accounts.model import UserRole
from strongroom.jobs.base import JobRunner
from strongroom.jobs.model import JobContext, JobRecord, JobState
from strongroom.records.disposal import approve, find_batch, propose
from strongroom.records.holds import place_hold
from strongroom.records.model import BatchStatus, HoldType
from strongroom.web.jobs_records import DISPOSAL_EXECUTE, JOB_KINDS, execute_disposal
from tests.conftest import Home
from tests.web.conftest import Web
from tests.web.test_records_pages import HOSTILE, assert_escaped, due_packages, error_summary, journal_entries

RM = UserRole.RECORDS_MANAGER


def _hold(home: Home, package: str, reason: str) -> None:
    with home.archive() as archive:
        place_hold(archive, packages=[package], type=HoldType.LITIGATION, reason=reason, authority=None,
                   reference=None, operator="test")  # fmt: skip


def _wait(web: Web, job_id: str) -> JobRecord:
    runner: JobRunner = web.app.state.ctx.jobs
    job = runner.wait(job_id, timeout=120)
    assert job.state is JobState.SUCCEEDED, (job.state, job.error, job.details)
    return job


def _batch_of(location: str) -> str:
    found = re.fullmatch(r"/records/disposal/([0-9a-f-]{36})\?done=proposed", location)
    assert found, location
    return found.group(1)


def test_two_records_managers_approve_in_their_own_sessions_and_the_batch_executes_as_a_job(
    web: Web, tmp_path: Path
) -> None:
    packages = due_packages(web.home, tmp_path, "doomed", "held", "late")
    _hold(web.home, packages["held"], "Litigation <case> 1")
    web.account("rm-ann", RM)
    web.account("rm-bob", RM)
    ann = web.browser(RM, name="rm-ann")
    bob = web.browser(RM, name="rm-bob")

    proposed = ann.post("/records/disposal/propose", data={"as_of": ""})
    assert proposed.status_code == 303
    batch = _batch_of(proposed.headers["location"])
    page = ann.get(proposed.headers["location"]).text
    assert "Two different people must now approve it." in page
    assert packages["doomed"] in page and packages["late"] in page
    assert packages["held"] not in page, "a held package was proposed for disposal"
    assert "Two different people must approve this batch before it can be executed." in page
    assert "Approve as rm-ann" in page
    assert_escaped(page)

    assert ann.post(f"/records/disposal/{batch}/approve").status_code == 303
    mine = ann.get(f"/records/disposal/{batch}").text
    assert "You have approved this batch: a second, different person must approve it" in mine
    assert "Approve as rm-ann" not in mine, "the approval button is offered to someone who already approved"
    theirs = bob.get(f"/records/disposal/{batch}").text
    assert "One more approval is needed, from someone other than rm-ann" in theirs
    assert "Approve as rm-bob" in theirs and "You have approved" not in theirs
    before = journal_entries(web.home)
    twice = ann.post(f"/records/disposal/{batch}/approve")
    assert twice.status_code == 409
    summary = error_summary(twice.text)
    assert "rm-ann already approved disposal batch" in summary and "a second, different person must approve" in summary
    assert journal_entries(web.home) == before, "a refused approval was journalled"
    early = ann.post(f"/records/disposal/{batch}/execute")
    assert early.status_code == 409 and "two different people" in error_summary(early.text)
    with web.home.archive() as archive:
        assert find_batch(archive, batch).status is BatchStatus.PROPOSED

    assert bob.post(f"/records/disposal/{batch}/approve").status_code == 303
    approved = bob.get(f"/records/disposal/{batch}").text
    assert "Approved by <strong>rm-ann</strong>" in approved and "Approved by <strong>rm-bob</strong>" in approved
    assert "recorded by web:rm-bob" in approved
    assert "Approved by two different people. It may now be executed." in approved
    assert "Approve as" not in approved and "a second, different person" not in approved
    assert "Approve as" not in ann.get(f"/records/disposal/{batch}").text
    _hold(web.home, packages["late"], "A hold placed after approval")  # the job must skip it

    started = bob.post(f"/records/disposal/{batch}/execute")
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    job = _wait(web, started.headers["location"].removeprefix("/jobs/"))
    assert job.kind == DISPOSAL_EXECUTE and job.owner == "rm-bob"
    assert job.result is not None
    assert job.result["destroyed"] == [packages["doomed"]]
    assert [s["package"] for s in job.result["skipped"]] == [packages["late"]]
    with web.home.archive() as archive:
        done = find_batch(archive, batch)
        assert done.status is BatchStatus.EXECUTED
        assert archive.catalog.find_package(packages["doomed"]) is None
        assert archive.catalog.find_package(packages["late"]) is not None
        assert [a.operator for a in done.approvals] == ["web:rm-ann", "web:rm-bob"]

    shown = ann.get(f"/records/disposal/{batch}").text
    assert "executed" in shown and f"/records/disposal/{batch}/certificate.html" in shown
    assert "Approved by two different people and executed. Approvals are closed." in shown
    assert "Approve as" not in shown and "Execute the batch" not in shown
    assert ann.post(f"/records/disposal/{batch}/approve").status_code == 409  # approvals are closed
    certificate = ann.get(f"/records/disposal/{batch}/certificate")
    assert certificate.status_code == 200
    assert "matches the SHA-256" in certificate.text and "&lt;script&gt;alert(" in certificate.text
    assert packages["late"] in certificate.text  # under "Not disposed of"
    assert_escaped(certificate.text)
    for kind, media in (("html", "text/html"), ("csv", "text/csv")):
        download = ann.get(f"/records/disposal/{batch}/certificate.{kind}")
        assert download.status_code == 200 and download.headers["content-type"].startswith(media)
        assert download.headers["content-disposition"] == f'attachment; filename="certificate-{batch}.{kind}"'
        assert hashlib.sha256(download.content).hexdigest() == done.certificate_sha256[kind]
    html_download = ann.get(f"/records/disposal/{batch}/certificate.html")
    assert "sandbox" in html_download.headers["content-security-policy"]


def test_a_batch_is_withdrawn_with_a_reason_and_cannot_then_be_executed(web: Web, tmp_path: Path) -> None:
    due_packages(web.home, tmp_path, "alpha")
    browser = web.browser(RM)
    batch = _batch_of(browser.post("/records/disposal/propose", data={"as_of": ""}).headers["location"])
    empty = browser.post(f"/records/disposal/{batch}/withdraw", data={"reason": "  "})
    assert empty.status_code == 400 and 'href="#withdraw-reason"' in error_summary(empty.text)
    withdrawn = browser.post(f"/records/disposal/{batch}/withdraw", data={"reason": f"Proposed too early {HOSTILE}"})
    assert withdrawn.headers["location"] == f"/records/disposal/{batch}?done=withdrawn"
    page = browser.get(withdrawn.headers["location"]).text
    assert "The disposal batch was withdrawn." in page and "Execute the batch" not in page
    assert "Withdrawn: it will never be executed" in page and "Approve as" not in page
    assert "must approve" not in page
    refused = browser.post(f"/records/disposal/{batch}/execute")
    assert refused.status_code == 400 and "withdrawn" in error_summary(refused.text)
    missing = browser.get(f"/records/disposal/{batch}/certificate")
    assert missing.status_code == 404
    assert browser.get("/records/disposal/not-a-batch").status_code == 404
    listing = browser.get("/records/disposal").text
    assert batch[:8] in listing and "withdrawn" in listing


def test_nothing_due_proposes_nothing_and_says_so(web: Web) -> None:
    browser = web.browser(RM)
    answer = browser.post("/records/disposal/propose", data={"as_of": "1990-01-01"})
    assert answer.headers["location"] == "/records/due?as_of=1990-01-01&done=nothing-due"
    assert "no batch was proposed" in browser.get(answer.headers["location"]).text
    bad = browser.post("/records/disposal/propose", data={"as_of": "tomorrow"})
    assert bad.status_code == 400 and "real date" in error_summary(bad.text)


def _token_headers(web: Web, name: str) -> dict[str, str]:
    from strongroom.accounts.service import issue_token

    web.account(name, RM)
    with web.home.archive() as archive:
        return {"Authorization": f"Bearer {issue_token(archive, name, 'tests', operator='test-admin').secret}"}


def test_the_disposal_api_needs_two_different_people_and_executes_as_a_job(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha")
    ann, bob = _token_headers(web, "rm-ann"), _token_headers(web, "rm-bob")
    proposed = web.client.post("/api/v1/records/disposal", headers=ann, json={})
    assert proposed.status_code == 201, proposed.text
    body = proposed.json()
    assert [i["package"] for i in body["items"]] == [packages["alpha"]] and body["proposed_by"] == "web:rm-ann"
    batch = body["batch"]
    first = web.client.post(f"/api/v1/records/disposal/{batch}/approve", headers=ann)
    assert first.status_code == 200 and first.json()["status"] == "proposed"
    again = web.client.post(f"/api/v1/records/disposal/{batch}/approve", headers=ann)
    assert again.status_code == 409
    assert "a second, different person must approve" in again.json()["error"] and again.json()["hint"]
    early = web.client.post(f"/api/v1/records/disposal/{batch}/execute", headers=ann)
    assert early.status_code == 409 and early.json()["error"]
    second = web.client.post(f"/api/v1/records/disposal/{batch}/approve", headers=bob)
    assert second.json()["status"] == "approved"
    assert [a["name"] for a in second.json()["approvals"]] == ["rm-ann", "rm-bob"]
    started = web.client.post(f"/api/v1/records/disposal/{batch}/execute", headers=bob)
    assert started.status_code == 202
    job = _wait(web, started.json()["job"])
    assert job.result is not None and job.result["status"] == "executed"
    shown = web.client.get(f"/api/v1/records/disposal/{batch}", headers=ann).json()
    assert shown == web.home.ok("disposal", "show", batch, "--json").json()
    assert shown["status"] == "executed" and shown["counts"]["destroyed"] == 1
    listed = web.client.get("/api/v1/records/disposal", headers=ann).json()
    assert [b["batch"] for b in listed["batches"]] == [batch]
    cert = web.client.get(f"/api/v1/records/disposal/{batch}/certificate?format=csv", headers=ann)
    assert hashlib.sha256(cert.content).hexdigest() == shown["certificate_sha256"]["csv"]
    nothing = web.client.post("/api/v1/records/disposal", headers=ann, json={"as_of": "1990-01-01"})
    assert nothing.status_code == 200 and nothing.json()["batch"] is None
    withdraw_missing = web.client.post(f"/api/v1/records/disposal/{batch}/withdraw", headers=ann,
                                       json={"reason": "too late"})  # fmt: skip
    assert withdraw_missing.status_code == 400 and "only a proposed or approved batch" in \
        withdraw_missing.json()["error"]  # fmt: skip


class _Context:
    """The runner's side of a job, as the disposal job sees it: progress, and a cancel after `cancel_after` steps."""

    def __init__(self, home: Path, cancel_after: int | None = None) -> None:
        self.home = home
        self.job = JobRecord("job-1", DISPOSAL_EXECUTE, "t", "rm", {}, JobState.RUNNING, datetime.now(UTC))
        self.steps: list[tuple[str, int, int | None]] = []
        self.cancel_after = cancel_after

    def progress(self, step: str, done: int, total: int | None) -> None:
        self.steps.append((step, done, total))

    def check_cancelled(self) -> None:
        from strongroom.jobs.model import JobCancelled

        if self.cancel_after is not None and sum(1 for s in self.steps if s[0] == "Disposing") >= self.cancel_after:
            raise JobCancelled()


def test_a_disposal_job_cancelled_between_packages_leaves_the_batch_to_be_resumed(home: Home, tmp_path: Path) -> None:
    from strongroom.jobs.model import JobCancelled

    assert [k.name for k in JOB_KINDS] == [DISPOSAL_EXECUTE] and JOB_KINDS[0].permission == "manage-records"
    packages = due_packages(home, tmp_path, "one", "two")
    with home.archive() as archive:
        proposal = propose(archive, datetime.now(UTC).date(), "web:ann")
        assert proposal.batch is not None
        batch = proposal.batch.id
        approve(archive, batch, "ann", "web:ann")
        approve(archive, batch, "bob", "web:bob")
    ctx: JobContext = _Context(home.path, cancel_after=1)
    try:
        execute_disposal(ctx, {"batch": batch, "operator": "web:bob"})
        raise AssertionError("the job was not cancelled")
    except JobCancelled:
        pass
    with home.archive() as archive:
        assert find_batch(archive, batch).status is BatchStatus.EXECUTING
        gone = [p for p in packages.values() if archive.catalog.find_package(p) is None]
    assert len(gone) == 1, "exactly one package is done before the cancel"
    finished: Any = execute_disposal(_Context(home.path), {"batch": batch, "operator": "web:bob"})
    assert sorted(finished["destroyed"]) == sorted(packages.values()) and finished["status"] == "executed"
    with home.archive() as archive:
        assert find_batch(archive, batch).status is BatchStatus.EXECUTED


def test_a_batch_planned_for_a_later_day_is_not_executed_early(web: Web, tmp_path: Path) -> None:
    due_packages(web.home, tmp_path, "alpha")
    later = (datetime.now(UTC) + timedelta(days=30)).date()
    with web.home.archive() as archive:
        proposal = propose(archive, later, "test")
        assert proposal.batch is not None
        approve(archive, proposal.batch.id, "ann", "test")
        approve(archive, proposal.batch.id, "bob", "test")
    refused = web.browser(RM).post(f"/records/disposal/{proposal.batch.id}/execute")
    assert refused.status_code == 400 and f"due on {later.isoformat()}" in error_summary(refused.text)


def test_the_due_list_proposes_only_the_ticked_packages(web: Web, tmp_path: Path) -> None:
    packages = due_packages(web.home, tmp_path, "alpha", "beta", "gamma")
    _hold(web.home, packages["gamma"], "Held <b>for</b> an inquiry")
    browser = web.browser(RM)
    page = browser.get("/records/due").text
    boxes = re.findall(r'<input class="govuk-checkboxes__input" id="(pick-\d+)" name="package" type="checkbox" '
                       r'value="([0-9a-f-]{36})"( checked)?>', page)  # fmt: skip
    assert sorted(value for _, value, _ in boxes) == sorted([packages["alpha"], packages["beta"]])
    assert all(checked for _, _, checked in boxes), "every proposable package is ticked to begin with"
    for box_id, _, _ in boxes:
        assert f'<label class="govuk-label govuk-checkboxes__label" for="{box_id}">' in page
    assert_escaped(page)

    none = browser.post("/records/disposal/propose", data={"as_of": "", "selecting": "1"})
    assert none.status_code == 400
    assert 'href="#packages"' in error_summary(none.text) and "Select at least one package" in none.text
    assert " checked>" not in none.text, "the page shown again must keep what was (not) ticked"

    answer = browser.post("/records/disposal/propose",
                          data={"as_of": "", "selecting": "1", "package": packages["beta"]})  # fmt: skip
    assert answer.status_code == 303
    with web.home.archive() as archive:
        batch = find_batch(archive, _batch_of(answer.headers["location"]))
    assert [i.package for i in batch.items] == [packages["beta"]]

    after = browser.get("/records/due").text  # beta is in a batch now, gamma held: only alpha can be ticked
    assert re.findall(r'name="package" type="checkbox" value="([0-9a-f-]{36})"', after) == [packages["alpha"]]
    stranger = "00000000-0000-4000-8000-000000000000"
    stale = browser.post("/records/disposal/propose", data={"as_of": "", "selecting": "1", "package": stranger})
    assert stale.status_code == 400 and "Not due on" in error_summary(stale.text)
