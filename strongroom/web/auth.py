"""Who is asking, and may they: API tokens, session cookies, CSRF, the sign-in form, security headers.

`authorise` (called by every route's `require(...)`) finds the principal: a bearer token, else the
session cookie, else the anonymous public. A token that is bad, revoked or expired is refused
with 401, never treated as anonymous. Every unsafe request (POST, PUT, PATCH, DELETE) made with a
session cookie must carry the session's CSRF token (form field `csrf_token` or header
`X-CSRF-Token`); bearer-token requests need none (a browser never sends one on its own).
The sign-in form has no session yet, so it uses a double-submit token: a cookie and a form field.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.accounts import service
from strongroom.web.context import WebContext, context_of
from strongroom.web.pages import SignInRequired, is_api, render
from strongroom.web.permissions import ANONYMOUS, Permission, Principal, require

router = APIRouter()

SESSION_COOKIE = "strongroom_session"
SIGN_IN_COOKIE = "strongroom_signin"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
STATE_CLEAR_SESSION = "strongroom_clear_session"  # set when a stale session cookie should be deleted

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"),
    ("cross-origin-opener-policy", "same-origin"),
)


# --- finding the principal -----------------------------------------------------------------------------


def _unauthorised(message: str, details: tuple[str, ...] = ()) -> HTTPException:
    hint = f" {details[0]}" if details else ""
    return HTTPException(401, message + hint, headers={"WWW-Authenticate": 'Bearer realm="strongroom"'})


def _identify(request: Request, ctx: WebContext) -> Principal:
    """The principal of the request's credential (runs on the thread pool: it reads the catalog)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise _unauthorised("The Authorization header must be 'Bearer' followed by an API token.")
        with ctx.archive() as archive:
            try:
                found = service.token_user(archive, credential.strip())
            except service.TokenRejected as err:
                raise _unauthorised(err.message, err.details) from None
        return Principal(found.user.name, found.user.name_key, found.user.role, via="token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx.archive() as archive:
            found_session = service.session_user(archive, cookie, ctx.web)
        if found_session is None or found_session.session is None:
            setattr(request.state, STATE_CLEAR_SESSION, True)
            return ANONYMOUS
        user = found_session.user
        return Principal(user.name, user.name_key, user.role, via="session",
                         csrf_token=found_session.session.csrf_token)  # fmt: skip
    return ANONYMOUS


async def _sent_csrf(request: Request) -> str | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent:
        return sent
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()  # cached by Starlette: the route still reads its Form fields
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _same(expected: str, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(expected.encode(), (sent or "").encode())


async def authorise(request: Request, permission: Permission) -> Principal:
    """The principal if it may do `permission`; else 401 (not signed in) or 403 (signed in, not allowed)."""
    existing = getattr(request.state, "principal", None)
    checked = isinstance(existing, Principal)  # found (and its CSRF token checked) already for this request
    principal = existing if isinstance(existing, Principal) else await run_in_threadpool(
        _identify, request, context_of(request))  # fmt: skip
    request.state.principal = principal
    if principal.may(permission):
        # Checked only once the request is allowed: reading a form's token reads the whole form (a file in it too).
        unsafe = principal.via == "session" and request.method.upper() not in SAFE_METHODS
        if not checked and unsafe and not _same(principal.csrf_token or "", await _sent_csrf(request)):
            raise HTTPException(
                403,
                "The form had expired or did not come from this service's own page, so nothing was done. "
                "Go back, reload the page and try again.",
            )
        return principal
    if not principal.signed_in:
        if is_api(request):
            raise _unauthorised("Sign in first: send an API token as 'Authorization: Bearer <token>'.")
        raise SignInRequired()
    raise HTTPException(403, f"Your account ({principal.role.value}) may not do this.")


# --- security headers ----------------------------------------------------------------------------------


class SecurityHeaders:
    """Pure ASGI middleware: security headers on every answer; no-store on API answers and signed-in pages."""

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        raw = dict(scope.get("headers") or [])
        credentialed = b"authorization" in raw or SESSION_COOKIE.encode() in raw.get(b"cookie", b"")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if path.startswith("/api/") or credentialed:
                    headers = [(k, v) for k, v in headers if k.lower() not in (b"cache-control", b"pragma")]
                    headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                state = scope.get("state") or {}
                if state.get(STATE_CLEAR_SESSION) and not _sets_cookie(headers, SESSION_COOKIE):
                    headers.append((b"set-cookie", _expired_cookie(SESSION_COOKIE, self.secure_cookies).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _sets_cookie(headers: list[tuple[bytes, bytes]], name: str) -> bool:
    return any(k.lower() == b"set-cookie" and v.startswith(f"{name}=".encode()) for k, v in headers)


def _expired_cookie(name: str, secure: bool) -> str:
    return f"{name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")


def install(app: FastAPI) -> None:
    """Security headers on every response (and the deletion of a stale session cookie); a bound on bodies."""
    from strongroom.web.limits import BodyLimit

    ctx: WebContext = app.state.ctx
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, secure_cookies=ctx.web.secure_cookies)


# --- the sign-in form ----------------------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, a scheme, //host, \\) is '/'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _set_cookie(response: Response, ctx: WebContext, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=ctx.web.secure_cookies, httponly=True,
                        samesite="lax")  # fmt: skip


def set_session_cookie(response: Response, ctx: WebContext, cookie: str) -> None:
    _set_cookie(response, ctx, SESSION_COOKIE, cookie, ctx.web.session_hours * 3600)


def _sign_in_page(
    request: Request,
    principal: Principal,
    next_path: str,
    *,
    name: str = "",
    error: str | None = None,
    hints: tuple[str, ...] = (),
    status: int = 200,
    retry_after: int | None = None,
) -> HTMLResponse:
    ctx = context_of(request)
    existing = request.cookies.get(SIGN_IN_COOKIE, "")
    token = existing if 20 <= len(existing) <= 100 and existing.isascii() else secrets.token_urlsafe(32)
    form_token = principal.csrf_token if principal.via == "session" and principal.csrf_token else token
    response = render(request, "auth/sign_in.html",
                      {"form_token": form_token, "next": next_path, "name": name, "error": error,
                       "hints": list(hints)}, status)  # fmt: skip
    _set_cookie(response, ctx, SIGN_IN_COOKIE, token, 3600)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_form(
    request: Request, principal: Annotated[Principal, require(Permission.ANYONE)], next: str = "/"
) -> Response:
    return _sign_in_page(request, principal, safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in(
    request: Request,
    principal: Annotated[Principal, require(Permission.ANYONE)],
    name: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = context_of(request)
    target = safe_next(next)
    # A signed-in browser's token was checked by authorise; otherwise the double-submit cookie must match.
    if principal.via != "session" and not _same(request.cookies.get(SIGN_IN_COOKIE, ""), csrf_token):
        return _sign_in_page(request, principal, target, name=name, status=400,
                             error="The sign-in form had expired. Enter your name and password again.")  # fmt: skip
    if not name.strip() or not password:
        missing = "Enter your name and password." if not name.strip() and not password else (
            "Enter your name." if not name.strip() else "Enter your password.")  # fmt: skip
        return _sign_in_page(request, principal, target, name=name, error=missing, status=400)
    client = request.client.host if request.client is not None else "unknown"
    with ctx.archive() as archive:
        try:
            user = service.sign_in(archive, name, password, client, ctx.web)
        except service.RateLimited as err:
            return _sign_in_page(request, principal, target, name=name, error=err.message, hints=err.details,
                                 status=429, retry_after=err.retry_after)  # fmt: skip
        except service.SignInFailed as err:
            return _sign_in_page(request, principal, target, name=name, error=err.message, hints=err.details,
                                 status=400)  # fmt: skip
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            service.end_session(archive, old)  # a new session id at every sign-in: no fixation
        started = service.start_session(archive, user, ctx.web)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, ctx, started.cookie)
    response.delete_cookie(SIGN_IN_COOKIE, path="/", secure=ctx.web.secure_cookies, httponly=True, samesite="lax")
    return response


@router.post("/sign-out", include_in_schema=False, dependencies=[require(Permission.ACCOUNT)])
def sign_out(request: Request) -> Response:
    ctx = context_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx.archive() as archive:
            service.end_session(archive, cookie)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=ctx.web.secure_cookies, httponly=True, samesite="lax")
    return response
