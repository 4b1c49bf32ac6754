"""Administration: accounts, roles, every API token, the settings (read-only, secrets masked), `doctor`.

Users are addressed by name in paths with the `path` convertor, so a name holding "/" still has
one address; the page forms send the name as a field instead. An admin cannot disable or demote
the last enabled admin (accounts/service.py refuses it).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from strongroom.accounts import service
from strongroom.accounts.model import User, UserRole
from strongroom.config import CONFIG_NAME
from strongroom.errors import StrongroomError
from strongroom.web.api_models import (
    API_ERRORS,
    ChangedUser,
    DoctorAnswer,
    TokenAnswer,
    TokenList,
    UserList,
    UserWithTokens,
)
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require

API = "/api/v1"
MASK = "••••••••"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# Keys whose values are secrets wherever they appear in strongroom.toml.
SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|credential|private|(^|_)key$|api_?key|access_?key)", re.I)

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses=API_ERRORS)
Admin = Annotated[Principal, require(Permission.ADMIN)]
ROLES = tuple(r for r in UserRole if r.assignable)


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=service.NAME_MAX)
    role: UserRole
    full_name: str = Field(default="", max_length=service.FULL_NAME_MAX)
    password: str | None = Field(default=None, max_length=service.PASSWORD_MAX,
                                 description="Leave out to have one generated (returned once).")  # fmt: skip


class UserChange(BaseModel):
    role: UserRole | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=service.PASSWORD_MAX)
    generate_password: bool = Field(default=False, description="Set a generated password (returned once).")


# --- settings, masked ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    table: str
    key: str
    value: str


def _mask_url(text: str) -> str:
    """A URL with its password (and any query string or fragment, which may hold keys) masked.

    Read as SQLAlchemy reads a catalog URL: the password runs to the last "@", so one holding an unescaped
    "/", "?" or "#" is masked whole rather than cut where urlsplit would end the host.
    """
    scheme, separator, rest = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme) or not rest:
        return text
    userinfo, at, after = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    prefix = ""
    if at and not any(c in user for c in "/?#"):  # a user name holds none of these: otherwise "@" is later on
        prefix, rest = (f"{user}:{MASK}@" if colon else f"{user}@"), after
    cut = next((i for i, c in enumerate(rest) if c in "?#"), None)
    if cut is not None:
        rest = rest[: cut + 1] + MASK
    return f"{scheme}://{prefix}{rest}"


def _masked(key: str, value: Any) -> str:
    if SECRET_KEY.search(key):
        return MASK
    if isinstance(value, str):
        return _mask_url(value)
    if isinstance(value, list):
        return ", ".join(_masked("", v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(table: Mapping[str, Any], prefix: str) -> Iterator[Setting]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, item in enumerate(value, 1):
                yield from _flatten(item, f"{prefix}.{key}[{i}]" if prefix else f"{key}[{i}]")
        else:
            yield Setting(prefix or "(top level)", str(key), _masked(str(key), value))


def masked_settings(home: Any) -> list[Setting]:
    """strongroom.toml as rows, with passwords, keys, tokens and URL passwords masked."""
    data = tomllib.loads((home / CONFIG_NAME).read_text(encoding="utf-8"))
    return list(_flatten(data, ""))


def _environment_overrides() -> list[Setting]:
    return [Setting("environment", k, MASK if SECRET_KEY.search(k) else _mask_url(v))
            for k, v in sorted(os.environ.items()) if k.startswith("STRONGROOM_")]  # fmt: skip


# --- pages ---------------------------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return quote(name, safe="")


def _user_rows(users: list[User]) -> list[dict[str, Any]]:
    return [{"user": u, "href": f"/admin/users/{_quoted(u.name)}"} for u in users]


@router.get("/admin", response_class=HTMLResponse, include_in_schema=False)
def admin_page(request: Request, principal: Admin) -> Response:
    with context_of(request).archive() as archive:
        users = service.list_users(archive)
        tokens = service.list_tokens(archive)
    now = datetime.now(UTC)
    by_role = [(r.value, sum(1 for u in users if u.role is r and not u.disabled)) for r in ROLES]
    active = sum(1 for t in tokens if service.token_state(t, now) == "active")
    return render(request, "admin/overview.html", {"by_role": by_role, "disabled": sum(u.disabled for u in users),
                                                   "active_tokens": active})  # fmt: skip


def _users_page(request: Request, status: int = 200, **extra: Any) -> HTMLResponse:
    with context_of(request).archive() as archive:
        users = service.list_users(archive)
    values = {"rows": _user_rows(users), "roles": ROLES, "error": None, "hints": [], "field": None, "added": None,
              "generated": None, "form": {}, **extra}  # fmt: skip
    return render(request, "admin/users.html", values, status)


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, principal: Admin) -> Response:
    return _users_page(request)


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def add_user_page(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=50)] = "",
    full_name: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    generate: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"name": name, "role": role, "full_name": full_name}
    generated = service.generate_password() if generate or not password else None
    with context_of(request).archive() as archive:
        try:
            user = service.add_user(archive, name, role, generated or password, principal.operator, full_name)
        except StrongroomError as err:
            field = "new-password" if isinstance(err, service.PasswordPolicyError) else "new-name"
            return _users_page(request, 400, error=err.message, hints=list(err.details), field=field, form=form)
    return _users_page(request, 201, added=user, generated=generated)


def _user_page(request: Request, name: str, status: int = 200, **extra: Any) -> HTMLResponse:
    with context_of(request).archive() as archive:
        user = service.get_user(archive, name)
        tokens = service.list_tokens(archive, user.name)
    values = {"user": user, "roles": ROLES, "tokens": [service.token_json(t, user.name) for t in tokens],
              "error": None, "hints": [], "field": None, "generated": None,
              "done": request.query_params.get("done", ""), **extra}  # fmt: skip
    return render(request, "admin/user.html", values, status)


@router.get("/admin/users/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def user_page(request: Request, name: str, principal: Admin) -> Response:
    return _user_page(request, name)


def _after(name: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/users/{_quoted(name)}?done={done}", status_code=303)


@router.post("/admin/users-role", response_class=HTMLResponse, include_in_schema=False)
def role_page(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form(max_length=1000)] = "",
    role: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    with context_of(request).archive() as archive:
        try:
            user = service.set_role(archive, name, role, principal.operator)
        except service.AccountError as err:
            return _user_page(request, name, 400, error=err.message, hints=list(err.details), field="role")
    return _after(user.name, "role")


@router.post("/admin/users-access", response_class=HTMLResponse, include_in_schema=False)
def access_page(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form(max_length=1000)] = "",
    action: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if action not in ("disable", "enable"):
        return _user_page(request, name, 400, error="Choose to disable or to enable the account.")
    with context_of(request).archive() as archive:
        try:
            change = service.disable_user if action == "disable" else service.enable_user
            user = change(archive, name, principal.operator)
        except service.AccountError as err:
            return _user_page(request, name, 400, error=err.message, hints=list(err.details))
    return _after(user.name, f"{action}d")


@router.post("/admin/users-password", response_class=HTMLResponse, include_in_schema=False)
def password_page(
    request: Request,
    principal: Admin,
    name: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    generate: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    generated = service.generate_password() if generate or not password else None
    with context_of(request).archive() as archive:
        try:
            service.set_password(archive, name, generated or password, principal.operator)
        except service.AccountError as err:
            return _user_page(request, name, 400, error=err.message, hints=list(err.details), field="set-password")
    return _user_page(request, name, 200, generated=generated, done="password")


@router.get("/admin/tokens", response_class=HTMLResponse, include_in_schema=False)
def tokens_page(request: Request, principal: Admin) -> Response:
    with context_of(request).archive() as archive:
        tokens = service.list_tokens(archive)
        names = service.holders(archive)
    rows = [service.token_json(t, names.get(t.user_key)) for t in tokens]
    return render(request, "admin/tokens.html", {"tokens": rows, "done": request.query_params.get("done", "")})


@router.post("/admin/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_page(request: Request, token_id: str, principal: Admin) -> Response:
    with context_of(request).archive() as archive:
        service.revoke_token(archive, token_id, principal.operator)
    return RedirectResponse("/admin/tokens?done=revoked", status_code=303)


@router.get("/admin/settings", response_class=HTMLResponse, include_in_schema=False)
def settings_page(request: Request, principal: Admin) -> Response:
    ctx = context_of(request)
    rows = masked_settings(ctx.home) + _environment_overrides()
    web = ctx.web
    effective = [("Upload limit (bytes)", str(web.upload_limit)), ("Session length (hours)", str(web.session_hours)),
                 ("Idle time-out (minutes)", str(web.idle_minutes)),
                 ("Failed sign-ins per account", str(web.sign_in_failures)),
                 ("Failed sign-ins per address", str(web.sign_in_client_failures)),
                 ("Window for failed sign-ins (minutes)", str(web.sign_in_window_minutes)),
                 ("Job workers", str(web.job_workers)), ("Secure cookies", "yes" if web.secure_cookies else "no"),
                 *((f"Transfer source {k}", str(v)) for k, v in web.transfer_sources.items())]  # fmt: skip
    return render(request, "admin/settings.html", {"rows": rows, "effective": effective,
                                                   "config_file": str(ctx.home / CONFIG_NAME)})  # fmt: skip


def doctor_json(home: Any) -> dict[str, Any]:
    """What `strongroom doctor --json` prints: the external tools and the signature files in use."""
    from strongroom.formats.signature_store import in_use_at
    from strongroom.tools import find_tools, tools_dir

    tools = find_tools()
    try:
        signatures: dict[str, Any] = in_use_at(home).to_json()
    except StrongroomError as err:
        signatures = {"error": err.message}
    return {"tools_dir": str(tools_dir(os.environ)), "signatures": signatures,
            "tools": [{"name": t.name, "found": t.found, "version": t.version, "purpose": t.purpose,
                       "command": list(t.command) if t.command else None, "how_to_install": t.how_to_install,
                       "note": t.note} for t in tools]}  # fmt: skip


@router.get("/admin/doctor", response_class=HTMLResponse, include_in_schema=False)
def doctor_page(request: Request, principal: Admin) -> Response:
    return render(request, "admin/doctor.html", {"doctor": doctor_json(context_of(request).home)})


# --- API -----------------------------------------------------------------------------------------------


@router.get(f"{API}/users", response_model=UserList, tags=["admin"])
def users_api(request: Request, principal: Admin) -> JSONResponse:
    """Every account."""
    with context_of(request).archive() as archive:
        return JSONResponse({"users": [service.user_json(u) for u in service.list_users(archive)]})


@router.post(f"{API}/users", response_model=ChangedUser, tags=["admin"], status_code=201)
def add_user_api(request: Request, body: NewUser, principal: Admin) -> JSONResponse:
    """Add an account. Without a password one is generated and returned once, as `password`."""
    generated = service.generate_password() if body.password is None else None
    with context_of(request).archive() as archive:
        user = service.add_user(archive, body.name, body.role, generated or body.password or "", principal.operator,
                                body.full_name)  # fmt: skip
    answer = service.user_json(user) | ({"password": generated} if generated else {})
    return JSONResponse(answer, 201)


@router.get(API + "/users/{name:path}", response_model=UserWithTokens, tags=["admin"])
def user_api(request: Request, name: str, principal: Admin) -> JSONResponse:
    """One account, with its tokens."""
    with context_of(request).archive() as archive:
        user = service.get_user(archive, name)
        tokens = service.list_tokens(archive, user.name)
    return JSONResponse(service.user_json(user) | {"tokens": [service.token_json(t, user.name) for t in tokens]})


@router.patch(API + "/users/{name:path}", response_model=ChangedUser, tags=["admin"])
def change_user_api(request: Request, name: str, body: UserChange, principal: Admin) -> JSONResponse:
    """Change an account's role, disable or enable it, or set its password (`generate_password`: returned once)."""
    generated = service.generate_password() if body.generate_password else None
    with context_of(request).archive() as archive:
        user = service.get_user(archive, name)
        password = generated or body.password
        if password is not None:
            service.check_password(user.name, password)  # before any change, so a weak one changes nothing
        if body.role is not None:
            service.set_role(archive, user.name, body.role, principal.operator)
        if body.disabled is True:
            service.disable_user(archive, user.name, principal.operator)
        elif body.disabled is False:
            service.enable_user(archive, user.name, principal.operator)
        if password is not None:
            service.set_password(archive, user.name, password, principal.operator)
        user = service.get_user(archive, user.name)
    return JSONResponse(service.user_json(user) | ({"password": generated} if generated else {}))


@router.get(f"{API}/tokens", response_model=TokenList, tags=["admin"])
def tokens_api(request: Request, principal: Admin) -> JSONResponse:
    """Every API token (revoked and expired too), newest first; never their text."""
    with context_of(request).archive() as archive:
        names = service.holders(archive)
        tokens = service.list_tokens(archive)
    return JSONResponse({"tokens": [service.token_json(t, names.get(t.user_key)) for t in tokens]})


@router.delete(API + "/tokens/{token_id}", response_model=TokenAnswer, tags=["admin"])
def revoke_api(request: Request, token_id: str, principal: Admin) -> JSONResponse:
    """Revoke any account's token."""
    with context_of(request).archive() as archive:
        token = service.revoke_token(archive, token_id, principal.operator)
        names = service.holders(archive)
    return JSONResponse(service.token_json(token, names.get(token.user_key)))


@router.get(f"{API}/doctor", response_model=DoctorAnswer, tags=["admin"])
def doctor_api(request: Request, principal: Admin) -> JSONResponse:
    """What `strongroom doctor --json` prints."""
    return JSONResponse(doctor_json(context_of(request).home))
