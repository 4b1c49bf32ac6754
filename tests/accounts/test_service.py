"""Accounts as a library: names, roles, passwords, tokens, sessions, rate limits, and what the journal keeps."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from strongroom.accounts import audit, service
from strongroom.accounts.model import UserRole
from strongroom.accounts.passwords import needs_rehash
from strongroom.archive import Archive
from strongroom.errors import NotFound
from strongroom.web.settings import WebSettings
from tests.conftest import Home

PASSWORD = "correct horse battery staple 42"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def archive(home: Home) -> Iterator[Archive]:
    with home.archive() as opened:
        yield opened


@pytest.fixture
def settings(home: Home) -> WebSettings:
    return WebSettings(home=home.path, sign_in_failures=3, sign_in_client_failures=5, sign_in_window_minutes=15,
                       session_hours=8, idle_minutes=30)  # fmt: skip


def entries(archive: Archive, kind: str) -> list[dict[str, object]]:
    return [dict(e.data[audit.KEY]) for e in audit.account_entries(archive) if e.event.type == kind]


# --- names, roles, passwords -------------------------------------------------------------------------


def test_names_are_unique_ignoring_case_and_unicode_forms(archive: Archive) -> None:
    service.add_user(archive, "Montréal", UserRole.RESEARCHER, PASSWORD, "op")
    for other in ("MONTRÉAL", "montre\u0301al", " Montréal "):
        with pytest.raises(service.AccountError, match="already exists"):
            service.add_user(archive, other, UserRole.ADMIN, PASSWORD, "op")
    assert [u.name for u in service.list_users(archive)] == ["Montréal"]
    found = service.find_user(archive, "MONTRE\u0301AL")
    assert found is not None and found.role is UserRole.RESEARCHER


@pytest.mark.parametrize(
    ("name", "says"),
    [("", "cannot be empty"), ("   ", "cannot be empty"), ("x" * 65, "at most 64"), ("tab\there", "control"),
     ("zero\u200bwidth", "invisible"), ("rtl\u202eoverride", "invisible"), ("line\nbreak", "control"),
     ("..", "cannot be '.' or '..'")],
)  # fmt: skip
def test_bad_names_are_refused_with_a_reason(archive: Archive, name: str, says: str) -> None:
    with pytest.raises(service.AccountError, match=says):
        service.add_user(archive, name, UserRole.RESEARCHER, PASSWORD, "op")
    assert service.list_users(archive) == []


def test_hostile_but_printable_names_are_kept_as_typed(archive: Archive) -> None:
    for name in ("<script>alert(1)</script>", "\" ' & < >", "../etc/passwd", "世界 ≠ 📁", "x" * 64):
        user = service.add_user(archive, name, UserRole.RESEARCHER, PASSWORD, "op")
        assert user.name == name
        assert service.find_user(archive, name) == user


@pytest.mark.parametrize(
    ("password", "says"),
    [("short", "at least 12 characters"), ("a" * 20, "one character repeated"), ("Alice-Example", "the account name"),
     ("ALICE-EXAMPLE", "the account name")],
)  # fmt: skip
def test_weak_passwords_are_refused_saying_which_rule(archive: Archive, password: str, says: str) -> None:
    with pytest.raises(service.PasswordPolicyError, match=says):
        service.add_user(archive, "alice-example", UserRole.RESEARCHER, password, "op")
    assert service.find_user(archive, "alice-example") is None


def test_the_public_role_and_unknown_roles_are_refused(archive: Archive) -> None:
    with pytest.raises(service.AccountError, match="public"):
        service.add_user(archive, "ann", UserRole.PUBLIC, PASSWORD, "op")
    with pytest.raises(service.AccountError, match="no role 'owner'"):
        service.add_user(archive, "ann", "owner", PASSWORD, "op")


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(archive: Archive, settings: WebSettings) -> None:
    user = service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    archive.catalog.update_user("ann", password_hash=weak)
    assert needs_rehash(weak)
    service.sign_in(archive, "ann", PASSWORD, "10.0.0.1", settings, NOW)
    rehashed = archive.catalog.user("ann")
    assert rehashed is not None and rehashed.password_hash != weak and not needs_rehash(rehashed.password_hash)
    service.sign_in(archive, "ann", PASSWORD, "10.0.0.1", settings, NOW)  # still the same password


# --- signing in and rate limits ----------------------------------------------------------------------


def test_sign_in_gives_one_message_for_unknown_name_wrong_password_and_disabled(
    archive: Archive, settings: WebSettings
) -> None:
    service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    service.add_user(archive, "bob", UserRole.RESEARCHER, PASSWORD, "op")
    service.disable_user(archive, "bob", "op")
    messages = set()
    for name, password in (("nobody", PASSWORD), ("ann", "wrong password here"), ("bob", PASSWORD)):
        with pytest.raises(service.SignInFailed) as caught:
            service.sign_in(archive, name, password, "10.0.0.1", settings, NOW)
        messages.add(str(caught.value))
    assert len(messages) == 1
    reasons = [(e["name_tried"], e["reason"], e["client"]) for e in entries(archive, audit.SIGN_IN_FAILED)]
    assert reasons == [("nobody", "unknown name", "10.0.0.1"), ("ann", "wrong password", "10.0.0.1"),
                       ("bob", "account disabled", "10.0.0.1")]  # fmt: skip
    assert service.sign_in(archive, "ANN", PASSWORD, "10.0.0.1", settings, NOW).name == "ann"


def test_failures_journal_the_name_tried_escaped_and_truncated_and_never_the_password(
    archive: Archive, settings: WebSettings
) -> None:
    tried = "evil\n\x1b[31m<script>" + "x" * 300
    with pytest.raises(service.SignInFailed):
        service.sign_in(archive, tried, "the-secret-password", "10.0.0.9", settings, NOW)
    (entry,) = entries(archive, audit.SIGN_IN_FAILED)
    shown = str(entry["name_tried"])
    assert "\n" not in shown and "\x1b" not in shown and shown.startswith("evil\\u000a\\u001b[31m<script>")
    assert len(shown) <= audit.SHOWN_MAX + 1 and shown.endswith("…")
    raw = json.dumps([e.data for e in archive.journal.entries()], ensure_ascii=False)
    assert "the-secret-password" not in raw


def test_too_many_failures_for_one_name_wait_out_the_window(archive: Archive, settings: WebSettings) -> None:
    service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    for i in range(3):  # from different addresses: the account's own limit
        with pytest.raises(service.SignInFailed):
            service.sign_in(archive, "ann", "wrong password here", f"10.0.0.{i}", settings, NOW)
    with pytest.raises(service.RateLimited) as caught:
        service.sign_in(archive, "ann", PASSWORD, "10.0.0.99", settings, NOW + timedelta(minutes=1))
    assert caught.value.retry_after == 15 * 60
    assert "Wait 15 minutes" in caught.value.message and "12:16 UTC" in caught.value.message
    assert entries(archive, audit.SIGN_IN_FAILED)[-1]["reason"] == "rate limited"
    # another account is not held up; and after the window the right password works again
    service.add_user(archive, "bob", UserRole.RESEARCHER, PASSWORD, "op")
    assert service.sign_in(archive, "bob", PASSWORD, "10.0.0.99", settings, NOW + timedelta(minutes=1)).name == "bob"
    assert service.sign_in(archive, "ann", PASSWORD, "10.0.0.99", settings, NOW + timedelta(minutes=16)).name == "ann"


def test_too_many_failures_from_one_address_are_held_back_whatever_the_name(
    archive: Archive, settings: WebSettings
) -> None:
    service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    for i in range(5):
        with pytest.raises(service.SignInFailed):
            service.sign_in(archive, f"guess-{i}", PASSWORD, "203.0.113.7", settings, NOW)
    with pytest.raises(service.RateLimited):
        service.sign_in(archive, "ann", PASSWORD, "203.0.113.7", settings, NOW)
    assert service.sign_in(archive, "ann", PASSWORD, "198.51.100.1", settings, NOW).name == "ann"


# --- changes, the last admin, sessions ending --------------------------------------------------------


def test_the_last_enabled_admin_can_be_neither_demoted_nor_disabled(archive: Archive) -> None:
    service.add_user(archive, "root", UserRole.ADMIN, PASSWORD, "op")
    with pytest.raises(service.LastAdminError, match="only enabled administrator"):
        service.set_role(archive, "root", UserRole.ARCHIVIST, "op")
    with pytest.raises(service.LastAdminError):
        service.disable_user(archive, "root", "op")
    service.add_user(archive, "second", UserRole.ADMIN, PASSWORD, "op")
    assert service.set_role(archive, "root", UserRole.ARCHIVIST, "op").role is UserRole.ARCHIVIST
    with pytest.raises(service.LastAdminError):
        service.disable_user(archive, "second", "op")


def test_changes_end_sessions_and_are_journalled(archive: Archive, settings: WebSettings) -> None:
    user = service.add_user(archive, "ann", UserRole.ARCHIVIST, PASSWORD, "admin-op")
    changes: tuple[Callable[[], object], ...] = (
        lambda: service.set_role(archive, "ann", UserRole.RECORDS_MANAGER, "admin-op"),
        lambda: service.set_password(archive, "ann", "another long password 7", "admin-op"),
        lambda: service.disable_user(archive, "ann", "admin-op"),
    )
    for change in changes:
        started = service.start_session(archive, user, settings, NOW)
        assert service.session_user(archive, started.cookie, settings, NOW) is not None
        change()
        assert service.session_user(archive, started.cookie, settings, NOW) is None
    service.enable_user(archive, "ann", "admin-op")
    kinds = [e.event.type for e in audit.account_entries(archive)]
    assert kinds == [audit.ACCOUNT_ADDED, audit.ROLE_CHANGED, audit.PASSWORD_CHANGED, audit.DISABLED, audit.ENABLED]
    role = entries(archive, audit.ROLE_CHANGED)[0]
    assert (role["name"], role["role"], role["previous"]) == ("ann", "records-manager", "archivist")
    assert all(a.identifier_value != "" for e in audit.account_entries(archive) for a in e.agents)
    assert archive.journal_verify().ok


def test_unknown_accounts_are_not_found(archive: Archive) -> None:
    for change in (lambda: service.set_role(archive, "nobody", "admin", "op"),
                   lambda: service.disable_user(archive, "nobody", "op"),
                   lambda: service.set_password(archive, "nobody", PASSWORD, "op"),
                   lambda: service.issue_token(archive, "nobody", "x", "op")):  # fmt: skip
        with pytest.raises(NotFound, match="no account named 'nobody'"):
            change()


def test_sessions_end_when_idle_and_at_their_absolute_end(archive: Archive, settings: WebSettings) -> None:
    user = service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    idle = service.start_session(archive, user, settings, NOW)
    assert service.session_user(archive, idle.cookie, settings, NOW + timedelta(minutes=29)) is not None
    assert service.session_user(archive, idle.cookie, settings, NOW + timedelta(minutes=29 + 31)) is None
    busy = service.start_session(archive, user, settings, NOW)
    when = NOW
    while when + timedelta(minutes=20) < NOW + timedelta(hours=8):  # active every 20 minutes: never idle
        when += timedelta(minutes=20)
        assert service.session_user(archive, busy.cookie, settings, when) is not None, when
    assert service.session_user(archive, busy.cookie, settings, NOW + timedelta(hours=8)) is None
    assert archive.catalog.session_by_digest(service.digest_of(busy.cookie)) is None  # gone, not just refused


def test_a_session_cookie_and_its_csrf_token_are_random_and_only_a_digest_is_kept(
    archive: Archive, settings: WebSettings
) -> None:
    user = service.add_user(archive, "ann", UserRole.RESEARCHER, PASSWORD, "op")
    one, two = service.start_session(archive, user, settings, NOW), service.start_session(archive, user, settings, NOW)
    assert one.cookie != two.cookie and one.session.csrf_token != two.session.csrf_token
    assert len(one.cookie) >= 40 and one.session.digest == service.digest_of(one.cookie) != one.cookie
    assert archive.catalog.session_by_digest(one.cookie) is None
    service.end_session(archive, one.cookie)
    assert service.session_user(archive, one.cookie, settings, NOW) is None
    assert service.session_user(archive, two.cookie, settings, NOW) is not None


# --- tokens ------------------------------------------------------------------------------------------


def test_tokens_are_shown_once_stored_as_digests_and_revocable(archive: Archive) -> None:
    service.add_user(archive, "ann", UserRole.ARCHIVIST, PASSWORD, "op")
    issued = service.issue_token(archive, "ann", "nightly <export>", "op")
    assert issued.secret.startswith(f"sr_{issued.token.id}_") and len(issued.secret) > 50
    stored = archive.catalog.tokens("ann")
    assert stored == [issued.token] and issued.secret not in json.dumps([vars(t) for t in stored], default=str)
    assert service.token_user(archive, issued.secret).user.name == "ann"
    for forged in (issued.secret[:-1], issued.secret + "x", "sr_" + "0" * 16 + "_x", "", "Bearer x"):
        with pytest.raises(service.TokenRejected, match="not recognised"):
            service.token_user(archive, forged)
    service.revoke_token(archive, issued.token.id, "op")
    with pytest.raises(service.TokenRejected, match="revoked"):
        service.token_user(archive, issued.secret)
    assert service.revoke_token(archive, issued.token.id, "op").revoked is not None  # again: harmless
    kinds = [e.event.type for e in audit.account_entries(archive)]
    assert kinds.count(audit.TOKEN_ISSUED) == 1 and kinds.count(audit.TOKEN_REVOKED) == 1
    raw = json.dumps([e.data for e in archive.journal.entries()], ensure_ascii=False)
    assert issued.secret not in raw and issued.token.digest not in raw


def test_an_expired_token_or_one_of_a_disabled_account_stops_working(archive: Archive) -> None:
    service.add_user(archive, "ann", UserRole.ARCHIVIST, PASSWORD, "op")
    service.add_user(archive, "root", UserRole.ADMIN, PASSWORD, "op")
    expiring = service.issue_token(archive, "ann", "a day", "op", NOW + timedelta(days=1), now=NOW)
    assert service.token_user(archive, expiring.secret, NOW + timedelta(hours=23)).user.name == "ann"
    with pytest.raises(service.TokenRejected, match="expired"):
        service.token_user(archive, expiring.secret, NOW + timedelta(days=1))
    lasting = service.issue_token(archive, "ann", "lasting", "op")
    service.disable_user(archive, "ann", "root")
    with pytest.raises(service.TokenRejected, match="disabled"):
        service.token_user(archive, lasting.secret)
    service.enable_user(archive, "ann", "root")
    assert service.token_user(archive, lasting.secret).user.name == "ann"
    with pytest.raises(service.AccountError, match="in the future"):
        service.issue_token(archive, "ann", "past", "op", NOW - timedelta(seconds=1), now=NOW)
    with pytest.raises(service.AccountError, match="needs a label"):
        service.issue_token(archive, "ann", "  ", "op")


def test_last_used_is_written_at_most_once_a_minute(archive: Archive) -> None:
    service.add_user(archive, "ann", UserRole.ARCHIVIST, PASSWORD, "op")
    issued = service.issue_token(archive, "ann", "x", "op", now=NOW)
    service.token_user(archive, issued.secret, NOW)
    service.token_user(archive, issued.secret, NOW + timedelta(seconds=59))
    assert archive.catalog.tokens("ann")[0].last_used == NOW
    service.token_user(archive, issued.secret, NOW + timedelta(seconds=61))
    assert archive.catalog.tokens("ann")[0].last_used == NOW + timedelta(seconds=61)


def test_an_owner_cannot_revoke_another_accounts_token(archive: Archive) -> None:
    service.add_user(archive, "ann", UserRole.ARCHIVIST, PASSWORD, "op")
    service.add_user(archive, "bob", UserRole.ARCHIVIST, PASSWORD, "op")
    bobs = service.issue_token(archive, "bob", "bob's", "op")
    with pytest.raises(NotFound, match="of yours"):
        service.revoke_token(archive, bobs.token.id, "web:ann", owner="ann")
    assert service.token_user(archive, bobs.secret).user.name == "bob"


def test_closed_record_access_is_journalled_against_the_package(archive: Archive) -> None:
    service.journal_closed_access(archive, "web:ann", "1234abcd-0000-4000-8000-000000000000", "package page\n<b>")
    (entry,) = [e for e in archive.journal.entries() if e.event.type == audit.CLOSED_VIEWED]
    assert entry.package == "1234abcd-0000-4000-8000-000000000000"
    assert entry.data[audit.KEY] == {"what": "package page\\u000a<b>"}
    assert any(a.identifier_value == "web:ann" for a in entry.agents)


def test_lone_surrogates_from_json_or_forms_are_refused_or_handled_never_a_crash(
    archive: Archive, settings: WebSettings
) -> None:
    with pytest.raises(service.AccountError, match="invisible"):
        service.add_user(archive, "bad\ud800name", UserRole.RESEARCHER, PASSWORD, "op")
    odd = PASSWORD + "\udfff"
    service.add_user(archive, "ann", UserRole.RESEARCHER, odd, "op")
    assert service.sign_in(archive, "ann", odd, "10.0.0.1", settings, NOW).name == "ann"
    with pytest.raises(service.SignInFailed):
        service.sign_in(archive, "ann\ud800", "x\ud800" * 6, "10.0.0.1\ud800", settings, NOW)
    with pytest.raises(service.SignInFailed):
        service.sign_in(archive, "ann", PASSWORD, "10.0.0.1", settings, NOW)  # the surrogate is part of the password
    assert service.find_user(archive, "\ud800") is None
    with pytest.raises(NotFound):
        service.revoke_token(archive, "\ud800", "op")
    with pytest.raises(service.TokenRejected):
        service.token_user(archive, "sr_\ud800_x")
    assert archive.journal_verify().ok


def test_rebuild_keeps_accounts_and_reads_past_their_journal_entries(home: Home) -> None:
    with home.archive() as archive:
        service.add_user(archive, "ann", UserRole.ADMIN, PASSWORD, "op")
        issued = service.issue_token(archive, "ann", "kept", "op")
        service.journal_closed_access(archive, "web:ann", "1234abcd-0000-4000-8000-000000000000", "page")
    home.ok("rebuild")
    home.ok("journal", "verify")
    with home.archive() as archive:
        assert service.token_user(archive, issued.secret).user.name == "ann"
        assert len(audit.account_entries(archive)) == 3
