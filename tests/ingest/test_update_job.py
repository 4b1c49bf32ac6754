"""A metadata update as a job: one step, its metadata.csv in its params, stored once however often it runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import StrongroomError, TransferError
from strongroom.ingest.job import JOB_KINDS, MAX_METADATA_BYTES, UPDATE_KIND, update_params
from strongroom.jobs.inline import InlineContext, run_inline
from strongroom.jobs.kinds import default_kinds
from strongroom.jobs.model import JobKind, JobRecord, JobState
from tests.conftest import Home, write

KIND: JobKind = next(k for k in JOB_KINDS if k.name == UPDATE_KIND)


def run(home: Home, params: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    job = JobRecord(id=str(uuid.uuid4()), kind=UPDATE_KIND, title="Update", owner="test", params=params,
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    return dict(run_inline(KIND, InlineContext(job, home.path, tmp_path), params))


@pytest.fixture
def stored(home: Home, tmp_path: Path) -> str:
    write(tmp_path / "transfer" / "minutes.txt", "Minutes of the council, 1 May 2019.\n")
    package = home.ingest(tmp_path / "transfer", "--name", "minutes")["package"]
    assert isinstance(package, str)
    return package


def csv(tmp_path: Path, title: str) -> Path:
    return write(tmp_path / f"{title}.csv", f"filename,dc.title\nobjects,{title}\n")


def test_the_update_job_stores_the_same_as_strongroom_update(home: Home, tmp_path: Path, stored: str) -> None:
    with home.archive() as archive:
        params = update_params(archive, "minutes", csv(tmp_path, "Council minutes"), "retitled", "clerk")
    assert params["package"] == stored and params["base_version"] == 1
    # The file is in the params: the job runs wherever, after the file is gone.
    (tmp_path / "Council minutes.csv").unlink()
    result = run(home, params, tmp_path / "scratch")
    assert result["new_version"]["version"] == 2
    assert result["described"] == ["objects"]
    assert result["title"] == "Council minutes"
    shown = home.ok("show", stored, "--json").json()
    assert isinstance(shown, dict) and shown["title"] == "Council minutes" and shown["version"] == 2


def test_run_again_after_it_stored_it_stores_nothing_twice(home: Home, tmp_path: Path, stored: str) -> None:
    with home.archive() as archive:
        params = update_params(archive, stored, csv(tmp_path, "Council minutes"), "retitled", "clerk")
    first = run(home, params, tmp_path / "one")
    again = run(home, params, tmp_path / "two")  # its worker died before the job row said it was done
    assert again["new_version"] == first["new_version"]
    assert again["described"] == first["described"]
    with home.archive() as archive:
        assert [v.number for v in archive.catalog.versions(stored)] == [1, 2]


def test_a_package_changed_since_it_was_asked_for_is_refused(home: Home, tmp_path: Path, stored: str) -> None:
    with home.archive() as archive:
        params = update_params(archive, stored, csv(tmp_path, "Council minutes"), "retitled", "clerk")
    home.ok("update", stored, "--metadata", str(csv(tmp_path, "Someone else's title")), "--reason", "other")
    with pytest.raises(StrongroomError, match="changed after this update was asked for"):
        run(home, params, tmp_path / "scratch")
    with home.archive() as archive:
        assert [v.number for v in archive.catalog.versions(stored)] == [1, 2]
        assert archive.package(stored).title == "Someone else's title"


def test_bad_input_is_refused_when_the_job_is_asked_for(home: Home, tmp_path: Path, stored: str) -> None:
    with home.archive() as archive:
        with pytest.raises(StrongroomError, match="is not a file"):
            update_params(archive, stored, tmp_path / "nowhere.csv", "r", "clerk")
        with pytest.raises(StrongroomError, match=r"no-such-package|No package|no package"):
            update_params(archive, "no-such-package", csv(tmp_path, "x"), "r", "clerk")
        big = write(tmp_path / "big.csv", b"filename,dc.title\n" + b"objects,x\n" * (MAX_METADATA_BYTES // 10 + 1))
        with pytest.raises(TransferError, match="more than a job carries"):
            update_params(archive, stored, big, "r", "clerk")


def test_the_web_and_cli_kinds_are_gathered() -> None:
    kinds = default_kinds()
    assert kinds["ingest"].staged and kinds["ingest"].resumable
    assert kinds["update"].run is not None and kinds["update"].resumable
    assert kinds["check-transfer"].run is not None


def test_a_metadata_name_with_folders_in_a_job_row_writes_nowhere_else(home: Home, tmp_path: Path, stored: str) -> None:
    """A job row is data from the catalog: its file name must not steer a worker's write out of its temp folder."""
    import tempfile

    with home.archive() as archive:
        params = update_params(archive, stored, csv(tmp_path, "Council minutes"), "retitled", "clerk")
    escape = Path(tempfile.gettempdir()).parent / f"escaped-{uuid.uuid4().hex}.csv"
    params["metadata_name"] = f"../../../../../../../..{escape}"
    try:
        result = run(home, params, tmp_path / "scratch")
        assert not escape.exists()
        assert result["title"] == "Council minutes"
    finally:
        escape.unlink(missing_ok=True)
