"""METS from storage is untrusted: entity tricks must fail and never read what they point at."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from strongroom.errors import MetadataError
from strongroom.metadata import MetsValidator, read_mets

METS_NS = "http://www.loc.gov/METS/"


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, str]:
    value = f"TOPSECRET-{secrets.token_hex(8)}"
    path = tmp_path / "secret.txt"
    path.write_text(value)
    return path, value


def _attacks(target: Path, valid_mets: bytes) -> dict[str, bytes]:
    url = target.as_uri().encode()
    laughs = b"".join(b'<!ENTITY l%d "%s">' % (n, b"&l%d;" % (n - 1) * 10 if n else b"lol") for n in range(10))
    body = valid_mets.split(b"?>", 1)[1]  # without the XML declaration
    inside = body.replace(b"<dc:title>", b"<dc:title>&xxe;", 1)
    return {
        "external entity": b'<!DOCTYPE m [<!ENTITY xxe SYSTEM "' + url + b'">]>' + inside,
        "parameter entity": b'<!DOCTYPE m [<!ENTITY % p SYSTEM "' + url + b'"> %p;]>' + body,
        "external DTD": b'<!DOCTYPE m SYSTEM "' + url + b'">' + body,
        "billion laughs": b"<!DOCTYPE m [" + laughs + b"]>" + body.replace(b"<dc:title>", b"<dc:title>&l9;", 1),
        "entity in attribute": b'<!DOCTYPE m [<!ENTITY xxe SYSTEM "'
        + url
        + b'">]>'
        + body.replace(b'OBJID="', b'OBJID="&xxe;', 1),
        "xinclude": body.replace(
            b"<dc:title>",
            b'<dc:title><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="' + url + b'" parse="text"/>',
            1,
        ),
    }


def _cases(tmp_path: Path, target: Path, mets_path: Path) -> Iterator[tuple[str, Path]]:
    for name, content in _attacks(target, mets_path.read_bytes()).items():
        path = tmp_path / f"attack-{name.replace(' ', '-')}.xml"
        path.write_bytes(content)
        yield name, path


def test_read_mets_refuses_entity_attacks_without_leaking(
    tmp_path: Path, mets_path: Path, secret: tuple[Path, str]
) -> None:
    target, value = secret
    for name, path in _cases(tmp_path, target, mets_path):
        try:
            document = read_mets(path)
        except MetadataError as exc:
            assert value not in str(exc), name
            continue
        # Only XInclude parses at all (lxml never processes it unasked); the file stays unread.
        assert name == "xinclude", f"{name} was accepted"
        assert value not in repr(document)


def test_doctype_is_refused_with_a_clear_message(tmp_path: Path, mets_path: Path, secret: tuple[Path, str]) -> None:
    path = dict(_cases(tmp_path, secret[0], mets_path))["external entity"]

    with pytest.raises(MetadataError, match="DOCTYPE"):
        read_mets(path)


def test_validator_refuses_entity_attacks_without_leaking(
    tmp_path: Path, mets_path: Path, secret: tuple[Path, str], validator: MetsValidator
) -> None:
    target, value = secret
    for name, path in _cases(tmp_path, target, mets_path):
        problems = validator.validate(path)
        assert problems, name
        assert all(value not in p.message for p in problems), name
        if name != "xinclude":
            assert problems[0].code in ("xml.doctype", "xml.not-well-formed"), (name, problems)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")
def test_entity_target_is_never_opened(tmp_path: Path, mets_path: Path, validator: MetsValidator) -> None:
    """A named pipe as the target: opening it at all is visible to a writer waiting on the other end."""
    fifo = tmp_path / "tripwire"
    os.mkfifo(fifo)
    opened = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody has it open for reading
                assert exc.errno == errno.ENXIO
                done.wait(0.001)
                continue
            opened.set()  # a reader is blocked in open(); give it data so nothing hangs
            os.write(descriptor, b"leak")
            os.close(descriptor)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for _name, path in _cases(tmp_path, fifo, mets_path):
            with contextlib.suppress(MetadataError):
                read_mets(path)
            validator.validate(path)
    finally:
        done.set()
        watcher.join(5)
    assert not opened.is_set(), "the parser opened the entity target"
