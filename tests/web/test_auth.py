"""Signing in and out, sessions, tokens, CSRF, rate limits and security headers, through the real app."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi.testclient import TestClient

from strongroom.accounts import audit, service
from strongroom.accounts.model import UserRole
from strongroom.web.auth import CONTENT_SECURITY_POLICY, SESSION_COOKIE, SIGN_IN_COOKIE, safe_next
from tests.conftest import Home
from tests.web.conftest import BASE_URL, PASSWORD, Web, _form_csrf

WebFactory = Callable[..., Web]


@pytest.fixture
def make_web(home: Home) -> Iterator[WebFactory]:
    """An app over the test home with [web] settings of the test's choosing."""
    from strongroom.web.app import create_app

    stack: list[TestClient] = []

    def make(client: tuple[str, int] = ("testclient", 50000), **web: object) -> Web:
        if web and not stack:
            lines = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in web.items())
            with (home.path / "strongroom.toml").open("a", encoding="utf-8") as config:
                config.write(f"\n[web]\n{lines}\n")
        app = create_app(home.path)
        test_client = TestClient(app, base_url=BASE_URL, follow_redirects=False, client=client)
        test_client.__enter__()
        stack.append(test_client)
        return Web(home, app, test_client)

    yield make
    for client in stack:
        client.__exit__(None, None, None)


def sign_in_form(client: TestClient, name: str, password: str, next_path: str = "/") -> httpx.Response:
    token = _form_csrf(client.get(f"/sign-in?next={next_path}").text)
    answer: httpx.Response = client.post(
        "/sign-in", data={"name": name, "password": password, "csrf_token": token, "next": next_path}
    )
    return answer


def set_cookies(answer: httpx.Response) -> dict[str, SimpleCookie]:
    found: dict[str, SimpleCookie] = {}
    for header in answer.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        found |= {name: cookie for name in cookie}
    return found


# --- signing in ----------------------------------------------------------------------------------------


def test_signing_in_sets_a_secure_httponly_samesite_session_cookie_and_goes_on(web: Web) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    answer = sign_in_form(web.client, "ann", PASSWORD, "/account")
    assert answer.status_code == 303 and answer.headers["location"] == "/account"
    cookie = set_cookies(answer)[SESSION_COOKIE][SESSION_COOKIE]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "lax" and cookie["path"] == "/"
    assert len(cookie.value) >= 40
    page = web.client.get("/account")
    assert page.status_code == 200 and "ann" in page.text
    with web.home.archive() as archive:
        assert archive.catalog.session_by_digest(cookie.value) is None  # only the digest is stored
        assert archive.catalog.session_by_digest(service.digest_of(cookie.value)) is not None


def test_cookies_are_not_secure_when_the_setting_says_so(make_web: WebFactory) -> None:
    web = make_web(secure_cookies=False)
    web.account("ann", UserRole.ARCHIVIST)
    cookie = set_cookies(sign_in_form(web.client, "ann", PASSWORD))[SESSION_COOKIE][SESSION_COOKIE]
    assert not cookie["secure"] and cookie["httponly"]


def test_unknown_name_and_wrong_password_get_the_same_answer_and_are_journalled(web: Web) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    unknown = sign_in_form(web.client, "nobody <b>", PASSWORD)
    wrong = sign_in_form(web.client, "ann", "not the password at all")
    assert unknown.status_code == wrong.status_code == 400
    message = "The name or password is not right, or the account is disabled."
    assert message in unknown.text and message in wrong.text
    assert SESSION_COOKIE not in web.client.cookies
    assert "nobody &lt;b&gt;" in unknown.text  # the name is put back in the form, escaped
    with web.home.archive() as archive:
        failures = [e for e in audit.account_entries(archive) if e.event.type == audit.SIGN_IN_FAILED]
    assert [(e.data[audit.KEY]["name_tried"], e.data[audit.KEY]["reason"], e.data[audit.KEY]["client"])
            for e in failures] == [("nobody <b>", "unknown name", "testclient"),
                                   ("ann", "wrong password", "testclient")]  # fmt: skip


def test_rate_limit_per_account_answers_429_with_retry_after(make_web: WebFactory) -> None:
    web = make_web(sign_in_failures=2, sign_in_window_minutes=10)
    web.account("ann", UserRole.ARCHIVIST)
    for _ in range(2):
        assert sign_in_form(web.client, "ann", "not the password at all").status_code == 400
    other = make_web(client=("192.0.2.50", 1234))  # another address: the account's own limit still holds
    limited = sign_in_form(other.client, "ann", PASSWORD)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "600"
    assert "Too many failed sign-ins. Wait 10 minutes" in limited.text
    assert SESSION_COOKIE not in other.client.cookies


def test_rate_limit_per_client_address(make_web: WebFactory) -> None:
    web = make_web(sign_in_client_failures=3, sign_in_failures=50)
    web.account("ann", UserRole.ARCHIVIST)
    for i in range(3):
        sign_in_form(web.client, f"guess-{i}", PASSWORD)
    limited = sign_in_form(web.client, "ann", PASSWORD)
    assert limited.status_code == 429 and "retry-after" in limited.headers
    elsewhere = make_web(client=("198.51.100.7", 4321))
    assert sign_in_form(elsewhere.client, "ann", PASSWORD).status_code == 303


def test_the_sign_in_form_needs_its_own_double_submit_token(web: Web) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    web.client.get("/sign-in")
    assert SIGN_IN_COOKIE in web.client.cookies
    forged = web.client.post("/sign-in", data={"name": "ann", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 400 and "had expired" in forged.text
    fresh = TestClient(web.app, base_url=BASE_URL, follow_redirects=False)  # a page on another site posting here
    with fresh:
        answer = fresh.post("/sign-in", data={"name": "ann", "password": PASSWORD, "csrf_token": "x" * 43})
        assert answer.status_code == 400 and SESSION_COOKIE not in fresh.cookies


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/%0a/x",
               "\t//evil.example", "///evil.example"],
)  # fmt: skip
def test_no_open_redirect_after_signing_in(web: Web, target: str) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    token = _form_csrf(web.client.get("/sign-in").text)
    answer = web.client.post("/sign-in", data={"name": "ann", "password": PASSWORD, "csrf_token": token,
                                               "next": target})  # fmt: skip
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location.split("?")[0][:3]
    assert safe_next(target) in ("/", target) and not safe_next(target).startswith("//")


def test_safe_next_keeps_local_paths_with_queries() -> None:
    assert safe_next("/search?q=a%20b&page=2") == "/search?q=a%20b&page=2"
    assert safe_next("//evil.example/x") == "/" and safe_next("https://x/") == "/" and safe_next(None) == "/"


def test_a_page_asks_an_anonymous_visitor_to_sign_in_and_then_returns(web: Web) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    answer = web.client.get("/account?tab=tokens")
    assert answer.status_code == 303 and answer.headers["location"] == "/sign-in?next=%2Faccount%3Ftab%3Dtokens"
    back = sign_in_form(web.client, "ann", PASSWORD, "/account?tab=tokens")
    assert back.headers["location"] == "/account?tab=tokens"


def test_a_new_session_id_at_every_sign_in_no_fixation(web: Web) -> None:
    web.account("ann", UserRole.ARCHIVIST)
    planted = "attacker-chosen-session-value-0123456789abcdef"
    web.client.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    sign_in_form(web.client, "ann", PASSWORD)
    first = web.client.cookies.get(SESSION_COOKIE)
    assert first and first != planted
    sign_in_form(web.client, "ann", PASSWORD)
    second = web.client.cookies.get(SESSION_COOKIE)
    assert second and second != first
    with web.home.archive() as archive:
        assert archive.catalog.session_by_digest(service.digest_of(first)) is None  # the old one ended
    stale = TestClient(web.app, base_url=BASE_URL, follow_redirects=False, cookies={SESSION_COOKIE: first})
    with stale:
        assert stale.get("/account").status_code == 303


def test_signing_out_ends_the_session(web: Web) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    cookie = browser.client.cookies.get(SESSION_COOKIE)
    out = browser.post("/sign-out")
    assert out.status_code == 303 and out.headers["location"].startswith("/sign-in")
    assert SESSION_COOKIE not in browser.client.cookies
    assert "You have signed out" in browser.get(out.headers["location"]).text
    replay = TestClient(web.app, base_url=BASE_URL, follow_redirects=False, cookies={SESSION_COOKIE: cookie or ""})
    with replay:
        answer = replay.get("/account")
        assert answer.status_code == 303
        assert set_cookies(answer)[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"  # the stale cookie is dropped


def test_an_idle_session_ends(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    assert browser.get("/account").status_code == 200
    later = datetime.now(UTC) + timedelta(minutes=61)  # idle_minutes defaults to 60
    real = service.session_user
    monkeypatch.setattr(service, "session_user", lambda a, c, s, now=None: real(a, c, s, later))
    assert browser.get("/account").status_code == 303


def test_a_disabled_account_is_locked_out_at_once_session_and_token(web: Web) -> None:
    web.user_of(UserRole.ADMIN)
    browser = web.browser(UserRole.ARCHIVIST)
    headers = web.api_headers(UserRole.ARCHIVIST)
    assert web.client.get("/api/v1/account", headers=headers).status_code == 200
    with web.home.archive() as archive:
        service.disable_user(archive, web.user_of(UserRole.ARCHIVIST), "test-admin")
    assert browser.get("/account").status_code == 303
    refused = web.client.get("/api/v1/account", headers=headers)
    assert refused.status_code == 401 and "disabled" in refused.json()["error"]
    assert sign_in_form(TestClient(web.app, base_url=BASE_URL, follow_redirects=False),
                        web.user_of(UserRole.ARCHIVIST), PASSWORD).status_code == 400  # fmt: skip


def test_revoked_expired_and_malformed_tokens_are_401_never_anonymous(web: Web) -> None:
    name = web.user_of(UserRole.RESEARCHER)
    with web.home.archive() as archive:
        revoked = service.issue_token(archive, name, "r", "t")
        service.revoke_token(archive, revoked.token.id, "t")
        past = datetime.now(UTC) - timedelta(days=2)
        expired = service.issue_token(archive, name, "e", "t", past + timedelta(days=1), now=past)
    for header, says in ((f"Bearer {revoked.secret}", "revoked"), (f"Bearer {expired.secret}", "expired"),
                         ("Bearer sr_nothing", "not recognised"), ("Basic YTpi", "must be 'Bearer'"),
                         ("Bearer ", "must be 'Bearer'")):  # fmt: skip
        for path in ("/api/v1/health", "/api/v1/account", "/"):  # even where the public is welcome
            answer = web.client.get(path, headers={"Authorization": header})
            assert answer.status_code == 401, (header, path)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            said = answer.json()["error"] if path.startswith("/api/") else html.unescape(answer.text)
            assert says in said, (header, path)


def test_tokens_need_no_csrf_but_sessions_do(web: Web) -> None:
    headers = web.api_headers(UserRole.ARCHIVIST)
    made = web.client.post("/api/v1/account/tokens", json={"label": "script"}, headers=headers)
    assert made.status_code == 201 and made.json()["secret"].startswith("sr_")
    browser = web.browser(UserRole.ARCHIVIST)
    no_token = browser.client.post("/account/tokens", data={"label": "x"})
    forged = ("x" if browser.csrf[0] != "x" else "y") + browser.csrf[1:]  # one character different
    wrong = browser.client.post("/account/tokens", data={"label": "x", "csrf_token": forged})
    by_header = browser.client.post("/account/tokens", data={"label": "x"}, headers={"X-CSRF-Token": browser.csrf})
    assert no_token.status_code == wrong.status_code == 403
    assert "did not come from this service" in no_token.text
    assert by_header.status_code == 201
    api_by_session = browser.client.post("/api/v1/account/tokens", json={"label": "x"})
    assert api_by_session.status_code == 403 and set(api_by_session.json()) == {"error", "hint"}
    with web.home.archive() as archive:
        labels = [t.label for t in service.list_tokens(archive, web.user_of(UserRole.ARCHIVIST))]
    assert sorted(labels) == ["script", "tests", "x"]  # only the two with a credential that counted


def test_security_headers_on_pages_api_errors_and_static_files(web: Web) -> None:
    browser = web.browser(UserRole.ADMIN)
    for client, path in ((web.client, "/"), (web.client, "/api/v1/health"), (web.client, "/sign-in"),
                         (browser.client, "/admin/users/no-such"), (web.client, "/api/v1/account"),
                         (web.client, "/no-such-page"), (web.client, "/api/v1/no-such"),
                         (browser.client, "/admin"),
                         (web.client, "/static/strongroom.css")):  # fmt: skip
        answer = client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["referrer-policy"] == "same-origin", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "camera=()" in answer.headers["permissions-policy"], path
    assert web.client.get("/api/v1/health").headers["cache-control"] == "no-store"
    assert browser.get("/admin").headers["cache-control"] == "no-store"
    assert "no-store" not in web.client.get("/static/strongroom.css").headers.get("cache-control", "")


def test_the_account_page_changes_the_password_and_keeps_only_this_browser_signed_in(web: Web) -> None:
    here = web.browser(UserRole.RESEARCHER)
    elsewhere = web.browser(UserRole.RESEARCHER)
    weak = here.post("/account/password", {"current_password": PASSWORD, "new_password": "short",
                                           "confirm_password": "short"})  # fmt: skip
    assert weak.status_code == 400 and "at least 12 characters" in weak.text
    wrong = here.post("/account/password", {"current_password": "nope nope nope", "new_password": "x" * 3,
                                            "confirm_password": "x" * 3})  # fmt: skip
    assert wrong.status_code == 400 and "current password is not right" in wrong.text
    new = "a much longer new password 9"
    done = here.post("/account/password", {"current_password": PASSWORD, "new_password": new,
                                           "confirm_password": new})  # fmt: skip
    assert done.status_code == 303
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 303
    assert sign_in_form(TestClient(web.app, base_url=BASE_URL, follow_redirects=False),
                        web.user_of(UserRole.RESEARCHER), new).status_code == 303  # fmt: skip


def test_own_tokens_are_shown_once_and_revocable_from_the_account_page(web: Web) -> None:
    browser = web.browser(UserRole.ARCHIVIST)
    made = browser.post("/account/tokens", {"label": "<i>nightly</i>", "expires_days": "30"})
    assert made.status_code == 201 and "&lt;i&gt;nightly&lt;/i&gt;" in made.text and "<i>nightly" not in made.text
    secret = made.text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("sr_")
    assert web.client.get("/api/v1/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    page = browser.get("/account")
    assert secret not in page.text  # shown once
    token_id = secret.split("_")[1]
    assert browser.post(f"/account/tokens/{token_id}/revoke").status_code == 303
    assert web.client.get("/api/v1/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    other = web.browser(UserRole.RESEARCHER)
    with web.home.archive() as archive:
        theirs = service.issue_token(archive, web.user_of(UserRole.ARCHIVIST), "theirs", "t")
    assert other.post(f"/account/tokens/{theirs.token.id}/revoke").status_code == 404
    assert web.client.delete(f"/api/v1/account/tokens/{theirs.token.id}",
                             headers=web.api_headers(UserRole.RESEARCHER)).status_code == 404  # fmt: skip
