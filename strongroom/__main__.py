"""`python -m strongroom` runs the command line."""

from strongroom.cli import app

app(prog_name="strongroom")
