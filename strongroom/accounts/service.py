"""Accounts of the web service: people, roles, passwords, sign-in, sessions and API tokens.

Everything that changes an account, and every failed sign-in, is journalled (accounts/audit.py).
Secrets are kept only as digests: passwords as Argon2id hashes, API tokens and session cookies
as SHA-256 (they are long random values, so a fast digest is enough). A disabled account's
sessions end and its tokens stop working at once: both are checked against the account on
every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from strongroom.accounts import audit
from strongroom.accounts.model import ApiToken, SessionRecord, User, UserRole
from strongroom.accounts.passwords import burn_time, generate_password, hash_password, needs_rehash, verify_password
from strongroom.errors import NotFound, StrongroomError
from strongroom.model import Outcome
from strongroom.records.model import name_key

if TYPE_CHECKING:
    from strongroom.archive import Archive
    from strongroom.web.settings import WebSettings

NAME_MAX = 64
FULL_NAME_MAX = 200
LABEL_MAX = 100
PASSWORD_MIN = 12
PASSWORD_MAX = 1024  # longer is refused: hashing megabytes on every attempt would be a way to load the server
TOKEN_PREFIX = "sr_"
TOUCH_EVERY = timedelta(minutes=1)  # last_used / last_seen are written at most this often
ACCOUNTS_LOCK = "accounts"  # held while a change could remove the last enabled admin
SIGN_IN_MESSAGE = "The name or password is not right, or the account is disabled."

__all__ = [
    "AccountError",
    "Authenticated",
    "IssuedToken",
    "LastAdminError",
    "NewSession",
    "PasswordPolicyError",
    "RateLimited",
    "SignInFailed",
    "TokenRejected",
    "add_user",
    "check_name",
    "check_password",
    "digest_of",
    "disable_user",
    "enable_user",
    "end_session",
    "find_user",
    "generate_password",
    "get_user",
    "issue_token",
    "journal_closed_access",
    "list_tokens",
    "list_users",
    "revoke_token",
    "session_user",
    "set_password",
    "set_role",
    "sign_in",
    "start_session",
    "token_json",
    "token_state",
    "token_user",
    "user_json",
]


class AccountError(StrongroomError):
    """An account cannot be added or changed as asked (bad name, weak password, unknown role...)."""


class PasswordPolicyError(AccountError):
    """The password is too weak."""


class LastAdminError(AccountError):
    """The change would leave no enabled administrator."""


class SignInFailed(AccountError):
    """Wrong name or password, or a disabled account: one message for all, so names cannot be guessed."""


class RateLimited(AccountError):
    """Too many failed sign-ins for this name or from this address; `retry_after` seconds to wait."""

    def __init__(self, message: str, *, retry_after: int, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class TokenRejected(AccountError):
    """An API token that is unknown, revoked, expired, or of a disabled account."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole token text, shown once; only its digest is kept


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the cookie value, sent once to the browser; only its digest is kept
    session: SessionRecord


@dataclass(frozen=True)
class Authenticated:
    """Who a request's credential belongs to, and which credential it was."""

    user: User
    session: SessionRecord | None = None
    token: ApiToken | None = None


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _text(value: str) -> str:
    """Text safe to send to the database: a lone surrogate (possible in JSON or a form) becomes '?'."""
    return value.encode("utf-8", "replace").decode("utf-8")


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _unprintable(text: str) -> list[str]:
    # Control, format (bidi overrides, zero-width), surrogate, private-use and unassigned characters, line breaks.
    return [c for c in text if unicodedata.category(c)[0] == "C" or unicodedata.category(c) in ("Zl", "Zp")]


# --- names, roles, passwords -------------------------------------------------------------------------


def check_name(name: str) -> str:
    """The name as it will be kept (spaces trimmed), or AccountError saying what is wrong with it."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise AccountError("An account name cannot be empty.", details=["Give a name of 1 to 64 characters."])
    if len(name) > NAME_MAX:
        raise AccountError(f"An account name can be at most {NAME_MAX} characters; this one has {len(name)}.",
                           details=["Choose a shorter name."])  # fmt: skip
    if _unprintable(name):
        raise AccountError("An account name cannot contain control or invisible characters (tabs, line breaks, "
                           "zero-width or direction marks).", details=["Type the name again with letters, digits, "
                                                                       "spaces and punctuation only."])  # fmt: skip
    if name in (".", ".."):
        raise AccountError("An account name cannot be '.' or '..' (web addresses would read them as folders).",
                           details=["Choose a name with a letter or digit in it."])  # fmt: skip
    return name


def _check_text(value: str, what: str, limit: int) -> str:
    value = value.strip()
    if len(value) > limit:
        raise AccountError(f"The {what} can be at most {limit} characters; this one has {len(value)}.")
    if _unprintable(value):
        raise AccountError(f"The {what} cannot contain control or invisible characters.")
    return value


def _role(role: UserRole | str) -> UserRole:
    try:
        chosen = UserRole(role)
    except ValueError:
        known = ", ".join(r.value for r in UserRole if r.assignable)
        raise AccountError(f"There is no role {str(role)!r}.", details=[f"Choose one of: {known}."]) from None
    if not chosen.assignable:
        raise AccountError("No account can have the public role: the public are visitors who have not signed in.",
                           details=["Give the account the researcher role to let it read open records."])  # fmt: skip
    return chosen


def check_password(name: str, password: str) -> None:
    """PasswordPolicyError naming every rule the password breaks."""
    broken = []
    if len(password) < PASSWORD_MIN:
        broken.append(f"it must be at least {PASSWORD_MIN} characters long (it has {len(password)})")
    if len(password) > PASSWORD_MAX:
        broken.append(f"it can be at most {PASSWORD_MAX} characters long")
    if password and len(set(password)) == 1:
        broken.append("it cannot be one character repeated")
    if name_key(password) == name_key(name):
        broken.append("it cannot be the account name")
    if broken:
        raise PasswordPolicyError(
            "The password is not strong enough: " + "; ".join(broken) + ".",
            details=["A few unrelated words make a long password that is easy to remember, "
                     "or use --generate to get a random one."],
        )  # fmt: skip


# --- accounts ----------------------------------------------------------------------------------------


def find_user(archive: Archive, name: str) -> User | None:
    return archive.catalog.user(name_key(_text(name)))


def get_user(archive: Archive, name: str) -> User:
    user = find_user(archive, name)
    if user is None:
        raise NotFound(f"There is no account named {name!r}.", details=["See the accounts with: strongroom user list"])
    return user


def list_users(archive: Archive) -> list[User]:
    return archive.catalog.users()


def add_user(
    archive: Archive,
    name: str,
    role: UserRole | str,
    password: str,
    operator: str,
    full_name: str = "",
    *,
    now: datetime | None = None,
) -> User:
    name = check_name(name)
    chosen = _role(role)
    full_name = _check_text(full_name, "full name", FULL_NAME_MAX)
    check_password(name, password)
    when = _now(now)
    user = User(name=name, name_key=name_key(name), role=chosen, password_hash=hash_password(password), created=when,
                full_name=full_name, password_changed=when)  # fmt: skip
    if archive.catalog.user(user.name_key) is not None:
        raise AccountError(f"An account named {name!r} already exists (names are compared ignoring case and "
                           "Unicode forms).", details=["Choose another name, or see the accounts with: "
                                                       "strongroom user list"])  # fmt: skip
    archive.catalog.add_user(user)
    audit.record(archive, audit.ACCOUNT_ADDED, operator, f"account {name!r} added with the role {chosen.value}",
                 {"name": name, "role": chosen.value, "full_name": full_name}, now=when)  # fmt: skip
    return user


def _would_remove_last_admin(archive: Archive, user: User) -> bool:
    return user.role is UserRole.ADMIN and not user.disabled and archive.catalog.count_users(UserRole.ADMIN) <= 1


def _last_admin(name: str, doing: str) -> LastAdminError:
    return LastAdminError(
        f"{name!r} is the only enabled administrator, so it cannot be {doing}.",
        details=["Give another account the admin role first (strongroom user role NAME admin), then try again."],
    )


def set_role(archive: Archive, name: str, role: UserRole | str, operator: str, *, now: datetime | None = None) -> User:
    """Change an account's role; its sessions end (it signs in again with the new role)."""
    chosen = _role(role)
    with archive.catalog.lock(ACCOUNTS_LOCK):
        user = get_user(archive, name)
        if user.role is chosen:
            return user
        if chosen is not UserRole.ADMIN and _would_remove_last_admin(archive, user):
            raise _last_admin(user.name, f"given the role {chosen.value}")
        changed = archive.catalog.update_user(user.name_key, role=chosen)
    ended = archive.catalog.delete_sessions_of(user.name_key)
    audit.record(archive, audit.ROLE_CHANGED, operator,
                 f"account {user.name!r} changed from {user.role.value} to {chosen.value}",
                 {"name": user.name, "role": chosen.value, "previous": user.role.value, "sessions_ended": ended},
                 now=now)  # fmt: skip
    return changed


def _set_disabled(archive: Archive, name: str, disabled: bool, operator: str, now: datetime | None) -> User:
    with archive.catalog.lock(ACCOUNTS_LOCK):
        user = get_user(archive, name)
        if user.disabled == disabled:
            return user
        if disabled and _would_remove_last_admin(archive, user):
            raise _last_admin(user.name, "disabled")
        changed = archive.catalog.update_user(user.name_key, disabled=disabled)
    ended = archive.catalog.delete_sessions_of(user.name_key) if disabled else 0
    kind, word = (audit.DISABLED, "disabled") if disabled else (audit.ENABLED, "enabled")
    audit.record(archive, kind, operator, f"account {user.name!r} {word}",
                 {"name": user.name, "sessions_ended": ended}, now=now)  # fmt: skip
    return changed


def disable_user(archive: Archive, name: str, operator: str, *, now: datetime | None = None) -> User:
    """Lock an account out at once: its sessions end and its API tokens stop working (they are kept)."""
    return _set_disabled(archive, name, True, operator, now)


def enable_user(archive: Archive, name: str, operator: str, *, now: datetime | None = None) -> User:
    return _set_disabled(archive, name, False, operator, now)


def set_password(archive: Archive, name: str, password: str, operator: str, *, now: datetime | None = None) -> User:
    """A new password; every session of the account ends (API tokens stay: revoke them separately)."""
    user = get_user(archive, name)
    check_password(user.name, password)
    when = _now(now)
    changed = archive.catalog.update_user(user.name_key, password_hash=hash_password(password), password_changed=when)
    ended = archive.catalog.delete_sessions_of(user.name_key)
    audit.record(archive, audit.PASSWORD_CHANGED, operator, f"password of account {user.name!r} changed",
                 {"name": user.name, "sessions_ended": ended}, now=when)  # fmt: skip
    return changed


# --- signing in --------------------------------------------------------------------------------------


def _rate_limited(archive: Archive, key: str, client: str, settings: WebSettings, when: datetime) -> RateLimited | None:
    window = timedelta(minutes=settings.sign_in_window_minutes)
    since = when - window
    by_name = archive.catalog.failed_sign_ins(since=since, name_key=key)
    by_client = archive.catalog.failed_sign_ins(since=since, client=client)
    if by_name < settings.sign_in_failures and by_client < settings.sign_in_client_failures:
        return None
    until = when + window
    minutes = settings.sign_in_window_minutes
    return RateLimited(
        f"Too many failed sign-ins. Wait {minutes} minute{'s' if minutes != 1 else ''} "
        f"(until {until:%H:%M} UTC), then try again.",
        retry_after=int(window.total_seconds()),
        details=("If you have forgotten your password, ask the archive's administrator to set a new one.",),
    )


def sign_in(
    archive: Archive, name: str, password: str, client: str, settings: WebSettings, now: datetime | None = None
) -> User:
    """The account, if the name and password are right and it is enabled; else SignInFailed (one message for
    every reason) or RateLimited. Each failure is counted and journalled with its reason."""
    when = _now(now)
    name = _text(name[: NAME_MAX * 4])
    key = name_key(name)
    client = _text(client[:200]) or "unknown"
    limited = _rate_limited(archive, key, client, settings, when)
    if limited is not None:
        _journal_failure(archive, name, client, "rate limited", when)
        raise limited
    user = archive.catalog.user(key) if key else None
    if user is None:
        burn_time(password)  # as long as a real check, so the answer's time does not reveal the name is unknown
        reason = "unknown name"
    elif not verify_password(user.password_hash, password):
        reason = "wrong password"
    elif user.disabled:
        reason = "account disabled"
    else:
        archive.catalog.clear_failed_sign_ins(key)
        if needs_rehash(user.password_hash):
            user = archive.catalog.update_user(key, password_hash=hash_password(password))
        return user
    archive.catalog.add_failed_sign_in(key, client, when)
    archive.catalog.delete_failed_sign_ins_before(when - timedelta(minutes=settings.sign_in_window_minutes))
    _journal_failure(archive, name, client, reason, when)
    raise SignInFailed(SIGN_IN_MESSAGE, details=["Check the name and password and try again.",
                                                 "If you have forgotten your password, ask the archive's "
                                                 "administrator to set a new one."])  # fmt: skip


def _journal_failure(archive: Archive, name: str, client: str, reason: str, when: datetime) -> None:
    tried, address = audit.shown(name), audit.shown(client)
    audit.record(archive, audit.SIGN_IN_FAILED, f"web:{address}", f"failed sign-in as {tried!r} from {address}",
                 {"name_tried": tried, "client": address, "reason": reason}, outcome=Outcome.FAILURE,
                 outcome_detail=reason, now=when)  # fmt: skip


def _session_end(session: SessionRecord, settings: WebSettings, last_seen: datetime) -> datetime:
    return min(session.created + timedelta(hours=settings.session_hours),
               last_seen + timedelta(minutes=settings.idle_minutes))  # fmt: skip


def start_session(archive: Archive, user: User, settings: WebSettings, now: datetime | None = None) -> NewSession:
    """A new session (a new random id every sign-in: no fixation). Expired sessions are swept at the same time."""
    when = _now(now)
    archive.catalog.delete_expired_sessions(when)
    cookie = secrets.token_urlsafe(32)
    end = min(when + timedelta(hours=settings.session_hours), when + timedelta(minutes=settings.idle_minutes))
    session = SessionRecord(digest_of(cookie), user.name_key, secrets.token_urlsafe(32), when, end, when)
    archive.catalog.add_session(session)
    return NewSession(cookie, session)


def session_user(
    archive: Archive, cookie: str, settings: WebSettings, now: datetime | None = None
) -> Authenticated | None:
    """The signed-in account of a session cookie; None (and the session gone) if it ended, timed out,
    or its account was disabled."""
    when = _now(now)
    session = archive.catalog.session_by_digest(digest_of(cookie))
    if session is None:
        return None
    if when >= session.expires or when >= _session_end(session, settings, session.last_seen):
        archive.catalog.delete_session(session.digest)
        return None
    user = archive.catalog.user(session.user_key)
    if user is None or user.disabled:
        archive.catalog.delete_session(session.digest)
        return None
    if when - session.last_seen >= TOUCH_EVERY:
        archive.catalog.touch_session(session.digest, when, _session_end(session, settings, when))
    return Authenticated(user, session=session)


def end_session(archive: Archive, cookie: str) -> None:
    archive.catalog.delete_session(digest_of(cookie))


def csrf_matches(session: SessionRecord, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf_token.encode(), (sent or "").encode("utf-8", "replace"))


# --- API tokens --------------------------------------------------------------------------------------


def issue_token(
    archive: Archive,
    name: str,
    label: str,
    operator: str,
    expires: datetime | None = None,
    *,
    now: datetime | None = None,
) -> IssuedToken:
    """A new API token for the account; its text (`sr_<id>_<secret>`) is in the answer only."""
    user = get_user(archive, name)
    if user.disabled:
        raise AccountError(f"The account {user.name!r} is disabled, so it cannot be given an API token.",
                           details=[f"Enable it first: strongroom user enable {user.name}"])  # fmt: skip
    label = _check_text(label, "token label", LABEL_MAX)
    if not label:
        raise AccountError("An API token needs a label saying what it is for.",
                           details=["For example: --label 'nightly export script'"])  # fmt: skip
    when = _now(now)
    if expires is not None and expires <= when:
        raise AccountError("A token's expiry must be in the future.", details=["Give a number of days of 1 or more."])
    token_id = secrets.token_hex(8)
    text = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    token = ApiToken(id=token_id, user_key=user.name_key, label=label, digest=digest_of(text), created=when,
                     expires=expires)  # fmt: skip
    archive.catalog.add_token(token)
    audit.record(archive, audit.TOKEN_ISSUED, operator, f"API token {token_id} issued to {user.name!r}",
                 {"name": user.name, "token": token_id, "label": label,
                  "expires": expires.isoformat() if expires else None}, now=when)  # fmt: skip
    return IssuedToken(token, text)


def token_user(archive: Archive, text: str, now: datetime | None = None) -> Authenticated:
    """The account an API token belongs to, or TokenRejected saying why it cannot be used."""
    when = _now(now)
    fix = ["Create a new token on your account page, or ask the archive's administrator for one."]
    token = archive.catalog.token_by_digest(digest_of(text)) if text.startswith(TOKEN_PREFIX) else None
    if token is None or not text.startswith(f"{TOKEN_PREFIX}{token.id}_"):
        raise TokenRejected("The API token is not recognised.", details=fix)
    if token.revoked is not None:
        raise TokenRejected(f"The API token {token.id} was revoked.", details=fix)
    if token.expires is not None and when >= token.expires:
        raise TokenRejected(f"The API token {token.id} expired at {token.expires:%Y-%m-%d %H:%M} UTC.", details=fix)
    user = archive.catalog.user(token.user_key)
    if user is None or user.disabled:
        raise TokenRejected(f"The API token {token.id} belongs to a disabled account.",
                            details=["Ask the archive's administrator."])  # fmt: skip
    if token.last_used is None or when - token.last_used >= TOUCH_EVERY:
        archive.catalog.touch_token(token.id, when)
    return Authenticated(user, token=token)


def list_tokens(archive: Archive, name: str | None = None) -> list[ApiToken]:
    """Every token (revoked and expired too), newest first; of one account when `name` is given."""
    if name is None:
        return archive.catalog.tokens()
    return archive.catalog.tokens(get_user(archive, name).name_key)


def revoke_token(
    archive: Archive, token_id: str, operator: str, *, owner: str | None = None, now: datetime | None = None
) -> ApiToken:
    """Revoke a token (again is harmless). With `owner`, only that account's token: another's is 'not found'."""
    token_id = _text(token_id.strip())
    owner_key = name_key(owner) if owner is not None else None
    found = [t for t in archive.catalog.tokens(owner_key) if t.id == token_id]
    if not found:
        raise NotFound(f"There is no API token {token_id!r}" + (" of yours." if owner is not None else "."),
                       details=["See the tokens and their ids with: strongroom user tokens"])  # fmt: skip
    if found[0].revoked is not None:
        return found[0]
    token = archive.catalog.revoke_token(token_id, _now(now))
    user = archive.catalog.user(token.user_key)
    holder = user.name if user is not None else token.user_key
    audit.record(archive, audit.TOKEN_REVOKED, operator, f"API token {token.id} of {holder!r} revoked",
                 {"name": holder, "token": token.id, "label": token.label}, now=now)  # fmt: skip
    return token


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """ "active", "revoked" or "expired", as lists show it."""
    if token.revoked is not None:
        return "revoked"
    if token.expires is not None and _now(now) >= token.expires:
        return "expired"
    return "active"


# --- JSON shapes (the API and `--json` print the same) -------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def user_json(user: User) -> dict[str, object]:
    return {"name": user.name, "role": user.role.value, "full_name": user.full_name, "disabled": user.disabled,
            "created": _time(user.created), "password_changed": _time(user.password_changed)}  # fmt: skip


def token_json(token: ApiToken, holder: str | None = None, now: datetime | None = None) -> dict[str, object]:
    """A token as lists show it (never its text or digest); `holder` is the account's name where known."""
    return {"id": token.id, "user": holder if holder is not None else token.user_key, "label": token.label,
            "state": token_state(token, now), "created": _time(token.created), "last_used": _time(token.last_used),
            "expires": _time(token.expires), "revoked": _time(token.revoked)}  # fmt: skip


def holders(archive: Archive) -> dict[str, str]:
    """Account names by name_key, to show tokens with the name as typed."""
    return {u.name_key: u.name for u in archive.catalog.users()}


# --- closed records ----------------------------------------------------------------------------------


journal_closed_access = audit.journal_closed_access  # one place for it; staff pages call either name
