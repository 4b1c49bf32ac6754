"""The StorageBackend conformance suite.

A backend's test module subclasses `StorageContract`, provides a `backend` fixture
that yields a fresh, empty backend, and may override `leftovers()` to report
what the backend physically holds (temporary files, unfinished uploads), so the
"a failed put leaves nothing" tests see more than list() admits to.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.errors import IntegrityError, NotFound, StorageError
from strongroom.storage.base import ObjectInfo, PutResult, StorageBackend

HOSTILE_KEYS = (
    "hello? sausage/êé/Hello, 世界/ \" ' @ < > & ? + ≠/z.txt",
    "names with spaces/a file name.txt",
    "trailing space /  two leading spaces.txt",
    "x" * 200 + "/" + "y" * 196 + ".bin",
    "ünïcödé/日本語のファイル名.pdf",
    "combining/Montre\u0301al.txt",  # NFD: must come back as given, not normalised
    "dots/.hidden",
    "dots/..double",
    "dots/...",
    "dots/.draft.partial",  # a depositor's file, not one of our temporaries
    "percent/%2e%2e/%00.txt",
    "punctuation/semi;colon #hash! $dollar (paren) [bracket] {brace} ~tilde `tick`.txt",
    "emoji/📁/🗄️.txt",
    "back\\slash/a\\b.txt",
    "plain.txt",
)

INVALID_KEYS = (
    "",
    "../escape",
    "a/../../escape",
    "a/..",
    "/absolute",
    "//absolute",
    "a//b",
    "a/./b",
    "./a",
    "a/",
    "nul\x00byte",
    "..\\escape",
    "a/..\\..\\escape",
    "\\absolute",
    "lone\ud800surrogate",
)

MIB = 1024 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class StorageContract:
    """Tests every StorageBackend must pass. Subclasses provide the `backend` fixture."""

    # --- hooks for subclasses ---------------------------------------------------------

    def leftovers(self, backend: StorageBackend) -> list[str]:
        """Everything the backend physically holds, temporaries included."""
        return list(backend.list())

    # --- fixtures ---------------------------------------------------------------------

    @pytest.fixture
    def sources(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """A folder for the files to store, apart from wherever the backend keeps its data."""
        return tmp_path_factory.mktemp("sources")

    def write(self, sources: Path, data: bytes, name: str = "source.bin") -> tuple[Path, str]:
        path = sources / name
        path.write_bytes(data)
        return path, sha256_hex(data)

    def read(self, backend: StorageBackend, key: str) -> bytes:
        with backend.open(key) as stream:
            return stream.read()

    # --- put and open -----------------------------------------------------------------

    @pytest.mark.parametrize("key", HOSTILE_KEYS)
    def test_round_trip_with_hostile_names(self, backend: StorageBackend, sources: Path, key: str) -> None:
        data = f"contents of {key}\n".encode("utf-8", "surrogateescape") + bytes(range(256))
        source, digest = self.write(sources, data)

        result = backend.put(key, source, digest)

        assert result == PutResult(key=key, size=len(data), sha256=digest)
        assert self.read(backend, key) == data
        assert list(backend.list()) == [key]
        assert backend.stat(key).size == len(data)

    def test_all_hostile_names_listed_in_sorted_order(self, backend: StorageBackend, sources: Path) -> None:
        for number, key in enumerate(HOSTILE_KEYS):
            source, digest = self.write(sources, str(number).encode())
            backend.put(key, source, digest)

        assert list(backend.list()) == sorted(HOSTILE_KEYS)
        for number, key in enumerate(HOSTILE_KEYS):
            assert self.read(backend, key) == str(number).encode()

    def test_zero_byte_object(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"")

        result = backend.put("empty/nothing.dat", source, digest)

        assert result.size == 0
        assert self.read(backend, "empty/nothing.dat") == b""
        assert backend.stat("empty/nothing.dat").size == 0

    def test_large_object_is_streamed(self, backend: StorageBackend, sources: Path) -> None:
        source = sources / "large.bin"
        expected = hashlib.sha256()
        with source.open("wb") as out:
            for _ in range(20):
                chunk = os.urandom(MIB)
                expected.update(chunk)
                out.write(chunk)

        result = backend.put("large/20 MB.bin", source, expected.hexdigest())

        assert result.size == 20 * MIB
        found = hashlib.sha256()
        with backend.open("large/20 MB.bin") as stream:
            while chunk := stream.read(MIB):
                assert len(chunk) <= MIB
                found.update(chunk)
        assert found.hexdigest() == expected.hexdigest()

    def test_upper_case_digest_is_accepted(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"case")

        assert backend.put("a.txt", source, digest.upper()).sha256 == digest

    def test_overwrite_replaces_the_object(self, backend: StorageBackend, sources: Path) -> None:
        first, first_digest = self.write(sources, b"first version", "one")
        second, second_digest = self.write(sources, b"second, longer version", "two")
        backend.put("doc.txt", first, first_digest)

        backend.put("doc.txt", second, second_digest)

        assert self.read(backend, "doc.txt") == b"second, longer version"
        assert backend.stat("doc.txt").size == len(b"second, longer version")
        assert list(backend.list()) == ["doc.txt"]

    def test_overwrite_across_sizes(self, backend: StorageBackend, sources: Path) -> None:
        # Large enough for a multipart upload where a backend has one, then small, then large again.
        big = sources / "big.bin"
        big_data = os.urandom(20 * MIB + 17)
        big.write_bytes(big_data)
        small, small_digest = self.write(sources, b"small now", "small")

        backend.put("doc.bin", big, sha256_hex(big_data))
        backend.put("doc.bin", small, small_digest)
        assert self.read(backend, "doc.bin") == b"small now"
        backend.put("doc.bin", big, sha256_hex(big_data))

        assert backend.stat("doc.bin").size == len(big_data)
        assert self.read(backend, "doc.bin") == big_data
        assert self.leftovers(backend) == ["doc.bin"]

    def test_a_stream_closed_early_leaves_the_object_readable(self, backend: StorageBackend, sources: Path) -> None:
        data = os.urandom(3 * MIB)
        source, digest = self.write(sources, data)
        backend.put("doc.bin", source, digest)

        for _ in range(40):  # more than a connection pool would hold if close() did not give connections back
            with backend.open("doc.bin") as stream:
                assert stream.read(10) == data[:10]

        with backend.open("doc.bin") as stream:
            assert stream.read(MIB) == data[:MIB]
            assert stream.read() == data[MIB:]
            assert stream.read(1) == b""

    def test_key_that_is_a_prefix_of_another_is_its_own_object(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"x")
        backend.put("report.pdf", source, digest)
        backend.put("report.pdf.sig", source, digest)

        backend.delete("report.pdf")

        assert list(backend.list("report.pdf")) == ["report.pdf.sig"]
        with pytest.raises(NotFound):
            backend.stat("report.pdf")

    # --- verification -----------------------------------------------------------------

    def test_wrong_sha256_raises_and_leaves_nothing(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"the real contents")
        wrong = sha256_hex(b"something else")

        with pytest.raises(IntegrityError) as raised:
            backend.put("folder/doc.txt", source, wrong)

        message = str(raised.value)
        assert "folder/doc.txt" in message
        assert wrong in message
        assert digest in message
        assert list(backend.list()) == []
        assert self.leftovers(backend) == []
        with pytest.raises(NotFound):
            backend.stat("folder/doc.txt")

    def test_failed_overwrite_keeps_the_previous_version(self, backend: StorageBackend, sources: Path) -> None:
        good, good_digest = self.write(sources, b"good", "good")
        bad, _ = self.write(sources, b"bad", "bad")
        backend.put("doc.txt", good, good_digest)

        with pytest.raises(IntegrityError):
            backend.put("doc.txt", bad, sha256_hex(b"not what bad contains"))

        assert self.read(backend, "doc.txt") == b"good"
        assert self.leftovers(backend) == ["doc.txt"]

    def test_digest_that_is_not_hex_is_refused(self, backend: StorageBackend, sources: Path) -> None:
        source, _ = self.write(sources, b"data")

        with pytest.raises(StorageError):
            backend.put("doc.txt", source, "not-a-digest")
        assert self.leftovers(backend) == []

    def test_missing_source_is_a_storage_error(self, backend: StorageBackend, sources: Path) -> None:
        with pytest.raises(StorageError) as raised:
            backend.put("doc.txt", sources / "absent.bin", sha256_hex(b""))

        assert "absent.bin" in str(raised.value)
        assert self.leftovers(backend) == []

    # --- keys -------------------------------------------------------------------------

    @pytest.mark.parametrize("key", INVALID_KEYS)
    def test_invalid_keys_are_refused(self, backend: StorageBackend, sources: Path, key: str) -> None:
        source, digest = self.write(sources, b"data")

        with pytest.raises(StorageError):
            backend.put(key, source, digest)
        for operation in (backend.open, backend.stat, backend.delete):
            with pytest.raises(StorageError):
                operation(key)
        assert self.leftovers(backend) == []

    # --- stat, list, delete -----------------------------------------------------------

    def test_stat_reports_size_and_recent_time(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"12345")
        backend.put("a/b.txt", source, digest)

        info = backend.stat("a/b.txt")

        assert isinstance(info, ObjectInfo)
        assert info.key == "a/b.txt"
        assert info.size == 5
        assert info.modified.tzinfo is not None
        assert abs(datetime.now(UTC) - info.modified) < timedelta(minutes=5)

    def test_list_filters_by_prefix(self, backend: StorageBackend, sources: Path) -> None:
        keys = ["a/b/c.txt", "a/b2.txt", "a-c.txt", "ab.txt", "b/a.txt", "a/b/d/e.txt"]
        for key in keys:
            source, digest = self.write(sources, key.encode())
            backend.put(key, source, digest)

        assert list(backend.list()) == sorted(keys)
        assert list(backend.list("")) == sorted(keys)
        assert list(backend.list("a/")) == ["a/b/c.txt", "a/b/d/e.txt", "a/b2.txt"]
        assert list(backend.list("a/b")) == ["a/b/c.txt", "a/b/d/e.txt", "a/b2.txt"]
        assert list(backend.list("a/b/")) == ["a/b/c.txt", "a/b/d/e.txt"]
        assert list(backend.list("a")) == sorted(k for k in keys if k.startswith("a"))
        assert list(backend.list("a/b/c.txt")) == ["a/b/c.txt"]
        assert list(backend.list("zzz")) == []
        assert list(backend.list("a/zzz/")) == []
        assert list(backend.list("/")) == []
        assert list(backend.list("../")) == []

    def test_list_of_an_empty_backend_is_empty(self, backend: StorageBackend) -> None:
        assert list(backend.list()) == []

    def test_delete_removes_only_that_object(self, backend: StorageBackend, sources: Path) -> None:
        for key in ("p/one.txt", "p/two.txt", "p/deep/three.txt"):
            source, digest = self.write(sources, key.encode())
            backend.put(key, source, digest)

        backend.delete("p/deep/three.txt")
        backend.delete("p/one.txt")

        assert list(backend.list()) == ["p/two.txt"]
        with pytest.raises(NotFound):
            backend.open("p/one.txt")
        with pytest.raises(NotFound):
            backend.stat("p/deep/three.txt")

    def test_missing_keys_raise_not_found(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"x")
        backend.put("folder/present.txt", source, digest)

        for key in ("absent.txt", "folder/absent.txt", "folder", "folder/present.txt/below"):
            with pytest.raises(NotFound):
                backend.open(key)
            with pytest.raises(NotFound):
                backend.stat(key)
            with pytest.raises(NotFound):
                backend.delete(key)
        assert list(backend.list()) == ["folder/present.txt"]

    def test_not_found_is_a_storage_error_with_the_key(self, backend: StorageBackend) -> None:
        with pytest.raises(StorageError) as raised:
            backend.open("nowhere/nothing.txt")

        assert isinstance(raised.value, NotFound)
        assert "nowhere/nothing.txt" in str(raised.value)

    def test_delete_twice_raises_not_found(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"x")
        backend.put("once.txt", source, digest)
        backend.delete("once.txt")

        with pytest.raises(NotFound):
            backend.delete("once.txt")

    def test_put_after_delete_of_the_last_object_in_a_folder(self, backend: StorageBackend, sources: Path) -> None:
        source, digest = self.write(sources, b"x")
        backend.put("f/g/h.txt", source, digest)
        backend.delete("f/g/h.txt")

        backend.put("f/g/i.txt", source, digest)

        assert list(backend.list()) == ["f/g/i.txt"]

    def test_concurrent_puts_and_deletes_in_shared_folders(self, backend: StorageBackend, sources: Path) -> None:
        # The package store puts a bag's files from a thread pool; deletes of the last
        # object in a folder race with puts into the same folder.
        source, digest = self.write(sources, b"shared")

        def work(worker: int) -> None:
            for number in range(20):
                key = f"shared/{number % 3}/deep/{worker}-{number}.txt"
                backend.put(key, source, digest)
                if number % 2:
                    backend.delete(key)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(work, range(8)))

        expected = sorted(f"shared/{n % 3}/deep/{w}-{n}.txt" for w in range(8) for n in range(0, 20, 2))
        assert list(backend.list()) == expected
        assert self.leftovers(backend) == expected

    def test_is_a_storage_backend(self, backend: StorageBackend) -> None:
        assert isinstance(backend, StorageBackend)
        assert backend.name


def stored_files(root: Path) -> Iterator[str]:
    """Every file under `root`, as `/`-separated relative paths: for backends on disk."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            yield Path(folder, name).relative_to(root).as_posix()
