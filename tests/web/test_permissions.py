"""The role x route table, tested exhaustively: every route of the app, every role, every method.

Routes are read off the app itself, so a route another area adds later is checked without
changing this file. Each route must declare exactly one permission (web/permissions.py); then
each role asks for it (API routes with a bearer token, pages with a signed-in browser and its
CSRF token) and must be refused exactly when ROLE_PERMISSIONS says so:
the public gets 401 (API) or a 303 to the sign-in page (pages); a signed-in role gets 403.
Path parameters are filled with an unknown value, so an allowed request finds nothing and
changes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from strongroom.accounts.model import UserRole
from strongroom.web.auth import SESSION_COOKIE
from strongroom.web.permissions import Permission, allowed, declared_permission
from tests.conftest import Home
from tests.web.conftest import BASE_URL, BrowserClient, Web

ROLES = (UserRole.PUBLIC, UserRole.RESEARCHER, UserRole.ARCHIVIST, UserRole.RECORDS_MANAGER, UserRole.ADMIN)
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
UNKNOWN = f"no-such-{uuid.UUID(int=0x5EED)}"


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str  # as declared, e.g. /api/v1/users/{name:path}
    permission: Permission | None
    count: int  # how many permissions the route declares (must be 1)

    @property
    def url(self) -> str:
        out, rest = "", self.path
        while "{" in rest:
            before, _, after = rest.partition("{")
            out += before + UNKNOWN
            rest = after.partition("}")[2]
        return out + rest

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _dependencies(dependant: Any) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def declared(dependant: Any) -> list[Permission]:
    return [p for call in _dependencies(dependant) if (p := declared_permission(call)) is not None]


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, path) of the app's API routes, included routers flattened (FastAPI includes them lazily),
    each with the dependencies it runs with (the router's and the include's too)."""
    cases = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # the /static mount (files anyone may read) and FastAPI's own /api/openapi.json
        found = declared(getattr(context, "dependant", None) or route.dependant)
        for method in sorted(context.methods or route.methods or ()):
            cases.append(RouteCase(method, context.path or route.path, found[0] if len(found) == 1 else None,
                                   len(found)))  # fmt: skip
    return cases


def _environment(stack: ExitStack) -> Home:
    patch = stack.enter_context(pytest.MonkeyPatch.context())
    for name, value in (("STRONGROOM_WORKERS", "2"), ("STRONGROOM_OPERATOR", "test-archivist"),
                        ("STRONGROOM_CHARACTERISE", "0"), ("STRONGROOM_VIRUS_SCAN", "off"),
                        ("STRONGROOM_EXTRACT_TEXT", "0")):  # fmt: skip
        patch.setenv(name, value)
    patch.delenv("STRONGROOM_CATALOG_URL", raising=False)
    folder = Path(tempfile.mkdtemp(prefix="strongroom-permissions-"))
    stack.callback(shutil.rmtree, folder, True)
    home = Home(folder / "home")
    home.ok("init", "--organisation", "Test County Archive", "--organisation-id", "TCA")
    return home


def _all_cases() -> list[RouteCase]:
    """The routes of an app over a scratch home (read at collection, so new routes are picked up)."""
    from strongroom.web.app import create_app

    with ExitStack() as stack:
        app = create_app(_environment(stack).path)
        try:
            return route_cases(app)
        finally:
            app.state.ctx.jobs.close()
            app.state.ctx.archives.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    cases = _all_cases()
    if "role" in metafunc.fixturenames:
        pairs = [(c, r) for c in cases for r in ROLES]
        metafunc.parametrize(("case", "role"), pairs, ids=[f"{c.id} as {r.value}" for c, r in pairs])
    else:
        unsafe = [c for c in cases if c.method in UNSAFE]
        metafunc.parametrize("case", unsafe, ids=[c.id for c in unsafe])


@dataclass
class RoleTable:
    web: Web
    browsers: dict[UserRole, BrowserClient]

    def browser(self, role: UserRole) -> BrowserClient:
        """The role's signed-in browser, signed in again if a request (sign-out) ended its session."""
        found = self.browsers.get(role)
        if found is None or SESSION_COOKIE not in found.client.cookies:
            found = self.browsers[role] = self.web.browser(role)
        return found


@pytest.fixture(scope="module")
def table() -> Iterator[RoleTable]:
    """One app, and an account, a token and a signed-in browser per role, for the whole module."""
    from strongroom.web.app import create_app

    with ExitStack() as stack:
        home = _environment(stack)
        app = create_app(home.path)
        client = stack.enter_context(TestClient(app, base_url=BASE_URL, follow_redirects=False))
        web = Web(home, app, client)
        stack.callback(lambda: [c.close() for c in web._clients])
        yield RoleTable(web, {})


def ask(table: RoleTable, case: RouteCase, role: UserRole) -> Any:
    web = table.web
    if case.api:
        return web.client.request(case.method, case.url, headers=web.api_headers(role))
    if role is UserRole.PUBLIC:
        return web.client.request(case.method, case.url)
    b = table.browser(role)
    if case.method in UNSAFE:
        return b.client.request(case.method, case.url, headers={"X-CSRF-Token": b.csrf})
    return b.client.request(case.method, case.url)


def test_every_route_declares_exactly_one_permission(table: RoleTable) -> None:
    cases = route_cases(table.web.app)
    assert len(cases) > 10, "the app's routes were not found"
    wrong = [f"{c.id}: {c.count} permissions declared" for c in cases if c.count != 1]
    assert wrong == [], "every route must declare exactly one permission with require(Permission.X):\n" + "\n".join(
        wrong
    )


def test_the_table_covers_every_role_and_admin_may_do_everything() -> None:
    assert all(allowed(UserRole.ADMIN, p) for p in Permission)
    assert [p for p in Permission if allowed(UserRole.PUBLIC, p)] == [Permission.ANYONE, Permission.READ_OPEN]


def test_role_against_route(table: RoleTable, case: RouteCase, role: UserRole) -> None:
    if case.permission is None:
        pytest.fail(f"{case.id} declares {case.count} permissions (must be exactly one)")
    answer = ask(table, case, role)
    where = f"{case.id} as {role.value} (needs {case.permission.value}): {answer.status_code} {answer.text[:300]!r}"
    if allowed(role, case.permission):
        assert answer.status_code not in (401, 403), where
        return
    if role is not UserRole.PUBLIC:
        assert answer.status_code == 403, where
    elif case.api:
        assert answer.status_code == 401, where
        assert answer.headers.get("www-authenticate", "").startswith("Bearer"), where
        assert set(answer.json()) == {"error", "hint"}, where
    else:
        assert answer.status_code == 303, where
        assert answer.headers["location"].startswith("/sign-in?next="), where


def test_unsafe_request_by_a_session_without_its_csrf_token_is_refused(table: RoleTable, case: RouteCase) -> None:
    """Even the admin (allowed everything) is refused, and nothing is done: the token is what proves the form
    came from this service's own page."""
    b = table.browser(UserRole.ADMIN)
    answer = b.client.request(case.method, case.url, data={"csrf_token": "forged"} if case.method == "POST" else None)
    assert answer.status_code == 403, f"{case.id}: {answer.status_code} {answer.text[:300]!r}"
    assert "did not come from this service" in answer.text, case.id
    bare = b.client.request(case.method, case.url)
    assert bare.status_code == 403, f"{case.id} without any token: {bare.status_code}"


def test_every_job_kind_names_a_permission_and_job_starting_routes_require_at_least_it() -> None:
    """A kind's permission decides who sees its jobs (web/routes_jobs.py): a mistyped one would hide them from all but
    the admin. And the route that starts a kind must require that permission, or a role could start work it may
    not see, or see work it may not start."""
    from strongroom.jobs.kinds import default_kinds
    from strongroom.web.routes_jobs import may_see

    kinds = default_kinds()
    for name, kind in kinds.items():
        assert kind.permission in {p.value for p in Permission}, (name, kind.permission)

    class Runner:
        def __init__(self) -> None:
            self.kinds = kinds

    from strongroom.web.permissions import Principal

    starting = {"audit": Permission.RUN_PRESERVATION, "replicate": Permission.RUN_PRESERVATION,
                "migrate": Permission.RUN_PRESERVATION, "rebuild": Permission.ADMIN,
                "disposal-execute": Permission.MANAGE_RECORDS, "ingest": Permission.INGEST,
                "check-transfer": Permission.INGEST}  # fmt: skip
    for role in ROLES:
        who = Principal(name="someone", name_key="someone", role=role, via="token")
        for name, route_permission in starting.items():
            # Whoever may start it (the route's permission) sees its jobs, and nobody else but the admin.
            assert may_see(who, Runner(), name) == (allowed(role, route_permission) or role is UserRole.ADMIN), (
                role, name)  # fmt: skip
