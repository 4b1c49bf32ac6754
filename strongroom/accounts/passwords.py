"""Password hashes: Argon2id (argon2-cffi's PasswordHasher, RFC 9106's low-memory profile).

Hashes are PHC strings, so each carries its own parameters; a hash made with older
parameters verifies as before and is replaced at the next successful sign-in.
"""

from __future__ import annotations

import secrets
import string
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# A password generated for a person: 24 characters from letters and digits (about 143 bits).
GENERATED_ALPHABET = string.ascii_letters + string.digits
GENERATED_LENGTH = 24


@cache
def hasher() -> PasswordHasher:
    """The one hasher (immutable; cached so its parameters are read once)."""
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return hasher().hash(secrets.token_urlsafe(16))


def _bytes(password: str) -> bytes:
    # surrogatepass: text from a form or JSON may hold lone surrogates, which plain UTF-8 cannot encode.
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return hasher().hash(_bytes(password))


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches. A damaged hash never matches (and never raises)."""
    try:
        return hasher().verify(password_hash, _bytes(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Do the work of a verification for a name that has no account, so timing does not tell names apart."""
    verify_password(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    try:
        return hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def generate_password() -> str:
    return "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(GENERATED_LENGTH))
