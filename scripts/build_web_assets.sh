#!/usr/bin/env bash
# Rebuild the web service's styles and scripts into strongroom/web/static (committed, so installing Strongroom
# needs no Node): GOV.UK Frontend and Sass at the exact versions package-lock.json records, from the npm registry.
#
#   bash scripts/build_web_assets.sh
#
# The same package-lock.json gives the same bytes: `npm ci` installs exactly what it lists, Sass writes no
# source map and no timestamp, and the header names the versions used.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "npm is missing: install Node.js 18 or newer (Debian: apt-get install nodejs npm)." >&2
  exit 1
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
version() { node -p "require('./node_modules/$1/package.json').version"; }
govuk=$(version govuk-frontend)
sass=$(version sass)
static=strongroom/web/static
dist=node_modules/govuk-frontend/dist/govuk
mkdir -p "$static"

css=$(mktemp)
trap 'rm -f "$css"' EXIT
node_modules/.bin/sass --no-source-map --style=compressed --load-path=node_modules \
  strongroom/web/assets/strongroom.scss "$css"
# Sass starts a compressed file holding non-ASCII text with a byte-order mark instead of @charset; with the
# header in front, that mark would land mid-file and spoil the first rule (:root, GOV.UK's custom properties).
{
  printf '@charset "UTF-8";\n/*! Strongroom styles. govuk-frontend %s (MIT licence, Crown copyright), compiled by sass %s from strongroom/web/assets/strongroom.scss */\n' "$govuk" "$sass"
  sed -e '1s/^\xEF\xBB\xBF//' "$css"
  printf '\n'
} >"$static/strongroom.css"

# The source map is not shipped, so the comment pointing at it goes (a browser would ask for it and get a 404).
{
  printf '/*! govuk-frontend %s (MIT licence, Crown copyright) */\n' "$govuk"
  sed -e 's|//# sourceMappingURL=[^ ]*$||' "$dist/govuk-frontend.min.js"
  printf '\n'
} >"$static/govuk-frontend.min.js"

cp strongroom/web/assets/strongroom.js "$static/strongroom.js"
cp strongroom/web/assets/favicon.svg "$static/favicon.svg"
echo "Built $static with govuk-frontend $govuk and sass $sass:"
ls -l "$static"
