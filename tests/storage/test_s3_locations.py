"""The issue's "faults that must be survived", with an S3 location, against the real MinIO.

A filesystem primary plus an S3 location added through the CLI; damage in either copy found by
`audit` and healed by `repair` from the other; the S3 server SIGKILLed in the middle of a
replication and of an ingest into an S3 primary (nothing recorded as stored that is not, a rerun
completes, no orphan multipart upload is left); an S3 replica that is down at ingest; and bad
input to `location add`. The filesystem-only edition of these checks is tests/spine/test_replicas.py.

Every test here needs the real server (tests/services.py), so STRONGROOM_SKIP_SERVICES=1 skips them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from strongroom.storage.s3 import S3Storage
from tests.conftest import EXAMPLE_TRANSFER, CliResult, Home
from tests.contracts.storage_contract import MIB
from tests.services import PrivateS3, fresh_s3_bucket, private_s3_server, s3_client
from tests.spine.test_replicas import object_folder, snapshot, writable
from tests.storage.test_s3 import random_file

LOCATION = "s3copy"


# --- helpers ----------------------------------------------------------------------------------------------------------


def ocfl_root_of(package: str) -> str:
    """The OCFL object root of a package, relative to the storage root's parent (`ocfl/…/urn%3auuid%3a<id>/`)."""
    digest = hashlib.sha256(f"urn:uuid:{package}".encode()).hexdigest()
    return f"ocfl/{digest[0:3]}/{digest[3:6]}/{digest[6:9]}/urn%3auuid%3a{package}/"


def keys(client: Any, bucket: str, prefix: str = "") -> list[str]:
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", ())]
    return sorted(found)


def unfinished_uploads(client: Any, bucket: str) -> list[str]:
    found: list[str] = []
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        found += [upload["Key"] for upload in page.get("Uploads", ())]
    return sorted(found)


def uploads_of(client: Any, bucket: str, key: str) -> list[str]:
    """The unfinished multipart uploads of one key. Asked by exact key: after a restart MinIO lists unfinished
    uploads only for an exact object name (a listing of the whole bucket, or of a folder, comes back empty)."""
    answer = client.list_multipart_uploads(Bucket=bucket, Prefix=key)
    return [upload["UploadId"] for upload in answer.get("Uploads", ()) if upload["Key"] == key]


class OrphanUploadLeft(AssertionError):
    """An unfinished multipart upload outlived the rerun that should have swept it. Asked for by exact key: MinIO,
    once restarted, lists unfinished uploads only by exact object name (why the S3 backend keeps an upload ledger)."""


def assert_no_orphan_upload(client: Any, bucket: str, key: str) -> None:
    left = uploads_of(client, bucket, key)
    if left:
        raise OrphanUploadLeft(f"{len(left)} unfinished multipart upload(s) of {key} remain in bucket {bucket}")


def object_state(client: Any, bucket: str, prefix: str) -> dict[str, tuple[str, str]]:
    """Every object under `prefix`: (ETag, LastModified) — to prove an S3 location was not written to."""
    state: dict[str, tuple[str, str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            state[item["Key"]] = (item["ETag"], item["LastModified"].isoformat())
    return state


def add_s3_location(home: Home, endpoint: str, bucket: str, prefix: str, *extra: str) -> dict[str, Any]:
    added = home.ok(
        "location", "add", LOCATION, "--s3", bucket, "--endpoint-url", endpoint, "--prefix", prefix, "--json", *extra
    ).json()
    assert isinstance(added, dict)
    return added


def set_location_options(home: Home, name: str, options: str) -> None:
    """Add settings (TOML lines) to one `[locations.NAME]` table of strongroom.toml."""
    config = home.path / "strongroom.toml"
    text, count = re.subn(rf"(\[locations\.{name}\]\n)", rf"\g<1>{options}\n", config.read_text(encoding="utf-8"))
    assert count == 1
    config.write_text(text, encoding="utf-8")


def no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.strip()


@dataclass
class TwoPlaces:
    """An archive with a filesystem primary and an S3 location on a bucket of its own, one package in both."""

    home: Home
    endpoint: str
    bucket: str
    prefix: str
    package: str
    client: Any

    @property
    def s3_root(self) -> str:
        """The package's object root in the bucket."""
        return f"{self.prefix}/{ocfl_root_of(self.package)}"

    @property
    def fs_root(self) -> Path:
        return object_folder(self.home.path / "storage", self.package)


@pytest.fixture
def bucket() -> Iterator[tuple[str, str]]:
    """A bucket of each test's own on the shared MinIO, so that everything in it is the test's."""
    with fresh_s3_bucket("strongroom-loc") as made:
        yield made


@pytest.fixture
def two_places(home: Home, bucket: tuple[str, str]) -> TwoPlaces:
    endpoint, name = bucket
    prefix = f"copies-{uuid.uuid4().hex[:8]}"
    add_s3_location(home, endpoint, name, prefix)
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    return TwoPlaces(home, endpoint, name, prefix, package, s3_client(endpoint))


# --- 1. a filesystem primary and an S3 location --------------------------------------------------------------------


def test_ingest_into_a_folder_and_an_s3_location_audits_clean(home: Home, bucket: tuple[str, str]) -> None:
    endpoint, name = bucket
    client = s3_client(endpoint)
    prefix = f"copies-{uuid.uuid4().hex[:8]}"
    added = add_s3_location(home, endpoint, name, prefix)
    assert added == {"name": LOCATION, "kind": "s3", "role": "replica", "where": f"s3://{name}/{prefix}/ at {endpoint}",
                     "packages": 0, "object_lock": False, "copies_found": 0}  # fmt: skip
    config = (home.path / "strongroom.toml").read_text(encoding="utf-8")
    assert f'[locations.{LOCATION}]\nkind = "s3"\nbucket = "{name}"\nprefix = "{prefix}"' in config
    assert "timeout" not in config and "max_attempts" not in config  # the quick-check settings are not kept

    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])

    audit = home.ok("audit", "--json").json()
    assert isinstance(audit, dict)
    assert audit["problems"] == [] and audit["unreachable_locations"] == {}
    assert sorted((c["package"], c["location"]) for c in audit["copies"]) == [(package, "primary"), (package, LOCATION)]
    assert audit["bytes_read"] > 0
    listed = home.ok("location", "list", "--json").json()
    assert isinstance(listed, dict)
    rows = {row["name"]: row for row in listed["locations"]}
    assert set(rows) == {"primary", LOCATION} and rows["primary"]["primary"] and not rows[LOCATION]["primary"]
    for row in rows.values():
        assert (row["packages"], row["current"], row["failing"]) == (1, 1, 0)
        assert row["last_audit"]["newest"] is not None
    assert rows[LOCATION]["kind"] == "s3" and rows[LOCATION]["bytes"] == rows["primary"]["bytes"] > 0

    stored = keys(client, name)
    assert stored and all(key.startswith(prefix + "/") for key in stored), stored
    assert f"{prefix}/ocfl/0=ocfl_1.1" in stored
    root = f"{prefix}/{ocfl_root_of(package)}"
    assert {root + "inventory.json", root + "inventory.json.sha256", root + "v1/inventory.json"} <= set(stored)
    on_disk = {str(p.relative_to(object_folder(home.path / "storage", package))).replace("\\", "/")
               for p in object_folder(home.path / "storage", package).rglob("*") if p.is_file()}  # fmt: skip
    assert {key.removeprefix(root) for key in stored if key.startswith(root)} == on_disk  # the same object, key by key
    assert unfinished_uploads(client, name) == []
    assert not [key for key in stored if ".strongroom-probe-" in key]  # the write probe of `location add` is gone

    # The package was copied at commit; the journal batches (the events recorded since) come with `replicate`.
    synced = home.ok("replicate", "--json").json()
    assert isinstance(synced, dict)
    assert synced["copied"] == [] and synced["up_to_date"] == 1 and synced["journal_batches"] >= 1
    assert any(key.startswith(f"{prefix}/journal/") for key in keys(client, name))


# --- 2. and 3. a fault in either location: found by audit, healed from the other ----------------------------------

S3_FAULTS = ["flipped byte", "truncated", "deleted object", "deleted inventory"]


def damage_s3(places: TwoPlaces, fault: str, *, keep_metadata: bool = False) -> str:
    """Damage the package's copy in the bucket with boto3 directly, as a faulty disk or a person with access to the
    bucket would; returns the path (relative to the object root) that audit must name."""
    client, bucket, root = places.client, places.bucket, places.s3_root
    if fault == "deleted inventory":
        client.delete_object(Bucket=bucket, Key=root + "inventory.json")
        return "inventory.json"
    key = keys(client, bucket, root + "v1/content/data/objects/")[0]
    if fault == "deleted object":
        client.delete_object(Bucket=bucket, Key=key)
        return key.removeprefix(root)
    answer = client.get_object(Bucket=bucket, Key=key)
    data = bytearray(answer["Body"].read())
    if fault == "flipped byte":
        data[len(data) // 2] ^= 0x01
    else:
        del data[-7:]
    # Bit rot leaves the object's metadata as it was, the SHA-256 recorded at upload included.
    metadata = answer["Metadata"] if keep_metadata else {}
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data), Metadata=metadata)
    return key.removeprefix(root)


def damage_folder(folder: Path, fault: str) -> str:
    writable(folder)
    if fault == "deleted inventory":
        (folder / "inventory.json").unlink()
        return "inventory.json"
    content = sorted(p for p in folder.glob("v1/content/data/objects/**/*") if p.is_file())[0]
    content.unlink()
    return str(content.relative_to(folder))


def assert_found_and_healed(places: TwoPlaces, where: str, path: str) -> dict[str, Any]:
    """`audit` names the package, the location and the file; `repair` heals it; a second audit is clean."""
    home = places.home
    audit = home.run("audit", "--json")
    assert audit.exit_code == 1, audit.stdout + audit.stderr
    problems = audit.json()["problems"]  # type: ignore[index]
    assert problems and {p["location"] for p in problems} == {where}, problems
    assert {p["package"] for p in problems} == {places.package}
    assert any(p["path"].endswith(path) for p in problems), problems
    people = home.run("audit")
    assert people.exit_code == 1
    assert "sample-transfer" in people.stdout and f"location {where}" in people.stdout
    assert path.rsplit("/", 1)[-1] in people.stdout

    repaired = home.run("repair", places.package, "--json")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    report = repaired.json()
    assert isinstance(report, dict)
    assert report["ok"] and [h["location"] for h in report["healed"]] == [where], report
    assert any(r.endswith(path) for r in report["healed"][0]["restored"]), report
    again = home.ok("audit", "--json").json()
    assert again["problems"] == [] and len(again["copies"]) == 2  # type: ignore[index]
    events = home.ok("show", places.package, "--json").json()["events"]  # type: ignore[index]
    assert any(e["type"] == "replication" and "repair" in e["detail"] and where in e["detail"] for e in events)
    assert any(e["type"] == "fixity check" and e["outcome"] == "failure" and f"location {where}" in e["detail"]
               for e in events)  # fmt: skip
    return report


@pytest.mark.parametrize("fault", S3_FAULTS)
def test_a_fault_in_the_s3_copy_is_found_and_healed_from_the_folder(two_places: TwoPlaces, fault: str) -> None:
    path = damage_s3(two_places, fault)
    good = two_places.home.path / "storage" / "ocfl"
    before = snapshot(good)

    assert_found_and_healed(two_places, LOCATION, path)

    assert snapshot(good) == before  # the good copy was never written to
    assert unfinished_uploads(two_places.client, two_places.bucket) == []


class NotHealed(AssertionError):
    """`repair` left the rotted copy as it was: it must judge the damaged copy by its bytes, not its metadata."""


def test_bit_rot_under_intact_metadata_is_found_and_healed(two_places: TwoPlaces) -> None:
    """The stored bytes rot but the object's metadata (its recorded SHA-256) does not: audit reads the bytes and
    finds it; repair must not trust the metadata either."""
    home = two_places.home
    path = damage_s3(two_places, "flipped byte", keep_metadata=True)
    before = snapshot(home.path / "storage" / "ocfl")

    audit = home.run("audit", "--json")
    assert audit.exit_code == 1
    problems = audit.json()["problems"]  # type: ignore[index]
    assert [(p["location"], p["kind"]) for p in problems if p["path"].endswith(path)] == [(LOCATION, "mismatch")]
    repaired = home.run("repair", two_places.package, "--json")
    report = repaired.json()
    assert isinstance(report, dict) and report["checks"] and report["good_copies"] == ["primary"]
    if repaired.exit_code != 0 or not report["healed"]:
        raise NotHealed(f"repair exit {repaired.exit_code}; still damaged: {report['still_damaged']}")
    assert any(r.endswith(path) for r in report["healed"][0]["restored"])
    assert home.ok("audit", "--json").json()["problems"] == []  # type: ignore[index]
    assert snapshot(home.path / "storage" / "ocfl") == before


@pytest.mark.parametrize("fault", ["deleted file", "deleted inventory"])
def test_a_fault_in_the_folder_is_healed_from_the_s3_copy(two_places: TwoPlaces, fault: str) -> None:
    path = damage_folder(two_places.fs_root, fault)
    before = object_state(two_places.client, two_places.bucket, two_places.prefix + "/ocfl/")

    assert_found_and_healed(two_places, "primary", path)

    assert object_state(two_places.client, two_places.bucket, two_places.prefix + "/ocfl/") == before
    assert (two_places.fs_root / path).is_file()


# --- 4.-6. the S3 server stopped in the middle of the work ----------------------------------------------------------

# Settings for a location on a server the test kills: a dead server is given up on after two quick attempts,
# and files over 5 MiB go up as multipart uploads.
QUICK = f"part_size = {5 * MIB}\nmax_attempts = 2\nconnect_timeout = 2"


def transfer_with_a_big_file(tmp_path: Path, name: str) -> Path:
    """The sample transfer plus one file large enough (6 MiB) for a two-part upload."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLE_TRANSFER, folder)
    random_file(folder / "objects" / "big-scan.bin", 6 * MIB)
    return folder


def kill_after_first_part(storage: Any, server: PrivateS3, killed: list[float]) -> None:
    """SIGKILL the server as soon as the first part of a multipart upload through `storage` has been stored."""

    def handler(**_: Any) -> None:
        if not killed:
            killed.append(time.monotonic())
            server.stop()

    storage._client.meta.events.register("after-call.s3.UploadPart", handler, unique_id="strongroom-test-kill")


def test_server_killed_during_replication_records_nothing_unfinished_and_a_rerun_completes(
    home: Home, tmp_path: Path
) -> None:
    with private_s3_server() as server:
        first = str(home.ingest(EXAMPLE_TRANSFER)["package"])  # into the primary only: there is no replica yet
        big = str(home.ingest(transfer_with_a_big_file(tmp_path, "big"))["package"])
        third = str(home.ingest(EXAMPLE_TRANSFER, "--allow-duplicate")["package"])
        bucket = server.make_bucket()
        client = server.client()
        add_s3_location(home, server.endpoint, bucket, "replica")  # empty: the packages are in the primary only
        set_location_options(home, LOCATION, QUICK)
        killed: list[float] = []
        with home.archive() as archive:
            kill_after_first_part(archive.location(LOCATION).storage, server, killed)
            report = archive.replicate("test-archivist")
            held = {c.package: c.version for c in archive.catalog.copies(location=LOCATION)}
        assert killed, "the big file was never uploaded in parts"
        copied = {c.object_id.rsplit(":", 1)[-1] for c in report.copies}
        assert big not in copied
        assert LOCATION in report.unreachable and "cannot connect" in report.unreachable[LOCATION]
        assert [(f.package, f.location) for f in report.failures] == [(big, LOCATION)]
        assert str(server.endpoint) in report.failures[0].message
        assert held == dict.fromkeys(copied, 1)  # nothing recorded as copied that is not whole there

        server.start()
        big_root = f"replica/{ocfl_root_of(big)}"
        assert not [k for k in keys(client, bucket, big_root) if k.endswith("inventory.json")]  # not visible
        big_key = f"{big_root}v1/content/data/objects/big-scan.bin"
        assert len(uploads_of(client, bucket, big_key)) == 1  # the upload in flight when the server died

        rerun = home.ok("replicate", "--json").json()
        assert isinstance(rerun, dict)
        assert {c["package"] for c in rerun["copied"]} == {first, big, third} - copied
        assert rerun["failures"] == [] and rerun["unreachable_locations"] == {} and rerun["journal_batches"] >= 1
        assert unfinished_uploads(client, bucket) == []  # what the server lists (after a restart MinIO lists less)
        audit = home.ok("audit", "--location", LOCATION, "--json").json()
        assert isinstance(audit, dict)
        assert audit["problems"] == [] and {c["package"] for c in audit["copies"]} == {first, big, third}
        rows = {r["name"]: r for r in home.ok("location", "list", "--json").json()["locations"]}  # type: ignore[index]
        assert rows[LOCATION]["current"] == 3 and rows[LOCATION]["bytes"] == rows["primary"]["bytes"]
        assert_no_orphan_upload(client, bucket, big_key)  # the upload killed with the server is gone too


def use_s3_primary(home: Home, endpoint: str, bucket: str, prefix: str) -> None:
    """Keep the archive's storage in the bucket (as tests/storage/test_s3.py does), with settings for a server
    the test kills."""
    config = home.path / "strongroom.toml"
    table = (f'[storage]\nkind = "s3"\nbucket = "{bucket}"\nprefix = "{prefix}"\nendpoint_url = "{endpoint}"\n'
             f"{QUICK}\n")  # fmt: skip
    text, count = re.subn(
        r"\[storage\]\n(?:[^\[]*\n)?(?=\[)", table + "\n", config.read_text(encoding="utf-8"), count=1
    )
    assert count == 1
    config.write_text(text, encoding="utf-8")
    shutil.rmtree(home.path / "storage", ignore_errors=True)


def test_server_killed_during_ingest_into_an_s3_primary_stores_nothing_and_a_rerun_completes(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transfer = transfer_with_a_big_file(tmp_path, "with-big-scan")
    with private_s3_server() as server:
        bucket = server.make_bucket()
        client = server.client()
        use_s3_primary(home, server.endpoint, bucket, "archive")
        killed: list[float] = []
        in_flight: list[str] = []
        real_put_multipart = S3Storage._put_multipart

        def put_multipart(storage: S3Storage, key: str, s3_key: str, *args: Any) -> None:
            in_flight.append(s3_key)
            kill_after_first_part(storage, server, killed)
            real_put_multipart(storage, key, s3_key, *args)

        with monkeypatch.context() as patch:
            patch.setattr(S3Storage, "_put_multipart", put_multipart)
            failed = home.run("ingest", str(transfer))
        assert killed, "the big file was never uploaded in parts"
        assert failed.exit_code != 0
        no_traceback(failed)
        assert failed.stderr.startswith("error: ") and server.endpoint in failed.stderr
        assert "cannot connect" in failed.stderr and "server is running" in failed.stderr

        server.start()
        assert home.ok("list", "--json").json() == []  # nothing catalogued
        (orphan,) = in_flight
        assert len(uploads_of(client, bucket, orphan)) == 1  # the upload in flight when the server died
        first_root = orphan.split("v1/content/", 1)[0]
        assert not [k for k in keys(client, bucket, first_root) if k.endswith("inventory.json")]

        result = home.ingest(transfer)
        assert result["files"] and not result["warnings"]
        listed = home.ok("list", "--json").json()
        assert isinstance(listed, list) and [p["package"] for p in listed] == [result["package"]]
        verified = home.ok("verify", "--all", "--json").json()
        assert isinstance(verified, dict)
        assert verified["problems"] == [] and verified["packages"] == 1
        assert unfinished_uploads(client, bucket) == []
        assert keys(client, bucket, first_root) == []  # no partial object of the first attempt is left
        second_root = f"archive/{ocfl_root_of(str(result['package']))}"
        assert first_root != second_root
        objects = [k for k in keys(client, bucket, "archive/ocfl/") if "/urn%3auuid%3a" in k]
        assert objects and all(k.startswith(second_root) for k in objects)  # one package's object, nothing else
        assert_no_orphan_upload(client, bucket, orphan)  # the recovery of the next write swept it


def test_an_s3_replica_down_at_ingest_does_not_block_it_and_replicate_catches_up(home: Home) -> None:
    with private_s3_server() as server:
        bucket = server.make_bucket()
        add_s3_location(home, server.endpoint, bucket, "replica")  # the configured (default) timeouts and retries
        started = time.monotonic()
        first = home.ingest(EXAMPLE_TRANSFER)  # the same ingest with the replica up: the baseline
        baseline = time.monotonic() - started
        assert first["warnings"] == []
        server.stop()

        started = time.monotonic()
        result = home.ingest(EXAMPLE_TRANSFER, "--allow-duplicate")
        waited = time.monotonic() - started - baseline
        print(f"ingest with the S3 replica down waited {waited:.1f} s longer (baseline {baseline:.1f} s)")

        given = result["warnings"]
        assert isinstance(given, list)
        warnings = [str(w) for w in given if LOCATION in str(w)]
        assert len(warnings) == 1 and "strongroom replicate" in warnings[0], given
        assert "nothing is listening" in warnings[0] and server.endpoint in warnings[0]
        # Opening the replica: 5 attempts, each refused at once, with jittered back-off of at most 1+2+4+8 s.
        assert waited < 25  # measured: 1 to 11 s
        rows = {r["name"]: r for r in home.ok("location", "list", "--json").json()["locations"]}  # type: ignore[index]
        assert rows["primary"]["current"] == 2 and rows[LOCATION]["packages"] == 1  # nothing recorded as copied

        server.start()
        rerun = home.ok("replicate", "--json").json()
        assert isinstance(rerun, dict)
        assert [c["package"] for c in rerun["copied"]] == [result["package"]] and rerun["failures"] == []
        audit = home.ok("audit", "--json").json()
        assert audit["problems"] == [] and len(audit["copies"]) == 4  # type: ignore[index]


# --- 7. bad input at `location add` time ---------------------------------------------------------------------------


@pytest.fixture
def locked_bucket(bucket: tuple[str, str]) -> Iterator[str]:
    """A bucket made with S3 Object Lock (so versioned), emptied version by version afterwards."""
    client = s3_client(bucket[0])
    name = f"strongroom-lock-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    try:
        yield name
    finally:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
        client.delete_bucket(Bucket=name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again at once: connections there are refused


def test_bad_s3_location_input_says_which_and_changes_nothing(
    home: Home, bucket: tuple[str, str], locked_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, name = bucket
    config = home.path / "strongroom.toml"
    before = config.read_text(encoding="utf-8")
    secret, key_id = os.environ["AWS_SECRET_ACCESS_KEY"], os.environ["AWS_ACCESS_KEY_ID"]
    assert secret and key_id

    def refused(*args: str) -> str:
        started = time.monotonic()
        result = home.run("location", "add", LOCATION, *args)
        assert time.monotonic() - started < 15  # `location add` checks with short timeouts
        assert result.exit_code != 0
        no_traceback(result)
        assert config.read_text(encoding="utf-8") == before  # strongroom.toml unchanged
        return " ".join(result.stderr.split())  # rich wraps long lines

    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    said = refused("--s3", missing, "--endpoint-url", endpoint)
    assert f"The S3 bucket {missing!r} does not exist at {endpoint}" in said

    port = free_port()
    said = refused("--s3", name, "--endpoint-url", f"http://127.0.0.1:{port}")
    assert f"Cannot reach the S3 endpoint http://127.0.0.1:{port}: nothing is listening there" in said

    said = refused("--s3", name, "--endpoint-url", endpoint, "--object-lock")
    assert "S3 Object Lock is not enabled on the bucket" in said and "--object-lock" in said

    with monkeypatch.context() as patch:
        patch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
        said = refused("--s3", name, "--endpoint-url", endpoint)
    assert "refused the credentials" in said and "the secret access key does not match the access key id" in said
    assert "not-the-secret" not in said

    added = add_s3_location(home, endpoint, locked_bucket, "locked", "--object-lock")
    assert added["object_lock"] is True and added["kind"] == "s3"
    text = config.read_text(encoding="utf-8")
    assert f'[locations.{LOCATION}]\nkind = "s3"\nobject_lock = true\nbucket = "{locked_bucket}"' in text
    listed = home.ok("location", "list", "--json").json()
    assert [r["object_lock"] for r in listed["locations"]] == [False, True]  # type: ignore[index]
    assert "+lock" in home.ok("location", "list").stdout
    package = str(home.ingest(EXAMPLE_TRANSFER)["package"])
    assert home.ok("audit", "--location", LOCATION, "--json").json()["problems"] == []  # type: ignore[index]
    assert any(k.startswith(f"locked/{ocfl_root_of(package)}") for k in keys(s3_client(endpoint), locked_bucket))

    # Credentials come from the AWS chain only: neither the secret nor the key id is ever written down.
    assert secret not in text and key_id not in text and "not-the-secret" not in text
