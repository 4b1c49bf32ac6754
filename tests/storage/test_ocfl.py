"""OcflStore on a real FilesystemStorage: versions, deduplication, sweeping, and ocfl-py's validator."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bagit
import ocfl
import pytest
from ocfl.layout_0003_hash_and_id_n_tuple import Layout_0003_Hash_And_Id_N_Tuple

from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.ocfl import OcflStore, OcflUser, WrittenVersion
from tests.contracts.storage_contract import HOSTILE_KEYS

REPO = Path(__file__).resolve().parents[2]
OBJECT_ID = "urn:uuid:2f6b1c58-3f0e-4a52-9c33-0d7c6c1f8a11"
USER = OcflUser("test-archivist", "mailto:archivist@example.org")
LAYOUT_NAME = "0003-hash-and-id-n-tuple-storage-layout"


# --- ocfl-py's own checks ----------------------------------------------------------------------


def assert_valid_ocfl(storage_root: Path) -> None:
    """ocfl-py validates the whole storage root, every object and every content digest."""
    root = ocfl.StorageRoot(root=str(storage_root))
    valid = root.validate(log_warnings=True, log_errors=True, check_digests=True)
    messages = "\n".join(message for _path, message in root.errors)
    assert valid, f"storage root invalid:\n{root.log}\n{messages}"
    assert root.num_objects >= 1
    assert root.good_objects == root.num_objects, messages
    # Only warnings (such as W004: sha512 is recommended) may remain.
    assert "[E" not in messages, messages
    layout = Layout_0003_Hash_And_Id_N_Tuple()
    for path, identifier in ocfl.StorageRoot(root=str(storage_root)).list_objects():
        assert path == layout.identifier_to_path(identifier)
    # and the command-line validator, as a user runs it
    script = Path(sys.executable).parent / "ocfl-validate.py"
    result = subprocess.run([sys.executable, str(script), str(storage_root)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    state: dict[str, str]
    sources: dict[str, Path]
    sizes: dict[str, int]


def tree(folder: Path) -> Tree:
    """Every file under `folder` as the arguments of write_version()."""
    state: dict[str, str] = {}
    sources: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        logical = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        state[logical] = hashlib.sha256(data).hexdigest()
        sources[logical] = path
        sizes[logical] = len(data)
    return Tree(state, sources, sizes)


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def make_files(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = folder.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def write(store: OcflStore, folder: Path, message: str = "ingest", object_id: str = OBJECT_ID) -> WrittenVersion:
    t = tree(folder)
    return store.write_version(
        object_id, t.state, t.sources, sizes=t.sizes, message=message, user=USER, created=datetime.now(UTC)
    )


@pytest.fixture
def backend(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


@pytest.fixture
def store(backend: FilesystemStorage) -> OcflStore:
    return OcflStore(backend, workers=4)


@pytest.fixture
def bags(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """Two versions of a real BagIt bag: v2 changes, adds and removes one payload file each."""
    v1 = make_files(
        tmp_path / "bag-v1",
        {
            "objects/unchanged.txt": b"the same in both versions\n",
            "objects/also unchanged/é.pdf": b"%PDF-1.4 not really\n",
            "objects/changed.txt": b"first text\n",
            "objects/removed.txt": b"only in v1\n",
            "METS.2f6b1c58.xml": b"<mets/>\n",
        },
    )
    bagit.make_bag(str(v1), {"Source-Organization": "Test County Archive"}, checksums=["sha256"])
    v2 = tmp_path / "bag-v2"
    shutil.copytree(v1, v2)
    (v2 / "data/objects/changed.txt").write_bytes(b"second text, longer\n")
    (v2 / "data/objects/removed.txt").unlink()
    (v2 / "data/objects/new.txt").write_bytes(b"new in v2\n")
    bagit.Bag(str(v2)).save(manifests=True)
    yield v1, v2


# --- the storage root -------------------------------------------------------------------------


def test_storage_root_declaration_layout_and_object_paths(store: OcflStore, backend: FilesystemStorage) -> None:
    store.ensure_root()
    store.ensure_root()
    root = backend.root / "ocfl"
    assert (root / "0=ocfl_1.1").read_bytes() == b"ocfl_1.1\n"
    assert json.loads((root / "ocfl_layout.json").read_text())["extension"] == LAYOUT_NAME
    config = json.loads((root / "extensions" / LAYOUT_NAME / "config.json").read_text())
    assert config == {
        "extensionName": LAYOUT_NAME,
        "digestAlgorithm": "sha256",
        "tupleSize": 3,
        "numberOfTuples": 3,
    }
    # The extension's own examples.
    assert store.object_root("object-01") == "ocfl/3c0/ff4/240/object-01/"
    assert store.object_root("..hor/rib:le-$id") == "ocfl/487/326/d8c/%2e%2ehor%2frib%3ale-%24id/"
    long_id = "abcdefghij" * 12
    digest = hashlib.sha256(long_id.encode()).hexdigest()
    assert store.object_root(long_id) == f"ocfl/{digest[:3]}/{digest[3:6]}/{digest[6:9]}/{long_id[:100]}-{digest}/"


def test_a_root_with_another_layout_or_spec_version_is_refused(backend: FilesystemStorage, tmp_path: Path) -> None:
    make_files(backend.root / "ocfl", {"0=ocfl_1.1": b"ocfl_1.1\n", "ocfl_layout.json": b'{"extension": "0002"}'})
    with pytest.raises(StorageError, match="0002"):
        OcflStore(backend).ensure_root()
    other = FilesystemStorage(tmp_path / "other")
    make_files(other.root / "ocfl", {"0=ocfl_1.0": b"ocfl_1.0\n"})
    with pytest.raises(StorageError, match=r"0=ocfl_1\.0"):
        OcflStore(other).ensure_root()
    stranger = FilesystemStorage(tmp_path / "stranger")
    make_files(stranger.root / "ocfl", {"somebody else's.txt": b"x"})
    with pytest.raises(StorageError, match="no OCFL storage root declaration"):
        OcflStore(stranger).ensure_root()


# --- versions ---------------------------------------------------------------------------------


def test_two_versions_store_only_what_changed_and_fetch_as_valid_bags(
    store: OcflStore, backend: FilesystemStorage, bags: tuple[Path, Path], tmp_path: Path
) -> None:
    v1, v2 = bags
    first = write(store, v1, "ingest")
    assert (first.number, first.files, first.new_files) == (1, len(tree(v1).state), len(tree(v1).state))
    assert first.bytes == first.new_bytes == sum(tree(v1).sizes.values())
    assert_valid_ocfl(backend.root / "ocfl")

    second = write(store, v2, "metadata update")
    assert second.number == 2
    t1, t2 = tree(v1), tree(v2)
    new_digests = set(t2.state.values()) - set(t1.state.values())
    assert second.new_files == len(new_digests)
    assert second.files == len(t2.state) and second.bytes == sum(t2.sizes.values())

    root = store.object_root(OBJECT_ID)
    v2_content = {key.removeprefix(root + "v2/content/") for key in backend.list(root + "v2/content/")}
    assert v2_content == {path for path, digest in t2.state.items() if digest in new_digests}
    for unchanged in ("data/objects/unchanged.txt", "data/objects/also unchanged/é.pdf", "bagit.txt"):
        assert unchanged not in v2_content

    inventory = store.inventory(OBJECT_ID)
    assert inventory.head == 2 and inventory.object_id == OBJECT_ID and inventory.root == root
    assert dict(inventory.version(1).state) == t1.state
    assert dict(inventory.version().state) == t2.state
    assert inventory.version(2).message == "metadata update" and inventory.version(2).user == USER
    assert inventory.content_key(t2.state["data/objects/unchanged.txt"]).startswith(root + "v1/content/")
    assert_valid_ocfl(backend.root / "ocfl")

    for number, source in ((1, v1), (2, v2)):
        fetched = tmp_path / f"fetched-v{number}"
        ticks: list[int] = []
        store.fetch_version(OBJECT_ID, fetched, number, progress=ticks.append)
        assert files_of(fetched) == files_of(source)
        assert sum(ticks) == len(files_of(source))
        bagit.Bag(str(fetched)).validate()

    with store.open(OBJECT_ID, "data/objects/changed.txt", version=1) as handle:
        assert handle.read() == b"first text\n"
    with store.open(OBJECT_ID, "data/objects/changed.txt") as handle:
        assert handle.read() == b"second text, longer\n"
    with pytest.raises(NotFound, match="1 to 2"):
        inventory.version(3)
    with pytest.raises(NotFound, match=r"removed\.txt"):
        store.open(OBJECT_ID, "data/objects/removed.txt", version=2)


def test_object_ids_exists_and_the_ocfl_validate_command(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path
) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a"})
    others = [f"urn:uuid:00000000-0000-4000-8000-00000000000{n}" for n in range(3)]
    for object_id in others:
        write(store, folder, object_id=object_id)
    assert sorted(store.object_ids()) == sorted(others)
    assert store.exists(others[0]) and not store.exists(OBJECT_ID)
    # The command-line validator also checks one object on its own.
    script = Path(sys.executable).parent / "ocfl-validate.py"
    result = subprocess.run(
        [sys.executable, str(script), str(backend.root / store.object_root(others[0]))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is VALID" in result.stdout + result.stderr


def test_identical_files_are_stored_once(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "dup", {"b/copy.txt": b"same", "a/original.txt": b"same", "c.txt": b"other"})
    written = write(store, folder)
    assert (written.files, written.new_files, written.bytes, written.new_bytes) == (3, 2, 13, 9)
    root = store.object_root(OBJECT_ID)
    assert sorted(backend.list(root + "v1/content/")) == [root + "v1/content/a/original.txt", root + "v1/content/c.txt"]
    fetched = tmp_path / "out"
    store.fetch_version(OBJECT_ID, fetched)
    assert files_of(fetched) == files_of(folder)
    assert_valid_ocfl(backend.root / "ocfl")


def test_hostile_names_round_trip(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    names = [*HOSTILE_KEYS, "100% done.txt", "%25 already encoded%2F.txt", "line\nbreak.txt"]
    folder = make_files(tmp_path / "hostile", {name: name.encode("utf-8") for name in names})
    write(store, folder)
    assert set(store.inventory(OBJECT_ID).version().state) == set(names)
    for name in names:
        with store.open(OBJECT_ID, name) as handle:
            assert handle.read() == name.encode("utf-8")
    fetched = tmp_path / "fetched"
    store.fetch_version(OBJECT_ID, fetched)
    assert files_of(fetched) == files_of(folder)
    assert_valid_ocfl(backend.root / "ocfl")


def test_a_digest_without_content_or_source_writes_nothing(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path
) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a", "b.txt": b"b"})
    t = tree(folder)
    del t.sources["b.txt"]
    with pytest.raises(StorageError, match=r"b\.txt"):
        store.write_version(
            OBJECT_ID, t.state, t.sources, sizes=t.sizes, message="m", user=USER, created=datetime.now(UTC)
        )
    assert list(backend.list(store.object_root(OBJECT_ID))) == []
    with pytest.raises(StorageError, match="both a file and a folder"):
        store.write_version(
            OBJECT_ID, {"a": t.state["a.txt"], "a/b": t.state["a.txt"]}, {}, sizes={"a": 1, "a/b": 1},
            message="m", user=USER, created=datetime.now(UTC),
        )  # fmt: skip


def test_a_source_that_does_not_match_its_digest_leaves_no_version(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path
) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a", "b.txt": b"b"})
    t = tree(folder)
    (folder / "b.txt").write_bytes(b"changed after checksumming")
    with pytest.raises(IntegrityError):
        store.write_version(
            OBJECT_ID, t.state, t.sources, sizes=t.sizes, message="m", user=USER, created=datetime.now(UTC)
        )
    assert not store.exists(OBJECT_ID)
    assert list(backend.list(store.object_root(OBJECT_ID))) == []


# --- damage and sweeping ----------------------------------------------------------------------


def test_sweep_removes_a_v1_that_never_got_a_root_inventory(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path
) -> None:
    write(store, make_files(tmp_path / "a", {"a.txt": b"a", "b/c.txt": b"c"}))
    root = store.object_root(OBJECT_ID)
    backend.delete(root + "inventory.json.sha256")
    backend.delete(root + "inventory.json")  # as if killed just before the root inventory was written
    assert not store.exists(OBJECT_ID)
    assert store.sweep(OBJECT_ID) == 5  # namaste, 2 content files, v1 inventory and its sidecar
    assert list(backend.list(root)) == []
    assert not (backend.root / root).exists()


def test_sweep_removes_versions_above_the_head(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a"})
    write(store, folder)
    (folder / "a.txt").write_bytes(b"a2")
    write(store, folder)
    root = backend.root / store.object_root(OBJECT_ID)
    make_files(
        root, {"v3/content/a.txt": b"a3", "v3/inventory.json": b"{}", "v3/content/.a.txt.0123456789abcdef.partial": b""}
    )
    assert store.sweep(OBJECT_ID) == 3
    assert not (root / "v3").exists()
    assert store.inventory(OBJECT_ID).head == 2
    assert store.sweep(OBJECT_ID) == 0
    assert_valid_ocfl(backend.root / "ocfl")


def test_sweep_rolls_a_stale_root_sidecar_forward(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a"})
    write(store, folder)
    sidecar = backend.root / store.object_root(OBJECT_ID) / "inventory.json.sha256"
    old_sidecar = sidecar.read_bytes()
    (folder / "b.txt").write_bytes(b"b")
    write(store, folder)
    sidecar.write_bytes(old_sidecar)  # killed between the root inventory and its sidecar
    with pytest.raises(IntegrityError, match="sidecar"):
        store.inventory(OBJECT_ID)
    store.sweep(OBJECT_ID)
    assert store.inventory(OBJECT_ID).head == 2
    assert_valid_ocfl(backend.root / "ocfl")


def test_a_stale_sidecar_beside_an_altered_inventory_is_not_rolled_forward(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path
) -> None:
    write(store, make_files(tmp_path / "a", {"a.txt": b"a"}))
    inventory = backend.root / store.object_root(OBJECT_ID) / "inventory.json"
    inventory.write_text(inventory.read_text().replace('"ingest"', '"rewritten history"'))
    store.sweep(OBJECT_ID)
    with pytest.raises(IntegrityError, match=r"inventory\.json"):
        store.inventory(OBJECT_ID)


def test_a_corrupted_root_inventory_is_named(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    write(store, make_files(tmp_path / "a", {"a.txt": b"a"}))
    key = store.object_root(OBJECT_ID) + "inventory.json"
    path = backend.root / key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as raised:
        store.inventory(OBJECT_ID)
    assert key in str(raised.value)


@pytest.mark.parametrize(
    "document",
    [
        b"[]",
        b"not json at all",
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": "x", "id": "y"}',
        b"{}",
        None,  # filled in below: a valid-looking inventory with a content path that climbs out
        b'{"id": "' + OBJECT_ID.encode() + b'", "type": "https://ocfl.io/1.1/spec/#inventory", '
        b'"digestAlgorithm": "sha256", "head": "v1", "manifest": {}, "versions": {"v1": "x"}}',
    ],
)
def test_hostile_inventories_raise_integrity_errors(
    store: OcflStore, backend: FilesystemStorage, tmp_path: Path, document: bytes | None
) -> None:
    write(store, make_files(tmp_path / "a", {"a.txt": b"a"}))
    root = backend.root / store.object_root(OBJECT_ID)
    if document is None:
        text = (root / "inventory.json").read_text()
        document = text.replace('"v1/content/a.txt"', '"v1/content/../../../../a.txt"').encode()
    # With a matching sidecar, so that only the parsing stands between the JSON and the caller.
    (root / "inventory.json").write_bytes(document)
    (root / "inventory.json.sha256").write_text(f"{hashlib.sha256(document).hexdigest()}  inventory.json\n")
    with pytest.raises(IntegrityError, match=r"inventory\.json"):
        store.inventory(OBJECT_ID)


def test_delete_object_removes_every_key(store: OcflStore, backend: FilesystemStorage, tmp_path: Path) -> None:
    folder = make_files(tmp_path / "a", {"a.txt": b"a", "b.txt": b"b"})
    write(store, folder)
    assert store.delete_object(OBJECT_ID) == 7
    assert not store.exists(OBJECT_ID)
    assert list(backend.list(store.object_root(OBJECT_ID))) == []
    assert list(store.object_ids()) == []


# --- kill -9 ----------------------------------------------------------------------------------

WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.ocfl import OcflStore, OcflUser
from tests.storage.test_ocfl import tree
store = OcflStore(FilesystemStorage(Path(sys.argv[1])), workers=4)
t = tree(Path(sys.argv[2]))
print("ready", flush=True)
started = time.monotonic()
store.write_version(sys.argv[3], t.state, t.sources, sizes=t.sizes, message="v2", user=OcflUser("killer"),
                    created=datetime.now(UTC))
print(time.monotonic() - started, flush=True)
"""


def run_writer(store_root: Path, folder: Path, kill_after: float | None) -> float | None:
    """Write `folder` as the next version in a child process; kill -9 it `kill_after` seconds in."""
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store_root), str(folder), OBJECT_ID],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    if kill_after is None:
        duration = float(child.stdout.readline())
        assert child.wait(timeout=60) == 0
        return duration
    time.sleep(kill_after)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stdout.close()
    return None


@pytest.mark.slow
@pytest.mark.serial
def test_a_write_killed_at_any_moment_leaves_the_old_or_the_new_version(tmp_path: Path) -> None:
    v1 = make_files(tmp_path / "v1", {f"data/objects/{n:03}.txt": f"file {n}\n".encode() for n in range(20)})
    v2 = tmp_path / "v2"
    shutil.copytree(v1, v2)
    make_files(v2, {f"data/objects/new/{n:03}.bin": os.urandom(2048) for n in range(400)})
    (v2 / "data/objects/000.txt").unlink()
    old, new = tree(v1).state, tree(v2).state

    base = tmp_path / "base"
    write(OcflStore(FilesystemStorage(base)), v1)
    measured_root = tmp_path / "measured"
    shutil.copytree(base, measured_root)
    duration = run_writer(measured_root, v2, None)
    assert duration is not None
    assert OcflStore(FilesystemStorage(measured_root)).inventory(OBJECT_ID).version().state == new

    outcomes: list[int] = []
    swept: list[int] = []
    for n, fraction in enumerate((0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.98, 1.05)):
        killed_root = tmp_path / f"killed-{n}"
        shutil.copytree(base, killed_root)
        run_writer(killed_root, v2, duration * fraction)
        store = OcflStore(FilesystemStorage(killed_root))
        swept.append(store.sweep(OBJECT_ID))
        inventory = store.inventory(OBJECT_ID)
        assert inventory.head in (1, 2)
        assert dict(inventory.version().state) == (old if inventory.head == 1 else new)
        assert dict(inventory.version(1).state) == old
        assert not [p for p in killed_root.rglob("*.partial")]
        assert_valid_ocfl(killed_root / "ocfl")
        outcomes.append(inventory.head)
    # The kills must have interrupted writes part-way, leaving something to sweep.
    assert 1 in outcomes and any(swept)
