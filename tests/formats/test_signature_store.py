"""Issue 12: newer PRONOM signature files installed into an archive home, checked first, then used."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from strongroom.config import load_settings, write_default_config
from strongroom.errors import ConfigError
from strongroom.formats import IdentifierSpec, describe_identifier, make_identifier, signature_store
from strongroom.formats.droid.identifier import BUNDLED_CONTAINER, BUNDLED_SIGNATURES
from strongroom.formats.signature_install import install
from strongroom.formats.signature_store import (
    InstallOutcome,
    SignatureInstallError,
    SignatureKind,
    Source,
    list_signatures,
    newer_than_bundled,
    newest_installed,
    read_info,
    signatures_dir,
    signatures_in_use,
    spec_for_identify,
)


def droid_file(folder: Path, version: int, rename_puid: str | None = None) -> Path:
    """The bundled V122 with its Version attribute set to `version` (and one PUID renamed, if asked)."""
    text = BUNDLED_SIGNATURES.read_text(encoding="utf-8")
    assert text.count('Version="122"') == 1
    text = text.replace('Version="122"', f'Version="{version}"')
    if rename_puid is not None:
        assert f'PUID="{rename_puid}"' in text
        text = text.replace(f'PUID="{rename_puid}"', 'PUID="test-fmt/renamed"')
    path = folder / f"DROID_SignatureFile_V{version}.xml"
    path.write_text(text, encoding="utf-8")
    return path


def container_file(folder: Path, version: int, date: str = "20260301") -> Path:
    text = BUNDLED_CONTAINER.read_text(encoding="utf-8")
    assert text.count('signatureVersion="40"') == 1
    path = folder / f"container-signature-{date}.xml"
    path.write_text(text.replace('signatureVersion="40"', f'signatureVersion="{version}"'), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def compiled_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("droid-cache")


@pytest.fixture(autouse=True)
def private_cache(compiled_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Test-made signature files are compiled and cached: in a folder of their own, not the user's cache.
    monkeypatch.setenv("XDG_CACHE_HOME", str(compiled_cache))
    for name in ("STRONGROOM_SIGNATURE_FILE", "STRONGROOM_CONTAINER_SIGNATURE_FILE", "STRONGROOM_IDENTIFIER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    write_default_config(path, "Test County Archive", "TCA")
    return path


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


def installed_names(home: Path) -> list[str]:
    folder = signatures_dir(home)
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_a_new_home_identifies_with_the_bundled_files(home: Path) -> None:
    settings = load_settings(home)
    assert (settings.droid_signature_file, settings.container_signature_file) == (None, None)
    in_use = signatures_in_use(home)
    assert (in_use.droid.source, in_use.droid.version, in_use.droid.path) == (Source.BUNDLED, 122, BUNDLED_SIGNATURES)
    assert (in_use.container.source, in_use.container.version) == (Source.BUNDLED, 40)
    assert in_use.droid.date == in_use.container.date == "2026-01-19"
    listing = list_signatures(home)
    assert [(i.kind, i.version, listing.is_in_use(i)) for i in listing.available] == [
        (SignatureKind.DROID, 122, True),
        (SignatureKind.CONTAINER, 40, True),
    ]


def test_newer_files_are_installed_under_their_version_and_then_used(home: Path, downloads: Path) -> None:
    droid, container = droid_file(downloads, 999), container_file(downloads, 41)
    report = install(home, [droid, container])
    assert [(f.kind, f.version, f.outcome, f.in_use) for f in report.files] == [
        (SignatureKind.DROID, 999, InstallOutcome.INSTALLED, True),
        (SignatureKind.CONTAINER, 41, InstallOutcome.INSTALLED, True),
    ]
    assert report.warnings == ()
    # Named by version (and the container file keeps TNA's date); nothing else, no temporary file, left there.
    assert installed_names(home) == ["DROID_SignatureFile_V999.xml", "container-signature-20260301-V41.xml"]
    assert report.files[0].path.read_bytes() == droid.read_bytes()
    assert report.files[1].path.read_bytes() == container.read_bytes()

    settings = load_settings(home)
    assert settings.droid_signature_file == report.files[0].path
    assert settings.container_signature_file == report.files[1].path
    assert not settings.signature_file_configured
    in_use = signatures_in_use(home)
    assert (in_use.droid.source, in_use.droid.version, in_use.container.version) == (Source.INSTALLED, 999, 41)
    assert in_use.container.date == "2026-03-01"
    # What PREMIS agents and events will name (ingest, update and migrate read settings.identifier_spec).
    named = describe_identifier(settings.identifier_spec).signature_version
    assert named == (
        "DROID signature file V999 (2026-01-19); container signature file 41 (container-signature-20260301-V41.xml)"
    )
    # Checking the files compiled them (under their final names, which the cached form keeps): identify at once.
    from strongroom.formats import make_identifier

    assert make_identifier(settings.identifier_spec).signature_version == named

    listing = list_signatures(home)
    assert [(i.version, i.source, listing.is_in_use(i)) for i in listing.available] == [
        (999, Source.INSTALLED, True),
        (41, Source.INSTALLED, True),
        (122, Source.BUNDLED, False),
        (40, Source.BUNDLED, False),
    ]

    again = install(home, [droid, BUNDLED_CONTAINER])
    assert [f.outcome for f in again.files] == [InstallOutcome.ALREADY_INSTALLED, InstallOutcome.BUNDLED]
    assert installed_names(home) == ["DROID_SignatureFile_V999.xml", "container-signature-20260301-V41.xml"]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE FFSignatureFile [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
  <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
]>
<FFSignatureFile Version="2000" DateCreated="2030-01-01T00:00:00"><FileFormatCollection>&e;</FileFormatCollection>
</FFSignatureFile>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE ContainerSignatureMapping [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ContainerSignatureMapping signatureVersion="99"><ContainerSignatures>&secret;</ContainerSignatures>
</ContainerSignatureMapping>
"""


def _truncated(folder: Path) -> Path:
    path = droid_file(folder, 1000)
    path.write_bytes(path.read_bytes()[:200_000])
    return path


def _huge(folder: Path) -> Path:
    path = folder / "DROID_SignatureFile_V3000.xml"
    with path.open("wb") as out:
        out.write(b'<?xml version="1.0"?>\n<FFSignatureFile Version="3000">')
        out.truncate(65 * 1024 * 1024)  # sparse: no disk used, but over the 64 MiB limit
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.xml"
    os.mkfifo(path)
    return path


HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "entity bomb": (lambda d: _write(d, "bomb.xml", BILLION_LAUGHS), "has a DTD"),
    "external entity": (lambda d: _write(d, "external.xml", EXTERNAL_ENTITY), "has a DTD"),
    "wrong root (FIDO's format)": (lambda d: _write(d, "formats-v120.xml", '<formats version="120"/>'), "<formats>"),
    "not XML": (lambda d: _write(d, "photo.xml", "\x89PNG\r\n\x1a\n not xml at all"), "is not XML"),
    "empty": (lambda d: _write(d, "empty.xml", ""), "is not XML"),
    "truncated": (_truncated, "is not XML, or not all of it"),
    "a million elements": (
        lambda d: _write(d, "many.xml", '<FFSignatureFile Version="5000">' + "<a/>" * 500_001 + "</FFSignatureFile>"),
        "XML elements",
    ),
    "no version": (
        lambda d: _write(d, "v.xml", "<FFSignatureFile><FileFormatCollection/></FFSignatureFile>"),
        'no Version="NUMBER"',
    ),
    "huge": (_huge, "a signature file is a few MB"),
    "a FIFO": (_fifo, "not a regular file"),
    "a folder": (lambda d: d, "it is a folder"),
    "missing": (lambda d: d / "nothere.xml", "no such file"),
}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_or_broken_files_are_refused_and_nothing_is_installed(home: Path, downloads: Path, case: str) -> None:
    make, why = HOSTILE[case]
    bad = make(downloads)
    with pytest.raises(SignatureInstallError, match="Nothing was installed") as refused:
        install(home, [bad])
    assert why in refused.value.message
    assert str(bad) in refused.value.message and refused.value.details  # says which file, and what to do
    assert installed_names(home) == []
    # In a batch with a good file, the good one is not installed either.
    with pytest.raises(SignatureInstallError):
        install(home, [droid_file(downloads, 999), bad])
    assert installed_names(home) == []
    assert signatures_in_use(home).droid.source is Source.BUNDLED


def test_another_file_claiming_an_installed_version_is_refused(home: Path, downloads: Path) -> None:
    install(home, [droid_file(downloads, 999)])
    other = droid_file(downloads / "..", 999, rename_puid="fmt/412")
    with pytest.raises(SignatureInstallError, match="same version"):
        install(home, [other])
    with pytest.raises(SignatureInstallError, match="same version"):  # nor one claiming the bundled version
        install(home, [droid_file(downloads / "..", 122, rename_puid="fmt/412")])
    assert installed_names(home) == ["DROID_SignatureFile_V999.xml"]


def test_an_older_file_needs_allow_older_and_is_used_only_where_a_setting_names_it(home: Path, downloads: Path) -> None:
    older = droid_file(downloads, 100)
    with pytest.raises(SignatureInstallError, match="older than the bundled DROID signature file V122") as refused:
        install(home, [older])
    assert any("--allow-older" in hint and "[formats] signature_file" in hint for hint in refused.value.details)
    assert installed_names(home) == []

    back = install(home, [older], allow_older=True)  # installed, but the newest (the bundled V122) stays in use
    (item,) = back.files
    assert (item.outcome, item.older_than, item.in_use) == (
        InstallOutcome.INSTALLED,
        "bundled DROID signature file V122",
        False,
    )
    assert signatures_in_use(home).droid.version == 122
    hint = 'under [formats], signature_file = "signatures/DROID_SignatureFile_V100.xml"'
    assert any(hint in w and str(home / "strongroom.toml") in w for w in back.warnings), back.warnings
    # Going back is what the hint says: name the file in [formats].
    config = home / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("[formats]\n", '[formats]\nsignature_file = "signatures/DROID_SignatureFile_V100.xml"\n'),
        encoding="utf-8",
    )
    in_use = signatures_in_use(home)
    assert (in_use.droid.version, in_use.droid.source) == (100, Source.CONFIGURED)
    config.write_text(text, encoding="utf-8")

    install(home, [droid_file(downloads, 999)])
    assert signatures_in_use(home).droid.version == 999
    again = install(home, [droid_file(downloads, 200)], allow_older=True)
    assert not again.files[0].in_use
    assert any("installed but not in use" in w for w in again.warnings)
    assert any('signature_file = "signatures/DROID_SignatureFile_V200.xml"' in w for w in again.warnings)
    assert (
        newest_installed(home, SignatureKind.DROID) == signatures_dir(home).resolve() / "DROID_SignatureFile_V999.xml"
    )


def test_a_newer_bundled_file_wins_over_an_older_installed_one(
    home: Path, downloads: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = install(home, [droid_file(downloads, 123), container_file(downloads, 41)])
    assert signatures_in_use(home).droid.version == 123
    # A later Strongroom release bundles V125 (and still container file 40): its newer DROID file is used.
    release = tmp_path / "release"
    release.mkdir()
    bundled_v125 = droid_file(release, 125)
    monkeypatch.setattr(
        signature_store,
        "_bundled_paths",
        lambda: {SignatureKind.DROID: bundled_v125, SignatureKind.CONTAINER: BUNDLED_CONTAINER},
    )
    settings = load_settings(home)
    assert settings.droid_signature_file is None  # None: the bundled file
    assert settings.container_signature_file == report.files[1].path  # 41 installed beats 40 bundled
    in_use = signatures_in_use(home)
    assert (in_use.droid.version, in_use.droid.source, in_use.droid.path) == (125, Source.BUNDLED, bundled_v125)
    assert (in_use.container.version, in_use.container.source) == (41, Source.INSTALLED)
    listing = list_signatures(home)
    assert [(i.version, i.source, listing.is_in_use(i)) for i in listing.available] == [
        (123, Source.INSTALLED, False),
        (41, Source.INSTALLED, True),
        (125, Source.BUNDLED, True),
        (40, Source.BUNDLED, False),
    ]
    # A tie (a release bundling the very file installed) goes to the bundled file.
    bundled_v123 = release / "tie" / "DROID_SignatureFile_V123.xml"
    bundled_v123.parent.mkdir()
    shutil.copyfile(report.files[0].path, bundled_v123)
    monkeypatch.setattr(
        signature_store,
        "_bundled_paths",
        lambda: {SignatureKind.DROID: bundled_v123, SignatureKind.CONTAINER: BUNDLED_CONTAINER},
    )
    in_use = signatures_in_use(home)
    assert (in_use.droid.version, in_use.droid.source, in_use.droid.path) == (123, Source.BUNDLED, bundled_v123)


def _with_comment_before_root(folder: Path, comment: str, version: int) -> Path:
    text = droid_file(folder, version).read_text(encoding="utf-8")
    declaration, rest = text.split("\n", 1)
    assert declaration.startswith("<?xml")
    path = folder / f"DROID_SignatureFile_V{version}.xml"
    path.write_text(f"{declaration}\n<!-- {comment} -->\n{rest}", encoding="utf-8")
    return path


def test_the_kind_and_version_are_read_from_the_root_element_not_a_comment(home: Path, downloads: Path) -> None:
    tricky = _with_comment_before_root(downloads, '<ContainerSignatureMapping signatureVersion="999">', 124)
    info = read_info(tricky, Source.INSTALLED)
    assert info is not None and (info.kind, info.version, info.date) == (SignatureKind.DROID, 124, "2026-01-19")
    # install refuses it: what reads the versions from the first bytes (PREMIS's names) would be misled.
    with pytest.raises(SignatureInstallError, match="before its root element <FFSignatureFile>"):
        install(home, [tricky])
    other_version = _with_comment_before_root(downloads, '<FFSignatureFile Version="999">', 124)
    with pytest.raises(SignatureInstallError, match="that its first 4,096 bytes agree on"):
        install(home, [other_version])
    assert installed_names(home) == []
    # Put there by hand (or by an earlier release, which let it in), it is taken for what its root says.
    folder = signatures_dir(home)
    folder.mkdir()
    shutil.copyfile(tricky, folder / "DROID_SignatureFile_V124.xml")
    assert newer_than_bundled(home) == {SignatureKind.DROID: (folder / "DROID_SignatureFile_V124.xml").resolve()}
    in_use = signatures_in_use(home)
    assert (in_use.droid.version, in_use.droid.source) == (124, Source.INSTALLED)
    assert (in_use.container.version, in_use.container.source) == (40, Source.BUNDLED)


def _empty_droid(folder: Path) -> Path:
    return _write(folder, "DROID_SignatureFile_V203.xml", '<FFSignatureFile Version="203"></FFSignatureFile>')


def _droid_without_signatures(folder: Path) -> Path:
    path = droid_file(folder, 204)
    text = path.read_text(encoding="utf-8")
    emptied = re.sub(
        r"<InternalSignatureCollection>.*</InternalSignatureCollection>",
        "<InternalSignatureCollection/>",
        text,
        count=1,
        flags=re.DOTALL,
    )
    assert len(emptied) < len(text) // 2
    path.write_text(emptied, encoding="utf-8")
    return path


def _container_with_half(folder: Path) -> Path:
    path = container_file(folder, 99)
    text = path.read_text(encoding="utf-8")
    signatures = re.findall(r"<ContainerSignature .*?</ContainerSignature>", text, flags=re.DOTALL)
    assert len(signatures) > 100
    for signature in signatures[: len(signatures) // 2]:
        text = text.replace(signature, "", 1)
    path.write_text(text, encoding="utf-8")
    return path


NEAR_EMPTY: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty DROID file": (_empty_droid, "it defines 0 formats, where the bundled DROID signature file V122 defines"),
    "no internal signatures": (_droid_without_signatures, "it defines 0 internal signatures"),
    "empty container file": (
        lambda d: _write(d, "container-signature-20990101.xml", '<ContainerSignatureMapping signatureVersion="99"/>'),
        "it defines 0 container signatures, where the bundled container signature file 40 defines",
    ),
    "half a container file": (_container_with_half, "container signatures, where the bundled"),
}


@pytest.mark.parametrize("case", NEAR_EMPTY)
def test_a_file_defining_far_less_than_the_bundled_one_is_refused(home: Path, downloads: Path, case: str) -> None:
    make, why = NEAR_EMPTY[case]
    with pytest.raises(SignatureInstallError, match="Nothing was installed") as refused:
        install(home, [make(downloads)])
    assert why in refused.value.message and "fewer than 90%" in refused.value.message
    assert installed_names(home) == []
    in_use = signatures_in_use(home)
    assert (in_use.droid.version, in_use.container.version) == (122, 40)


def test_a_file_where_the_signatures_folder_should_be_is_a_clear_error(home: Path, downloads: Path) -> None:
    # (A read-only home gives the same kind of error; it cannot be made in a test running as root.)
    (home / "signatures").write_text("notes\n", encoding="utf-8")
    with pytest.raises(SignatureInstallError, match="cannot be installed into") as refused:
        install(home, [droid_file(downloads, 999)])
    assert str(home / "signatures") in refused.value.message and "Nothing was installed" in refused.value.message
    assert any("is not a folder: move that file away" in hint for hint in refused.value.details)
    assert (home / "signatures").read_text(encoding="utf-8") == "notes\n"


def test_a_missing_configured_file_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    missing = tmp_path / "DROID_SignatureFile_V130.xml"
    for spec, setting in (
        (IdentifierSpec("droid", signature_file=missing), "[formats] signature_file"),
        (IdentifierSpec("droid", container_file=missing), "[formats] container_signature_file"),
    ):
        for call in (describe_identifier, make_identifier):
            with pytest.raises(ConfigError, match="cannot be used") as caught:
                call(spec)
            assert str(missing) in caught.value.message
            assert any(setting in hint for hint in caught.value.details)


@pytest.mark.parametrize("engine", ["fido-fast", "fido"])
def test_the_fido_engines_refuse_a_droid_signature_file(engine: str, tmp_path: Path) -> None:
    for wrong, named in ((BUNDLED_SIGNATURES, "a DROID signature file"), (BUNDLED_CONTAINER, "a container signature")):
        spec = IdentifierSpec(engine, fido_signature_file=wrong)
        for call in (describe_identifier, make_identifier):
            with pytest.raises(ConfigError, match=f"cannot be used by the {engine} engine") as caught:
                call(spec)
            assert named in caught.value.message and str(wrong) in caught.value.message
            assert "FIDO's formats-vNNN.xml" in caught.value.message
    not_xml = _write(tmp_path, "formats-v200.xml", "not xml")
    with pytest.raises(ConfigError, match="not in FIDO's format"):
        describe_identifier(IdentifierSpec(engine, fido_signature_file=not_xml))
    fido_format = _write(tmp_path, "formats-v201.xml", '<formats version="0.3"></formats>')
    assert describe_identifier(IdentifierSpec(engine, fido_signature_file=fido_format)).signature_version.startswith(
        "formats-v201.xml"
    )


def test_a_configured_file_stays_in_use(home: Path, downloads: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = droid_file(downloads, 150)
    config = home / "strongroom.toml"
    config.write_text(
        config.read_text().replace("[formats]\n", f'[formats]\nsignature_file = "{chosen}"\n'), encoding="utf-8"
    )
    report = install(home, [droid_file(downloads, 999)])
    assert not report.files[0].in_use
    assert any("[formats] signature_file" in w and "stays in use" in w for w in report.warnings)
    in_use = signatures_in_use(home)
    assert (in_use.droid.source, in_use.droid.version, in_use.droid.path) == (Source.CONFIGURED, 150, chosen)
    assert in_use.container.source is Source.BUNDLED

    monkeypatch.setenv("STRONGROOM_CONTAINER_SIGNATURE_FILE", str(downloads / "gone.xml"))
    container = signatures_in_use(home).container
    assert (container.source, container.version) == (Source.CONFIGURED, None)
    assert container.problem is not None and "cannot be read" in container.problem


def test_a_container_file_mapping_puids_the_droid_file_lacks_is_warned_about(home: Path, downloads: Path) -> None:
    report = install(home, [droid_file(downloads, 999, rename_puid="fmt/412")])
    assert report.files[0].in_use
    (warning,) = report.warnings
    assert "fmt/412" in warning and "does not define" in warning


def test_files_left_by_an_interrupted_install_are_ignored_then_cleared(home: Path, downloads: Path) -> None:
    folder = signatures_dir(home)
    folder.mkdir()
    (folder / ".install-0123456789abcdef.part").write_bytes(droid_file(downloads, 999).read_bytes())
    (folder / ".install-fedcba9876543210").mkdir()
    (folder / ".install-fedcba9876543210" / "DROID_SignatureFile_V999.xml").write_bytes(b"<half")
    assert newest_installed(home, SignatureKind.DROID) is None
    install(home, [container_file(downloads, 41)])
    assert installed_names(home) == ["container-signature-20260301-V41.xml"]


def test_install_needs_an_archive_home(tmp_path: Path, downloads: Path) -> None:
    with pytest.raises(ConfigError, match="No Strongroom archive"):
        install(tmp_path / "nowhere", [droid_file(downloads, 999)])
    assert not (tmp_path / "nowhere").exists()


def test_identify_uses_the_homes_signatures_unless_told_otherwise(home: Path, downloads: Path, tmp_path: Path) -> None:
    bundled = spec_for_identify(None, "droid")
    assert (bundled.signature_file, bundled.container_file) == (None, None)
    assert spec_for_identify(tmp_path, "droid").signature_file is None  # a folder that is no archive: not used
    report = install(home, [droid_file(downloads, 999), container_file(downloads, 41)])
    spec = spec_for_identify(home, "droid")
    assert (spec.signature_file, spec.container_file) == (report.files[0].path, report.files[1].path)
    given = spec_for_identify(home, "droid", signatures=BUNDLED_SIGNATURES)
    assert (given.signature_file, given.container_file) == (BUNDLED_SIGNATURES, report.files[1].path)
    assert spec_for_identify(home, "fido-fast").fido_signature_file is None
    with pytest.raises(ConfigError, match="--container-signatures is for the droid engine"):
        spec_for_identify(home, "fido", container_signatures=BUNDLED_CONTAINER)


def test_the_same_container_file_under_another_name_is_named_as_it_is_now(tmp_path: Path) -> None:
    # The compiled-form cache is keyed by content; the PREMIS text must still name the file in use.
    from strongroom.formats.droid.identifier import BUNDLED_CONTAINER, DroidIdentifier

    renamed = tmp_path / "renamed-container.xml"
    shutil.copyfile(BUNDLED_CONTAINER, renamed)
    assert BUNDLED_CONTAINER.name in DroidIdentifier(cache_dir=tmp_path / "cache").signature_version
    named = DroidIdentifier(container_file=renamed, cache_dir=tmp_path / "cache").signature_version
    assert named.endswith("container signature file 40 (renamed-container.xml)")


def test_premis_names_the_version_of_the_root_element_not_of_a_comment_before_it(tmp_path: Path) -> None:
    from strongroom.formats.droid.identifier import describe_signatures

    tricked = tmp_path / "DROID_SignatureFile_V124.xml"
    tricked.write_text(
        '<?xml version="1.0"?>\n<!-- <FFSignatureFile Version="999"> -->\n'
        '<FFSignatureFile DateCreated="2026-02-01T00:00:00" Version="124"></FFSignatureFile>\n',
        encoding="utf-8",
    )
    assert describe_signatures(tricked, None, containers=False) == "DROID signature file V124 (2026-02-01)"
