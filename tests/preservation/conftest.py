"""The real tools, found once per session; `bash scripts/tools.sh` installs them."""

from __future__ import annotations

import pytest

from strongroom.tools import CHARACTERISATION_PROBES, ToolStatus, find_tools


@pytest.fixture(scope="session")
def tools() -> list[ToolStatus]:
    found = find_tools(probes=CHARACTERISATION_PROBES)
    missing = [t.name for t in found if not t.found]
    if missing:
        pytest.fail(f"characterisation tools missing: {', '.join(missing)}. Install them with: bash scripts/tools.sh")
    return found
