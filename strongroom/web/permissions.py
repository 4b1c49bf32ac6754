"""Who may do what: permissions, the role -> permissions table, and the dependency every route declares.

A route declares exactly one permission with `dependencies=[require(Permission.X)]` (or takes the
principal with `principal: Principal = require(Permission.X)` as a parameter). tests/web/test_permissions.py
walks every route of the app and checks each role against this table, so a route without a
declared permission fails the suite.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request

from strongroom.accounts.model import UserRole
from strongroom.search.base import Role


class Permission(enum.StrEnum):
    ANYONE = "anyone"  # sign-in page, static assets, health, the OpenAPI document
    READ_OPEN = "read-open"  # search, package and file pages, downloads: open records (masked stand-ins)
    READ_CLOSED = "read-closed"  # closed and restricted records in full (every such access is journalled)
    ACCOUNT = "account"  # one's own account: sign out, change password, own API tokens
    INGEST = "ingest"  # upload transfers, pick from transfer sources, approve before storing
    VIEW_PRESERVATION = "view-preservation"  # versions, events, fixity, locations, audits, migrations, formats
    RUN_PRESERVATION = "run-preservation"  # start migrate, audit, replicate, rebuild jobs
    VIEW_JOBS = "view-jobs"  # the jobs list and job pages (of kinds one may submit)
    MANAGE_RECORDS = "manage-records"  # schedules, due list, holds, disposal, closure and exemptions
    VIEW_JOURNAL = "view-journal"  # the journal and its verification
    ADMIN = "admin"  # users, roles, everyone's tokens, settings, doctor


_STAFF = frozenset({Permission.ANYONE, Permission.READ_OPEN, Permission.READ_CLOSED, Permission.ACCOUNT,
                    Permission.VIEW_JOBS, Permission.VIEW_JOURNAL, Permission.VIEW_PRESERVATION})  # fmt: skip

ROLE_PERMISSIONS: dict[UserRole, frozenset[Permission]] = {
    UserRole.PUBLIC: frozenset({Permission.ANYONE, Permission.READ_OPEN}),
    UserRole.RESEARCHER: frozenset({Permission.ANYONE, Permission.READ_OPEN, Permission.ACCOUNT}),
    UserRole.ARCHIVIST: _STAFF | {Permission.INGEST, Permission.RUN_PRESERVATION},
    UserRole.RECORDS_MANAGER: _STAFF | {Permission.MANAGE_RECORDS},
    UserRole.ADMIN: frozenset(Permission),
}


def allowed(role: UserRole, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user (by session cookie or API token) or the anonymous public."""

    name: str | None  # the account's name as created; None for the public
    name_key: str | None
    role: UserRole
    via: str  # "session", "token" or "anonymous"
    csrf_token: str | None = None  # of the session; forms must echo it

    @property
    def signed_in(self) -> bool:
        return self.name is not None

    @property
    def viewer(self) -> Role:
        return self.role.viewer

    @property
    def operator(self) -> str:
        """The name written into journal entries and PREMIS agents for what this person does."""
        return f"web:{self.name}" if self.name is not None else "web:public"

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)


ANONYMOUS = Principal(name=None, name_key=None, role=UserRole.PUBLIC, via="anonymous")


class PermissionCheck:
    """The dependency a route declares. Marked with its permission so tests can read the table off the routes."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        # authorise also checks the CSRF token of every unsafe request made with a session cookie.
        from strongroom.web.auth import authorise  # auth needs the app's context, which imports this module

        return await authorise(request, self.permission)


def require(permission: Permission) -> Any:
    """`Depends` for a route: the principal if allowed; else 401 (not signed in) or 403 (signed in, not allowed)."""
    return Depends(PermissionCheck(permission))


def declared_permission(dependency: Callable[..., Any]) -> Permission | None:
    return dependency.permission if isinstance(dependency, PermissionCheck) else None
