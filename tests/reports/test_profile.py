"""The collection profile: formats of the originals with their risk, as a table, JSON and Parquet."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from strongroom.formats.risk import RiskLevel, load_registry
from strongroom.reports.profile import COLUMNS, GroupBy, ProfileRow, puid_sort_key
from tests.conftest import CORPUS, EXAMPLE_TRANSFER, Home, requires_corpus, write

LEVEL_ORDER = ["high", "unknown", "medium", "low"]


def png(width: int, height: int) -> bytes:
    """A real PNG (8-bit greyscale), so it is identified by its signature."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def make_small_transfer(root: Path) -> Path:
    """Two PNGs, a CSV, a text file, a file no signature knows, and depositor metadata that is not a record."""
    write(root / "objects/images/a.png", png(16, 4))
    write(root / "objects/images/b.png", png(32, 8))
    write(root / "objects/data/counts.csv", "parish,households\nLower Wallop,212\nNether Wallop,340\n")
    write(root / "objects/notes.txt", "Notes from the 1999 survey.\n")
    write(root / "objects/mystery.zq9", bytes([0x9F, 0x13, 0x00, 0xE7]) * 40)
    write(root / "metadata/metadata.csv", "filename,dc.title\nobjects/notes.txt,Survey notes\n")
    return root


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Home, Path]]:
    """One archive holding the bundled sample and the small transfer, shared by the tests that only read it."""
    base = tmp_path_factory.mktemp("profile")
    small = make_small_transfer(base / "small-transfer")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STRONGROOM_WORKERS", "2")
        env.setenv("STRONGROOM_OPERATOR", "test-archivist")
        home = Home(base / "home")
        home.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")
        home.ingest(EXAMPLE_TRANSFER)
        home.ingest(small)
        yield home, small


def originals(*transfers: Path) -> list[Path]:
    return [p for t in transfers for p in (t / "objects").rglob("*") if p.is_file()]


def profile_json(home: Home, *args: str) -> dict[str, Any]:
    data = home.ok("formats", "--json", *args).json()
    assert isinstance(data, dict)
    return data


def test_totals_are_the_originals_and_nothing_else(stocked: tuple[Home, Path]) -> None:
    home, small = stocked
    expected = originals(EXAMPLE_TRANSFER, small)
    data = profile_json(home)
    assert data["by"] == "puid" and data["package"] is None
    assert data["registry_version"] == load_registry().version
    totals = data["totals"]
    assert totals["files"] == len(expected) == 9
    assert totals["bytes"] == sum(p.stat().st_size for p in expected)
    assert sum(r["files"] for r in data["rows"]) == totals["files"]
    assert sum(r["bytes"] for r in data["rows"]) == totals["bytes"]
    assert sum(totals["risk_files"].values()) == totals["files"]
    assert list(totals["risk_files"]) == LEVEL_ORDER
    # the catalog agrees: each package's originals are what `show` calls role "original"
    shown = [home.ok("show", str(p["package"]), "--json").json() for p in home.ok("list", "--json").json()]  # type: ignore[union-attr]
    catalog_originals = [f for s in shown for f in s["files"] if f["role"] == "original"]  # type: ignore[index]
    assert len(catalog_originals) == totals["files"]
    assert totals["formats"] == len({f["puid"] for f in catalog_originals})


def test_rows_per_format_carry_the_registrys_rating(stocked: tuple[Home, Path]) -> None:
    home, _ = stocked
    registry = load_registry()
    rows = profile_json(home, "--by", "puid")["rows"]
    assert [list(r) for r in rows] == [list(COLUMNS[GroupBy.PUID])] * len(rows)
    by_puid = {r["puid"]: r for r in rows}
    assert by_puid["fmt/11"]["files"] == 3  # the sample's village hall and the two generated PNGs
    assert by_puid["fmt/11"]["format_name"] == "Portable Network Graphics"
    assert by_puid["fmt/11"]["format_version"] == "1.0"
    assert by_puid["x-fmt/111"]["files"] == 2
    assert by_puid["x-fmt/18"]["files"] == 1
    for row in rows:
        rating = registry.rate(row["puid"])
        assert (row["risk"], row["reason"], row["preferred_puid"], row["preferred_name"]) == (
            rating.risk.value, rating.reason, rating.preferred_puid, rating.preferred_name,
        )  # fmt: skip
    assert [(-r["files"], -r["bytes"]) for r in rows] == sorted((-r["files"], -r["bytes"]) for r in rows)


def test_an_unidentified_file_is_a_row_of_unknown_risk(stocked: tuple[Home, Path]) -> None:
    home, small = stocked
    data = profile_json(home)
    unidentified = [r for r in data["rows"] if r["puid"] is None]
    assert len(unidentified) == 1
    row = unidentified[0]
    assert row["files"] == 1 and row["bytes"] == (small / "objects/mystery.zq9").stat().st_size
    assert row["risk"] == "unknown" and row["format_name"] is None and row["preferred_puid"] is None
    assert row["reason"].startswith("Not identified")
    assert data["totals"]["unidentified_files"] == 1
    assert data["totals"]["risk_files"]["unknown"] == 1


def test_rows_per_risk_level(stocked: tuple[Home, Path]) -> None:
    home, _ = stocked
    by_puid = profile_json(home)
    data = profile_json(home, "--by", "risk")
    rows = data["rows"]
    assert [r["risk"] for r in rows] == LEVEL_ORDER
    assert [list(r) for r in rows] == [list(COLUMNS[GroupBy.RISK])] * 4
    assert data["totals"] == by_puid["totals"]
    for row in rows:
        mine = [r for r in by_puid["rows"] if r["risk"] == row["risk"]]
        assert row["files"] == sum(r["files"] for r in mine) == data["totals"]["risk_files"][row["risk"]]
        assert row["bytes"] == sum(r["bytes"] for r in mine)
        assert row["puids"] == sorted({r["puid"] for r in mine}, key=puid_sort_key)
    unknown = rows[1]
    assert unknown["puids"] == [None]
    assert rows[0] == {"risk": "high", "files": 0, "bytes": 0, "puids": []}


def test_rows_per_package_and_one_package_alone(stocked: tuple[Home, Path]) -> None:
    home, small = stocked
    data = profile_json(home, "--by", "package")
    rows = data["rows"]
    assert [list(r) for r in rows] == [list(COLUMNS[GroupBy.PACKAGE])] * len(rows)
    assert [r["package_name"] for r in rows] == sorted(r["package_name"] for r in rows)
    for name, transfer in (("sample-transfer", EXAMPLE_TRANSFER), ("small-transfer", small)):
        mine = [r for r in rows if r["package_name"] == name]
        assert sum(r["files"] for r in mine) == len(originals(transfer))
        assert sum(r["bytes"] for r in mine) == sum(p.stat().st_size for p in originals(transfer))
        assert len({r["package"] for r in mine}) == 1
        alone = profile_json(home, "--package", name)
        assert alone["package"] == mine[0]["package"]
        assert alone["totals"]["files"] == len(originals(transfer))
        assert {r["puid"] for r in alone["rows"]} == {r["puid"] for r in mine}
        # a UUID prefix names the package as well as its name does
        prefix = profile_json(home, "--by", "package", "--package", mine[0]["package"][:8])
        assert prefix["rows"] == mine
    sample_alone = profile_json(home, "--by", "risk", "--package", "sample-transfer")
    assert sample_alone["totals"]["unidentified_files"] == 0


def test_an_unknown_package_is_a_clear_error(stocked: tuple[Home, Path]) -> None:
    home, _ = stocked
    result = home.run("formats", "--package", "no-such-package")
    assert result.exit_code == 2
    assert "No package 'no-such-package'" in result.stderr


@pytest.mark.parametrize("by", list(GroupBy))
def test_parquet_reads_back_as_the_json_rows(stocked: tuple[Home, Path], tmp_path: Path, by: GroupBy) -> None:
    home, _ = stocked
    out = tmp_path / "reports" / f"profile-{by}.parquet"
    out.parent.mkdir()
    out.write_bytes(b"an older report, replaced whole")
    result = home.ok("formats", "--by", by.value, "--json", "--parquet", str(out))
    data = result.json()
    assert isinstance(data, dict)
    assert f"to {out}" in result.stderr  # stdout stays pure JSON
    table = pq.read_table(out)
    assert table.to_pylist() == data["rows"]
    assert table.schema.names == list(COLUMNS[by])
    assert table.schema.field("files").type == pa.int64() and not table.schema.field("files").nullable
    assert table.schema.field("validity" if by is GroupBy.VALIDITY else "risk").type == pa.string()
    metadata = table.schema.metadata
    assert metadata[b"strongroom.profile.by"] == by.value.encode()
    assert metadata[b"strongroom.risk_registry.version"] == load_registry().version.encode()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left behind


def test_parquet_of_an_empty_profile_has_the_schema(home: Home, tmp_path: Path) -> None:
    out = tmp_path / "empty.parquet"
    result = home.ok("formats", "--parquet", str(out))
    assert "Wrote 0 rows" in result.stdout
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.names == list(COLUMNS[GroupBy.PUID])


def test_parquet_into_a_missing_folder_is_a_clear_error(stocked: tuple[Home, Path], tmp_path: Path) -> None:
    home, _ = stocked
    result = home.run("formats", "--parquet", str(tmp_path / "nowhere" / "p.parquet"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_the_table_for_people(stocked: tuple[Home, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, _ = stocked
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: names and paths on one line each
    text = home.ok("formats").stdout
    assert "fmt/11" in text and "unidentified" in text and "unknown" in text
    assert "Portable Network Graphics 1.0" in text
    assert "9 original files" in text and "1 file(s) not identified" in text
    by_risk = home.ok("formats", "--by", "risk").stdout
    assert "high" in by_risk and "x-fmt/111" in by_risk
    by_package = home.ok("formats", "--by", "package", "--parquet", str(tmp_path / "p.parquet")).stdout
    assert "small-transfer" in by_package and "sample-transfer" in by_package
    assert f"to {tmp_path / 'p.parquet'}" in by_package


def test_an_empty_archive(home: Home) -> None:
    data = profile_json(home)
    assert data["rows"] == [] and data["totals"]["files"] == 0 and data["totals"]["formats"] == 0
    by_risk = profile_json(home, "--by", "risk")
    assert [(r["risk"], r["files"]) for r in by_risk["rows"]] == [(level, 0) for level in LEVEL_ORDER]
    assert "No original files yet" in home.ok("formats").stdout


def test_the_homes_override_changes_the_profile(home: Home, tmp_path: Path) -> None:
    home.ingest(EXAMPLE_TRANSFER)
    home.ingest(make_small_transfer(tmp_path / "small-transfer"))
    (home.path / "format-risk.toml").write_text(
        '[formats."fmt/11"]\nrisk = "high"\nreason = "Test policy: PNG is out of favour here."\n', encoding="utf-8"
    )
    rows = profile_json(home, "--by", "risk")["rows"]
    assert rows[0]["risk"] == "high" and rows[0]["puids"] == ["fmt/11"] and rows[0]["files"] == 3
    (home.path / "format-risk.toml").write_text('[formats."fmt/11"]\nrisk = "grave"\nreason = "x"\n', encoding="utf-8")
    result = home.run("formats")
    assert result.exit_code == 2
    assert "entry \"fmt/11\": risk is 'grave'" in result.stderr and "format-risk.toml" in result.stderr


def test_the_library_profile_is_typed(stocked: tuple[Home, Path]) -> None:
    home, _ = stocked
    with home.archive() as archive:
        profile = archive.collection_profile(GroupBy.RISK)
        package_profile = archive.collection_profile(GroupBy.PUID, "small-transfer")
    assert all(isinstance(r, ProfileRow) and isinstance(r.risk, RiskLevel) for r in profile.rows)
    assert profile.totals.risk_files[RiskLevel.UNKNOWN] == 1
    assert package_profile.package is not None and package_profile.totals.files == 5
    assert sorted(["x-fmt/111", None, "fmt/11", "fmt/4", "fido-fmt/189.word"], key=puid_sort_key) == [
        "fido-fmt/189.word", "fmt/4", "fmt/11", "x-fmt/111", None,
    ]  # fmt: skip


@pytest.mark.slow
@requires_corpus()
def test_a_profile_of_the_shared_sample_transfers(home: Home) -> None:
    """Images, audio/video and office documents from the shared corpus: several formats, all rated."""
    for name in ("Images", "Multimedia", "OfficeDocs"):
        home.ingest(CORPUS / name)
    data = profile_json(home)
    rated = {r["puid"]: r["risk"] for r in data["rows"]}
    assert len(rated) >= 12, rated
    assert {"low", "medium", "high"} <= set(rated.values()), rated
    assert rated["fmt/353"] == "low"  # TIFF
    assert rated["fmt/40"] == "medium"  # Word 97-2003
    assert rated["fmt/131"] == "high"  # Windows Media in ASF
    unrated = [puid for puid, risk in rated.items() if risk == "unknown"]
    assert len(unrated) <= 1, f"corpus formats missing from the registry: {unrated}"
    by_risk = profile_json(home, "--by", "risk")
    assert sum(r["files"] for r in by_risk["rows"]) == data["totals"]["files"] >= 20
