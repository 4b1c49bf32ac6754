"""The Apache Tika server: started on 127.0.0.1 on a free port when first needed, stopped after.

One server serves a whole ingest: a JVM start costs about five seconds, a warm request tens of
milliseconds, and the server takes concurrent requests. Tika parses in a forked child JVM that it
restarts when a parse runs past `taskTimeoutMillis` or runs out of memory, so one bad file does not
take the server down. The JVMs get the same no-network flags as JHOVE and veraPDF: nothing a
depositor's file names is ever fetched.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

from strongroom.fulltext.limits import ExtractionFailed, Limits, RawText, TimeLimitReached, ToolMissing
from strongroom.tools import JVM_NO_NETWORK

START_TIMEOUT = 120.0  # seconds for the JVM to answer; about 5 s on an idle machine
_READ = 64 * 1024
_VERSION = re.compile(r"Apache Tika ([0-9][^\s]*)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(time_limit: float) -> str:
    # The child gives up on a file a little after the client has: its CPU goes back to the other files.
    task_ms = int(max(10.0, time_limit + 5.0) * 1000)
    jvm = "".join(f"<arg>{escape(arg)}</arg>" for arg in ("-Xmx1g", *JVM_NO_NETWORK))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<properties><server><params>'
        f"<taskTimeoutMillis>{task_ms}</taskTimeoutMillis><forkedJvmArgs>{jvm}</forkedJvmArgs>"
        "</params></server></properties>\n"
    )


class TikaServer:
    """One running Tika server; `start()` it, `extract()` from any number of threads, then `stop()`."""

    def __init__(self, java: str, jar: Path, time_limit: float) -> None:
        self.java = java
        self.jar = jar
        self.time_limit = time_limit
        self.port = 0
        self.version = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._restart_lock = threading.Lock()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the server and wait until it answers; ToolMissing (with the log's last lines) if it does not."""
        try:
            self._start(timeout)
        except BaseException:
            # Also on KeyboardInterrupt while waiting for the JVM: no server (nor its child) is left behind.
            self.stop()
            raise

    def _start(self, timeout: float) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="strongroom-tika-")
        folder = Path(self._folder.name)
        config = folder / "tika-config.xml"
        config.write_text(_config(self.time_limit), encoding="utf-8")
        log_path = folder / "tika.log"
        problem = "it did not start"
        for _attempt in range(3):  # another program may take the free port between probe and bind
            self.port = free_port()
            argv = [self.java, *JVM_NO_NETWORK, "-jar", str(self.jar), "-h", "127.0.0.1", "-p", str(self.port),
                    "-c", str(config)]  # fmt: skip
            with log_path.open("ab") as log:
                try:
                    self._process = subprocess.Popen(
                        argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
                        start_new_session=True,
                    )  # fmt: skip
                except OSError as exc:
                    raise ToolMissing(f"the Tika server could not be started: {exc.strerror or exc}") from None
            answer = self._wait_ready(timeout)
            if answer is not None:
                match = _VERSION.search(answer)
                self.version = match.group(1) if match else ""
                return
            exited = self._process is not None and self._process.poll() is not None
            problem = _tail(log_path) if exited else f"no answer within {timeout:g} s"
            self._kill()
            if not exited:
                break  # a slow JVM: another port would not help
        raise ToolMissing(f"the Tika server did not start ({problem})")

    def _wait_ready(self, timeout: float) -> str | None:
        """The server's /version answer once it gives one; None if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return None
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    connection.request("GET", "/version")
                    response = connection.getresponse()
                    body = response.read(4096).decode("utf-8", "replace")
                    # Only Tika's own answer: another program that took the port is not sent any file.
                    if response.status == 200 and _VERSION.search(body):
                        return body
                finally:
                    connection.close()
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.2)
        return None

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                # Its own session: the forked child JVM goes with the parent.
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        # The forked child JVM may outlive the server that started it: whatever is left of the group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._kill()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    # --- requests -----------------------------------------------------------------------------

    def extract(self, path: Path, limits: Limits) -> RawText:
        """PUT the file to /tika and read its plain text, within the limits.

        A refused connection means the child JVM is restarting (after another file ran past its
        time): wait for it once and try again.
        """
        try:
            return self._put(path, limits)
        except (ConnectionError, http.client.RemoteDisconnected):
            with self._restart_lock:
                ready = self._wait_ready(max(0.0, min(30.0, limits.remaining())))
            if ready is None:
                raise ExtractionFailed("the Tika server stopped answering") from None
            try:
                return self._put(path, limits)
            except (ConnectionError, http.client.RemoteDisconnected) as exc:
                raise ExtractionFailed(f"the Tika server did not answer: {exc}") from None

    def _put(self, path: Path, limits: Limits) -> RawText:
        timeout = limits.remaining()
        if timeout <= 0:
            raise TimeLimitReached(f"Apache Tika took longer than the time limit of {limits.time_limit:g} s")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            with path.open("rb") as body:
                headers = {"Accept": "text/plain", "Content-Length": str(os.fstat(body.fileno()).st_size)}
                connection.request("PUT", "/tika", body=body, headers=headers)
                response = connection.getresponse()
            if response.status == 422:
                raise ExtractionFailed(
                    "Apache Tika could not parse the file (HTTP 422): it may be damaged, encrypted or not the "
                    "format it seems"
                )
            if response.status == 204:
                return RawText("")
            if response.status != 200:
                said = response.read(2048).decode("utf-8", "replace").strip().splitlines()
                raise ExtractionFailed(f"Apache Tika answered HTTP {response.status} {response.reason}"
                                       + (f": {said[0][:200]}" if said else ""))  # fmt: skip
            data = bytearray()
            while len(data) <= limits.max_bytes:
                remaining = limits.remaining()
                if remaining <= 0:
                    raise TimeLimitReached(f"Apache Tika took longer than the time limit of {limits.time_limit:g} s")
                if connection.sock is not None:
                    connection.sock.settimeout(remaining)
                chunk = response.read(_READ)
                if not chunk:
                    break
                data += chunk
            more = len(data) > limits.max_bytes
            return RawText(bytes(data[: limits.max_bytes]).decode("utf-8", "replace"), (), more)
        except TimeoutError:
            raise TimeLimitReached(f"Apache Tika took longer than the time limit of {limits.time_limit:g} s") from None
        except http.client.RemoteDisconnected:
            raise  # extract() waits for a restarting child and tries once more
        except http.client.HTTPException as exc:
            # A broken answer (the child JVM died mid-way, say): a failure of this file, never of the ingest.
            raise ExtractionFailed(f"Apache Tika's answer broke off: {type(exc).__name__}: {exc}"[:300]) from None
        finally:
            connection.close()


def _tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_bytes()[-4096:].decode("utf-8", "replace")
    except OSError:
        return "no log"
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(kept[-lines:]) or "no output"
