"""Issue 15, the command line: `--submit` on the long commands and `strongroom jobs list|show|wait|cancel`, on real
archives with the embedded runner; and the deployment page's commands and systemd units."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import typer.main

from strongroom.archive import current_operator
from strongroom.cli import app
from strongroom.ingest.job import INGEST_KIND, ingest_params, options_from_params
from strongroom.jobs.model import JobRecord, JobState, StepState
from strongroom.web.api_models import JobAnswer
from tests.conftest import REPO, Home, write
from tests.jobs import conftest as jobs_fixtures
from tests.jobs.conftest import StartWorker

# The Celery runner's fixtures (a vhost of the test RabbitMQ, a home using it, `strongroom worker` subprocesses).
broker_url = jobs_fixtures.broker_url
celery_home = jobs_fixtures.celery_home
worker_processes = jobs_fixtures.worker_processes

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WAIT_SECONDS = 180


def submitted(home: Home, *args: str) -> str:
    """Run a long command with --submit --json; it must print exactly {"job": ID} and nothing else."""
    result = home.ok(*args, "--submit", "--json")
    data = json.loads(result.stdout)
    assert list(data) == ["job"] and UUID.fullmatch(data["job"]), result.stdout
    return str(data["job"])


def stored(home: Home) -> list[str]:
    """The packages `list --json` shows."""
    listed = home.ok("list", "--json").json()
    assert isinstance(listed, list)
    return [str(p["package"]) for p in listed]


def job_row(home: Home, job_id: str) -> JobRecord:
    with home.archive() as archive:
        job = archive.catalog.job(job_id)
    assert job is not None
    return job


@contextmanager
def embedded_runner(home: Home) -> Iterator[Any]:
    """The runner `strongroom serve` uses on one machine: it takes the queued steps from the catalog and runs them."""
    from strongroom.jobs.runners import open_runner

    runner = open_runner(home.path)
    try:
        yield runner
    finally:
        runner.close()


def run_to_end(home: Home, job_id: str) -> JobRecord:
    with embedded_runner(home) as runner:
        job: JobRecord = runner.wait(job_id, timeout=WAIT_SECONDS)
    assert job.state.finished, f"job {job_id} still {job.state} after {WAIT_SECONDS} s"
    return job


# --- ingest --submit ------------------------------------------------------------------------------


def test_ingest_submit_returns_at_once_with_the_job_and_stores_nothing_yet(home: Home, example_transfer: Path) -> None:
    job_id = submitted(home, "ingest", str(example_transfer), "--title", "Parish records", "--creator", "Clerk")
    assert home.ok("list", "--json").json() == []  # queued, not run: nothing is stored
    job = job_row(home, job_id)
    assert job.state is JobState.QUEUED and job.kind == INGEST_KIND
    assert job.owner == current_operator() == "test-archivist"
    # The same work as `ingest` without --submit: the params the job layer builds from the same options.
    options = options_from_params(job.params)
    assert job.params == ingest_params(example_transfer, options)
    assert job.params["source"] == str(example_transfer.absolute())
    assert options.description == {"title": ("Parish records",), "creator": ("Clerk",)}
    assert options.operator == "test-archivist" and options.allow_duplicate is False
    # People are told the id and how to follow it; with the embedded runner, what runs it.
    human = home.ok("ingest", str(example_transfer), "--submit").stdout
    (other,) = set(UUID.findall(human))
    assert other != job_id and f"strongroom jobs wait {other}" in human
    assert "strongroom worker" in human and "strongroom serve" in human


def test_a_submitted_ingest_stores_what_ingest_stores_and_wait_prints_the_ingest_json(
    home: Home, example_transfer: Path, tmp_path: Path
) -> None:
    job_id = submitted(home, "ingest", str(example_transfer), "--name", "minutes")
    job = run_to_end(home, job_id)
    assert job.state is JobState.SUCCEEDED, (job.error, job.details)
    waited = home.ok("jobs", "wait", job_id, "--json")
    result = waited.json()
    assert isinstance(result, dict) and result == dict(job.result or {})
    # The same shape, and the same package, as `ingest --json` run in place on another archive.
    other = Home(tmp_path / "other")
    with pytest.MonkeyPatch.context() as env:
        # Its own catalog: on the PostgreSQL pass STRONGROOM_CATALOG_URL names `home`'s database, where these
        # files are stored already (a duplicate transfer would be refused).
        env.delenv("STRONGROOM_CATALOG_URL", raising=False)
        other.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")  # as the home fixture
        direct = other.ingest(example_transfer, "--name", "minutes")
    assert set(result) == set(direct)
    for key in ("name", "version", "files", "bytes", "originals", "kind", "warnings"):
        assert result[key] == direct[key], key
    listed = home.ok("list", "--json").json()
    assert isinstance(listed, list) and [p["package"] for p in listed] == [result["package"]]
    home.ok("verify", "--all")
    # A person waiting on a finished job is told it succeeded, with the result.
    plain = home.ok("jobs", "wait", job_id)
    assert f"Job {job_id}" in plain.stdout and "succeeded" in plain.stdout and result["package"] in plain.stdout


def test_a_job_that_fails_says_why_and_wait_exits_1(home: Home, example_transfer: Path) -> None:
    job_id = submitted(home, "ingest", str(example_transfer))
    shutil.rmtree(example_transfer)  # gone between submitting and running: the plan step fails
    job = run_to_end(home, job_id)
    assert job.state is JobState.FAILED and job.error and "does not exist" in job.error
    failed = home.run("jobs", "wait", job_id, "--json")
    assert failed.exit_code == 1 and failed.stdout == ""
    error = json.loads(failed.stderr)
    assert "does not exist" in error["error"] and f"See it with: strongroom jobs show {job_id}" in error["hint"]
    plain = home.run("jobs", "wait", job_id)
    assert plain.exit_code == 1 and "does not exist" in plain.stderr and "Traceback" not in plain.stderr
    shown = home.ok("jobs", "show", job_id, "--json").json()
    assert isinstance(shown, dict) and shown["state"] == "failed" and "does not exist" in shown["error"]
    assert shown["steps"]["failed"] and shown["steps"]["failed"][0]["step"] == "plan"


def test_submit_refuses_a_missing_source_at_once(home: Home, tmp_path: Path) -> None:
    missing = home.run("ingest", str(tmp_path / "nowhere"), "--submit", "--json")
    assert missing.exit_code == 2 and missing.stdout == ""
    assert "does not exist" in json.loads(missing.stderr)["error"]
    assert home.ok("jobs", "list", "--json").json() == {"jobs": []}


def test_with_the_celery_runner_submit_goes_to_the_broker_and_a_worker_runs_it(
    celery_home: Home, broker_url: str, worker_processes: StartWorker, example_transfer: Path
) -> None:
    home = celery_home
    said = home.ok("ingest", str(example_transfer), "--submit").stdout
    (job_id,) = set(UUID.findall(said))
    assert "from the broker" in said and f"strongroom jobs wait {job_id}" in said
    assert job_row(home, job_id).state is JobState.QUEUED
    worker = worker_processes(home, "--concurrency", "1", "--queues", "default")
    waited = home.run("jobs", "wait", job_id, "--timeout", str(WAIT_SECONDS), "--json")
    assert waited.exit_code == 0, (waited.stderr, worker.output())
    result = waited.json()
    assert isinstance(result, dict) and result["name"] == "transfer" and result["originals"] >= 1
    assert stored(home) == [result["package"]]
    assert worker.terminate(timeout=60) == 0


# --- jobs list / show / wait / cancel -------------------------------------------------------------


def test_jobs_list_and_show_have_the_api_shape_and_count_the_steps(home: Home, example_transfer: Path) -> None:
    assert "No jobs yet" in home.ok("jobs", "list").stdout
    first = submitted(home, "ingest", str(example_transfer))
    second = submitted(home, "rebuild")
    listed = home.ok("jobs", "list", "--json").json()
    assert isinstance(listed, dict) and list(listed) == ["jobs"]
    assert [j["id"] for j in listed["jobs"]] == [second, first]  # newest first
    for job in listed["jobs"]:
        JobAnswer.model_validate(job)  # the API's model of GET /api/v1/jobs
        assert set(job) == set(JobAnswer.model_fields)
    only = home.ok("jobs", "list", "--kind", "rebuild", "--json").json()
    assert isinstance(only, dict) and [j["id"] for j in only["jobs"]] == [second]
    assert home.ok("jobs", "list", "--state", "succeeded", "--json").json() == {"jobs": []}
    assert [j["id"] for j in home.ok("jobs", "list", "--limit", "1", "--json").json()["jobs"]] == [second]  # type: ignore[index]
    bad = home.run("jobs", "list", "--state", "sleeping")
    assert bad.exit_code == 2 and "queued, running, succeeded" in bad.stderr

    home.ok("jobs", "cancel", second)
    job = run_to_end(home, first)
    assert job.state is JobState.SUCCEEDED
    shown = home.ok("jobs", "show", first, "--json").json()
    assert isinstance(shown, dict)
    in_list = home.ok("jobs", "list", "--kind", "ingest", "--json").json()
    assert isinstance(in_list, dict) and {k: shown[k] for k in JobAnswer.model_fields} == in_list["jobs"][0]
    assert shown["chunks_total"] >= 1 and shown["chunks_done"] == shown["chunks_total"]
    steps = shown["steps"]
    assert steps["count"] == shown["chunks_total"] + 2  # plan, the chunks, finalize
    assert steps["states"] == {StepState.DONE.value: steps["count"]}
    assert steps["ran_more_than_once"] == 0 and steps["failed"] == []
    people = home.ok("jobs", "show", first).stdout
    assert "state: succeeded" in people and f"chunks: {shown['chunks_done']} of {shown['chunks_total']} done" in people
    assert "ran more than once" in people and shown["result"]["package"] in people
    table = home.ok("jobs", "list").stdout
    assert first in table and second in table and "cancelled" in table and "succeeded" in table


def test_cancel_wait_and_their_exit_statuses(home: Home, example_transfer: Path) -> None:
    job_id = submitted(home, "ingest", str(example_transfer))
    late = home.run("jobs", "wait", job_id, "--timeout", "0.3", "--json")
    assert late.exit_code == 3 and late.stdout == ""  # nothing runs it: still queued
    assert "still queued" in json.loads(late.stderr)["error"]
    cancelled = home.ok("jobs", "cancel", job_id, "--json").json()
    assert isinstance(cancelled, dict) and cancelled["state"] == "cancelled" and cancelled["id"] == job_id
    assert job_row(home, job_id).state is JobState.CANCELLED
    ended = home.run("jobs", "wait", job_id)
    assert ended.exit_code == 1 and "cancelled" in ended.stderr.lower()
    again = home.ok("jobs", "cancel", job_id)
    assert "has finished: cancelled" in again.stdout
    with embedded_runner(home) as runner:  # a runner that starts later does nothing with it
        assert runner.wait(job_id, timeout=5).state is JobState.CANCELLED
    assert home.ok("list", "--json").json() == []
    help_text = home.ok("jobs", "wait", "--help").stdout
    assert all(words in help_text for words in ("0 the job succeeded", "1 it failed", "3 --timeout"))


def test_wait_exits_1_when_the_command_itself_would_have(home: Home, example_transfer: Path) -> None:
    """A job that ran to its end but found trouble (an audit's damaged copy) is what the command exits 1 for: `jobs
    wait` must say so the same way, or `audit --submit && jobs wait` in a timer hides a damaged archive."""
    from tests.spine.test_replicas import writable

    home.ingest(example_transfer)
    objects = home.path / "storage" / "ocfl"
    writable(objects)
    damaged = sorted(p for p in objects.glob("**/v1/content/data/objects/**/*") if p.is_file())[0]
    damaged.write_bytes(damaged.read_bytes()[:-7])
    direct = home.run("audit", "--json")
    assert direct.exit_code == 1 and json.loads(direct.stdout)["problems"]
    job_id = submitted(home, "audit")
    assert run_to_end(home, job_id).state is JobState.SUCCEEDED  # the job did its work: it found the damage
    waited = home.run("jobs", "wait", job_id, "--json")
    assert waited.exit_code == 1, waited
    assert json.loads(waited.stdout)["problems"] == json.loads(direct.stdout)["problems"]  # the result, as audit
    plain = home.run("jobs", "wait", job_id)
    assert plain.exit_code == 1 and "1 problem" in plain.stderr and "strongroom jobs show" in plain.stderr
    assert "Traceback" not in plain.stdout + plain.stderr


@pytest.mark.parametrize(
    ("kind", "params", "result", "trouble"),
    [
        ("audit", {"repair": False}, {"problems": [{"kind": "damaged"}], "repairs": []}, "1 problem(s)"),
        ("audit", {"repair": True}, {"problems": [{}], "repairs": [{"ok": True}], "repair_failures": {}}, None),
        ("audit", {"repair": True}, {"problems": [{}], "repairs": [{"ok": False}], "repair_failures": {}}, "problem"),
        ("audit", {}, {"problems": [], "unreachable_locations": {"offsite": "timed out"}}, "offsite"),
        ("replicate", {}, {"failures": [{"package": "p"}], "unreachable_locations": {}}, "1 copy(ies)"),
        ("replicate", {}, {"failures": [], "unreachable_locations": {}}, None),
        ("migrate-libreoffice", {}, {"ok": False}, "part of the work failed"),
        ("extract-text", {}, {"ok": True}, None),
        ("ingest", {}, {"package": "p", "warnings": ["odd"]}, None),
    ],
)
def test_what_wait_counts_as_trouble_is_what_the_command_exits_1_for(
    kind: str, params: dict[str, Any], result: dict[str, Any], trouble: str | None
) -> None:
    from datetime import UTC, datetime

    from strongroom.cli_jobs import shortfall

    job = JobRecord(id="0" * 36, kind=kind, title="t", owner="o", params=params, state=JobState.SUCCEEDED,
                    created=datetime.now(UTC), result=result)  # fmt: skip
    found = shortfall(job)
    assert (found is None) == (trouble is None) and (trouble is None or trouble in (found or "")), found


@pytest.mark.parametrize("command", ["show", "wait", "cancel"])
@pytest.mark.parametrize("job_id", ["00000000-0000-4000-8000-000000000000", "not-a-job"])
def test_an_unknown_job_is_a_clear_error(home: Home, command: str, job_id: str) -> None:
    result = home.run("jobs", command, job_id)
    assert result.exit_code == 2 and "There is no job" in result.stderr and "strongroom jobs list" in result.stderr
    as_json = home.run("jobs", command, job_id, "--json")
    assert as_json.exit_code == 2 and as_json.stdout == "" and "There is no job" in json.loads(as_json.stderr)["error"]


def test_jobs_commands_say_when_there_is_no_archive(tmp_path: Path) -> None:
    result = Home(tmp_path / "nothing").run("jobs", "list")
    assert result.exit_code == 2 and "No Strongroom archive" in result.stderr


# --- --submit on the other long commands ----------------------------------------------------------


def test_every_long_command_submits_the_same_work_and_it_runs(home: Home, example_transfer: Path,
                                                                tmp_path: Path) -> None:  # fmt: skip
    package = str(home.ingest(example_transfer)["package"])
    home.ok("location", "add", "offsite", "--path", str(tmp_path / "offsite"))
    metadata = write(tmp_path / "metadata.csv", "filename,dc.title\nobjects,Revised minutes\n")
    commands = {
        "replicate": ("replicate", "--location", "offsite"),  # first: an update is copied to every location
        "update": ("update", package, "--metadata", str(metadata), "--reason", "New title"),
        "audit": ("audit", "--older-than", "90d", "--max-bytes", "500G", "--rate", "50"),
        "migrate": ("migrate", package, "--dry-run"),
        "rebuild": ("rebuild",),
    }
    jobs: dict[str, JobRecord] = {}
    results: dict[str, Any] = {}
    for name, args in commands.items():  # one after the other: a rebuild must not run beside an update
        job_id = submitted(home, *args)
        jobs[name] = job_row(home, job_id)
        if name == "update":  # queued: nothing done yet
            assert home.ok("show", package, "--json").json()["version"] == 1  # type: ignore[index]
        done = run_to_end(home, job_id)
        assert done.state is JobState.SUCCEEDED, (name, done.error, done.details)
        results[name] = home.ok("jobs", "wait", job_id, "--json").json()
    assert {name: row.kind for name, row in jobs.items()} == {name: name for name in commands}
    assert all(row.owner == "test-archivist" and row.params["operator"] == "test-archivist" for row in jobs.values())
    assert jobs["replicate"].params["location"] == "offsite"
    assert {k: jobs["audit"].params[k] for k in ("older_than", "max_bytes", "rate", "location", "repair")} == {
        "older_than": "90d", "max_bytes": "500G", "rate": 50.0, "location": None, "repair": False,
    }  # fmt: skip
    assert jobs["update"].params["package"] == package and jobs["update"].params["reason"] == "New title"
    assert jobs["migrate"].params["packages"] == [package] and jobs["migrate"].params["dry_run"] is True
    assert results["update"]["version"] == 2
    assert home.ok("show", package, "--json").json()["version"] == 2  # type: ignore[index]
    assert [(c["package"], c["to"]) for c in results["replicate"]["copied"]] == [(package, "offsite")]
    assert results["audit"]["problems"] == []
    # Each result has the shape the command prints itself with --json.
    direct = {
        "replicate": home.ok("replicate", "--location", "offsite", "--json").json(),
        "audit": home.ok("audit", "--json").json(),
        "migrate": home.ok("migrate", package, "--dry-run", "--json").json(),
        "rebuild": home.ok("rebuild", "--json").json(),
    }
    for name, shape in direct.items():
        assert isinstance(shape, dict) and set(results[name]) >= set(shape), name


def test_submit_refuses_what_a_job_cannot_do(home: Home, example_transfer: Path, tmp_path: Path) -> None:
    package = str(home.ingest(example_transfer)["package"])
    report = home.run("migrate", "--report", "--submit", "--json")
    assert report.exit_code == 2 and "--report" in json.loads(report.stderr)["error"]
    no_tool = home.run("migrate", "--tool", "libreoffice")
    assert no_tool.exit_code == 2 and "--tool goes with --submit" in no_tool.stderr
    bad_tool = home.run("migrate", "--tool", "notepad", "--submit")
    assert bad_tool.exit_code == 2 and "libreoffice" in bad_tool.stderr
    missing_csv = home.run("update", package, "--metadata", str(tmp_path / "none.csv"), "--submit")
    assert missing_csv.exit_code == 2 and "is not a file" in missing_csv.stderr
    rate = home.run("audit", "--rate", "0", "--submit")
    assert rate.exit_code == 2 and "--rate" in rate.stderr
    unknown_batch = home.run("disposal", "execute", "deadbeef", "--submit")
    assert unknown_batch.exit_code == 2 and "No disposal batch" in unknown_batch.stderr
    transfer_to = home.run("disposal", "execute", "deadbeef", "--transfer-to", str(tmp_path / "out"), "--submit")
    assert transfer_to.exit_code == 2 and "--transfer-to cannot go with --submit" in transfer_to.stderr
    assert home.ok("jobs", "list", "--json").json() == {"jobs": []}


def test_migrate_submit_with_a_tool_queues_that_tools_kind(home: Home, example_transfer: Path) -> None:
    package = str(home.ingest(example_transfer)["package"])
    job = job_row(home, submitted(home, "migrate", package, "--tool", "libreoffice"))
    assert job.kind == "migrate-libreoffice" and job.params["tool"] == "libreoffice"
    assert job.title == "Migrate at-risk formats with libreoffice"


def test_disposal_execute_submit_runs_the_approved_batch(home: Home, tmp_path: Path) -> None:
    from strongroom.records.model import DisposalAction
    from tests.records.test_disposal import assign, load_schedule, token_transfer

    package = str(home.ingest(token_transfer(tmp_path, "qzsubmit", "alpha"))["package"])
    with home.archive() as archive:
        load_schedule(archive, "LG-1", DisposalAction.DESTROY)
        assign(archive, package, "LG-1")
    proposal = home.ok("disposal", "propose", "--json").json()
    assert isinstance(proposal, dict)
    batch = str(proposal["batch"])
    home.ok("disposal", "approve", batch[:8], "--as", "Alice Smith")
    home.ok("disposal", "approve", batch, "--as", "Bob Jones")
    job_id = submitted(home, "disposal", "execute", batch[:8])  # a prefix, as the command takes it
    job = job_row(home, job_id)
    assert job.kind == "disposal-execute" and job.params == {"batch": batch, "operator": "test-archivist"}
    assert stored(home) == [package]
    assert run_to_end(home, job_id).state is JobState.SUCCEEDED
    result = home.ok("jobs", "wait", job_id, "--json").json()
    assert isinstance(result, dict) and result["destroyed"] == [package]
    assert home.ok("list", "--json").json() == []
    shown = home.ok("disposal", "show", batch, "--json").json()
    assert isinstance(shown, dict) and shown["status"] == "executed"


# --- the deployment page and the systemd units ----------------------------------------------------

DEPLOYMENT = REPO / "docs" / "deployment.md"
UNITS = REPO / "deploy" / "systemd"
UNIT_FILES = ("strongroom-web.service", "strongroom-worker@.service", "strongroom-audit.service",
              "strongroom-audit.timer")  # fmt: skip


def _command_lines(text: str) -> list[list[str]]:
    """Each `strongroom ...` command in the text's sh blocks, or on an ExecStart= line, from the command name on."""
    lines: list[str] = re.findall(r"^ExecStart=(.*)$", text, re.MULTILINE)
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            # A command run through `sh -c '...'` is checked as the command it runs.
            inner = re.search(r"exec (\S*strongroom .*?)'", line)
            lines.append(inner.group(1) if inner else line)
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        for index, word in enumerate(words):
            if word.endswith("/bin/strongroom") or (word == "strongroom" and index == 0):
                commands.append(words[index + 1 :])
    return commands


def _check_options(argv: list[str]) -> str:
    words = list(argv)
    if words[:1] == ["--home"]:
        words = words[2:]
    command = typer.main.get_command(app)
    root, path = command, []
    while words and not words[0].startswith("-") and words[0] in getattr(command, "commands", {}):
        path.append(words[0])
        command = command.commands[words.pop(0)]  # type: ignore[attr-defined]
    assert command is not root, f"no command in: strongroom {shlex.join(argv)}"
    known = {opt for param in command.params for opt in param.opts} | {"--help"}
    used = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    assert used <= known, f"strongroom {shlex.join(argv)}: no such option {used - known}"
    return " ".join(path)


def test_the_deployment_page_and_units_use_real_commands_and_options() -> None:
    page = DEPLOYMENT.read_text(encoding="utf-8")
    checked = {_check_options(argv) for argv in _command_lines(page)}
    assert {"init", "doctor", "jobs list"} <= checked, checked
    units = {name: (UNITS / name).read_text(encoding="utf-8") for name in UNIT_FILES}
    started = {name: [_check_options(argv) for argv in _command_lines(text)] for name, text in units.items()}
    assert started == {"strongroom-web.service": ["serve"], "strongroom-worker@.service": ["worker"],
                       "strongroom-audit.service": ["audit"], "strongroom-audit.timer": []}  # fmt: skip
    for name in UNIT_FILES:
        assert f"deploy/systemd/{name}" in page, f"{name} is not on the page"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "(docs/deployment.md)" in readme
    # Hardening and restarts, as the page says.
    for name in ("strongroom-web.service", "strongroom-worker@.service", "strongroom-audit.service"):
        text = units[name]
        for line in ("User=strongroom", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "EnvironmentFile=/etc/strongroom/strongroom.env"):  # fmt: skip
            assert line in text.splitlines(), (name, line)
        assert not re.search(r"(?i)password=\S", text)  # secrets come from the environment file only
    assert "Restart=on-failure" in units["strongroom-web.service"]
    assert "Restart=always" in units["strongroom-worker@.service"]
    assert "OnCalendar=" in units["strongroom-audit.timer"]


def test_the_deployment_settings_load_as_the_page_says(tmp_path: Path) -> None:
    """The page's strongroom.toml, put into a home made by `init` the way the page says, is read by the real
    loaders as the page describes: PostgreSQL, an S3 location, OpenSearch, the Celery runner with the broker from
    the secrets file, and [jobs] workers honoured by `strongroom worker`."""
    from strongroom.config import load_settings
    from strongroom.jobs.settings import load_job_settings
    from strongroom.web.settings import load_web_settings

    page = DEPLOYMENT.read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", page, re.DOTALL)
    home = Home(tmp_path / "home")
    home.ok("init", "--organisation", "Borsetshire Archives", "--organisation-id", "BA")
    config = home.path / "strongroom.toml"
    written = config.read_text(encoding="utf-8")
    # The page says which of init's tables to replace: every table both write must be among them.
    replace = re.search(r"replace the (.*?) tables? that `init` wrote", page, re.DOTALL)
    assert replace, "the page does not say which tables of init's to replace"
    named = set(re.findall(r"`\[(\w+)\]`", replace.group(1)))
    tables = set(re.findall(r"^\[(\w+)", block, re.MULTILINE))
    assert tables & set(re.findall(r"^\[(\w+)\]", written, re.MULTILINE)) <= named, named
    for table in named:
        written = re.sub(r"\n\[" + table + r"\]\n(?:(?!\n\[).)*", "\n", written, flags=re.DOTALL)
    config.write_text(written + "\n" + block, encoding="utf-8")
    settings = load_settings(home.path)
    assert settings.catalog_url.startswith("postgresql://strongroom@head.archive.internal:5432/")
    assert [(spec.name, spec.kind) for spec in settings.all_locations] == [("primary", "s3")]
    broker = "amqp://strongroom:pw@head.archive.internal:5672/strongroom"
    jobs = load_job_settings(home.path, environ={"STRONGROOM_JOBS_BROKER_URL": broker})
    assert (jobs.runner, jobs.broker_url, jobs.shared_dir) == ("celery", broker, Path("/srv/strongroom/jobs"))
    assert (jobs.chunk_files, jobs.chunk_bytes, jobs.lease_seconds) == (200, 256 * 1024**2, 60)
    web = load_web_settings(home.path)
    assert web.upload_limit == 20 * 1024**3
    assert web.transfer_sources == {"accessions": Path("/srv/strongroom/transfers/accessions")}
    # nginx must let a whole upload through: client_max_body_size at least [web] upload_limit.
    (body,) = re.findall(r"client_max_body_size (\d+)g;", page)
    assert int(body) * 1024**3 > web.upload_limit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    strongroom = shutil.which("strongroom", path=str(REPO / ".venv" / "bin")) or shutil.which("strongroom")
    assert strongroom, "the strongroom command is not installed"
    names = []
    for name in UNIT_FILES:
        text = (UNITS / name).read_text(encoding="utf-8")
        # verify checks that ExecStart's program exists: point it at this checkout's, the unit unchanged otherwise.
        text = text.replace("/opt/strongroom/.venv/bin/strongroom", strongroom)
        target = name.replace("@.service", "@default.service")  # a template is verified as one of its instances
        (tmp_path / target).write_text(text, encoding="utf-8")
        names.append(str(tmp_path / target))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    own = [line for line in result.stderr.splitlines() if "strongroom" in line]
    assert own == [], "\n".join(own)
