"""FilesystemStorage.put_many and OCFL versions written through it: each file as put() stores one."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.errors import IntegrityError, StorageError
from strongroom.storage.base import BatchPut, PutRequest, put_batch_size, supports
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.ocfl import OcflStore, OcflUser
from strongroom.storage.sources import ScratchSources
from tests.contracts.storage_contract import stored_files

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠"


def _sources(folder: Path, count: int) -> list[tuple[str, Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        data = os.urandom(n * 97 % 5000) + str(n).encode()
        path = folder / f"source-{n}"
        path.write_bytes(data)
        key = f"obj/{HOSTILE}/{n % 3}/file {n}.bin" if n % 2 else f"obj/flat/file-{n}"
        made.append((key, path, hashlib.sha256(data).hexdigest()))
    return made


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


@pytest.mark.parametrize("move", [False, True])
def test_a_batch_is_stored_read_only_and_whole(storage: FilesystemStorage, tmp_path: Path, move: bool) -> None:
    items = _sources(tmp_path / "in", 40)
    assert supports(storage, BatchPut)

    results = storage.put_many([PutRequest(*item) for item in items], move=move)

    assert [r.key for r in results] == [key for key, _, _ in items]
    for (key, source, digest), result in zip(items, results, strict=True):
        assert result.sha256 == digest
        with storage.open(key) as handle:
            content = handle.read()
        assert hashlib.sha256(content).hexdigest() == digest and result.size == len(content)
        assert stat.S_IMODE(storage.local_path(key).stat().st_mode) == 0o444
        assert source.exists() is not move  # moved sources are gone; copied ones stay
    assert not [p for p in stored_files(storage.root) if p.endswith(".partial")]
    assert sorted(storage.list("obj/")) == sorted(key for key, _, _ in items)


@pytest.mark.parametrize("move", [False, True])
def test_one_wrong_digest_stores_nothing_of_the_batch(storage: FilesystemStorage, tmp_path: Path, move: bool) -> None:
    items = _sources(tmp_path / "in", 12)
    key, source, _digest = items[5]
    items[5] = (key, source, "0" * 64)

    with pytest.raises(IntegrityError, match=r"reads back wrong|does not match"):
        storage.put_many([PutRequest(*item) for item in items], move=move)

    assert list(storage.list()) == []
    assert list(stored_files(storage.root)) == []  # no temporaries
    assert list(storage.root.iterdir()) == []  # nor the folders made for the batch


def test_a_missing_source_is_named_and_nothing_is_stored(storage: FilesystemStorage, tmp_path: Path) -> None:
    items = _sources(tmp_path / "in", 6)
    items[2][1].unlink()

    with pytest.raises(StorageError, match="source-2"):
        storage.put_many([PutRequest(*item) for item in items])

    assert list(storage.list()) == []


def test_an_ocfl_version_from_scratch_sources_moves_them_in(tmp_path: Path) -> None:
    store = OcflStore(FilesystemStorage(tmp_path / "store"))
    folder = tmp_path / "staging"
    items = _sources(folder, 30)
    state = {f"data/{n}.bin": digest for n, (_key, _source, digest) in enumerate(items)}
    (folder / "data").mkdir()
    for n, (_key, source, _digest) in enumerate(items):
        source.rename(folder / "data" / f"{n}.bin")
    sources = ScratchSources(folder, state)
    assert sources["data/0.bin"] == folder / "data/0.bin" and len(sources) == 30
    sizes = {path: sources[path].stat().st_size for path in state}

    written = store.write_version(
        "urn:uuid:batch", state, sources, sizes=sizes, message="m", user=OcflUser("u"), created=datetime.now(UTC)
    )

    assert written.new_files == 30
    assert not any(source.exists() for source in sources.values())
    for path, digest in state.items():
        with store.open("urn:uuid:batch", path) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest


def test_a_hard_linked_scratch_file_is_copied_not_moved(storage: FilesystemStorage, tmp_path: Path) -> None:
    # Moving it would leave the stored object sharing its bytes (and mode) with the other name.
    ((key, source, digest),) = _sources(tmp_path / "scratch", 1)
    outside = tmp_path / "outside"
    os.link(source, outside)
    storage.put_many([PutRequest(key, source, digest)], move=True)
    outside.write_bytes(b"changed afterwards")
    with storage.open(key) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == digest
    assert os.stat(outside).st_mode & stat.S_IWUSR  # its mode was not made read-only either


def test_a_version_is_stored_within_a_low_open_file_limit(tmp_path: Path) -> None:
    # Each file of a put_many batch is held open: batches shrink to a quarter of the open-file limit.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    store = OcflStore(FilesystemStorage(tmp_path / "store"))
    items = _sources(tmp_path / "staging", 300)
    state = {f"data/{n}.bin": digest for n, (_key, _source, digest) in enumerate(items)}
    sources = {f"data/{n}.bin": source for n, (_key, source, _digest) in enumerate(items)}
    sizes = {path: source.stat().st_size for path, source in sources.items()}
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        assert put_batch_size() == 64
        written = store.write_version(
            "urn:uuid:low", state, sources, sizes=sizes, message="m", user=OcflUser("u"), created=datetime.now(UTC)
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert written.new_files == 300
