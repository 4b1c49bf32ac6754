"""`strongroom serve`: the web service (REST API and pages) over the archive, run by uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strongroom.cli_common import HomeOption, command_home
from strongroom.cli_output import Command, console, errors


def register_web(app: typer.Typer) -> None:
    @app.command(cls=Command)
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option(help="Address to listen on. Keep 127.0.0.1 behind a reverse proxy.")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8080,
        home: HomeOption = None,
    ) -> None:
        """Serve the archive on the web: search and records for researchers, work pages for staff, the API."""
        import uvicorn

        from strongroom.web.app import create_app

        folder: Path = command_home(ctx, home)
        with errors():
            web_app = create_app(folder)
        console().print(f"Strongroom is serving {folder} at http://{host}:{port}/ (press Ctrl+C to stop)")
        # One process: the embedded job runner and the per-thread archives live in it.
        uvicorn.run(web_app, host=host, port=port, log_level="info", proxy_headers=True, server_header=False)
