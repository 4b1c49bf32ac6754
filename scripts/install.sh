#!/usr/bin/env bash
# Install Strongroom into .venv, quietly and only when something changed.
#
#   bash scripts/install.sh         the package and its runtime dependencies only (what quickstart.sh needs)
#   bash scripts/install.sh --dev   an editable install plus the development and benchmark tools (what test.sh needs;
#                                   the dev extra holds Celery, the `distributed` extra, too),
#                                   Debian's chromium and axe-core (npm) for the browser tests
#
# A contributor's editable install is left as it is by the plain form, so running the quickstart in a
# development clone never swaps the working tree's code for a copy.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=runtime
case "${1:-}" in
  "") ;;
  --dev) mode=dev ;;
  *)
    echo "Usage: bash scripts/install.sh [--dev]" >&2
    exit 2
    ;;
esac
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Strongroom needs Python 3.11 or newer; $PYTHON is $("$PYTHON" --version 2>&1)." >&2
  echo "Install it (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    echo "Python's venv module is missing; installing python3-venv with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

# What the install was made from: the mode, pyproject.toml and (for a copy, not an editable install) the sources.
fingerprint() {
  {
    echo "$mode"
    if [ "$mode" = dev ]; then
      cat pyproject.toml
    else
      find pyproject.toml README.md strongroom -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z | xargs -0 cat
    fi
  } | cksum
}
editable() {
  # -I: never look in the working folder, where a stray strongroom.egg-info (left by a build) would answer
  # "not editable" and swap the development install for a copy of today's code.
  .venv/bin/python -I - <<'EOF' 2>/dev/null
import json, sys
from importlib.metadata import PackageNotFoundError, distribution
try:
    url = distribution("strongroom").read_text("direct_url.json") or "{}"
except PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if json.loads(url).get("dir_info", {}).get("editable") else 1)
EOF
}

# The browser tests drive Debian's Chromium (never a browser a test tool downloads) and inject axe-core from
# node_modules; the web service itself needs neither (its GOV.UK styles are built into the package).
if [ "$mode" = dev ]; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "Installing Debian's chromium for the browser tests" >&2
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
  if ! command -v npm >/dev/null; then
    echo "Installing Debian's nodejs and npm for axe-core (browser tests)" >&2
    apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
  fi
  lock=$(cksum <package-lock.json)
  if [ ! -f node_modules/.strongroom-lock ] || [ "$(cat node_modules/.strongroom-lock)" != "$lock" ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    echo "$lock" >node_modules/.strongroom-lock
  fi
fi

# Bytecode for the source tree, as pip writes it for an installed package: an editable install gets none, and
# where PYTHONDONTWRITEBYTECODE is set every command would compile ~100 modules at each start (~30 ms). Quick
# when nothing changed; Python recompiles (in memory) any module edited since.
.venv/bin/python -m compileall -q strongroom >/dev/null

stamp=.venv/.strongroom-install
if [ "$mode" = runtime ] && editable; then
  exit 0 # a development install already holds everything the quickstart needs
fi
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(fingerprint)" ] && [ -x .venv/bin/strongroom ]; then
  exit 0 # installed from these very files already
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$mode" = dev ]; then
  # The build backend's notice about editable installs is advice for this very workflow; keep the output quiet.
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[dev,bench]'
else
  .venv/bin/python -m pip install -q .
fi
fingerprint >"$stamp"
