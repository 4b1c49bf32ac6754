"""`strongroom serve`: the web service (REST API and pages) over the archive, run by uvicorn."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from strongroom.cli_common import HomeOption, command_home
from strongroom.cli_output import Command, console, errors

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

# How `serve --workers N` tells its worker processes (started by uvicorn, each importing the app) the home.
WORKER_HOME = "STRONGROOM_SERVE_HOME"


def default_workers() -> int:
    """The CPUs this process may run on (its affinity, which a container or taskset narrows), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform (macOS)
        return max(1, os.cpu_count() or 1)


def worker_app() -> FastAPI:
    """The app of one worker process of `serve --workers N` (uvicorn calls this factory in each)."""
    from strongroom.web.app import create_app

    home = os.environ.get(WORKER_HOME)
    if not home:
        raise RuntimeError(f"{WORKER_HOME} is not set: start the service with `strongroom serve`.")
    return create_app(Path(home))


def register_web(app: typer.Typer) -> None:
    @app.command(cls=Command)
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="Address to listen on. Keep 127.0.0.1 behind a reverse proxy.")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
        workers: Annotated[
            int | None,
            typer.Option(
                min=1,
                max=256,
                help="Worker processes answering requests (default: the CPUs this process may use). Each has "
                "its own archive connections and its own job runner (job_workers jobs at a time each, from the "
                "web settings); jobs are rows in the catalog, so any worker shows, and cancels, any job.",
            ),
        ] = None,
        home: HomeOption = None,
    ) -> None:
        """Serve the archive on the web: search and records for researchers, work pages for staff, the API."""
        import uvicorn

        from strongroom.web.app import create_app
        from strongroom.web.context import load_contexts

        folder: Path = command_home(ctx, home)
        count = workers if workers is not None else default_workers()
        if count == 1:
            with errors():
                web_app = create_app(folder)
            console().print(f"Strongroom is serving {folder} at http://{host}:{port}/ (press Ctrl+C to stop)")
            say_if_no_admin(folder)
            uvicorn.run(web_app, host=host, port=port, log_level="info", proxy_headers=True, server_header=False)
            return
        with errors():
            load_contexts(folder)  # a bad setting is named here, once, not by every worker as it starts
        console().print(f"Strongroom is serving {folder} at http://{host}:{port}/ with {count} worker processes "
                        "(press Ctrl+C to stop)")  # fmt: skip
        say_if_no_admin(folder)
        # Python runs one thread at a time per process: several processes use several cores for the
        # parts of a request that hold the interpreter (routing, JSON, templates), not only for SQLite.
        os.environ[WORKER_HOME] = str(folder)
        run_workers(uvicorn.Config("strongroom.cli_web:worker_app", factory=True, workers=count, host=host, port=port,
                                   log_level="info", proxy_headers=True, server_header=False))  # fmt: skip


def say_if_no_admin(folder: Path) -> None:
    """Without an enabled admin account nobody can sign in to manage the service: say how to make one."""
    from strongroom.accounts.model import UserRole
    from strongroom.archive import Archive

    with errors(), Archive.open(folder) as archive:
        admins = archive.catalog.count_users(UserRole.ADMIN)
    if admins == 0:
        console().print(
            "No administrator account yet: make one with "
            f"strongroom user add NAME --role admin --generate --home {folder}",
            highlight=False,
        )


def run_workers(config: uvicorn.Config) -> None:
    """What uvicorn.run does for several workers, with Nagle's algorithm off on the socket they share.

    uvicorn binds that socket itself, with protocol number 0, and asyncio sets TCP_NODELAY only on
    connections of a socket that says IPPROTO_TCP: every answer would then wait about 40 ms for the
    client's delayed acknowledgement. Connections accepted on Linux inherit the listening socket's option.
    """
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
