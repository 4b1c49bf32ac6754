"""RabbitMQ's consumer_timeout must outlast the longest step of any job kind, or the broker closes the channel of a
worker still busy with it and the step runs again elsewhere, forever (recipes/scaleout.md section 1)."""

from __future__ import annotations

import re
from pathlib import Path

from strongroom.jobs.kinds import default_kinds

ROOT = Path(__file__).resolve().parents[2]


def _timeouts_ms(text: str) -> list[int]:
    return [int(found) for found in re.findall(r"consumer_timeout = (\d+)", text)]


def test_the_test_broker_and_the_deployment_guide_outlast_the_longest_step() -> None:
    longest = max(kind.step_seconds for kind in default_kinds().values())
    assert longest >= 6 * 3600, "a migrate chunk may take 6 h of tool time"
    for path in (ROOT / "scripts" / "services.sh", ROOT / "docs" / "deployment.md"):
        found = _timeouts_ms(path.read_text(encoding="utf-8"))
        assert found, f"{path.name} sets no consumer_timeout"
        assert all(ms > longest * 1000 for ms in found), f"{path.name}: {found} ms <= the longest step, {longest} s"
