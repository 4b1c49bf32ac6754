"""Two "hosts" on one machine for the distributed-jobs tests: network namespaces joined by a veth pair.

    with two_host_cluster(tmp_path, chunk_files=150, lease_seconds=10) as cluster:
        worker_a = cluster.start_worker("head")      # in sr-head-TAG, beside the servers
        worker_b = cluster.start_worker("node")      # in sr-node2-TAG, reaching them over the veth pair only
        job = cluster.submit("ingest", str(transfer))
        worker_b.kill()                              # SIGKILL to its whole process group, as a dying machine
        cluster.wait(job)

`sr-head-TAG` (10.231.0.1) runs RabbitMQ, PostgreSQL and the S3 server (MinIO) of this test alone, bound to
10.231.0.1 and to 127.0.0.1 inside the namespace; `sr-node2-TAG` (10.231.0.2) has no route anywhere but to
sr-head. Both namespaces share the filesystem, as an NFS mount of `[jobs] shared_dir` would in production.
The test process itself stays in the root namespace: it reads the catalog over PostgreSQL's Unix socket (a
file, so it crosses namespaces) and runs commands in sr-head with `ip netns exec`.

Everything is torn down on the way out, also after a failure: every process left in either namespace is
killed and both namespaces are removed (scripts/netns.sh down). Needs root and iproute2 (`ip netns`).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.catalog import Catalog, open_catalog
from strongroom.jobs.model import JobRecord
from tests.services import REPO, S3_TEST_ACCESS_KEY, S3_TEST_SECRET_KEY, service_binary

NETNS_SCRIPT = REPO / "scripts" / "netns.sh"
SERVICES_SCRIPT = REPO / "scripts" / "services.sh"
BIN = Path(sys.executable).parent
STRONGROOM = BIN / "strongroom"

HEAD_ADDRESS = "10.231.0.1"
NODE_ADDRESS = "10.231.0.2"
POSTGRESQL_PORT = 5432  # each pair of namespaces is a network of its own, so the usual ports are free
AMQP_PORT = 5672
S3_PORT = 9000
BROKER_USER = "strongroom"
BROKER_PASSWORD = "strongroom-test"  # test-only, on a network that reaches nothing
BROKER_VHOST = "strongroom"
BUCKET = "strongroom-twohosts"


def netns_unavailable() -> str | None:
    """Why this machine cannot run the two-host tests, or None when it can."""
    if os.geteuid() != 0:
        return "the two-host tests make network namespaces (ip netns add), which needs root"
    if shutil.which("ip") is None:
        return "the two-host tests need the ip command (iproute2: apt-get install -y iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"ip netns does not work here: {probe.stderr.strip()}"
    return None


def _run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120,
         check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    result = subprocess.run(
        list(argv), capture_output=True, text=True, env=None if env is None else dict(env), timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# --- the namespaces ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Namespaces:
    tag: str
    head: str
    node: str

    def exec_argv(self, host: str, argv: Sequence[str]) -> list[str]:
        """`argv` run inside the namespace of `host` ("head" or "node")."""
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def namespace(self, host: str) -> str:
        if host not in ("head", "node"):
            raise ValueError(f"host must be 'head' or 'node', not {host!r}")
        return self.head if host == "head" else self.node

    def pids(self, host: str) -> set[int]:
        """Every process now in the namespace of `host`."""
        result = _run(["ip", "netns", "pids", self.namespace(host)], check=False)
        return {int(line) for line in result.stdout.split() if line.strip().isdigit()}


def _kill_all(ns: Namespaces) -> None:
    """SIGKILL what is left in both namespaces (all of it started by this harness), and wait until it has gone."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        left = ns.pids("head") | ns.pids("node")
        if not left:
            return
        for pid in left:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    raise RuntimeError(f"processes {sorted(ns.pids('head') | ns.pids('node'))} survived SIGKILL in {ns.head}/{ns.node}")


@contextmanager
def namespaces(tag: str | None = None) -> Iterator[Namespaces]:
    """Make the two namespaces (scripts/netns.sh up TAG); on the way out kill what runs in them and remove them."""
    tag = tag or secrets.token_hex(3)
    result = _run(["bash", str(NETNS_SCRIPT), "up", tag])
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines() if line.startswith("export ")
    )
    ns = Namespaces(tag, exports["STRONGROOM_NETNS_HEAD"], exports["STRONGROOM_NETNS_NODE"])
    try:
        yield ns
    finally:
        try:
            _kill_all(ns)
        finally:
            _run(["bash", str(NETNS_SCRIPT), "down", tag])


# --- servers inside sr-head -------------------------------------------------------------------------------------------


@dataclass
class Server:
    """A server program run in the foreground inside a namespace, as this harness's own child."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout: float = 60) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-20:]) if self.log.exists() else ""
            raise RuntimeError(f"{self.name} stopped (exit {self.process.returncode}); {self.log}:\n{tail}")


def _start(name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None,
           stop_signal: int = signal.SIGTERM) -> Server:  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=None if env is None else dict(env), start_new_session=True,
        )  # fmt: skip
    return Server(name, process, log, stop_signal)


def _wait(what: str, ready: Any, server: Server, timeout: float) -> float:
    """Poll `ready()` until true; returns the seconds it took. A server that stops meanwhile fails at once."""
    started = time.monotonic()
    while not ready():
        server.check_alive()
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{what} was not ready in {timeout:.0f} s; see {server.log}")
        time.sleep(0.2)
    return time.monotonic() - started


def postgresql_bindir() -> Path:
    """The folder of initdb/pg_ctl/postgres, found (or installed) by scripts/services.sh as for the shared server."""
    # Only the function itself is taken from the script: sourcing all of it would run its main.
    script = f'source <(sed -n "/^postgresql_bindir()/,/^}}/p" {SERVICES_SCRIPT}); postgresql_bindir'
    result = _run(["bash", "-c", script], check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(
            "PostgreSQL's server programs (initdb, postgres) are not installed: run "
            "`bash scripts/services.sh start postgresql` once (it installs them), or apt-get install -y postgresql."
        )
    return Path(result.stdout.strip())


@dataclass
class PostgreSQL:
    server: Server
    folder: Path  # also the Unix socket folder
    database: str = "strongroom"

    @property
    def url(self) -> str:
        """The URL the hosts use, over the veth pair."""
        return f"postgresql://postgres@{HEAD_ADDRESS}:{POSTGRESQL_PORT}/{self.database}"

    @property
    def local_url(self) -> str:
        """The URL the test process uses, over the Unix socket (which every namespace reaches)."""
        return f"postgresql://postgres@/{self.database}?host={self.folder}&port={POSTGRESQL_PORT}"


def start_postgresql(ns: Namespaces, stack: ExitStack) -> PostgreSQL:
    bindir = postgresql_bindir()
    # initdb refuses root, and the cluster's owner `postgres` cannot enter pytest's root-only tmp_path: a folder
    # of its own under /tmp, removed when the test ends.
    folder = Path(tempfile.mkdtemp(prefix="sr-twohosts-pg-"))
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    _run(["runuser", "-u", "postgres", "--", str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
          "-E", "UTF8", "--no-sync"])  # fmt: skip
    with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            f"port = {POSTGRESQL_PORT}\nlisten_addresses = '{HEAD_ADDRESS},127.0.0.1'\n"
            f"unix_socket_directories = '{folder}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            "max_connections = 200\n"
        )
    with (data / "pg_hba.conf").open("a", encoding="utf-8") as hba:
        hba.write(f"host all all {HEAD_ADDRESS.rsplit('.', 1)[0]}.0/24 trust\n")
    argv = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "KILL", "--",
            str(bindir / "postgres"), "-D", str(data)]  # fmt: skip
    # SIGINT is PostgreSQL's fast shutdown.
    server = _start("PostgreSQL", ns.exec_argv("head", argv), folder / "server.log", stop_signal=signal.SIGINT)
    stack.callback(server.stop)
    pg = PostgreSQL(server, folder)
    isready = [str(bindir / "pg_isready"), "-q", "-h", str(folder), "-p", str(POSTGRESQL_PORT)]
    _wait("PostgreSQL", lambda: _run(isready, check=False).returncode == 0, server, 60)
    _run([str(bindir / "createdb"), "-h", str(folder), "-p", str(POSTGRESQL_PORT), "-U", "postgres", pg.database])
    return pg


@dataclass
class Broker:
    server: Server
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"amqp://{BROKER_USER}:{BROKER_PASSWORD}@{HEAD_ADDRESS}:{AMQP_PORT}/{BROKER_VHOST}"


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def start_rabbitmq(ns: Namespaces, folder: Path, stack: ExitStack) -> Broker:
    """Debian's rabbitmq-server as a node of this test's own (the settings scripts/services.sh gives the shared one)."""
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        _run(["bash", str(SERVICES_SCRIPT), "binary", "rabbitmq"], timeout=600)  # installs it
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    cookie = folder / ".erlang.cookie"
    cookie.write_text(secrets.token_hex(16), encoding="ascii")
    cookie.chmod(0o400)
    (folder / "rabbitmq-env.conf").write_text("", encoding="utf-8")  # not the system's
    (folder / "enabled_plugins").write_text("[].", encoding="utf-8")
    (folder / "advanced.config").write_text("[].", encoding="utf-8")
    # consumer_timeout above the longest step (JobKind.step_seconds, 1 h), as the recipe's rule 6 says.
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = {HEAD_ADDRESS}:{AMQP_PORT}\nlisteners.tcp.2 = 127.0.0.1:{AMQP_PORT}\n"
        f"default_user = {BROKER_USER}\ndefault_pass = {BROKER_PASSWORD}\ndefault_vhost = {BROKER_VHOST}\n"
        "consumer_timeout = 7200000\ndisk_free_limit.absolute = 50MB\nlog.file.level = warning\nlog.console = false\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "HOME": str(folder),
        "RABBITMQ_NODENAME": f"strongroom-twohosts-{ns.tag}@localhost",
        "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
    }
    server = _start("RabbitMQ", ns.exec_argv("head", [str(RABBITMQ_BIN / "rabbitmq-server")]), folder / "server.log",
                    env=env)  # fmt: skip
    stack.callback(server.stop)
    await_startup = ns.exec_argv("head", [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "await_startup", "--timeout", "5"])
    _wait("RabbitMQ", lambda: _run(await_startup, env=env, check=False, timeout=30).returncode == 0, server, 180)
    return Broker(server, env)


@dataclass
class S3Server:
    server: Server

    @property
    def endpoint(self) -> str:
        return f"http://{HEAD_ADDRESS}:{S3_PORT}"


def start_s3(ns: Namespaces, folder: Path, stack: ExitStack) -> S3Server:
    binary = service_binary("s3")
    (folder / "data").mkdir(parents=True)
    env = {
        **os.environ,
        "MINIO_ROOT_USER": S3_TEST_ACCESS_KEY,
        "MINIO_ROOT_PASSWORD": S3_TEST_SECRET_KEY,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }
    # ":PORT" is every address of sr-head: its 10.231.0.1 and its own loopback, nothing else.
    argv = ["setpriv", "--pdeathsig", "KILL", "--", binary, "server", str(folder / "data"), "--address",
            f":{S3_PORT}", "--quiet"]  # fmt: skip
    server = _start("MinIO", ns.exec_argv("head", argv), folder / "server.log", env=env)
    stack.callback(server.stop)
    probe = ns.exec_argv("head", ["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{S3_PORT}/minio/health/ready"])
    _wait("MinIO", lambda: _run(probe, check=False).returncode == 0, server, 60)
    return S3Server(server)


# --- the cluster --------------------------------------------------------------------------------------------------


def _descendants(root: int) -> set[int]:
    """Every process below `root`, from the parent links in /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a zombie holds nothing and has left its namespace)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@dataclass
class Worker:
    """A `strongroom worker` in one namespace, leader of its own process group (its pool children in it too)."""

    host: str
    process: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL to the worker and everything it started, at once: the machine died.

        The tools a worker runs (Tika's server, JHOVE, ExifTool) sit in sessions of their own so that their time
        limits can kill whole groups; the worker's process group alone would miss them. The tree is stopped first,
        so that nothing in it can start another process between the look and the kill.
        """
        tree = {self.pid}
        for _ in range(20):
            for pid in tree:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            grown = {self.pid} | _descendants(self.pid)
            if grown <= tree:
                break
            tree |= grown
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in tree:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in tree):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {sorted(p for p in tree if _alive(p))} survived SIGKILL")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (a pool child slow to follow its parent) goes now.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""


@dataclass
class Cluster:
    ns: Namespaces
    home: Path
    folder: Path
    env: dict[str, str]
    postgresql: PostgreSQL
    broker: Broker
    s3: S3Server
    timings: dict[str, float]
    workers: list[Worker] = field(default_factory=list)
    _catalog: Catalog | None = None

    def strongroom(self, host: str, *args: str, timeout: float = 600, check: bool = True,
                   ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """`strongroom --home HOME ARGS` run in a namespace, as the client (head) or a node would run it."""
        argv = self.ns.exec_argv(host, [str(STRONGROOM), "--home", str(self.home), *args])
        return _run(argv, env=self.env, timeout=timeout, check=check)

    def python(self, host: str, code: str, timeout: float = 120) -> str:
        """Run Python in a namespace (with the harness's environment); returns what it printed."""
        return _run(self.ns.exec_argv(host, [sys.executable, "-c", code]), env=self.env, timeout=timeout).stdout

    def start_worker(self, host: str, *args: str) -> Worker:
        log = self.folder / f"worker-{host}-{len(self.workers)}.log"
        # setpriv: the worker dies with the test process even if that is killed (it execs, so the pid and the
        # process group stay the worker's own).
        command = ["setpriv", "--pdeathsig", "KILL", "--", str(STRONGROOM), "--home", str(self.home), "worker", *args]
        argv = self.ns.exec_argv(host, command)
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        worker = Worker(host, process, log)
        self.workers.append(worker)
        return worker

    def worker_logs(self) -> str:
        return "\n".join(f"--- {w.log.name} (pid {w.pid}) ---\n{w.log_tail()}" for w in self.workers)

    @property
    def catalog(self) -> Catalog:
        """The cluster's catalog, opened by the test process over PostgreSQL's Unix socket."""
        if self._catalog is None:
            self._catalog = open_catalog(self.postgresql.local_url)
        return self._catalog

    def job(self, job_id: str) -> JobRecord:
        record = self.catalog.job(job_id)
        if record is None:
            raise AssertionError(f"job {job_id} is not in the catalog")
        return record

    def submit(self, *args: str) -> str:
        """Run a long command with --submit --json in sr-head (the client); returns the job id it printed."""
        result = self.strongroom("head", *args, "--submit", "--json", timeout=300)
        data = json.loads(result.stdout)
        job = data["job"]
        return str(job["id"] if isinstance(job, dict) else job)

    def wait(self, job_id: str, timeout: float) -> JobRecord:
        """Poll the catalog until the job has finished; an AssertionError with the workers' logs on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.job(job_id)
            if record.state.finished:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} still {record.state} after {timeout:.0f} s "
                    f"({record.chunks_done}/{record.chunks_total} chunks)\n{self.worker_logs()}"
                )
            time.sleep(0.5)

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None


def _write_settings(home: Path, pg: PostgreSQL, s3: S3Server, broker: Broker, shared: Path,
                    jobs: Mapping[str, Any]) -> None:  # fmt: skip
    """Point the home at the cluster: PostgreSQL catalog, S3 storage, the Celery runner on the broker."""
    config = home / "strongroom.toml"
    text = config.read_text(encoding="utf-8")
    tables: dict[str, str] = {
        "storage": f'kind = "s3"\nbucket = "{BUCKET}"\nprefix = "archive"\nendpoint_url = "{s3.endpoint}"\n',
        "catalog": f'url = "{pg.url}"\n',
    }
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    skipping = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped.strip("[]")
            skipping = name in tables
            if skipping:
                out.append(f"[{name}]\n{tables.pop(name)}\n")
                continue
        if not skipping:
            out.append(line)
    for name, body in tables.items():
        out.append(f"\n[{name}]\n{body}")
    settings = {"runner": "celery", "broker_url": broker.url, "shared_dir": str(shared), **jobs}
    out.append("\n[jobs]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in settings.items()))
    config.write_text("".join(out), encoding="utf-8")


@contextmanager
def two_host_cluster(tmp_path: Path, **jobs: Any) -> Iterator[Cluster]:
    """Namespaces, RabbitMQ + PostgreSQL + MinIO in sr-head, and an archive home on them; `jobs` adds [jobs]
    settings (chunk_files=150, lease_seconds=10, ...). Everything is stopped and removed on the way out."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    folder = tmp_path / "twohosts"
    folder.mkdir()
    with ExitStack() as stack:
        ns = stack.enter_context(namespaces())
        timings["namespaces"] = time.monotonic() - started
        mark = time.monotonic()
        pg = start_postgresql(ns, stack)
        timings["postgresql"] = time.monotonic() - mark
        mark = time.monotonic()
        s3 = start_s3(ns, folder / "s3", stack)
        timings["s3"] = time.monotonic() - mark
        mark = time.monotonic()
        broker = start_rabbitmq(ns, folder / "rabbitmq", stack)
        timings["rabbitmq"] = time.monotonic() - mark
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("STRONGROOM_", "AWS_", "PYTEST_", "RABBITMQ_"))
        }
        env.update(
            AWS_ACCESS_KEY_ID=S3_TEST_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=S3_TEST_SECRET_KEY,
            AWS_DEFAULT_REGION="us-east-1",
            STRONGROOM_OPERATOR="test-archivist",
            # The optional ingest checks (a JVM, a scanner) are not what this test is about.
            STRONGROOM_CHARACTERISE="0",
            STRONGROOM_VIRUS_SCAN="off",
            STRONGROOM_EXTRACT_TEXT="0",
            STRONGROOM_WORKERS="1",
        )
        home = folder / "home"
        shared = folder / "shared-jobs"  # one folder both "hosts" see, as an NFS mount would be
        shared.mkdir()
        cluster = Cluster(ns, home, folder, env, pg, broker, s3, timings)
        stack.callback(cluster.close)
        cluster.python(
            "head",
            f"import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{S3_PORT}', region_name='us-east-1')"
            f".create_bucket(Bucket={BUCKET!r})",
        )
        mark = time.monotonic()
        cluster.strongroom("head", "init", "--organisation", "Two Hosts Archive", "--organisation-id", "THA")
        _write_settings(home, pg, s3, broker, shared, jobs)
        # What init made for its defaults (a SQLite catalog, a storage folder) is not this archive's: away with it.
        shutil.rmtree(home / "storage", ignore_errors=True)
        for leftover in home.glob("catalog.sqlite*"):
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        timings["home"] = time.monotonic() - mark
        timings["cluster up"] = time.monotonic() - started
        yield cluster


__all__ = [
    "HEAD_ADDRESS",
    "NODE_ADDRESS",
    "Cluster",
    "Namespaces",
    "Worker",
    "namespaces",
    "netns_unavailable",
    "two_host_cluster",
]
