from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.metadata import MetsValidator, write_mets
from tests.metadata.sample import Sample, sample


@pytest.fixture
def package() -> Sample:
    return sample()


@pytest.fixture
def mets_path(tmp_path: Path, package: Sample) -> Path:
    path = tmp_path / f"METS.{package.document.uuid}.xml"
    write_mets(path, package.document)
    return path


@pytest.fixture(scope="session")
def validator() -> MetsValidator:
    return MetsValidator()
