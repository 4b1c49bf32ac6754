"""The format risk registry: the packaged ratings, checked against the DROID signature file, and home overrides."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.formats.droid.identifier import BUNDLED_SIGNATURES, DroidIdentifier
from strongroom.formats.droid.signatures import FileFormat
from strongroom.formats.risk import RATED_LEVELS, FormatRisk, RiskLevel, load_registry, pronom_label

# What the brief for the registry named; each must be rated.
MUST_RATE = (
    *(f"fmt/{n}" for n in (14, 15, 16, 17, 18, 19, 20, 276, 95, 354, 476, 477, 478, 479, 480, 481)),
    "fmt/353", "fmt/7", "fmt/8", "fmt/9", "fmt/10", "fmt/41", "fmt/42", "fmt/43", "fmt/44", "x-fmt/392",
    "fmt/11", "fmt/12", "fmt/13", "fmt/3", "fmt/4", "fmt/116", "fmt/402", "fmt/91", "fmt/92", "x-fmt/92",
    "fmt/564", "fmt/124", "fmt/592", "fmt/436", "fmt/39", "fmt/40", "fmt/61", "fmt/62", "fmt/126", "fmt/412",
    "fmt/214", "fmt/215", "fmt/189", "fmt/396", "fmt/1937", "fmt/290", "fmt/291",
    "fmt/294", "fmt/295", "fmt/50", "x-fmt/111", "x-fmt/18", "fmt/96", "fmt/471", "fmt/101", "fmt/289",
    "fmt/278", "x-fmt/430", "x-fmt/248", "x-fmt/263", "x-fmt/265", "x-fmt/266", "fmt/484", "fmt/468",
    "fmt/141", "fmt/6", "fmt/2", "fmt/134", "x-fmt/135", "fmt/132", "fmt/279", "x-fmt/385", "x-fmt/386",
    "fmt/649", "fmt/640", "fmt/199", "x-fmt/384", "fmt/133", "fmt/569", "fmt/5", "x-fmt/394", "x-fmt/114",
    "x-fmt/9", "x-fmt/238", "fmt/161", "fmt/36", "fmt/78",
)  # fmt: skip


@cache
def pronom_formats() -> dict[str, FileFormat]:
    """PUID -> format, from the DROID signature file Strongroom ships (V122)."""
    identifier = DroidIdentifier()
    assert identifier.signature_file == BUNDLED_SIGNATURES and BUNDLED_SIGNATURES.name == "DROID_SignatureFile_V122.xml"
    return {f.puid: f for f in identifier.signatures.formats}


def test_the_packaged_registry_loads_with_its_header() -> None:
    registry = load_registry()
    assert len(registry) >= 80
    assert registry.version and registry.date
    assert any("National Archives" in s for s in registry.sources)
    assert any("Library of Congress" in s for s in registry.sources)
    assert len(registry.files) == 1


def test_the_registry_covers_the_formats_an_archive_meets() -> None:
    registry = load_registry()
    missing = [puid for puid in MUST_RATE if puid not in registry]
    assert not missing, missing
    assert {r.risk for r in registry} == set(RATED_LEVELS)


def test_every_puid_and_target_is_pronoms_with_pronoms_name() -> None:
    known = pronom_formats()
    registry = load_registry()
    assert any("signature file V122" in s for s in registry.sources)
    for rating in registry:
        if rating.puid is not None and rating.puid.startswith("fido-fmt/"):
            continue  # FIDO's own identifiers, kept for archives that recorded them (tested below)
        assert rating.puid in known, f"{rating.puid} is not in the DROID signature file V122"
        pronom = known[rating.puid]
        assert (rating.name, rating.version) == (pronom.name, pronom.version), rating.puid
        if rating.preferred_puid is not None:
            assert rating.preferred_puid in known, f"{rating.puid}: target {rating.preferred_puid} is not in V122"
            target = known[rating.preferred_puid]
            assert rating.preferred_name == pronom_label(target.name, target.version), rating.puid


def test_office_open_xml_is_rated_under_pronoms_puids_not_fidos() -> None:
    registry = load_registry()
    # FIDO's own identifiers remain only as the legacy entries tested below.
    legacy = {r.puid for r in registry if r.puid and r.puid.startswith("fido-")}
    assert legacy == {"fido-fmt/189.word", "fido-fmt/189.xl", "fido-fmt/189.ppt", "fido-fmt/mobi"}
    word, excel, powerpoint = registry.rate("fmt/412"), registry.rate("fmt/214"), registry.rate("fmt/215")
    assert {word.risk, excel.risk, powerpoint.risk} == {RiskLevel.LOW}
    assert word.label == "Microsoft Word for Windows 2007 onwards"
    assert powerpoint.label == "Microsoft Powerpoint for Windows 2007 onwards"
    # FIDO's Mobipocket signature (BOOKMOBI at offset 60) is PRONOM's fmt/396.
    assert registry.rate("fmt/396").risk is RiskLevel.HIGH and registry.rate("fmt/396").preferred_puid == "fmt/483"


def test_a_home_may_still_rate_fidos_own_puids(tmp_path: Path) -> None:
    # An archive that identified with FIDO has files recorded as fido-fmt/189.word; its override may rate them.
    (tmp_path / "format-risk.toml").write_text(
        '[formats."fido-fmt/189.word"]\nname = "Microsoft Office Open XML - Word"\nrisk = "low"\n'
        'reason = "Office Open XML word processing, as FIDO named it."\n',
        encoding="utf-8",
    )
    rating = load_registry(tmp_path).rate("fido-fmt/189.word")
    assert (rating.risk, rating.name, rating.version) == (RiskLevel.LOW, "Microsoft Office Open XML - Word", None)


def test_fidos_own_puids_recorded_by_older_archives_keep_the_rating_of_their_pronom_format() -> None:
    registry = load_registry()
    for fido, pronom in (
        ("fido-fmt/189.word", "fmt/412"), ("fido-fmt/189.xl", "fmt/214"), ("fido-fmt/189.ppt", "fmt/215"),
        ("fido-fmt/mobi", "fmt/396"),
    ):  # fmt: skip
        legacy, current = registry.rate(fido), registry.rate(pronom)
        assert (legacy.risk, legacy.preferred_puid) == (current.risk, current.preferred_puid), fido
        assert legacy.risk is not RiskLevel.UNKNOWN and pronom in legacy.reason, fido


def test_formats_droid_names_inside_office_containers_are_rated() -> None:
    # DROID's container signatures name Strict OOXML, templates and macro-enabled files; FIDO never did.
    registry = load_registry()
    puids = ("fmt/1827", "fmt/1828", "fmt/1829", "fmt/597", "fmt/598", "fmt/631", "fmt/523", "fmt/487", "fmt/599",
             "fmt/627", "fmt/628", "fmt/630", "fmt/632", "fmt/1910", "fmt/1911", "fmt/1912")  # fmt: skip
    for puid in puids:
        assert registry.rate(puid).risk is not RiskLevel.UNKNOWN, puid
    assert registry.rate("fmt/523").risk is RiskLevel.MEDIUM  # macros


def test_pronom_label_appends_the_version_unless_the_name_has_it() -> None:
    assert (
        pronom_label("Acrobat PDF/A - Portable Document Format", "2b") == "Acrobat PDF/A - Portable Document Format 2b"
    )
    assert (
        pronom_label("Acrobat PDF 1.4 - Portable Document Format", "1.4")
        == "Acrobat PDF 1.4 - Portable Document Format"
    )
    assert pronom_label("Plain Text File", None) == "Plain Text File"
    assert load_registry().rate("fmt/477").label == "Acrobat PDF/A - Portable Document Format 2b"


def test_ratings_are_consistent() -> None:
    registry = load_registry()
    for rating in registry:
        assert rating.risk is not RiskLevel.UNKNOWN
        assert "\n" not in rating.reason and 20 < len(rating.reason) < 240, rating.puid
        if rating.preferred_puid is not None:
            # Migrating must lower the risk, so a target is itself rated, and rated better.
            target = registry.rate(rating.preferred_puid)
            assert target.risk.severity > rating.risk.severity, (rating.puid, rating.preferred_puid)
            assert rating.risk is not RiskLevel.LOW, f"{rating.puid} is low risk yet has a migration target"


@pytest.mark.parametrize(
    ("puid", "risk", "preferred"),
    [
        ("fmt/95", RiskLevel.LOW, None),
        ("fmt/353", RiskLevel.LOW, None),
        ("fmt/18", RiskLevel.MEDIUM, "fmt/477"),
        ("fmt/40", RiskLevel.MEDIUM, "fmt/291"),
        ("x-fmt/248", RiskLevel.HIGH, "fmt/720"),
        ("fmt/592", RiskLevel.HIGH, "fmt/730"),
        ("x-fmt/238", RiskLevel.HIGH, "fmt/1196"),
        ("fmt/133", RiskLevel.HIGH, "fmt/569"),
    ],
)
def test_known_ratings(puid: str, risk: RiskLevel, preferred: str | None) -> None:
    rating = load_registry().rate(puid)
    assert (rating.puid, rating.risk, rating.preferred_puid) == (puid, risk, preferred)


def test_unknown_and_unidentified_formats_are_rated_unknown() -> None:
    registry = load_registry()
    unrated = registry.rate("fmt/999999")
    assert unrated.risk is RiskLevel.UNKNOWN and unrated.puid == "fmt/999999"
    assert "not in the format risk registry" in unrated.reason and "format-risk.toml" in unrated.reason
    for nothing in (None, "", "  "):
        unidentified = registry.rate(nothing)
        assert unidentified == FormatRisk(None, RiskLevel.UNKNOWN, unidentified.reason)
        assert unidentified.reason.startswith("Not identified")


def test_a_home_override_changes_one_rating_and_adds_another(tmp_path: Path) -> None:
    packaged = load_registry()
    (tmp_path / "format-risk.toml").write_text(
        """
[formats."fmt/43"]
risk = "medium"
reason = "Our policy: lossy images are migrated to TIFF."
preferred = { puid = "fmt/353", name = "Tagged Image File Format" }

[formats."fmt/1085"]
name = "TRIM Context Reference File"
risk = "high"
reason = "Our records system's export; only TRIM reads it."
""",
        encoding="utf-8",
    )
    registry = load_registry(tmp_path)
    assert registry.rate("fmt/43") == FormatRisk(
        "fmt/43", RiskLevel.MEDIUM, "Our policy: lossy images are migrated to TIFF.", "fmt/353",
        "Tagged Image File Format",
    )  # fmt: skip
    assert registry.rate("fmt/1085").risk is RiskLevel.HIGH
    assert packaged.rate("fmt/1085").risk is RiskLevel.UNKNOWN
    assert len(registry) == len(packaged) + 1
    assert registry.rate("fmt/353") == packaged.rate("fmt/353")
    assert registry.version == packaged.version  # the header stays the packaged one
    assert registry.files[-1] == str(tmp_path / "format-risk.toml")


def test_a_home_without_an_override_gets_the_packaged_ratings(tmp_path: Path) -> None:
    assert load_registry(tmp_path).entries == load_registry().entries


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[formats."fmt/43"\nrisk = "low"', "is not valid TOML"),
        ('[formats."fmt/43"]\nrisk = "dire"\nreason = "Because."', "entry \"fmt/43\": risk is 'dire'"),
        ('[formats."fmt/43"]\nrisk = "unknown"\nreason = "Because."', "must be one of low, medium, high"),
        ('[formats."fmt/43"]\nrisk = "low"', 'entry "fmt/43": a reason'),
        ('[formats."fmt/43"]\nrisk = "low"\nreason = "  "', 'entry "fmt/43": a reason'),
        ('[formats."fmt/43"]\nrisk = "low"\nreason = "Fine."\npreferd = 1', "unknown key(s) preferd"),
        ('[formats."fmt/43"]\nversion = 1.01\nrisk = "low"\nreason = "Fine."', "version must be a string"),
        ('[formats."jpeg"]\nrisk = "low"\nreason = "Fine."', "'jpeg' is not a PRONOM PUID"),
        ('[formats."fmt/43"]\nrisk = "high"\nreason = "Bad."\npreferred = "fmt/353"', "preferred must be"),
        ('[formats."fmt/43"]\nrisk = "high"\nreason = "Bad."\npreferred = { puid = "tiff", name = "T" }', "'tiff'"),
        ('[formats."fmt/43"]\nrisk = "high"\nreason = "Bad."\npreferred = { puid = "fmt/353" }', "needs the target"),
        ('[format."fmt/43"]\nrisk = "low"\nreason = "Fine."', "unknown section(s): format"),
        ("formats = 3", "formats must be tables"),
        ('[formats]\n"fmt/43" = "low"', "must be a table with risk and reason"),
    ],
)
def test_a_malformed_override_is_a_config_error_naming_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    override = tmp_path / "format-risk.toml"
    override.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_registry(tmp_path)
    message = str(caught.value)
    assert str(override) in message
    assert expected in message
