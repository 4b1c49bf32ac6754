"""Hold markers and the guard every opened backend sits behind: deletes and erases under a hold are refused.

Run over the filesystem and a real MinIO (tests/services.py), with hostile keys.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from strongroom.errors import HeldError, NotFound, StorageError
from strongroom.storage import open_storage
from strongroom.storage.base import (
    BatchPut,
    Erase,
    LegalHolds,
    LocalFiles,
    NativeChecksums,
    PartialCleanup,
    StorageBackend,
    supports,
)
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.holds import (
    GuardedStorage,
    guard,
    holds_on,
    markers_under,
    parse_marker,
    place_marker,
    read_marker,
    remove_marker,
)
from strongroom.storage.ocfl import OcflStore, OcflUser
from strongroom.storage.ocfl_purge import purge_object
from strongroom.storage.s3 import S3Storage
from tests.services import fresh_s3_bucket

HOSTILE = "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/"
CAPABILITIES = (Erase, LegalHolds, NativeChecksums, BatchPut, PartialCleanup, LocalFiles)
NOTE = {"type": "litigation", "reference": 'Case <7> & "co" ≠', "placed": "2026-01-02T03:04:05+00:00"}


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[tuple[str, str]]:
    with fresh_s3_bucket() as made:
        yield made


@pytest.fixture(params=["filesystem", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageBackend:
    if request.param == "filesystem":
        return open_storage("filesystem", {"path": str(tmp_path / "store")})
    endpoint, bucket = request.getfixturevalue("s3_bucket")
    return open_storage("s3", {"bucket": bucket, "endpoint_url": endpoint, "prefix": f"t-{uuid.uuid4().hex[:12]}"})


def put_text(storage: StorageBackend, key: str, text: str, tmp_path: Path) -> None:
    data = text.encode()
    source = tmp_path / f"src-{uuid.uuid4().hex}"
    source.write_bytes(data)
    storage.put(key, source, hashlib.sha256(data).hexdigest())


def keys(storage: StorageBackend, prefix: str = "") -> list[str]:
    return list(storage.list(prefix))


# --- markers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["ocfl/abc/def/ghi/pkg/", HOSTILE, "a~hold-x/b/"])
def test_marker_is_readable_json_beside_the_root(storage: StorageBackend, prefix: str) -> None:
    hold_id = str(uuid.uuid4())
    key = place_marker(storage, prefix, hold_id, NOTE)

    assert key == f"holds/{prefix}~hold-{hold_id}.json"
    assert keys(storage, "holds/") == [key]
    with storage.open(key) as stream:
        document = json.loads(stream.read().decode())
    assert document["id"] == hold_id and document["prefix"] == prefix
    assert document["type"] == "litigation" and document["reference"] == NOTE["reference"]
    assert "strongroom hold release" in document["release"]
    assert read_marker(storage, prefix, hold_id)["reference"] == NOTE["reference"]
    assert parse_marker(key) is not None and parse_marker(key).prefix == prefix  # type: ignore[union-attr]


def test_holds_on_names_holds_whose_prefix_is_an_ancestor(storage: StorageBackend) -> None:
    outer, inner_hold, other = (str(uuid.uuid4()) for _ in range(3))
    place_marker(storage, "a/", outer, NOTE)
    place_marker(storage, f"a/{HOSTILE}", inner_hold, NOTE)
    place_marker(storage, "a/b/", other, NOTE)

    assert holds_on(storage, f"a/{HOSTILE}v1/content/x.txt") == [outer, inner_hold]
    assert holds_on(storage, "a/b/c") == [outer, other]
    assert holds_on(storage, "a/bc/d") == [outer]  # "a/b/" is not an ancestor of "a/bc/"
    assert holds_on(storage, "z/a/b/c") == []
    assert holds_on(storage, "a") == []
    assert len(markers_under(storage, "a/")) == 3 and len(markers_under(storage)) == 3


def test_a_marker_of_a_deeper_prefix_named_like_a_marker_does_not_count(storage: StorageBackend) -> None:
    deep = str(uuid.uuid4())
    place_marker(storage, "p/~hold-fake.json/", deep, NOTE)  # a folder that looks like a marker name

    assert holds_on(storage, "p/other.txt") == []
    assert holds_on(storage, "p/~hold-fake.json/x") == [deep]


@pytest.mark.parametrize("prefix", ["", "no-slash", "/abs/", "a//b/", "holds/x/", "../up/"])
def test_bad_marker_prefixes_are_refused(storage: StorageBackend, prefix: str) -> None:
    with pytest.raises(StorageError):
        place_marker(storage, prefix, str(uuid.uuid4()), NOTE)
    assert keys(storage) == []


@pytest.mark.parametrize("hold_id", ["", "a/b", "../x", "x" * 65, "id with space"])
def test_bad_hold_ids_are_refused(storage: StorageBackend, hold_id: str) -> None:
    with pytest.raises(StorageError, match="cannot name a hold"):
        place_marker(storage, "a/", hold_id, NOTE)


# --- the guard ----------------------------------------------------------------------------------


def test_delete_under_a_hold_is_refused(storage: StorageBackend, tmp_path: Path) -> None:
    root = f"ocfl/{HOSTILE}"
    held_key = f"{root}v1/content/data/objects/{HOSTILE}file.txt"
    free_key = "ocfl/elsewhere/file.txt"
    put_text(storage, held_key, "held", tmp_path)
    put_text(storage, free_key, "free", tmp_path)
    hold_id = str(uuid.uuid4())
    place_marker(storage, root, hold_id, NOTE)

    with pytest.raises(HeldError) as refused:
        storage.delete(held_key)
    message = str(refused.value)
    assert hold_id in message and NOTE["reference"] in message and "litigation" in message
    assert "strongroom hold release" in message
    assert held_key in keys(storage)  # nothing was deleted

    storage.delete(free_key)  # not covered: deleted as before
    assert free_key not in keys(storage)


def test_release_allows_delete(storage: StorageBackend, tmp_path: Path) -> None:
    root = f"ocfl/{HOSTILE}"
    key = f"{root}inventory.json"
    put_text(storage, key, "{}", tmp_path)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    place_marker(storage, root, first, NOTE)
    place_marker(storage, root, second, NOTE)

    assert remove_marker(storage, root, first) is True
    with pytest.raises(HeldError, match=second):  # the other hold still stands
        storage.delete(key)
    assert remove_marker(storage, root, second) is True
    assert remove_marker(storage, root, second) is False  # already gone

    storage.delete(key)
    assert keys(storage) == []


def test_markers_are_deleted_only_by_releasing(storage: StorageBackend) -> None:
    hold_id = str(uuid.uuid4())
    key = place_marker(storage, "ocfl/x/", hold_id, NOTE)

    with pytest.raises(HeldError, match="released"):
        storage.delete(key)
    for prefix in ("holds/", "holds/ocfl/", "hol", ""):
        with pytest.raises(HeldError):
            storage.erase_prefix(prefix)  # type: ignore[attr-defined]
    assert keys(storage, "holds/") == [key]


def test_erase_under_or_over_a_hold_is_refused(storage: StorageBackend, tmp_path: Path) -> None:
    root = f"ocfl/{HOSTILE}"
    put_text(storage, f"{root}v1/a.txt", "a", tmp_path)
    put_text(storage, "ocfl/other/b.txt", "b", tmp_path)
    hold_id = str(uuid.uuid4())
    place_marker(storage, root, hold_id, NOTE)
    eraser: Any = storage

    for prefix in (root, f"{root}v1/", "ocfl/"):  # the root itself, inside it, and a folder holding it
        with pytest.raises(HeldError, match=hold_id):
            eraser.erase_prefix(prefix)
    assert f"{root}v1/a.txt" in keys(storage)

    assert eraser.erase_prefix("ocfl/other/") == 1  # beside the hold: erased
    assert keys(storage, "ocfl/") == [f"{root}v1/a.txt"]


def test_capabilities_are_exactly_the_inner_backends(storage: StorageBackend) -> None:
    assert isinstance(storage, GuardedStorage)
    inner = storage.inner
    for capability in CAPABILITIES:
        assert supports(storage, capability) == supports(inner, capability), capability.__name__
    assert supports(storage, StorageBackend)
    assert storage.name == inner.name and repr(storage) == repr(inner)
    assert guard(storage) is storage  # never wrapped twice
    if isinstance(inner, S3Storage):
        assert supports(storage, LegalHolds) and not supports(storage, LocalFiles)
        assert storage.bucket == inner.bucket  # settings read through
    else:
        assert isinstance(inner, FilesystemStorage)
        assert not supports(storage, LegalHolds) and supports(storage, LocalFiles)
        assert storage.root == inner.root


class _Minimal:
    """A backend with the required operations only."""

    name = "minimal"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, source: Path, sha256: str) -> Any:
        self.objects[key] = source.read_bytes()

    def open(self, key: str) -> Any:
        import io

        if key not in self.objects:
            raise NotFound(key)
        return io.BytesIO(self.objects[key])

    def stat(self, key: str) -> Any:
        raise NotFound(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def delete(self, key: str) -> None:
        if key not in self.objects:
            raise NotFound(key)
        del self.objects[key]


def test_a_backend_without_capabilities_gets_none_from_the_guard(tmp_path: Path) -> None:
    inner = _Minimal()
    guarded = guard(inner)

    assert [supports(guarded, c) for c in CAPABILITIES] == [False] * len(CAPABILITIES)
    place_marker(guarded, "p/", "h1", NOTE)
    inner.objects["p/x"] = b"x"
    with pytest.raises(HeldError, match="h1"):
        guarded.delete("p/x")
    # Key by key, purge_object still removes an unheld object; refuses a held one before touching it.
    inner.objects["q/inventory.json"] = b"{}"
    inner.objects["q/v1/a"] = b"a"
    assert purge_object(guarded, "q/") == 2
    with pytest.raises(HeldError):
        purge_object(guarded, "p/")
    assert "p/x" in inner.objects


# --- erasing for good ---------------------------------------------------------------------------


def test_filesystem_erase_prefix_deletes_and_prunes_folders(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    for key in (f"a/{HOSTILE}one.txt", f"a/{HOSTILE}deeper/two.txt", "a/keep.txt", "ab/keep.txt"):
        put_text(storage, key, key, tmp_path)

    assert storage.erase_prefix(f"a/{HOSTILE}") == 2
    assert sorted(storage.list()) == ["a/keep.txt", "ab/keep.txt"]
    assert not (tmp_path / "store" / "a" / "hello? sausage").exists()  # emptied folders pruned
    assert storage.erase_prefix(f"a/{HOSTILE}") == 0
    with pytest.raises(StorageError, match="prefix"):
        storage.erase_prefix("")


def _ocfl_object(storage: StorageBackend, tmp_path: Path, object_id: str) -> tuple[OcflStore, str]:
    store = OcflStore(storage, workers=2)
    store.ensure_root()
    folder = tmp_path / f"bag-{uuid.uuid4().hex}"
    files = {f"data/objects/{HOSTILE.replace('/', '_')}.txt": b"payload\n", "bagit.txt": b"BagIt-Version: 1.0\n"}
    state, sources, sizes = {}, {}, {}
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        state[name] = hashlib.sha256(data).hexdigest()
        sources[name] = path
        sizes[name] = len(data)
    for message in ("v1", "v2"):
        store.write_version(object_id, state, sources, sizes=sizes, message=message, user=OcflUser("t"),
                            created=datetime.now(UTC))  # fmt: skip
        (folder / "bagit.txt").write_bytes(b"BagIt-Version: 1.0\n" + message.encode())
        state["bagit.txt"] = hashlib.sha256((folder / "bagit.txt").read_bytes()).hexdigest()
        sizes["bagit.txt"] = (folder / "bagit.txt").stat().st_size
    return store, store.object_root(object_id)


def test_purge_object_removes_every_version_and_is_idempotent(storage: StorageBackend, tmp_path: Path) -> None:
    object_id = "urn:uuid:" + str(uuid.uuid4())
    store, root = _ocfl_object(storage, tmp_path, object_id)
    _, keep_root = _ocfl_object(storage, tmp_path, "urn:uuid:" + str(uuid.uuid4()))
    assert store.inventory(object_id).head == 2
    before = len(keys(storage, root))

    assert purge_object(storage, root) == before
    assert keys(storage, root) == []
    assert not store.exists(object_id)
    assert keys(storage, keep_root) != []  # the other object is untouched
    assert purge_object(storage, root) == 0


def test_purge_object_under_a_hold_removes_nothing(storage: StorageBackend, tmp_path: Path) -> None:
    object_id = "urn:uuid:" + str(uuid.uuid4())
    store, root = _ocfl_object(storage, tmp_path, object_id)
    before = keys(storage, root)
    hold_id = str(uuid.uuid4())
    place_marker(storage, root, hold_id, NOTE)

    with pytest.raises(HeldError, match=hold_id):
        purge_object(storage, root)
    assert keys(storage, root) == before
    assert store.exists(object_id)

    remove_marker(storage, root, hold_id)
    assert purge_object(storage, root) == len(before)
    assert not store.exists(object_id)
