"""Rendering pages and errors the same way everywhere: the layout's context, API errors as JSON.

API answers (paths under /api/) carry errors as `{"error": message, "hint": [what to do next]}`,
the shape `--json` prints on the CLI. Pages show the GOV.UK error page with the same words.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from strongroom.errors import ApprovalError, HeldError, NotFound, StrongroomError
from strongroom.web.context import context_of
from strongroom.web.permissions import ANONYMOUS, Permission, Principal

log = logging.getLogger("strongroom.web")


class SignInRequired(Exception):
    """A page needs a signed-in user and the visitor is anonymous: send them to sign in, then back."""


def principal_of(request: Request) -> Principal:
    """Who is asking, as authorise() found (the public on routes that never asked)."""
    principal = getattr(request.state, "principal", None)
    return principal if isinstance(principal, Principal) else ANONYMOUS


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


# The navigation a person sees: only what their role may open.
NAVIGATION: tuple[tuple[str, str, Permission], ...] = (
    ("Search", "/search", Permission.READ_OPEN),
    ("Ingest", "/ingest", Permission.INGEST),
    ("Packages", "/packages", Permission.VIEW_PRESERVATION),
    ("Preservation", "/preservation", Permission.VIEW_PRESERVATION),
    ("Jobs", "/jobs", Permission.VIEW_JOBS),
    ("Records", "/records", Permission.MANAGE_RECORDS),
    ("Journal", "/journal", Permission.VIEW_JOURNAL),
    ("Admin", "/admin", Permission.ADMIN),
)


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page in the layout, with the principal, its CSRF token and its navigation."""
    ctx = context_of(request)
    principal = principal_of(request)
    path = request.url.path
    nav = [{"text": text, "href": href, "active": path == href or path.startswith(href + "/")}
           for text, href, permission in NAVIGATION if principal.may(permission)]  # fmt: skip
    values = {"request": request, "principal": principal, "csrf_token": principal.csrf_token or "",
              "organisation": ctx.organisation, "navigation": nav, "Permission": Permission}  # fmt: skip
    values.update(context or {})
    return ctx.templates.TemplateResponse(request, template, values, status_code=status)


def error_status(exc: StrongroomError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, ApprovalError | HeldError):
        return 409
    return 400


def error_response(request: Request, status: int, message: str, hints: list[str] | tuple[str, ...] = ()) -> Response:
    if is_api(request):
        return JSONResponse({"error": message, "hint": list(hints)}, status_code=status)
    titles = {400: "There is a problem", 401: "Sign in to continue", 403: "You cannot open this page",
              404: "Page not found", 409: "This cannot be done now", 413: "The file is too large",
              422: "There is a problem", 429: "Too many attempts"}  # fmt: skip
    title = titles.get(status, "Sorry, there is a problem with the service")
    return render(request, "error.html", {"title": title, "message": message, "hints": list(hints)}, status)


async def strongroom_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StrongroomError)
    return error_response(request, error_status(exc), exc.message, exc.details)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "The request could not be answered."
    response = error_response(request, exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    hints = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
    return error_response(request, 422, "Some of what was sent is not valid.", hints)


async def sign_in_required(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Never a traceback to the visitor: it may name paths and closed records. The log keeps it.
    log.exception("unexpected error answering %s %s", request.method, request.url.path)
    # This handler answers outside the security-headers middleware (Starlette runs it outermost): add them here.
    from strongroom.web.auth import SECURITY_HEADERS

    response = error_response(request, 500, "Something went wrong on our side.",
                          ["Check whether what you asked for was done before trying again; if it keeps happening, "
                           "tell the archive's administrator the time it happened."])  # fmt: skip
    for name, value in SECURITY_HEADERS:
        response.headers[name] = value
    response.headers["cache-control"] = "no-store"
    return response
