"""How much of a request body the service reads: a bound on every body but the transfer uploads'.

FastAPI reads a JSON or form body whole, and before any route's dependencies run, so before the
caller is known: without a bound, anyone (not signed in) could make the service hold gigabytes in
memory with one request. The bound is checked against Content-Length before anything is read and
counted as a body without one (chunked) arrives; past it the answer is 413. The two upload routes
stream to disk and keep their own, much larger, limit (web/uploads.py, routes_ingest.py).
"""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.records.schedules import MAX_SCHEDULE_BYTES

BODY_LIMIT = 8 * 1024 * 1024  # a form or JSON body: words, references, a list of 100,000 package ids
SCHEDULE_LIMIT = MAX_SCHEDULE_BYTES + 1024 * 1024  # a schedule file and its form around it
# Streamed to disk, each with its own limit: a chunk of a resumable upload, and the upload form without JavaScript.
UNBOUNDED = (("PUT", re.compile(r"/api/v1/uploads/[^/]+")), ("POST", re.compile(r"/ingest/upload")))
SCHEDULE_PATHS = frozenset({"/records/schedules", "/api/v1/schedules"})


def body_limit(method: str, path: str) -> int | None:
    """The most bytes of body a request may send (None: the route enforces its own limit)."""
    if any(method == m and pattern.fullmatch(path) for m, pattern in UNBOUNDED):
        return None
    return SCHEDULE_LIMIT if path in SCHEDULE_PATHS else BODY_LIMIT


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The request is larger than the {limit:,} bytes this service reads for it.")


class BodyLimit:
    """Pure ASGI middleware: 413 for a body longer than body_limit(), declared or not, before it is all read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(str(scope.get("method", "")).upper(), str(scope.get("path", "")))
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        received = 0

        async def bounded() -> Message:
            # Raised where the app reads the body, so its own error handlers answer (a page, or the API's JSON).
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _too_large(limit)
            return message

        await self.app(scope, bounded, send)
