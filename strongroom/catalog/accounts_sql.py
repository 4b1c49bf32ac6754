"""AccountsCatalog (accounts_base.py) in SQL: users, API tokens, sessions and failed sign-ins.

A mixin of SqlCatalog (sql.py), written with its helpers `_write`, `_read` and `_insert`.
The database keeps names unique (the key `name_key`) and token digests unique, so racing
processes cannot make two accounts of one name.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from strongroom.accounts.model import ApiToken, SessionRecord, User, UserRole
from strongroom.catalog import tables as t
from strongroom.errors import CatalogError, NotFound


class AccountsSql:
    """The accounts tables of an SqlCatalog (mixed into it; uses its connections and helpers)."""

    url: str
    _insert: Callable[[sa.Table], Any]

    if TYPE_CHECKING:

        def _write(self, action: str) -> AbstractContextManager[Connection]: ...

        def _read(self, action: str) -> AbstractContextManager[Connection]: ...

    # --- users ----------------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        stmt = self._insert(t.users).on_conflict_do_nothing(index_elements=["name_key"])
        with self._write(f"add the account {user.name!r}") as conn:
            added = conn.execute(stmt.execution_options(preserve_rowcount=True), _user_values(user)).rowcount
        if added != 1:
            raise CatalogError(
                f"An account named {user.name!r} already exists (names are compared ignoring case and Unicode forms).",
                details=["Choose another name, or change the existing account: strongroom user list"],
            )

    def user(self, name_key: str) -> User | None:
        with self._read("look up an account") as conn:
            row = conn.execute(sa.select(t.users).where(t.users.c.name_key == name_key)).first()
        return _user(row) if row is not None else None

    def users(self) -> list[User]:
        with self._read("list accounts") as conn:
            return [_user(r) for r in conn.execute(sa.select(t.users).order_by(t.users.c.name_key)).all()]

    def update_user(
        self,
        name_key: str,
        *,
        role: UserRole | None = None,
        password_hash: str | None = None,
        password_changed: datetime | None = None,
        disabled: bool | None = None,
        full_name: str | None = None,
    ) -> User:
        changes: dict[str, Any] = {}
        if role is not None:
            changes["role"] = UserRole(role).value
        if password_hash is not None:
            changes["password_hash"] = password_hash
        if password_changed is not None:
            changes["password_changed"] = password_changed
        if disabled is not None:
            changes["disabled"] = disabled
        if full_name is not None:
            changes["full_name"] = full_name
        with self._write("change an account") as conn:
            if changes:
                conn.execute(sa.update(t.users).where(t.users.c.name_key == name_key).values(**changes))
            row = conn.execute(sa.select(t.users).where(t.users.c.name_key == name_key)).first()
        if row is None:
            raise NotFound(
                f"There is no account {name_key!r}.", details=["See the accounts with: strongroom user list"]
            )
        return _user(row)

    def count_users(self, role: UserRole | None = None, *, enabled_only: bool = True) -> int:
        query = sa.select(sa.func.count()).select_from(t.users)
        if role is not None:
            query = query.where(t.users.c.role == UserRole(role).value)
        if enabled_only:
            query = query.where(t.users.c.disabled == sa.false())
        with self._read("count accounts") as conn:
            return int(conn.execute(query).scalar_one())

    # --- API tokens -----------------------------------------------------------------------------

    def add_token(self, token: ApiToken) -> None:
        values = {"id": token.id, "user_key": token.user_key, "label": token.label, "digest": token.digest,
                  "created": token.created, "last_used": token.last_used, "revoked": token.revoked,
                  "expires": token.expires}  # fmt: skip
        with self._write(f"add API token {token.id}") as conn:
            conn.execute(sa.insert(t.api_tokens), values)

    def token_by_digest(self, digest: str) -> ApiToken | None:
        with self._read("look up an API token") as conn:
            row = conn.execute(sa.select(t.api_tokens).where(t.api_tokens.c.digest == digest)).first()
        return _token(row) if row is not None else None

    def tokens(self, user_key: str | None = None) -> list[ApiToken]:
        c = t.api_tokens.c
        query = sa.select(t.api_tokens).order_by(c.created.desc(), c.id)
        if user_key is not None:
            query = query.where(c.user_key == user_key)
        with self._read("list API tokens") as conn:
            return [_token(r) for r in conn.execute(query).all()]

    def revoke_token(self, token_id: str, when: datetime) -> ApiToken:
        c = t.api_tokens.c
        with self._write(f"revoke API token {token_id}") as conn:
            conn.execute(sa.update(t.api_tokens).where(c.id == token_id, c.revoked.is_(None)).values(revoked=when))
            row = conn.execute(sa.select(t.api_tokens).where(c.id == token_id)).first()
        if row is None:
            raise NotFound(
                f"There is no API token {token_id!r}.", details=["See the tokens with: strongroom user tokens"]
            )
        return _token(row)

    def touch_token(self, token_id: str, when: datetime) -> None:
        with self._write(f"note the use of API token {token_id}") as conn:
            conn.execute(sa.update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(last_used=when))

    # --- sessions -------------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None:
        values = {"digest": session.digest, "user_key": session.user_key, "csrf_token": session.csrf_token,
                  "created": session.created, "expires": session.expires, "last_seen": session.last_seen}  # fmt: skip
        with self._write("start a session") as conn:
            conn.execute(sa.insert(t.web_sessions), values)

    def session_by_digest(self, digest: str) -> SessionRecord | None:
        with self._read("look up a session") as conn:
            row = conn.execute(sa.select(t.web_sessions).where(t.web_sessions.c.digest == digest)).first()
        if row is None:
            return None
        return SessionRecord(row.digest, row.user_key, row.csrf_token, row.created, row.expires, row.last_seen)

    def touch_session(self, digest: str, last_seen: datetime, expires: datetime) -> None:
        stmt = sa.update(t.web_sessions).where(t.web_sessions.c.digest == digest)
        with self._write("note a session's activity") as conn:
            conn.execute(stmt.values(last_seen=last_seen, expires=expires))

    def delete_session(self, digest: str) -> None:
        with self._write("end a session") as conn:
            conn.execute(sa.delete(t.web_sessions).where(t.web_sessions.c.digest == digest))

    def delete_sessions_of(self, user_key: str) -> int:
        stmt = sa.delete(t.web_sessions).where(t.web_sessions.c.user_key == user_key)
        with self._write("end an account's sessions") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)

    def delete_expired_sessions(self, now: datetime) -> int:
        stmt = sa.delete(t.web_sessions).where(t.web_sessions.c.expires <= now)
        with self._write("remove expired sessions") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)

    # --- failed sign-ins ------------------------------------------------------------------------

    def add_failed_sign_in(self, name_key: str, client: str, at: datetime) -> None:
        with self._write("record a failed sign-in") as conn:
            conn.execute(sa.insert(t.failed_sign_ins), {"name_key": name_key, "client": client, "at": at})

    def failed_sign_ins(self, *, since: datetime, name_key: str | None = None, client: str | None = None) -> int:
        c = t.failed_sign_ins.c
        query = sa.select(sa.func.count()).select_from(t.failed_sign_ins).where(c.at >= since)
        if name_key is not None:
            query = query.where(c.name_key == name_key)
        if client is not None:
            query = query.where(c.client == client)
        with self._read("count failed sign-ins") as conn:
            return int(conn.execute(query).scalar_one())

    def clear_failed_sign_ins(self, name_key: str) -> None:
        with self._write("clear failed sign-ins") as conn:
            conn.execute(sa.delete(t.failed_sign_ins).where(t.failed_sign_ins.c.name_key == name_key))

    def delete_failed_sign_ins_before(self, when: datetime) -> int:
        stmt = sa.delete(t.failed_sign_ins).where(t.failed_sign_ins.c.at < when)
        with self._write("remove old failed sign-ins") as conn:
            return int(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount)


def _user_values(u: User) -> dict[str, Any]:
    return {"name_key": u.name_key, "name": u.name, "role": UserRole(u.role).value, "password_hash": u.password_hash,
            "created": u.created, "disabled": u.disabled, "full_name": u.full_name,
            "password_changed": u.password_changed}  # fmt: skip


def _user(r: Row[Any]) -> User:
    return User(name=r.name, name_key=r.name_key, role=UserRole(r.role), password_hash=r.password_hash,
                created=r.created, disabled=bool(r.disabled), full_name=r.full_name,
                password_changed=r.password_changed)  # fmt: skip


def _token(r: Row[Any]) -> ApiToken:
    return ApiToken(id=r.id, user_key=r.user_key, label=r.label, digest=r.digest, created=r.created,
                    last_used=r.last_used, revoked=r.revoked, expires=r.expires)  # fmt: skip


__all__ = ["AccountsSql"]
