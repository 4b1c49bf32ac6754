"""Review findings on migration, each pinned by a test: hostile inputs, runaway outputs and checks, races."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from strongroom.archive import Archive
from strongroom.formats import make_identifier
from strongroom.formats.base import Identifier
from strongroom.formats.droid.identifier import DroidIdentifier, DroidSettings
from strongroom.model import Basis
from strongroom.preservation.actions import CheckKind, CheckStatus
from strongroom.preservation.convert import convert
from strongroom.preservation.migrate import _Engine
from strongroom.preservation.migrate_plan import MigrationRequest, default_purposes, plan_package
from strongroom.preservation.policy import load_policy
from strongroom.preservation.significant import verify
from strongroom.preservation.toolrun import ToolRunner, ToolSpec
from tests.conftest import Home, write
from tests.preservation import media

POLICY = load_policy(None)


@pytest.fixture(scope="module")
def runner() -> ToolRunner:
    return ToolRunner(POLICY.tools)


@pytest.fixture(scope="module")
def identifier() -> Identifier:
    return make_identifier()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _mp4(path: Path) -> Path:
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-pix_fmt", "yuv420p", str(path))
    return path


def _checked(rule_id: str, source: Path, tmp_path: Path, runner: ToolRunner, identifier: Identifier):  # type: ignore[no-untyped-def]
    rule = POLICY.rule(rule_id)
    conversion = convert(rule, source, tmp_path / "work", runner)
    assert conversion.run.ok, f"{conversion.run.error}\n{conversion.run.stderr}"
    return verify(conversion, None, runner, identifier.identify, tmp_path / "checks")


def _status(conversion, kind: CheckKind) -> tuple[CheckStatus, str]:  # type: ignore[no-untyped-def]
    (check,) = [c for c in conversion.checks if c.kind is kind]
    return check.status, check.detail


def test_a_playlist_named_like_a_video_cannot_pull_in_other_files(tmp_path: Path, runner: ToolRunner) -> None:
    # An HLS playlist is text; named .avi it reaches the video rules, and FFmpeg's `file` protocol (which every input
    # needs) would copy any media file it names, such as another package's closed recording, into the access copy.
    (tmp_path / "elsewhere").mkdir()
    secret = _mp4(tmp_path / "elsewhere" / "secret.mp4")
    playlist = tmp_path / "holiday.avi"
    playlist.write_text(f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{secret}\n#EXT-X-ENDLIST\n")
    for rule_id in ("video-to-h264-mp4-access", "video-to-ffv1-mkv"):
        conversion = convert(POLICY.rule(rule_id), playlist, tmp_path / rule_id, runner)
        assert conversion.output is None and not conversion.ok
        assert "not on whitelist" in conversion.run.stderr
        assert "-format_whitelist" in conversion.run.argv


def test_originals_known_by_name_only_are_never_migrated(home: Home, tmp_path: Path) -> None:
    # DROID names a file by its extension alone only for formats PRONOM has no signature for, such as Digital Video
    # (x-fmt/152, .dv), which the video rules take; named .avi (AVI has a signature) the same text is not identified.
    write(tmp_path / "t" / "objects" / "holiday.dv", b"#EXTM3U\nnot a video at all\n")
    write(tmp_path / "t" / "objects" / "holiday.avi", b"#EXTM3U\nnot a video at all\n")
    package = str(home.ingest(tmp_path / "t")["package"])
    shown = home.ok("show", package, "--json").json()
    found = {f["path"]: (f["puid"], f["basis"]) for f in shown["files"]}  # type: ignore[index]
    assert found["objects/holiday.dv"] == ("x-fmt/152", "extension")
    assert found["objects/holiday.avi"] == (None, "none")
    report = home.run("migrate", "--json").json()
    assert isinstance(report, dict)
    assert report["totals"]["kept"] == 0 and report["totals"]["versions_made"] == 0  # type: ignore[index]
    (entry,) = [p for p in report["packages"] if p["package"] == package]  # type: ignore[index,union-attr]
    skipped = {(s["path"], s["rule"]) for s in entry["skipped"]}
    assert skipped == {("objects/holiday.dv", "video-to-h264-mp4-access")}  # the FFV1 rule is optional, so off
    reasons = [s["reason"] for s in entry["skipped"]]
    assert all("known from the file name only" in r for r in reasons), reasons


def test_random_bytes_named_like_the_target_fail_the_format_check(
    tmp_path: Path, runner: ToolRunner, identifier: Identifier
) -> None:
    fake = tmp_path / "output.flac"
    fake.write_bytes(bytes(range(256)) * 20)
    assert identifier.identify(fake).puid is None  # DROID: FLAC has a signature, so a name alone says nothing
    # With DROID's "match all extensions" (and with FIDO) the name alone does give FLAC: the trap the check avoids.
    by_name = DroidIdentifier(settings=DroidSettings(extensions="all"))
    found = by_name.identify(fake)
    assert found.puid == "fmt/279" and found.basis is Basis.EXTENSION
    wav = media.make_av(tmp_path / "made", ("wav",))["wav"]
    conversion = convert(POLICY.rule("audio-to-flac"), wav, tmp_path / "work", runner)
    assert conversion.output is not None
    conversion.output.write_bytes(fake.read_bytes())
    for name, identify, expected in (
        ("default", identifier.identify, "the output was not identified as any format"),
        ("by-name", by_name.identify, "named like fmt/279 (FLAC (Free Lossless Audio Codec)), but its content matches"),
    ):
        checked = verify(conversion, None, runner, identify, tmp_path / f"checks-{name}")
        status, detail = _status(checked, CheckKind.FORMAT)
        assert status is CheckStatus.FAILED and detail.startswith(expected), detail
        assert not checked.ok


def test_a_lossless_master_that_drops_subtitles_fails_the_stream_check(
    tmp_path: Path, runner: ToolRunner, identifier: Identifier
) -> None:
    (tmp_path / "s.srt").write_text("1\n00:00:00,000 --> 00:00:00,900\nHello\n\n")
    source = tmp_path / "with-subtitles.mov"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-i", str(tmp_path / "s.srt"),
            "-map", "0", "-map", "1", "-c:v", "mpeg4", "-c:s", "mov_text", str(source))  # fmt: skip
    checked = _checked("video-to-ffv1-mkv", source, tmp_path, runner, identifier)
    status, detail = _status(checked, CheckKind.STREAMS)
    assert status is CheckStatus.FAILED and "1 subtitle stream(s) in the source, 0 in the output" in detail


def test_access_copies_of_odd_sized_and_multi_track_video_pass(
    tmp_path: Path, runner: ToolRunner, identifier: Identifier
) -> None:
    odd = tmp_path / "odd.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=321x241:rate=5:duration=1", "-f", "lavfi", "-i",
            "sine=duration=1", "-c:v", "mpeg4", "-c:a", "pcm_s16le", str(odd))  # fmt: skip
    status, detail = _status(_checked("video-to-h264-mp4-access", odd, tmp_path / "a", runner, identifier),
                             CheckKind.AV_PROPERTIES)  # fmt: skip
    assert status is CheckStatus.PASSED and "321x241 (as 320x240" in detail
    two = tmp_path / "two.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
            "-f", "lavfi", "-i", "sine=frequency=880:duration=1", "-map", "0", "-map", "1", "-map", "2",
            "-c:v", "mpeg4", "-c:a", "pcm_s16le", str(two))  # fmt: skip
    status, detail = _status(_checked("video-to-h264-mp4-access", two, tmp_path / "b", runner, identifier),
                             CheckKind.AV_PROPERTIES)  # fmt: skip
    assert status is CheckStatus.PASSED, detail


def test_a_size_change_of_more_than_rounding_still_fails(tmp_path: Path, runner: ToolRunner,
                                                         identifier: Identifier) -> None:  # fmt: skip
    source = tmp_path / "src.avi"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=5:duration=1", "-c:v", "mpeg4", str(source))
    conversion = convert(POLICY.rule("video-to-h264-mp4-access"), source, tmp_path / "work", runner)
    assert conversion.output is not None
    _ffmpeg("-i", str(source), "-vf", "scale=318:240", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(conversion.output))
    checked = verify(conversion, None, runner, identifier.identify, tmp_path / "checks")
    status, detail = _status(checked, CheckKind.AV_PROPERTIES)
    assert status is CheckStatus.FAILED and "320x240 became 318x240" in detail


def test_all_checks_of_one_file_share_the_rules_time_limit(
    tmp_path: Path, runner: ToolRunner, identifier: Identifier
) -> None:
    # Frame-by-frame comparison of a long animation must not run for days: the rule's limit bounds all of it.
    source = tmp_path / "many.gif"
    subprocess.run(["convert-im6.q16", "-size", "32x32", "xc:white", *(f"xc:gray{i % 100}" for i in range(300)),
                    "-delay", "1", str(source)], check=True)  # fmt: skip
    rule = dataclasses.replace(POLICY.rule("gif-to-tiff"), time_limit=2.0)
    conversion = convert(rule, source, tmp_path / "work", runner)
    assert conversion.run.ok
    checked = verify(conversion, None, runner, identifier.identify, tmp_path / "checks")
    status, detail = _status(checked, CheckKind.PIXELS)
    assert status is CheckStatus.FAILED and "did not finish within the rule's time limit of 2 s" in detail


def test_a_tool_writing_past_the_output_limit_is_stopped(tmp_path: Path) -> None:
    spec = ToolSpec("dd", ("dd",), "coreutils", ("--version",), r"dd \(GNU coreutils\) ([0-9.]+)", "test")
    run = ToolRunner({"dd": spec}).run(
        "dd", ["if=/dev/zero", "of=big", "bs=100000", "count=50"], workdir=tmp_path, time_limit=30,
        output_limit=1_000_000,
    )  # fmt: skip
    assert not run.ok and run.error is not None
    assert "SIGXFSZ" in run.error and "past the limit of 1000000 bytes" in run.error
    assert (tmp_path / "big").stat().st_size <= 1_000_000


def test_two_overlapping_migrations_of_one_package_store_its_derivatives_once(home: Home, tmp_path: Path) -> None:
    made = media.make_images(tmp_path / "made", ("pcx",))
    write(tmp_path / "t" / "objects" / "sample.pcx", made["pcx"].read_bytes())
    package = str(home.ingest(tmp_path / "t")["package"])
    with Archive.open(home.path) as archive:
        archive.prepare_to_write()
        policy = load_policy(archive.settings.home)
        runner = ToolRunner(policy.tools)
        request = MigrationRequest("operator")
        summary = archive.package(package)
        # Both plan before either stores, as two `strongroom migrate` processes would.
        files, events = list(archive.catalog.files(package)), archive.catalog.events(package)
        risks, purposes = archive.format_risks(), default_purposes(policy)
        plans = [plan_package(summary, files, events, policy, runner, risks, request, purposes) for _ in range(2)]
        first = _Engine(archive, policy, runner, request, None, 2).run(plans[0])
        second = _Engine(archive, policy, runner, request, None, 2).run(plans[1])
        assert first.version == 2 and second.version is None
        assert second.error is not None and "changed while it was being migrated" in second.error
        assert [v.number for v in archive.catalog.versions(package)] == [1, 2]
        made_events = [
            e for e in archive.catalog.events(package)
            if 'rule="' in e.detail and e.outcome.value == "success" and e.type in ("migration", "creation")
        ]  # fmt: skip
        assert len(made_events) == 2


def test_a_full_staging_disk_is_a_plain_error_for_that_package(home: Home, tmp_path: Path) -> None:
    wav = media.make_av(tmp_path / "made", ("wav",))["wav"]
    big = tmp_path / "t" / "objects" / "long.wav"
    big.parent.mkdir(parents=True)
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=30", "-c:a", "pcm_s16le", str(big))
    write(tmp_path / "t" / "objects" / "short.wav", wav.read_bytes())
    home.ingest(tmp_path / "t")
    limit = big.stat().st_size // 2  # the staging copy of long.wav cannot be written

    def small_files() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [str(Path(sys.executable).parent / "strongroom"), "--home", str(home.path), "migrate"],
        capture_output=True, text=True, preexec_fn=small_files, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "could not be written" in done.stdout + done.stderr and "run strongroom migrate again" in (
        done.stdout + done.stderr
    )
