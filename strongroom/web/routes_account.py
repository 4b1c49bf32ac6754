"""One's own account: details, a new password, and one's own API tokens (page and API).

A token's text is shown once: on the page that created it, or in the API's answer to POST.
Changing the password ends every session of the account; the browser that changed it gets a
new one at once, so the person stays signed in there and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from strongroom.accounts import service
from strongroom.accounts.model import User
from strongroom.web.api_models import API_ERRORS, IssuedToken, TokenAnswer, TokenList, UserAnswer
from strongroom.web.auth import set_session_cookie
from strongroom.web.context import context_of
from strongroom.web.pages import render
from strongroom.web.permissions import Permission, Principal, require

API = "/api/v1"
EXPIRY_DAYS_MAX = 3650

# Every API operation's error answers, in the one shared shape (pages are left out of the document).
router = APIRouter(responses=API_ERRORS)

Me = Annotated[Principal, require(Permission.ACCOUNT)]


class NewToken(BaseModel):
    label: str = Field(min_length=1, max_length=service.LABEL_MAX, description="What the token is for.")
    expires_days: int | None = Field(default=None, ge=1, le=EXPIRY_DAYS_MAX, description="Days until it expires.")


def _expiry(days: int | None) -> datetime | None:
    return datetime.now(UTC) + timedelta(days=days) if days else None


def _me(request: Request, principal: Principal) -> User:
    with context_of(request).archive() as archive:
        return service.get_user(archive, principal.name or "")


def _page(request: Request, principal: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
    with context_of(request).archive() as archive:
        user = service.get_user(archive, principal.name or "")
        tokens = service.list_tokens(archive, user.name)
    now = datetime.now(UTC)
    rows = [service.token_json(t, user.name, now) for t in tokens]
    values = {"user": user, "tokens": rows, "error": None, "field": None, "hints": [], "issued": None,
              "done": request.query_params.get("done", ""), **extra}  # fmt: skip
    return render(request, "account/account.html", values, status)


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(request: Request, principal: Me) -> Response:
    return _page(request, principal)


@router.post("/account/password", response_class=HTMLResponse, include_in_schema=False)
def change_password(
    request: Request,
    principal: Me,
    current_password: Annotated[str, Form(max_length=4096)] = "",
    new_password: Annotated[str, Form(max_length=4096)] = "",
    confirm_password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    ctx = context_of(request)
    user = _me(request, principal)
    # Checked as the sign-in form checks it (counted, journalled, rate limited): a browser left signed in must
    # not be a way to try passwords without end.
    client = request.client.host if request.client is not None else "unknown"
    with ctx.archive() as archive:
        try:
            service.sign_in(archive, user.name, current_password, client, ctx.web)
        except service.RateLimited as err:
            waiting = _page(request, principal, 429, error=err.message, hints=list(err.details),
                            field="current-password")  # fmt: skip
            waiting.headers["Retry-After"] = str(err.retry_after)
            return waiting
        except service.SignInFailed:
            return _page(request, principal, 400, error="Your current password is not right.",
                         field="current-password")  # fmt: skip
    if new_password != confirm_password:
        return _page(request, principal, 400, error="The new password and its confirmation are different.",
                     field="new-password")  # fmt: skip
    with ctx.archive() as archive:
        try:
            service.set_password(archive, user.name, new_password, principal.operator)
        except service.PasswordPolicyError as err:
            return _page(request, principal, 400, error=err.message, hints=list(err.details), field="new-password")
        started = service.start_session(archive, user, ctx.web)  # every other session has ended
    response = RedirectResponse("/account?done=password", status_code=303)
    set_session_cookie(response, ctx, started.cookie)
    return response


@router.post("/account/tokens", response_class=HTMLResponse, include_in_schema=False)
def create_token_page(
    request: Request,
    principal: Me,
    label: Annotated[str, Form(max_length=1000)] = "",
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    days: int | None = None
    if expires_days.strip():
        # isdecimal, not isdigit: a superscript two is a digit that int() refuses.
        if not expires_days.strip().isdecimal() or not 1 <= int(expires_days) <= EXPIRY_DAYS_MAX:
            return _page(request, principal, 400, error=f"Days until it expires must be a whole number from 1 to "
                         f"{EXPIRY_DAYS_MAX}, or left empty for a token that does not expire.",
                         field="token-expires")  # fmt: skip
        days = int(expires_days)
    with context_of(request).archive() as archive:
        try:
            issued = service.issue_token(archive, principal.name or "", label, principal.operator, _expiry(days))
        except service.AccountError as err:
            return _page(request, principal, 400, error=err.message, hints=list(err.details), field="token-label")
    # Shown on this page only (no redirect): the text is never stored and no-store keeps it out of caches.
    return _page(request, principal, 201, issued=issued)


@router.post("/account/tokens/{token_id}/revoke", include_in_schema=False)
def revoke_token_page(request: Request, token_id: str, principal: Me) -> Response:
    with context_of(request).archive() as archive:
        service.revoke_token(archive, token_id, principal.operator, owner=principal.name)
    return RedirectResponse("/account?done=revoked", status_code=303)


# --- API -----------------------------------------------------------------------------------------------


@router.get(f"{API}/account", response_model=UserAnswer, tags=["account"])
def account_api(request: Request, principal: Me) -> JSONResponse:
    """The signed-in account."""
    return JSONResponse(service.user_json(_me(request, principal)))


@router.get(f"{API}/account/tokens", response_model=TokenList, tags=["account"])
def my_tokens_api(request: Request, principal: Me) -> JSONResponse:
    """The account's own API tokens (revoked and expired too), newest first; never their text."""
    with context_of(request).archive() as archive:
        tokens = service.list_tokens(archive, principal.name or "")
    return JSONResponse({"tokens": [service.token_json(t, principal.name) for t in tokens]})


@router.post(f"{API}/account/tokens", response_model=IssuedToken, tags=["account"], status_code=201)
def create_token_api(request: Request, body: NewToken, principal: Me) -> JSONResponse:
    """A new API token for the account. `secret` is in this answer only: keep it safe."""
    with context_of(request).archive() as archive:
        issued = service.issue_token(archive, principal.name or "", body.label, principal.operator,
                                     _expiry(body.expires_days))  # fmt: skip
    return JSONResponse({**service.token_json(issued.token, principal.name), "secret": issued.secret}, 201)


@router.delete(f"{API}/account/tokens/{{token_id}}", response_model=TokenAnswer, tags=["account"])
def revoke_token_api(request: Request, token_id: str, principal: Me) -> JSONResponse:
    """Revoke one of the account's own tokens (another's answers 404)."""
    with context_of(request).archive() as archive:
        token = service.revoke_token(archive, token_id, principal.operator, owner=principal.name)
    return JSONResponse(service.token_json(token, principal.name))
