"""put_many(link=True) and OCFL versions from LinkableSources: kept sources (a job's scratch folder) stored by
a hard link where the file system allows one, each file still flushed and read back, the source left whole."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.errors import IntegrityError
from strongroom.storage.base import PutRequest
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.ocfl import OcflStore, OcflUser
from strongroom.storage.sources import LinkableSources
from tests.contracts.storage_contract import stored_files


def _sources(folder: Path, count: int) -> list[tuple[str, Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        data = os.urandom(n * 131 % 7000) + str(n).encode()
        path = folder / f"source-{n}"
        path.write_bytes(data)
        made.append((f"obj/{n % 4}/file {n}.bin", path, hashlib.sha256(data).hexdigest()))
    return made


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


def test_linked_objects_share_the_sources_bytes_and_leave_them_whole(storage: FilesystemStorage,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    items = _sources(tmp_path / "scratch", 30)

    results = storage.put_many([PutRequest(*item) for item in items], link=True)

    assert [r.sha256 for r in results] == [digest for _, _, digest in items]
    for key, source, digest in items:
        stored = storage.local_path(key)
        assert os.path.samefile(stored, source)  # one inode: no byte written twice
        assert stored.stat().st_nlink == 2
        assert stat.S_IMODE(stored.stat().st_mode) == 0o444
        assert hashlib.sha256(source.read_bytes()).hexdigest() == digest  # the source is still there, whole
        with storage.open(key) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest
    assert not [p for p in stored_files(storage.root) if p.endswith(".partial")]


def test_a_wrong_digest_stores_nothing_and_keeps_every_source(storage: FilesystemStorage, tmp_path: Path) -> None:
    items = _sources(tmp_path / "scratch", 12)
    key, source, _digest = items[5]
    items[5] = (key, source, "0" * 64)  # the read-back of the linked file must catch it

    with pytest.raises(IntegrityError, match="reads back wrong"):
        storage.put_many([PutRequest(*item) for item in items], link=True)

    assert list(storage.list("obj/")) == []
    assert not [p for p in stored_files(storage.root) if p.endswith(".partial")]
    for _key, kept, _ in items:
        assert kept.is_file() and kept.stat().st_nlink == 1  # its link in storage went, the source did not


def test_where_no_link_can_be_made_the_source_is_copied(storage: FilesystemStorage, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # As on another file system (EXDEV) or one without hard links (EPERM): the ordinary copy, read back.
    items = _sources(tmp_path / "scratch", 8)

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", refuse)
    storage.put_many([PutRequest(*item) for item in items], link=True)

    for key, source, digest in items:
        assert not os.path.samefile(storage.local_path(key), source)
        assert source.stat().st_nlink == 1
        with storage.open(key) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest


def test_a_version_from_linkable_sources_survives_a_rewritten_source(tmp_path: Path) -> None:
    # The writer's side of the promise: a source replaced by a new file (unlink, write) leaves the stored bytes.
    store = OcflStore(FilesystemStorage(tmp_path / "store"))
    bag = tmp_path / "bag"
    files = {"data/a.txt": b"alpha\n", "data/sub/b.bin": os.urandom(5000), "bag-info.txt": b"Bag-Size: 1\n"}
    for path, data in files.items():
        (bag / path).parent.mkdir(parents=True, exist_ok=True)
        (bag / path).write_bytes(data)
    state = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    sizes = {path: len(data) for path, data in files.items()}

    written = store.write_version("urn:uuid:linked", state, LinkableSources(bag, state), sizes=sizes,
                                  message="v1", user=OcflUser("test"), created=datetime.now(UTC))  # fmt: skip

    assert written.number == 1 and written.new_files == 3
    inventory = store.inventory("urn:uuid:linked")
    for path, digest in state.items():
        assert (bag / path).is_file()
        assert os.path.samefile(store.backend.local_path(inventory.content_key(digest)), bag / path)  # type: ignore[attr-defined]
    (bag / "bag-info.txt").unlink()
    (bag / "bag-info.txt").write_bytes(b"Bag-Size: 2\n")
    for path, digest in state.items():
        with store.open("urn:uuid:linked", path) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest


def test_linkable_sources_are_uploaded_to_s3_and_kept(tmp_path: Path) -> None:
    # S3 has no hard links: the same sources are uploaded as ever, and stay for a finalize run again.
    from strongroom.storage.s3 import S3Storage
    from tests.services import fresh_s3_bucket

    bag = tmp_path / "bag"
    files = {"data/a.txt": b"alpha\n", "data/sub/b.bin": os.urandom(3000)}
    for path, data in files.items():
        (bag / path).parent.mkdir(parents=True, exist_ok=True)
        (bag / path).write_bytes(data)
    state = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    with fresh_s3_bucket() as (endpoint, bucket):
        store = OcflStore(S3Storage(bucket, endpoint_url=endpoint, region="us-east-1", prefix="linked"))
        store.write_version("urn:uuid:on-s3", state, LinkableSources(bag, state),
                            sizes={p: len(d) for p, d in files.items()}, message="v1", user=OcflUser("test"),
                            created=datetime.now(UTC))  # fmt: skip
        for path, digest in state.items():
            assert hashlib.sha256((bag / path).read_bytes()).hexdigest() == digest
            with store.open("urn:uuid:on-s3", path) as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == digest
