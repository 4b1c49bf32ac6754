"""Proposing a disposal batch of chosen due packages: the library's `only`, the CLI's --package and the API."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from strongroom.errors import StrongroomError
from strongroom.records.disposal import propose
from tests.conftest import Home
from tests.web.test_records_pages import due_packages


def test_only_the_chosen_due_packages_are_proposed_the_rest_are_not_selected(home: Home, tmp_path: Path) -> None:
    packages = due_packages(home, tmp_path, "alpha", "beta", "gamma")
    with home.archive() as archive:
        proposal = propose(archive, date.today(), "test", only=[packages["alpha"], f" {packages['gamma'].upper()} "])
    assert proposal.batch is not None
    assert sorted(i.package for i in proposal.batch.items) == sorted([packages["alpha"], packages["gamma"]])
    assert [(o.package, o.why) for o in proposal.left_out] == [(packages["beta"], "not selected")]
    with home.archive() as archive:
        again = propose(archive, date.today(), "test")  # beta was left out, so it may be proposed now
    assert again.batch is not None and [i.package for i in again.batch.items] == [packages["beta"]]


def test_a_package_not_due_is_refused_and_nothing_is_proposed(home: Home, tmp_path: Path) -> None:
    packages = due_packages(home, tmp_path, "alpha")
    stranger = "00000000-0000-4000-8000-000000000000"
    with home.archive() as archive, pytest.raises(StrongroomError) as caught:
        propose(archive, date.today(), "test", only=[packages["alpha"], stranger])
    assert f"Not due on {date.today().isoformat()}: {stranger}" in str(caught.value)
    assert caught.value.details and "retention due" in caught.value.details[0]
    with home.archive() as archive:
        assert archive.catalog.disposal_batches() == []
        nothing = propose(archive, date.today(), "test", only=[])
    assert nothing.batch is None and [o.why for o in nothing.left_out] == ["not selected"]


def test_the_cli_proposes_the_packages_named_with_package(home: Home, tmp_path: Path) -> None:
    packages = due_packages(home, tmp_path, "alpha", "beta", "gamma")
    out = home.ok("disposal", "propose", "--package", packages["beta"], "--package", packages["gamma"], "--json")
    proposal = out.json()
    assert isinstance(proposal, dict) and isinstance(proposal["batch"], str)
    assert sorted(i["package"] for i in proposal["items"]) == sorted([packages["beta"], packages["gamma"]])
    assert [(o["package"], o["why"]) for o in proposal["left_out"]] == [(packages["alpha"], "not selected")]
    text = home.ok("disposal", "propose", "--package", packages["alpha"])
    assert packages["alpha"] in text.stdout and "Proposed disposal batch" in text.stdout
    refused = home.run("disposal", "propose", "--package", "not-a-package")
    assert refused.exit_code != 0 and "Not due on" in refused.stderr and "not-a-package" in refused.stderr
