"""The bag check used by export follows RFC 8493, where bagit-python does not (`%25` in manifest paths)."""

from __future__ import annotations

from pathlib import Path

import bagit

from strongroom.manifests import validate_bag
from tests.conftest import write


def make_bag(tmp_path: Path) -> Path:
    folder = tmp_path / "bag"
    write(folder / "a.txt", "alpha")
    write(folder / "sub" / "b.txt", "beta")
    bagit.make_bag(str(folder), checksums=["sha256", "md5"])
    return folder


def test_a_bag_made_by_bagit_python_is_valid(tmp_path: Path) -> None:
    assert validate_bag(make_bag(tmp_path)) == []


def test_every_kind_of_damage_is_named(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "data" / "a.txt").write_text("ALPHA")
    (bag / "data" / "sub" / "b.txt").unlink()
    write(bag / "data" / "intruder.txt", "x")
    problems = validate_bag(bag)
    assert "data/a.txt: sha256 does not match manifest-sha256.txt" in problems
    assert "data/a.txt: md5 does not match manifest-md5.txt" in problems
    assert "data/sub/b.txt: listed in manifest-sha256.txt but not present" in problems
    assert "data/intruder.txt: present but not listed in manifest-sha256.txt" in problems
    assert any(p.startswith("Payload-Oxum says") for p in problems)


def test_percent_and_line_breaks_are_decoded_as_the_rfc_says(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    write(bag / "data" / "100% done.txt", "gamma")
    import hashlib

    digest = hashlib.sha256(b"gamma").hexdigest()
    for name in ("manifest-sha256.txt",):
        with (bag / name).open("a", encoding="utf-8") as manifest:
            manifest.write(f"{digest}  data/100%25 done.txt\n")
    (bag / "manifest-md5.txt").unlink()
    (bag / "tagmanifest-md5.txt").unlink()
    (bag / "tagmanifest-sha256.txt").unlink()
    info = (bag / "bag-info.txt").read_text().splitlines()
    (bag / "bag-info.txt").write_text("\n".join(line for line in info if not line.startswith("Payload-Oxum")) + "\n")
    assert validate_bag(bag) == []
    (bag / "bagit.txt").unlink()
    assert validate_bag(bag) == ["bagit.txt is missing"]
    escaping = make_bag(tmp_path / "other")
    with (escaping / "manifest-sha256.txt").open("a", encoding="utf-8") as manifest:
        manifest.write(f"{digest}  ../../etc/passwd\n")
    assert any("outside the bag" in p for p in validate_bag(escaping))
