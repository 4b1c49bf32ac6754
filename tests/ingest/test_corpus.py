"""Every sample transfer of ../shared/corpus is ingested whole or refused for its real reason.

Some files of the corpus are absent on purpose (sample-transfers.MISSING.txt). The
oracle here is independent of the pipeline: a transfer whose checksum files or bag
manifests name a file that does not exist must be refused, naming exactly those
files; every other transfer must be ingested, its bag and METS valid, found by
search and verified clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import bagit
import pytest

from strongroom.ingest.unpack import archive_kind
from strongroom.metadata.validate import MetsValidator
from tests.conftest import CORPUS, Home

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared sample transfers not present at {CORPUS}"),
]

README_NAMES = {"readme.md", "readme.txt", "readme"}


def _is_transfer_folder(folder: Path) -> bool:
    if (folder / "bagit.txt").is_file() or (folder / "objects").is_dir() or (folder / "metadata").is_dir():
        return True
    files = [c for c in folder.iterdir() if c.is_file() and c.name.lower() not in README_NAMES]
    # A folder holding only sub-folders and archives is a shelf of transfers, not one transfer.
    return any(archive_kind(f) is None for f in files)


def corpus_transfers(folder: Path) -> Iterator[Path]:
    for entry in sorted(folder.iterdir()):
        if entry.is_file():
            if archive_kind(entry) is not None:
                yield entry
        elif _is_transfer_folder(entry):
            yield entry
        else:
            yield from corpus_transfers(entry)


def absent_files(transfer: Path) -> set[str]:
    """Files that the transfer's checksum files or bag manifests name but that are not there."""
    if not transfer.is_dir():
        return set()
    absent: set[str] = set()
    checksum_dirs = [transfer / "metadata", transfer / "data" / "metadata"]
    for metadata in checksum_dirs:
        for checksum_file in metadata.glob("checksum.*") if metadata.is_dir() else []:
            objects = metadata.parent / "objects"
            if not objects.is_dir() and (metadata.parent / "data").is_dir():
                objects = metadata.parent / "data"  # a bag with metadata/ as a tag folder
            for line in checksum_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    name = line.split(maxsplit=1)[1].strip().lstrip("*")
                    if not (objects / name).exists():
                        absent.add(f"objects/{name}")
    for manifest in transfer.glob("manifest-*.txt"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                name = line.split(maxsplit=1)[1].strip()
                if not (transfer / name).exists():
                    absent.add(name)
    return absent


# What operating systems leave in folders (Finder, Explorer, zip on a Mac): never a record.
SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini", "icon\r"}


def holds_only_system_files(transfer: Path) -> bool:
    """A folder transfer whose records (files outside metadata/ and logs/) are all system files."""
    if not transfer.is_dir() or (transfer / "bagit.txt").is_file():
        return False
    base = transfer / "objects" if (transfer / "objects").is_dir() else transfer
    records = [
        f
        for f in base.rglob("*")
        if f.is_file() and not (base == transfer and f.relative_to(transfer).parts[0] in ("metadata", "logs"))
    ]
    return bool(records) and all(
        f.name.lower() in SYSTEM_NAMES or "__macosx" in (p.lower() for p in f.relative_to(base).parts) for f in records
    )


TRANSFERS = list(corpus_transfers(CORPUS)) if CORPUS.is_dir() else []


@pytest.fixture(scope="module")
def corpus_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    os.environ.setdefault("STRONGROOM_OPERATOR", "corpus-test")
    home = Home(tmp_path_factory.mktemp("corpus") / "home")
    home.ok("init", "--organisation", "Corpus Test Archive")
    return home


@pytest.mark.parametrize("transfer", TRANSFERS, ids=[str(t.relative_to(CORPUS)) for t in TRANSFERS])
def test_corpus_transfer(corpus_home: Home, transfer: Path) -> None:
    absent = absent_files(transfer)
    result = corpus_home.run("ingest", str(transfer), "--json", "--allow-duplicate")
    assert "Traceback" not in result.stderr
    if absent:
        assert result.exit_code != 0, f"{transfer} names absent files {absent} but was ingested"
        for name in absent:
            leaf = name.removeprefix("data/")
            assert leaf in result.stderr or name in result.stderr, f"{name} not named in:\n{result.stderr}"
        assert "not present" in result.stderr
        return
    if holds_only_system_files(transfer):
        # System files are left out, so nothing is left to preserve.
        assert result.exit_code != 0, f"{transfer} holds only system files but was ingested"
        assert "holds no records" in result.stderr
        return
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert isinstance(data, dict)
    package = str(data["package"])
    # Identical files are stored once in the OCFL object, so the bag to check is the exported one.
    out = corpus_home.path.parent / f"export-{package}"
    corpus_home.ok("export", package, str(out))
    bag_dir = next(out.iterdir())
    bagit.Bag(str(bag_dir)).validate()
    assert MetsValidator().validate(bag_dir / "data" / f"METS.{package}.xml") == []
    verified = corpus_home.ok("verify", package, "--json").json()
    assert verified["problems"] == []  # type: ignore[index]
    found = corpus_home.ok("search", str(data["name"]), "--package", package, "--json").json()
    assert found["total"] >= 1  # type: ignore[index]


def test_corpus_walk_found_the_known_transfers() -> None:
    names = {str(t.relative_to(CORPUS)) for t in TRANSFERS}
    assert {"DemoTransferCSV", "BagTransfer", "BagTransfer.zip", "Images", "ZippedBag.zip"} <= names
    assert "BagExamples/UnzippedBags/BaggedDemoTransferCSV" in names
    assert len(TRANSFERS) > 40
