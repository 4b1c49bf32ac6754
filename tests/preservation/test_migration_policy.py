"""The migration policy: the packaged defaults, an archive's override, and the errors a bad file gets."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.formats.fido_identifier import SignatureFiles
from strongroom.preservation.actions import CheckKind, MigrationRule, Purpose
from strongroom.preservation.policy import PLACEHOLDERS, load_policy

POLICY = load_policy(None)
DOCUMENT_TARGETS = {"odt", "ods", "odp", "pdf"}
IMAGE_TARGETS = {"tif", "png"}
LOSSLESS_AV_TARGETS = {"flac", "mkv"}
LOSSY_AV_TARGETS = {"mp3", "mp4"}


def _pronom_puids() -> set[str]:
    root = ET.parse(SignatureFiles.bundled(None).pronom).getroot()
    return {f.findtext("puid") or "" for f in root.findall("format")}


def test_packaged_policy_loads_with_every_tool_and_rule() -> None:
    assert POLICY.version == "2026.11" and POLICY.sources == ("the packaged migration-policy.toml",)
    assert any("National Archives" in s for s in POLICY.references)
    assert any("Library of Congress" in s for s in POLICY.references)
    assert {"libreoffice", "imagemagick", "compare", "identify", "ghostscript", "ffmpeg", "ffprobe", "pdfinfo",
            "pdftotext"} <= set(POLICY.tools)  # fmt: skip
    assert POLICY.tools["imagemagick"].executables[0] == "convert-im6.q16"
    assert POLICY.settings.optional_rules is False and POLICY.settings.concurrency == 0
    purposes = {(rule.purpose, rule.extension) for rule in POLICY.rules}
    for wanted in [(Purpose.PRESERVATION, "odt"), (Purpose.PRESERVATION, "ods"), (Purpose.PRESERVATION, "odp"),
                   (Purpose.ACCESS, "pdf"), (Purpose.PRESERVATION, "pdf"), (Purpose.PRESERVATION, "tif"),
                   (Purpose.ACCESS, "png"), (Purpose.PRESERVATION, "flac"), (Purpose.ACCESS, "mp3"),
                   (Purpose.PRESERVATION, "mkv"), (Purpose.ACCESS, "mp4")]:  # fmt: skip
        assert wanted in purposes


@pytest.mark.parametrize("rule", POLICY.rules, ids=lambda rule: rule.id)
def test_each_default_rule_asks_for_the_checks_its_kind_needs(rule: MigrationRule) -> None:
    checks = set(rule.checks)
    assert CheckKind.FORMAT in checks and rule.description and rule.time_limit > 0
    if rule.extension in DOCUMENT_TARGETS:
        assert {CheckKind.PAGES, CheckKind.TEXT} <= checks
        if rule.extension == "pdf":
            assert CheckKind.PDFA in checks and rule.output_puids == ("fmt/477",) and rule.pdfa_flavour == "2b"
        else:
            assert CheckKind.PDFA not in checks
    elif rule.extension in IMAGE_TARGETS:
        assert CheckKind.PIXELS in checks
    elif rule.extension in LOSSLESS_AV_TARGETS:
        assert CheckKind.STREAMS in checks
    else:
        assert rule.extension in LOSSY_AV_TARGETS and CheckKind.AV_PROPERTIES in checks
    assert rule.tool in POLICY.tools
    assert "{input}" in " ".join(rule.args)
    if rule.tool == "libreoffice":
        assert "-env:UserInstallation={private_url}/profile" in rule.args, "one LibreOffice profile per run"
        assert rule.memory_limit is None, "LibreOffice reserves far more address space than it uses"
    if rule.tool == "ffmpeg":
        assert rule.args[0] == "-nostdin"


def test_every_puid_is_a_real_pronom_puid() -> None:
    known = _pronom_puids()
    named = {p for rule in POLICY.rules for p in (*rule.puids, *rule.output_puids)} | set(POLICY.settings.access_fit)
    assert named - known == set()


def test_one_rule_per_format_and_purpose_and_fit_originals_get_no_access_rule() -> None:
    seen: dict[tuple[str, Purpose, bool], str] = {}
    for rule in POLICY.rules:
        for puid in rule.puids:
            key = (puid, rule.purpose, rule.optional)
            assert key not in seen, f"{puid} {rule.purpose.value}: {seen.get(key)} and {rule.id}"
            seen[key] = rule.id
    access_sources = {p for rule in POLICY.rules if rule.purpose is Purpose.ACCESS for p in rule.puids}
    assert access_sources & set(POLICY.settings.access_fit) == set()
    # Every access output is itself fit to give out.
    for rule in POLICY.rules:
        if rule.purpose is Purpose.ACCESS:
            assert set(rule.output_puids) <= set(POLICY.settings.access_fit), rule.id


def test_rules_for_filters_by_purpose_optional_and_size() -> None:
    assert [r.id for r in POLICY.rules_for("fmt/40")] == ["word-processing-to-odt", "word-processing-to-pdfa"]
    assert [r.id for r in POLICY.rules_for("fmt/40", [Purpose.ACCESS])] == ["word-processing-to-pdfa"]
    assert POLICY.rules_for(None) == [] and POLICY.rules_for("fmt/999999") == []
    assert [r.id for r in POLICY.rules_for("fmt/5", size=10)] == ["video-to-h264-mp4-access"]  # the master is optional
    assert [r.id for r in POLICY.rules_for("fmt/353")] == ["raster-to-png-access"]
    assert POLICY.rule("pdf-to-pdfa").tool == "ghostscript"
    with pytest.raises(ConfigError, match="no rule 'nope'"):
        POLICY.rule("nope")


def test_override_replaces_disables_adds_and_changes_settings_and_tools(tmp_path: Path) -> None:
    text = """
[settings]
optional_rules = true
concurrency = 3

[tools.ghostscript]
executables = ["/opt/gs/bin/gs", "gs"]

[[rules]]
id = "pdf-to-pdfa"
enabled = false

[[rules]]
id = "video-to-ffv1-mkv"
purpose = "preservation"
puids = ["fmt/5"]
tool = "ffmpeg"
args = ["-nostdin", "-i", "{input}", "-c:v", "ffv1", "{output}"]
extension = "mkv"
output_puids = ["fmt/569"]
checks = ["format", "streams"]
description = "smaller masters"
max_size = 1000

[[rules]]
id = "doc-to-docx"
purpose = "access"
puids = ["fmt/40"]
tool = "libreoffice"
args = ["--headless", "--convert-to", "docx", "--outdir", "{outdir}", "{input}"]
extension = "docx"
output_puids = ["fmt/412"]
checks = ["format", "text"]
"""
    (tmp_path / "migration-policy.toml").write_text(text)
    policy = load_policy(tmp_path)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    assert policy.version == f"2026.11+{digest}"
    assert policy.sources == ("the packaged migration-policy.toml", str(tmp_path / "migration-policy.toml"))
    ids = [r.id for r in policy.rules]
    assert "pdf-to-pdfa" not in ids and ids[0] == "doc-to-docx"
    assert ids.index("video-to-ffv1-mkv") == [r.id for r in POLICY.rules].index("video-to-ffv1-mkv")  # in place
    assert policy.rules_for("fmt/40", [Purpose.ACCESS])[0].id == "doc-to-docx"  # added rules win
    assert policy.settings.optional_rules and policy.settings.concurrency == 3
    assert policy.settings.access_fit == POLICY.settings.access_fit
    assert policy.tools["ghostscript"].executables == ("/opt/gs/bin/gs", "gs")
    assert policy.tools["ghostscript"].debian_package == "ghostscript"  # keys not named are kept
    master = policy.rule("video-to-ffv1-mkv")
    assert master.description == "smaller masters" and master.optional is False and master.max_size == 1000
    assert [r.id for r in policy.rules_for("fmt/5", [Purpose.PRESERVATION], size=1000)] == ["video-to-ffv1-mkv"]
    assert policy.rules_for("fmt/5", [Purpose.PRESERVATION], size=1001) == []
    assert [r.id for r in policy.rules_for("fmt/353")] == ["tiff-to-tiff-lzw", "raster-to-png-access"]
    assert load_policy(tmp_path / "no-such-home").version == "2026.11"


GOOD_RULE = """
[[rules]]
id = "my-rule"
purpose = "access"
puids = ["fmt/40"]
tool = "libreoffice"
args = ["--convert-to", "pdf", "--outdir", "{outdir}", "{input}"]
extension = "pdf"
output_puids = ["fmt/477"]
checks = ["format", "pages"]
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("checks = [", 'colour = "blue"\nchecks = ['), "rule 'my-rule' has unknown key.*colour"),
        (('tool = "libreoffice"', 'tool = "gimp"'), "rule 'my-rule' names the tool 'gimp'"),
        (('"format", "pages"', '"format", "smell"'), "rule 'my-rule': unknown check 'smell'"),
        (('"fmt/40"', '"doc"'), "rule 'my-rule': puids: 'doc' is not a PRONOM PUID"),
        (('"{outdir}", "{input}"', '"{outdir}", "{source}"'), r"rule 'my-rule': unknown placeholder.*\{source\}"),
        (('"{outdir}", "{input}"', '"{outdir}", "x"'), r"rule 'my-rule': args must name the file read"),
        (('"format", "pages"', '"pages"'), "rule 'my-rule': checks must include \"format\""),
        (('purpose = "access"', 'purpose = "fun"'), "purpose 'fun' is not one of"),
        (('extension = "pdf"', 'extension = ".pdf"'), "extension '.pdf' must be"),
        (('id = "my-rule"', 'id = "My Rule"'), "needs an id of lower-case letters"),
        (("checks = [", "time_limit = 0\nchecks = ["), "time_limit must be more than 0"),
        (("checks = [", "max_size = -5\nchecks = ["), "max_size must be a whole number of bytes"),
        (("checks = [", 'pdfa_flavour = "4z"\nchecks = ['), "pdfa_flavour '4z'"),
    ],
)
def test_a_bad_override_is_refused_naming_the_file_and_rule(tmp_path: Path, change: tuple[str, str],
                                                              message: str) -> None:  # fmt: skip
    path = tmp_path / "migration-policy.toml"
    path.write_text(GOOD_RULE.replace(*change))
    with pytest.raises(ConfigError, match=message) as caught:
        load_policy(tmp_path)
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_RULE + GOOD_RULE, "rule 'my-rule' appears twice"),
        ('[[rules]]\nid = "no-such-rule"\nenabled = false\n', "rule 'no-such-rule' is disabled but there is no"),
        ('[[rules]]\nid = "pdf-to-pdfa"\ntool = "ghostscript"\n', "rule 'pdf-to-pdfa' has no purpose"),
        ("[setings]\noptional_rules = true\n", "unknown key.*setings"),
        ("[settings]\nfast = true\n", "the settings table has unknown key.*fast"),
        ("[settings]\naccess_fit = ['pdf']\n", "access_fit: 'pdf' is not a PRONOM PUID"),
        ("[settings]\nconcurrency = -1\n", "concurrency must be a whole number"),
        ("[tools.gimp]\nexecutables = ['gimp']\n", "tool 'gimp' has no debian_package"),
        ("[tools.ffmpeg]\nversion_pattern = '(unclosed'\n", "version_pattern is not a valid regular expression"),
        ("[tools.ffmpeg]\nflavour = 'x'\n", "tool 'ffmpeg' has unknown key.*flavour"),
        ("rules = 'all'\n", "rules must be a list of tables"),
        ("[[rules]\n", "is not valid TOML"),
    ],
)
def test_other_override_mistakes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "migration-policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_policy(tmp_path)
    assert str(path) in caught.value.message


def test_placeholders_known_to_the_loader_are_those_the_converter_fills() -> None:
    from strongroom.preservation import convert

    assert {"input", "output", "outdir", "profile", "pdfa_def", "icc_dir"} <= PLACEHOLDERS
    assert convert._PROFILE == "{private_url}/profile" and convert._PDFA_DEF.startswith("{private}/")
