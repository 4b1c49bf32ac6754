"""The jobs list and job pages and their API: who sees which job, progress, result, error, cancel."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from strongroom.errors import TransferError
from strongroom.jobs.embedded import EmbeddedRunner
from strongroom.jobs.model import JobContext, JobKind, JobRecord, JobState, StepContext
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


def plan_parts(ctx: StepContext, params: Mapping[str, Any]) -> int:
    return 3


def do_part(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    ctx.progress(f"Part {n + 1}", 1, 1)


def finish_parts(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"parts": 3}


def plan_waiting(ctx: StepContext, params: Mapping[str, Any]) -> int:
    return 2


def waiting_part(ctx: StepContext, params: Mapping[str, Any], n: int) -> None:
    """Runs in the runner's process pool: waits for a file (a threading.Event does not cross processes)."""
    ctx.progress(f"Part {n + 1} <waiting>", 0, 1)
    while not Path(params["gate"]).exists():
        ctx.check_cancelled()
        time.sleep(0.02)


def finish_waiting(ctx: StepContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    Path(params["gate"]).with_suffix(".finalized").touch()
    return {"parts": 2}


KINDS = {k.name: k for k in (JobKind("slow", "Slow work", slow, "ingest"),
                             JobKind("parts", "Work in parts", None, "ingest", plan=plan_parts, chunk=do_part,
                                     finalize=finish_parts, resumable=True),
                             JobKind("waiting", "Parts that wait", None, "ingest", plan=plan_waiting,
                                     chunk=waiting_part, finalize=finish_waiting),
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
    assert api["chunks_total"] is None and api["chunks_done"] == 0, "a single-step job has no chunks"


def test_a_staged_job_shows_its_parts_and_the_steps_that_ran_again(home: Home) -> None:
    """A job in parts says how many are done, and when a worker died mid-step and the step ran again elsewhere."""
    from datetime import UTC, datetime, timedelta

    from strongroom.catalog import open_catalog
    from strongroom.config import load_settings
    from strongroom.jobs.execute import submit_job
    from strongroom.web.app import create_app

    config = home.path / "strongroom.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[jobs]\nlease_seconds = 5\n", encoding="utf-8")
    catalog = open_catalog(load_settings(home.path).catalog_url)
    try:  # a worker took the plan and died: its lease has run out by the time a runner looks
        job, _ = submit_job(catalog, KINDS, "parts", {}, "someone", "Parts", runner_id="ghost:1")
        now = datetime.now(UTC)
        catalog.start_step(job.id, "plan", "ghost:1", now - timedelta(seconds=1), now - timedelta(seconds=10))
    finally:
        catalog.close()
    runner = EmbeddedRunner(home.path, KINDS, workers=2, progress_interval=0.01, close_timeout=10)
    app = create_app(home.path, runner=runner)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        web = Web(home, app, client)
        try:
            done = runner.wait(job.id, timeout=60)
            assert done.state is JobState.SUCCEEDED and done.chunks_total == 3 and done.chunks_done == 3, done
            text = web.browser(UserRole.ARCHIVIST).get(f"/jobs/{job.id}").text
            assert "Parts done" in text and "3 of 3" in text
            catalog = open_catalog(load_settings(home.path).catalog_url)
            try:
                steps = {step.key: step for step in catalog.steps(job.id)}
            finally:
                catalog.close()
            assert steps["plan"].attempts == 2  # once by the dead worker, once by the runner
            # (On a loaded machine a chunk may outlive its 5 s lease while its pool process starts: counted too.)
            again = sum(1 for step in steps.values() if step.attempts > 1)
            assert f"{again} step{'' if again == 1 else 's'} ran again" in text
        finally:
            for other in web._clients:
                other.close()


def test_a_staged_job_is_cancelled_from_its_page_and_never_finalizes(jobs_web: Web, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job: JobRecord = jobs_web.app.state.ctx.jobs.submit("waiting", {"gate": str(gate)}, "someone", "Waiting parts")
    deadline = time.monotonic() + 30
    while (found := jobs_web.app.state.ctx.jobs.get(job.id)).chunks_total is None or not found.step:
        assert time.monotonic() < deadline, found
        time.sleep(0.02)
    browser = jobs_web.browser(UserRole.ARCHIVIST)
    page = browser.get(f"/jobs/{job.id}").text
    assert "Parts done" in page and "0 of 2" in page and "Cancel this job" in page
    cancelled = browser.post(f"/jobs/{job.id}/cancel")
    assert cancelled.status_code == 303
    ended = jobs_web.app.state.ctx.jobs.wait(job.id, timeout=30)
    assert ended.state is JobState.CANCELLED, ended
    gate.touch()  # a chunk still waiting would now finish: nothing may run on, and finalize never runs
    time.sleep(1.0)
    assert not gate.with_suffix(".finalized").exists()
    assert jobs_web.app.state.ctx.jobs.get(job.id).state is JobState.CANCELLED
    assert ">Cancelled</strong>" in browser.get(f"/jobs/{job.id}").text


def test_bad_filters_and_unknown_jobs(jobs_web: Web) -> None:
    headers = jobs_web.api_headers(UserRole.ADMIN)
    assert jobs_web.client.get("/api/v1/jobs?state=exploded", headers=headers).status_code == 400
    assert jobs_web.client.get("/api/v1/jobs/no-such-job", headers=headers).status_code == 404
    assert jobs_web.client.get("/api/v1/jobs/<script>", headers=headers).status_code == 404
    assert jobs_web.client.get("/api/v1/jobs?kind=records", headers=jobs_web.api_headers(
        UserRole.ARCHIVIST)).json()["jobs"] == []  # fmt: skip
