"""The rules every storage key follows, whatever the backend.

Keys come from file names inside transfers, so they may hold any Unicode, spaces
and punctuation; what they may not do is climb out of the storage root or mean
different things on different systems. Keeping the rules here lets the
filesystem and S3 backends reject exactly the same keys.
"""

from __future__ import annotations

import re

from strongroom.errors import StorageError

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


def key_problem(key: str) -> str | None:
    """Why `key` is not a valid storage key, or None when it is."""
    if not key:
        return "it is empty"
    if "\x00" in key:
        return "it contains a NUL character"
    if key.startswith(("/", "\\")):
        return "it is absolute; keys are relative to the storage root"
    for segment in key.split("/"):
        if segment == "":
            return "it has an empty segment (a leading, trailing or doubled '/')"
        if segment in (".", ".."):
            return "'.' and '..' segments are not allowed"
        # A backslash is an ordinary character on POSIX but a separator on Windows,
        # where `..\\x` would climb out of the root.
        if "\\" in segment and ".." in segment.split("\\"):
            return "it contains '..' between backslashes, which climbs out of the root on Windows"
    if key.isascii():
        return None  # ASCII always survives the round trip below (checked for every key otherwise)
    try:
        # Names from non-UTF-8 file systems arrive as surrogate escapes (os.fsdecode);
        # anything that does not survive the trip back to bytes would be renamed.
        round_trip = key.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    except UnicodeError:
        return "it contains characters that cannot be written as a file name (lone surrogates)"
    if round_trip != key:
        return "it contains escaped bytes that would read back as different characters"
    return None


def check_key(key: str) -> str:
    """Return `key` unchanged when valid; StorageError saying what is wrong otherwise."""
    problem = key_problem(key)
    if problem is not None:
        raise StorageError(f"Invalid storage key {key!r}: {problem}.")
    return key


def check_sha256(key: str, sha256: str) -> str:
    """The digest a put() was given, lower-cased; StorageError when it is not a SHA-256 at all."""
    expected = sha256.lower()
    if _HEX_SHA256.fullmatch(expected) is None:
        raise StorageError(f"Cannot store {key!r}: {sha256!r} is not a SHA-256 digest (64 hexadecimal characters).")
    return expected
