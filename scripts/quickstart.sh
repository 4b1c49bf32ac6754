#!/usr/bin/env bash
# One command: install Strongroom, create an archive in ./demo-home and ingest the bundled sample
# transfer (or any folder, zip, tar or bag given as the first argument), then list, search and verify.
# Running it again stores the bundled sample only once; a PATH given is ingested each time it is given
# (the archive itself refuses the same files twice, saying how to keep a second copy).
set -euo pipefail
caller=$PWD
absolute() { case $1 in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac }
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Paths given relative to where the command was typed, not to the repository it moves into.
STRONGROOM_HOME=$(absolute "${STRONGROOM_HOME:-$PWD/demo-home}")
export STRONGROOM_HOME
strongroom=.venv/bin/strongroom
if [ ! -f "$STRONGROOM_HOME/strongroom.toml" ]; then
  "$strongroom" init --organisation "Demo County Archive & Archaeology Service" --organisation-id demo
fi
sample_name=sample-transfer
sample_stored() {
  "$strongroom" list --json | .venv/bin/python -c \
    'import json, sys; sys.exit(0 if any(p["name"] == sys.argv[1] for p in json.load(sys.stdin)) else 1)' "$1"
}
if [ "$#" -gt 0 ]; then
  "$strongroom" ingest "$(absolute "$1")" "${@:2}" # further options (--title, --allow-duplicate...) go to ingest
elif sample_stored "$sample_name"; then
  echo "The sample transfer is already stored in $STRONGROOM_HOME; not storing it again."
else
  "$strongroom" ingest "examples/$sample_name"
fi
"$strongroom" list
"$strongroom" search minutes
"$strongroom" verify --all
echo
echo "Archive home: $STRONGROOM_HOME   (try: .venv/bin/strongroom --help)"
echo "Ingest your own transfer: bash scripts/quickstart.sh PATH   (a folder, zip, tar or BagIt bag)"
