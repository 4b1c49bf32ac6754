"""The scratch files every staged job kind keeps between its steps (strongroom/jobs/scratch.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.errors import StrongroomError
from strongroom.jobs.model import JobRecord, JobState
from strongroom.jobs.scratch import chunk_dir, chunk_file, cut_chunks, read_json, write_json
from strongroom.views import job_json
from strongroom.web.api_models import JobAnswer


def test_chunks_hold_at_most_the_limits_and_a_big_item_alone() -> None:
    weights = [(1, 10), (1, 10), (1, 10), (5, 10), (1, 500), (1, 10)]
    assert cut_chunks(weights, 2, 100) == [[0, 1], [2], [3], [4], [5]]
    assert cut_chunks([], 2, 100) == []
    assert cut_chunks(weights, 200, 10**9) == [[0, 1, 2, 3, 4, 5]]
    assert cut_chunks([(3, 0), (3, 0), (1, 0)], 4, 0) == [[0], [1, 2]], "bytes of 0 never bound a chunk"


def test_scratch_files_are_whole_or_absent_and_a_missing_one_says_what_to_check(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": [1, 2]})
    write_json(tmp_path / "a.json", {"x": [3]})
    assert read_json(tmp_path / "a.json") == {"x": [3]}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary file left behind
    with pytest.raises(StrongroomError, match="missing") as err:
        read_json(tmp_path / "b.json")
    assert any("shared_dir" in d for d in err.value.details)


def test_a_write_that_fails_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "deeper" / "plan.json"
    write_json(target, {"chunks": [[0]]})  # its folder is made
    with pytest.raises(TypeError):
        write_json(target, {"chunks": object()})
    assert read_json(target) == {"chunks": [[0]]}
    assert [p.name for p in target.parent.iterdir()] == ["plan.json"]


def test_a_damaged_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text('{"chunks": [[0', encoding="utf-8")
    with pytest.raises(StrongroomError, match="cannot be read") as err:
        read_json(tmp_path / "plan.json")
    assert list(err.value.details) == ["Submit the job again."]


def test_chunk_names_are_fixed_by_the_number(tmp_path: Path) -> None:
    assert chunk_file(tmp_path, 12) == tmp_path / "chunk-000012.json"
    assert chunk_file(tmp_path, 12, ".ledger") == tmp_path / "chunk-000012.ledger.json"
    assert chunk_dir(tmp_path, 3) == tmp_path / "chunk-000003"


def test_a_job_s_json_has_its_chunks_and_the_api_s_fields() -> None:
    job = JobRecord(id="0f0e0d0c-0000-4000-8000-000000000002", kind="audit", title="Audit", owner="ann",
                    params={"repair": False}, state=JobState.RUNNING, created=datetime.now(UTC),
                    chunks_total=7, chunks_done=3)  # fmt: skip
    shown = job_json(job)
    assert shown["chunks_total"] == 7 and shown["chunks_done"] == 3 and shown["finished_state"] is False
    JobAnswer.model_validate(shown)
    assert set(shown) == set(JobAnswer.model_fields)


def test_the_jobs_command_s_json_needs_no_web_framework() -> None:
    code = "import sys, strongroom.cli_jobs, strongroom.views; print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"
