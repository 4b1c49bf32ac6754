"""put_many() checks each key as put() does, with paths built once per folder; the OCFL inventory text and
the key rules, each taken a faster way, stay exactly what they were."""

from __future__ import annotations

import hashlib
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from strongroom.errors import StorageError
from strongroom.storage import put_batch
from strongroom.storage.base import PutRequest
from strongroom.storage.filesystem import FilesystemStorage
from strongroom.storage.keys import check_sha256, key_problem
from strongroom.storage.ocfl_json import json_bytes


def _request(tmp_path: Path, key: str, data: bytes = b"data") -> PutRequest:
    source = tmp_path / f"source-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    source.write_bytes(data)
    return PutRequest(key, source, hashlib.sha256(data).hexdigest())


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    return FilesystemStorage(tmp_path / "store")


def test_a_folder_linked_outside_is_refused_at_any_depth(storage: FilesystemStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (storage.root / "a").mkdir()
    (storage.root / "a" / "b").symlink_to(outside, target_is_directory=True)
    good = _request(tmp_path, "a/fine/file")
    for key in ("a/b/file", "a/b/deeper/still/file"):
        with pytest.raises(StorageError, match="leads outside the storage folder"):
            storage.put_many([good, _request(tmp_path, key)])
    assert list(outside.iterdir()) == []
    assert not (storage.root / "a" / "fine").exists()  # nothing of a refused batch is stored


def test_a_name_linked_outside_in_an_existing_folder_is_refused(storage: FilesystemStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"not yours")
    storage.put_many([_request(tmp_path, "obj/first")])
    folder = storage.root / "obj"
    folder.chmod(0o755)
    (folder / "linked").symlink_to(outside)
    folder.chmod(0o555)
    with pytest.raises(StorageError, match="leads outside the storage folder"):
        storage.put_many([_request(tmp_path, "obj/linked", b"new")])
    assert outside.read_bytes() == b"not yours"


def test_a_folder_linked_inside_the_root_is_allowed_as_by_put(storage: FilesystemStorage, tmp_path: Path) -> None:
    (storage.root / "real").mkdir()
    (storage.root / "alias").symlink_to(storage.root / "real", target_is_directory=True)
    storage.put(*_request(tmp_path, "alias/one", b"one").__dict__.values())
    storage.put_many([_request(tmp_path, "alias/two", b"two")])
    assert (storage.root / "real" / "one").read_bytes() == b"one"
    assert (storage.root / "real" / "two").read_bytes() == b"two"


def test_a_root_swapped_for_a_link_refuses_the_batch(storage: FilesystemStorage, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    storage.root.rename(tmp_path / "moved")
    storage.root.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(StorageError, match="leads outside the storage folder"):
        storage.put_many([_request(tmp_path, "obj/file")])
    assert list(elsewhere.iterdir()) == []


def test_reserved_names_and_bad_digests_are_refused_as_put_refuses_them(
    storage: FilesystemStorage, tmp_path: Path
) -> None:
    reserved = _request(tmp_path, "obj/.x.0123456789abcdef.partial")
    with pytest.raises(StorageError, match="reserved for unfinished writes"):
        storage.put_many([reserved])
    bad = PutRequest("obj/file", reserved.source, "g" * 64)
    with pytest.raises(StorageError, match="is not a SHA-256 digest"):
        storage.put_many([bad])
    for key in ("obj/../x", "obj//x", "/obj", "obj/a\\..\\b"):
        with pytest.raises(StorageError, match="Invalid storage key"):
            storage.put_many([PutRequest(key, reserved.source, reserved.sha256)])


def test_every_call_runs_and_the_first_error_in_order_is_raised() -> None:
    ran: list[int] = []

    def work(number: int) -> int:
        ran.append(number)
        if number in (70, 30):
            raise ValueError(f"failed {number}")
        return number * 2

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert put_batch.each(pool, work, list(range(10))) == [n * 2 for n in range(10)]  # type: ignore[arg-type]
        ran.clear()
        with pytest.raises(ValueError, match="failed 30"):
            put_batch.each(pool, work, list(range(100)))  # type: ignore[arg-type]
    assert sorted(ran) == list(range(100))


@pytest.mark.parametrize(
    "key",
    ["a", "a/b", "a\\b", "a\\..\\b", "..\\a", "a\\..", "a/.../b", "é/世界", "bad\udcff", "lone\ud800", "a/./b", ""],
)
def test_key_rules_are_unchanged(key: str) -> None:
    def old_problem(key: str) -> str | None:
        if not key:
            return "it is empty"
        for segment in key.split("/"):
            if segment == "":
                return "it has an empty segment (a leading, trailing or doubled '/')"
            if segment in (".", ".."):
                return "'.' and '..' segments are not allowed"
            if ".." in segment.split("\\"):
                return "it contains '..' between backslashes, which climbs out of the root on Windows"
        try:
            round_trip = key.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
        except UnicodeError:
            return "it contains characters that cannot be written as a file name (lone surrogates)"
        return None if round_trip == key else "escaped"

    assert (key_problem(key) is None) == (old_problem(key) is None)
    if key_problem(key) is not None and old_problem(key) != "escaped":
        assert key_problem(key) == old_problem(key)


@pytest.mark.parametrize("digest", ["A" * 64, "0" * 63, "0" * 65, "0" * 63 + "\n", "0" * 63 + "é", "0" * 63 + "g"])
def test_digest_rules_are_unchanged(digest: str) -> None:
    lowered = digest.lower()
    valid = len(lowered) == 64 and all(c in "0123456789abcdef" for c in lowered)
    if valid:
        assert check_sha256("k", digest) == lowered
    else:
        with pytest.raises(StorageError, match="is not a SHA-256 digest"):
            check_sha256("k", digest)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"a": []},
        {"manifest": {"ab" * 32: ['v1/content/é 世界 "q" \\ \n\t\x00\x1f\u2028.txt']}, "versions": {}},
        {"n": [1, -2, 3.5, 1e300, math.inf, -math.inf, True, False, None, [], {}, [[{"x": ("t", "u")}]]]},
        {"key\u00e9\n": {"nested": {"deeper": ["x", {"y": "z"}]}}, "\x7f": ""},
    ],
)
def test_inventory_text_is_json_dumps_byte_for_byte(document: dict[str, object]) -> None:
    assert json_bytes(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def test_inventory_text_with_an_unencodable_name_fails_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        (json.dumps({"a": "bad\udcff"}, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    with pytest.raises(UnicodeEncodeError):
        json_bytes({"a": "bad\udcff"})


def test_inventory_text_falls_back_to_json_dumps_for_other_keys() -> None:
    document = {"a": {1: "one", None: [2.5]}}
    assert json_bytes(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def test_inventory_text_of_many_files_is_json_dumps_byte_for_byte_across_its_flushes() -> None:
    # Enough pieces to be joined in many parts (every few thousand), at every depth, with names that are
    # not ASCII, characters JSON escapes (tab, quotes) and an astral character, on the boundaries.
    names = [f"data/objects/caf\u00e9 \u201c{n}\u201d\t\U0001f600/\u0645\u0644\u0641-{n}.txt" for n in range(30_000)]
    document = {
        "id": "urn:uuid:0",
        "manifest": {hashlib.sha256(name.encode()).hexdigest(): [f"v1/content/{name}"] for name in names},
        "versions": {
            "v1": {
                "state": {hashlib.sha256(n.encode()).hexdigest(): [n, n + ".copy"] for n in names},
                "nested": [[{"a": [n]} for n in names[:5000]]],
            }
        },
    }
    assert json_bytes(document) == (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
