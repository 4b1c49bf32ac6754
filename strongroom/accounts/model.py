"""Users, roles, API tokens, sessions and sign-in attempts as typed records."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from strongroom.search.base import Role


class UserRole(enum.StrEnum):
    """What a person may do. Anonymous visitors are PUBLIC, which no account can be given."""

    ADMIN = "admin"
    ARCHIVIST = "archivist"
    RECORDS_MANAGER = "records-manager"
    RESEARCHER = "researcher"
    PUBLIC = "public"

    @property
    def assignable(self) -> bool:
        return self is not UserRole.PUBLIC

    @property
    def viewer(self) -> Role:
        """The role the search index and package views judge closed records by."""
        if self is UserRole.ADMIN:
            return Role.ADMIN
        if self in (UserRole.ARCHIVIST, UserRole.RECORDS_MANAGER):
            return Role.ARCHIVIST
        return Role.RESEARCHER


@dataclass(frozen=True)
class User:
    name: str  # as typed when created; unique after NFKC + casefold (name_key)
    name_key: str
    role: UserRole
    password_hash: str  # Argon2id, PHC string; never shown
    created: datetime
    disabled: bool = False
    full_name: str = ""
    password_changed: datetime | None = None


@dataclass(frozen=True)
class ApiToken:
    """A bearer token for the API. Only its SHA-256 is stored; the token itself is shown once."""

    id: str  # short public id, shown in lists; the token text starts with it
    user_key: str  # User.name_key
    label: str
    digest: str  # sha256 hex of the whole token text
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None
    expires: datetime | None = None


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser session. Only the SHA-256 of the cookie value is stored."""

    digest: str
    user_key: str
    csrf_token: str
    created: datetime
    expires: datetime
    last_seen: datetime


@dataclass(frozen=True)
class SignInAttempt:
    """One failed sign-in, kept for rate limiting (by name and by client address)."""

    name_key: str
    client: str
    at: datetime
