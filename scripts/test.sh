#!/usr/bin/env bash
# One command: install everything the tests need, then lint, type-check and run the whole suite.
#
#   bash scripts/test.sh                    everything (what .ci/run runs)
#   bash scripts/test.sh -m "not slow"      the fast set, in parallel
#   bash scripts/test.sh tests/spine -k rebuild
#
# Extra arguments go to pytest, which runs in parallel (pytest-xdist, one worker per core; a test marked
# `serial` waits until it can run alone: tests/conftest.py). STRONGROOM_TEST_WORKERS sets the number of
# workers (0: one process).
# The browser tests (tests/web/e2e) drive Debian's chromium with axe-core, both installed by install.sh --dev.
# The tests start the real servers they need (PostgreSQL, MinIO, clamd) through scripts/services.sh; they are
# stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --dev
bash scripts/tools.sh # JHOVE, veraPDF, MediaInfo, ExifTool: the characterisation tests use the real tools
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true' EXIT
.venv/bin/ruff check .
.venv/bin/mypy
parallel=(-n "${STRONGROOM_TEST_WORKERS:-auto}")
pytest=(.venv/bin/python -m pytest)
if [ "$#" -gt 0 ]; then
  "${pytest[@]}" "${parallel[@]}" "$@"
  exit
fi
# Tests that kill a process at measured moments or hold wall-clock limits (marked `serial`) run in a pass
# of their own after the parallel one, so that no other test's load shifts their timing, not even while
# their module-scoped fixtures measure it.
serial() {
  local status=0
  "${pytest[@]}" -m serial "$@" || status=$?
  [ "$status" -eq 0 ] || [ "$status" -eq 5 ] # 5: none of the tests named is marked serial
}
# Everything, on the embedded SQLite catalog...
"${pytest[@]}" "${parallel[@]}" -m "not serial"
serial
# ...then every test that runs a whole archive again, with its catalog on PostgreSQL.
archive_tests=(tests/spine tests/ingest/test_end_to_end.py tests/ingest/test_crash_and_concurrency.py
  tests/ingest/test_bad_input.py tests/cli tests/reports)
export STRONGROOM_TEST_CATALOGS=postgresql
"${pytest[@]}" "${parallel[@]}" -m "not serial" "${archive_tests[@]}"
serial "${archive_tests[@]}"
