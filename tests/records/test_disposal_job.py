"""`disposal execute` as a staged job: every chunk twice destroys nothing twice, the certificate is issued once,
and the command reports the same; two-person approval and holds still rule."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import ApprovalError
from strongroom.jobs.inline import InlineContext, run_inline
from strongroom.jobs.model import JobKind, JobRecord, JobState
from strongroom.jobs.scratch import read_json
from strongroom.records.disposal_job import DISPOSAL_EXECUTE, PLAN_FILE, disposal_kind
from strongroom.records.journal_data import disposal_step
from tests.conftest import Home
from tests.records.test_disposal import Setup, assert_gone_for_good, make_setup, only_batch, proposed_and_approved

KIND = disposal_kind("manage-records")


@pytest.fixture
def setup(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return make_setup(home, tmp_path, monkeypatch)


def context(home: Home, tmp_path: Path, params: Mapping[str, Any]) -> InlineContext:
    job = JobRecord(id=str(uuid.uuid4()), kind=DISPOSAL_EXECUTE, title="t", owner="test", params=dict(params),
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    scratch = tmp_path / "scratch" / job.id
    scratch.mkdir(parents=True)
    return InlineContext(job, home.path, scratch)


def twice(kind: JobKind, ctx: InlineContext, params: Mapping[str, Any]) -> Mapping[str, Any]:
    """plan twice, every chunk twice, finalize twice (a finalize cut off after its work runs again)."""
    assert kind.plan and kind.chunk and kind.finalize
    chunks = kind.plan(ctx, params)
    assert kind.plan(ctx, params) == chunks
    for n in range(chunks):
        kind.chunk(ctx, params, n)
        kind.chunk(ctx, params, n)
    first = kind.finalize(ctx, params)
    assert kind.finalize(ctx, params) == first
    return first


def journal_steps(home: Home, batch: str) -> Counter[tuple[str, str]]:
    with home.archive() as archive:
        steps = [(disposal_step(e), e.package) for e in archive.journal.entries()]
    return Counter((str(s["step"]), package) for s, package in steps if s is not None and s.get("batch") == batch)


def test_every_step_twice_destroys_once_and_issues_one_certificate(setup: Setup, tmp_path: Path) -> None:
    s, home = setup, setup.home
    home.ok("hold", "release", home.ok("hold", "list", "--json").json()["holds"][0]["id"],  # type: ignore[index]
            "--reason", "Request answered")  # fmt: skip
    batch = proposed_and_approved(s)
    home.ok("hold", "place", s.held, "--type", "litigation", "--reason", "Claim 42")  # holds still refuse
    params = {"batch": batch, "operator": "web:bob"}
    ctx = context(home, tmp_path, params)
    result = twice(KIND, ctx, params)
    # The held package is skipped (journalled) when the execution begins: only the other one is left to chunk.
    assert read_json(ctx.scratch / PLAN_FILE)["chunks"] == [[s.doomed]]
    assert result["status"] == "executed" and result["destroyed"] == [s.doomed]
    assert [i["package"] for i in result["skipped"]] == [s.held]
    assert result["skipped"][0]["why"].startswith("held: litigation hold") and result["certificate"] is not None
    steps = journal_steps(home, batch)
    assert steps[("executing", "")] == 1 and steps[("executed", "")] == 1
    assert steps[("deleted", s.doomed)] == 1 and steps[("skipped", "")] == 1
    assert not any(package == s.held for (step, package) in steps if step == "deleted")
    assert only_batch(home)["status"] == "executed"
    # The command, asked again, tells the same story (and issues nothing more).
    direct = home.ok("disposal", "execute", batch, "--json").json()
    assert direct == result
    assert journal_steps(home, batch) == steps
    assert_gone_for_good(s, s.doomed, s.token)
    home.ok("show", s.held)


def test_a_batch_with_one_approval_is_refused_before_anything_is_journalled(setup: Setup, tmp_path: Path) -> None:
    s, home = setup, setup.home
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    home.ok("disposal", "approve", batch, "--as", "Alice Smith")
    params = {"batch": batch, "operator": "web:alice"}
    with pytest.raises(ApprovalError, match="two different people"):
        run_inline(KIND, context(home, tmp_path, params), params)
    assert journal_steps(home, batch)[("executing", "")] == 0
    with home.archive() as archive:
        assert archive.catalog.find_package(s.doomed) is not None


def test_a_job_resumes_a_batch_the_command_began(setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command stopped after the first package (as by a crash): the job finishes the rest, once."""
    s, home = setup, setup.home
    home.ok("hold", "release", home.ok("hold", "list", "--json").json()["holds"][0]["id"],  # type: ignore[index]
            "--reason", "Request answered")  # fmt: skip
    batch = proposed_and_approved(s)
    from strongroom.records import disposal

    real = disposal._dispose_item
    calls: list[str] = []

    def stop_after_one(archive: Any, b: Any, item: Any, *args: Any) -> None:
        if calls:
            raise KeyboardInterrupt  # the process stops here
        calls.append(item.package)
        real(archive, b, item, *args)

    monkeypatch.setattr(disposal, "_dispose_item", stop_after_one)
    with pytest.raises(KeyboardInterrupt), home.archive() as archive:
        disposal.execute(archive, batch, "test", transfer_to=tmp_path / "bags")
    monkeypatch.setattr(disposal, "_dispose_item", real)
    config = home.path / "strongroom.toml"
    config.write_text(config.read_text() + "\n[jobs]\nchunk_files = 1\n")
    params = {"batch": batch, "operator": "web:bob"}
    ctx = context(home, tmp_path, params)
    result = twice(KIND, ctx, params)
    (left,) = [p for p in (s.doomed, s.held) if p not in calls]
    assert read_json(ctx.scratch / PLAN_FILE)["chunks"] == [[left]], "what the command did is not planned again"
    assert sorted(result["destroyed"]) == sorted([s.doomed, s.held]) and result["status"] == "executed"
    steps = journal_steps(home, batch)
    assert steps[("deleted", s.doomed)] == steps[("deleted", s.held)] == 1 and steps[("executing", "")] == 1


def test_the_embedded_runner_runs_the_submitted_job(setup: Setup) -> None:
    from strongroom.jobs.runners import open_runner

    s, home = setup, setup.home
    batch = proposed_and_approved(s)
    runner = open_runner(home.path, workers=1)
    try:
        job = runner.submit(DISPOSAL_EXECUTE, {"batch": batch, "operator": "web:bob"}, "bob", "Execute")
        done = runner.wait(job.id, 300)
    finally:
        runner.close()
    assert done.state is JobState.SUCCEEDED, done.error
    assert done.result is not None and done.result["destroyed"] == [s.doomed]
    assert done.result["certificate"] is not None and only_batch(home)["status"] == "executed"
    assert journal_steps(home, batch)[("deleted", s.doomed)] == 1
