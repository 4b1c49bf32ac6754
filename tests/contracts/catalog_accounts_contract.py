"""The Catalog conformance suite, continued: accounts (accounts_base.AccountsCatalog).

A backend's test class subclasses this beside `CatalogContract`, whose `catalog` fixture it shares.
These tables are not emptied by `Catalog.clear()` (rebuild keeps accounts), so each test starts by
emptying them itself. Text fields carry hostile text; times keep their microseconds.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from strongroom.accounts.model import ApiToken, SessionRecord, User, UserRole
from strongroom.catalog import tables as t
from strongroom.catalog.base import Catalog
from strongroom.catalog.sql import SqlCatalog
from strongroom.errors import CatalogError, NotFound
from strongroom.records.model import name_key
from tests.contracts.catalog_contract import CONTROL, T0

HOSTILE_NAME = "Ann <script>'\" & ≠ Montre\u0301al 📁 %_"
ACCOUNT_TABLES = (t.api_tokens, t.web_sessions, t.failed_sign_ins, t.users)


def make_user(name: str, role: UserRole = UserRole.RESEARCHER, **changes: object) -> User:
    user = User(name=name, name_key=name_key(name), role=role, password_hash="$argon2id$v=19$m=65536,t=3,p=4$x$y",
                created=T0, full_name=f"Full {CONTROL} name", password_changed=T0 + timedelta(seconds=1))  # fmt: skip
    return dataclasses.replace(user, **changes)  # type: ignore[arg-type]


def make_token(token_id: str, user_key: str, **changes: object) -> ApiToken:
    token = ApiToken(id=token_id, user_key=user_key, label=f"label {CONTROL} ≠", digest=f"{token_id:0>64}",
                     created=T0, expires=T0 + timedelta(days=30))  # fmt: skip
    return dataclasses.replace(token, **changes)  # type: ignore[arg-type]


def make_session(digest: str, user_key: str) -> SessionRecord:
    return SessionRecord(digest, user_key, f"csrf-{digest}", T0, T0 + timedelta(hours=1), T0)


class AccountsContract:
    @pytest.fixture(autouse=True)
    def _empty_account_tables(self, catalog: Catalog) -> Iterator[None]:
        assert isinstance(catalog, SqlCatalog)
        with catalog._write_engine.begin() as conn:
            for table in ACCOUNT_TABLES:
                conn.execute(sa.delete(table))
        yield

    def test_users_round_trip_with_hostile_text(self, catalog: Catalog) -> None:
        user = make_user(HOSTILE_NAME, UserRole.RECORDS_MANAGER)
        catalog.add_user(user)
        assert catalog.user(user.name_key) == user
        assert catalog.user(name_key("ANN <SCRIPT>'\" & ≠ Montréal 📁 %_")) == user  # NFKC + casefold
        assert catalog.user("ann%") is None

    def test_one_account_per_name_key(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        with pytest.raises(CatalogError, match="already exists"):
            catalog.add_user(make_user("ANN", UserRole.ADMIN))
        assert [u.name for u in catalog.users()] == ["Ann"]

    def test_racing_adds_of_one_name_make_one_account(self, catalog: Catalog) -> None:
        outcomes: list[str] = []

        def add(role: UserRole) -> None:
            try:
                catalog.add_user(make_user("Racer", role))
                outcomes.append("added")
            except CatalogError:
                outcomes.append("refused")

        threads = [threading.Thread(target=add, args=(r,)) for r in (UserRole.ADMIN, UserRole.ARCHIVIST) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["added", "refused", "refused", "refused"]
        assert len(catalog.users()) == 1

    def test_users_are_listed_by_name_key_in_code_point_order(self, catalog: Catalog) -> None:
        for name in ("bob", "Zed", "ann", "Émile"):
            catalog.add_user(make_user(name))
        assert [u.name for u in catalog.users()] == ["ann", "bob", "Zed", "Émile"]

    def test_update_user_changes_only_what_is_given(self, catalog: Catalog) -> None:
        user = make_user("Ann")
        catalog.add_user(user)
        later = T0 + timedelta(days=1, microseconds=7)
        changed = catalog.update_user(user.name_key, role=UserRole.ADMIN, password_hash="new", password_changed=later)
        assert changed == dataclasses.replace(user, role=UserRole.ADMIN, password_hash="new", password_changed=later)
        disabled = catalog.update_user(user.name_key, disabled=True, full_name="")
        assert disabled.disabled and disabled.full_name == "" and disabled.role is UserRole.ADMIN
        assert catalog.user(user.name_key) == disabled
        assert catalog.update_user(user.name_key) == disabled  # nothing given: nothing changes
        with pytest.raises(NotFound):
            catalog.update_user("nobody", disabled=True)

    def test_count_users_by_role_and_enabled(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("a1", UserRole.ADMIN))
        catalog.add_user(make_user("a2", UserRole.ADMIN, disabled=True))
        catalog.add_user(make_user("r1"))
        assert catalog.count_users(UserRole.ADMIN) == 1
        assert catalog.count_users(UserRole.ADMIN, enabled_only=False) == 2
        assert catalog.count_users() == 2
        assert catalog.count_users(enabled_only=False) == 3
        assert catalog.count_users(UserRole.ARCHIVIST) == 0

    def test_tokens_round_trip_newest_first_and_by_user(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        catalog.add_user(make_user("Bob"))
        old = make_token("a" * 16, "ann")
        new = make_token("b" * 16, "bob", created=T0 + timedelta(microseconds=1), expires=None)
        catalog.add_token(old)
        catalog.add_token(new)
        assert catalog.tokens() == [new, old]
        assert catalog.tokens("ann") == [old]
        assert catalog.tokens("nobody") == []
        assert catalog.token_by_digest(old.digest) == old
        assert catalog.token_by_digest("0" * 64) is None

    def test_a_token_digest_is_unique(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        catalog.add_token(make_token("a" * 16, "ann"))
        with pytest.raises(CatalogError):
            catalog.add_token(make_token("c" * 16, "ann", digest=make_token("a" * 16, "ann").digest))

    def test_revoking_keeps_the_first_time_and_unknown_is_not_found(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        catalog.add_token(make_token("a" * 16, "ann"))
        first = catalog.revoke_token("a" * 16, T0 + timedelta(hours=1))
        again = catalog.revoke_token("a" * 16, T0 + timedelta(hours=2))
        assert first.revoked == again.revoked == T0 + timedelta(hours=1)
        with pytest.raises(NotFound):
            catalog.revoke_token("f" * 16, T0)
        catalog.touch_token("a" * 16, T0 + timedelta(minutes=5))
        assert catalog.tokens()[0].last_used == T0 + timedelta(minutes=5)

    def test_sessions(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        catalog.add_user(make_user("Bob"))
        ann1, ann2, bob = make_session("1" * 64, "ann"), make_session("2" * 64, "ann"), make_session("3" * 64, "bob")
        for session in (ann1, ann2, bob):
            catalog.add_session(session)
        assert catalog.session_by_digest(ann1.digest) == ann1
        seen, ends = T0 + timedelta(minutes=3), T0 + timedelta(minutes=63)
        catalog.touch_session(ann1.digest, seen, ends)
        assert catalog.session_by_digest(ann1.digest) == dataclasses.replace(ann1, last_seen=seen, expires=ends)
        catalog.delete_session(ann2.digest)
        assert catalog.session_by_digest(ann2.digest) is None
        assert catalog.delete_sessions_of("ann") == 1
        assert catalog.session_by_digest(ann1.digest) is None and catalog.session_by_digest(bob.digest) == bob
        assert catalog.delete_expired_sessions(T0 + timedelta(minutes=59)) == 0
        assert catalog.delete_expired_sessions(T0 + timedelta(hours=1)) == 1
        assert catalog.session_by_digest(bob.digest) is None

    def test_failed_sign_ins_count_by_name_and_client_within_a_window(self, catalog: Catalog) -> None:
        for minutes, key, client in ((0, "ann", "10.0.0.1"), (5, "ann", "10.0.0.2"), (10, "bob", "10.0.0.1"),
                                     (20, f"x {CONTROL}", "::1")):  # fmt: skip
            catalog.add_failed_sign_in(key, client, T0 + timedelta(minutes=minutes))
        since = T0 + timedelta(minutes=5)
        assert catalog.failed_sign_ins(since=T0, name_key="ann") == 2
        assert catalog.failed_sign_ins(since=since, name_key="ann") == 1
        assert catalog.failed_sign_ins(since=T0, client="10.0.0.1") == 2
        assert catalog.failed_sign_ins(since=T0, name_key="ann", client="10.0.0.1") == 1
        assert catalog.failed_sign_ins(since=T0, name_key=f"x {CONTROL}") == 1
        assert catalog.failed_sign_ins(since=T0) == 4
        catalog.clear_failed_sign_ins("ann")
        assert catalog.failed_sign_ins(since=T0, name_key="ann") == 0
        assert catalog.delete_failed_sign_ins_before(T0 + timedelta(minutes=15)) == 1
        assert catalog.failed_sign_ins(since=T0) == 1

    def test_clear_for_rebuild_keeps_accounts(self, catalog: Catalog) -> None:
        catalog.add_user(make_user("Ann"))
        catalog.add_token(make_token("a" * 16, "ann"))
        catalog.add_session(make_session("1" * 64, "ann"))
        catalog.clear()
        assert [u.name for u in catalog.users()] == ["Ann"]
        assert len(catalog.tokens()) == 1 and catalog.session_by_digest("1" * 64) is not None
