"""The ingest job's finalize stores its scratch files by hard links (no byte written twice) and stays safe to run
again: a finalize cut off halfway through storing leaves the scratch folder whole, and the next run writes its
METS and tag files as new files, never into the ones the dead run linked into storage."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.commit import object_id
from strongroom.ingest.job import INGEST_KIND, JOB_KINDS, ingest_params
from strongroom.ingest.pipeline import IngestOptions
from strongroom.jobs.inline import InlineContext
from strongroom.jobs.model import JobKind, JobRecord, JobState
from strongroom.storage.ocfl import OcflStore
from tests.conftest import Home, write

KIND: JobKind = next(k for k in JOB_KINDS if k.name == INGEST_KIND)


def _transfer(root: Path) -> Path:
    for n in range(12):
        write(root / f"folder-{n % 3}" / f"record-{n}.txt", f"minutes of meeting {n}\n" * (n + 1))
    return root


def _planned(home: Home, tmp_path: Path) -> tuple[InlineContext, dict[str, object]]:
    params = ingest_params(_transfer(tmp_path / "transfer"), IngestOptions(operator="test-archivist"))
    job = JobRecord(id=str(uuid.uuid4()), kind=INGEST_KIND, title="Ingest", owner="test", params=params,
                    state=JobState.RUNNING, created=datetime.now(UTC))  # fmt: skip
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = InlineContext(job, home.path, scratch)
    assert KIND.plan and KIND.chunk and KIND.finalize
    for n in range(KIND.plan(ctx, params)):
        KIND.chunk(ctx, params, n)
    return ctx, params


def test_finalize_links_the_scratch_files_into_storage(home: Home, tmp_path: Path) -> None:
    ctx, params = _planned(home, tmp_path)
    assert KIND.finalize
    result = KIND.finalize(ctx, params)

    with home.archive() as archive:
        inventory = archive.ocfl.inventory(object_id(str(result["package"])))
        state = inventory.version().state
        backend = archive.ocfl.backend
        shared = [path for path, digest in state.items()
                  if os.path.samefile(backend.local_path(inventory.content_key(digest)),  # type: ignore[attr-defined]
                                      ctx.scratch / "bag" / path)]  # fmt: skip
        report = archive.verify([str(result["package"])], "test-archivist")
    assert sorted(shared) == sorted(state)  # every file of the version, METS and tag files too
    assert not report.problems and report.checked >= len(state)


def test_a_finalize_cut_off_while_storing_runs_again_without_touching_what_it_linked(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, params = _planned(home, tmp_path)
    assert KIND.finalize
    real_put_inventories = OcflStore._put_inventories
    real_sweep = OcflStore.sweep
    linked: dict[str, Path] = {}

    def die_before_the_inventory(store: OcflStore, root: str, *args: object, **kwargs: object) -> None:
        # Keep our own name for the METS the dead run linked into storage, to see it is never written again.
        mets = next((ctx.scratch / "bag" / "data").glob("METS.*.xml"))
        linked["mets"] = tmp_path / "dead-run-mets"
        os.link(mets, linked["mets"])
        linked["content"] = write(tmp_path / "dead-run-mets-content", mets.read_bytes())
        raise KeyboardInterrupt  # as a worker killed here: no clean-up runs

    monkeypatch.setattr(OcflStore, "_put_inventories", die_before_the_inventory)
    monkeypatch.setattr(OcflStore, "sweep", lambda store, oid: 0)
    with pytest.raises(KeyboardInterrupt):
        KIND.finalize(ctx, params)
    monkeypatch.setattr(OcflStore, "_put_inventories", real_put_inventories)
    monkeypatch.setattr(OcflStore, "sweep", real_sweep)

    result = KIND.finalize(ctx, params)

    assert linked["mets"].read_bytes() == linked["content"].read_bytes()  # the old file was replaced, not rewritten
    mets = next((ctx.scratch / "bag" / "data").glob("METS.*.xml"))
    assert not os.path.samefile(mets, linked["mets"])
    with home.archive() as archive:
        report = archive.verify([str(result["package"])], "test-archivist")
        assert [s.uuid for s in archive.catalog.packages()] == [result["package"]]
    assert not report.problems and report.checked > 12
