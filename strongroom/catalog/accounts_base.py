"""What the catalog keeps for the web service's accounts: users, API tokens, sessions, failed sign-ins.

Operational state, not derived from storage: `Catalog.clear()` (used by rebuild) leaves these tables
alone. Names are unique by `name_key` (NFKC + casefold), so "Ann" and "ANN" are one account.
Runs in the conformance suite on every backend (tests/contracts/catalog_accounts_contract.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from strongroom.accounts.model import ApiToken, SessionRecord, User, UserRole


class AccountsCatalog(Protocol):
    def add_user(self, user: User) -> None:
        """CatalogError if an account with the same name_key exists."""
        ...

    def user(self, name_key: str) -> User | None: ...

    def users(self) -> list[User]:
        """Every account, by name_key."""
        ...

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
        """Change what is given; NotFound if there is no such account. Returns the account as now stored."""
        ...

    def count_users(self, role: UserRole | None = None, *, enabled_only: bool = True) -> int: ...

    # --- API tokens ---------------------------------------------------------------------------

    def add_token(self, token: ApiToken) -> None: ...

    def token_by_digest(self, digest: str) -> ApiToken | None: ...

    def tokens(self, user_key: str | None = None) -> list[ApiToken]:
        """Tokens (revoked ones too), newest first; of one user when user_key is given."""
        ...

    def revoke_token(self, token_id: str, when: datetime) -> ApiToken:
        """Mark revoked (idempotent: the first revocation time stays). NotFound if unknown."""
        ...

    def touch_token(self, token_id: str, when: datetime) -> None: ...

    # --- sessions -----------------------------------------------------------------------------

    def add_session(self, session: SessionRecord) -> None: ...

    def session_by_digest(self, digest: str) -> SessionRecord | None: ...

    def touch_session(self, digest: str, last_seen: datetime, expires: datetime) -> None: ...

    def delete_session(self, digest: str) -> None: ...

    def delete_sessions_of(self, user_key: str) -> int:
        """Sign a user out everywhere (on disable, role or password change). Returns how many."""
        ...

    def delete_expired_sessions(self, now: datetime) -> int: ...

    # --- failed sign-ins (rate limiting) --------------------------------------------------------

    def add_failed_sign_in(self, name_key: str, client: str, at: datetime) -> None: ...

    def failed_sign_ins(self, *, since: datetime, name_key: str | None = None, client: str | None = None) -> int:
        """How many failures since `since`, by name or by client address (either or both)."""
        ...

    def clear_failed_sign_ins(self, name_key: str) -> None: ...

    def delete_failed_sign_ins_before(self, when: datetime) -> int: ...
