"""DROID 6.5.2 as a correctness oracle: run its command line on a folder and read its answers per file.

DROID's two command-line modes answer differently, so both are here:

- **Profile mode** (`-a DIR -p X.droid`, then `-p X.droid -E out.csv`) is what archivists run and what
  Strongroom's engine follows: signature and container matches, priorities, extension-only matches
  (only against formats with no internal signature, `profile.matchAllExtensions=false`) and the
  extension-mismatch flag, with the method named per file. Profile mode has no `-Ns`/`-Nc`: the signature
  files go into a private `user.home` (`~/.droid6/signature_files`, `container_sigs`) and are made the
  defaults in its `droid.properties`; archives are not opened and `profile.maxBytesToScan` is -1 (whole
  files, as `-Nr` scans them) unless asked otherwise. DROID's own profile default is 65536: on the
  shared corpus that leaves the MP4s (fmt/199) Unknown and changes two more answers.
- **No-profile mode** (`-Nr DIR -R -Ns SIG -Nc CONTAINER -q`) prints only `path,PUID` lines, one per
  format after priorities (several lines for several matches), `path,Unknown` when nothing matched,
  never an extension-only match, no method and no mismatch flag; it scans whole files (no byte limit).
  Without `-q` it first prints a "Runtime Information" block; `-A`/`-At` open archives and add one
  line per member; the log line "Starting DROID." goes to stdout. On the shared corpus its PUIDs equal
  profile mode's (whole files) for every file that profile mode did not match by extension alone.

`user.home` always points at a temporary folder so DROID's configuration and Derby profiles never touch
the real home.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DROID_VERSION = "6.5.2"
MAIN_CLASS = "uk.gov.nationalarchives.droid.command.DroidCommandLine"
REPO = Path(__file__).resolve().parents[2]
SHARED_PRONOM = REPO.parent / "shared" / "pronom"
PACKAGED_PRONOM = REPO / "strongroom" / "data" / "pronom"
SIGNATURE_NAME = "DROID_SignatureFile_V122.xml"
CONTAINER_NAME = "container-signature-20260119.xml"
DROID_DEFAULT_MAX_BYTES = 65536  # DROID's profile.maxBytesToScan out of the box (not used by default here)
WHOLE_FILE = -1  # what -Nr uses, and the engine follows
_BINARY_NAME = re.compile(r"^DROID_SignatureFile_V\d+\.xml$")
_CONTAINER_NAME = re.compile(r"^container-signature-\d{8}\.xml$")


class DroidError(RuntimeError):
    """DROID could not be run or its answer could not be read."""


@dataclass(frozen=True)
class DroidAnswer:
    """DROID's answer for one file.

    `puids` are sorted (DROID's own order is its database's, not a ranking); `method` is DROID's METHOD
    column ("Signature", "Container", "Extension") or None when nothing matched (or in no-profile mode,
    which does not say).
    """

    puids: tuple[str, ...]
    method: str | None
    extension_mismatch: bool = False


def signature_files() -> tuple[Path, Path]:
    """The V122 and 2026 container files: the package's copies when present, else the shared ones."""
    for folder in (PACKAGED_PRONOM, SHARED_PRONOM):
        binary, container = folder / SIGNATURE_NAME, folder / CONTAINER_NAME
        if binary.is_file() and container.is_file():
            return binary, container
    raise DroidError(f"{SIGNATURE_NAME} and {CONTAINER_NAME} not found in {PACKAGED_PRONOM} or {SHARED_PRONOM}")


def droid_lib() -> Path | None:
    """The folder of DROID's jars that scripts/tools.sh fills, or None when DROID or Java is missing."""
    tools = Path(os.environ.get("STRONGROOM_TOOLS_DIR", Path.home() / ".local/share/strongroom/tools"))
    lib = tools / "droid" / "lib"
    if not (lib / f"droid-command-line-{DROID_VERSION}.jar").is_file() or shutil.which("java") is None:
        return None
    return lib


def _java(lib: Path, home: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    # Derby (profile mode's database) writes derby.log into the working folder unless told otherwise
    command = ["java", f"-Duser.home={home}", f"-Djava.io.tmpdir={home}", f"-Dderby.stream.error.file={home}/derby.log",
               "-cp", f"{lib}/*", MAIN_CLASS]  # fmt: skip
    try:
        done = subprocess.run(
            command + args, capture_output=True, text=True, encoding="utf-8", timeout=timeout, check=False, cwd=home
        )  # run in `home` too, so nothing DROID writes lands in the caller's folder
    except subprocess.TimeoutExpired as exc:
        raise DroidError(f"DROID did not finish in {timeout:.0f} s: {' '.join(args)}") from exc
    if done.returncode != 0:
        raise DroidError(f"DROID exited with {done.returncode} for {' '.join(args)}:\n{done.stderr[-2000:]}")
    return done


def _configure_home(lib: Path, home: Path, binary: Path, container: Path, max_bytes: int) -> None:
    """Create DROID's config under `home`, then make the given signature files its defaults."""
    if not _BINARY_NAME.match(binary.name) or not _CONTAINER_NAME.match(container.name):
        raise DroidError(
            f"DROID reads signature versions from file names: {binary.name} must look like "
            f"DROID_SignatureFile_V122.xml and {container.name} like container-signature-20260119.xml"
        )
    _java(lib, home, ["-X"], timeout=120)  # first run writes ~/.droid6 with droid.properties
    droid6 = home / ".droid6"
    shutil.copyfile(binary, droid6 / "signature_files" / binary.name)
    shutil.copyfile(container, droid6 / "container_sigs" / container.name)
    settings = {
        "profile.defaultBinarySigFileVersion": binary.stem,
        "profile.defaultContainerSigFileVersion": container.stem,
        "update.autoCheck": "false",  # no network calls
        "profile.maxBytesToScan": str(max_bytes),
        "profile.matchAllExtensions": "false",
        "profile.generateHash": "false",
    }
    for kind in ("Tar", "Zip", "Gzip", "Rar", "7zip", "Iso", "Bzip2", "Arc", "Warc"):
        settings[f"profile.process{kind}"] = "false"  # identify archives as files, never their members
    properties = droid6 / "droid.properties"
    lines = [
        ln for ln in properties.read_text(encoding="utf-8").splitlines() if ln.split("=")[0].strip() not in settings
    ]
    lines += [f"{name} = {value}" for name, value in settings.items()]
    properties.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_droid(
    folder: Path,
    *,
    binary: Path | None = None,
    container: Path | None = None,
    max_bytes_to_scan: int = WHOLE_FILE,
    timeout: float = 1800,
) -> dict[Path, DroidAnswer]:
    """Identify every file under `folder` (recursively) with DROID in profile mode.

    Returns answers keyed by absolute path (as DROID resolved it: `folder.resolve()` below).
    """
    lib = droid_lib()
    if lib is None:
        raise DroidError("DROID is not installed: run `bash scripts/tools.sh` (needs Java 17 and Maven)")
    default_binary, default_container = signature_files()
    binary, container = binary or default_binary, container or default_container
    with tempfile.TemporaryDirectory(prefix="strongroom-droid-") as tmp:
        home = Path(tmp)
        _configure_home(lib, home, binary, container, max_bytes_to_scan)
        profile, export = home / "run.droid", home / "run.csv"
        _java(lib, home, ["-a", str(folder.resolve()), "-R", "-p", str(profile), "-q"], timeout)
        _java(lib, home, ["-p", str(profile), "-E", str(export), "-q"], timeout)
        return parse_profile_csv(export.read_text(encoding="utf-8-sig"))


def parse_profile_csv(text: str) -> dict[Path, DroidAnswer]:
    """Read DROID's `-E` export (one row per format) into one answer per file; folders are left out."""
    rows = list(csv.DictReader(text.splitlines()))
    if rows and not {"FILE_PATH", "TYPE", "METHOD", "PUID", "EXTENSION_MISMATCH"} <= set(rows[0]):
        raise DroidError(f"unexpected DROID export columns: {sorted(rows[0])}")
    puids: dict[Path, set[str]] = {}
    methods: dict[Path, str | None] = {}
    mismatch: dict[Path, bool] = {}
    for row in rows:
        if row["TYPE"] == "Folder":
            continue
        if row["TYPE"] not in ("File", "Container"):
            raise DroidError(f"unexpected DROID row type {row['TYPE']!r} for {row['FILE_PATH']}")
        path = Path(row["FILE_PATH"])
        found = puids.setdefault(path, set())
        if row["PUID"]:
            found.add(row["PUID"])
        methods[path] = row["METHOD"] or None
        mismatch[path] = mismatch.get(path, False) or row["EXTENSION_MISMATCH"] == "true"
    return {
        path: DroidAnswer(tuple(sorted(found)), methods[path] if found else None, mismatch[path])
        for path, found in puids.items()
    }


def run_droid_no_profile(
    folder: Path, *, binary: Path | None = None, container: Path | None = None, timeout: float = 1800
) -> dict[Path, DroidAnswer]:
    """Identify every file under `folder` with `-Nr` (no profile): PUIDs only, `method` is always None."""
    lib = droid_lib()
    if lib is None:
        raise DroidError("DROID is not installed: run `bash scripts/tools.sh` (needs Java 17 and Maven)")
    default_binary, default_container = signature_files()
    binary, container = binary or default_binary, container or default_container
    with tempfile.TemporaryDirectory(prefix="strongroom-droid-") as tmp:
        args = ["-Nr", str(folder.resolve()), "-R", "-Ns", str(binary), "-Nc", str(container), "-q"]
        return parse_no_profile(_java(lib, Path(tmp), args, timeout).stdout)


def parse_no_profile(text: str) -> dict[Path, DroidAnswer]:
    """Read `path,PUID` / `path,Unknown` lines (a file with several formats has several lines)."""
    found: dict[Path, set[str]] = {}
    for line in text.splitlines():
        if not line.startswith("/"):
            continue  # log lines ("... INFO [main] ... Starting DROID.")
        path_text, sep, puid = line.rpartition(",")
        if not sep or not re.fullmatch(r"(x-)?fmt/\d+|Unknown", puid):
            raise DroidError(f"unexpected DROID output line: {line!r}")
        puids = found.setdefault(Path(path_text), set())
        if puid != "Unknown":
            puids.add(puid)
    return {path: DroidAnswer(tuple(sorted(p)), None) for path, p in found.items()}
