"""The real tools, found once per session; `bash scripts/tools.sh` installs them. Small real media files, made
once per session with those tools (tests/preservation/media.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.tools import CHARACTERISATION_PROBES, ToolStatus, find_tools
from tests.preservation.media import MediaError, make_all


@pytest.fixture(scope="session")
def tools() -> list[ToolStatus]:
    found = find_tools(probes=CHARACTERISATION_PROBES)
    missing = [t.name for t in found if not t.found]
    if missing:
        pytest.fail(f"characterisation tools missing: {', '.join(missing)}. Install them with: bash scripts/tools.sh")
    return found


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """kind -> a small real file (doc, xls, ppt, wpd, bmp3, pcx, tga, pict, gif, tiff, pdf-plain, wav, wma, avi...).
    Tests must not change them: copy one first to alter it."""
    try:
        return make_all(tmp_path_factory.mktemp("media"))
    except MediaError as err:
        pytest.fail(f"could not make the test media: {err}. Install the tools with: bash scripts/tools.sh")
