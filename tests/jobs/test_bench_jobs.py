"""benchmarks/jobs.py at a small scale, so the benchmark cannot rot: every runner's run must finish with every
file stored, and the figures must come out whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import REPO, skip_services_requested

pytestmark = pytest.mark.skipif(
    skip_services_requested(), reason="STRONGROOM_SKIP_SERVICES=1: the benchmark needs PostgreSQL and RabbitMQ"
)


@pytest.mark.slow
def test_the_jobs_benchmark_runs_every_runner_and_reports_each(tmp_path: Path) -> None:
    files = 90
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "jobs.py"), "--files", str(files), "--chunk-files", "20",
         "--slots", "2", "--direct", "--json", "--work", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    print(json.dumps(data["runs"], indent=1))  # the figures, for -s or a failure's report
    assert data["files"] == files
    assert data["machine"]["cores"] >= 1 and 1 <= data["machine"]["affinity"] <= data["machine"]["cores"]
    runs = {(run["runner"], run["workers"]): run for run in data["runs"]}
    assert set(runs) == {("no job (plain ingest)", 0), ("embedded", 1), ("celery", 1), ("celery", 2)}
    for run in runs.values():
        assert run["files"] == files
        assert run["seconds"] > 0
        assert run["files_per_s"] == pytest.approx(files / run["seconds"], abs=0.06)  # rounded to 0.1
        assert run["catalog"].startswith("PostgreSQL ")
    for key in (("embedded", 1), ("celery", 1), ("celery", 2)):
        assert runs[key]["chunks"] == 5  # 90 files in chunks of 20
        assert runs[key]["slots"] == 2
    assert runs[("embedded", 1)]["ratio_to_embedded"] == 1.0
    celery = runs[("celery", 2)]
    assert celery["ratio_to_embedded"] == pytest.approx(celery["seconds"] / runs[("embedded", 1)]["seconds"], rel=0.01)
    # The corpus stays in --work for the next run; the homes do not.
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["corpus"]
