#!/usr/bin/env bash
# One command: install Strongroom, create an archive in ./demo-home and ingest the bundled
# sample transfer (or any folder, zip, tar or bag given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export STRONGROOM_HOME="${STRONGROOM_HOME:-$PWD/demo-home}"
source_path="${1:-examples/sample-transfer}"
if [ ! -f "$STRONGROOM_HOME/strongroom.toml" ]; then
  .venv/bin/strongroom init --organisation "Demo County Archive & Archaeology Service" --organisation-id demo
fi
.venv/bin/strongroom ingest "$source_path" --allow-duplicate
.venv/bin/strongroom list
.venv/bin/strongroom search minutes
.venv/bin/strongroom verify --all
echo
echo "Archive home: $STRONGROOM_HOME   (try: .venv/bin/strongroom --help)"
