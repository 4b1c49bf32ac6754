#!/usr/bin/env bash
# One command: install everything the tests need, then lint, type-check and run the whole suite.
# The tests start the real servers they need (PostgreSQL) through scripts/services.sh; they are
# stopped again at the end. Extra arguments go to pytest (e.g. a single test: tests/spine -k rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
.venv/bin/ruff check .
.venv/bin/mypy
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# Everything, on the embedded SQLite catalog...
.venv/bin/python -m pytest
# ...then every test that runs a whole archive again, with its catalog on PostgreSQL.
STRONGROOM_TEST_CATALOGS=postgresql .venv/bin/python -m pytest tests/spine tests/ingest/test_end_to_end.py \
  tests/ingest/test_crash_and_concurrency.py tests/ingest/test_bad_input.py tests/cli tests/reports
