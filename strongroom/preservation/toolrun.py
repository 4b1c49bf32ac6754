"""Run the external tools of preservation actions (LibreOffice, ImageMagick, Ghostscript, ffmpeg...) safely.

Every run is an argument list (never a shell) started in its own process group, in the caller's `workdir`
(so rules name their files relatively: no hostile name or odd folder ever reaches a tool's option parser),
with a private folder per run under that workdir for HOME, TMPDIR and the XDG folders, removed afterwards.
Tools see an environment without secrets, read nothing from stdin, and are killed with their whole process
group at the time limit (LibreOffice forks soffice.bin; ffmpeg and Ghostscript can spin on a bad file).
Only the last few KB of stderr are kept: enough for the event detail, bounded whatever the tool prints.

ImageMagick gets its own policy.xml in the private folder, found first through MAGICK_CONFIGURE_PATH: it raises
Debian's tight resource caps (256 MiB memory, 128 megapixels, 16K pixels a side, 1 GiB disk: real scans fail)
to sizes an archive needs, and repeats the coder blocks (PostScript, PDF, XPS, URL, MSL, MVG...) so they hold
even where the system policy is missing. The system policy.xml is still read after it, so its blocks stay.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from strongroom.errors import ConfigError, StrongroomError
from strongroom.preservation.actions import ToolRun

INSTALL_HINT = "bash scripts/tools.sh"
STDERR_LIMIT = 8192  # bytes of stderr kept: the tail, where tools say why they stopped
VERSION_TIME_LIMIT = 30.0
_KILL_GRACE = 5.0  # seconds to wait for a killed group's pipes to close

# Environment variables never passed to a tool: storage and database credentials, and Strongroom's own.
_SECRET_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "GCP_", "STRONGROOM_", "PG", "MYSQL_", "OPENAI_", "GH_", "GITHUB_")
_SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL", "PASSPHRASE", "API_KEY", "ACCESS_KEY",
                 "PRIVATE_KEY", "AUTH")  # fmt: skip
_SECRET_NAMES = {"DATABASE_URL", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "KRB5CCNAME"}
_PRIVATE_PLACEHOLDERS = re.compile(r"\{(private|private_url)\}")

_IMAGEMAGICK_POLICY = """<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by Strongroom for one run: resource caps sized for archival scans; dangerous coders stay blocked. -->
<policymap>
  <policy domain="resource" name="memory" value="2GiB"/>
  <policy domain="resource" name="map" value="4GiB"/>
  <policy domain="resource" name="width" value="64KP"/>
  <policy domain="resource" name="height" value="64KP"/>
  <policy domain="resource" name="area" value="1GP"/>
  <policy domain="resource" name="disk" value="16GiB"/>
  <policy domain="path" rights="none" pattern="@*"/>
  <policy domain="delegate" rights="none" pattern="*"/>
  <policy domain="coder" rights="none" pattern="{PS,PS2,PS3,EPS,EPSF,EPSI,EPI,EPT,PDF,PDFA,XPS,PCL}"/>
  <policy domain="coder" rights="none" pattern="{URL,HTTP,HTTPS,FTP,MSL,MVG,TEXT,SHOW,WIN,X,PLT}"/>
</policymap>
"""


@dataclass(frozen=True)
class ToolSpec:
    """One external tool as the migration policy's [tools] table names it."""

    name: str  # the policy's name for it: libreoffice, imagemagick, ghostscript, ffmpeg...
    executables: tuple[str, ...]  # the first found on PATH (or an absolute path that exists) wins
    debian_package: str  # what to install when it is missing (several packages: separated by spaces)
    version_args: tuple[str, ...]
    version_pattern: str  # a regex; group 1 (or the whole match) is the version
    purpose: str
    label: str = ""  # the name people know it by ("ImageMagick"); the policy name when empty

    @property
    def display_name(self) -> str:
        return self.label or self.name


class MissingToolError(StrongroomError):
    """The tool a rule needs is not installed: the message names the Debian package that provides it."""

    def __init__(self, spec: ToolSpec) -> None:
        packages = spec.debian_package.split()
        what = "the Debian package" if len(packages) == 1 else "the Debian packages"
        super().__init__(
            f"{spec.display_name} is not installed: install {what} {' '.join(packages)} ({INSTALL_HINT})",
            details=[f"looked for {', '.join(spec.executables)} on PATH",
                     "or name another executable in <home>/migration-policy.toml, under tools"],
        )  # fmt: skip
        self.tool = spec.name


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without credentials: no cloud or database secrets, nothing of Strongroom's own settings."""
    kept = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper in _SECRET_NAMES or upper.startswith(_SECRET_PREFIXES) or any(w in upper for w in _SECRET_WORDS):
            continue
        kept[name] = value
    return kept


def _is_imagemagick(spec: ToolSpec) -> bool:
    return "imagemagick" in spec.debian_package.split() or spec.name in {"imagemagick", "compare", "identify"}


class ToolRunner:
    """Finds and runs the policy's tools; thread-safe; at most `concurrency` runs at once (0: one per CPU)."""

    def __init__(self, tools: Mapping[str, ToolSpec], environ: Mapping[str, str] | None = None,
                 concurrency: int = 0) -> None:  # fmt: skip
        self.tools = dict(tools)
        self.environ = clean_environment(os.environ if environ is None else environ)
        self.concurrency = concurrency if concurrency > 0 else len(os.sched_getaffinity(0))
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    # --- finding ----------------------------------------------------------------------------------------

    def spec(self, name: str) -> ToolSpec:
        try:
            return self.tools[name]
        except KeyError:
            raise ConfigError(
                f"no tool called {name!r} in the migration policy's tools table",
                details=[f"known tools: {', '.join(sorted(self.tools)) or 'none'}"],
            ) from None

    def _find(self, spec: ToolSpec) -> str | None:
        path = self.environ.get("PATH", os.defpath)
        for executable in spec.executables:
            if os.sep in executable:
                if os.access(executable, os.X_OK) and Path(executable).is_file():
                    return executable
                continue
            found = shutil.which(executable, path=path)
            if found:
                return found
        return None

    def available(self, name: str) -> bool:
        return self._find(self.spec(name)) is not None

    def require(self, name: str) -> str:
        """The executable that runs `name`, or MissingToolError naming the package to install."""
        spec = self.spec(name)
        found = self._find(spec)
        if found is None:
            raise MissingToolError(spec)
        return found

    def version(self, name: str) -> str:
        """The tool's version as it reports it (asked once per runner); "unknown" if it will not say."""
        with self._lock:
            cached = self._versions.get(name)
        if cached is not None:
            return cached
        spec = self.spec(name)
        executable = self.require(name)
        found = "unknown"
        with tempfile.TemporaryDirectory(prefix="strongroom-version-") as scratch:
            env = self._environment(Path(scratch), spec)
            try:
                done = subprocess.run(
                    [executable, *spec.version_args], capture_output=True, text=True, errors="replace", env=env,
                    cwd=scratch, stdin=subprocess.DEVNULL, timeout=VERSION_TIME_LIMIT, check=False,
                    start_new_session=True,
                )  # fmt: skip
                match = re.search(spec.version_pattern, done.stdout + "\n" + done.stderr)
                if match:
                    found = (match.group(1) if match.groups() else match.group(0)).strip() or "unknown"
            except (OSError, subprocess.TimeoutExpired):
                pass
        with self._lock:
            self._versions[name] = found
        return found

    # --- running ----------------------------------------------------------------------------------------

    def _environment(self, private: Path, spec: ToolSpec) -> dict[str, str]:
        env = dict(self.environ)
        env.setdefault("PATH", os.defpath)
        env.setdefault("LANG", "C.UTF-8")
        home = private / "home"
        tmp = private / "tmp"
        runtime = private / "runtime"
        for folder in (home, tmp, runtime):
            folder.mkdir(mode=0o700, exist_ok=True)
        env.update({
            "HOME": str(home), "TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp),
            "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_RUNTIME_DIR": str(runtime),
        })  # fmt: skip
        if _is_imagemagick(spec):
            magick = private / "magick"
            magick.mkdir(exist_ok=True)
            (magick / "policy.xml").write_text(_IMAGEMAGICK_POLICY, "utf-8")
            env["MAGICK_CONFIGURE_PATH"] = str(magick)
            env["MAGICK_TEMPORARY_PATH"] = str(tmp)
        return env

    def run(
        self, name: str, args: Sequence[str], *, workdir: Path, time_limit: float, memory_limit: int | None = None,
        stdout: Path | None = None, prepare: Callable[[Path], None] | None = None, output_limit: int | None = None,
    ) -> ToolRun:  # fmt: skip
        """Run tool `name` with `args` in `workdir`; never raises for the tool's own failure (see ToolRun.error).

        "{private}" and "{private_url}" (a file:// URL) in `args` become this run's private folder, which
        `prepare` (if given) may fill before the tool starts; it is removed afterwards. A non-zero exit status
        is an error here; callers for which exit 1 means "different" (compare) read `exit_status` themselves.
        `output_limit` caps the size of any one file the tool writes (RLIMIT_FSIZE): a tiny source that would
        decode into a disk-filling output is stopped there.
        """
        spec = self.spec(name)
        executable = self.require(name)
        version = self.version(name)
        workdir.mkdir(parents=True, exist_ok=True)
        with self._slots:
            private = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=workdir))
            try:
                values = {"private": str(private), "private_url": private.as_uri()}
                argv = [executable, *(_PRIVATE_PLACEHOLDERS.sub(lambda m: values[m.group(1)], a) for a in args)]
                env = self._environment(private, spec)
                if prepare is not None:
                    prepare(private)
                return self._execute(spec, version, argv, workdir, env, time_limit, memory_limit, stdout, output_limit)
            finally:
                shutil.rmtree(private, ignore_errors=True)

    def _execute(
        self, spec: ToolSpec, version: str, argv: list[str], workdir: Path, env: dict[str, str], time_limit: float,
        memory_limit: int | None, stdout: Path | None, output_limit: int | None = None,
    ) -> ToolRun:  # fmt: skip
        preexec = _resource_limits(memory_limit, output_limit) if memory_limit or output_limit else None
        launch = _supervised(argv)
        started = time.monotonic()
        out = open(stdout, "wb") if stdout is not None else None  # noqa: SIM115 - closed in finally
        try:
            try:
                process = subprocess.Popen(
                    launch, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                    stdout=out if out is not None else subprocess.DEVNULL, stderr=subprocess.PIPE,
                    start_new_session=True, preexec_fn=preexec,  # only setrlimit: safe between fork and exec
                )  # fmt: skip
            except OSError as exc:
                return ToolRun(spec.name, version, tuple(argv), None, time.monotonic() - started, "",
                               f"could not start {argv[0]}: {exc.strerror or exc}")  # fmt: skip
            tail = _StderrTail(process)
            timed_out = False
            try:
                process.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                timed_out = True
            # The whole group: children the tool left behind (soffice.bin, ffmpeg helpers) go too.
            _kill_group(process.pid)
            if timed_out:
                process.wait()
            tail.join(_KILL_GRACE)
        finally:
            if out is not None:
                out.close()
        seconds = time.monotonic() - started
        stderr = tail.text()
        if timed_out:
            stopped = f"stopped at the time limit of {time_limit:g} s (the tool and its children were killed)"
            return ToolRun(spec.name, version, tuple(argv), None, seconds, stderr, stopped)
        status = process.returncode
        if launch is not argv and status > 128 and (status - 128) in _SIGNALS:
            status = 128 - status  # the supervising shell reports a tool killed by signal N as 128 + N
        error: str | None = None
        if status < 0:
            error = f"killed by signal {signal.Signals(-status).name}"
            if -status == signal.SIGXFSZ and output_limit:
                error += f" (its output grew past the limit of {output_limit} bytes)"
            elif memory_limit:
                error += " (the memory limit may have been reached)"
        elif status != 0:
            error = f"exited with status {status}"
        return ToolRun(spec.name, version, tuple(argv), status, seconds, stderr, error)


# A tool must not outlive Strongroom: killed with SIGKILL (kill -9, the OOM killer), Strongroom cannot stop its
# tools, and a hung LibreOffice would run on unwatched. So each tool runs under a small shell that the kernel sends
# SIGTERM when Strongroom dies (setpriv --pdeathsig), and that then kills the tool's whole process group, children
# included. Without setpriv (util-linux) the tool runs directly, as before.
_SUPERVISOR_SCRIPT = "trap 'kill -KILL 0' TERM; \"$@\" & wait $!"
_SIGNALS = {int(s) for s in signal.Signals}


def _supervised(argv: list[str]) -> list[str]:
    setpriv = shutil.which("setpriv")
    if setpriv is None or not Path("/bin/sh").is_file():
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", _SUPERVISOR_SCRIPT, "strongroom-tool", *argv]


def _resource_limits(memory: int | None, file_size: int | None) -> Callable[[], None]:
    # Runs in the child between fork and exec: only async-signal-safe system calls, no Python locks taken.
    def apply() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        if file_size:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return apply


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class _StderrTail:
    """Reads a process's stderr on a thread, keeping only the last STDERR_LIMIT bytes."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._buffer = bytearray()
        self._dropped = 0
        self._stream = process.stderr
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        stream = self._stream
        if stream is None:
            return
        with stream:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                self._buffer += chunk
                if len(self._buffer) > 2 * STDERR_LIMIT:
                    cut = len(self._buffer) - STDERR_LIMIT
                    self._dropped += cut
                    del self._buffer[:cut]

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        data = bytes(self._buffer[-STDERR_LIMIT:])
        dropped = self._dropped + max(0, len(self._buffer) - STDERR_LIMIT)
        text = data.decode("utf-8", errors="replace")
        return f"(… {dropped} earlier bytes of stderr not kept)\n{text}" if dropped else text
