"""Archives stored by Strongroom 0.1 (a bag and a marker per package) are refused until `upgrade` converts them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_TRANSFER, Home, object_root, ocfl_validate

# Slow: each test ingests, verifies, exports and converts a whole archive.
pytestmark = pytest.mark.slow


def make_legacy(home: Home, tmp_path: Path) -> tuple[str, list[dict[str, object]]]:
    """Turn a freshly ingested and verified package into the 0.1 layout, as 0.1 left it."""
    data = home.ingest(EXAMPLE_TRANSFER)
    package = str(data["package"])
    home.ok("verify", package)  # fixity events: in 0.1 these lived only in the catalog
    events = home.ok("show", package, "--json").json()["events"]  # type: ignore[index]
    exported = tmp_path / "exported"
    home.ok("export", package, str(exported))
    storage = home.path / "storage"
    bag = f"sample-transfer-{package}"
    shutil.copytree(exported / bag, storage / "packages" / package / bag)
    marker = {
        "uuid": package, "name": "sample-transfer", "bag": bag, "created": "2026-01-02T03:04:05.123456+00:00",
        "files": data["files"], "bytes": data["bytes"], "payload_sha256": "0" * 64,
        "mets": f"data/METS.{package}.xml", "title": "sample-transfer",
    }  # fmt: skip
    (storage / "committed").mkdir()
    (storage / "committed" / f"{package}.json").write_text(json.dumps(marker), encoding="utf-8")
    shutil.rmtree(object_root(home, package))
    shutil.rmtree(storage / "journal")
    return package, events


def test_upgrade_converts_the_old_layout_and_keeps_every_event(home: Home, tmp_path: Path) -> None:
    package, events = make_legacy(home, tmp_path)
    refused = home.run("ingest", str(EXAMPLE_TRANSFER), "--allow-duplicate")
    assert refused.exit_code != 0
    assert "strongroom upgrade" in refused.stderr and "0.1 layout" in refused.stderr
    report = home.ok("upgrade", "--json").json()
    # The one fixity check of the package (a check records one event per package and location, plus one per bad file)
    assert report == {"packages": 1, "files": 8, "journal_entries": 1, "already_done": False}
    storage = home.path / "storage"
    assert not (storage / "packages").exists() and not (storage / "committed").exists()
    ocfl_validate(home)
    shown = home.ok("show", package, "--json").json()
    assert isinstance(shown, dict)
    assert sorted(e["uuid"] for e in shown["events"]) == sorted(str(e["uuid"]) for e in events)  # type: ignore[index]
    assert shown["versions"][0]["message"] == "Converted from the Strongroom 0.1 layout"
    assert home.ok("verify", package, "--json").json()["problems"] == []  # type: ignore[index]
    assert home.ok("journal", "verify", "--json").json()["problems"] == []  # type: ignore[index]
    again = home.ok("upgrade", "--json").json()
    assert again["already_done"] is True  # type: ignore[index]
    home.ingest(EXAMPLE_TRANSFER, "--allow-duplicate")


def test_upgrade_refuses_a_package_that_does_not_match_its_manifests(home: Home, tmp_path: Path) -> None:
    package, _events = make_legacy(home, tmp_path)
    bag = home.path / "storage" / "packages" / package / f"sample-transfer-{package}"
    (bag / "data" / "objects" / "village-hall.png").write_bytes(b"not the picture")
    result = home.run("upgrade")
    assert result.exit_code != 0
    assert "does not match its manifests" in result.stderr and "village-hall.png" in result.stderr
    assert (home.path / "storage" / "committed" / f"{package}.json").is_file()  # nothing removed
