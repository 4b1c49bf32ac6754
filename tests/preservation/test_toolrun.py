"""ToolRunner: argv only, a private HOME per run, no secrets, time and memory limits, bounded stderr and concurrency."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from strongroom.errors import ConfigError
from strongroom.preservation.policy import load_policy
from strongroom.preservation.toolrun import STDERR_LIMIT, MissingToolError, ToolRunner, ToolSpec, clean_environment

PYTHON = ToolSpec("python", (sys.executable,), "python3", ("--version",), r"Python ([0-9.]+)", "runs test scripts",
                  label="Python")  # fmt: skip


def runner(**kwargs: object) -> ToolRunner:
    return ToolRunner({"python": PYTHON}, **kwargs)  # type: ignore[arg-type]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie waiting for its reaper is dead
    except FileNotFoundError:
        return False


def test_time_limit_kills_a_hanging_tool_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = ("import os, subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
              f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
              "time.sleep(120)\n")  # fmt: skip
    started = time.monotonic()
    run = runner().run("python", ["-c", script], workdir=tmp_path / "work", time_limit=1.5)
    assert time.monotonic() - started < 15
    assert run.exit_status is None and not run.ok
    assert run.error is not None and "time limit of 1.5 s" in run.error
    parent, child = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while (_alive(parent) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(parent) and not _alive(child), "the tool's child outlived the time limit"


def test_missing_tool_names_the_debian_package(tmp_path: Path) -> None:
    spec = ToolSpec("imagemagick", ("no-such-convert-xyz", "/no/such/magick"), "imagemagick", ("-version",),
                    "x", "converts images", label="ImageMagick")  # fmt: skip
    tools = ToolRunner({"imagemagick": spec})
    assert not tools.available("imagemagick")
    with pytest.raises(MissingToolError) as caught:
        tools.require("imagemagick")
    assert caught.value.message == (
        "ImageMagick is not installed: install the Debian package imagemagick (bash scripts/tools.sh)"
    )
    with pytest.raises(MissingToolError):
        tools.run("imagemagick", ["x"], workdir=tmp_path, time_limit=5)
    several = ToolSpec("lo", ("no-such-soffice",), "libreoffice-writer-nogui libreoffice-calc-nogui", (), "x", "")
    with pytest.raises(MissingToolError, match="the Debian packages libreoffice-writer-nogui libreoffice-calc-nogui"):
        ToolRunner({"lo": several}).require("lo")
    with pytest.raises(ConfigError, match="no tool called 'gimp'"):
        tools.require("gimp")


def test_each_run_has_a_private_home_and_no_secrets(tmp_path: Path) -> None:
    environ = {"PATH": os.environ["PATH"], "AWS_SECRET_ACCESS_KEY": "s3cret", "STRONGROOM_DB_PASSWORD": "pw",
               "STRONGROOM_HOME": "/archive", "GITHUB_TOKEN": "t", "PGPASSWORD": "pg", "MY_API_KEY": "k",
               "HOME": "/root", "KEEP_ME": "yes", "TZ": "UTC"}  # fmt: skip
    script = ("import json, os, sys\n"
              "sys.stdin.read()\n"  # returns at once: stdin is /dev/null
              "open('env.json', 'w').write(json.dumps(dict(os.environ)))\n"
              "open(os.path.join(os.environ['HOME'], 'written'), 'w').write('x')\n")  # fmt: skip
    work = tmp_path / "work"
    run = runner(environ=environ).run("python", ["-c", script], workdir=work, time_limit=30)
    assert run.ok, run.stderr
    seen = json.loads((work / "env.json").read_text())  # relative names resolve in the workdir
    for secret in ("AWS_SECRET_ACCESS_KEY", "STRONGROOM_DB_PASSWORD", "STRONGROOM_HOME", "GITHUB_TOKEN", "PGPASSWORD",
                   "MY_API_KEY"):  # fmt: skip
        assert secret not in seen
    assert seen["KEEP_ME"] == "yes" and seen["TZ"] == "UTC"
    home = Path(seen["HOME"])
    assert home != Path("/root") and home.parent.parent == work
    for key in ("TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"):
        assert Path(seen[key]).is_relative_to(home.parent), key
    assert not home.parent.exists(), "the private folder is removed after the run"
    assert sorted(p.name for p in work.iterdir()) == ["env.json"]
    assert clean_environment({"X_AUTH_HEADER": "a", "LANG": "C"}) == {"LANG": "C"}


def test_private_placeholders_and_prepare(tmp_path: Path) -> None:
    seen: list[Path] = []

    def prepare(private: Path) -> None:
        seen.append(private)
        (private / "given.txt").write_text("from prepare")

    script = "import sys; print(open(sys.argv[1]).read(), sys.argv[2])"
    out = tmp_path / "stdout.txt"
    run = runner().run("python", ["-c", script, "{private}/given.txt", "{private_url}"], workdir=tmp_path / "w",
                       time_limit=30, stdout=out, prepare=prepare)  # fmt: skip
    assert run.ok, run.stderr
    assert out.read_text() == f"from prepare {seen[0].as_uri()}\n"
    assert run.argv[3] == f"{seen[0]}/given.txt" and not seen[0].exists()


def test_exit_status_and_bounded_stderr(tmp_path: Path) -> None:
    script = "import sys; sys.stderr.write('x' * 1_000_000 + 'THE END'); sys.exit(3)"
    run = runner().run("python", ["-c", script], workdir=tmp_path, time_limit=30)
    assert run.exit_status == 3 and run.error == "exited with status 3"
    assert run.stderr.endswith("THE END") and len(run.stderr) < STDERR_LIMIT + 100
    assert "earlier bytes of stderr not kept" in run.stderr


def test_memory_limit_stops_a_greedy_tool(tmp_path: Path) -> None:
    script = "b = bytearray(3 * 1024 ** 3); print(len(b))"
    limited = runner().run("python", ["-c", script], workdir=tmp_path, time_limit=60, memory_limit=512 * 1024**2)
    assert not limited.ok and "MemoryError" in limited.stderr
    unlimited = runner().run("python", ["-c", "b = bytearray(600 * 1024 ** 2)"], workdir=tmp_path, time_limit=60)
    assert unlimited.ok, unlimited.stderr


def test_concurrency_is_bounded_across_threads(tmp_path: Path) -> None:
    one_at_a_time = runner(concurrency=1)
    spans: list[tuple[float, float]] = []
    script = "import time; time.sleep(0.4)"

    def work(number: int) -> None:
        start = time.monotonic()
        run = one_at_a_time.run("python", ["-c", script], workdir=tmp_path / str(number), time_limit=30)
        assert run.ok
        spans.append((start, time.monotonic()))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(spans) == 3 and time.monotonic() - started >= 1.2
    assert runner().concurrency == len(os.sched_getaffinity(0))


def test_version_is_asked_once_per_runner(tmp_path: Path) -> None:
    counter = tmp_path / "asked"
    spec = ToolSpec("counted", (sys.executable,), "python3",
                    ("-c", f"open({str(counter)!r}, 'a').write('x'); print('Counted tool 4.5.6')"),
                    r"Counted tool ([0-9.]+)", "")  # fmt: skip
    tools = ToolRunner({"counted": spec})
    assert tools.version("counted") == "4.5.6" and tools.version("counted") == "4.5.6"
    assert counter.read_text() == "x"
    silent = ToolRunner({"silent": ToolSpec("silent", (sys.executable,), "python3", ("-c", "pass"), "v([0-9]+)", "")})
    assert silent.version("silent") == "unknown"
    assert ToolRunner({"counted": spec}).version("counted") == "4.5.6" and counter.read_text() == "xx"


def test_imagemagick_runs_under_strongrooms_policy(tmp_path: Path) -> None:
    policy = load_policy(None)
    tools = ToolRunner(policy.tools)
    listing = tmp_path / "resources.txt"
    run = tools.run("identify", ["-list", "resource"], workdir=tmp_path, time_limit=30, stdout=listing)
    assert run.ok, run.stderr
    resources = dict(line.strip().split(": ", 1) for line in listing.read_text().splitlines() if ": " in line)
    assert resources["Memory"] == "2GiB" and resources["Area"] == "1GP" and resources["Width"] == "64KP"
    blocked = tmp_path / "policy.txt"
    tools.run("identify", ["-list", "policy"], workdir=tmp_path, time_limit=30, stdout=blocked)
    text = blocked.read_text()
    assert "PDF" in text and "MSL" in text and "rights: None" in text
    # PostScript stays blocked: a PDF given to ImageMagick is refused, not handed to Ghostscript.
    (tmp_path / "in.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    refused = tools.run("imagemagick", ["in.pdf", "out.png"], workdir=tmp_path, time_limit=30)
    assert (
        not refused.ok
        and "not allowed by the security policy `PDF'" in refused.stderr
        and not (tmp_path / "out.png").exists()
    )


def test_tools_die_with_strongroom_even_when_it_is_killed_with_sigkill(tmp_path: Path) -> None:
    # kill -9 gives Strongroom no chance to stop its tools: the kernel's parent-death signal must take the tool and
    # the children it started down, or a hung LibreOffice would run on unwatched with no time limit.
    import signal
    import subprocess

    pids = tmp_path / "pids"
    tool = ("import os, subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
            f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
            "time.sleep(120)\n")  # fmt: skip
    strongroom = ("import sys\n"
                  "from pathlib import Path\n"
                  "from tests.preservation.test_toolrun import runner\n"
                  f"runner().run('python', ['-c', {tool!r}], workdir=Path({str(tmp_path / 'work')!r}), "
                  "time_limit=300)\n")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", strongroom], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 30
    while not (pids.is_file() and len(pids.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    parent, child = (int(p) for p in pids.read_text().split())
    assert _alive(parent) and _alive(child)
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while (_alive(parent) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(parent) and not _alive(child), "a tool outlived the Strongroom process that started it"


def test_a_tool_killed_by_a_signal_is_reported_as_such(tmp_path: Path) -> None:
    run = runner().run("python", ["-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
                       workdir=tmp_path / "work", time_limit=30)  # fmt: skip
    assert run.exit_status == -11 and run.error == "killed by signal SIGSEGV"
