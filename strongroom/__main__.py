"""`python -m strongroom` runs the command line."""

from strongroom.cli import app

# Guarded: worker processes are spawned and import the main module again.
if __name__ == "__main__":
    app(prog_name="strongroom")
