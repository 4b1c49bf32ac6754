"""Fixtures for the web service: the app over a test archive, accounts of every role, signed-in clients.

Clients talk to the real app in process (Starlette's TestClient over the ASGI interface) with the
real catalog and storage of the `home` fixture; https://testserver so that Secure cookies come back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from tests.conftest import Home

PASSWORD = "correct horse battery staple 42"
BASE_URL = "https://testserver"


@dataclass
class Web:
    home: Home
    app: FastAPI
    client: TestClient  # anonymous: the public
    _tokens: dict[UserRole, str] = field(default_factory=dict)
    _clients: list[TestClient] = field(default_factory=list)

    def account(self, name: str, role: UserRole, password: str = PASSWORD) -> None:
        from strongroom.accounts.service import add_user

        with self.home.archive() as archive:
            add_user(archive, name, role, password, operator="test-admin")

    def user_of(self, role: UserRole) -> str:
        """The name of the test account of `role`, created on first use."""
        name = f"test-{role.value}"
        from strongroom.accounts.service import find_user

        with self.home.archive() as archive:
            if find_user(archive, name) is None:
                self.account(name, role)
        return name

    def api_headers(self, role: UserRole) -> dict[str, str]:
        """Bearer-token headers of a `role` account (none for PUBLIC)."""
        if role is UserRole.PUBLIC:
            return {}
        if role not in self._tokens:
            from strongroom.accounts.service import issue_token

            name = self.user_of(role)
            with self.home.archive() as archive:
                self._tokens[role] = issue_token(archive, name, "tests", operator="test-admin").secret
        return {"Authorization": f"Bearer {self._tokens[role]}"}

    def browser(self, role: UserRole, name: str | None = None, password: str = PASSWORD) -> BrowserClient:
        """A new client signed in through the sign-in form, as a browser would be (PUBLIC: not signed in)."""
        client = TestClient(self.app, base_url=BASE_URL, follow_redirects=False)
        self._clients.append(client)
        browser = BrowserClient(client)
        if role is not UserRole.PUBLIC:
            account = name or self.user_of(role)
            browser.sign_in(account, password)
        return browser


@dataclass
class BrowserClient:
    client: TestClient
    csrf: str = ""

    def page_csrf(self, path: str = "/") -> str:
        html = self.client.get(path).text
        found = re.search(r'<meta name="csrf-token" content="([^"]*)"', html)
        return found.group(1) if found else ""

    def sign_in(self, name: str, password: str) -> None:
        form_token = _form_csrf(self.client.get("/sign-in").text)
        answer = self.client.post("/sign-in", data={"name": name, "password": password, "csrf_token": form_token})
        assert answer.status_code == 303, f"sign-in as {name} failed: {answer.status_code} {answer.text[:500]}"
        self.csrf = self.page_csrf()
        assert self.csrf, "a signed-in page carries the session's CSRF token"

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        """A form post with the session's CSRF token, as the page's form sends it."""
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)  # type: ignore[arg-type]


def _form_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    return found.group(1) if found else ""


@pytest.fixture
def web(home: Home) -> Iterator[Web]:
    from strongroom.web.app import create_app

    app = create_app(home.path)
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        w = Web(home, app, client)
        try:
            yield w
        finally:
            for other in w._clients:
                other.close()
