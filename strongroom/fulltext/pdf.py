"""Text of PDF files with poppler's pdftotext, one subprocess per file, under a time limit and a size cap."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from strongroom.fulltext.limits import ExtractionFailed, Limits, RawText, TimeLimitReached

_READ = 64 * 1024
_STDERR_KEPT = 8 * 1024  # enough for the last messages; a broken PDF can print megabytes of them


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill the tool (its own process group) and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def pdftotext(command: Sequence[str], path: Path, limits: Limits) -> RawText:
    """`pdftotext -enc UTF-8 FILE -`, read as it comes; killed at the deadline or once the text passes the cap."""
    # Absolute, so a depositor's name such as "-opw x.pdf" can never read as an option.
    argv = [*command, "-enc", "UTF-8", os.path.abspath(path), "-"]
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
    except OSError as exc:
        raise ExtractionFailed(f"pdftotext could not be started: {exc.strerror or exc}") from None
    assert process.stdout is not None and process.stderr is not None
    out = bytearray()
    err = bytearray()
    full = False
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            selector.register(process.stderr, selectors.EVENT_READ)
            while selector.get_map() and not full:
                remaining = limits.remaining()
                if remaining <= 0:
                    raise TimeLimitReached(f"pdftotext took longer than the time limit of {limits.time_limit:g} s")
                for key, _events in selector.select(remaining):
                    chunk = os.read(key.fd, _READ)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is process.stdout:
                        out += chunk
                        if len(out) > limits.max_bytes:
                            full = True  # more text than will be kept: stop the tool here
                            break
                    elif len(err) < _STDERR_KEPT:
                        err += chunk[: _STDERR_KEPT - len(err)]
        if full:
            _stop(process)
        else:
            try:
                process.wait(timeout=max(0.05, limits.remaining()))
            except subprocess.TimeoutExpired:
                raise TimeLimitReached(
                    f"pdftotext took longer than the time limit of {limits.time_limit:g} s"
                ) from None
    finally:
        _stop(process)
        process.stdout.close()
        process.stderr.close()
    if not full and process.returncode != 0:
        messages = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
        said = "; ".join(messages[-3:]) or "no message"
        raise ExtractionFailed(f"pdftotext failed (exit status {process.returncode}): {said}")
    text = bytes(out[: limits.max_bytes]).decode("utf-8", "replace")
    return RawText(text, (), full)
