"""The ASGI application: one per archive home, built by `create_app`, run by `strongroom serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from strongroom import __version__
from strongroom.errors import StrongroomError
from strongroom.jobs.base import JobRunner
from strongroom.web import (
    auth,
    routes_account,
    routes_admin,
    routes_ingest,
    routes_jobs,
    routes_packages,
    routes_preservation,
    routes_records,
    routes_search,
)
from strongroom.web.api_models import API_ERRORS
from strongroom.web.context import ArchivePool, WebContext, load_contexts
from strongroom.web.pages import (
    SignInRequired,
    http_error,
    render,
    sign_in_required,
    strongroom_error,
    unexpected_error,
    validation_error,
)
from strongroom.web.permissions import Permission, require

WEB = Path(__file__).parent


class HealthAnswer(BaseModel):
    status: str  # "ok" whenever the service answers
    version: str


API_PREFIX = "/api/v1"


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(WEB / "templates"))
    found.env.autoescape = True  # every template, whatever its name: all text shown is untrusted
    found.env.globals["version"] = __version__
    return found


def create_app(home: Path, *, runner: JobRunner | None = None) -> FastAPI:
    """The web service over the archive at `home`. `runner` replaces the embedded job runner (tests, scale-out)."""
    settings, web = load_contexts(home)
    if runner is None:
        from strongroom.jobs.runners import open_runner

        runner = open_runner(home, workers=web.job_workers)
    ctx = WebContext(home=home, settings=settings, web=web, templates=templates(), archives=ArchivePool(home),
                     jobs=runner)  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Requests run on a thread pool (anyio's 40 by default). Search is CPU work under one interpreter lock:
        # 40 threads each with its own archive answered 107 searches/s at p99 2.5 s where 4 answered 132/s
        # at p99 0.5 s (100k files, wrk -c50, two workers); fewer threads also keep fewer archives open.
        anyio.to_thread.current_default_thread_limiter().total_tokens = web.request_threads
        try:
            yield
        finally:
            ctx.jobs.close()
            ctx.archives.close()

    app = FastAPI(
        title="Strongroom",
        version=__version__,
        description="Digital preservation and records archive: search, packages, ingest, preservation, records.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load scripts from CDNs: nothing is fetched from outside
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_exception_handler(StrongroomError, strongroom_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(Exception, unexpected_error)
    auth.install(app)  # security headers and anything else every response needs
    app.mount("/static", StaticFiles(directory=str(WEB / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False, dependencies=[require(Permission.ANYONE)])
    def start_page(request: Request) -> HTMLResponse:
        return render(request, "start.html")

    @app.get(f"{API_PREFIX}/health", dependencies=[require(Permission.ANYONE)], tags=["service"],
             response_model=HealthAnswer, responses=API_ERRORS)  # fmt: skip
    def health() -> HealthAnswer:
        return HealthAnswer(status="ok", version=__version__)

    for module in (auth, routes_account, routes_admin, routes_search, routes_packages, routes_ingest, routes_jobs,
                   routes_preservation, routes_records):  # fmt: skip
        app.include_router(module.router)
    return app
