"""FilesystemStorage: the storage contract on real files, plus what only a filesystem has."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest

from strongroom.errors import ConfigError, NotFound, StorageError
from strongroom.storage import open_storage, storage_kinds
from strongroom.storage.base import NativeChecksums, StorageBackend, supports
from strongroom.storage.filesystem import FilesystemStorage, is_partial_name
from strongroom.storage.holds import GuardedStorage
from tests.contracts.storage_contract import MIB, StorageContract, sha256_hex, stored_files


class TestFilesystemContract(StorageContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> FilesystemStorage:
        return FilesystemStorage(tmp_path / "store")

    def leftovers(self, backend: StorageBackend) -> list[str]:
        assert isinstance(backend, FilesystemStorage)
        return sorted(stored_files(backend.root))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def storage(root: Path) -> FilesystemStorage:
    return FilesystemStorage(root)


@pytest.fixture
def source(tmp_path: Path) -> tuple[Path, str]:
    data = os.urandom(3 * MIB)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path, sha256_hex(data)


def test_objects_are_plain_files_under_their_key(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"plain")

    storage.put("packages/p-1/data/objects/a b.txt", tmp_path / "in.txt", sha256_hex(b"plain"))

    assert (root / "packages" / "p-1" / "data" / "objects" / "a b.txt").read_bytes() == b"plain"


def test_full_disk_is_reported_and_leaves_nothing(
    storage: FilesystemStorage, root: Path, source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one fake in these tests: filling a real disk is not something a test may do.
    # The first MiB is really written, so there is a partial file to clean up.
    real_write = os.write
    written = 0

    def write_until_full(fd: int, data: bytes | memoryview) -> int:
        nonlocal written
        if written >= MIB:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        count = real_write(fd, data)
        written += count
        return count

    monkeypatch.setattr(os, "write", write_until_full)
    with pytest.raises(StorageError) as raised:
        storage.put("deep/folder/big.bin", source[0], source[1])
    monkeypatch.undo()

    assert written == MIB
    message = str(raised.value)
    assert "full" in message
    assert str(root) in message
    assert "deep/folder/big.bin" in message
    assert list(root.iterdir()) == []  # no partial file and no folder made for it


def test_quota_exceeded_counts_as_full(
    storage: FilesystemStorage, root: Path, source: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def over_quota(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(os, "write", over_quota)  # a fake, for the same reason as above
    with pytest.raises(StorageError, match="full"):
        storage.put("big.bin", source[0], source[1])
    monkeypatch.undo()

    assert list(root.iterdir()) == []


def test_crash_leftovers_are_hidden_and_cleaned_up(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"kept")
    storage.put("a/kept.txt", tmp_path / "in.txt", sha256_hex(b"kept"))
    # What a put() killed mid-write leaves behind: a temporary beside the final name.
    old = root / "a" / ".kept.txt.0123456789abcdef.partial"
    old.write_bytes(b"half")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    (root / "orphan").mkdir()
    orphan = root / "orphan" / ".x.bin.fedcba9876543210.partial"
    orphan.write_bytes(b"half")
    os.utime(orphan, (two_days_ago, two_days_ago))
    fresh = root / "a" / ".new.txt.00112233445566ff.partial"  # a write still running
    fresh.write_bytes(b"in progress")

    assert list(storage.list()) == ["a/kept.txt"]
    assert storage.cleanup_partials(older_than=timedelta(hours=1)) == 2

    assert not old.exists()
    assert not (root / "orphan").exists()
    assert fresh.exists()
    assert list(storage.list()) == ["a/kept.txt"]
    assert storage.cleanup_partials(older_than=timedelta(0)) == 1
    assert sorted(stored_files(root)) == ["a/kept.txt"]


def test_partial_names_are_recognised_exactly() -> None:
    assert is_partial_name(".report.pdf.0123456789abcdef.partial")
    assert is_partial_name(".a\nb.0123456789abcdef.partial")
    assert not is_partial_name(".draft.partial")
    assert not is_partial_name("report.pdf.0123456789abcdef.partial")
    assert not is_partial_name(".report.pdf.0123456789ABCDEF.partial")


def test_keys_shaped_like_temporaries_are_refused(storage: FilesystemStorage, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")

    with pytest.raises(StorageError, match="reserved"):
        storage.put("a/.b.0123456789abcdef.partial", tmp_path / "in.txt", sha256_hex(b"x"))


def test_non_utf8_names_round_trip(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    # What ingest hands over for a Latin-1 name on a Linux disk: os.fsdecode's surrogate escapes.
    key = os.fsdecode(b"caf\xe9/r\xe9sum\xe9 \xff.txt")
    (tmp_path / "in.txt").write_bytes(b"latin-1")

    storage.put(key, tmp_path / "in.txt", sha256_hex(b"latin-1"))

    assert list(storage.list()) == [key]
    assert list(storage.list(os.fsdecode(b"caf\xe9/"))) == [key]
    assert os.listdir(os.fsencode(root)) == [b"caf\xe9"]
    assert os.listdir(os.fsencode(root / "caf\udce9")) == [b"r\xe9sum\xe9 \xff.txt"]
    with storage.open(key) as stream:
        assert stream.read() == b"latin-1"
    assert storage.stat(key).size == 7
    storage.delete(key)
    assert list(root.iterdir()) == []


def test_escaped_bytes_that_would_change_meaning_are_refused(storage: FilesystemStorage) -> None:
    # b"\xc3\xa9" is valid UTF-8, so this key would come back from list() as "é".
    with pytest.raises(StorageError):
        storage.stat("\udcc3\udca9.txt")


def test_longest_names_the_os_allows(storage: FilesystemStorage, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"long")
    longest = "n" * 251 + ".txt"  # 255 bytes, the usual limit; the temporary must still fit
    wide = "世" * 85  # 255 bytes of three-byte characters

    storage.put(f"{longest}/{wide}", tmp_path / "in.txt", sha256_hex(b"long"))

    assert list(storage.list()) == [f"{longest}/{wide}"]


def test_names_longer_than_the_os_allows_are_a_clear_error(
    storage: FilesystemStorage, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")

    with pytest.raises(StorageError, match="longer than"):
        storage.put("d/" + "n" * 300, tmp_path / "in.txt", sha256_hex(b"x"))
    assert list(root.iterdir()) == []


def test_file_and_folder_with_the_same_name(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")
    digest = sha256_hex(b"x")
    storage.put("a/b", tmp_path / "in.txt", digest)

    with pytest.raises(StorageError) as below_a_file:
        storage.put("a/b/c", tmp_path / "in.txt", digest)
    with pytest.raises(StorageError) as over_a_folder:
        storage.put("a", tmp_path / "in.txt", digest)

    assert not isinstance(below_a_file.value, NotFound)
    assert not isinstance(over_a_folder.value, NotFound)
    assert sorted(stored_files(root)) == ["a/b"]


def test_symbolic_links_cannot_lead_out_of_the_root(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (tmp_path / "in.txt").write_bytes(b"x")

    with pytest.raises(StorageError, match="outside"):
        storage.put("link/new.txt", tmp_path / "in.txt", sha256_hex(b"x"))
    with pytest.raises(StorageError, match="outside"):
        storage.open("link/secret.txt")
    assert list(storage.list()) == []
    assert list(storage.list("link/")) == []
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_delete_removes_emptied_folders_but_not_the_root(
    storage: FilesystemStorage, root: Path, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")
    digest = sha256_hex(b"x")
    storage.put("p/q/r/s.txt", tmp_path / "in.txt", digest)
    storage.put("p/t.txt", tmp_path / "in.txt", digest)

    storage.delete("p/q/r/s.txt")
    assert sorted(path.relative_to(root).as_posix() for path in root.rglob("*")) == ["p", "p/t.txt"]

    storage.delete("p/t.txt")
    assert root.is_dir()
    assert list(root.iterdir()) == []


def test_source_changed_after_checksumming(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"as checksummed")
    digest = sha256_hex(b"as checksummed")
    source.write_bytes(b"edited since")

    with pytest.raises(StorageError, match="changed since"):
        storage.put("doc.txt", source, digest)
    assert list(root.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores file permissions")
def test_permission_denied_is_explained(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")
    root.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="Permission denied"):
            storage.put("doc.txt", tmp_path / "in.txt", sha256_hex(b"x"))
    finally:
        root.chmod(0o755)


def test_the_filesystem_offers_no_native_checksums(storage: FilesystemStorage) -> None:
    assert supports(storage, StorageBackend)
    assert not supports(storage, NativeChecksums)


def test_missing_root_is_refused_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="mount"):
        FilesystemStorage(tmp_path / "unmounted", create=False)
    assert not (tmp_path / "unmounted").exists()


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")

    with pytest.raises(StorageError):
        FilesystemStorage(tmp_path / "file")


def test_read_back_uses_the_stored_bytes(storage: FilesystemStorage, source: tuple[Path, str]) -> None:
    result = storage.put("x.bin", source[0], source[1])

    with storage.open("x.bin") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == result.sha256 == source[1]


# --- the registry ---------------------------------------------------------------------------


def test_open_storage_makes_a_filesystem_backend(tmp_path: Path) -> None:
    backend = open_storage("filesystem", {"path": str(tmp_path / "s")})

    assert isinstance(backend, GuardedStorage)  # behind the hold guard, with the backend inside
    assert isinstance(backend.inner, FilesystemStorage)
    assert backend.root == (tmp_path / "s").resolve()
    assert "filesystem" in storage_kinds()


def test_open_storage_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as raised:
        open_storage("floppy", {})

    assert "floppy" in str(raised.value)
    assert "filesystem" in str(raised.value)


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "x", "rooot": "y"}, "rooot"),
        ({"path": "x", "create": "no"}, "create"),
    ],
)
def test_open_storage_bad_options(options: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigError, match=complaint):
        open_storage("filesystem", options)


def test_open_storage_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        open_storage("filesystem", {"path": tmp_path / "absent", "create": False})


def test_cleanup_partials_limited_to_a_prefix(tmp_path: Path) -> None:
    from datetime import timedelta

    storage = FilesystemStorage(tmp_path / "store")
    for folder in ("packages/a/bag", "packages/b/bag"):
        target = tmp_path / "store" / folder
        target.mkdir(parents=True)
        (target / ".z.txt.0123456789abcdef.partial").write_bytes(b"half")
    (tmp_path / "store" / "packages" / "a" / "made" / "but" / "never-filled").mkdir(parents=True)
    assert storage.cleanup_partials(timedelta(0), prefix="packages/a/") == 1
    assert not (tmp_path / "store" / "packages" / "a").exists()
    assert (tmp_path / "store" / "packages" / "b" / "bag" / ".z.txt.0123456789abcdef.partial").exists()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_stored_content_is_read_only(storage: FilesystemStorage, root: Path, tmp_path: Path) -> None:
    root_mode = mode(root)
    for name in ("one", "two"):
        (tmp_path / name).write_bytes(name.encode())
        storage.put(f"obj/v1/content/{name}.txt", tmp_path / name, sha256_hex(name.encode()))

    stored = root / "obj" / "v1" / "content"
    assert [mode(stored / n) for n in ("one.txt", "two.txt")] == [0o444, 0o444]
    assert [mode(f) for f in (root / "obj", root / "obj" / "v1", stored)] == [0o555] * 3
    assert mode(root) == root_mode  # the root keeps the mode its owner gave it

    (tmp_path / "new").write_bytes(b"new")
    storage.put("obj/v1/content/one.txt", tmp_path / "new", sha256_hex(b"new"))  # an overwrite
    storage.put("obj/v2/content/three.txt", tmp_path / "new", sha256_hex(b"new"))  # a new folder beside v1/
    storage.delete("obj/v1/content/two.txt")

    assert (stored / "one.txt").read_bytes() == b"new"
    assert mode(stored / "one.txt") == mode(root / "obj" / "v2" / "content" / "three.txt") == 0o444
    assert {mode(f) for f in (root / "obj", stored, root / "obj" / "v2", root / "obj" / "v2" / "content")} == {0o555}
    assert not (stored / "two.txt").exists()
    storage.delete("obj/v1/content/one.txt")
    assert not (root / "obj" / "v1").exists()  # emptied folders are still pruned
    assert mode(root / "obj") == 0o555


# Run as an ordinary user (root ignores permission bits): threads and processes put and delete
# in shared read-only folders, then an edit and a delete by hand must both be refused.
_AS_A_USER = r"""
import hashlib, os, sys, threading
from pathlib import Path
from strongroom.storage.filesystem import FilesystemStorage

root, sources = Path(sys.argv[1]), Path(sys.argv[2])
if len(sys.argv) > 3:  # started as root: become nobody, once everything needed is imported
    os.setgroups([])
    os.setgid(int(sys.argv[3]))
    os.setuid(int(sys.argv[3]))
assert os.geteuid() != 0

def work(worker):
    storage = FilesystemStorage(root)
    for n in range(15):
        data = f"{worker}-{n}".encode()
        source = sources / f"{worker}-{n}"
        source.write_bytes(data)
        key = f"shared/{n % 3}/{worker}-{n}.txt"
        storage.put(key, source, hashlib.sha256(data).hexdigest())
        if n % 2:
            storage.delete(key)
    return worker

def threads(group):
    done = []
    ts = [threading.Thread(target=lambda w=w: done.append(work(w))) for w in range(group * 3, group * 3 + 3)]
    for t in ts: t.start()
    for t in ts: t.join()
    return len(done)

children = []
for group in range(3):  # plain fork: the interpreter's own files may be unreadable to this user
    pid = os.fork()
    if pid == 0:
        os._exit(0 if threads(group) == 3 else 1)
    children.append(pid)
assert all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in children)
left = sorted(FilesystemStorage(root).list())
assert len(left) == 9 * 8, len(left)
victim = root / left[0]
for attempt in (lambda: victim.open("r+b"), victim.unlink, lambda: (victim.parent / "new.txt").write_bytes(b"x")):
    try:
        attempt()
    except PermissionError:
        continue
    raise SystemExit(f"{attempt} was allowed")
print("ok", len(left))
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_read_only_storage_works_for_an_ordinary_user_under_concurrency(tmp_path: Path) -> None:
    shared = Path(tempfile.mkdtemp(prefix="strongroom-user-"))  # outside root's private pytest folder
    try:
        (shared / "store").mkdir()
        (shared / "sources").mkdir()
        script = shared / "run.py"
        script.write_text(_AS_A_USER, encoding="utf-8")
        argv = [sys.executable, str(script), str(shared / "store"), str(shared / "sources")]
        if os.geteuid() == 0:
            for folder in (shared, shared / "store", shared / "sources"):
                os.chown(folder, 65534, 65534)
            argv.append("65534")  # the script drops to this user itself: the interpreter may be root's alone
        repo = Path(__file__).resolve().parents[2]
        result = subprocess.run(
            argv, capture_output=True, text=True, cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120
        )

        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.split() == ["ok", str(9 * 8)]
    finally:
        for folder, dirs, _files in os.walk(shared):
            for name in dirs:
                os.chmod(Path(folder, name), 0o755)
        shutil.rmtree(shared)
