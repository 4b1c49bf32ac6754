"""Where an archive lives when no --home is given; light, so commands that need no archive can ask."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CONFIG_NAME", "default_home"]

CONFIG_NAME = "strongroom.toml"


def default_home(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """Where the archive lives when no --home is given: $STRONGROOM_HOME, else the platform's data folder.

    Never a folder relative to where the command runs, so a command run elsewhere finds the same archive
    instead of starting a second one by accident.
    """
    env = os.environ if environ is None else environ
    if env.get("STRONGROOM_HOME"):
        return Path(env["STRONGROOM_HOME"]).expanduser().absolute()
    platform = sys.platform if platform is None else platform
    user_home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if platform.startswith("win"):
        base = Path(env.get("LOCALAPPDATA") or user_home / "AppData" / "Local")
    elif platform == "darwin":
        base = user_home / "Library" / "Application Support"
    else:  # Linux and other Unix: the XDG base directory specification
        xdg = env.get("XDG_DATA_HOME", "")
        # The spec says a relative XDG_DATA_HOME is invalid and must be ignored.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else user_home / ".local" / "share"
    return (base / "strongroom").absolute()
