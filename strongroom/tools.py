"""Find the external tools Strongroom can use (JHOVE, veraPDF, MediaInfo, ExifTool, pdftotext, Tika, Java, and the
migration tools: LibreOffice, ImageMagick, Ghostscript, FFmpeg, Poppler's pdfinfo) and their versions.

All are optional: a missing tool means its checks are "not checked" (or a record's text "not extracted"), never a
failed ingest. `bash scripts/tools.sh` installs them: Debian packages on PATH, and the JHOVE, veraPDF and Tika server
jars under $STRONGROOM_TOOLS_DIR (default ~/.local/share/strongroom/tools). Versions come from running each tool with a
fast flag, in parallel; nothing is cached between calls, so an install shows up at once.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "bash scripts/tools.sh"
TOOLS_DIR_VARIABLE = "STRONGROOM_TOOLS_DIR"
PROBE_TIMEOUT = 30.0  # seconds; a JVM start on a busy machine can take several
JHOVE_MAIN = "edu.harvard.hul.ois.jhove.Jhove"
# Ingest never contacts URLs named in depositors' files (SSRF, privacy). JHOVE's XML module fetches external DTDs
# itself, past the JAXP limits, so every URL connection also goes to a proxy on a closed local port and fails.
_NOWHERE = (
    "-Dhttp.proxyHost=127.0.0.1",
    "-Dhttp.proxyPort=9",
    "-Dhttps.proxyHost=127.0.0.1",
    "-Dhttps.proxyPort=9",
    "-Dftp.proxyHost=127.0.0.1",
    "-Dftp.proxyPort=9",
    "-Dhttp.nonProxyHosts=",
    "-Djava.net.useSystemProxies=false",
)
JVM_NO_NETWORK = ("-Djavax.xml.accessExternalDTD=", "-Djavax.xml.accessExternalSchema=", *_NOWHERE,
                  "-Djava.awt.headless=true")  # fmt: skip


@dataclass(frozen=True)
class ToolStatus:
    name: str  # jhove, verapdf, mediainfo, exiftool, java (and clamd, reported by the virus-scan module)
    purpose: str
    found: bool
    version: str | None
    command: tuple[str, ...] | None  # argv prefix that runs it; files and options follow
    how_to_install: str
    note: str | None = None  # why a tool that is present could not be used, e.g. its version check failed


def tools_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get(TOOLS_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "strongroom" / "tools"


def _run(argv: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    """stdout+stderr of a version check, or None when it could not run or failed."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=PROBE_TIMEOUT, env=dict(environ),
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout + done.stderr


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def find_java(environ: Mapping[str, str]) -> str | None:
    """The java to run jars with: $JAVA_HOME/bin/java, else java on PATH."""
    return _java(environ)


def _java(environ: Mapping[str, str]) -> str | None:
    home = environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return _which("java", environ)


def _status(
    name: str, purpose: str, command: tuple[str, ...] | None, version_args: tuple[str, ...], pattern: str,
    environ: Mapping[str, str], missing: str, how: str = INSTALL_HINT,
) -> ToolStatus:  # fmt: skip
    if command is None:
        return ToolStatus(name, purpose, False, None, None, how, missing)
    output = _run(command + version_args, environ)
    if output is None:
        return ToolStatus(name, purpose, False, None, None, how, f"{' '.join(command[:1])} is there but "
                          f"`{' '.join(version_args)}` failed; reinstall with {how}")  # fmt: skip
    match = re.search(pattern, output)
    return ToolStatus(name, purpose, True, match.group(1) if match else output.strip()[:40] or None, command, how)


def _probe_java(environ: Mapping[str, str]) -> ToolStatus:
    java = _java(environ)
    return _status("java", "runs JHOVE and veraPDF", (java,) if java else None, ("-version",),
                   r'version "([^"]+)"', environ, "java not on PATH (Debian: openjdk-17-jre-headless)")  # fmt: skip


def _probe_jhove(environ: Mapping[str, str]) -> ToolStatus:
    purpose = "validates PDF, TIFF, JPEG, JPEG 2000, GIF, WAV, AIFF, XML, HTML and UTF-8 text"
    home = tools_dir(environ) / "jhove"
    cores = sorted((home / "lib").glob("jhove-core-*.jar"))
    java = _java(environ)
    if not cores or not (home / "jhove.conf").is_file():
        return _status("jhove", purpose, None, (), "", environ, f"not installed in {home}")
    if java is None:
        return _status("jhove", purpose, None, (), "", environ, "needs java, which is not on PATH")
    # jhove-apps is a fat jar holding older core classes: the newest core jar must come first.
    classpath = f"{cores[-1]}{os.pathsep}{home / 'lib' / '*'}"
    command = (java, *JVM_NO_NETWORK, "-cp", classpath, JHOVE_MAIN, "-c", str(home / "jhove.conf"))
    return _status("jhove", purpose, command, ("-v",), r"Rel\. ([0-9][^,\s)]*)", environ, "")


def _probe_verapdf(environ: Mapping[str, str]) -> ToolStatus:
    purpose = "checks PDF/A conformance (files that claim PDF/A)"
    home = tools_dir(environ) / "verapdf"
    jars = sorted(home.glob("cli-*.jar"))
    java = _java(environ)
    if not jars:
        return _status("verapdf", purpose, None, (), "", environ, f"not installed in {home}")
    if java is None:
        return _status("verapdf", purpose, None, (), "", environ, "needs java, which is not on PATH")
    command = (java, *JVM_NO_NETWORK, "-jar", str(jars[-1]))
    return _status("verapdf", purpose, command, ("--version",), r"veraPDF ([0-9][^\s]*)", environ, "")


def _probe_mediainfo(environ: Mapping[str, str]) -> ToolStatus:
    found = _which("mediainfo", environ)
    return _status("mediainfo", "describes audio and video: duration, codecs, channels, frame size",
                   (found,) if found else None, ("--Version",), r"v([0-9][0-9.]*)", environ,
                   "mediainfo not on PATH (Debian: mediainfo)")  # fmt: skip


def _probe_exiftool(environ: Mapping[str, str]) -> ToolStatus:
    found = _which("exiftool", environ)
    return _status("exiftool", "reads embedded metadata of images, PDFs, audio and video",
                   (found,) if found else None, ("-ver",), r"([0-9][0-9.]*)", environ,
                   "exiftool not on PATH (Debian: libimage-exiftool-perl libarchive-zip-perl)")  # fmt: skip


def probe_pdftotext(environ: Mapping[str, str]) -> ToolStatus:
    found = _which("pdftotext", environ)
    return _status("pdftotext", "extracts the text of PDF records for full-text search",
                   (found,) if found else None, ("-v",), r"pdftotext version ([0-9][0-9.]*)", environ,
                   "pdftotext not on PATH (Debian: poppler-utils)")  # fmt: skip


def probe_pdfium(environ: Mapping[str, str]) -> ToolStatus:
    """PDFium (pypdfium2, a Python requirement): found when its helper process starts and says its version."""
    from strongroom.fulltext.limits import ExtractionFailed, ToolMissing
    from strongroom.fulltext.pdfium import HELPER, PdfiumHelpers

    helpers = PdfiumHelpers()
    how = "pip install pypdfium2 (one of Strongroom's own requirements: bash scripts/install.sh)"
    try:
        version = helpers.start_check()
    except (ToolMissing, ExtractionFailed) as problem:
        return ToolStatus("pdfium", _PDFIUM_PURPOSE, False, None, None, how, problem.reason)
    finally:
        helpers.close()
    return ToolStatus("pdfium", _PDFIUM_PURPOSE, True, version, (sys.executable, "-I", str(HELPER)), how)


_PDFIUM_PURPOSE = "extracts the text of PDF records for full-text search (in helper processes)"


def tika_jar(environ: Mapping[str, str]) -> Path | None:
    """The newest Tika server jar under the tools folder, if any."""
    jars = sorted((tools_dir(environ) / "tika").glob("tika-server-standard-*.jar"))
    return jars[-1] if jars else None


def _probe_tika(environ: Mapping[str, str]) -> ToolStatus:
    # Not started here (a JVM start costs seconds): the version is the jar's, which tools.sh pins.
    purpose = "extracts the text of office documents (Word, Excel, PowerPoint, ODF, RTF) for full-text search"
    jar = tika_jar(environ)
    java = _java(environ)
    if jar is None:
        return _status("tika", purpose, None, (), "", environ, f"not installed in {tools_dir(environ) / 'tika'}")
    if java is None:
        return _status("tika", purpose, None, (), "", environ, "needs java, which is not on PATH")
    version = jar.name.removeprefix("tika-server-standard-").removesuffix(".jar")
    return ToolStatus("tika", purpose, True, version, (java, *JVM_NO_NETWORK, "-jar", str(jar)), INSTALL_HINT,
                      "Apache Tika server, started on 127.0.0.1 during an ingest")  # fmt: skip


def _probe_clamd(environ: Mapping[str, str]) -> ToolStatus:
    from strongroom.ingest.virus import HOW_TO_SET_UP, ClamdScanner, ScannerUnavailableError, default_socket

    socket_path = default_socket(environ)
    purpose = "scans every file of a transfer for viruses (ClamAV's daemon, through its socket)"
    if socket_path is None:
        return ToolStatus("clamd", purpose, False, None, None, HOW_TO_SET_UP, "no clamd socket configured or found")
    try:
        info = ClamdScanner(socket_path, timeout=5.0).info()
    except ScannerUnavailableError as err:
        return ToolStatus("clamd", purpose, False, None, None, HOW_TO_SET_UP, f"{socket_path}: {err.reason}")
    version = f"{info.engine_version} (database {info.database_version})"
    return ToolStatus("clamd", purpose, True, version, None, HOW_TO_SET_UP, f"socket {socket_path}")


def _probe_migration_tool(name: str, environ: Mapping[str, str]) -> ToolStatus:
    """A tool of the packaged migration policy's [tools] table, found and asked its version as migrations do."""
    from strongroom.preservation.policy import load_policy
    from strongroom.preservation.toolrun import ToolRunner

    policy = load_policy(None)
    spec = policy.tools[name]
    rules = [rule.id for rule in policy.rules if rule.tool == name]
    purpose = spec.purpose + (f" (migration rules: {', '.join(rules)})" if rules else "")
    packages = spec.debian_package.split()
    how = f"{INSTALL_HINT} (Debian package{'s' if len(packages) > 1 else ''}: {' '.join(packages)})"
    runner = ToolRunner({name: spec}, environ)
    if not runner.available(name):
        return ToolStatus(name, purpose, False, None, None, how, f"none of {', '.join(spec.executables)} on PATH")
    executable = runner.require(name)
    version = runner.version(name)
    if version == "unknown":
        return ToolStatus(name, purpose, True, None, (executable,), how,
                          f"`{' '.join(spec.version_args)}` did not give a version")  # fmt: skip
    return ToolStatus(name, purpose, True, version, (executable,), how)


# The migration policy's tools `doctor` lists (pdftotext is there already, for full-text extraction).
MIGRATION_TOOLS = ("libreoffice", "imagemagick", "compare", "identify", "ghostscript", "ffmpeg", "ffprobe", "pdfinfo")

Probe = Callable[[Mapping[str, str]], ToolStatus]

# What characterisation needs.
CHARACTERISATION_PROBES: tuple[Probe, ...] = (_probe_jhove, _probe_verapdf, _probe_mediainfo, _probe_exiftool,
                                              _probe_java)  # fmt: skip
# What full-text extraction needs (strongroom.fulltext finds them itself, the same way).
TEXT_PROBES: tuple[Probe, ...] = (probe_pdfium, probe_pdftotext, _probe_tika)
# What migration needs (strongroom.preservation.toolrun finds them itself, from the policy's [tools] table).
MIGRATION_PROBES: tuple[Probe, ...] = tuple(functools.partial(_probe_migration_tool, name) for name in MIGRATION_TOOLS)
# The tools `find_tools` reports, in this order (the clamd probe is for `doctor`; ingest opens its scanner itself).
PROBES: tuple[Probe, ...] = (*CHARACTERISATION_PROBES, *TEXT_PROBES, *MIGRATION_PROBES, _probe_clamd)


def find_tools(environ: Mapping[str, str] | None = None, *, probes: tuple[Probe, ...] = PROBES) -> list[ToolStatus]:
    """Every tool, found or not, with its version; the checks run in parallel (about a JVM start in all)."""
    env = dict(os.environ if environ is None else environ)
    with ThreadPoolExecutor(max_workers=len(probes) or 1) as pool:
        return list(pool.map(lambda probe: probe(env), probes))


def tool_named(tools: Sequence[ToolStatus], name: str) -> ToolStatus | None:
    """The status of the tool called `name` if it was found and can run, else None."""
    for tool in tools:
        if tool.name == name and tool.found and tool.command:
            return tool
    return None
