"""The jobs list and job pages and their API: who sees which job, progress, result, error, cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from strongroom.errors import TransferError
from strongroom.jobs.embedded import EmbeddedRunner
from strongroom.jobs.model import JobContext, JobKind, JobRecord, JobState
from tests.conftest import Home
from tests.web.conftest import BASE_URL, Web

GATE = threading.Event()


def slow(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    ctx.progress("Counting <things> & 'stuff'", 3, 10)
    while not GATE.wait(0.02):
        ctx.check_cancelled()
    return {"package": "0f0e0d0c-0000-4000-8000-000000000001", "warnings": ["<b>careful</b>"], "files": 3}


def records_work(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"destroyed": 0}


def broken(ctx: JobContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    raise TransferError("The transfer <i>x</i> failed its checksum checks.", details=["Re-supply the files."])


KINDS = {k.name: k for k in (JobKind("slow", "Slow work", slow, "ingest"),
                             JobKind("records", "Records work", records_work, "manage-records"),
                             JobKind("broken", "Broken work", broken, "ingest"))}  # fmt: skip


@pytest.fixture
def jobs_web(home: Home) -> Iterator[Web]:
    from strongroom.web.app import create_app

    GATE.clear()
    runner = EmbeddedRunner(home.path, KINDS, workers=2, progress_interval=0.01, close_timeout=10)
    app = create_app(home.path, runner=runner)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        w = Web(home, app, client)
        try:
            yield w
        finally:
            GATE.set()
            for other in w._clients:
                other.close()


def running(web: Web, job: JobRecord) -> JobRecord:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found: JobRecord = web.app.state.ctx.jobs.get(job.id)
        if found.state is JobState.RUNNING and found.step:
            return found
        time.sleep(0.02)
    raise AssertionError("the job never ran")


def submit(web: Web, kind: str, owner: str = "someone") -> JobRecord:
    job: JobRecord = web.app.state.ctx.jobs.submit(kind, {}, owner, f"{kind} <job> & 'title'")
    return job


def test_who_sees_which_job(jobs_web: Web) -> None:
    ingest_job = submit(jobs_web, "broken")
    records_job = submit(jobs_web, "records")
    for job in (ingest_job, records_job):
        jobs_web.app.state.ctx.jobs.wait(job.id, timeout=20)
    seen = {
        role: {j["id"] for j in jobs_web.client.get("/api/v1/jobs", headers=jobs_web.api_headers(role)).json()["jobs"]}
        for role in (UserRole.ARCHIVIST, UserRole.RECORDS_MANAGER, UserRole.ADMIN)
    }
    assert seen[UserRole.ARCHIVIST] == {ingest_job.id}
    assert seen[UserRole.RECORDS_MANAGER] == {records_job.id}
    assert seen[UserRole.ADMIN] == {ingest_job.id, records_job.id}
    # Another kind's job does not exist for you: 404 on its page, its API and its cancel.
    headers = jobs_web.api_headers(UserRole.RECORDS_MANAGER)
    assert jobs_web.client.get(f"/api/v1/jobs/{ingest_job.id}", headers=headers).status_code == 404
    assert jobs_web.client.post(f"/api/v1/jobs/{ingest_job.id}/cancel", headers=headers).status_code == 404
    assert jobs_web.browser(UserRole.RECORDS_MANAGER).get(f"/jobs/{ingest_job.id}").status_code == 404
    records_page = jobs_web.browser(UserRole.RECORDS_MANAGER).get("/jobs").text
    assert f"/jobs/{records_job.id}" in records_page and f"/jobs/{ingest_job.id}" not in records_page
    # Researchers and the public have no jobs pages at all.
    assert jobs_web.client.get("/api/v1/jobs", headers=jobs_web.api_headers(UserRole.RESEARCHER)).status_code == 403
    assert jobs_web.client.get("/api/v1/jobs").status_code == 401
    assert jobs_web.client.get("/jobs").status_code == 303


def test_a_running_job_shows_progress_and_can_be_cancelled(jobs_web: Web) -> None:
    job = running(jobs_web, submit(jobs_web, "slow"))
    browser = jobs_web.browser(UserRole.ARCHIVIST)
    page = browser.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    text = page.text
    assert "Counting &lt;things&gt; &amp; &#39;stuff&#39;: 3 of 10" in text  # progress in words, escaped
    assert '<progress id="job-progress" data-job-bar max="10" value="3">' in text
    assert '<script type="module" src="/static/job.js"></script>' in text and "<script>" not in text
    assert f'href="/jobs/{job.id}">Refresh</a>' in text  # without JavaScript
    assert "slow &lt;job&gt; &amp; &#39;title&#39;" in text
    listed = browser.get("/jobs?state=running").text
    assert f"/jobs/{job.id}" in listed and ">Running</strong>" in listed
    assert f"/jobs/{job.id}" not in browser.get("/jobs?state=failed").text
    api = jobs_web.client.get(f"/api/v1/jobs/{job.id}", headers=jobs_web.api_headers(UserRole.ARCHIVIST)).json()
    assert (api["state"], api["step"], api["done"], api["total"], api["finished_state"]) == (
        "running", "Counting <things> & 'stuff'", 3, 10, False)  # fmt: skip
    cancelled = browser.post(f"/jobs/{job.id}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/jobs/{job.id}"
    ended = jobs_web.app.state.ctx.jobs.wait(job.id, timeout=20)
    assert ended.state is JobState.CANCELLED
    assert ">Cancelled</strong>" in browser.get(f"/jobs/{job.id}").text
    # Cancelling without the page's CSRF token is refused.
    other = running(jobs_web, submit(jobs_web, "slow"))
    forged = browser.client.post(f"/jobs/{other.id}/cancel")
    assert forged.status_code == 403
    assert jobs_web.app.state.ctx.jobs.get(other.id).cancel_requested is False


def test_a_finished_job_shows_its_result_or_its_error_with_what_to_do(jobs_web: Web) -> None:
    job = submit(jobs_web, "slow")
    GATE.set()
    assert jobs_web.app.state.ctx.jobs.wait(job.id, timeout=20).state is JobState.SUCCEEDED
    browser = jobs_web.browser(UserRole.ARCHIVIST)
    text = browser.get(f"/jobs/{job.id}").text
    assert 'href="/packages/0f0e0d0c-0000-4000-8000-000000000001"' in text
    assert "&lt;b&gt;careful&lt;/b&gt;" in text and "<b>careful</b>" not in text
    assert "data-job-poll" not in text and "Cancel this job" not in text  # finished: nothing to poll or cancel
    failed = submit(jobs_web, "broken")
    jobs_web.app.state.ctx.jobs.wait(failed.id, timeout=20)
    text = browser.get(f"/jobs/{failed.id}").text
    assert "The job failed" in text and "What to do next" in text
    assert "The transfer &lt;i&gt;x&lt;/i&gt; failed its checksum checks." in text and "Re-supply the files." in text
    api = jobs_web.client.get(f"/api/v1/jobs/{failed.id}", headers=jobs_web.api_headers(UserRole.ARCHIVIST)).json()
    assert api["state"] == "failed" and api["hint"] == ["Re-supply the files."]


def test_bad_filters_and_unknown_jobs(jobs_web: Web) -> None:
    headers = jobs_web.api_headers(UserRole.ADMIN)
    assert jobs_web.client.get("/api/v1/jobs?state=exploded", headers=headers).status_code == 400
    assert jobs_web.client.get("/api/v1/jobs/no-such-job", headers=headers).status_code == 404
    assert jobs_web.client.get("/api/v1/jobs/<script>", headers=headers).status_code == 404
    assert jobs_web.client.get("/api/v1/jobs?kind=records", headers=jobs_web.api_headers(
        UserRole.ARCHIVIST)).json()["jobs"] == []  # fmt: skip
